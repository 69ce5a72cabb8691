"""A scripted model client for tests and benchmarks: its answer is a function of the request.

Like pydantic-ai's ``FunctionModel``: the caller supplies ``answer(request) -> reply``, where the
reply is text, a pydantic model (sent as JSON), a list of ``FunctionCall`` or a whole
``CreateResult``. Every request is recorded; token usage is reported (a word-piece estimate);
an optional fixed latency per call simulates a remote model. It never touches the network.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import (
    CreateResult,
    LLMMessage,
    ModelCapabilities,
    ModelFamily,
    ModelInfo,
    RequestUsage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from magentic_health.models._stream import WholeReplyStreaming

SCRIPTED_MODEL_INFO = ModelInfo(
    vision=False,
    function_calling=True,
    json_output=True,
    structured_output=True,
    family=ModelFamily.UNKNOWN,
    multiple_system_messages=True,
)


@dataclass(frozen=True)
class ModelRequest:
    """One request as the client received it."""

    messages: tuple[LLMMessage, ...]
    tools: tuple[Tool | ToolSchema, ...] = ()
    json_output: bool | type[BaseModel] | None = None
    tool_choice: Any = "auto"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def schema_name(self) -> str | None:
        """The name of the structured-output type requested, if any (what to answer)."""
        if isinstance(self.json_output, type):
            return self.json_output.__name__
        return None

    @property
    def tool_names(self) -> tuple[str, ...]:
        return tuple(t["name"] if isinstance(t, dict) else t.name for t in self.tools)

    def text(self) -> str:
        """All message contents joined, for answers that depend on what was asked."""
        parts: list[str] = []
        for message in self.messages:
            content = getattr(message, "content", "")
            parts.append(content if isinstance(content, str) else json.dumps(content, default=str))
        return "\n".join(parts)


Reply = str | BaseModel | list[FunctionCall] | CreateResult
AnswerFn = Callable[[ModelRequest], Reply]


def estimate_tokens(text: str) -> int:
    """A deterministic token estimate (about four characters a token)."""
    return max(1, (len(text) + 3) // 4)


class ScriptedModelClient(WholeReplyStreaming):
    """A ``ChatCompletionClient`` whose replies come from ``answer``; see the module doc."""

    def __init__(
        self,
        answer: AnswerFn,
        *,
        latency_s: float = 0.0,
        model_info: ModelInfo | None = None,
        context_window: int = 128_000,
    ) -> None:
        self._answer = answer
        self._latency_s = latency_s
        self._info = model_info or SCRIPTED_MODEL_INFO
        self._window = context_window
        self.requests: list[ModelRequest] = []
        self._last = RequestUsage(prompt_tokens=0, completion_tokens=0)
        self._total = RequestUsage(prompt_tokens=0, completion_tokens=0)

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
        request = ModelRequest(
            messages=tuple(messages),
            tools=tuple(tools),
            json_output=json_output,
            tool_choice=tool_choice,
            extra=dict(extra_create_args),
        )
        self.requests.append(request)
        if self._latency_s:
            await asyncio.sleep(self._latency_s)
        result = self._result(request, self._answer(request))
        self._last = result.usage
        self._total = RequestUsage(
            prompt_tokens=self._total.prompt_tokens + result.usage.prompt_tokens,
            completion_tokens=self._total.completion_tokens + result.usage.completion_tokens,
        )
        return result

    def _result(self, request: ModelRequest, reply: Reply) -> CreateResult:
        if isinstance(reply, CreateResult):
            return reply
        prompt = estimate_tokens(request.text())
        if isinstance(reply, list):
            completion = estimate_tokens(json.dumps([c.arguments for c in reply]))
            usage = RequestUsage(prompt_tokens=prompt, completion_tokens=completion)
            return CreateResult(
                finish_reason="function_calls", content=reply, usage=usage, cached=False
            )
        text = reply.model_dump_json() if isinstance(reply, BaseModel) else reply
        usage = RequestUsage(prompt_tokens=prompt, completion_tokens=estimate_tokens(text))
        return CreateResult(finish_reason="stop", content=text, usage=usage, cached=False)

    async def close(self) -> None:
        return None

    def actual_usage(self) -> RequestUsage:
        return self._last

    def total_usage(self) -> RequestUsage:
        return self._total

    def count_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        return estimate_tokens(ModelRequest(messages=tuple(messages)).text())

    def remaining_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        return self._window - self.count_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> ModelCapabilities:
        return ModelCapabilities(
            vision=self._info["vision"],
            function_calling=self._info["function_calling"],
            json_output=self._info["json_output"],
        )

    @property
    def model_info(self) -> ModelInfo:
        return self._info
