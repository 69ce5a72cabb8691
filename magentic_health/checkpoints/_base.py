"""What a checkpoint is: a named verifier of one specialist reply (DESIGN section 5)."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from autogen_core.models import ChatCompletionClient
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


def verdict(name: str, failures: list[str]) -> Verdict:
    """A verdict that passes exactly when there are no failures."""
    return Verdict(name=name, passed=not failures, failures=tuple(failures))


@dataclass(frozen=True)
class CheckContext:
    """What a checkpoint may look at besides the reply."""

    case: Case
    agent: AgentConfig | None
    """The agent that replied; None for the final answer."""
    prior: Mapping[str, SpecialistReply] = field(default_factory=dict)
    """Verified replies of the steps that finished before this one, by step id."""
    model_client: ChatCompletionClient | None = None
    """The run's model client, for model-judged checkpoints; None on the offline engine."""


class Checkpoint(Protocol):
    """A verifier: a stable name and a ``verify`` function (plain or async) without side
    effects."""

    name: str

    def verify(self, reply: SpecialistReply, ctx: CheckContext) -> Verdict | Awaitable[Verdict]: ...
