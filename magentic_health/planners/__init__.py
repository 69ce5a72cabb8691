"""Planners: one protocol, two implementations (rules offline, a model online)."""

from magentic_health.planners._protocol import (
    FinalAnswer,
    Planner,
    StepOutcome,
    StepStatus,
    plan_waves,
    ready_steps,
)
from magentic_health.planners.rule import ENGINE_LABEL, RulePlanner

__all__ = [
    "ENGINE_LABEL",
    "FinalAnswer",
    "Planner",
    "RulePlanner",
    "StepOutcome",
    "StepStatus",
    "plan_waves",
    "ready_steps",
]
