"""Biomarkers as the trial and guideline tools compare them: a canonical name, an optional
protein variant, a polarity, and patterns that find the same marker in free text.

Receptor-style markers (HER2, ER, PR, HR, PD-L1) are compared by polarity ("HER2-negative");
gene markers (KRAS, EGFR, ...) by variant ("G12C") or by "mutated" versus "wild-type".
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from magentic_health.reply import Evidence
from magentic_health.tools._status_model import Biomarker

Polarity = Literal["positive", "negative", "unknown"]
RECEPTORS = frozenset({"HER2", "ER", "PR", "HR", "PD-L1"})

_ALIASES: dict[str, tuple[str, ...]] = {
    "HER2": ("her2", "her-2", "her2/neu", "erbb2", "neu"),
    "ER": ("er", "estrogen receptor", "oestrogen receptor"),
    "PR": ("pr", "pgr", "progesterone receptor"),
    "PD-L1": ("pd-l1", "pdl1", "cd274", "programmed death-ligand 1"),
}
GENES = (
    "KRAS", "NRAS", "HRAS", "BRAF", "EGFR", "ALK", "ROS1", "RET", "MET", "NTRK", "BRCA1",
    "BRCA2", "PIK3CA", "FGFR", "IDH1", "IDH2", "KIT", "PDGFRA", "FLT3", "NPM1", "STK11",
    "KEAP1", "TP53", "NF1", "ESR1", "AKT1", "PTEN", "ATM", "MSI", "TMB",
)  # fmt: skip

# In trial text: case-sensitive for short upper-case names that are also English words.
TEXT_PATTERNS: dict[str, str] = {
    "HER2": r"(?i:\bher-?2(?:/neu)?\b|\berbb2\b)",
    "ER": r"(?:\bER(?![A-Za-z])|(?i:\b[o]?estrogen[- ]receptor))",
    "PR": r"(?:\bPg?R(?![A-Za-z])|(?i:\bprogesterone[- ]receptor))",
    "HR": r"(?:\bHR(?![A-Za-z])|(?i:\bhormone[- ]receptor))",
    "PD-L1": r"(?i:\bpd-?l1\b)",
    "KRAS": r"\bK-?(?:RAS|Ras)(?![a-z])",
}
_NEGATIVE = re.compile(
    r"\bnegative\b|\bneg\b|not detected|wild[-\s]?type|\bwt\b|\bno (?:mutation|alteration|"
    r"variant|amplification)|\babsent\b|non-?amplified|^\s*(?:0|-|−)\s*$|\bnone\b",
    re.IGNORECASE,
)
_POSITIVE = re.compile(
    r"\bpositive\b|\bpos\b|detected|mutat|mutant|amplif|overexpress|\+|\bpresent\b|fusion|"
    r"rearrang|\bhigh\b|insertion|deletion|skipping",
    re.IGNORECASE,
)
_VARIANT = re.compile(r"(?:p\.)?([A-Z]\d{1,4}(?:[A-Z]|fs|\*|del|ins))(?![A-Za-z0-9])")
_PROTEIN_CHANGE = re.compile(
    r"(?:(?<![A-Za-z0-9])|(?<=RAS)|(?<=Ras))(?:p\.)?([A-Z]\d{1,4}[A-Z])(?![a-z0-9])"
)
_HGVS = re.compile(r"\b[gcp]\.\d+(?:_\d+)?[ACGT]>[ACGT]|\b[gc]\.\d+(?:del|dup|ins)")
_PERCENT = re.compile(r"(<|≤|<=)?\s*(\d+(?:\.\d+)?)\s*%")


@dataclass(frozen=True)
class Marker:
    """One patient biomarker, normalised for comparison."""

    name: str
    """Canonical name, e.g. "KRAS", "HER2", "PD-L1"; the original name when unknown."""
    variant: str | None
    """Protein change without "p.", e.g. "G12C"."""
    polarity: Polarity
    label: str
    """As the status says it, e.g. "KRAS p.G12C"."""
    evidence: tuple[Evidence, ...]


def canonical_name(name: str) -> str:
    """ "ERBB2" -> "HER2", "Estrogen receptor [Interpretation]" -> "ER"; unknown names as given."""
    low = name.lower().strip()
    for canon, aliases in _ALIASES.items():
        if any(re.match(rf"{re.escape(a)}\b", low) for a in aliases):
            return canon
    for gene in GENES:
        if re.search(rf"\b{gene.lower()}", low):
            return gene
    return name.strip()


def polarity(result: str) -> Polarity:
    """Positive (also mutated, amplified), negative (also wild-type), or unknown."""
    percent = _PERCENT.search(result)
    if percent:
        below, value = percent.group(1), float(percent.group(2))
        return "negative" if (below and value <= 1) or value == 0 else "positive"
    if _NEGATIVE.search(result):
        return "negative"
    if _POSITIVE.search(result) or _VARIANT.search(result) or _HGVS.search(result):
        return "positive"
    return "unknown"


def normalise(biomarker: Biomarker) -> Marker:
    """A status biomarker as a Marker."""
    variant = _VARIANT.search(biomarker.result)
    return Marker(
        name=canonical_name(biomarker.name),
        variant=variant.group(1) if variant else None,
        polarity=polarity(biomarker.result),
        label=f"{biomarker.name} {biomarker.result}".strip(),
        evidence=biomarker.evidence,
    )


def patient_markers(biomarkers: tuple[Biomarker, ...]) -> tuple[Marker, ...]:
    """Normalised markers, plus HR derived from ER/PR (HR+ when either is positive)."""
    markers = [normalise(b) for b in biomarkers]
    receptors = [m for m in markers if m.name in ("ER", "PR")]
    if receptors and not any(m.name == "HR" for m in markers):
        positive = [m for m in receptors if m.polarity == "positive"]
        if positive:
            markers.append(Marker("HR", None, "positive", "HR positive", positive[0].evidence))
        elif len(receptors) == 2 and all(m.polarity == "negative" for m in receptors):
            evidence = receptors[0].evidence + receptors[1].evidence
            markers.append(Marker("HR", None, "negative", "HR negative", evidence))
    return tuple(markers)


def text_pattern(name: str) -> str:
    """A regex that finds the marker's name in trial or guideline text."""
    if name in TEXT_PATTERNS:
        return TEXT_PATTERNS[name]
    return rf"\b{re.escape(name)}(?![a-z])"


