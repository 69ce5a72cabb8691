"""Checks on a model's answer beyond its shape: roster names, tier caps, a DAG plan.

Each check returns error lines to quote back to the model (empty when the answer is usable).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from magentic_health.case import Case
from magentic_health.config import TeamConfig
from magentic_health.plan import PlanStep, TaskLedger
from magentic_health.planners._llm_answers import (
    PlanDecision,
    ProgressAnswer,
    ReplanAnswer,
    StepAnswer,
)
from magentic_health.planners._protocol import StepOutcome

_STEP_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
_ADDRESSED = re.compile(r"^\s*@([A-Za-z][A-Za-z0-9_]*)\b")


def name_error(path: str, name: str, team: TeamConfig) -> str | None:
    """Why ``name`` is not a specialist of ``team`` (quoting the roster), or None."""
    names = [a.name for a in team.specialists]
    if name in names:
        return None
    choose = f"choose one of {', '.join(names)}"
    if name == team.facilitator.name:
        return f"{path}: {name!r} is the facilitator, not a specialist; {choose}"
    return f"{path}: {name!r} is not a team member; {choose}"


def _cycle(steps: Sequence[StepAnswer]) -> list[str]:
    """Ids of steps on or behind a dependency cycle (empty when the plan is a DAG)."""
    remaining = {s.id: set(s.depends_on) for s in steps}
    progress = True
    while progress:
        free = [sid for sid, deps in remaining.items() if not deps & remaining.keys()]
        progress = bool(free)
        for sid in free:
            del remaining[sid]
    return sorted(remaining)


def check_steps(
    steps: Sequence[StepAnswer], *, team: TeamConfig, known_ids: Collection[str] = ()
) -> list[str]:
    """Roster names, unique well-formed ids, known dependencies and no cycle."""
    errors: list[str] = []
    if not steps:
        return ["plan: empty; give at least one step"]
    ids = [s.id for s in steps]
    for i, s in enumerate(steps):
        if (err := name_error(f"plan[{i}].agent", s.agent, team)) is not None:
            errors.append(err)
        if not _STEP_ID.match(s.id):
            errors.append(f"plan[{i}].id: {s.id!r} must be letters, digits, '_', '.' or '-'")
        elif ids.count(s.id) > 1 and ids.index(s.id) == i:
            errors.append(f"plan[{i}].id: {s.id!r} is used by {ids.count(s.id)} steps")
        for dep in s.depends_on:
            if dep not in ids and dep not in known_ids:
                errors.append(f"plan[{i}].depends_on: {dep!r} is not a step id of this plan")
    if not errors and (looped := _cycle(steps)):
        errors.append(f"plan: steps {', '.join(looped)} depend on each other in a cycle")
    return errors


def check_decision(answer: PlanDecision, *, case: Case, team: TeamConfig) -> list[str]:
    """The triage within the roster and the tier cap; the plan a DAG over the selection."""
    errors = [
        err
        for i, name in enumerate(answer.selected)
        if (err := name_error(f"selected[{i}]", name, team)) is not None
    ]
    errors += [
        err
        for i, ex in enumerate(answer.excluded)
        if (err := name_error(f"excluded[{i}].agent", ex.agent, team)) is not None
    ]
    cap = team.team.complexity.cap(answer.complexity)
    if not answer.selected:
        errors.append("selected: empty; select at least one specialist")
    if len(set(answer.selected)) > cap:
        errors.append(
            f"selected: {len(set(answer.selected))} specialists exceed the {answer.complexity} "
            f"tier's cap of {cap}; select fewer or choose a higher tier"
        )
    addressed = _ADDRESSED.match(case.request)
    to = addressed.group(1) if addressed else None
    if to in {a.name for a in team.specialists} and list(answer.selected) != [to]:
        errors.append(f"selected: the request is addressed to @{to}; select only {to!r}")
    errors += check_steps(answer.plan, team=team)
    planned = {s.agent for s in answer.plan}
    for i, s in enumerate(answer.plan):
        if s.agent in answer.selected or name_error("", s.agent, team):
            continue
        errors.append(f"plan[{i}].agent: {s.agent!r} is not in selected; select it or drop it")
    errors += [
        f"plan: selected specialist {name!r} has no step"
        for name in answer.selected
        if name not in planned and not name_error("", name, team)
    ]
    return errors


def check_progress(answer: ProgressAnswer, *, ledger: TaskLedger) -> list[str]:
    """``next`` names only steps of the plan."""
    ids = [s.id for s in ledger.plan]
    return [
        f"next.answer[{i}]: {sid!r} is not a plan step id; choose from {', '.join(ids)}"
        for i, sid in enumerate(answer.next.answer)
        if sid not in ids
    ]


def check_replan(
    answer: ReplanAnswer,
    *,
    team: TeamConfig,
    cap: int,
    outcomes: Mapping[str, StepOutcome],
) -> list[str]:
    """A valid plan that does not rerun or depend on a failed step, within ``cap`` agents."""
    done = {sid for sid, o in outcomes.items() if o.status == "done"}
    failed = {sid for sid, o in outcomes.items() if o.status == "failed"}
    errors = check_steps(answer.plan, team=team, known_ids=done)
    for i, s in enumerate(answer.plan):
        if s.id in failed:
            errors.append(
                f"plan[{i}].id: {s.id!r} is a failed step and cannot run again; "
                "give the retry a new id"
            )
        errors += [
            f"plan[{i}].depends_on: {dep!r} failed; its output cannot be handed on"
            for dep in s.depends_on
            if dep in failed
        ]
    agents = {s.agent for s in answer.plan if s.id not in done}
    if len(agents) > cap:
        errors.append(f"plan: {len(agents)} different specialists exceed the cap of {cap}")
    return errors


def to_steps(steps: Sequence[StepAnswer], *, known: Collection[str] = ()) -> tuple[PlanStep, ...]:
    """Plan steps in dependency order (stable: plan order among ready steps); ``known`` ids
    count as already placed. Call only on steps that passed ``check_steps``."""
    pending = list(steps)
    placed: set[str] = set(known)
    ordered: list[PlanStep] = []
    while pending:
        step = next(s for s in pending if all(d in placed for d in s.depends_on))
        pending.remove(step)
        placed.add(step.id)
        ordered.append(
            PlanStep(
                id=step.id,
                agent=step.agent,
                instruction=step.instruction,
                depends_on=tuple(step.depends_on),
                critical=step.critical,
            )
        )
    return tuple(ordered)


def keep_completed(
    plan: tuple[PlanStep, ...], ledger: TaskLedger, outcomes: Mapping[str, StepOutcome]
) -> tuple[tuple[PlanStep, ...], list[str]]:
    """``plan`` with every completed step of ``ledger`` present and unchanged, completed
    steps first; notes say what was put back."""
    done = [s for s in ledger.plan if (o := outcomes.get(s.id)) and o.status == "done"]
    new = {s.id: s for s in plan}
    notes = []
    for s in done:
        if s.id not in new:
            notes.append(f"completed step {s.id} ({s.agent}) kept: the new plan had dropped it")
        elif new[s.id] != s:
            notes.append(
                f"completed step {s.id} ({s.agent}) kept as it ran: the new plan changed it"
            )
    done_ids = {s.id for s in done}
    return (*done, *(s for s in plan if s.id not in done_ids)), notes
