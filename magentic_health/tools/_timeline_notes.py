"""Timeline candidates from free-text notes and reports.

Rules:
- A report (``kind == "report"``: CT, PET, pathology, procedure) is one event on its own date:
  imaging with the first impression item, pathology with the final diagnosis, a procedure with
  its name, any other report with its opening words. The dated prior study an imaging report
  was compared with is an imaging event of its own; other dates inside a report (collection
  stamps) are not events.
- In notes, each dated statement (see ``_notes``) becomes an event for every category it speaks
  to: imaging (a modality), diagnosis (a biopsy whose result is malignant, not "negative for
  malignancy", or a cancer said to be diagnosed), procedure (a biopsy or procedure without
  that), biomarker (a marker with a result), treatment (oncology drugs, chemotherapy, cycles,
  radiation not argued against; and drugs being stopped), response (response or progression,
  when no scan is named, since the scan's event carries it). A plan dated before its note is
  history ("the last CT scan was on ..."), not a plan.
- An undated statement is dated by its note only when it speaks of that visit: a treatment
  given today ("here for Cycle 1, Day 1", "administered"), a treatment plan ("will start"), or
  a present assessment of response ("appears to be progressing").
"""

from __future__ import annotations

import re

from magentic_health.case import Document
from magentic_health.reply import Evidence
from magentic_health.tools._notes import Statement, impression_items, statements
from magentic_health.tools._radiology_parse import prior_study
from magentic_health.tools._text import ANY_DATE, clip, window
from magentic_health.tools._therapy import PAST, TODAY, read_therapy
from magentic_health.tools._timeline_events import Candidate, EventCategory
from magentic_health.tools._vocab import CANCER, PLANNED, modality_of

_BIOPSY = re.compile(
    r"\bebus\b|biops|\bfna\b|fine needle|aspiration|bronchoscop|lavage|mediastinoscop", re.I
)
_SURGERY = re.compile(
    r"\b(?:egd|endoscopy|colonoscopy|lobectomy|pneumonectomy|segmentectomy|wedge resection|"
    r"mastectomy|lumpectomy|colectomy|hemicolectomy|prostatectomy|gastrectomy|esophagectomy|"
    r"nephrectomy|cystectomy|thoracentesis|port placement)\b",
    re.I,
)
_MALIGNANT = re.compile(r"carcinoma|malignan|metasta|cancer|positive lymph|tumou?r cells", re.I)
_BENIGN = re.compile(
    r"negative for (?:\w+ ){0,2}malignan|no (?:evidence of )?(?:malignan|carcinoma|tumou?r)|"
    r"\bbenign\b",
    re.I,
)
_DIAGNOSED = re.compile(r"\bdiagnosed\b|\bdiagnosis of\b|\bnew(?:ly)? diagnos", re.I)
_MARKER = re.compile(
    r"\b(?:KRAS|NRAS|BRAF|EGFR|ALK|ROS1|MET|RET|HER2|ERBB2|PD-?L1|BRCA[12]|PIK3CA|NTRK\d?|MSI|"
    r"TMB|NGS)\b"
)
_MARKER_RESULT = re.compile(
    r"p\.[A-Z]\d+|\b[A-Z]\d{2,4}[A-Z]\b|mutat|positive|negative|\bneg\b|\bpos\b|wild[- ]type|"
    r"amplif|fusion|rearrang|\d+\s*%|not detected",
    re.I,
)
_RESPONSE = re.compile(
    r"partial response|complete response|stable disease|good response|progressi(?:on|ve)|"
    r"progressing|progressed|response to (?:treatment|therapy)",
    re.I,
)
_PRESENT = re.compile(r"appears|has progressed|is progressing|now progress", re.I)
_IMPRESSION_HEAD = re.compile(r"^impression\s*:\s*", re.I)
_LIST_MARKER = re.compile(r"^(?:[-*•]\s*|\d{1,2}[.)]\s+|[a-dA-D][.)]\s+)")


_DATED = re.compile(r"(?:\s*\b(?:on|dated|from|of|in)\b)?\s*(?:" + ANY_DATE.pattern + ")", re.I)


def _clean(text: str) -> str:
    """Summary text: dates and list markers removed, whitespace collapsed."""
    text = _DATED.sub("", text)
    text = re.sub(r"\s+([,.:;])", r"\1", text)
    text = _LIST_MARKER.sub("", text.strip())
    text = re.sub(r"^[\s:,.-]+", "", text)
    return clip(text, 180)


def _evidence(st: Statement, focus: int | None = None) -> list[Evidence]:
    items = [Evidence(doc_id=st.doc.id, quote=st.quote(focus))]
    if st.block:
        a, b = st.block[0]
        first = window(st.doc.text, a, b, a)
        if _LIST_MARKER.sub("", first).strip(" :") and first != items[0].quote:
            items.append(Evidence(doc_id=st.doc.id, quote=first))
    return items


def _with_block(st: Statement) -> str:
    head = _clean(st.text)
    lines = st.block_lines
    start = next((i for i, ln in enumerate(lines) if _IMPRESSION_HEAD.match(ln)), 0)
    for line in lines[start:]:
        item = _IMPRESSION_HEAD.sub("", _LIST_MARKER.sub("", line.strip())).strip()
        if item and not item.endswith(":"):
            return f"{head.rstrip(':')}: {clip(item, 140)}"
    return head


