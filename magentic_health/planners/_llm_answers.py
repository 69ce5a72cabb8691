"""The answers the language-model planner asks for, as pydantic models.

Every key is required and no other key is allowed (the shape OpenAI's strict structured output
needs); booleans are ``StrictBool``, so the string ``"false"`` is an error, never ``True``.
The same models validate answers that arrive as JSON mode or as plain text.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, StrictBool

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


class FactsAnswer(BaseModel):
    """The fact sheet in Magentic-One's four kinds."""

    model_config = _STRICT

    given: list[str]
    to_look_up: list[str]
    to_derive: list[str]
    educated_guesses: list[str]


class StepAnswer(BaseModel):
    """One plan step: ``agent`` is a specialist's roster name; ``depends_on`` are step ids."""

    model_config = _STRICT

    id: str
    agent: str
    instruction: str
    depends_on: list[str]
    critical: StrictBool


class ExclusionAnswer(BaseModel):
    """A specialist considered and left out."""

    model_config = _STRICT

    agent: str
    reason: str


class PlanDecision(BaseModel):
    """Triage and the task ledger, decided in one answer."""

    model_config = _STRICT

    complexity: Literal["low", "moderate", "high"]
    intents: list[str]
    selected: list[str]
    rationale: str
    excluded: list[ExclusionAnswer]
    facts: FactsAnswer
    plan: list[StepAnswer]


class BoolItem(BaseModel):
    """A yes/no judgement and its reason."""

    model_config = _STRICT

    answer: StrictBool
    reason: str


class NextItem(BaseModel):
    """Ids of the plan steps to run next, and why."""

    model_config = _STRICT

    answer: list[str]
    reason: str


class ProgressAnswer(BaseModel):
    """The progress ledger after a wave that did not simply succeed."""

    model_config = _STRICT

    is_request_satisfied: BoolItem
    is_in_loop: BoolItem
    is_progress_being_made: BoolItem
    next: NextItem


class ReplanAnswer(BaseModel):
    """An updated fact sheet and plan."""

    model_config = _STRICT

    rationale: str
    facts: FactsAnswer
    plan: list[StepAnswer]


class CitationAnswer(BaseModel):
    """A verbatim quote from one case document."""

    model_config = _STRICT

    doc_id: str
    quote: str


class FinalAnswerModel(BaseModel):
    """The synthesis: markdown for the board and the citations it rests on."""

    model_config = _STRICT

    text: str
    citations: list[CitationAnswer]
