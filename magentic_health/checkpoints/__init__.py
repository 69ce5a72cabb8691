"""Verifiers run on every specialist reply and on the final answer."""

from magentic_health.checkpoints._base import CheckContext, Checkpoint, Verdict
from magentic_health.checkpoints.contract import ContractCheckpoint
from magentic_health.checkpoints.grounding import GroundingCheckpoint, fold

CHECKPOINTS: dict[str, type[ContractCheckpoint] | type[GroundingCheckpoint]] = {
    "contract": ContractCheckpoint,
    "grounding": GroundingCheckpoint,
}
"""Checkpoint classes by the name a team configuration uses."""

__all__ = [
    "CHECKPOINTS",
    "CheckContext",
    "Checkpoint",
    "ContractCheckpoint",
    "GroundingCheckpoint",
    "Verdict",
    "fold",
]
