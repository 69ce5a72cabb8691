"""Reading free text: statement units (lines or sentences), ISO dates, and verbatim quotes.

Every quote a tool cites is a slice of the document text, so it occurs in the document by
construction; these helpers only decide where a slice starts and ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

QUOTE_LIMIT = 300
"""Longest quote (characters) a tool cites; longer statements are cut around the match."""

ISO_DATE = re.compile(r"\b((?:19|20)\d{2})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\b")

# A sentence ends at . ! or ? followed by space and a capital, digit or list marker.
_SENTENCE_END = re.compile(r"[.!?]\s+(?=[A-Z0-9(*\-])")
# Words after which a period does not end a sentence.
_ABBREVIATIONS = frozenset(
    {"dr", "mr", "mrs", "ms", "st", "vs", "approx", "no", "fig", "e.g", "i.e", "y.o", "d.o"}
)


@dataclass(frozen=True)
class Unit:
    """A statement: a slice ``[start, end)`` of a text, with no surrounding whitespace."""

    start: int
    end: int
    line_start: int
    """Where the line holding the statement starts (statements never cross lines)."""

    def text(self, source: str) -> str:
        return source[self.start : self.end]


def iter_lines(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each non-blank line, trimmed of surrounding whitespace."""
    pos = 0
    for raw in text.splitlines(keepends=True):
        stripped = raw.strip()
        if stripped:
            start = pos + raw.index(stripped[0])
            yield start, start + len(stripped)
        pos += len(raw)


def _ends_sentence(text: str, period_at: int, line_start: int) -> bool:
    """False when the period closes an abbreviation or a list marker (``1.``, ``a.``)."""
    if text[period_at] != ".":
        return True
    word_start = period_at
    while word_start > line_start and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:period_at].lower().lstrip("(")
    if word in _ABBREVIATIONS:
        return False
    return not ((word.isdigit() and len(word) <= 2) or (len(word) == 1 and word.isalpha()))


def split_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans inside one line ``text[start:end]``."""
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if not _ends_sentence(text, match.start(), start):
            continue
        spans.append((cursor, match.start() + 1))
        cursor = match.end()
    if cursor < end:
        spans.append((cursor, end))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def units(text: str, *, limit: int = QUOTE_LIMIT) -> list[Unit]:
    """Statement units of a text: a line when it is short, else its sentences.

    Short lines (lists, headings, dated entries) are read whole, which keeps a date heading
    ("2020-03-30: Bronchoscopy ... Pathology diagnosis:") with what follows it; long lines are
    paragraphs, where a date or a finding belongs to its own sentence only.
    """
    out: list[Unit] = []
    for start, end in iter_lines(text):
        if end - start <= limit:
            out.append(Unit(start, end, start))
            continue
        out.extend(Unit(a, b, start) for a, b in split_sentences(text, start, end))
    return out


def window(text: str, start: int, end: int, focus: int, *, limit: int = QUOTE_LIMIT) -> str:
    """The verbatim slice ``text[start:end]`` trimmed, or at most ``limit`` characters of it
    around ``focus``, cut at word boundaries."""
    if end - start > limit:
        half = limit // 2
        lo = max(start, min(focus - half, end - limit))
        hi = min(end, lo + limit)
        if lo > start:
            space = text.find(" ", lo, lo + 40)
            lo = space + 1 if space != -1 else lo
        if hi < end:
            space = text.rfind(" ", hi - 40, hi)
            hi = space if space > lo else hi
        start, end = lo, hi
    return text[start:end].strip()


def quote(text: str, unit: Unit, *, focus: int | None = None) -> str:
    """The quote for a statement unit (cut around ``focus`` when the unit is too long)."""
    return window(text, unit.start, unit.end, unit.start if focus is None else focus)


def clip(text: str, limit: int = 160) -> str:
    """``text`` with whitespace collapsed, shortened at a word boundary with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit)
    return flat[: cut if cut > limit // 2 else limit].rstrip(" ,;:") + "…"


_PARTIAL_DATE = re.compile(r"(?:19|20)\d{2}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)?")


def iso_day(value: str | None) -> str | None:
    """The date part of an ISO date or datetime (``YYYY-MM-DD``, or ``YYYY-MM`` / ``YYYY`` when
    the source gives no more), or None."""
    if not value:
        return None
    match = _PARTIAL_DATE.match(value.strip())
    return match.group(0) if match else None


def days_apart(a: str, b: str) -> int | None:
    """Days between two ISO dates; None unless both are full ``YYYY-MM-DD`` dates."""
    if not (ISO_DATE.fullmatch(a) and ISO_DATE.fullmatch(b)):
        return None
    return abs((date.fromisoformat(a) - date.fromisoformat(b)).days)


MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?:19|20)\d{2}"
# Written dates besides ISO: "03/14/2022" (month first; day first when the first number is
# over 12), "March 14, 2022", "14 March 2022", and month only: "March 2022", "december, 2019".
ANY_DATE = re.compile(
    ISO_DATE.pattern
    + rf"|\b(?P<n1>\d{{1,2}})/(?P<n2>\d{{1,2}})/(?P<ny>{_YEAR})\b"
    + rf"|\b(?P<m1>{_MONTH})\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y1>{_YEAR})\b"
    + rf"|\b(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m2>{_MONTH}),?\s+(?P<y2>{_YEAR})\b"
    + rf"|\b(?P<m3>{_MONTH}),?\s+(?P<y3>{_YEAR})\b(?!-\d)",
    re.IGNORECASE,
)


def _valid(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def date_of(match: re.Match[str]) -> str | None:
    """The ISO date (``YYYY-MM-DD``, or ``YYYY-MM`` for a month) an ``ANY_DATE`` match names,
    or None when it is not a real date."""
    groups = match.groupdict()
    if groups["n1"]:
        first, second = int(groups["n1"]), int(groups["n2"])
        month, day = (second, first) if first > 12 else (first, second)
        return _valid(int(groups["ny"]), month, day)
    for m, d, y in (("m1", "d1", "y1"), ("m2", "d2", "y2")):
        if groups[m]:
            return _valid(int(groups[y]), MONTHS[groups[m].lower().rstrip(".")], int(groups[d]))
    if groups["m3"]:
        return f"{groups['y3']}-{MONTHS[groups['m3'].lower().rstrip('.')]:02d}"
    return _valid(*(int(match.group(i)) for i in (1, 2, 3)))


_A_YEAR = re.compile(_YEAR)


def dates_in(text: str, start: int = 0, end: int | None = None) -> list[tuple[re.Match[str], str]]:
    """Every written date in ``text[start:end]`` with its ISO form, in text order."""
    stop = len(text) if end is None else end
    if not _A_YEAR.search(text, start, stop):  # every written form has a year
        return []
    return [(m, iso) for m in ANY_DATE.finditer(text, start, stop) if (iso := date_of(m))]
