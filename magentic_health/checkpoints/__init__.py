"""Verifiers run on every specialist reply and on the final answer (see docs/checkpoints.md)."""

from magentic_health.checkpoints._base import CheckContext, Checkpoint, Verdict
from magentic_health.checkpoints._registry import CHECKPOINTS, get_checkpoint, needs_model
from magentic_health.checkpoints.consistency import ConsistencyCheckpoint, conflict_topics
from magentic_health.checkpoints.contract import ContractCheckpoint
from magentic_health.checkpoints.grounding import GroundingCheckpoint, fold, quote_at
from magentic_health.checkpoints.judge import JudgeVerdict, ModelJudgeCheckpoint
from magentic_health.checkpoints.scope import RoleScopeCheckpoint

__all__ = [
    "CHECKPOINTS",
    "CheckContext",
    "Checkpoint",
    "ConsistencyCheckpoint",
    "ContractCheckpoint",
    "GroundingCheckpoint",
    "JudgeVerdict",
    "ModelJudgeCheckpoint",
    "RoleScopeCheckpoint",
    "Verdict",
    "conflict_topics",
    "fold",
    "get_checkpoint",
    "needs_model",
    "quote_at",
]
