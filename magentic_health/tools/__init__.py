"""Specialist tools: plain, deterministic, typed functions that cite their sources.

Each tool module exposes a typed core function and a ``SPEC`` (a ``ToolSpec``) that agents call
with a ``ToolContext``. ``TOOL_NAMES`` is the registry team configurations are checked against.
"""

from __future__ import annotations

import importlib

from magentic_health.tools._base import ToolContext, ToolOutput, ToolSpec
from magentic_health.tools._settings import (
    CxrSettings,
    RadiologySettings,
    ToolSettings,
    TrialSettings,
)

_MODULES: dict[str, str] = {
    "patient_timeline": "timeline",
    "search_notes": "search",
    "patient_status": "status",
    "radiology": "radiology",
    "clinical_guidelines": "guidelines",
    "clinical_trials": "trials",
    "report_export": "report",
}
TOOL_NAMES: tuple[str, ...] = tuple(sorted(_MODULES))


def get_tool(name: str) -> ToolSpec:
    """The tool registered under ``name`` (imported on first use to keep start-up fast)."""
    if name not in _MODULES:
        raise KeyError(f"unknown tool {name!r}; known tools: {', '.join(TOOL_NAMES)}")
    module = importlib.import_module(f"magentic_health.tools.{_MODULES[name]}")
    spec: ToolSpec = module.SPEC
    return spec


__all__ = [
    "TOOL_NAMES",
    "CxrSettings",
    "RadiologySettings",
    "ToolContext",
    "ToolOutput",
    "ToolSettings",
    "ToolSpec",
    "TrialSettings",
    "get_tool",
]
