"""Follow-ups: the verified outcomes of earlier runs on the same case, carried into a new plan.

A planned step is satisfied by an earlier outcome when the same agent did the same work: the
same instruction (whitespace and case folded) and either the same request or a specialist whose
reply does not depend on the request's wording. Reused steps are not handed off again; their
outputs reach dependent steps and the synthesis like any completed step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from magentic_health.agents import Specialist
from magentic_health.checkpoints import fold
from magentic_health.plan import TaskLedger
from magentic_health.planners import StepOutcome
from magentic_health.team._state import PriorOutcome


def _reads_request(specialist: Specialist | None) -> bool:
    return bool(getattr(specialist, "reads_request", True))


def reuse_prior(
    ledger: TaskLedger,
    prior: Sequence[PriorOutcome],
    *,
    request: str,
    specialists: Mapping[str, Specialist],
) -> tuple[TaskLedger, dict[str, StepOutcome]]:
    """The ledger (facts noting each reuse) and the outcomes seeded for the new plan's steps."""
    seeded: dict[str, StepOutcome] = {}
    notes: list[str] = []
    for step in ledger.plan:
        for earlier in reversed(prior):  # the most recent matching outcome wins
            old = earlier.outcome
            if old.status != "done" or old.step.agent != step.agent:
                continue
            if fold(old.step.instruction) != fold(step.instruction):
                continue
            same_request = fold(earlier.request) == fold(request)
            if not same_request and _reads_request(specialists.get(step.agent)):
                continue
            seeded[step.id] = old.model_copy(update={"step": step, "wave": 0})
            notes.append(
                f"follow-up: step {step.id} ({step.agent}) reuses the verified output "
                f"of run {earlier.run_id[:8]} step {old.step.id}"
            )
            break
    if not notes:
        return ledger, seeded
    facts = ledger.facts.model_copy(update={"given": (*ledger.facts.given, *notes)})
    return ledger.model_copy(update={"facts": facts}), seeded
