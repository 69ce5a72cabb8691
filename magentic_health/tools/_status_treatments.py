"""Lines of therapy for the patient status, from notes and FHIR resources.

Notes: each clause naming oncology drugs is one mention of the regimen made of those drugs
(drugs being stopped excluded). The administration records of one note and date (a chemo flow
sheet) form one regimen together, and a clause of the same note and date naming only some of
those drugs belongs to it ("Cycle 1, Day 1 chemotherapy with the addition of Keytruda"). A
mention is dated by its own date, or by its note when it speaks of the visit ("here for",
"administered") or states a plan; historical sentences give support, not dates. A regimen is
"given" when any mention says so, else "planned"; its dates run from the first to the last
given date. FHIR: antineoplastic orders and statements of drugs that share their dates form one
regimen; radiation, chemoradiation and cancer surgery procedures are lines of their own.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from magentic_health.case import Document
from magentic_health.reply import Evidence
from magentic_health.tools._fhir_parse import FhirView, plain_display
from magentic_health.tools._notes import Statement, statements
from magentic_health.tools._status_model import StatusValue
from magentic_health.tools._therapy import PAST, TODAY, TherapyRead, clauses, read_therapy
from magentic_health.tools._vocab import CANCER, drugs_in

MAX_EVIDENCE = 5
_VERBS = {"MedicationRequest": "ordered", "Procedure": "performed"}
_SURGERY = re.compile(r"resection|ectomy|excision|colostomy|amputation", re.I)
_RADIATION = re.compile(r"radiation|radiotherapy|brachytherapy", re.I)


@dataclass
class _Line:
    """One regimen being collected."""

    drugs: tuple[str, ...]
    given: list[str] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    evidence: list[tuple[int, Evidence]] = field(default_factory=list)
    stopped: list[tuple[str, bool]] = field(default_factory=list)
    is_given: bool = False
    count: int = 0
    """How many FHIR resources record the line (0 for lines read from notes)."""
    label: str = ""
    verb: str = "given"

    def note(self, ev: Evidence, rank: int, details: tuple[str, ...]) -> None:
        self.evidence.append((rank, ev))
        self.details += [d for d in details if d not in self.details]

    def value(self) -> StatusValue:
        name = self.label or " + ".join(self.drugs)
        extras = [d for d in self.details if not d.startswith("cycle ")]
        text = name + (f" ({'; '.join(extras)})" if extras else "")
        if self.is_given and self.given:
            first, last = min(self.given), max(self.given)
            text += f" — {self.verb} {first}" + (f" to {last}" if last != first else "")
            if len(set(self.given)) > 1 and self.count:
                text += f" ({self.count} records on {len(set(self.given))} dates)"
        elif self.is_given:
            text += f" — {self.verb}"
        else:
            text += " — planned" + (f" (stated {min(self.planned)})" if self.planned else "")
        for when, planned in sorted(set(self.stopped)):
            text += f"; discontinuation {'planned' if planned else 'stated'} {when}"
        date = min(self.given) if self.given else (min(self.planned) if self.planned else None)
        return StatusValue(value=text, date=date, evidence=self._quotes())

    def _quotes(self) -> tuple[Evidence, ...]:
        """The best-ranked quote of each document first, then the next best, up to the cap."""
        ordered = list(dict.fromkeys(ev for _, ev in sorted(self.evidence, key=lambda i: i[0])))
        firsts: dict[str, Evidence] = {}
        for ev in ordered:
            firsts.setdefault(ev.doc_id, ev)
        chosen = list(firsts.values())[:MAX_EVIDENCE]
        chosen += [ev for ev in ordered if ev not in chosen][: MAX_EVIDENCE - len(chosen)]
        return tuple(chosen)

    def sort_key(self) -> tuple[str, str]:
        first = min(self.given) if self.given else (min(self.planned) if self.planned else "9")
        return (first, " + ".join(self.drugs) or self.label)


def _visit_date(st: Statement, clause: str, planned: bool) -> str | None:
    """The date a clause's treatment happened (or was planned), or None for history."""
    if st.date:
        return st.date
    if st.doc.date and not PAST.search(clause) and (TODAY.search(clause) or planned):
        return st.doc.date[:10]
    return None


