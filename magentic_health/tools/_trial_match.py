"""What speaks for a trial: the summary sentences and inclusion criteria that name the
patient's cancer type, biomarkers and stage, with the score each adds.

Weights (documented so the ranking can be explained): cancer type 3, a basket trial ("solid
tumors") 1, the patient's exact variant 4, a receptor with the patient's polarity 3, the gene
alone 1.5, the stage setting 1, recruiting 0.5. A trial that requires a biomarker the patient
has no result for loses 1.5; a trial known not to recruit loses 1.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from magentic_health.tools._markers import (
    GENES,
    RECEPTORS,
    Marker,
    gene_states,
    names_variant,
    protein_changes,
    receptor_polarities,
)
from magentic_health.tools._oncology import CancerType, roman_stages
from magentic_health.tools._trial_index import Clause, TrialRecord
from magentic_health.tools._trial_profile import (
    BASKET_HINTS,
    BASKET_PATTERN,
    Profile,
    cancers_named,
)

CONDITION = 3.0
BASKET = 1.0
VARIANT = 4.0
RECEPTOR = 3.0
GENE = 1.5
STAGE = 1.0
RECRUITING = 0.5
UNDOCUMENTED_MARKER = -1.5
NOT_RECRUITING = -1.0

_ADVANCED = re.compile(
    r"(?i)\bmetasta|\badvanced\b|\bunresectable\b|\brecurrent\b|\bstages?\s+(?:III[A-C]?\W+)?IV\b"
)
_ADVANCED_HINTS = ("metasta", "advanced", "unresectable", "recurrent", "stage")
_BASKET = re.compile(BASKET_PATTERN, re.IGNORECASE)
_EARLY = re.compile(r"(?i)\bearly\b|\badjuvant\b|\bresect(?:ed|able)\b|\blocali[sz]ed\b")
_EARLY_HINTS = ("early", "adjuvant", "resect", "locali")
_OPEN = ("RECRUITING", "NOT_YET_RECRUITING")
_CLOSED = ("ACTIVE_NOT_RECRUITING", "COMPLETED", "TERMINATED", "WITHDRAWN", "SUSPENDED")


@dataclass
class Match:
    """The positive side of a trial's assessment."""

    score: float = 0.0
    reasons: list[str] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    to_verify: list[str] = field(default_factory=list)
    condition: bool = False
    basket: bool = False
    other_cancer: bool = False
    """The trial names another organ's cancer and neither the patient's nor "solid tumors"."""
    undocumented: bool = False
    """The trial asks for a biomarker the patient has no result for."""

    def add(self, weight: float, reason: str, clause: Clause | None) -> None:
        self.score += weight
        self.reasons.append(reason)
        if clause is not None and clause.text not in self.quotes:
            self.quotes.append(clause.text)


def admitting(record: TrialRecord) -> tuple[Clause, ...]:
    """Summary sentences and inclusion criteria that do not themselves exclude anyone."""
    return record.admitting


def first(clauses: Sequence[Clause], test: Callable[[str], bool]) -> Clause | None:
    """The first clause whose text passes ``test``."""
    return next((c for c in clauses if test(c.text)), None)


def naming(clauses: Sequence[Clause], kinds: frozenset[CancerType]) -> Clause | None:
    """The first clause that names one of the cancer types ``kinds``."""
    if kinds:
        for clause in clauses:
            if not kinds.isdisjoint(cancers_named(clause.text)):
                return clause
    return None


def _saying(pattern: re.Pattern[str], hints: tuple[str, ...]) -> Callable[[str], bool]:
    """A cached test: the text contains one of ``hints`` (lower case) and matches
    ``pattern``. Cached because every patient asks it of the same clauses."""

    @functools.lru_cache(maxsize=65536)
    def says(text: str) -> bool:
        low = text.lower()
        return any(h in low for h in hints) and pattern.search(text) is not None

    return says


