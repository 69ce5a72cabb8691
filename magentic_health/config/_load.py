"""Placeholder replaced by the configuration work; see config/__init__."""

from __future__ import annotations

from pathlib import Path

from magentic_health.config._models import TeamConfig


def default_config_path() -> Path:
    raise NotImplementedError


def load_team_config(path: str | Path) -> TeamConfig:
    raise NotImplementedError
