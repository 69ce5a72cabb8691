"""Stated values and how the patient status chooses among them.

Every source statement of a value is a ``Mention``. Mentions whose values are compatible share
a ``group`` (the organ for a diagnosis, "IV" for stage IV and IVA, the polarity of a marker).

Choosing (``resolve``), the rule the status tool documents:
1. Each document counts once per group, with the weight of its best mention: reports and FHIR
   resources 3, sentences of narrative notes 2, form-header lines ("Diagnosis: Breast Cancer" on
   a flow sheet) 1. A group's support is the sum.
2. The group with the most support wins; ties go to the most recent statement.
3. Within the winning group the most specific value is kept ("IVA" over "IV", "adenocarcinoma"
   over "non-small cell carcinoma"), dated by its earliest statement (stage at diagnosis).
4. Every other group is reported as a conflict naming the documents on both sides.
Values that change over time (performance status) use ``latest`` instead: the most recent
statement wins and earlier ones are history, not conflicts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from magentic_health.reply import Evidence

REPORT_WEIGHT = 3
NARRATIVE_WEIGHT = 2
HEADER_WEIGHT = 1
MAX_EVIDENCE = 6
RULE = "rule: most supporting documents, weighted report/FHIR 3, narrative note 2, form header 1"


@dataclass(frozen=True)
class Mention:
    """One source's statement of one value."""

    value: str
    group: str
    weight: int
    date: str | None
    evidence: Evidence
    specificity: int = 0
    extra: tuple[Evidence, ...] = ()
    """Further quotes of the same source (e.g. the resource's title line)."""

    @property
    def doc_id(self) -> str:
        return self.evidence.doc_id


Mentions = dict[str, list[Mention]]
"""Mentions of a case, keyed by the status field they state (e.g. "stage_group")."""


@dataclass(frozen=True)
class Resolved:
    """The chosen value, when it was first stated, its evidence, and any conflicts."""

    value: str
    date: str | None
    evidence: tuple[Evidence, ...]
    conflicts: tuple[str, ...] = ()


def _per_doc(mentions: list[Mention]) -> list[Mention]:
    """The best mention of each document (highest weight, then earliest)."""
    best: dict[str, Mention] = {}
    for m in mentions:
        have = best.get(m.doc_id)
        if have is None or (m.weight, m.specificity) > (have.weight, have.specificity):
            best[m.doc_id] = m
    return list(best.values())


def _support(mentions: list[Mention]) -> int:
    return sum(m.weight for m in _per_doc(mentions))


def _latest(mentions: list[Mention]) -> str:
    return max((m.date or "" for m in mentions), default="")


def evidence_of(mentions: list[Mention]) -> tuple[Evidence, ...]:
    """Up to ``MAX_EVIDENCE`` quotes, one per document, strongest and earliest first."""
    ordered = sorted(_per_doc(mentions), key=lambda m: (-m.weight, m.date or "", m.doc_id))
    return tuple(e for m in ordered[:MAX_EVIDENCE] for e in (m.evidence, *m.extra))


def _ids(mentions: list[Mention]) -> str:
    return ", ".join(sorted({m.doc_id for m in mentions}))


def resolve(field: str, mentions: list[Mention]) -> Resolved | None:
    """The value the rule in this module's docstring chooses, or None without mentions."""
    if not mentions:
        return None
    groups: dict[str, list[Mention]] = defaultdict(list)
    for m in mentions:
        groups[m.group].append(m)
    ranked = sorted(
        groups, key=lambda g: (_support(groups[g]), _latest(groups[g]), g), reverse=True
    )
    winner = groups[ranked[0]]
    counts: dict[str, int] = defaultdict(int)
    for m in _per_doc(winner):
        counts[m.value] += 1
    value = max(counts, key=lambda v: (_specificity(winner, v), counts[v], v))
    dates = [m.date for m in winner if m.date]
    conflicts = tuple(
        f"{field}: {_top(groups[g])!r} in {_ids(groups[g])} disagrees with {value!r} in "
        f"{_ids(winner)}; kept {value!r} (support {_support(winner)} vs "
        f"{_support(groups[g])}; {RULE})"
        for g in ranked[1:]
    )
    return Resolved(
        value=value,
        date=min(dates) if dates else None,
        evidence=evidence_of(winner),
        conflicts=conflicts,
    )


def _specificity(mentions: list[Mention], value: str) -> int:
    return max(m.specificity for m in mentions if m.value == value)


def _top(mentions: list[Mention]) -> str:
    return max(mentions, key=lambda m: (m.specificity, m.weight, m.value)).value


def latest(mentions: list[Mention]) -> Resolved | None:
    """The most recent statement's value (ties: the strongest source)."""
    if not mentions:
        return None
    best = max(mentions, key=lambda m: (m.date or "", m.weight, m.value))
    same = [m for m in mentions if m.date == best.date and m.value == best.value]
    return Resolved(value=best.value, date=best.date, evidence=evidence_of(same))


def conflict_evidence(mentions: list[Mention], kept: str) -> tuple[Evidence, ...]:
    """Quotes for a conflict finding: one per document of each disagreeing group, and one of
    the kept value's."""
    groups: dict[str, list[Mention]] = defaultdict(list)
    for m in mentions:
        groups[m.group].append(m)
    out: list[Evidence] = []
    for members in groups.values():
        if any(m.value == kept for m in members):
            out.extend(evidence_of(members)[:1])
        else:
            out.extend(evidence_of(members))
    return tuple(out)
