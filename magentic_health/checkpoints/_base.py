"""What a checkpoint is: a named verifier of one specialist reply (DESIGN section 5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from magentic_health.case import Case
from magentic_health.config import AgentConfig
from magentic_health.reply import SpecialistReply


class Verdict(BaseModel):
    """The outcome of one checkpoint on one reply."""

    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    failures: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckContext:
    """What a checkpoint may look at besides the reply."""

    case: Case
    agent: AgentConfig | None
    """The agent that replied; None for the final answer."""


class Checkpoint(Protocol):
    """A verifier: a stable name and a pure ``verify`` function."""

    name: str

    def verify(self, reply: SpecialistReply, ctx: CheckContext) -> Verdict: ...
