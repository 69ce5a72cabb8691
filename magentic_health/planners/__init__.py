"""Planners: one protocol, two implementations (rules offline, a model online)."""

from magentic_health.planners._llm_chat import ChatSequenceError, check_chat_sequence
from magentic_health.planners._llm_prompts import Prompt, PromptError, load_prompt
from magentic_health.planners._protocol import (
    FinalAnswer,
    Planner,
    StepOutcome,
    StepStatus,
    plan_waves,
    ready_steps,
)
from magentic_health.planners.llm import DecisionRecord, LLMPlanner
from magentic_health.planners.rule import ENGINE_LABEL, RulePlanner

__all__ = [
    "ENGINE_LABEL",
    "ChatSequenceError",
    "DecisionRecord",
    "FinalAnswer",
    "LLMPlanner",
    "Planner",
    "Prompt",
    "PromptError",
    "RulePlanner",
    "StepOutcome",
    "StepStatus",
    "check_chat_sequence",
    "load_prompt",
    "plan_waves",
    "ready_steps",
]