is_basket = _saying(_BASKET, BASKET_HINTS)
is_advanced = _saying(_ADVANCED, _ADVANCED_HINTS)
is_early = _saying(_EARLY, _EARLY_HINTS)


def match(record: TrialRecord, profile: Profile) -> Match:
    """Score a trial on condition, biomarkers, stage and recruitment status."""
    result = Match()
    clauses = admitting(record)
    condition = naming(clauses, frozenset(profile.cancer_types))
    if condition is not None:
        result.condition = True
        label = profile.diagnosis.value if profile.diagnosis else "cancer type"
        result.add(CONDITION, f"condition: {label}", condition)
    else:
        basket = first(clauses, is_basket)
        if basket is not None:
            result.basket = True
            result.add(BASKET, "basket trial: solid tumors", basket)
        else:
            result.other_cancer = naming(clauses, profile.other_cancer_types()) is not None
    for marker in profile.markers:
        _match_marker(result, clauses, marker)
    _undocumented_markers(result, clauses, profile)
    _match_stage(result, clauses, profile)
    if record.status in _OPEN:
        result.add(RECRUITING, f"status: {record.status}", None)
    elif record.status in _CLOSED:
        result.add(NOT_RECRUITING, f"not recruiting: {record.status}", None)
    return result


def _match_marker(result: Match, clauses: Sequence[Clause], marker: Marker) -> None:
    if marker.name in RECEPTORS:
        if marker.polarity == "unknown":
            return
        hit = first(clauses, lambda t: marker.polarity in receptor_polarities(t, marker.name))
        if hit is not None:
            result.add(RECEPTOR, f"biomarker: {marker.label}", hit)
            result.markers.append(marker)
        return
    if marker.polarity != "positive":
        return
    hit = first(clauses, lambda t: names_variant(t, marker)) if marker.variant else None
    if hit is not None:
        result.add(VARIANT, f"biomarker: {marker.label}", hit)
        result.markers.append(marker)
        return

    def gene_level(text: str) -> bool:
        # a clause that names another variant of the gene asks for that variant, not ours
        if "positive" not in gene_states(text, marker.name):
            return False
        return marker.variant is None or not protein_changes(text)

    hit = first(clauses, gene_level)
    if hit is not None:
        result.add(GENE, f"biomarker: {marker.name} (gene-level match)", hit)
        result.markers.append(marker)


def _undocumented_markers(result: Match, clauses: Sequence[Clause], profile: Profile) -> None:
    """Inclusion criteria asking for a biomarker the patient has no result for are listed to
    verify; when none of the patient's own markers matched, the trial also ranks lower."""
    known = {m.name for m in profile.markers}
    for clause in clauses:
        if clause.section != "inclusion" or not clause.names:
            continue
        named = sorted(clause.names - known)
        genes = [g for g in named if g in GENES and "positive" in gene_states(clause.text, g)]
        receptors = [r for r in named if r in RECEPTORS and receptor_polarities(clause.text, r)]
        if not (genes or receptors):
            continue
        result.to_verify.append(clause.text)
        if not result.markers and not result.undocumented:
            names = ", ".join(genes + receptors)
            result.add(UNDOCUMENTED_MARKER, f"requires {names}: no result for the patient", None)
        result.undocumented = True


def _match_stage(result: Match, clauses: Sequence[Clause], profile: Profile) -> None:
    """The stage setting, from clauses that do not name another cancer type (a multi-cohort
    trial's "stage IV NSCLC" cohort says nothing about its breast cohort)."""
    if profile.stage_base is None and not profile.advanced:
        return
    others = profile.other_cancer_types()
    if others:
        clauses = [c for c in clauses if others.isdisjoint(cancers_named(c.text))]
    if profile.advanced:
        hit = first(clauses, is_advanced)
        reason = "setting: advanced or metastatic disease"
    else:
        base = profile.stage_base or ""
        hit = first(clauses, lambda t: base in roman_stages(t) or is_early(t))
        reason = f"setting: stage {base} / early disease"
    if hit is not None:
        result.add(STAGE, reason, hit)
