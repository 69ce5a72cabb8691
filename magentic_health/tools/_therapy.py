"""Reading one statement about cancer treatment: which drugs, stopped or planned or given,
and the details (cycle, course length, schedule, maintenance). Shared by the timeline and the
status tools so both read a sentence the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from magentic_health.tools._vocab import PLANNED, drugs_in

SYSTEMIC = re.compile(r"chemo|immunotherapy|\bc\d+d\d+\b|cycle\s*#?\s*\d+", re.I)
RADIATION = re.compile(r"radiation|radiotherapy|\bxrt\b|\bsbrt\b", re.I)
TODAY = re.compile(
    r"here for|today|administered|tolerated|treatment given|\bc\d+d\d+\b|cycle\s*#?\s*\d+,?\s*day",
    re.I,
)
PAST = re.compile(r"\b(?:was|were|had been|has been)\b", re.I)
_AGAINST = re.compile(r"against|not (?:a )?candidate|not (?:typically )?indicated|declin", re.I)
_NOT_GIVEN = re.compile(
    r"\bwill not\b|\bnot do\b|\bno (?:more |further )?(?:chemo|treatment)", re.I
)
_STOPPED = re.compile(r"(?:discontinu\w*|stop(?:ping)?|hold(?:ing)?)\s+((?:\w+\W+){0,2}?\w+)", re.I)
_GIVEN = re.compile(r"administered|given|received|completed|continued|tolerated|new bag", re.I)
_ADMINISTRATION = re.compile(
    r"\d\s*mg\b.*(?:intravenous|\biv\b|oral|new bag|given|completed)", re.I
)
_CYCLE = re.compile(r"cycle\s*#?\s*(\d+),?\s*day\s*(\d+)|\bc(\d+)d(\d+)\b", re.I)
_COURSE = re.compile(r"x\s*(\d+)\s*cycles?|(\d+) cycles? completed", re.I)
_SCHEDULE = re.compile(r"\bweekly\b|every \d+ weeks?|q\d+[- ]?(?:days?|weeks?)", re.I)
_CLAUSES = re.compile(r",?\s*(?:followed by|and then|then)\s+|;\s*", re.I)


@dataclass(frozen=True)
class TherapyRead:
    """What one clause says about treatment."""

    drugs: tuple[str, ...]
    """Oncology drugs given or planned (generic names, sorted), not those being stopped."""
    stopped: tuple[str, ...]
    radiation: bool
    systemic: bool
    planned: bool
    administration: bool
    """An administration record ("Carboplatin 550 mg ... Intravenous, New bag")."""
    details: tuple[str, ...] = field(default=())

    @property
    def any(self) -> bool:
        return bool(self.drugs or self.systemic or self.radiation)


def read_therapy(text: str) -> TherapyRead:
    """Reads one clause (see ``clauses``) about treatment."""
    stopped = sorted({name for m in _STOPPED.finditer(text) for name, _ in drugs_in(m.group(1))})
    drugs = sorted({name for name, _ in drugs_in(text)} - set(stopped))
    negated = bool(_NOT_GIVEN.search(text))
    radiation = bool(RADIATION.search(text)) and not _AGAINST.search(text) and not negated
    systemic = bool(drugs or SYSTEMIC.search(text)) and not negated
    details: list[str] = []
    if cycle := _CYCLE.search(text):
        number, day = cycle.group(1) or cycle.group(3), cycle.group(2) or cycle.group(4)
        details.append(f"cycle {int(number)} day {int(day)}")
    if course := _COURSE.search(text):
        details.append(f"{course.group(1) or course.group(2)} cycles completed")
    if "maintenance" in text.lower():
        details.append("maintenance")
    if schedule := _SCHEDULE.search(text):
        details.append(schedule.group(0).lower())
    return TherapyRead(
        drugs=tuple(drugs) if not negated else (),
        stopped=tuple(stopped),
        radiation=radiation,
        systemic=systemic,
        planned=bool(PLANNED.search(text)) and not _GIVEN.search(text),
        administration=bool(drugs) and bool(_ADMINISTRATION.search(text)),
        details=tuple(details),
    )


def clauses(text: str) -> list[str]:
    """A sentence cut where one treatment follows another ("carboplatin and paclitaxel,
    followed by pembrolizumab")."""
    return [part for part in _CLAUSES.split(text) if part.strip()]
