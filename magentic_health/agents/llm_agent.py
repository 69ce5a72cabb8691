"""The model-driven specialist: an AutoGen ``AssistantAgent`` with the agent's tools and the
reply contract (DESIGN section 5).

Call economy: the agent's argument-free tools run before the hand-off and their outputs are
part of the hand-off message, so a specialist normally answers in one model call; tools that
take arguments from the model (``search_notes(query)``) are offered as function tools. Each
hand-off starts an ``AssistantAgent`` from an empty conversation, so it is ``[system, user]``
(plus tool calls and results), which every strict chat template accepts. A reply that breaks
the contract raises ``ReplyContractError``; the orchestrator records it as a failed
``contract`` checkpoint.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.messages import BaseChatMessage, StructuredMessage, TextMessage
from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient
from autogen_core.tools import BaseTool, FunctionTool, ToolSchema
from pydantic import ValidationError

from magentic_health.agents._base import EventSink, HandoffRequest
from magentic_health.agents._calls import REQUEST_DEPENDENT_TOOLS, call_tool
from magentic_health.agents._contract import (
    CONTRACT_PROMPT,
    ReplyContract,
    ReplyContractError,
    describe_validation,
    parse_contract,
    to_findings,
)
from magentic_health.agents._handoff import handoff_message, render_output
from magentic_health.config import AgentConfig
from magentic_health.errors import BackendRefusedError
from magentic_health.models import RecordingClient
from magentic_health.reply import SpecialistReply
from magentic_health.tools import ToolContext, ToolOutput, ToolSpec, get_tool

ARGUMENT_TOOLS: dict[str, str] = {
    "search_notes": "Words or phrases to search the case documents for.",
}
"""Tools the model calls with an argument (``query``), by name and the argument's meaning; the
other tools run before the hand-off."""

Query = Annotated[str, ARGUMENT_TOOLS["search_notes"]]

_STRUCTURED_REPLY = StructuredMessage[ReplyContract]
"""Held here because pydantic caches a parametrized generic only while something references it:
without this, every run after a garbage collection rebuilt the class (several ms) in each
``AssistantAgent`` with ``output_content_type=ReplyContract``."""


def _error_failures(exc: Exception) -> tuple[str, ...]:
    if isinstance(exc, ReplyContractError):
        return exc.failures
    if isinstance(exc, ValidationError):
        return tuple(f"the reply does not fit the contract: {f}" for f in describe_validation(exc))
    return (f"the agent raised {type(exc).__name__}: {str(exc)[:200]}",)


class LLMAgent:
    """A specialist driven by a language model through an AutoGen ``AssistantAgent``."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        model_client: ChatCompletionClient,
        tools: list[ToolSpec] | None = None,
        structured_output: bool | None = None,
        max_tool_iterations: int = 2,
    ) -> None:
        self.config = config
        self.client = (
            model_client
            if isinstance(model_client, RecordingClient)
            else RecordingClient(model_client, agent=config.name)
        )
        self._tools = tools if tools is not None else [get_tool(t) for t in config.tools]
        info = self.client.model_info
        self._structured = (
            bool(info.get("structured_output", False))
            if structured_output is None
            else structured_output
        )
        self._max_tool_iterations = max_tool_iterations
        self.system_message = f"{config.instructions.strip()}\n\n{CONTRACT_PROMPT}"
        self._specs = {s.name: s for s in self._tools}
        # shared by every agent (their schemas are costly); each call reads the current
        # hand-off and agent from the step's context
        self._function_tools: list[BaseTool[Any, Any]] = [
            _function_tool(s.name, s.description) for s in self._tools if s.name in ARGUMENT_TOOLS
        ]
        self._idle: list[AssistantAgent] = []
        """AssistantAgents with an empty conversation, reused by later hand-offs (building one
        costs more than a hand-off's bookkeeping); concurrent hand-offs each take their own."""

    def _assistant(self) -> AssistantAgent:
        return AssistantAgent(
            self.name,
            model_client=self.client,
            system_message=self.system_message,
            tools=list(self._function_tools),
            reflect_on_tool_use=True,
            max_tool_iterations=self._max_tool_iterations,
            output_content_type=ReplyContract if self._structured else None,
        )

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def reads_request(self) -> bool:
        """Whether a reply depends on the request's wording (its pre-run tools read it)."""
        return any(
            t.name in REQUEST_DEPENDENT_TOOLS and t.name not in ARGUMENT_TOOLS for t in self._tools
        )

    def _context(self, request: HandoffRequest, instruction: str) -> ToolContext:
        return ToolContext(
            case=request.case,
            instruction=instruction,
            data_dir=request.data_dir,
            upstream=request.upstream,
            settings=request.settings,
        )

    async def _call_argument_tool(self, name: str, query: str) -> str:
        """Run the argument tool ``name`` for the model, on the hand-off being answered."""
        current = _CURRENT.get()
        spec = self._specs[name]
        ctx = self._context(current.request, query)
        output = await call_tool(
            spec, ctx, current.request, current.emit, agent=self.name, arguments={"query": query}
        )
        current.used[name] = output
        return render_output(name, output)

    async def handle(self, request: HandoffRequest, *, emit: EventSink) -> SpecialistReply:
        grounding: dict[str, ToolOutput] = {}
        for spec in self._tools:
            if spec.name not in ARGUMENT_TOOLS:
                ctx = self._context(request, request.case.request)
                grounding[spec.name] = await call_tool(spec, ctx, request, emit, agent=self.name)
        used: dict[str, ToolOutput] = {}
        agent = self._idle.pop() if self._idle else self._assistant()
        message = TextMessage(
            content=handoff_message(request, grounding), source=request.orchestrator
        )
        token = request.cancellation_token or CancellationToken()
        # this task's context: concurrent steps do not mix
        _CURRENT.set(_Handoff(self, request, emit, used))
        contract = await _answer(lambda: agent.on_messages([message], token))
        # answered: emptied for the next hand-off (after a failure it is dropped instead)
        await agent.on_reset(CancellationToken())
        self._idle.append(agent)
        outputs = {**grounding, **used}
        return SpecialistReply(
            agent=self.name,
            text=contract.text,
            findings=to_findings(contract),
            gaps=tuple(dict.fromkeys(g for g in contract.gaps if g.strip())),
            data={name: out.data for name, out in outputs.items()},
            tools_used=tuple(outputs),
        )


