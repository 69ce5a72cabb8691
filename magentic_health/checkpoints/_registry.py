"""Checkpoints by the name a team configuration lists: built in, or a custom import path."""

from __future__ import annotations

import functools
from typing import cast

from magentic_health.checkpoints._base import Checkpoint
from magentic_health.checkpoints.consistency import ConsistencyCheckpoint
from magentic_health.checkpoints.contract import ContractCheckpoint
from magentic_health.checkpoints.grounding import GroundingCheckpoint
from magentic_health.checkpoints.judge import ModelJudgeCheckpoint
from magentic_health.checkpoints.scope import RoleScopeCheckpoint
from magentic_health.config import import_checkpoint

CHECKPOINTS: dict[str, type[Checkpoint]] = {
    "contract": ContractCheckpoint,
    "grounding": GroundingCheckpoint,
    "consistency": ConsistencyCheckpoint,
    "scope": RoleScopeCheckpoint,
    "judge": ModelJudgeCheckpoint,
}
"""Checkpoint classes by the name a team configuration uses."""


@functools.lru_cache(maxsize=64)
def get_checkpoint(name: str) -> Checkpoint:
    """The checkpoint a configuration lists as ``name``: a built-in name, or a custom
    ``package.module:ClassName`` (imported, so trusted configurations only)."""
    cls = CHECKPOINTS.get(name)
    if cls is None:
        cls = cast(type[Checkpoint], import_checkpoint(name))
    return cls()


def needs_model(checkpoint: Checkpoint) -> bool:
    """Whether the checkpoint asks a model (and so runs in model mode only)."""
    return bool(getattr(checkpoint, "needs_model", False))
