"""The orchestrator's decisions as data: triage, the task ledger and the progress ledger.

Both planners (rule-based and model-driven) produce these; the ledger records them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from magentic_health.config import Complexity


class Exclusion(BaseModel):
    """A specialist triage considered and left out, and why."""

    model_config = ConfigDict(frozen=True)

    agent: str
    reason: str


class Triage(BaseModel):
    """How hard the request is, what it asks for, and who works on it."""

    model_config = ConfigDict(frozen=True)

    complexity: Complexity
    intents: tuple[str, ...]
    selected: tuple[str, ...] = Field(min_length=1)
    rationale: str
    excluded: tuple[Exclusion, ...] = ()


class Facts(BaseModel):
    """The task ledger's fact sheet, in Magentic-One's four kinds."""

    model_config = ConfigDict(frozen=True)

    given: tuple[str, ...] = ()
    to_look_up: tuple[str, ...] = ()
    to_derive: tuple[str, ...] = ()
    educated_guesses: tuple[str, ...] = ()


class PlanStep(BaseModel):
    """One step of the plan: an agent, what to do, and which steps must finish first."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    agent: str
    instruction: str
    depends_on: tuple[str, ...] = ()
    critical: bool = False


class TaskLedger(BaseModel):
    """Facts and plan; ``version`` grows with each re-plan."""

    model_config = ConfigDict(frozen=True)

    version: int = 1
    facts: Facts
    plan: tuple[PlanStep, ...] = Field(min_length=1)


class BoolAnswer(BaseModel):
    """A yes/no judgement with its reason; ``answer`` must be a real boolean."""

    model_config = ConfigDict(frozen=True)

    answer: StrictBool
    reason: str


class NextAnswer(BaseModel):
    """The steps to run next (ids of plan steps), with the reason."""

    model_config = ConfigDict(frozen=True)

    answer: tuple[str, ...]
    reason: str


class ProgressLedger(BaseModel):
    """The orchestrator's assessment after a wave (DESIGN section 4, point 4)."""

    model_config = ConfigDict(frozen=True)

    is_request_satisfied: BoolAnswer
    is_in_loop: BoolAnswer
    is_progress_being_made: BoolAnswer
    next: NextAnswer
