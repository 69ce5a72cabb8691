"""Role scope: an agent uses only its own tools and writes no treatment orders.

The team is research software that prepares a review for a tumor board: options are framed
for the board to consider ("the guideline describes ...", "the board may consider ..."); a
definitive order ("Start cisplatin 75 mg/m2", "administer ...", "prescribe ...") is out of
scope for every agent. What the case documents themselves say ("will plan to discontinue
pembrolizumab and start adagrasib") is reported, not ordered: quoted material (block quotes,
text in double quotes, sentences found in a case document) is not checked for orders.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from magentic_health.case import Case
from magentic_health.checkpoints._base import CheckContext, Verdict, verdict
from magentic_health.checkpoints.grounding import fold
from magentic_health.reply import SpecialistReply

_VERBS = (
    r"start|begin|initiate|commence|resume|administer|give|prescribe|order|infuse|discontinue"
    r"|switch\s+to"
)
_IMPERATIVE = re.compile(rf"^(?:please\s+)?(?:{_VERBS})\b", re.IGNORECASE)
_MODAL = re.compile(
    r"\b(?:will|shall|must|should|we)\s+(?:now\s+)?(?:be\s+)?"
    r"(?:start(?:ed)?|begin|initiated?|commenced?|administer(?:ed)?|give|given|prescribed?"
    r"|ordered|order|infused?|put\s+on)\b",
    re.IGNORECASE,
)
_ANYWHERE = re.compile(r"\bprescrib(?:e|es|ed|ing)\b|\badminister\b", re.IGNORECASE)
_DOSE_ORDER = re.compile(
    r"\border\b[^.\n]{0,60}?\b\d+(?:\.\d+)?\s*(?:mg|mcg|µg|ml|units?|iu)\b", re.IGNORECASE
)
_QUOTED = re.compile(r"\"[^\"\n]*\"|“[^”\n]*”")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_BULLET = re.compile(r"^(?:[-*•>|#]+\s*|\d+[.)]\s+|\*\*[^*]*\*\*:?\s*)+")


_CASE_TEXT: dict[int, tuple[Case, str]] = {}


def _case_text(case: Case) -> str:
    """Every document of the case, folded, kept for the few cases of recent runs."""
    cached = _CASE_TEXT.get(id(case))
    if cached is None or cached[0] is not case:
        if len(_CASE_TEXT) > 8:
            _CASE_TEXT.clear()
        cached = _CASE_TEXT[id(case)] = (case, "\n".join(fold(d.text) for d in case.documents))
    return cached[1]


def _own_sentences(text: str) -> Iterator[str]:
    """The sentences outside block quotes and double quotes, without list markers."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(">")]
    body = _QUOTED.sub(" ", "\n".join(lines))
    for raw in _SENTENCE.split(body):
        sentence = _BULLET.sub("", raw.strip()).strip()
        if len(sentence) > 3:
            yield sentence


def _orders(sentence: str) -> bool:
    return any(
        p.search(sentence) is not None for p in (_IMPERATIVE, _MODAL, _ANYWHERE, _DOSE_ORDER)
    )


def order_in(text: str, case: Case) -> str | None:
    """The first sentence of ``text`` that reads as a treatment order in the agent's own
    voice (not copied from a case document), or None."""
    for sentence in _order_like(text):
        if fold(sentence) not in _case_text(case):
            return sentence
    return None


@functools.lru_cache(maxsize=8192)
def _order_like(text: str) -> tuple[str, ...]:
    """The sentences of ``text`` that read as orders, remembered (the final answer and later
    attempts repeat earlier texts and claims)."""
    return tuple(s for s in _own_sentences(text) if _orders(s))


class RoleScopeCheckpoint:
    """Checks that the reply used only the agent's tools and that neither its text nor its
    claims give a treatment order."""

    name = "scope"

    def verify(self, reply: SpecialistReply, ctx: CheckContext) -> Verdict:
        failures: list[str] = []
        if ctx.agent is not None:
            allowed = set(ctx.agent.tools)
            failures += [
                f"used tool {tool!r}, which is not among {ctx.agent.name}'s tools "
                f"({', '.join(sorted(allowed)) or 'none'})"
                for tool in reply.tools_used
                if tool not in allowed
            ]
        order = order_in(reply.text, ctx.case)
        if order is not None:
            failures.append(
                f"the text gives a treatment order ({order[:80]!r}); describe options for the "
                "board to consider instead"
            )
        for i, finding in enumerate(reply.findings):
            order = order_in(finding.claim, ctx.case)
            if order is not None:
                failures.append(
                    f"findings[{i}]: the claim gives a treatment order ({order[:80]!r}); "
                    "report what the documents say instead"
                )
        return verdict(self.name, failures)
