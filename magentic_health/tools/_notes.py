"""Dated statements in free-text notes, shared by the timeline and radiology tools.

A statement is a verbatim slice of a note: a sentence, or on a short line that starts with a
date (a dated entry such as "2020-03-30: Bronchoscopy with EBUS-guided FNA. Pathology
diagnosis:") each dated sentence with the undated sentences after it. Its date is the first date
it states (ISO, "03/14/2022", "March 14, 2022", or a month: "December 2019"); visit stamps
("Date of service: ...", "collected: ...") and signature times ("2020-04-14 17:04:00") are not
event dates. A statement on a short line that ends with ":"
owns the lines under it (its block) up to the next blank line or dated line, e.g. the numbered
impression of a scan.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from magentic_health.case import Case, Document
from magentic_health.tools._text import ANY_DATE, QUOTE_LIMIT, dates_in, split_sentences, window

_STAMP_BEFORE = re.compile(
    r"(?:date of (?:service|visit)|\bdate|collected|received|time|completed by|expiration date|"
    r"signed|@)\s*:?\s*$",
    re.IGNORECASE,
)
_TIME_AFTER = re.compile(r"\s+\d{1,2}:\d{2}")
_BLOCK_LIMIT = 16
DATE_HEAD = re.compile(r"(?:[-*•]\s*)?(?:" + ANY_DATE.pattern + ")", re.IGNORECASE)


@dataclass(frozen=True)
class Statement:
    """A verbatim slice ``doc.text[start:end]``, its event date, and its block."""

    doc: Document
    start: int
    end: int
    date: str | None
    block: tuple[tuple[int, int], ...] = ()

    @property
    def text(self) -> str:
        return self.doc.text[self.start : self.end]

    @property
    def block_lines(self) -> list[str]:
        return [self.doc.text[a:b] for a, b in self.block]

    @property
    def full_text(self) -> str:
        return "\n".join([self.text, *self.block_lines])

    def quote(self, focus: int | None = None) -> str:
        """The statement as a quote of at most ``QUOTE_LIMIT`` characters (around ``focus``)."""
        return window(self.doc.text, self.start, self.end, self.start if focus is None else focus)


def is_narrative(doc: Document) -> bool:
    """Notes and reports are free text; FHIR documents are rendered fields."""
    return doc.kind in ("note", "report")


def narrative_docs(case: Case) -> list[Document]:
    return [doc for doc in case.documents if is_narrative(doc)]


def event_date(text: str, start: int, end: int) -> str | None:
    """The first date written in ``text[start:end]`` (ISO, "03/14/2022", "March 14, 2022",
    "December 2019") that is an event date, not a stamp, as ``YYYY-MM-DD`` (``YYYY-MM`` when
    only the month is written)."""
    for match, iso in dates_in(text, start, end):
        before = text[max(0, match.start() - 30) : match.start()]
        if _STAMP_BEFORE.search(before) or _TIME_AFTER.match(text, match.end()):
            continue
        return iso
    return None


def _raw_lines(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every line, trimmed; blank lines have ``start == end``."""
    out: list[tuple[int, int]] = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        stripped = raw.strip()
        start = pos + (raw.index(stripped[0]) if stripped else 0)
        out.append((start, start + len(stripped)))
        pos += len(raw)
    return out


def _block(text: str, lines: list[tuple[int, int]], after: int) -> tuple[tuple[int, int], ...]:
    """The lines under a header line: skip leading blanks, stop at a blank or dated line."""
    out: list[tuple[int, int]] = []
    for start, end in lines[after + 1 :]:
        if start == end:
            if out:
                break
            continue
        if DATE_HEAD.match(text, start) or len(out) >= _BLOCK_LIMIT:
            break
        out.append((start, end))
    return tuple(out)


def statements(doc: Document) -> Iterator[Statement]:
    """The statements of one note, in text order (read once per document and kept: the status,
    timeline and radiology tools all read the same notes)."""
    return iter(_statements(doc))


@functools.lru_cache(maxsize=512)
def _statements(doc: Document) -> tuple[Statement, ...]:
    return tuple(_read_statements(doc))


def _read_statements(doc: Document) -> Iterator[Statement]:
    text = doc.text
    lines = _raw_lines(text)
    for index, (start, end) in enumerate(lines):
        if start == end:
            continue
        sentences = split_sentences(text, start, end)
        if end - start > QUOTE_LIMIT:
            for a, b in sentences:
                yield Statement(doc, a, b, event_date(text, a, b))
            continue
        headed = bool(DATE_HEAD.match(text, start))
        groups: list[list[tuple[int, int, str | None]]] = []
        for a, b in sentences:
            date = event_date(text, a, b)
            if date or not groups or not headed:
                groups.append([(a, b, date)])
            else:
                groups[-1].append((a, b, date))
        block = _block(text, lines, index) if text[start:end].endswith(":") else ()
        for number, group in enumerate(groups):
            last = number == len(groups) - 1
            yield Statement(doc, group[0][0], group[-1][1], group[0][2], block if last else ())


_IMPRESSION = re.compile(r"\bimpression\s*:", re.IGNORECASE)
_IMPRESSION_END = re.compile(
    r"\b(?:dictated by|electronically signed|please note|transcribed by)\b|\n\s*\n", re.IGNORECASE
)
_ITEM = re.compile(r"(?:(?<=\s)|^)(\d{1,2})[.)]\s+")


def numbered_items(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the items of a numbered list ("1. ... 2. ...") in ``text[start:end]``, the
    markers left out; numbers must run 1, 2, 3 ... so that "series 2. This" is not an item.
    Without numbers, the whole stretch is one item."""
    markers: list[re.Match[str]] = []
    for match in _ITEM.finditer(text, start, end):
        if int(match.group(1)) == len(markers) + 1:
            markers.append(match)
    if not markers:
        return _trimmed([(start, end)], text)
    bounds = [m.end() for m in markers]
    ends = [m.start() for m in markers[1:]] + [end]
    return _trimmed(list(zip(bounds, ends, strict=True)), text)


def _trimmed(spans: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in spans:
        chunk = text[a:b]
        stripped = chunk.strip()
        if stripped:
            offset = a + chunk.index(stripped[0])
            out.append((offset, offset + len(stripped)))
    return out


def impression_items(text: str) -> list[tuple[int, int]]:
    """Spans of the items of a report's "Impression:" section (empty when it has none)."""
    match = _IMPRESSION.search(text)
    if not match:
        return []
    end_match = _IMPRESSION_END.search(text, match.end())
    end = end_match.start() if end_match else len(text)
    return numbered_items(text, match.end(), end)
