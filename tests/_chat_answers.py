"""What the chat-completions test server says, and how it reads what it is asked.

``model_request`` reads a chat-completions request (JSON) back into a ``ModelRequest``:
messages, tools and the response format's schema name. ``completion`` writes an answer (text, a
pydantic model, tool calls) as a well-formed ``chat.completion``. ``reference_model`` gives the
team's right answers for a sample case, from one offline run of it (the benchmark script's
reference): the planner's decisions by schema name, each specialist's tool calls and reply
(known by its system message or its tools), the final synthesis. ``SimulatedModel`` answers by
the request's structure, never by prompt text, so a model-mode run against the server completes.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from autogen_core import FunctionCall
from autogen_core.models import (
    AssistantMessage,
    CreateResult,
    FunctionExecutionResult,
    FunctionExecutionResultMessage,
    LLMMessage,
    SystemMessage,
    UserMessage,
)
from pydantic import BaseModel

from magentic_health.case import load_case
from magentic_health.config import load_team_config
from magentic_health.models import ModelRequest
from magentic_health.models.scripted import Reply, estimate_tokens
from magentic_health.models.simulated import SimulatedModel

AnswerFn = Callable[[ModelRequest], Reply]
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_orchestration.py"


@functools.cache
def _bench() -> ModuleType:
    """The benchmark script as a module of its own name (its dataclasses need one)."""
    spec = importlib.util.spec_from_file_location("bench_orchestration_reference", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@functools.cache
def reference_model(case_name: str, request: str, data_dir: Path) -> SimulatedModel:
    """The simulated model for ``case_name`` asked ``request`` (computed once per test run)."""
    bench = _bench()
    config = load_team_config()
    case = load_case(case_name, request=request, data_dir=data_dir)
    ref = asyncio.run(bench.offline_reference(case, config, data_dir))
    model: SimulatedModel = bench.simulated_model(ref, config)
    return model


@dataclass(frozen=True)
class WireRequest(ModelRequest):
    """A ``ModelRequest`` read from the wire: the schema is known by name only."""

    wire_schema: str | None = None

    @property
    def schema_name(self) -> str | None:
        return self.wire_schema


def model_request(body: Mapping[str, Any]) -> WireRequest:
    """The chat-completions request JSON as the answer functions see a request."""
    fmt = body.get("response_format") or {}
    schema = (
        (fmt.get("json_schema") or {}).get("name") if fmt.get("type") == "json_schema" else None
    )
    return WireRequest(
        messages=tuple(_messages(body.get("messages") or [])),
        tools=tuple(
            {
                "name": t["function"]["name"],
                "description": t["function"].get("description", ""),
                "parameters": t["function"].get("parameters") or {},
            }
            for t in body.get("tools") or ()
        ),
        json_output=True if fmt.get("type") in ("json_object", "json_schema") else None,
        tool_choice=body.get("tool_choice", "auto"),
        wire_schema=schema,
    )


def _text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def _messages(raw: Sequence[Mapping[str, Any]]) -> list[LLMMessage]:
    out: list[LLMMessage] = []
    call_names: dict[str, str] = {}
    for m in raw:
        role, content = m.get("role"), _text(m.get("content"))
        if role in ("system", "developer"):
            out.append(SystemMessage(content=content))
        elif role == "user":
            out.append(UserMessage(content=content, source=m.get("name") or "user"))
        elif role == "assistant" and m.get("tool_calls"):
            calls = [
                FunctionCall(
                    id=c["id"], name=c["function"]["name"], arguments=c["function"]["arguments"]
                )
                for c in m["tool_calls"]
            ]
            call_names.update((c.id, c.name) for c in calls)
            out.append(AssistantMessage(content=calls, source=m.get("name") or "assistant"))
        elif role == "assistant":
            out.append(AssistantMessage(content=content, source=m.get("name") or "assistant"))
        elif role == "tool":
            call_id = str(m.get("tool_call_id"))
            result = FunctionExecutionResult(
                call_id=call_id, content=content, name=call_names.get(call_id, "")
            )
            last = out[-1] if out else None
            if isinstance(last, FunctionExecutionResultMessage):
                out[-1] = FunctionExecutionResultMessage(content=[*last.content, result])
            else:
                out.append(FunctionExecutionResultMessage(content=[result]))
    return out


def completion(reply: Reply, *, number: int, model: str, prompt_text: str) -> dict[str, Any]:
    """A well-formed ``chat.completion`` for ``reply`` (text, a model, tool calls)."""
    if isinstance(reply, CreateResult):
        reply = reply.content if isinstance(reply.content, str) else list(reply.content)
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if isinstance(reply, list):
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply
        ]
        finish, produced = "tool_calls", json.dumps([c.arguments for c in reply])
    else:
        text = reply.model_dump_json() if isinstance(reply, BaseModel) else reply
        message["content"] = text
        finish, produced = "stop", text
    prompt, done = estimate_tokens(prompt_text), estimate_tokens(produced)
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": done,
            "total_tokens": prompt + done,
        },
    }


def prompt_text(body: Mapping[str, Any]) -> str:
    return "\n".join(_text(m.get("content")) for m in body.get("messages") or ())


def sse(data: dict[str, Any]) -> bytes:
    """The completion as a stream: one chunk with the whole message, then usage, then done."""
    choice = data["choices"][0] if data["choices"] else None
    chunk = {**data, "object": "chat.completion.chunk", "usage": None}
    chunk["choices"] = []
    if choice is not None:
        delta = dict(choice["message"])
        if "tool_calls" in delta:
            delta["tool_calls"] = [{"index": i, **c} for i, c in enumerate(delta["tool_calls"])]
        chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": choice["finish_reason"]}]
    usage = {**data, "object": "chat.completion.chunk", "choices": []}
    events = [chunk, usage]
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"
