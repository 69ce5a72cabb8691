"""The team: HealthTeam (an AutoGen Team) runs the orchestrator loop over the specialists."""

from magentic_health.team._messages import (
    CheckpointUpdate,
    HandoffUpdate,
    HealthEvent,
    ModelCallUpdate,
    ProgressLedgerUpdate,
    ReplanUpdate,
    RunUpdate,
    TaskLedgerUpdate,
    ToolUpdate,
    TriageUpdate,
)
from magentic_health.team._result import RunResult
from magentic_health.team._state import PriorOutcome, RunCounters, TeamState
from magentic_health.team.health_team import HealthTeam, default_ledger_path

__all__ = [
    "CheckpointUpdate",
    "HandoffUpdate",
    "HealthEvent",
    "HealthTeam",
    "ModelCallUpdate",
    "PriorOutcome",
    "ProgressLedgerUpdate",
    "ReplanUpdate",
    "RunCounters",
    "RunResult",
    "RunUpdate",
    "TaskLedgerUpdate",
    "TeamState",
    "ToolUpdate",
    "TriageUpdate",
    "default_ledger_path",
]