class _SchemaOnce(FunctionTool):
    """A ``FunctionTool`` whose schema is built once: AutoGen rebuilds it (a pydantic JSON
    schema) every time an agent lists its tools, i.e. on every model call."""

    @functools.cached_property
    def schema(self) -> ToolSchema:
        return super().schema


@dataclass(frozen=True)
class _Handoff:
    """The hand-off an agent is answering, for its function tools."""

    agent: LLMAgent
    request: HandoffRequest
    emit: EventSink
    used: dict[str, ToolOutput]


_CURRENT: ContextVar[_Handoff] = ContextVar("magentic_health_handoff")
"""The hand-off being answered (set per step task)."""


@functools.lru_cache(maxsize=64)
def _function_tool(name: str, description: str) -> FunctionTool:
    """The model-facing tool ``name``, made once per process: its schema (a strict JSON
    schema, which structured output requires) costs more than a whole hand-off."""

    async def run(query: Query) -> str:
        return await _CURRENT.get().agent._call_argument_tool(name, query)

    return _SchemaOnce(run, description=description, name=name, strict=True)


async def _answer(ask: Callable[[], Coroutine[Any, Any, Any]]) -> ReplyContract:
    """The agent's final message read as a ``ReplyContract``; anything else is a contract
    failure. Cancellation, and a backend that refuses every call, still propagate: the
    latter ends the run (exit 3) instead of failing step after step."""
    try:
        response = await ask()
        return _read(response.chat_message)
    except (asyncio.CancelledError, BackendRefusedError):
        raise
    except Exception as exc:
        raise ReplyContractError(_error_failures(exc)) from exc


def _read(message: BaseChatMessage) -> ReplyContract:
    if isinstance(message, StructuredMessage) and isinstance(message.content, ReplyContract):
        return message.content
    content = getattr(message, "content", None)
    if isinstance(content, str):
        return parse_contract(content)
    raise ReplyContractError((f"the reply is a {type(message).__name__}, not the reply contract",))
