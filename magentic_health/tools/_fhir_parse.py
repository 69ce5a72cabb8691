"""Reading the loader's text rendering of a FHIR resource back into labelled fields.

The rendering contract: the first line is ``<ResourceType>: <primary display>``, then one
``Label: value`` line per element (a label may repeat), then optionally ``Text:`` /
``Narrative:`` followed by free text. Each field keeps its whole line so tools can quote it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from magentic_health.case import Document
from magentic_health.tools._text import iso_day

NARRATIVE_LABELS = ("Text", "Narrative")
_FIELD = re.compile(r"^(?P<label>[A-Z][A-Za-z]*(?: [a-z]+){0,2}):(?:\s(?P<value>.*))?$")
# "Display (SNOMED 424132000)": a trailing code in parentheses, system then code.
_CODED = re.compile(r"^(?P<display>.*?)\s*\((?P<system>[A-Za-z][\w.\-]*)[ :](?P<code>[^\s()]+)\)$")
_DATE_LABELS = ("Onset", "Performed", "Effective", "Authored", "Period", "Recorded", "Issued")


@dataclass(frozen=True)
class Field:
    """One ``Label: value`` line: the label, the value, and the whole line (for quoting)."""

    label: str
    value: str
    line: str


@dataclass(frozen=True)
class FhirView:
    """A rendered FHIR document read back: type, primary display, fields, narrative."""

    doc: Document
    resource_type: str
    title: str
    title_line: str
    fields: tuple[Field, ...]
    narrative: str

    def all(self, label: str) -> list[Field]:
        return [f for f in self.fields if f.label == label]

    def first(self, label: str) -> Field | None:
        return next((f for f in self.fields if f.label == label), None)

    def value(self, label: str) -> str | None:
        found = self.first(label)
        return found.value if found else None

    @property
    def profiles(self) -> list[str]:
        return [f.value for f in self.all("Profile")]

    def has_profile(self, fragment: str) -> bool:
        return any(fragment in p for p in self.profiles)

    @property
    def code_displays(self) -> list[str]:
        """Displays of the resource's codes (the title first), code suffixes removed."""
        names = [plain_display(self.title)] if self.title else []
        names += [plain_display(f.value) for f in self.all("Code")]
        return [n for n in dict.fromkeys(names) if n]

    @property
    def codes(self) -> list[str]:
        """The code values (e.g. "424132000", "89247-1") of the Code lines, with or without a
        display ("Code: Body Height (LOINC 8302-2)", "Code: LOINC 89247-1")."""
        out: list[str] = []
        for f in self.all("Code"):
            out += [m.group(2) for m in _CODE_ANYWHERE.finditer(f.value)]
            if bare := _BARE_CODE.match(f.value):
                out.append(bare.group(2))
        return out

    @property
    def date(self) -> str | None:
        """The document date, else the first dated field (onset, performed, effective, ...)."""
        if day := iso_day(self.doc.date):
            return day
        for label in _DATE_LABELS:
            if day := iso_day(self.value(label)):
                return day
        return None

    def search_text(self) -> str:
        """The title and field values in one string, for keyword tests."""
        return "\n".join([self.title, *(f.value for f in self.fields), self.narrative])


_CODE_ANYWHERE = re.compile(r"\(([A-Za-z][\w.\-]*)[ :]([^\s()]+)\)")
_BARE_CODE = re.compile(r"^([A-Za-z][\w.\-]*) ([^\s()]+)$")


def plain_display(value: str) -> str:
    """A coded value's display without its code suffix or SNOMED semantic tag:
    "Stage 3A (qualifier value) (SNOMED 261638004)" -> "Stage 3A"."""
    text = value.strip()
    while True:
        match = _CODED.match(text)
        if not match or not match.group("display"):
            break
        text = match.group("display")
    return re.sub(
        r"\s*\((?:disorder|finding|procedure|situation|qualifier value|morphologic abnormality|"
        r"observable entity|regime/therapy|body structure)\)",
        "",
        text,
        flags=re.IGNORECASE,
    ).strip()


def value_text(value: str) -> str:
    """A rendered value for people: the display without its code, and a bare code without the
    URL of its system ("http://cancerstaging.org cT2a" -> "cT2a")."""
    return re.sub(r"^https?://\S+\s+(?=\S+$)", "", plain_display(value))


