"""Placeholder replaced by the loaders work; see case/__init__."""

from __future__ import annotations

from pathlib import Path

from magentic_health.case._models import Case


def load_case(path: str | Path, *, request: str | None = None, data_dir: Path | None = None) -> Case:
    raise NotImplementedError
