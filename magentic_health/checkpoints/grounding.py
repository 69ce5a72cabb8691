"""Grounding: every cited document exists in the case, every quote occurs in it, and the
numbers and dates of each claim occur in its evidence."""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from magentic_health.case import Case, Document
from magentic_health.checkpoints._base import CheckContext, Verdict, verdict
from magentic_health.checkpoints._numbers import (
    DATE_PATTERN,
    ages_in,
    claim_terms,
    dates_in,
    numbers_in,
    rounds_to,
)
from magentic_health.reply import Finding, SpecialistReply

_SPACE = re.compile(r"\s+")
_ID_LIKE = re.compile(r"[\w./:-]{8,}")
CONTEXT_CHARS = 200
"""How far either side of a quote a number may stand and still be the quote's own (tools
summarise the sentence a quote sits in, e.g. "Keytruda q21-days" beside the quoted plan)."""


@functools.lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Whitespace collapsed and case folded, the form in which quotes are compared.

    Cached: every quote of a run is checked against the same few documents."""
    return _SPACE.sub(" ", text).strip().casefold()


@functools.lru_cache(maxsize=16384)
def quote_at(text: str, quote: str) -> int:
    """Where ``quote`` starts in ``text`` (both folded), -1 if it does not occur.

    Cached: the final answer cites quotes the specialists' grounding already looked up, in
    notes of tens of kilobytes."""
    return text.find(quote)


@dataclass(frozen=True)
class _Cited:
    """One piece of evidence that holds: its document and where the quote starts (folded)."""

    doc: Document
    quote: str
    at: int


@functools.lru_cache(maxsize=256)
def _date_marks(text: str) -> tuple[list[int], list[str]]:
    """Where each date stated in a (folded) document ends, and the date as written."""
    matches = list(DATE_PATTERN.finditer(text))
    return [m.end() for m in matches], [m.group(0) for m in matches]


@functools.lru_cache(maxsize=8192)
def _passage(doc: Document, quote: str, at: int) -> tuple[frozenset[str], frozenset[str]]:
    """The dates and numbers a claim citing this quote may state.

    The quote's own; the document's date; for a structured record (one FHIR resource, one
    fact) the whole record; for a note, the quote's immediate context and the date heading
    its passage (the last date the document states before the quote, e.g. a study date)."""
    dates, numbers = set(dates_in(quote)), set(numbers_in(quote))
    if doc.date:
        dates |= {doc.date[:10], doc.date[:7]}
        numbers |= numbers_in(doc.date[:10])
    text = fold(doc.text)
    if doc.kind == "fhir":
        dates |= dates_in(text)
        numbers |= numbers_in(text)
    else:
        window = text[max(0, at - CONTEXT_CHARS) : at + len(quote) + CONTEXT_CHARS]
        numbers |= numbers_in(DATE_PATTERN.sub(" ", window))  # a date's parts are no values
        ends, found = _date_marks(text)
        before = bisect.bisect_right(ends, at)
        if before:
            dates |= dates_in(found[before - 1])
    dates |= {d[:7] for d in dates}
    return frozenset(dates), frozenset(numbers)


def _without_ids(claim: str, case: Case) -> str:
    """The claim without the document ids it names (references, not numbers)."""
    return _ID_LIKE.sub(lambda m: " " if case.document(m.group(0)) else m.group(0), claim)


def _age_fits(age: str, cited: Iterable[_Cited], case: Case) -> bool:
    """An age derived from a quoted birth date: birth year + age within the case's years."""
    births = {int(d[:4]) for c in cited for d in dates_in(c.quote)}
    years = sorted(int(d.date[:4]) for d in case.documents if d.date)
    if not births or not years:
        return False
    return any(years[0] <= b + int(age) <= years[-1] + 1 for b in births)


_MemoKey = tuple[str, tuple[tuple[str, str], ...]]
"""A finding as its claim and its (doc_id, quote) pairs: strings hash and compare in C,
where a pydantic model's ``__eq__`` and hash walk its fields in Python."""
_MEMO: dict[int, tuple[tuple[Document, ...], dict[_MemoKey, tuple[str, ...]]]] = {}


def _memo(case: Case) -> dict[_MemoKey, tuple[str, ...]]:
    """A finding's failures, per set of documents (the few of recent runs): later steps,
    retries, the final answer and later runs of the same case (a new request copies the case,
    not its documents) meet the same findings again. Whether a quote occurs, and a claim's
    dates and numbers, depend on the documents only, and finding a quote in a long note is
    the costly part."""
    documents = case.documents
    cached = _MEMO.get(id(documents))
    if cached is None or cached[0] is not documents:
        if len(_MEMO) > 8:
            _MEMO.clear()
        cached = _MEMO[id(documents)] = (documents, {})
    return cached[1]


def _claim_failures(finding: Finding, cited: list[_Cited], case: Case) -> tuple[str, ...]:
    """Dates and numbers of one claim that its evidence does not hold (without the
    finding's index)."""
    claim = _without_ids(finding.claim, case)
    dates, numbers = claim_terms(claim)
    allowed_dates: set[str] = set()
    allowed_numbers: set[str] = set()
    for c in cited:
        d, n = _passage(c.doc, c.quote, c.at)
        allowed_dates |= d
        allowed_numbers |= n
    ages = ages_in(claim)
    failures = [
        f"the date {d} in the claim is not in its evidence "
        "(the quote, its passage or the document's date)"
        for d in sorted(dates - allowed_dates)
    ]
    missing = sorted(
        n
        for n in numbers - allowed_numbers
        if not rounds_to(n, allowed_numbers) and not (n in ages and _age_fits(n, cited, case))
    )
    failures += [f"the number {n!r} in the claim is not in its quotes" for n in missing]
    return tuple(failures)


class GroundingCheckpoint:
    """Checks each finding's evidence against the case documents (whitespace and case
    folded), then the numbers and dates of its claim against that evidence."""

    name = "grounding"

    def verify(self, reply: SpecialistReply, ctx: CheckContext) -> Verdict:
        failures: list[str] = []
        memo = _memo(ctx.case)
        for i, finding in enumerate(reply.findings):
            key = (finding.claim, tuple((e.doc_id, e.quote) for e in finding.evidence))
            known = memo.get(key)
            if known is None:
                known = memo[key] = _finding_failures(finding, ctx.case)
            failures += [f"findings[{i}]{f}" for f in known]
        return verdict(self.name, failures)


def _finding_failures(finding: Finding, case: Case) -> tuple[str, ...]:
    """One finding's failures, each to follow its ``findings[i]`` label: its evidence against
    the documents, then (when all of it holds) its claim's dates and numbers."""
    failures: list[str] = []
    cited: list[_Cited] = []
    for evidence in finding.evidence:
        doc = case.document(evidence.doc_id)
        if doc is None:
            failures.append(f" cites {evidence.doc_id!r}, which is not a document of this case")
            continue
        quote = fold(evidence.quote)
        at = quote_at(fold(doc.text), quote)
        if at < 0:
            failures.append(
                f": quote {evidence.quote[:80]!r} does not occur in {evidence.doc_id!r}"
            )
            continue
        cited.append(_Cited(doc=doc, quote=quote, at=at))
    if len(cited) == len(finding.evidence):
        failures += [f": {f}" for f in _claim_failures(finding, cited, case)]
    return tuple(failures)
