"""Cited quotes located in their documents, for the HTML page: each document's text with every
quote marked (``<mark id=...>``), and the anchor each citation links to.

Quotes are found as the grounding checkpoint compares them: exactly, else with whitespace
collapsed and case folded. A quote that cannot be placed (no case, an unknown document, a quote
the document does not hold) is listed on its own, still marked, with the reason.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field

from magentic_health.case import Case, Document
from magentic_health.reply import Evidence

QuoteKey = tuple[str, str]
"""``(doc_id, quote)``."""


@dataclass(frozen=True)
class MarkedDocument:
    """A cited document whose text carries its quotes as ``<mark>`` elements."""

    anchor: str
    document: Document
    html: str
    quotes: int


@dataclass(frozen=True)
class LooseQuote:
    """A quote that could not be placed in a document, and why."""

    anchor: str
    doc_id: str
    quote: str
    reason: str


@dataclass
class QuoteIndex:
    """Where each cited quote is shown: ``targets`` maps a citation to its ``<mark>``'s id."""

    documents: list[MarkedDocument] = field(default_factory=list)
    loose: list[LooseQuote] = field(default_factory=list)
    targets: dict[QuoteKey, str] = field(default_factory=dict)

    def target(self, evidence: Evidence) -> str | None:
        return self.targets.get((evidence.doc_id, evidence.quote))


def _folded(text: str) -> tuple[str, list[int]]:
    """``text`` with whitespace runs collapsed and case folded, and for each folded character
    the index of the original character it came from."""
    chars: list[str] = []
    origin: list[int] = []
    in_space = False
    for i, char in enumerate(text):
        if char.isspace():
            if not in_space:
                chars.append(" ")
                origin.append(i)
            in_space = True
            continue
        in_space = False
        for folded in char.casefold():
            chars.append(folded)
            origin.append(i)
    return "".join(chars), origin


def locate(text: str, quote: str) -> tuple[int, int] | None:
    """The span of ``quote`` in ``text`` (exact, else whitespace- and case-folded), or None."""
    at = text.find(quote)
    if at >= 0 and quote:
        return at, at + len(quote)
    needle = _folded(quote.strip())[0]
    if not needle:
        return None
    folded, origin = _folded(text)
    at = folded.find(needle)
    if at < 0:
        return None
    return origin[at], origin[at + len(needle) - 1] + 1


def index_quotes(evidence: Iterable[Evidence], case: Case | None) -> QuoteIndex:
    """Place every distinct cited quote, in order of first citation."""
    index = QuoteIndex()
    spans: dict[str, list[tuple[int, int, QuoteKey]]] = {}
    seen: set[QuoteKey] = set()
    for item in evidence:
        key = (item.doc_id, item.quote)
        if key in seen:
            continue
        seen.add(key)
        reason, span = _place(item, case)
        if span is None:
            anchor = f"quote-{len(index.loose)}"
            index.loose.append(LooseQuote(anchor, item.doc_id, item.quote, reason))
            index.targets[key] = anchor
            continue
        spans.setdefault(item.doc_id, []).append((*span, key))
    if case is not None:
        for doc in case.documents:
            if doc.id in spans:
                index.documents.append(_mark(doc, len(index.documents), spans[doc.id], index))
    return index


def _place(item: Evidence, case: Case | None) -> tuple[str, tuple[int, int] | None]:
    if case is None:
        return "the case is not loaded", None
    doc = case.document(item.doc_id)
    if doc is None:
        return f"the case holds no document {item.doc_id!r}", None
    return "the document does not hold this quote", locate(doc.text, item.quote)


def _mark(
    doc: Document, number: int, spans: list[tuple[int, int, QuoteKey]], index: QuoteIndex
) -> MarkedDocument:
    """The document's text, escaped, with overlapping quotes merged into one ``<mark>``."""
    anchor = f"doc-{number}"
    parts: list[str] = []
    pos = 0
    segment: list[int] = []  # start, end of the open mark
    keys: list[QuoteKey] = []
    marks = 0

    def close() -> None:
        nonlocal pos, marks
        mark_id = f"{anchor}-m{marks}"
        parts.append(html.escape(doc.text[pos : segment[0]]))
        parts.append(
            f'<mark id="{mark_id}">{html.escape(doc.text[segment[0] : segment[1]])}</mark>'
        )
        for key in keys:
            index.targets[key] = mark_id
        pos, marks = segment[1], marks + 1

    for start, end, key in sorted(spans):
        if segment and start < segment[1]:
            segment[1] = max(segment[1], end)
            keys.append(key)
            continue
        if segment:
            close()
        segment, keys = [start, end], [key]
    close()
    parts.append(html.escape(doc.text[pos:]))
    return MarkedDocument(anchor=anchor, document=doc, html="".join(parts), quotes=len(spans))
