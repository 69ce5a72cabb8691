"""The Planner protocol: the orchestrator's decisions, made by rules or by a model.

Both implementations return the typed decisions of ``magentic_health.plan``; the team loop
records each decision in the ledger before acting on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from magentic_health.case import Case
from magentic_health.config import TeamConfig
from magentic_health.plan import PlanStep, ProgressLedger, TaskLedger, Triage
from magentic_health.reply import Evidence, SpecialistReply

StepStatus = Literal["done", "failed"]


class StepOutcome(BaseModel):
    """How a plan step ended: its verified reply, or the failures that stopped it."""

    model_config = ConfigDict(frozen=True)

    step: PlanStep
    status: StepStatus
    reply: SpecialistReply | None = None
    failures: tuple[str, ...] = ()
    wave: int = 0
    conflicts: tuple[str, ...] = ()
    """Disagreements with a step of the same wave ("<agent> on <attribute>"): both replies
    are kept, and the summary lists the question as open for the board."""


class FinalAnswer(BaseModel):
    """The synthesis handed to the user, with the evidence it cites."""

    model_config = ConfigDict(frozen=True)

    text: str
    citations: tuple[Evidence, ...]
    gaps: tuple[str, ...] = ()


class Planner(Protocol):
    """Decides triage, plan, progress, re-plans and the synthesis of a run."""

    @property
    def engine(self) -> str:
        """A label for every output, e.g. "offline rule engine (deterministic, no model)"."""
        ...

    async def triage(self, case: Case, team: TeamConfig) -> Triage: ...

    async def task_ledger(self, case: Case, team: TeamConfig, triage: Triage) -> TaskLedger: ...

    async def progress(
        self,
        case: Case,
        team: TeamConfig,
        ledger: TaskLedger,
        outcomes: Mapping[str, StepOutcome],
        *,
        wave: int,
    ) -> ProgressLedger: ...

    async def replan(
        self,
        case: Case,
        team: TeamConfig,
        ledger: TaskLedger,
        outcomes: Mapping[str, StepOutcome],
        *,
        reason: str,
    ) -> TaskLedger: ...

    async def synthesize(
        self,
        case: Case,
        team: TeamConfig,
        triage: Triage,
        ledger: TaskLedger,
        outcomes: Mapping[str, StepOutcome],
    ) -> FinalAnswer: ...


def ready_steps(ledger: TaskLedger, outcomes: Mapping[str, StepOutcome]) -> list[PlanStep]:
    """Steps not yet run whose dependencies have all completed successfully, in plan order."""
    done = {sid for sid, o in outcomes.items() if o.status == "done"}
    return [
        step
        for step in ledger.plan
        if step.id not in outcomes and all(dep in done for dep in step.depends_on)
    ]


def plan_waves(plan: tuple[PlanStep, ...], *, max_parallel: int) -> tuple[tuple[str, ...], ...]:
    """Step ids grouped into waves: a step's wave is one more than its latest dependency's,
    and no wave holds more than ``max_parallel`` steps."""
    level: dict[str, int] = {}
    for step in plan:  # plans are in topological order
        level[step.id] = 1 + max((level[d] for d in step.depends_on if d in level), default=-1)
    waves: list[tuple[str, ...]] = []
    for lvl in sorted(set(level.values())):
        ids = [s.id for s in plan if level[s.id] == lvl]
        for i in range(0, len(ids), max_parallel):
            waves.append(tuple(ids[i : i + max_parallel]))
    return tuple(waves)
