"""Dates and numbers of a claim, normalised so a claim can be compared with its evidence.

A date in any common format (``2021-03-04``, ``03/04/2021``, ``March 4, 2021``,
``4 March 2021``, ``March 2021``, ``2021-03``) becomes ``YYYY-MM-DD`` or ``YYYY-MM``. A number is
any word holding a digit (``59``, ``4.1``, ``T4N3M1a``, ``G12C``), compared as a whole word, with
leading zeros dropped. The names of markers whose digits are part of the name (``PD-L1``,
``HER2``, ``CA 19-9``) are names, not values, and are not numbers.
"""

from __future__ import annotations

import functools
import re

from magentic_health.tools._text import MONTHS

_MONTH = r"(?P<mon>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
DATE_PATTERN = re.compile(
    "|".join(
        (
            r"(?<![\w/.-])(?P<iy>\d{4})-(?P<im>\d{1,2})(?:-(?P<id>\d{1,2}))?(?![\d/])",
            r"(?<![\w/.-])(?P<um>\d{1,2})/(?P<ud>\d{1,2})/(?P<uy>\d{4})(?![\d/])",
            _MONTH.replace("mon", "m1") + r"\s+(?P<d1>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y1>\d{4})\b",
            r"\b(?P<d2>\d{1,2})(?:st|nd|rd|th)?\s+"
            + _MONTH.replace("mon", "m2")
            + r",?\s+(?P<y2>\d{4})\b",
            r"\b" + _MONTH.replace("mon", "m3") + r",?\s+(?P<y3>\d{4})\b",
        )
    ),
    re.IGNORECASE,
)
_NAMES = re.compile(
    r"\b(?:pd-?l-?1|pd-?1|ctla-?4|her-?2(?:/neu)?|erbb-?2|brca-?[12]|ki-?67|ca[- ]?19-9|ca[- ]?15-3"
    r"|ca[- ]?27[.-]29|ca-?125|cdk-?4/6|ntrk-?[123]|idh-?[12]|fgfr-?[1-4]|pik3ca|tp53|p53|p16"
    r"|cd\d+|trop-?2|b7-?h3|il-?\d+|t790m-?)\b",
    re.IGNORECASE,
)
_COUNT = re.compile(
    r"\b\d+\s+(?:records?|results?|orders?|sessions?|dates?|documents?|sources?|mentions?)\b",
    re.IGNORECASE,
)
"""Counts of the case's own records ("3 orders", "6 records on 6 dates"), derived by the tools."""
_AGE = re.compile(r"\bage\W{0,3}(\d{1,3})\b|\b(\d{1,3})[- ]?(?:years?[- ]old|y\.?\s?o\b)", re.I)
_GENE = re.compile(r"\b(?!NCT)[A-Z]{2,6}\d{1,2}[A-Z]{0,2}\b")
"""Gene symbols (STK11, BRCA1, PIK3CA, TP53): names whose digits are not values."""
_WORD = re.compile(r"[a-z0-9]*\d[a-z0-9]*(?:\.\d+)?", re.IGNORECASE)


def _norm(year: str, month: str | int, day: str | None) -> str | None:
    m = month if isinstance(month, int) else int(month)
    if not 1 <= m <= 12 or (day is not None and not 1 <= int(day) <= 31):
        return None
    return f"{int(year):04d}-{m:02d}" + (f"-{int(day):02d}" if day is not None else "")


def _one(match: re.Match[str]) -> str | None:
    g = match.groupdict()
    if g["iy"]:
        return _norm(g["iy"], g["im"], g["id"])
    if g["uy"]:
        return _norm(g["uy"], g["um"], g["ud"])
    for m, d, y in (("m1", "d1", "y1"), ("m2", "d2", "y2"), ("m3", None, "y3")):
        if g[m]:
            return _norm(g[y], MONTHS[g[m].lower()], g[d] if d else None)
    return None


@functools.lru_cache(maxsize=8192)
def dates_in(text: str) -> frozenset[str]:
    """Every date in ``text``, as ``YYYY-MM-DD`` or ``YYYY-MM``."""
    return frozenset(d for m in DATE_PATTERN.finditer(text) if (d := _one(m)) is not None)


def _number(word: str) -> str:
    word = word.casefold()
    return word.lstrip("0") or "0" if word.isdigit() else word


@functools.lru_cache(maxsize=8192)
def numbers_in(text: str) -> frozenset[str]:
    """Every word holding a digit in ``text``, dates and marker names included."""
    return frozenset(_number(w) for w in _WORD.findall(text))


def ages_in(text: str) -> frozenset[str]:
    """Ages stated in ``text`` ("Age: 59", "59-year-old", "59 y.o.")."""
    return frozenset(_number(a or b) for a, b in _AGE.findall(text))


@functools.lru_cache(maxsize=8192)
def claim_terms(claim: str) -> tuple[frozenset[str], frozenset[str]]:
    """A claim's dates, and its numbers outside those dates, marker names and record counts."""
    dates = dates_in(claim)
    rest = _COUNT.sub(" ", _NAMES.sub(" ", _GENE.sub(" ", DATE_PATTERN.sub(" ", claim))))
    return dates, numbers_in(rest)


def rounds_to(number: str, candidates: frozenset[str] | set[str]) -> bool:
    """Whether a decimal ``number`` ("4.54") is one of ``candidates`` rounded to its places
    (a claim may round "4.540451755355445")."""
    whole, _, places = number.partition(".")
    if not places or not whole.isdigit() or not places.isdigit():
        return False
    target = float(number)
    for candidate in candidates:
        try:
            value = float(candidate)
        except ValueError:
            continue
        if round(value, len(places)) == target:
            return True
    return False
