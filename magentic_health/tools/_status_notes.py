"""Status mentions from free-text notes: diagnosis, site, histology, stage, biomarkers,
performance status, age and sex.

Each statement unit (a short line or a sentence) is read with plain patterns. Family history
lines ("Mother: ... Lung cancer") and hedged mentions ("rule out", "suspected") are skipped.
A short "Label: value" line (a form header such as "Diagnosis: Breast Cancer") weighs less
than a sentence of a note, and a report more (see ``_status_mentions``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from magentic_health.case import Document
from magentic_health.reply import Evidence
from magentic_health.tools._notes import DATE_HEAD, event_date
from magentic_health.tools._status_grade import grades_in
from magentic_health.tools._status_markers import markers_in, polarity, serum_in
from magentic_health.tools._status_mentions import (
    HEADER_WEIGHT,
    NARRATIVE_WEIGHT,
    REPORT_WEIGHT,
    Mention,
    Mentions,
)
from magentic_health.tools._text import Unit, quote, split_sentences, units
from magentic_health.tools._vocab import (
    CANCER,
    FAMILY_HISTORY,
    STAGE_GROUP,
    TNM,
    organ_of,
    roman_stage,
    specific_histology,
    stage_base,
)

_HEADER = re.compile(r"^(?:[-*]\s*)?[A-Za-z][\w /()-]{0,30}:\s*\S")
_HEDGED = re.compile(r"rule out|\br/o\b|suspect|screening|risk of|concern for", re.I)
# organ words of a diagnosis -> the canonical "<organ> cancer" name
_ORGANS = {
    "lung": "lung", "breast": "breast", "colon": "colon", "colonic": "colon",
    "colorectal": "colorectal", "rectal": "rectal", "rectum": "rectal", "prostate": "prostate",
    "prostatic": "prostate", "pancreatic": "pancreatic", "pancreas": "pancreatic",
    "ovarian": "ovarian", "ovary": "ovarian", "gastric": "gastric", "stomach": "gastric",
    "esophageal": "esophageal", "esophagus": "esophageal", "bladder": "bladder",
    "urothelial": "bladder", "renal": "renal", "kidney": "renal", "liver": "liver",
    "hepatocellular": "liver", "thyroid": "thyroid", "cervical": "cervical", "cervix": "cervical",
    "endometrial": "endometrial", "uterine": "endometrial",
}  # fmt: skip
_ORGAN = "|".join(sorted(_ORGANS, key=len, reverse=True))
_HISTO_WORDS = (
    r"(?:(?:invasive|infiltrating|ductal|lobular|squamous|cell|mucinous|serous|papillary|"
    r"neuroendocrine|high-grade|low-grade|clear|transitional)\s+){0,3}"
)
_TUMOUR = r"(?:(?:adeno)?carcinoma|cancer|malignancy|neoplasm)s?"
_DIAGNOSIS = re.compile(
    r"\b(?P<type>non[- ]small[- ]cell|small[- ]cell)\s+lung\s+(?:cancer|carcinoma)\b|"
    r"\b(?P<abbr>nsclc|sclc)\b|"
    rf"\b(?P<organ>{_ORGAN})\s+{_HISTO_WORDS}{_TUMOUR}\b|"
    rf"\b{_HISTO_WORDS}{_TUMOUR}\s+(?:of|in|involving)\s+(?:the\s+)?(?:(?:left|right)\s+)?"
    rf"(?P<organ2>{_ORGAN})\b|"
    r"\b(?P<other>melanoma|mesothelioma|glioblastoma|lymphoma|myeloma|leuka?emia|sarcoma|"
    r"cholangiocarcinoma)\b",
    re.I,
)
# a negation shortly before a finding, in the same clause: "negative for malignancy"
_NEGATED_BEFORE = re.compile(
    r"(?:\bno\b|\bnot\b|negative for|\bwithout\b|free of|denies)[^.;:]{0,30}$", re.I
)
_SUBSITE = re.compile(
    r"\b(?P<side>left|right)?\s*(?P<part>lingula|(?:upper|middle|lower) lobe|"
    r"upper outer quadrant|upper inner quadrant|lower outer quadrant|lower inner quadrant)|"
    r"\blingular\b",
    re.I,
)
_SIDE_ORGAN = re.compile(r"\b(left|right)\s+(lung|breast|kidney|ovary|colon|adrenal)\b", re.I)
_SITE_CONTEXT = re.compile(r"mass|primary|lesion|tumou?r|nodule", re.I)
_ECOG = re.compile(
    r"\becog\b(?:\s+(?:performance\s+)?(?:status|scale|score|ps))?(?:\s*\(0\s*-\s*4\))?"
    r"\s*(?:of|is|was|=|:)?\s*(?P<v>[0-4])\b",
    re.I,
)
_KARNOFSKY = re.compile(r"\b(?:karnofsky|kps)\b[^0-9\n]{0,30}?(?P<v>\d{2,3})\b", re.I)
_AGE = re.compile(
    r"\b(?P<v>\d{1,3})[- ]?(?:y\.?\s?o\.?|y/o|years?[- ]old)|\bage:\s*(?P<w>\d{1,3})\b", re.I
)
_SEX = re.compile(r"\b(?P<v>female|woman|male|man)\b", re.I)
_NON_SMALL_CELL = frozenset(
    {
        "adenocarcinoma",
        "squamous cell carcinoma",
        "large cell carcinoma",
        "non-small cell carcinoma",
    }
)
_VA_STAGE = re.compile(r"\b(?P<v>extensive|limited)[- ]stage\b|\b(?P<abbr>ES|LS)-SCLC\b", re.I)
_STAGE_CONTEXT_SKIP = re.compile(r"not typically indicated|in general|typically", re.I)


def _weight(doc: Document, text: str, unit: Unit) -> int:
    if doc.kind == "report":
        return REPORT_WEIGHT
    line = unit.text(text)
    if unit.start == unit.line_start and len(line) < 60 and _HEADER.match(line):
        return HEADER_WEIGHT
    return NARRATIVE_WEIGHT


def _readable(doc: Document) -> Iterator[tuple[Unit, str, int, str | None]]:
    """The units of a note worth reading, with their text, weight and date."""
    text = doc.text
    for unit in units(text):
        body = unit.text(text)
        if FAMILY_HISTORY.search(body):
            continue
        date = doc.date[:10] if doc.date else None
        yield unit, body, _weight(doc, text, unit), date


@dataclass
class _Collector:
    """Adds mentions found in one unit of one document."""

    doc: Document
    unit: Unit
    weight: int
    date: str | None
    out: Mentions

    def add(self, field: str, match: re.Match[str], value: str, group: str, spec: int = 0) -> None:
        self.add_at(field, match.start(), value, group, spec)

    def add_at(self, field: str, at: int, value: str, group: str, spec: int = 0) -> None:
        focus = self.unit.start + at
        ev = Evidence(doc_id=self.doc.id, quote=quote(self.doc.text, self.unit, focus=focus))
        date = self._sentence_date(focus) or self.date
        self.out[field].append(Mention(value, group, self.weight, date, ev, spec))

    def _sentence_date(self, focus: int) -> str | None:
        """The event date of the sentence holding ``focus``; on a line that starts with a date,
        an undated sentence takes the date of the sentence before it."""
        text = self.doc.text
        headed = bool(DATE_HEAD.match(text, self.unit.start))
        carried: str | None = None
        for start, end in split_sentences(text, self.unit.start, self.unit.end):
            date = event_date(text, start, end) or (carried if headed else None)
            carried = date
            if start <= focus < end:
                return date
        return None


def _diagnosis(match: re.Match[str]) -> tuple[str, int]:
    """The normalised diagnosis a match names, and how specific it is."""
    kind = (match.group("type") or match.group("abbr") or "").lower()
    if kind:
        small = kind.startswith("s")
        return ("small cell lung cancer" if small else "non-small cell lung cancer"), 2
    if other := match.group("other"):
        return other.lower(), 1
    organ = (match.group("organ") or match.group("organ2")).lower()
    return f"{_ORGANS[organ]} cancer", 1


def _negated(body: str, at: int) -> bool:
    return bool(_NEGATED_BEFORE.search(body[max(0, at - 40) : at]))


def _diagnoses(body: str, found: _Collector) -> None:
    for match in _DIAGNOSIS.finditer(body):
        if _negated(body, match.start()):
            continue
        value, spec = _diagnosis(match)
        organ = organ_of(value)
        found.add("diagnosis", match, value, organ or value, spec)
        if organ and not match.group("other"):  # melanoma, lymphoma: the site is not implied
            found.add("site", match, organ, organ, -1)


def note_mentions(doc: Document) -> Mentions:
    """All status mentions of one note or report, keyed by field."""
    out: Mentions = defaultdict(list)
    for unit, body, weight, date in _readable(doc):
        found = _Collector(doc, unit, weight, date, out)
        hedged = bool(_HEDGED.search(body))
        if not hedged:
            _diagnoses(body, found)
            _histology(body, found)
            grades_in(body, found.add)
        _stage(body, found)
        _site(body, found)
        _markers(body, found)
        _person(body, found)
    return out


def _markers(body: str, found: _Collector) -> None:
    for match in _ECOG.finditer(body):
        found.add("performance:ECOG", match, f"ECOG {match.group('v')}", "ECOG")
    for match in _KARNOFSKY.finditer(body):
        found.add("performance:Karnofsky", match, f"Karnofsky {match.group('v')}", "KPS")
    for name, result, at in markers_in(body):
        found.add_at(f"biomarker:{name}", at, result, polarity(result))
    for name, value, at in serum_in(body):
        found.add_at(f"serum:{name}", at, value, name)


def _person(body: str, found: _Collector) -> None:
    if age := _AGE.search(body):
        years = age.group("v") or age.group("w")
        found.add("age", age, years, years)
    for match in _SEX.finditer(body):
        sex = "female" if match.group("v").lower() in ("female", "woman") else "male"
        found.add("sex", match, sex, sex)


_SMALL_CELL_LUNG = re.compile(
    r"(?<!non-)(?<!non )\bsmall[- ]cell lung (?:cancer|carcinoma)|\bSCLC\b", re.I
)


def _histology(body: str, found: _Collector) -> None:
    if small := _SMALL_CELL_LUNG.search(body):  # the diagnosis names its histology
        found.add("histology", small, "small cell carcinoma", "small cell carcinoma", 1)
    histology = specific_histology(body)
    where = re.search(re.escape(histology), body, re.I) if histology else None
    if histology and where:
        rank = 0 if histology == "non-small cell carcinoma" else 1
        found.add("histology", where, histology, _histology_group(histology), rank)


def _stage(body: str, found: _Collector) -> None:
    if _STAGE_CONTEXT_SKIP.search(body):
        return
    for match in _VA_STAGE.finditer(body):
        abbr = (match.group("abbr") or "").upper()
        word = match.group("v") or ("extensive" if abbr == "ES" else "limited")
        found.add("stage_group", match, f"{word.lower()} stage", f"{word.lower()} stage", 1)
    for match in TNM.finditer(body):
        tnm = f"T{match.group('t')}N{match.group('n')}M{match.group('m')}"
        found.add("stage_tnm", match, tnm, tnm, 1)
        if match.group("gnum"):
            group = roman_stage(match.group("gnum"), match.group("gsub"))
            found.add("stage_group", match, group, stage_base(group), len(group))
    for match in STAGE_GROUP.finditer(body):
        if _negated(body, match.start()):
            continue
        group = roman_stage(match.group("num"), match.group("sub"))
        found.add("stage_group", match, group, stage_base(group), len(group))


def _site(body: str, found: _Collector) -> None:
    if not (CANCER.search(body) or _SITE_CONTEXT.search(body)):
        return
    for match in _SIDE_ORGAN.finditer(body):
        value = f"{match.group(1).lower()} {match.group(2).lower()}"
        found.add("site", match, value, match.group(2).lower())
    for match in _SUBSITE.finditer(body):
        part = (match.group("part") or "lingula").lower()
        side = (match.group("side") or "").lower()
        value = "lingula" if part == "lingula" else f"{side} {part}".strip()
        found.add("subsite", match, value, value)


def _histology_group(name: str) -> str:
    """Histologies that refine one another share a group (adenocarcinoma is a non-small cell
    carcinoma), so only truly different histologies conflict."""
    return "non-small cell" if name in _NON_SMALL_CELL else name
