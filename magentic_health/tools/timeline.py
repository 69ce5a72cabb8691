"""The patient timeline: the cancer's dated events, oldest first, each with all its sources.

Built from free-text notes (``_timeline_notes``) and rendered FHIR resources
(``_timeline_fhir``); repeated facts are merged into one event (``_timeline_events``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from magentic_health.case import Case
from magentic_health.reply import Finding
from magentic_health.tools._base import ToolContext, ToolOutput, ToolSpec
from magentic_health.tools._notes import narrative_docs
from magentic_health.tools._timeline_events import (
    EventCategory,
    TimelineEvent,
    merge,
    sort_key,
    to_event,
)
from magentic_health.tools._timeline_fhir import fhir_candidates
from magentic_health.tools._timeline_notes import note_candidates

__all__ = ["SPEC", "EventCategory", "Timeline", "TimelineEvent", "patient_timeline"]

_EXPECTED: tuple[EventCategory, ...] = ("diagnosis", "treatment")


class Timeline(BaseModel):
    """The chronological list of cancer-relevant events of one case."""

    model_config = ConfigDict(frozen=True)

    events: tuple[TimelineEvent, ...] = ()

    def of(self, category: EventCategory) -> list[TimelineEvent]:
        """The events of one category, in date order."""
        return [e for e in self.events if e.category == category]


def patient_timeline(case: Case) -> Timeline:
    """The case's cancer timeline: dated events from notes and FHIR resources, merged."""
    candidates = []
    for doc in narrative_docs(case):
        candidates.extend(note_candidates(doc))
    candidates.extend(fhir_candidates(case))
    events = sorted((to_event(c) for c in merge(candidates)), key=sort_key)
    return Timeline(events=tuple(events))


def _when(event: TimelineEvent) -> str:
    return f"{event.date} to {event.end_date}" if event.end_date else event.date


def render(timeline: Timeline) -> str:
    """Markdown: one line per event, "date — category — summary [sources]"."""
    if not timeline.events:
        return "## Patient timeline\n\nNo dated cancer-related events were found in the record."
    lines = ["## Patient timeline", ""]
    for event in timeline.events:
        sources = ", ".join(event.sources)
        also = f" (also dated {', '.join(event.other_dates)})" if event.other_dates else ""
        lines.append(f"- {_when(event)} — {event.category} — {event.summary}{also} [{sources}]")
    return "\n".join(lines)


def _run(ctx: ToolContext) -> ToolOutput:
    timeline = patient_timeline(ctx.case)
    findings = tuple(
        Finding(claim=f"{_when(e)}: {e.summary}", evidence=e.evidence) for e in timeline.events
    )
    gaps = tuple(
        f"no {category} event found in the record"
        for category in _EXPECTED
        if not timeline.of(category)
    )
    return ToolOutput(
        text=render(timeline),
        findings=findings,
        gaps=gaps,
        data=timeline.model_dump(mode="json"),
    )


SPEC = ToolSpec(
    name="patient_timeline",
    description=(
        "Chronological timeline of the cancer (diagnosis, procedures, imaging, pathology, "
        "biomarkers, treatment, response) from notes and FHIR resources, each event with "
        "every source that states it."
    ),
    run=_run,
)
