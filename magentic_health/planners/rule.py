"""The offline engine's planner: deterministic rules in place of a language model.

It makes the same decisions as a model-driven planner (triage, task ledger, progress ledger,
re-plan, synthesis) from the request's wording, the team configuration and the step outcomes,
so a run is reproducible and free. Every output it produces says so.
"""

from __future__ import annotations

from collections.abc import Mapping

from magentic_health.case import Case
from magentic_health.config import AgentConfig, TeamConfig
from magentic_health.plan import (
    BoolAnswer,
    Facts,
    NextAnswer,
    PlanStep,
    ProgressLedger,
    TaskLedger,
    Triage,
)
from magentic_health.planners._intents import rule_triage
from magentic_health.planners._protocol import FinalAnswer, StepOutcome, ready_steps
from magentic_health.planners._synthesis import synthesize

ENGINE_LABEL = "offline rule engine (deterministic; no language model)"

_TOOL_INSTRUCTIONS: dict[str, str] = {
    "patient_timeline": "Build a dated timeline of the cancer history (diagnosis, procedures, "
    "imaging, pathology, biomarkers, treatments, responses), citing each event's source.",
    "search_notes": "Search the notes for passages that bear on the request.",
    "patient_status": "State the current status: diagnosis, histology, stage (TNM and group), "
    "biomarkers, performance status and lines of therapy, each with its quote; report values "
    "that disagree across documents as conflicts.",
    "radiology": "Review the imaging reports: per study its date, modality, key findings and "
    "the comparison with prior studies.",
    "clinical_guidelines": "Retrieve guideline passages for this diagnosis, stage and these "
    "biomarkers, with file and section citations.",
    "clinical_trials": "Find trials matching diagnosis, stage, biomarkers, age and sex; quote "
    "the criteria that match and those that would exclude the patient.",
    "report_export": "Write the tumor board report from the verified outputs of the other "
    "steps, citing every statement and listing open questions.",
}
_SERVES_INTENT: dict[str, str] = {
    "report_export": "tumor_board",
    "patient_status": "status",
    "clinical_trials": "trials",
    "clinical_guidelines": "guidelines",
    "radiology": "imaging",
    "patient_timeline": "history",
}


def _instruction(agent: AgentConfig) -> str:
    parts = [_TOOL_INSTRUCTIONS[t] for t in agent.tools if t in _TOOL_INSTRUCTIONS]
    return " ".join(parts) or agent.description


def _critical(agent: AgentConfig, triage: Triage) -> bool:
    """A step is critical when it serves one of the request's intents directly."""
    if triage.intents in (("addressed",), ("open_question",)):
        return True
    return any(_SERVES_INTENT.get(t) in triage.intents for t in agent.tools)


def _facts(case: Case, triage: Triage) -> Facts:
    kinds: dict[str, int] = {}
    for doc in case.documents:
        kinds[doc.kind] = kinds.get(doc.kind, 0) + 1
    dates = sorted(d.date[:10] for d in case.documents if d.date)
    patient = case.patient
    given = [
        f"Request: {case.request}",
        "Documents: "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        + (f", dated {dates[0]} to {dates[-1]}" if dates else ""),
    ]
    if patient.age is not None or patient.sex:
        given.append(f"Patient: age {patient.age or 'unknown'}, sex {patient.sex or 'unknown'}")
    if case.images:
        given.append(f"Images: {len(case.images)} ({', '.join(i.modality for i in case.images)})")
    to_look_up = [
        f"{intent.replace('_', ' ')} (from the case documents)" for intent in triage.intents
    ]
    to_derive = []
    if {"trials", "guidelines"} & set(triage.intents) or "tumor_board" in triage.intents:
        to_derive.append("trial and guideline relevance, from diagnosis, stage and biomarkers")
    return Facts(
        given=tuple(given),
        to_look_up=tuple(to_look_up),
        to_derive=tuple(to_derive),
        educated_guesses=("none: the offline engine states only what the documents say",),
    )


