"""A simulated language model for benchmarks and tests: a whole team's calls, answered by structure.

``SimulatedModel`` is an ``AnswerFn`` for ``ScriptedModelClient``: every specialist calls each
tool it is offered once and then replies with a fixed text; the orchestrator walks the
specialists in plan order and ends with a fixed final answer. It never searches prompt text; it
answers as a function of the request's structure:

- ``request.schema_name`` registered in ``structured``: that answer (e.g. a planner's decision
  types; the caller supplies them, as their shape belongs to the planner);
- a specialist asking, known by its system message (compared whole: who is speaking, not what is
  asked), by the tool its last tool result came from, or by the tools it is offered: tool calls
  while it has tools it has not called, then its reply;
- a progress ledger (Magentic-One's ``LedgerEntry``, or JSON mode): the first specialist in
  plan order that has not spoken yet (a message whose ``source`` is its name), or "satisfied";
- any other plain-text call (Magentic-One's orchestrator): one message is the facts call,
  user-assistant-user is the plan call, anything else is the final answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from autogen_core import FunctionCall
from autogen_core.models import FunctionExecutionResultMessage, SystemMessage, UserMessage

from magentic_health.models.scripted import ModelRequest, Reply, ScriptedModelClient

StructuredAnswer = Callable[[ModelRequest], Reply]
"""Answers one structured-output type (looked up by its class name)."""


class SimulationError(Exception):
    """The simulated model got a request it has no answer for (a bug in the caller's setup)."""


@dataclass(frozen=True)
class SimulatedSpecialist:
    """One specialist as the simulated model plays it."""

    name: str
    tools: tuple[str, ...]
    reply: str
    """The specialist's final reply, given once its tool results are in."""
    instruction: str = ""
    """What the orchestrator asks of it (Magentic-One's ``instruction_or_question``)."""
    system_message: str | None = None
    """Its system prompt, which identifies it when it is offered no tools."""


@dataclass(frozen=True)
class SimulatedModel:
    """The answer function; ``specialists`` are in plan order."""

    specialists: tuple[SimulatedSpecialist, ...]
    final_text: str
    facts_text: str = "Facts: the case documents hold the history; the specialists look it up."
    structured: Mapping[str, StructuredAnswer] = field(default_factory=dict)
    tool_arguments: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Arguments per tool name; by default each required string parameter gets ``"review"``."""

    def __post_init__(self) -> None:
        owners = [t for s in self.specialists for t in s.tools]
        if len(owners) != len(set(owners)):
            raise SimulationError(f"each tool must belong to one specialist; got {owners!r}")

    def client(self, *, latency_s: float = 0.0) -> ScriptedModelClient:
        """A scripted client answering with this model after ``latency_s`` per call."""
        return ScriptedModelClient(self, latency_s=latency_s)

    @property
    def plan_text(self) -> str:
        return "\n".join(f"- {s.name}: {s.instruction or 'do your part'}" for s in self.specialists)

    def owner(self, tool: str) -> SimulatedSpecialist:
        for specialist in self.specialists:
            if tool in specialist.tools:
                return specialist
        raise SimulationError(f"no simulated specialist owns the tool {tool!r}")

    def __call__(self, request: ModelRequest) -> Reply:
        schema = request.schema_name
        if schema is not None and schema in self.structured:
            return self.structured[schema](request)
        specialist = self.speaker(request)
        if specialist is not None:
            called = _called_tools(request)
            if any(t not in called for t in request.tool_names):
                return self._tool_calls(specialist, request, called)
            return specialist.reply
        if schema == "LedgerEntry" or request.json_output is True:
            return self.progress_ledger(request)
        if schema is not None:
            raise SimulationError(f"no simulated answer for the structured type {schema!r}")
        return self._plain(request)

    def speaker(self, request: ModelRequest) -> SimulatedSpecialist | None:
        """The specialist making this request, or None (an orchestrator call)."""
        first = request.messages[0] if request.messages else None
        if isinstance(first, SystemMessage):
            for specialist in self.specialists:
                if (
                    specialist.system_message is not None
                    and first.content == specialist.system_message
                ):
                    return specialist
        last = request.messages[-1] if request.messages else None
        if isinstance(last, FunctionExecutionResultMessage) and last.content:
            return self.owner(last.content[0].name)
        if request.tool_names:
            return self.owner(request.tool_names[0])
        return None

    def _tool_calls(
        self, specialist: SimulatedSpecialist, request: ModelRequest, called: set[str]
    ) -> list[FunctionCall]:
        schemas = {t["name"] if isinstance(t, dict) else t.name: t for t in request.tools}
        calls = []
        for tool in (t for t in request.tool_names if t not in called):
            if tool not in specialist.tools:
                raise SimulationError(f"{specialist.name} was offered {tool!r}, not its own tool")
            arguments = self.tool_arguments.get(tool) or _default_arguments(schemas[tool])
            calls.append(
                FunctionCall(id=f"call_{tool}", name=tool, arguments=json.dumps(arguments))
            )
        return calls

    def spoken(self, request: ModelRequest) -> set[str]:
        """The specialists whose replies are in the conversation."""
        names = {s.name for s in self.specialists}
        return {
            m.source for m in request.messages if isinstance(m, UserMessage) and m.source in names
        }

    def progress_ledger(self, request: ModelRequest) -> str:
        """Magentic-One's progress ledger: the next specialist in plan order, or done."""
        spoken = self.spoken(request)
        pending = [s for s in self.specialists if s.name not in spoken]
        done = not pending
        nxt = pending[0] if pending else self.specialists[-1]
        ledger = {
            "is_request_satisfied": {"reason": "every specialist has reported", "answer": done},
            "is_in_loop": {"reason": "each specialist spoke once", "answer": False},
            "is_progress_being_made": {"reason": "a new report came in", "answer": True},
            "next_speaker": {"reason": "next in the plan", "answer": nxt.name},
            "instruction_or_question": {
                "reason": "the plan step",
                "answer": nxt.instruction or f"{nxt.name}: do your part of the review.",
            },
        }
        return json.dumps(ledger)

    def _plain(self, request: ModelRequest) -> str:
        messages = request.messages
        if len(messages) == 1:
            return self.facts_text
        if len(messages) == 3 and isinstance(messages[0], UserMessage):
            return self.plan_text
        return self.final_text


def _called_tools(request: ModelRequest) -> set[str]:
    """The tools whose results are already in the conversation."""
    return {
        result.name
        for m in request.messages
        if isinstance(m, FunctionExecutionResultMessage)
        for result in m.content
    }


def _default_arguments(tool: Any) -> dict[str, Any]:
    schema = tool if isinstance(tool, dict) else tool.schema
    parameters: Mapping[str, Any] = schema.get("parameters") or {}
    properties: Mapping[str, Any] = parameters.get("properties") or {}
    return {
        name: "review"
        for name in parameters.get("required", ())
        if properties.get(name, {}).get("type") == "string"
    }
