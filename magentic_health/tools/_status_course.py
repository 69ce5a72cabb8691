"""The course of the disease and the vital status, for the patient status.

Disease status is the latest dated statement of response or progression: from notes (a
statement naming progression, a response, stable disease, remission or no evidence of disease,
not negated: "no evidence of progression" is not progression; an undated statement counts, on
its note's date, only when it speaks in the present: "appears to be progressing", "has
progressed"; a report's statements take the report's date), and from FHIR (a cancer Condition
recorded as resolved, in remission or abated, on its abatement date; an mCODE cancer disease
status Observation). Among statements of the same date the last one written wins: the
assessment closes a note.

Vital status is stated only when the record states a death: the Patient resource's deceased
date, a cause-of-death Observation, or a note saying the patient died on a date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from magentic_health.case import Document
from magentic_health.reply import Evidence
from magentic_health.tools._fhir_parse import FhirView, best_value, name_of, plain_display
from magentic_health.tools._notes import Statement, statements
from magentic_health.tools._status_model import StatusValue
from magentic_health.tools._text import iso_day, window
from magentic_health.tools._vocab import CANCER

_COURSE = re.compile(
    r"(?P<ned>no evidence of (?:recurrent |residual |active )?disease\b(?! progression)|"
    r"\bNED\b|in (?:complete )?remission\b)|"
    r"(?P<pd>progressi(?:on|ve disease)|progressing|progressed|\bPD\b(?![-/]))|"
    r"(?P<cr>complete (?:response|remission|metabolic response))|"
    r"(?P<pr>partial (?:response|remission|metabolic response))|"
    r"(?P<sd>stable disease|disease is stable)|"
    r"(?P<rec>recurrence|recurrent disease|relapse[d]?)|"
    r"(?P<re>(?:good |excellent |favorable )?response to (?:treatment|therapy|chemotherapy))"
)
_VALUES = {
    "ned": "no evidence of disease",
    "pd": "progression",
    "cr": "complete response",
    "pr": "partial response",
    "sd": "stable disease",
    "rec": "recurrence",
    "re": "response to treatment",
}
_NEGATION = re.compile(
    r"(?:\bno\b|\bnot\b|\bwithout\b|negative for|free of|rule out|concern for|\?)[^.;:]{0,25}$",
    re.I,
)
_TO_ASSESS = re.compile(r"(?:assess|evaluat|monitor|determin|look for)\w*\s+(?:the\s+)?$", re.I)
_PRESENT = re.compile(r"appears|has progressed|is progressing|now progress|currently|today", re.I)
_RESOLVED = re.compile(r"resolved|remission|inactive", re.I)
_DIED = re.compile(r"\b(?:died|passed away|expired|date of death)\b", re.I)


@dataclass(frozen=True)
class _Said:
    """One statement of the disease course: value, date, position, quote."""

    value: str
    date: str
    order: int
    evidence: Evidence


def _date_of(st: Statement) -> str | None:
    if st.date:
        return st.date
    if st.doc.date and (st.doc.kind == "report" or _PRESENT.search(st.text)):
        return st.doc.date[:10]
    return None


def _from_note(doc: Document) -> list[_Said]:
    out: list[_Said] = []
    for st in statements(doc):
        date = _date_of(st)
        text = st.full_text if st.date else st.text
        if date is None:
            continue
        for match in _COURSE.finditer(text):
            before = text[max(0, match.start() - 40) : match.start()]
            if _NEGATION.search(before) or _TO_ASSESS.search(before):
                continue
            value = _VALUES[match.lastgroup or "re"]
            ev = Evidence(doc_id=doc.id, quote=_quote_at(st, match.start()))
            out.append(_Said(value, date, st.start + match.start(), ev))
    return out


def _quote_at(st: Statement, offset: int) -> str:
    """The quote for ``offset`` of ``st.full_text``: the statement, or the block line there."""
    if offset < len(st.text):
        return st.quote(st.start + offset)
    position = len(st.text) + 1
    for start, end in st.block:
        if offset < position + end - start:
            return window(st.doc.text, start, end, start + offset - position)
        position += end - start + 1
    return st.quote()


def _from_fhir(view: FhirView) -> list[_Said]:
    if view.resource_type == "Condition" and any(CANCER.search(n) for n in view.code_displays):
        abated = view.first("Abatement")
        status = view.first("Clinical status")
        day = iso_day(abated.value) if abated else None
        if day and abated:
            word = status.value if status and _RESOLVED.search(status.value) else "abated"
            ev = Evidence(doc_id=view.doc.id, quote=abated.line[:300])
            return [_Said(f"{word} (abatement {day})", day, 0, ev)]
    if view.resource_type == "Observation" and "disease status" in name_of(view).lower():
        value = best_value(view)
        if value and view.date:
            ev = Evidence(doc_id=view.doc.id, quote=value.line[:300])
            return [_Said(plain_display(value.value), view.date, 0, ev)]
    return []


def disease_status(notes: list[Document], views: list[FhirView]) -> StatusValue | None:
    """The latest statement of the disease course, or None."""
    said = [s for doc in notes for s in _from_note(doc)]
    said += [s for view in views for s in _from_fhir(view)]
    if not said:
        return None
    best = max(said, key=lambda s: (s.date, s.order))
    same = [s.evidence for s in said if s.date == best.date and s.value == best.value]
    return StatusValue(value=best.value, date=best.date, evidence=tuple(dict.fromkeys(same))[:3])


def vital_status(notes: list[Document], views: list[FhirView]) -> StatusValue | None:
    """ "deceased <date>; cause of death: <cause>" when the record states a death, else None."""
    date: str | None = None
    evidence: list[Evidence] = []
    cause = ""
    for view in views:
        if view.resource_type == "Patient" and (dead := view.first("Deceased")):
            if day := iso_day(dead.value):
                date = date or day
                evidence.append(Evidence(doc_id=view.doc.id, quote=dead.line[:300]))
        elif "cause of death" in name_of(view).lower() and (stated := best_value(view)):
            cause = plain_display(stated.value)
            evidence.append(Evidence(doc_id=view.doc.id, quote=stated.line[:300]))
    for doc in notes:
        for st in statements(doc):
            died = _DIED.search(st.text)
            if st.date and died and not _NEGATION.search(st.text[: died.start()]):
                date = date or st.date
                evidence.append(Evidence(doc_id=doc.id, quote=st.quote()))
    if date is None and not cause:
        return None
    text = f"deceased {date or '(date not stated)'}" + (
        f"; cause of death: {cause}" if cause else ""
    )
    return StatusValue(value=text, date=date, evidence=tuple(evidence[:4]))