def _treatment(st: Statement, date: str) -> list[Candidate]:
    """The treatment given or planned, and the drugs being stopped, that a statement states."""
    read = read_therapy(st.text)
    out: list[Candidate] = []
    if read.stopped:
        stop = f"discontinue {' + '.join(read.stopped)}" + (" (planned)" if read.planned else "")
        out.append(Candidate(date, "treatment", "stop", stop, _evidence(st), planned=read.planned))
    if not read.any:
        return out
    family = "systemic" if read.systemic else "radiation"
    summary = "radiation therapy" if family == "radiation" else _clean(st.text)
    cand = Candidate(
        date=date,
        category="treatment",
        family=family + ("/planned" if read.planned else ""),
        summary=summary,
        evidence=_evidence(st),
        planned=read.planned,
        drugs=list(read.drugs),
        details=list(read.details),
    )
    return [cand, *out]


def _categories(st: Statement, date: str) -> list[Candidate]:
    """Every event a dated statement speaks to."""
    text, full = st.text, st.full_text
    planned = read_therapy(text).planned or (bool(PLANNED.search(text)) and not _done(text))
    # a date before the note's own is history ("the last CT scan was on ..."), not a plan
    planned = planned and not (st.doc.date and date < st.doc.date[:10])
    out: list[Candidate] = []

    def add(category: EventCategory, family: str, summary: str) -> None:
        can_be_planned = category in ("imaging", "procedure")
        cand = Candidate(date, category, family, summary, _evidence(st))
        cand.planned = planned and can_be_planned
        out.append(cand)

    modality = modality_of(text)
    if modality:
        add("imaging", modality, _with_block(st))
    surgery = _SURGERY.search(text)
    malignant = bool(_MALIGNANT.search(full)) and not _BENIGN.search(full)
    if (_BIOPSY.search(text) and malignant) or (_DIAGNOSED.search(text) and CANCER.search(text)):
        add("diagnosis", "", _with_block(st))
    elif surgery or _BIOPSY.search(text):
        add("procedure", surgery.group(0).lower() if surgery else "biopsy", _with_block(st))
    if _MARKER.search(text) and _MARKER_RESULT.search(text):
        add("biomarker", "", _with_block(st))
    if not modality and _RESPONSE.search(text):
        add("response", "", _with_block(st))
    out.extend(_treatment(st, date))
    return out


def _done(text: str) -> bool:
    return bool(re.search(r"underwent|showed|demonstrated|impression|completed", text, re.I))


def _undated_date(st: Statement) -> str | None:
    """The note's date for an undated statement about the visit itself, else None."""
    if st.doc.kind != "note" or not st.doc.date:
        return None
    text = st.text
    if PAST.search(text):
        return None
    read = read_therapy(text)
    if read.any and (TODAY.search(text) or read.planned):
        return st.doc.date[:10]
    if _RESPONSE.search(text) and _PRESENT.search(text):
        return st.doc.date[:10]
    return None


def _report_candidate(doc: Document) -> Candidate | None:
    """The one event a report stands for, on the report's own date."""
    if not doc.date:
        return None
    date, text, kind = doc.date[:10], doc.text, doc.type.lower()
    modality = modality_of(doc.type)
    if modality:
        items = impression_items(text)
        a, b = items[0] if items else (0, min(len(text), 200))
        summary = f"{modality} report: {clip(text[a:b], 150)}"
        cand = Candidate(date, "imaging", modality, summary, [_ev(doc, a, b)], authoritative=True)
        return cand
    if "patholog" in kind or "cytolog" in kind:
        match = re.search(r"final diagnosis\s*:", text, re.I) or re.search(
            r"diagnosis\s*:", text, re.I
        )
        a = match.start() if match else 0
        b = min(len(text), a + 220)
        summary = f"{doc.type}: {clip(text[match.end() if match else a : b], 150)}"
        return Candidate(date, "pathology", "", summary, [_ev(doc, a, b)], authoritative=True)
    match = re.search(r"\bprocedure\s*:\s*(.+?)(?=\s+\w+:|$)", text, re.I | re.S)
    if match:
        name = match.group(1)
        surgery = _SURGERY.search(name) or _BIOPSY.search(name)
        family = surgery.group(0).lower() if surgery else name.lower()
        summary = f"Procedure: {clip(name, 150)}"
        ev = _ev(doc, match.start(), match.end())
        return Candidate(date, "procedure", family, summary, [ev], authoritative=True)
    end = min(len(text), 200)
    summary = f"{doc.type}: {clip(text[:end], 150)}"
    return Candidate(
        date, "other", doc.type.lower(), summary, [_ev(doc, 0, end)], authoritative=True
    )


def _ev(doc: Document, start: int, end: int) -> Evidence:
    return Evidence(doc_id=doc.id, quote=window(doc.text, start, end, start))


def _prior_candidate(doc: Document) -> Candidate | None:
    """The earlier study an imaging report was compared with, as an event of its own date."""
    modality = modality_of(doc.type)
    prior = prior_study(doc.text, modality) if modality else None
    if prior is None:
        return None
    summary = f"{prior.modality}: {prior.what} (the comparison study of the {doc.type} report)"
    evidence = [Evidence(doc_id=doc.id, quote=prior.quote)]
    return Candidate(prior.date, "imaging", prior.modality, summary, evidence)


def note_candidates(doc: Document) -> list[Candidate]:
    """The timeline candidates of one note or report."""
    if doc.kind == "report":
        found = [_report_candidate(doc), _prior_candidate(doc)]
        return [c for c in found if c is not None]
    out: list[Candidate] = []
    for st in statements(doc):
        date = st.date or _undated_date(st)
        if date:
            out.extend(_categories(st, date))
    return out