_DASH = r"[-‐–−]"
_POSITIVE_SUFFIX = rf"(?i:\s*(?:{_DASH}\s*)?(?:positive|pos\b|\+|overexpress|amplifi|3\+))"
_NEGATIVE_SUFFIX = rf"(?i:\s*(?:{_DASH}\s*)?(?:negative|neg\b)|\s*{_DASH}(?![\w+]))"
_TRIPLE_NEGATIVE = re.compile(r"(?i:triple[- ]negative)|\bTNBC\b")
_MUTATED = (
    r"(?i:mutat|mutant|variant|alteration|altered|activating|positive|amplif|fusion|rearrang)"
)
_WILD_TYPE = r"(?i:wild[- ]?type|\bwt\b)"


def _name_pattern(name: str) -> str:
    return r"\bRAS\b" if name == "RAS" else text_pattern(name)


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_NAMES = (*sorted(RECEPTORS), *GENES, "RAS")
# Cheap substring hints (case-sensitive, lower-case) that must occur before a name's pattern
# is tried: most clauses name no marker, and plain ``in`` tests are far cheaper than regexes.
_HINTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "HER2": ((), ("her2", "her-2", "erbb2")),
    "ER": (("ER",), ("estrogen", "oestrogen")),
    "PR": (("PR", "PgR"), ("progesterone",)),
    "HR": (("HR",), ("hormone",)),
    "PD-L1": ((), ("pd-l1", "pdl1")),
    "KRAS": (("KRAS", "KRas", "K-RAS", "K-Ras"), ()),
}


def _any_of(literals: set[str]) -> re.Pattern[str]:
    """A regex matching any of ``literals`` (longest first)."""
    return re.compile("|".join(re.escape(h) for h in sorted(literals, key=lambda h: (-len(h), h))))


