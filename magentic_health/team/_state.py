"""What a HealthTeam remembers between runs, and its saved form (``save_state``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from magentic_health.case import Case
from magentic_health.planners import StepOutcome


class PriorOutcome(BaseModel):
    """A verified step outcome of an earlier run, with the run and request it served."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    request: str
    outcome: StepOutcome


class RunCounters(BaseModel):
    """The counters of one run (never carried into the next run)."""

    model_config = ConfigDict(frozen=True)

    turns: int = 0
    stalls: int = 0
    replans: int = 0
    usage: dict[str, dict[str, int]] = {}


class TeamState(BaseModel):
    """A HealthTeam's state: the case, the verified outcomes so far, and its runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["HealthTeamState"] = "HealthTeamState"
    version: Literal[1] = 1
    case: Case | None = None
    outcomes: tuple[PriorOutcome, ...] = ()
    run_ids: tuple[str, ...] = ()
    ledger_paths: tuple[str, ...] = ()
    last_counters: RunCounters | None = None
    """The counters of the last run, for inspection only."""

    @property
    def last_run_id(self) -> str | None:
        return self.run_ids[-1] if self.run_ids else None