def parse_fhir(doc: Document) -> FhirView:
    """Reads a ``kind == "fhir"`` document's text into a ``FhirView``: every ``Label: value``
    line before the first ``Text:`` / ``Narrative:`` line is a field, the rest is narrative."""
    lines = [line.strip() for line in doc.text.splitlines()]
    lines = [line for line in lines if line]
    title_line = lines[0] if lines else ""
    head, _, title = title_line.partition(": ")
    resource_type = head if head and " " not in head else doc.type
    fields: list[Field] = []
    narrative: list[str] = []
    for line in lines[1:]:
        match = _FIELD.match(line)
        if narrative or (match and match.group("label") in NARRATIVE_LABELS):
            narrative.append(line)
        elif match:
            value = (match.group("value") or "").strip()
            fields.append(Field(label=match.group("label"), value=value, line=line))
        else:
            narrative.append(line)
    return FhirView(
        doc=doc,
        resource_type=resource_type,
        title=title.strip(),
        title_line=title_line,
        fields=tuple(fields),
        narrative="\n".join(narrative),
    )


# Displays for codes that mCODE resources carry without one (LOINC and HGNC identifiers).
_KNOWN_CODES = {
    "89247-1": "ECOG performance status",
    "89243-0": "Karnofsky performance status",
    "69548-6": "Genetic variant assessment",
    "21908-9": "Stage group.clinical Cancer",
    "21902-2": "Stage group.pathology Cancer",
    "21905-5": "Primary tumor.clinical [Class] Cancer",
    "21906-3": "Regional lymph nodes.clinical [Class] Cancer",
    "21907-1": "Distant metastases.clinical [Class] Cancer",
    "21899-0": "Primary tumor.pathology [Class] Cancer",
    "21900-6": "Regional lymph nodes.pathology [Class] Cancer",
    "21901-4": "Distant metastases.pathology [Class] Cancer",
    "35266-6": "Gleason score in Specimen Qualitative",
    "97509-4": "Cancer disease status",
    "69453-9": "Cause of Death [US Standard Certificate of Death]",
}
_HGNC = {
    "HGNC:6407": "KRAS",
    "HGNC:7989": "NRAS",
    "HGNC:1097": "BRAF",
    "HGNC:3236": "EGFR",
    "HGNC:427": "ALK",
    "HGNC:10261": "ROS1",
    "HGNC:7029": "MET",
    "HGNC:9967": "RET",
    "HGNC:3430": "ERBB2",
    "HGNC:8975": "PIK3CA",
    "HGNC:11998": "TP53",
    "HGNC:1100": "BRCA1",
    "HGNC:1101": "BRCA2",
    "HGNC:11389": "STK11",
}
_HGNC_ID = re.compile(r"HGNC:\d+")
_HGVS = re.compile(r"\b(?:N[CMP]_\d+(?:\.\d+)?:)?[cgp]\.[A-Za-z0-9_>*+\-]+")
_QUALITATIVE = re.compile(r"positive|negative|detected|present|absent|equivocal|high|low", re.I)


def name_of(view: FhirView) -> str:
    """A readable name for the resource: its display, or a known name for a bare code."""
    for code in view.codes:
        if code in _KNOWN_CODES and (not view.title or view.title.startswith("LOINC")):
            return _KNOWN_CODES[code]
    names = view.code_displays
    return names[0] if names else view.resource_type


def best_value(view: FhirView) -> Field | None:
    """The ``Value`` line to report: a qualitative one ("Positive") when there are several."""
    values = view.all("Value")
    return next((v for v in values if _QUALITATIVE.search(v.value)), values[0] if values else None)


def gene_variant(view: FhirView) -> tuple[str, str, Field] | None:
    """``(gene, change, line)`` of a genetic-variant Observation's components, or None.

    The gene is named from its HGNC id where known; the change is the HGVS expression."""
    gene: str | None = None
    change = ""
    line: Field | None = None
    for comp in view.all("Component"):
        if gene is None and (hgnc := _HGNC_ID.search(comp.value)):
            gene = _HGNC.get(hgnc.group(0), hgnc.group(0))
            line = comp
        if not change and (hgvs := _HGVS.search(comp.value)):
            change = hgvs.group(0)
    if gene is None or line is None:
        return None
    return gene, change, line
