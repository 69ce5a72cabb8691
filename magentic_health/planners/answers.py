"""The answer models the LLMPlanner asks a model for (sent as the structured-output schema).

Public so that scripted model clients in tests and benchmarks can answer with valid decisions.
"""

from magentic_health.planners._llm_answers import (
    BoolItem,
    CitationAnswer,
    ExclusionAnswer,
    FactsAnswer,
    FinalAnswerModel,
    NextItem,
    PlanDecision,
    ProgressAnswer,
    ReplanAnswer,
    StepAnswer,
)

__all__ = [
    "BoolItem",
    "CitationAnswer",
    "ExclusionAnswer",
    "FactsAnswer",
    "FinalAnswerModel",
    "NextItem",
    "PlanDecision",
    "ProgressAnswer",
    "ReplanAnswer",
    "StepAnswer",
]
