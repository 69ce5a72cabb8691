"""A model client that answers from the ledger: the recorded response for the request digest.

The run's agents wrap it in a ``RecordingClient`` as they wrap any client, so the new ledger
records its ``model_call`` events again, with the recorded content and usage.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NoReturn

from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    ModelCapabilities,
    ModelInfo,
    RequestUsage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from magentic_health.errors import LedgerError
from magentic_health.models import SCRIPTED_MODEL_INFO, estimate_tokens, request_digest
from magentic_health.models._stream import WholeReplyStreaming
from magentic_health.rerun._divergence import Divergence, Watch, current_step
from magentic_health.rerun._recorded import RecordedModelCall, ReplayBook


class ReplayModelClient(WholeReplyStreaming):
    """A ``ChatCompletionClient`` for one agent serving recorded responses by request digest.

    A request with no recorded match goes to ``live`` when given (``--live-from``), else stops
    the run as a divergence. ``model_info`` must say what the original client said (it decides
    structured output, which is part of the request); by default every capability is on.
    ``model_name`` names the model of the last call: the recorded one for a served call, the
    live client's for a live one (``RecordingClient`` records it in the new ``model_call``).
    """

    model_name: str | None = None

    def __init__(
        self,
        book: ReplayBook,
        watch: Watch,
        *,
        agent: str,
        live: ChatCompletionClient | None = None,
        model_info: ModelInfo | None = None,
    ) -> None:
        self.book, self.watch, self.agent, self.live = book, watch, agent, live
        self._info = model_info or (live.model_info if live is not None else SCRIPTED_MODEL_INFO)
        self._total = RequestUsage(prompt_tokens=0, completion_tokens=0)
        self._last = self._total

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
        digest = request_digest(messages, tools=tools, json_output=json_output)
        found = self.book.take_model_call(digest)
        if found is not None:
            result, model = recorded_result(found), found.call.model
        elif self.live is not None:
            self.book.count_live(model=True)
            result = await self.live.create(
                messages,
                tools=tools,
                tool_choice=tool_choice,
                json_output=json_output,
                extra_create_args=extra_create_args,
                cancellation_token=cancellation_token,
            )
            named = getattr(self.live, "model_name", None)
            model = named if isinstance(named, str) else None
        else:
            self._diverged(digest, messages, tools, json_output)
        self.model_name = model  # no await from here to the caller reading it
        self._last = result.usage
        self._total = RequestUsage(
            prompt_tokens=self._total.prompt_tokens + result.usage.prompt_tokens,
            completion_tokens=self._total.completion_tokens + result.usage.completion_tokens,
        )
        return result

    def _diverged(
        self,
        digest: str,
        messages: Sequence[LLMMessage],
        tools: Sequence[Tool | ToolSchema],
        json_output: bool | type[BaseModel] | None,
    ) -> NoReturn:
        step = current_step()
        expected = self.book.expected_model_call(self.agent, step)
        names = [t["name"] if isinstance(t, dict) else t.name for t in tools]
        output = json_output.__name__ if isinstance(json_output, type) else repr(json_output)
        self.watch.stop(
            Divergence(
                kind="model_call",
                agent=self.agent,
                step=step,
                actual_digest=digest,
                expected_digest=expected.call.request_digest if expected else None,
                expected_seq=expected.seq if expected else None,
                request=(
                    f"{len(messages)} messages; tools: {', '.join(names) or 'none'}; "
                    f"output: {output}"
                ),
            )
        )

    async def close(self) -> None:
        if self.live is not None:
            await self.live.close()

    def actual_usage(self) -> RequestUsage:
        return self._last

    def total_usage(self) -> RequestUsage:
        return self._total

    def count_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        if self.live is not None:
            return self.live.count_tokens(messages, tools=tools)
        return sum(estimate_tokens(str(getattr(m, "content", ""))) for m in messages)

    def remaining_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        if self.live is not None:
            return self.live.remaining_tokens(messages, tools=tools)
        return 128_000 - self.count_tokens(messages, tools=tools)

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


def recorded_result(found: RecordedModelCall) -> CreateResult:
    """The ``CreateResult`` a recorded ``model_call`` describes."""
    response, usage = found.call.response, found.call.usage
    content = response.get("content")
    return CreateResult(
        finish_reason=response.get("finish_reason", "stop"),
        content=content if isinstance(content, str) else _function_calls(content, found.seq),
        usage=RequestUsage(
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
        ),
        cached=False,
        thought=response.get("thought"),
    )


def _function_calls(content: Any, seq: int) -> list[FunctionCall]:
    """Recorded function calls: objects ``{id, arguments, name}``, or the ``FunctionCall(...)``
    text older ledgers hold (read as literals, never evaluated)."""
    if not isinstance(content, list):
        raise LedgerError(f"seq {seq}: model_call content is neither text nor function calls")
    calls: list[FunctionCall] = []
    for item in content:
        fields = item if isinstance(item, dict) else _call_fields(item, seq)
        try:
            calls.append(
                FunctionCall(id=fields["id"], arguments=fields["arguments"], name=fields["name"])
            )
        except KeyError as exc:
            raise LedgerError(f"seq {seq}: a recorded function call lacks {exc}") from None
    return calls


def _call_fields(text: Any, seq: int) -> dict[str, Any]:
    try:
        node = ast.parse(str(text), mode="eval").body
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "FunctionCall":
            return {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
    except (SyntaxError, ValueError):
        pass
    raise LedgerError(f"seq {seq}: cannot read the recorded function call {str(text)[:80]!r}")
