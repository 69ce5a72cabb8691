"""Every model call a run makes is metered and written to the ledger as ``model_call``.

``RecordingClient`` wraps any ``ChatCompletionClient`` for one agent (the orchestrator's planner
or a specialist). While a run is active (``recording(...)``), each call is recorded with the
request digest, the response, the token usage and the latency, and its tokens are added to the
run's ``UsageMeter`` so token budgets see the orchestrator's own usage too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    RequestUsage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from magentic_health.models._stream import WrappingClient
from magentic_health.trace import ModelCall


@dataclass
class UsageMeter:
    """Tokens per agent for one run; thread-safe."""

    per_agent: dict[str, dict[str, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, agent: str, usage: RequestUsage) -> None:
        with self._lock:
            slot = self.per_agent.setdefault(agent, {"prompt_tokens": 0, "completion_tokens": 0})
            slot["prompt_tokens"] += usage.prompt_tokens
            slot["completion_tokens"] += usage.completion_tokens

    @property
    def total_tokens(self) -> int:
        with self._lock:
            return sum(s["prompt_tokens"] + s["completion_tokens"] for s in self.per_agent.values())

    def report(self, agents: Sequence[str]) -> dict[str, dict[str, int]]:
        """Usage of each named agent (zero when it made no call) and ``total``."""
        with self._lock:
            out = {
                a: dict(self.per_agent.get(a, {"prompt_tokens": 0, "completion_tokens": 0}))
                for a in (*agents, *self.per_agent)
            }
        out["total"] = {
            "prompt_tokens": sum(v["prompt_tokens"] for v in out.values()),
            "completion_tokens": sum(v["completion_tokens"] for v in out.values()),
        }
        return out


ModelCallSink = Callable[[ModelCall, str, str | None], None]
"""Receives a ``model_call`` payload, the agent's name and the plan step (or None)."""


@dataclass(frozen=True)
class _Recording:
    sink: ModelCallSink
    meter: UsageMeter


_ACTIVE: ContextVar[_Recording | None] = ContextVar("magentic_health_recording", default=None)
_STEP: ContextVar[str | None] = ContextVar("magentic_health_step", default=None)


@contextlib.contextmanager
def recording(sink: ModelCallSink, meter: UsageMeter) -> Iterator[None]:
    """Record the model calls made inside this block (and tasks it starts)."""
    token = _ACTIVE.set(_Recording(sink, meter))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


@contextlib.contextmanager
def in_step(step: str | None) -> Iterator[None]:
    """Attribute the model calls made inside this block to a plan step."""
    token = _STEP.set(step)
    try:
        yield
    finally:
        _STEP.reset(token)


def current_step() -> str | None:
    """The plan step the current context's model calls are attributed to (``in_step``), or
    None outside a step (the orchestrator's own calls)."""
    return _STEP.get()


@functools.lru_cache(maxsize=256)
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, type) and issubclass(value, BaseModel):
        return {"schema": value.__name__, "json_schema": _schema(value)}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # e.g. a FunctionCall
        return _jsonable(dataclasses.asdict(value))
    schema = getattr(value, "schema", None)  # an autogen Tool
    return _jsonable(schema) if schema is not None else repr(value)


def request_digest(
    messages: Sequence[LLMMessage],
    *,
    tools: Sequence[Tool | ToolSchema] = (),
    json_output: bool | type[BaseModel] | None = None,
) -> str:
    """sha256 over the request's messages, tools and output schema, each in a stable JSON form:
    what ``rerun`` matches recorded calls by."""
    digest = hashlib.sha256()
    for message in messages:
        if isinstance(message, BaseModel):  # every LLMMessage: serialised in Rust, field order
            # the bytes ``model_dump_json`` decodes, taken as they are (not decoded, re-encoded)
            digest.update(message.__pydantic_serializer__.to_json(message))
        else:
            digest.update(json.dumps(_jsonable(message), sort_keys=True).encode("utf-8"))
        digest.update(b"\n")
    # the bytes of json.dumps({"tools": ..., "json_output": ...}) with sorted keys, the output
    # schema's part encoded once per schema
    digest.update(b'{"json_output":')
    digest.update(_output_json(json_output))
    digest.update(b',"tools":')
    digest.update(_compact([_tool_schema(t) for t in tools]))
    digest.update(b"}")
    return "sha256:" + digest.hexdigest()


def _compact(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")


@functools.lru_cache(maxsize=256)
def _output_json(json_output: bool | type[BaseModel] | None) -> bytes:
    return _compact(_jsonable(json_output))


_TOOL_SCHEMAS: dict[int, tuple[Any, Any]] = {}


def _tool_schema(tool: Tool | ToolSchema) -> Any:
    """A tool's schema, remembered per tool object (agents keep their tools for their life)."""
    known = _TOOL_SCHEMAS.get(id(tool))
    if known is not None and known[0] is tool:
        return known[1]
    schema = _jsonable(tool)
    if len(_TOOL_SCHEMAS) >= 256:
        _TOOL_SCHEMAS.pop(next(iter(_TOOL_SCHEMAS)))
    _TOOL_SCHEMAS[id(tool)] = (tool, schema)
    return schema


class RecordingClient(WrappingClient):
    """Wraps a model client for one agent; records and meters each call during a run.

    The recorded ``model`` is the inner client's ``model_name`` (a ``ResilientClient`` sets
    it), read when the call returns: a replaying client names the model of the call it
    served, which may differ from call to call."""

    def __init__(self, inner: ChatCompletionClient, *, agent: str) -> None:
        self.inner = inner
        self.agent = agent

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        start = time.perf_counter()
        result = await self.inner.create(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            json_output=json_output,
            extra_create_args=extra_create_args,
            cancellation_token=cancellation_token,
        )
        active = _ACTIVE.get()
        if active is not None:
            active.meter.add(self.agent, result.usage)
            payload = ModelCall(
                request_digest=request_digest(messages, tools=tools, json_output=json_output),
                response={
                    "finish_reason": result.finish_reason,
                    "content": _jsonable(result.content),
                    "thought": result.thought,
                },
                usage={
                    "prompt_tokens": result.usage.prompt_tokens,
                    "completion_tokens": result.usage.completion_tokens,
                },
                latency_ms=round((time.perf_counter() - start) * 1000, 3),
                model=_model_name(self.inner),
            )
            active.sink(payload, self.agent, current_step())
        return result


def _model_name(client: ChatCompletionClient) -> str | None:
    name = getattr(client, "model_name", None)
    return name if isinstance(name, str) else None
