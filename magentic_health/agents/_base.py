"""What the orchestrator hands a specialist and how a specialist reports events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from autogen_core import CancellationToken

from magentic_health.case import Case
from magentic_health.plan import PlanStep
from magentic_health.reply import SpecialistReply
from magentic_health.tools import ToolOutput, ToolSettings
from magentic_health.trace import EventPayload


class EventSink(Protocol):
    """Records one ledger event on behalf of an agent's step."""

    def __call__(self, payload: EventPayload, *, agent: str | None, step: str | None) -> None: ...


@dataclass(frozen=True)
class HandoffRequest:
    """One step handed to a specialist: what to do, with what, and what failed last time."""

    step: PlanStep
    case: Case
    data_dir: Path
    upstream: Mapping[str, ToolOutput] = field(default_factory=dict)
    """Tool outputs of the completed steps this step depends on, by tool name."""
    feedback: tuple[str, ...] = ()
    """Checkpoint failures of the previous attempt, to be fixed in this one."""
    attempt: int = 1
    settings: ToolSettings = field(default_factory=ToolSettings)
    """The team configuration's tool settings (remote endpoints, live look-ups)."""
    orchestrator: str = "Orchestrator"
    """The facilitator's name: the sender of the hand-off message."""
    cancellation_token: CancellationToken | None = None
    """Cancels the agent's model and tool calls when the run is cancelled."""


class Specialist(Protocol):
    """A member of the team that answers hand-offs."""

    @property
    def name(self) -> str: ...

    async def handle(self, request: HandoffRequest, *, emit: EventSink) -> SpecialistReply: ...