def _plan(team: TeamConfig, triage: Triage) -> tuple[PlanStep, ...]:
    """One step per selected specialist, in dependency order, depending on the selected
    specialists its configuration names."""
    agents = [a for a in team.specialists if a.name in triage.selected]
    order: list[AgentConfig] = []
    placed: set[str] = set()
    while len(order) < len(agents):  # config validation guarantees no cycles
        for agent in agents:
            deps = [d for d in agent.depends_on if d in triage.selected]
            if agent.name not in placed and all(d in placed for d in deps):
                order.append(agent)
                placed.add(agent.name)
    ids = {a.name: f"s{i}" for i, a in enumerate(order, start=1)}
    return tuple(
        PlanStep(
            id=ids[a.name],
            agent=a.name,
            instruction=_instruction(a),
            depends_on=tuple(ids[d] for d in a.depends_on if d in ids),
            critical=_critical(a, triage),
        )
        for a in order
    )


class RulePlanner:
    """The deterministic planner of the offline engine."""

    @property
    def engine(self) -> str:
        return ENGINE_LABEL

    async def triage(self, case: Case, team: TeamConfig) -> Triage:
        return rule_triage(case, team)

    async def task_ledger(self, case: Case, team: TeamConfig, triage: Triage) -> TaskLedger:
        return TaskLedger(version=1, facts=_facts(case, triage), plan=_plan(team, triage))

    async def progress(
        self,
        case: Case,
        team: TeamConfig,
        ledger: TaskLedger,
        outcomes: Mapping[str, StepOutcome],
        *,
        wave: int,
    ) -> ProgressLedger:
        pending = [s.id for s in ledger.plan if s.id not in outcomes]
        ready = [s.id for s in ready_steps(ledger, outcomes)]
        this_wave = [o for o in outcomes.values() if o.wave == wave]
        done_now = [o.step.id for o in this_wave if o.status == "done"]
        failed = sorted(sid for sid, o in outcomes.items() if o.status == "failed")
        blocked = sorted(set(pending) - set(ready))
        return ProgressLedger(
            is_request_satisfied=BoolAnswer(
                answer=not pending,
                reason="every planned step has finished"
                if not pending
                else f"{len(pending)} step(s) still to run: {', '.join(pending)}",
            ),
            is_in_loop=BoolAnswer(
                answer=False,
                reason="the rule planner runs each step once (plus its retries)",
            ),
            is_progress_being_made=BoolAnswer(
                answer=bool(done_now),
                reason=f"wave {wave} completed {', '.join(done_now)}"
                if done_now
                else f"wave {wave} completed no step"
                + (f"; failed: {', '.join(failed)}" if failed else "")
                + (f"; blocked on failed steps: {', '.join(blocked)}" if blocked else ""),
            ),
            next=NextAnswer(
                answer=tuple(ready),
                reason="steps whose dependencies have completed" if ready else "no step is ready",
            ),
        )

    async def replan(
        self,
        case: Case,
        team: TeamConfig,
        ledger: TaskLedger,
        outcomes: Mapping[str, StepOutcome],
        *,
        reason: str,
    ) -> TaskLedger:
        """Failed steps become explicit gaps; their dependents go ahead without them. The
        evidence of completed steps is kept."""
        failed = {sid for sid, o in outcomes.items() if o.status == "failed"}
        gaps = tuple(
            f"gap: step {sid} ({outcomes[sid].step.agent}) failed: "
            + "; ".join(outcomes[sid].failures[:3])
            for sid in sorted(failed)
        )
        plan = tuple(
            s.model_copy(update={"depends_on": tuple(d for d in s.depends_on if d not in failed)})
            for s in ledger.plan
            if s.id not in failed
        )
        facts = ledger.facts.model_copy(
            update={"given": (*ledger.facts.given, f"re-plan: {reason}", *gaps)}
        )
        if not plan:  # nothing left to run: keep the old plan so the ledger stays valid
            plan = ledger.plan
        return TaskLedger(version=ledger.version + 1, facts=facts, plan=plan)

    async def synthesize(
        self,
        case: Case,
        team: TeamConfig,
        triage: Triage,
        ledger: TaskLedger,
        outcomes: Mapping[str, StepOutcome],
    ) -> FinalAnswer:
        return synthesize(case, triage, ledger, outcomes, engine=ENGINE_LABEL)
