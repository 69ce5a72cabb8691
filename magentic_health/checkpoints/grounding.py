"""Grounding: every cited document exists in the case and every quote occurs in it."""

from __future__ import annotations

import functools
import re

from magentic_health.checkpoints._base import CheckContext, Verdict
from magentic_health.reply import SpecialistReply

_SPACE = re.compile(r"\s+")


@functools.lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Whitespace collapsed and case folded, the form in which quotes are compared.

    Cached: every quote of a run is checked against the same few documents."""
    return _SPACE.sub(" ", text).strip().casefold()


class GroundingCheckpoint:
    """Checks each finding's evidence against the case documents (whitespace and case folded)."""

    name = "grounding"

    def verify(self, reply: SpecialistReply, ctx: CheckContext) -> Verdict:
        failures: list[str] = []
        for i, finding in enumerate(reply.findings):
            for evidence in finding.evidence:
                doc = ctx.case.document(evidence.doc_id)
                if doc is None:
                    failures.append(
                        f"findings[{i}] cites {evidence.doc_id!r}, which is not a document "
                        "of this case"
                    )
                elif fold(evidence.quote) not in fold(doc.text):
                    failures.append(
                        f"findings[{i}]: quote {evidence.quote[:80]!r} does not occur in "
                        f"{evidence.doc_id!r}"
                    )
        return Verdict(name=self.name, passed=not failures, failures=tuple(failures))
