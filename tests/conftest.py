"""Shared fixtures: the shared data directory, read in place, never copied."""

from __future__ import annotations

from pathlib import Path

import pytest

from magentic_health._data import resolve_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data directory (``../shared/data`` beside the checkout, or
    ``MAGENTIC_HEALTH_DATA``)."""
    return resolve_data_dir()


@pytest.fixture(scope="session")
def hao_dir(data_dir: Path) -> Path:
    return data_dir / "hao" / "patient_4"


@pytest.fixture(scope="session")
def synthea_bundles(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "synthea").glob("*.json"))


@pytest.fixture(scope="session")
def mcode_bundle(data_dir: Path) -> Path:
    return data_dir / "mcode" / "patient_data.json"