def note_lines(docs: list[Document]) -> list[_Line]:
    """Regimens stated in notes."""
    lines: dict[tuple[str, ...], _Line] = {}
    for doc in docs:
        administered: dict[str, set[str]] = defaultdict(set)
        pending: list[tuple[Statement, str, str | None, TherapyRead]] = []
        for st in statements(doc):
            for clause in clauses(st.text):
                read = read_therapy(clause)
                date = _visit_date(st, clause, read.planned)
                if read.administration and date:
                    administered[date].update(read.drugs)
                if read.drugs or read.stopped:
                    pending.append((st, clause, date, read))
        for st, clause, date, read in pending:
            drugs = read.drugs
            if date and drugs and set(drugs) <= administered.get(date, set()):
                drugs = tuple(sorted(administered[date]))
            _add(lines, st, clause, (date, read), drugs)
    return list(lines.values())


def _add(
    lines: dict[tuple[str, ...], _Line],
    st: Statement,
    clause: str,
    dated: tuple[str | None, TherapyRead],
    drugs: tuple[str, ...],
) -> None:
    date, read = dated
    focus = st.start + max(0, st.text.find(clause[:20]))
    ev = Evidence(doc_id=st.doc.id, quote=st.quote(focus))
    for drug in read.stopped:
        stopped_line = lines.setdefault((drug,), _Line(drugs=(drug,)))
        stopped_line.stopped.append((date or (st.doc.date or "")[:10], read.planned))
        stopped_line.note(ev, 2, ())
    if not drugs:
        return
    line = lines.setdefault(drugs, _Line(drugs=drugs))
    rank = 0 if st.date else (1 if date else 3)
    line.note(ev, rank, read.details)
    if read.planned:
        if date:
            line.planned.append(date)
        return
    line.is_given = True
    if date:
        line.given.append(date)


def fhir_lines(views: list[FhirView]) -> list[_Line]:
    """Regimens and procedures recorded as FHIR resources."""
    by_drug: dict[str, list[FhirView]] = defaultdict(list)
    procedures: dict[str, list[FhirView]] = defaultdict(list)
    for view in views:
        if view.resource_type.startswith("Medication"):
            named = drugs_in(" ".join([view.title, *(f.value for f in view.all("Code"))]))
            if named:
                by_drug[named[0][0]].append(view)
        elif view.resource_type == "Procedure" and _is_therapy(view):
            procedures[view.title or view.doc.id].append(view)
    regimens: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for drug, orders in by_drug.items():
        regimens[tuple(sorted({v.date or "" for v in orders}))].append(drug)
    out: list[_Line] = []
    for dates, drugs in regimens.items():
        members = [v for d in drugs for v in by_drug[d]]
        out.append(_fhir_line(tuple(sorted(drugs)), "", members, dates))
    for name, done in procedures.items():
        out.append(_fhir_line((), name, done, tuple(sorted({v.date or "" for v in done}))))
    return out


def _is_therapy(view: FhirView) -> bool:
    reasons = " ".join(f.value for f in view.all("Reason"))
    if _RADIATION.search(view.title) or "chemotherapy" in view.title.lower():
        return True
    return bool(_SURGERY.search(view.title)) and bool(CANCER.search(reasons + view.title))


def _fhir_line(
    drugs: tuple[str, ...], label: str, members: list[FhirView], dates: tuple[str, ...]
) -> _Line:
    members = sorted(members, key=lambda v: v.date or "")
    line = _Line(drugs=drugs, label=plain_display(label), is_given=True)
    line.count = len({v.doc.id for v in members})
    line.verb = _VERBS.get(members[0].resource_type, "given")
    line.given = [d for d in dates if d]
    for view in (members[0], members[-1]):
        line.note(Evidence(doc_id=view.doc.id, quote=view.title_line[:300]), 0, ())
        dated = view.first("Authored") or view.first("Effective") or view.first("Performed")
        if dated:
            line.note(Evidence(doc_id=view.doc.id, quote=dated.line[:300]), 0, ())
    return line


def treatments(notes: list[Document], views: list[FhirView]) -> tuple[StatusValue, ...]:
    """Lines of therapy, oldest first, planned ones last among equals."""
    lines = note_lines(notes) + fhir_lines(views)
    lines = [line for line in lines if line.given or line.planned or line.is_given]
    return tuple(line.value() for line in sorted(lines, key=_Line.sort_key))
