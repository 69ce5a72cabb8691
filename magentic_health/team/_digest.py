"""Stable digests of what a run depends on, recorded in ``run_started``."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata

from pydantic import BaseModel

_PACKAGES = (
    "magentic-health",
    "autogen-agentchat",
    "autogen-core",
    "autogen-ext",
    "openai",
    "pydantic",
)


def digest(model: BaseModel) -> str:
    """sha256 of the model's canonical JSON (keys sorted, compact, UTF-8)."""
    data = json.dumps(
        model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return "sha256:" + hashlib.sha256(data.encode("utf-8")).hexdigest()


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a run's behaviour depends on."""
    versions: dict[str, str] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
