"""Consistency across agents: a reply must not contradict what earlier steps reported.

One agent's invented fact must not become the next agent's premise, and two agents must not
hand the board two versions of one fact unflagged. Each claim is read for a few attributes
(stage, histology, a biomarker's status, the date of an event); a value no earlier verified
reply gave for an attribute those replies did state is a conflict. Where the documents
themselves disagree (a restaging, two notes with two stages), the earlier replies already
carry both values, so restating either is not a conflict.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping

from magentic_health.checkpoints._base import CheckContext, Verdict, verdict
from magentic_health.checkpoints._numbers import DATE_PATTERN, dates_in
from magentic_health.reply import SpecialistReply

_ROMAN = {"0": "0", "1": "i", "2": "ii", "3": "iii", "4": "iv"}
_TNM = re.compile(
    r"(?<![a-z0-9])[cpy]?(t[0-4x](?:is|[a-d])?\d?n[0-3x][a-c]?\d?m[01x][a-d]?\d?)(?![a-z0-9])"
)
_GROUP = re.compile(
    r"\bstage(?:\s+group)?(?:\s*\([^)]*\))?[\s:]+(0|iv|i{1,3}|[1-4])([abc]\d?)?(?![a-z0-9])"
)
_GROUP_AFTER_TNM = re.compile(r"\bt[0-4x]\w*n[0-3x]\w*m[01x]\w*\s*\((iv|i{1,3}|0)([abc]\d?)?\)")
_HISTOLOGY = re.compile(
    r"adenocarcinoma|squamous cell carcinoma"
    r"|(?<!non-)(?<!non )small cell (?:lung )?(?:carcinoma|cancer)"
    r"|large cell carcinoma|ductal carcinoma|lobular carcinoma|carcinoma in situ|neuroendocrine"
    r"|mesothelioma|melanoma|sarcoma|lymphoma"
)
_MARKER = re.compile(
    r"\b(egfr|alk|ros1|kras|braf|ret|ntrk|her2|erbb2|er|pr|hr|pd-l1|msi|brca1|brca2|stk11)"
    r"\b(?:\s+receptor)?(?:\s+status)?[\s:]*"
    r"(positive|negative|pos|neg|not detected|detected|wild[- ]type|high|low|\d{1,3}\s?%"
    r"|p\.[a-z]\d+[a-z]|[a-z]\d{2,4}[a-z])(?![a-z0-9])"
)
_NORMAL = {"pos": "positive", "neg": "negative", "wild type": "wild-type"}
_KEY_NOISE = re.compile(r"[^a-z]+")
_CONFLICT = re.compile(r"conflicts with (\w+) on (the [^(]+?) \(")


def _group(numeral: str, letter: str | None) -> str:
    return _ROMAN.get(numeral, numeral) + (letter or "")


def _marker_value(value: str) -> str:
    value = value.replace(" ", "") if value.endswith("%") else value
    return _NORMAL.get(value, value.removeprefix("p."))


def attributes(claim: str) -> Iterator[tuple[str, str]]:
    """(attribute, value) pairs a claim states: stage, histology, biomarker, event date."""
    yield from _attributes(claim)


@functools.lru_cache(maxsize=8192)
def _attributes(claim: str) -> tuple[tuple[str, str], ...]:
    """``attributes``, remembered: every later step and the final answer re-read the claims
    of the replies before them."""
    return tuple(_read_attributes(claim))


def _read_attributes(claim: str) -> Iterator[tuple[str, str]]:
    text = claim.casefold()
    yield from (("the TNM stage", m.group(1)) for m in _TNM.finditer(text))
    for pattern in (_GROUP, _GROUP_AFTER_TNM):
        yield from (("the stage group", _group(*m.groups())) for m in pattern.finditer(text))
    yield from (("the histology", m.group(0)) for m in _HISTOLOGY.finditer(text))
    for m in _MARKER.finditer(text):
        yield f"the {m.group(1).upper()} status", _marker_value(m.group(2))
    dates = dates_in(claim)
    key = _KEY_NOISE.sub(" ", DATE_PATTERN.sub(" ", text)).strip()
    if dates and len(key) >= 8:
        yield from ((f"the date of '{key[:60]}'", d) for d in dates)


_NUMERAL = re.compile(r"^(0|iv|i{1,3})([a-z]?\d?)$")


def _same(value: str, other: str) -> bool:
    """Equal; for stage groups, one may be the less specific form ("iv" and "iva", not "i")."""
    if value == other:
        return True
    a, b = _NUMERAL.match(value), _NUMERAL.match(other)
    return bool(a and b and a[1] == b[1] and not (a[2] and b[2]))


def _compatible(value: str, known: Iterable[str]) -> bool:
    return any(_same(value, k) for k in known)


def _stated(prior: Mapping[str, SpecialistReply]) -> dict[str, dict[str, str]]:
    """attribute -> value -> the first agent that stated it."""
    stated: dict[str, dict[str, str]] = {}
    for reply in prior.values():
        for finding in reply.findings:
            for attribute, value in attributes(finding.claim):
                stated.setdefault(attribute, {}).setdefault(value, reply.agent)
    return stated


class ConsistencyCheckpoint:
    """Checks each claim against the claims of the replies verified before this one."""

    name = "consistency"

    def verify(self, reply: SpecialistReply, ctx: CheckContext) -> Verdict:
        others = {k: r for k, r in ctx.prior.items() if r.agent != reply.agent}
        stated = _stated(others)
        failures: list[str] = []
        for i, finding in enumerate(reply.findings):
            for attribute, value in dict.fromkeys(attributes(finding.claim)):
                known = stated.get(attribute)
                if known and not _compatible(value, known):
                    agent = next(iter(known.values()))
                    failures.append(
                        f"findings[{i}]: conflicts with {agent} on {attribute} (this reply: "
                        f"{value!r}; {agent}: {', '.join(repr(v) for v in known)})"
                    )
        return verdict(self.name, failures)


def conflict_topics(failures: Iterable[str]) -> list[str]:
    """ "<agent> on <attribute>" for each conflict among checkpoint failures, without the
    rejected values (for the final summary, which never repeats rejected content)."""
    return list(dict.fromkeys(f"{m[1]} on {m[2]}" for f in failures for m in _CONFLICT.finditer(f)))
