"""The reply contract: the shape of a specialist reply."""

from __future__ import annotations

from magentic_health.checkpoints._base import CheckContext, Verdict, verdict
from magentic_health.reply import SpecialistReply


class ContractCheckpoint:
    """Checks that a reply has text, findings or gaps, and evidence for every finding.

    The agent's tools and the wording of its reply are the role scope's (``scope``)."""

    name = "contract"

    def verify(self, reply: SpecialistReply, ctx: CheckContext) -> Verdict:
        failures: list[str] = []
        if not reply.text.strip():
            failures.append("the reply has no text for people")
        if not reply.findings and not reply.gaps:
            failures.append("the reply has neither findings nor gaps")
        for i, finding in enumerate(reply.findings):
            if not finding.claim.strip():
                failures.append(f"findings[{i}] has an empty claim")
            if not finding.evidence:
                failures.append(f"findings[{i}] ({finding.claim[:60]!r}) has no evidence")
        for i, gap in enumerate(reply.gaps):
            if not gap.strip():
                failures.append(f"gaps[{i}] is empty")
        return verdict(self.name, failures)
