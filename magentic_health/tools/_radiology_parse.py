"""Reading imaging text: the comparison study a report names and measurement changes.

Changes are read from three phrasings found in reports and notes:
"3.6 x 2.5 cm as opposed to 2.7 x 2.4 cm" / "SUV max 4.3 compared with 10.1" (current first),
"max SUV of 4.5, previously 4.8" (current first), and "7 x 6 mm ... nodule now measured at
10 x 4 mm" (prior first). The lesion is named by the words before the measurement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from magentic_health.tools._text import dates_in, split_sentences, window
from magentic_health.tools._vocab import modality_of

_NUM = r"\d+(?:\.\d+)?"
MEASURE = (
    rf"(?<![\w.-]){_NUM}(?:\s*(?:x|by)\s*{_NUM})*(?:\s*(?:cm|mm|millimeters?|centimeters?)\b)?"
)
_CURRENT_FIRST = re.compile(
    rf"(?P<cur>{MEASURE})\s*,?\s*(?:as opposed to|compared (?:with|to)|versus|"
    rf"vs\.?|previously(?: measured at)?)\s+(?P<prior>{MEASURE})",
    re.I,
)
_PRIOR_FIRST = re.compile(
    rf"(?P<prior>{MEASURE})\s+(?:[\w-]+\s+){{0,6}}?now measured at\s+(?P<cur>{MEASURE})", re.I
)
_COMPARISON = re.compile(r"\bcomparison\s*:\s*(?P<what>.+?)(?=\s+findings\s*:|\.\s|\n|$)", re.I)
_FILLER_TEXT = (
    "now measured measures measuring measure at is are was of has have with within a an the "
    "max suv this which it that as example identified region cm mm millimeter millimeters "
    "previously there demonstrated noted seen"
)
_FILLER = frozenset(_FILLER_TEXT.split())


@dataclass(frozen=True)
class Change:
    """A measurement now and before, the words naming what was measured, and the quote."""

    lesion: str
    quantity: str
    current: str
    prior: str
    quote: str


def _lesion(prefix: str) -> str:
    """What was measured: the first words of the phrase before the measurement, after any
    heading ("Impression: 1.") and leading filler, up to the first verb or filler word."""
    phrase = re.split(r"[:;]", prefix)[-1]
    words = re.findall(r"[A-Za-z][\w/-]*|\d+(?:\.\d+)?", phrase)
    while words and (words[0].lower() in _FILLER or words[0][0].isdigit()):
        words.pop(0)
    named: list[str] = []
    for word in words:
        if word.lower() in _FILLER or word[0].isdigit():
            break
        named.append(word)
    return " ".join(named[:6]) or "lesion"


def changes_in(text: str, start: int, end: int) -> list[Change]:
    """Measurement changes stated in ``text[start:end]``, one quote (sentence) each."""
    found: list[Change] = []
    for s_start, s_end in split_sentences(text, start, end):
        sentence = text[s_start:s_end]
        for pattern in (_CURRENT_FIRST, _PRIOR_FIRST):
            for match in pattern.finditer(sentence):
                first = min(match.start("cur"), match.start("prior"))
                before = sentence[:first]
                quantity = "SUV max" if "suv" in before.lower() else "size"
                lesion = (
                    _lesion(before)
                    if pattern is _CURRENT_FIRST
                    else _lesion(sentence[match.end("prior") : match.start("cur")])
                )
                quote = window(text, s_start, s_end, s_start + match.start())
                found.append(
                    Change(lesion, quantity, match.group("cur"), match.group("prior"), quote)
                )
    return found


@dataclass(frozen=True)
class PriorStudy:
    """The earlier study a report was compared with: modality, date, the words naming it."""

    modality: str
    date: str
    what: str
    quote: str


def prior_study(text: str, modality: str) -> PriorStudy | None:
    """The dated prior study a report's "Comparison:" names ("chest ct of 2020-06-03"), or
    None when it names no date. Without a modality of its own it is taken to be the report's."""
    compared = comparison_in(text)
    if compared is None:
        return None
    what, quote = compared
    found = dates_in(what)
    if not found or len(found[0][1]) != 10:
        return None
    return PriorStudy(modality_of(what) or modality, found[0][1], what, quote)


def comparison_in(text: str) -> tuple[str, str] | None:
    """``(what, quote)`` of a report's "Comparison:" statement, or None."""
    match = _COMPARISON.search(text)
    if not match:
        return None
    what = match.group("what").strip().rstrip(".")
    return what, window(text, match.start(), match.end(), match.start())
