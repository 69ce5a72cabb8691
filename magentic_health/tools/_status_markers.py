"""Biomarker mentions: gene alterations, PD-L1, hormone receptors and HER2, in notes and in
FHIR Observations (mCODE tumour markers and genetic variants).

Names are normalised (ERBB2 -> HER2, estrogen receptor -> ER) and results read as written
("p.G12C", "negative", "45%"). Mentions of one marker are grouped by polarity (positive or
negative), so that a disagreement between sources is reported as a conflict.
"""

from __future__ import annotations

import re

from magentic_health.reply import Evidence
from magentic_health.tools._fhir_parse import FhirView, best_value, gene_variant, name_of
from magentic_health.tools._fhir_parse import plain_display as plain
from magentic_health.tools._status_mentions import REPORT_WEIGHT, Mention

_GENE = re.compile(
    r"\b(?P<gene>KRAS|NRAS|HRAS|BRAF|EGFR|ALK|ROS1|MET|RET|ERBB2|PIK3CA|TP53|BRCA1|BRCA2|"
    r"STK11|NTRK[123]?|IDH[12]|FGFR[1-4])\b(?P<tail>(?:[^.;\n]|\.(?=\S)){0,60})"
)
_CHANGE = re.compile(
    r"\b(?P<p>p\.)?(?P<aa>[ACDEFGHIKLMNPQRSTVWY]\d{1,4}(?:[ACDEFGHIKLMNPQRSTVWY*]|fs|del))\b|"
    r"\bexon \d+ (?:deletion|insertion|skipping)\b"
)
_STATUS = re.compile(
    r"\b(?:not detected|wild[- ]type|negative|positive|mutation|mutated|amplifi\w+|fusion|"
    r"rearrange\w*|\bneg\b|\bpos\b)",
    re.I,
)
_PDL1 = re.compile(
    r"\bPD-?L1\b(?:[^.;\n]|\.(?=\S)){0,40}?(?P<v>\d+(?:\.\d+)?\s*%|negative|positive|\bneg\b|\bpos\b|"
    r"\bhigh\b|\blow\b)",
    re.I,
)
_RECEPTOR = re.compile(
    r"\b(?P<name>ER|PR|HER-?2(?:/neu)?|(?i:estrogen|progesterone) receptors?)"
    r"(?:\s+(?i:is|are|was|status))?\s*[:\-]?\s*(?P<v>\+|-|[0-3]\+|"
    r"(?i:positive|negative|pos\b|neg\b|amplified|not amplified|equivocal))",
)
_NAMES = {"ERBB2": "HER2", "HER-2": "HER2", "HER2/NEU": "HER2", "HER-2/NEU": "HER2"}
_NEGATIVE = re.compile(
    r"negative|\bneg\b|^-$|not detected|wild[- ]type|not amplified|^[01]\+$|^0(?:\.0)?\s*%|^<\s*1",
    re.I,
)


def marker_name(raw: str) -> str:
    """Normalised marker name: "ERBB2" -> "HER2", "Estrogen Receptor" -> "ER"."""
    upper = raw.upper().strip()
    if upper.startswith("ESTROGEN"):
        return "ER"
    if upper.startswith("PROGESTERONE"):
        return "PR"
    if upper.startswith("PD"):
        return "PD-L1"
    return _NAMES.get(upper, upper)


def normal_result(raw: str) -> str:
    """Result wording normalised: "neg" -> "negative", "+" -> "positive"."""
    lowered = raw.strip().lower()
    return {"neg": "negative", "pos": "positive", "+": "positive", "-": "negative"}.get(
        lowered, raw.strip()
    )


def polarity(result: str) -> str:
    return "negative" if _NEGATIVE.search(result) else "positive"


def _gene_result(tail: str) -> str | None:
    if change := _CHANGE.search(tail):
        if change.group("aa"):
            return f"p.{change.group('aa')}"
        return change.group(0)
    if status := _STATUS.search(tail):
        word = status.group(0).lower()
        return "mutation" if word.startswith("mutat") else normal_result(word)
    return None


def markers_in(body: str) -> list[tuple[str, str, int]]:
    """``(marker name, result, offset)`` of every biomarker result stated in ``body``."""
    found: list[tuple[str, str, int]] = []
    for match in _GENE.finditer(body):
        if result := _gene_result(match.group("tail")):
            found.append((match.group("gene"), result, match.start()))
    for match in _PDL1.finditer(body):
        found.append(("PD-L1", normal_result(match.group("v")), match.start()))
    for match in _RECEPTOR.finditer(body):
        found.append((match.group("name"), normal_result(match.group("v")), match.start()))
    return [(marker_name(name), result, at) for name, result, at in found]


_FHIR_MARKER = re.compile(
    r"her2|erbb2|estrogen|progesterone|pd-?l1|kras|egfr|\balk\b|ros1|braf|nras|brca|msi|tmb",
    re.I,
)


def fhir_marker(view: FhirView) -> tuple[str, Mention] | None:
    """A tumour-marker or genetic-variant Observation as ``("biomarker:<name>", mention)``."""
    if view.resource_type != "Observation":
        return None
    date = view.date
    if variant := gene_variant(view):
        gene, change, line = variant
        interpretation = view.value("Interpretation") or ""
        result = change or ("positive" if "POS" in interpretation else "variant reported")
        ev = Evidence(doc_id=view.doc.id, quote=line.line[:300])
        extra = tuple(
            Evidence(doc_id=view.doc.id, quote=c.line[:300])
            for c in view.all("Component")
            if change and change in c.value
        )
        return f"biomarker:{gene}", Mention(
            result, "positive", REPORT_WEIGHT, date, ev, extra=extra
        )
    name = name_of(view)
    if not (view.has_profile("tumor-marker") or _FHIR_MARKER.search(name)):
        return None
    value = best_value(view)
    if value is None:
        return None
    result = plain(value.value).lower() if re.search(r"[a-z]", value.value, re.I) else value.value
    ev = Evidence(doc_id=view.doc.id, quote=value.line[:300])
    mention = Mention(result, polarity(result), REPORT_WEIGHT, date, ev)
    return f"biomarker:{marker_name(name.split(' [')[0].replace(' Receptor', ''))}", mention
