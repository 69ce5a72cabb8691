"""Histologic grade mentions: Gleason score, ISUP grade group, numbered grades and
differentiation, from notes and FHIR Observations.

Each scale is its own field (``grade:Gleason``, ``grade:Grade Group``, ``grade:grade``,
``grade:differentiation``), so a Gleason score and a grade group never conflict; the status
joins the scales it finds. Gleason mentions are grouped by their sum ("4+3=7" and "Gleason 7"
agree; "3+4=7" is the more specific of its group only when written so).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from magentic_health.reply import Evidence
from magentic_health.tools._fhir_parse import FhirView, best_value, name_of, plain_display
from magentic_health.tools._status_mentions import REPORT_WEIGHT, Mention

Add = Callable[[str, re.Match[str], str, str, int], None]

_GLEASON = re.compile(
    r"\bgleason(?:\s+(?:score|grade|sum|pattern))?\s*(?:of\s*|:\s*|=\s*)?"
    r"(?:(?P<a>[1-5])\s*\+\s*(?P<b>[1-5])(?:\s*=\s*(?P<s>\d{1,2}))?|(?P<only>[6-9]|10)\b)",
    re.I,
)
_GROUP = re.compile(r"\b(?:ISUP\s+|WHO\s+)?grade group\s*:?\s*(?P<g>[1-5])\b", re.I)
_GRADE = re.compile(
    r"\b(?:histologic(?:al)?\s+|nuclear\s+|nottingham\s+|tumou?r\s+|FIGO\s+)?grade\s*:?\s*"
    r"(?P<n>[1-4]|I{1,3}|IV)\b(?!\s*(?:/|of\s+)?\s*(?:\d\s*)?(?:toxicit|neuropath|adverse|"
    r"nausea|fatigue|diarrh|rash|anemia|neutropenia))",
    re.I,
)
_DIFFERENTIATED = re.compile(r"\b(?P<d>well|moderately|poorly|un)[- ]?differentiated\b", re.I)
_ROMAN = {"I": "1", "II": "2", "III": "3", "IV": "4"}


def grades_in(body: str, add: Add) -> None:
    """Reports every grade stated in ``body`` through ``add(field, match, value, group, spec)``."""
    for m in _GLEASON.finditer(body):
        if m.group("a"):
            total = int(m.group("a")) + int(m.group("b"))
            add("grade:Gleason", m, f"Gleason {m.group('a')}+{m.group('b')}={total}", str(total), 2)
        else:
            add("grade:Gleason", m, f"Gleason {m.group('only')}", m.group("only"), 1)
    for m in _GROUP.finditer(body):
        add("grade:Grade Group", m, f"Grade Group {m.group('g')}", m.group("g"), 1)
    for m in _GRADE.finditer(body):
        if re.search(r"group\s*$", body[max(0, m.start() - 8) : m.start()], re.I):
            continue
        number = _ROMAN.get(m.group("n").upper(), m.group("n"))
        add("grade:grade", m, f"grade {number}", number, 1)
    for m in _DIFFERENTIATED.finditer(body):
        word = m.group("d").lower()
        value = "undifferentiated" if word == "un" else f"{word} differentiated"
        add("grade:differentiation", m, value, value, 1)


def fhir_grade(view: FhirView) -> tuple[str, Mention] | None:
    """A grade Observation (Gleason score, histologic grade) as ``(field, mention)``."""
    name = name_of(view)
    if not re.search(r"gleason|grade", name, re.I) or view.resource_type != "Observation":
        return None
    value = best_value(view)
    if value is None:
        return None
    shown = plain_display(value.value)
    scale = "Gleason" if "gleason" in name.lower() else "grade"
    text = (
        f"Gleason {shown}"
        if scale == "Gleason" and not shown.lower().startswith("gleason")
        else shown
    )
    ev = Evidence(doc_id=view.doc.id, quote=value.line[:300])
    return f"grade:{scale}", Mention(text, text, REPORT_WEIGHT, view.date, ev, 1)
