"""The reply contract: the shape of a specialist reply and the agent's role scope."""

from __future__ import annotations

from magentic_health.checkpoints._base import CheckContext, Verdict
from magentic_health.reply import SpecialistReply


class ContractCheckpoint:
    """Checks that a reply has text, findings or gaps, evidence for every finding, and used
    only the tools its agent was given."""

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
        if ctx.agent is not None:
            allowed = set(ctx.agent.tools)
            for tool in reply.tools_used:
                if tool not in allowed:
                    failures.append(
                        f"used tool {tool!r}, which is not among {ctx.agent.name}'s tools "
                        f"({', '.join(sorted(allowed)) or 'none'})"
                    )
        return Verdict(name=self.name, passed=not failures, failures=tuple(failures))
