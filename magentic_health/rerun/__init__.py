"""Rerun a recorded run from its ledger: model calls and tool results served by request digest,
the first divergence reported, or a live continuation from a given event (``--live-from``);
``resume`` continues a crashed run the same way, live from its last complete event."""

from magentic_health.rerun._client import ReplayModelClient
from magentic_health.rerun._compare import (
    IGNORED_DATA_FIELDS,
    IGNORED_ENVELOPE_FIELDS,
    IGNORED_EVENT_TYPES,
    LedgerDifference,
    compare_ledgers,
)
from magentic_health.rerun._divergence import Divergence, InputChange
from magentic_health.rerun._recorded import Recording, ReplayBook, tool_arguments_digest
from magentic_health.rerun._rerun import RerunResult, arerun, rerun, rerun_ledger_path
from magentic_health.rerun._resume import ResumeResult, aresume, resume, resume_ledger_path

__all__ = [
    "IGNORED_DATA_FIELDS",
    "IGNORED_ENVELOPE_FIELDS",
    "IGNORED_EVENT_TYPES",
    "Divergence",
    "InputChange",
    "LedgerDifference",
    "Recording",
    "ReplayBook",
    "ReplayModelClient",
    "RerunResult",
    "ResumeResult",
    "arerun",
    "aresume",
    "compare_ledgers",
    "rerun",
    "rerun_ledger_path",
    "resume",
    "resume_ledger_path",
    "tool_arguments_digest",
]
