"""The team's AutoGen messages: ledger events become ``HealthEvent``s (one subclass per kind
of decision), specialist replies and the final answer become ``TextMessage``s.

They are made from the very events the ledger writer records, so the stream a ``Console``
shows and the ledger on disk cannot disagree. ``to_text()`` of an event is a one-line summary
(agents, steps, counts, verdicts): no patient text beyond what the event is about. A
message's ``id`` is ``<run_id>:<seq>`` of its ledger event, so any message leads to its line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, TextMessage
from autogen_core.models import RequestUsage
from pydantic import Field

from magentic_health._console import one_line
from magentic_health._construct import construct_trusted
from magentic_health.trace import LedgerEvent


class HealthEvent(BaseAgentEvent):
    """One ledger event as an AutoGen event: its ``event_type``, ``seq``, ``step`` and
    ``data`` (the ledger's ``data``, which may hold patient text: ``to_text`` never shows it)."""

    type: Literal["HealthEvent"] = "HealthEvent"
    event_type: str
    seq: int
    run_id: str
    step: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    summary: str = ""

    def to_text(self) -> str:
        where = f" [{self.step}]" if self.step else ""
        return f"{self.event_type}{where}: {self.summary}"


class TriageUpdate(HealthEvent):
    """The triage decision: complexity, intents and the selected specialists."""

    type: Literal["TriageUpdate"] = "TriageUpdate"  # type: ignore[assignment]


class TaskLedgerUpdate(HealthEvent):
    """A task ledger (facts and plan), the first or after a re-plan."""

    type: Literal["TaskLedgerUpdate"] = "TaskLedgerUpdate"  # type: ignore[assignment]


class HandoffUpdate(HealthEvent):
    """A step handed to a specialist."""

    type: Literal["HandoffUpdate"] = "HandoffUpdate"  # type: ignore[assignment]


class ToolUpdate(HealthEvent):
    """A tool call or its result."""

    type: Literal["ToolUpdate"] = "ToolUpdate"  # type: ignore[assignment]


class ModelCallUpdate(HealthEvent):
    """A model call by an agent (``models_usage`` holds its tokens)."""

    type: Literal["ModelCallUpdate"] = "ModelCallUpdate"  # type: ignore[assignment]


class CheckpointUpdate(HealthEvent):
    """A checkpoint verdict on a reply or on the final answer."""

    type: Literal["CheckpointUpdate"] = "CheckpointUpdate"  # type: ignore[assignment]


class ProgressLedgerUpdate(HealthEvent):
    """The progress ledger after a wave."""

    type: Literal["ProgressLedgerUpdate"] = "ProgressLedgerUpdate"  # type: ignore[assignment]


class ReplanUpdate(HealthEvent):
    """A re-plan and why."""

    type: Literal["ReplanUpdate"] = "ReplanUpdate"  # type: ignore[assignment]


class RunUpdate(HealthEvent):
    """The run started, finished (status, usage) or recorded an error."""

    type: Literal["RunUpdate"] = "RunUpdate"  # type: ignore[assignment]


_KINDS: dict[str, type[HealthEvent]] = {
    "run_started": RunUpdate,
    "triage": TriageUpdate,
    "task_ledger": TaskLedgerUpdate,
    "handoff": HandoffUpdate,
    "tool_call": ToolUpdate,
    "tool_result": ToolUpdate,
    "model_call": ModelCallUpdate,
    "checkpoint": CheckpointUpdate,
    "progress_ledger": ProgressLedgerUpdate,
    "replan": ReplanUpdate,
    "run_finished": RunUpdate,
    "error": RunUpdate,
}

TeamMessage = BaseAgentEvent | BaseChatMessage


class MessageConverter:
    """Turns ledger events into AutoGen messages, in ledger order, except that the final
    answer is held back and sent after ``run_finished``, so it is the last message of a run."""

    def __init__(self, orchestrator: str) -> None:
        self.orchestrator = orchestrator
        self._final: TextMessage | None = None

    def convert(self, event: LedgerEvent) -> list[TeamMessage]:
        source = event.agent or self.orchestrator
        # a message's id names the ledger line it comes from: unique, and it leads to the line
        message_id = f"{event.run_id}:{event.seq}"
        if event.type == "agent_reply":
            meta = {"step": event.step or "", "run_id": event.run_id}
            return [
                TextMessage(
                    id=message_id, source=source, content=str(event.data["text"]), metadata=meta
                )
            ]
        if event.type == "final":
            self._final = TextMessage(
                id=message_id,
                source=self.orchestrator,
                content=str(event.data["text"]),
                metadata={"run_id": event.run_id},
            )
            return []
        kind = _KINDS.get(event.type, HealthEvent)
        usage = None
        if event.type == "model_call":
            tokens = event.data.get("usage", {})
            usage = RequestUsage(
                prompt_tokens=int(tokens.get("prompt_tokens", 0)),
                completion_tokens=int(tokens.get("completion_tokens", 0)),
            )
        # built from a recorded event, so trusted: constructed without re-validating its data,
        # every field given (pydantic's default factories are slow to call one by one)
        message: HealthEvent = construct_trusted(
            kind,
            {
                "id": message_id,
                "created_at": datetime.now(UTC),
                "metadata": {},
                "type": kind.model_fields["type"].default,
                "source": source,
                "event_type": event.type,
                "seq": event.seq,
                "run_id": event.run_id,
                "step": event.step,
                "data": event.data,
                "summary": one_line(event),
                "models_usage": usage,
            },
        )
        if event.type == "run_finished" and self._final is not None:
            final, self._final = self._final, None
            return [message, final]
        return [message]
