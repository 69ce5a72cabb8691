"""Cancer types and stage groups as the guideline and trial tools read them.

Both tools need the same two answers: which cancer does the diagnosis name, and which stage
group (0, I, II, III, IV) is the patient in. Written once here so they agree.
"""

from __future__ import annotations

import functools
import re
from typing import Literal

CancerType = Literal["nsclc", "sclc", "colon", "rectal", "prostate", "breast"]

_DIAGNOSIS: tuple[tuple[CancerType, re.Pattern[str]], ...] = (
    (
        "nsclc",
        re.compile(
            r"non[-\s]?small[-\s]?cell|\bnsclc\b|(?:adeno|squamous cell |large cell )carcinoma"
            r" of (?:the )?lung|lung adenocarcinoma",
            re.IGNORECASE,
        ),
    ),
    ("sclc", re.compile(r"(?<!non)(?<!non-)(?<!non )small[-\s]?cell|\bsclc\b", re.IGNORECASE)),
    ("colon", re.compile(r"\bcolon\b|colorectal|\bcolonic\b|\bc(?:a)?ecum\b|sigmoid", re.I)),
    ("rectal", re.compile(r"\brect(?:al|um)\b", re.IGNORECASE)),
    ("prostate", re.compile(r"prostat", re.IGNORECASE)),
    ("breast", re.compile(r"\bbreast\b", re.IGNORECASE)),
)
_LUNG = re.compile(r"\blung\b|pulmonary", re.IGNORECASE)

ROMAN: tuple[str, ...] = ("0", "I", "II", "III", "IV")
_ARABIC = {"0": "0", "1": "I", "2": "II", "3": "III", "4": "IV"}
_NUMERAL = r"(?:[0-4]|IV|I{1,3})[A-C]?\d?(?![A-Za-z0-9])"
_STAGE_LIST = re.compile(
    rf"(?i:\bstages?)\s+({_NUMERAL}(?:\s*(?:,\s*and|,\s*or|and/or|and|or|to|through|,|-|–)\s*"
    rf"(?i:stage\s+)?{_NUMERAL})*)"
)
_NUMERAL_TOKEN = re.compile(_NUMERAL)
_RANGE = re.compile(r"^\s*(?:-|–|to|through)\s*$", re.IGNORECASE)


def cancer_types(diagnosis: str) -> tuple[CancerType, ...]:
    """The cancer types a diagnosis names; a bare "lung cancer" names both lung types."""
    found: list[CancerType] = [kind for kind, pattern in _DIAGNOSIS if pattern.search(diagnosis)]
    if "nsclc" in found and "sclc" in found:
        found.remove("sclc")  # "non-small cell ... small cell component" is still NSCLC first
    if "colon" in found and "rectal" in found:
        found.remove("rectal")
    if not found and _LUNG.search(diagnosis):
        found = ["nsclc", "sclc"]
    return tuple(found)


def stage_base(stage: str | None) -> str | None:
    """The stage group without its letter: "IVA" -> "IV", "Stage 3A" -> "III", "0" -> "0"."""
    if not stage:
        return None
    match = re.search(r"(?<![A-Za-z])(IV|I{1,3}|[0-4])(?:[A-C]\d?)?(?![A-Za-z0-9])", stage)
    if match is None:
        return None
    token = match.group(1)
    return _ARABIC.get(token, token)


def stages_named(text: str, *, roman_only: bool = False) -> set[str]:
    """Base stage groups a text names after "stage(s)", ranges expanded: "Stages I-III" ->
    {"I", "II", "III"}; "Stage I or IV breast cancer" -> {"I", "IV"}. ``roman_only`` ignores
    arabic numbers, which trial protocols also use for study stages ("Stages 1 and 2: ...")."""
    named: set[str] = set()
    for listing in _STAGE_LIST.finditer(text):
        span = listing.group(1)
        tokens = list(_NUMERAL_TOKEN.finditer(span))
        if roman_only:
            tokens = [t for t in tokens if not t.group(0)[0].isdigit()]
        bases = [stage_base(t.group(0)) for t in tokens]
        for i, base in enumerate(bases):
            if base is None:
                continue
            named.add(base)
            if (
                i
                and bases[i - 1] is not None
                and _RANGE.match(span[tokens[i - 1].end() : tokens[i].start()])
            ):
                low, high = ROMAN.index(bases[i - 1] or "0"), ROMAN.index(base)
                named.update(ROMAN[low : high + 1])
    return named


@functools.lru_cache(maxsize=65536)
def roman_stages(text: str) -> frozenset[str]:
    """``stages_named(text, roman_only=True)``, cached: the trial tools ask it of the same
    criteria for every patient. Only a text that says "stage" can name one."""
    if "stage" not in text.lower():
        return frozenset()
    return frozenset(stages_named(text, roman_only=True))
