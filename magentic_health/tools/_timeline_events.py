"""Timeline candidates and how repeated facts merge into one event.

Merge rules, in order:
1. Candidates with the same date, category and subject (``family``: the imaging modality, the
   therapy kind, the procedure) are one event; its evidence is every source's quote.
2. A report's own date is authoritative: a mention of the same kind of study or procedure in
   another note up to ``FUZZY_DAYS`` away joins the report's event, and the differing dates are
   kept in ``other_dates`` (the HAO notes date one PET 2020-08-03, 2020-08-04 and 2020-08-09).
3. A fact dated only by its month joins the one event of the same kind in that month.
4. FHIR series (repeated orders of one drug, repeated measurements of one marker, repeated
   courses of one procedure) arrive already grouped, with first and last date.
The summary of a merged event is the report's when there is one, else the longest; treatment
summaries are rebuilt from the union of the drugs and details ("cycle 6 day 1", "maintenance").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from magentic_health.reply import Evidence
from magentic_health.tools._text import clip, days_apart

EventCategory = Literal[
    "diagnosis", "procedure", "imaging", "pathology", "biomarker", "treatment", "response", "other"
]
CATEGORY_ORDER: tuple[EventCategory, ...] = (
    "diagnosis",
    "pathology",
    "biomarker",
    "procedure",
    "imaging",
    "response",
    "treatment",
    "other",
)
FUZZY_DAYS = 7
_T = TypeVar("_T")


class TimelineEvent(BaseModel):
    """One dated fact about the cancer, with every source that states it."""

    model_config = ConfigDict(frozen=True)

    date: str
    """ISO date (``YYYY-MM-DD``) of the event, or of the first of a series."""
    end_date: str | None = None
    """Last date of a series (repeated orders or courses), when there is one."""
    category: EventCategory
    summary: str
    evidence: tuple[Evidence, ...]
    occurrences: int = 1
    """How many orders, courses or measurements a series groups."""
    planned: bool = False
    """Stated as planned or recommended, not as done."""
    other_dates: tuple[str, ...] = ()
    """Other dates the sources give for the same event."""

    @property
    def sources(self) -> tuple[str, ...]:
        """The distinct documents that state the event."""
        return tuple(dict.fromkeys(e.doc_id for e in self.evidence))


@dataclass
class Candidate:
    """One source's statement of an event, before merging."""

    date: str
    category: EventCategory
    family: str
    summary: str
    evidence: list[Evidence]
    authoritative: bool = False
    planned: bool = False
    drugs: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    end_date: str | None = None
    occurrences: int = 1
    other_dates: list[str] = field(default_factory=list)

    def absorb(self, other: Candidate) -> None:
        """Takes ``other``'s evidence, drugs and details into this candidate."""
        if other.date != self.date and other.date not in self.other_dates:
            self.other_dates.append(other.date)
        _extend(self.evidence, other.evidence)
        _extend(self.drugs, other.drugs)
        _extend(self.details, other.details)
        self.planned = self.planned and other.planned
        better = other.authoritative and not self.authoritative
        if better or (
            not self.authoritative
            and not other.authoritative
            and len(other.summary) > len(self.summary)
        ):
            self.summary = other.summary
        self.authoritative = self.authoritative or other.authoritative


def _extend(target: list[_T], items: list[_T]) -> None:
    for item in items:
        if item not in target:
            target.append(item)


def _near(a: str, b: str) -> bool:
    days = days_apart(a, b)
    return days is not None and days <= FUZZY_DAYS


def merge(candidates: list[Candidate]) -> list[Candidate]:
    """Applies the merge rules of this module to the candidates, in their order."""
    merged: dict[tuple[str, str, str], Candidate] = {}
    for cand in candidates:
        key = (cand.date, cand.category, cand.family)
        if key in merged:
            merged[key].absorb(cand)
        else:
            merged[key] = cand
    events = _absorb_plans(list(merged.values()))
    anchors = [e for e in events if e.authoritative and e.category != "treatment"]
    kept: list[Candidate] = []
    for event in events:
        anchor = None
        if not event.authoritative:
            anchor = next(
                (
                    a
                    for a in anchors
                    if a.category == event.category
                    and a.family == event.family
                    and _near(a.date, event.date)
                ),
                None,
            )
        if anchor is None:
            kept.append(event)
        else:
            anchor.absorb(event)
    return _absorb_months(kept)


def _absorb_months(events: list[Candidate]) -> list[Candidate]:
    """A fact dated only by its month ("repeat CT in January 2020") joins the one event of the
    same kind dated on a day of that month, when there is exactly one."""
    kept: list[Candidate] = []
    for event in events:
        same = []
        if len(event.date) == 7 and event.category != "treatment":
            same = [
                e
                for e in events
                if len(e.date) == 10
                and e.date.startswith(event.date)
                and (e.category, e.family) == (event.category, event.family)
            ]
        if len(same) == 1:
            same[0].absorb(event)
        else:
            kept.append(event)
    return kept


def _absorb_plans(events: list[Candidate]) -> list[Candidate]:
    """A plan for a treatment given the same day (no other drugs) is part of that event."""
    given = [e for e in events if e.category == "treatment" and not e.family.endswith("/planned")]
    kept: list[Candidate] = []
    for event in events:
        target = None
        if event.category == "treatment" and event.family.endswith("/planned"):
            base = event.family.removesuffix("/planned")
            target = next(
                (
                    g
                    for g in given
                    if g.date == event.date
                    and g.family == base
                    and set(event.drugs) <= set(g.drugs)
                ),
                None,
            )
        if target is None:
            kept.append(event)
        else:
            target.absorb(event)
    return kept


def to_event(cand: Candidate) -> TimelineEvent:
    """The public event for a merged candidate."""
    summary = cand.summary
    if cand.category == "treatment" and cand.drugs:
        summary = " + ".join(sorted(cand.drugs))
        if cand.details:
            summary += f" ({'; '.join(cand.details)})"
    if cand.planned and "planned" not in summary.lower():
        summary += " (planned)"
    return TimelineEvent(
        date=cand.date,
        end_date=cand.end_date,
        category=cand.category,
        summary=clip(summary, 200),
        evidence=tuple(cand.evidence),
        occurrences=cand.occurrences,
        planned=cand.planned,
        other_dates=tuple(sorted(cand.other_dates)),
    )


def sort_key(event: TimelineEvent) -> tuple[str, int, str]:
    return (event.date, CATEGORY_ORDER.index(event.category), event.summary)