# One search over every hint at once: a text in which no hint occurs names no marker, and
# most trial clauses are such texts (about 9 in 10 in the shared set). Exact by construction:
# a name's pattern is tried only when one of its hints occurs, so no hint means no name.
_ANY_EXACT_HINT = _any_of({h for n in _NAMES for h in _HINTS.get(n, ((n,), ()))[0]})
_ANY_LOWER_HINT = _any_of({h for n in _NAMES for h in _HINTS.get(n, ((n,), ()))[1]})


@functools.lru_cache(maxsize=65536)
def names_in(text: str) -> frozenset[str]:
    """The marker names (canonical, plus generic "RAS") a text mentions."""
    low = text.lower()
    if _ANY_EXACT_HINT.search(text) is None and _ANY_LOWER_HINT.search(low) is None:
        return frozenset()
    found: set[str] = set()
    for name in _NAMES:
        exact, lower = _HINTS.get(name, ((name,), ()))
        if not (any(h in text for h in exact) or any(h in low for h in lower)):
            continue
        if _compiled(_name_pattern(name)).search(text):
            found.add(name)
    return frozenset(found)


@functools.lru_cache(maxsize=65536)
def receptor_polarities(text: str, name: str) -> frozenset[Polarity]:
    """Polarities the text states for a receptor: "HER2-" and "HER2-negative" are negative,
    "HR+" and "hormone receptor–positive" positive; "triple-negative" is negative for all.
    Cached: the trial matcher asks it of the same criteria for every patient."""
    found: set[Polarity] = set()
    breast = name in ("HER2", "ER", "PR", "HR")
    if breast and ("TNBC" in text or "negative" in text.lower()) and _TRIPLE_NEGATIVE.search(text):
        found.add("negative")
    if name not in names_in(text):
        return frozenset(found)
    alias = text_pattern(name)
    if _compiled(rf"(?:{alias}){_POSITIVE_SUFFIX}").search(text):
        found.add("positive")
    if _compiled(rf"(?:{alias}){_NEGATIVE_SUFFIX}").search(text):
        found.add("negative")
    return frozenset(found)


def names_variant(text: str, marker: Marker) -> bool:
    """True when the text names the marker's gene and its protein variant ("KRAS p.G12C",
    "KRasG12C", "KRAS glycine-to-cysteine (G12C)")."""
    if marker.variant is None or marker.name not in names_in(text):
        return False
    variant = rf"(?<![0-9])(?:p\.)?{re.escape(marker.variant)}(?![0-9A-Za-z])"
    return _compiled(variant).search(text) is not None


def gene_states(text: str, name: str) -> frozenset[Polarity]:
    """What the text says about a gene: "positive" for a mutation/alteration, "negative" for
    wild-type (generic "RAS wild-type" counts for KRAS and NRAS)."""
    ras = name in ("KRAS", "NRAS", "HRAS")
    named = names_in(text)
    if name not in named and not (ras and "RAS" in named):
        return frozenset()
    return _gene_states(text, name, ras)


@functools.lru_cache(maxsize=65536)
def _gene_states(text: str, name: str, ras: bool) -> frozenset[Polarity]:
    """``gene_states`` for a text that names the gene; cached, as trial criteria are asked
    again for every patient."""
    gene = text_pattern(name)
    alias = rf"(?:{gene}|\bRAS\b)" if ras else gene
    found: set[Polarity] = set()
    near = r"[^.;]{0,40}?"
    if _compiled(rf"(?:{alias}){near}{_WILD_TYPE}|{_WILD_TYPE}{near}(?:{alias})").search(text):
        found.add("negative")
    if _compiled(rf"(?:{gene}){near}{_MUTATED}|{_MUTATED}{near}(?:{gene})").search(text):
        found.add("positive")
    return frozenset(found)


def protein_changes(text: str) -> set[str]:
    """Protein changes a text names ("G12D" in "KRAS p.G12D", "KRasG12D", "V600E")."""
    return {m.group(1) for m in _PROTEIN_CHANGE.finditer(text)}
