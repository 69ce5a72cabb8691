"""magentic-health: a planner-driven tumor-board team of specialist agents.

An orchestrator triages the request, keeps a task ledger and a progress ledger, runs a few
specialists in waves, verifies every reply at checkpoints, re-plans on stalls, and writes every
hand-off to a hash-chained ledger that can be replayed. Research use only.
"""

from magentic_health._api import arun_case, run_case
from magentic_health.case import Case, CaseImage, Document, Patient, load_case
from magentic_health.config import TeamConfig, load_team_config
from magentic_health.errors import (
    BackendError,
    BackendRefusedError,
    CaseError,
    ConfigError,
    InputError,
    LedgerError,
    LimitError,
    MagenticHealthError,
)
from magentic_health.planners import LLMPlanner, Planner, RulePlanner
from magentic_health.reply import Evidence, Finding, SpecialistReply
from magentic_health.team import HealthTeam, RunResult
from magentic_health.trace import LedgerEvent, read_ledger, verify_ledger

__all__ = [
    "BackendError",
    "BackendRefusedError",
    "Case",
    "CaseError",
    "CaseImage",
    "ConfigError",
    "Document",
    "Evidence",
    "Finding",
    "HealthTeam",
    "InputError",
    "LLMPlanner",
    "LedgerError",
    "LedgerEvent",
    "LimitError",
    "MagenticHealthError",
    "Patient",
    "Planner",
    "RulePlanner",
    "RunResult",
    "SpecialistReply",
    "TeamConfig",
    "arun_case",
    "load_case",
    "load_team_config",
    "read_ledger",
    "run_case",
    "verify_ledger",
]
