"""What the planner's prompts show the model: the case, the team and the run so far, bounded.

Case text reaches the model only (never the logs). Large cases are summarised: document counts
by type, the date range, and the first documents by id, so a 3,000-resource FHIR bundle does not
flood the triage prompt.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping

import orjson

from magentic_health._once import first_mentions
from magentic_health.case import Case
from magentic_health.config import TeamConfig
from magentic_health.plan import Facts, TaskLedger
from magentic_health.planners._protocol import StepOutcome
from magentic_health.reply import FINDINGS

MAX_LISTED_DOCUMENTS = 40
MAX_REPLY_CHARS = 4000
MAX_FINDINGS = 40


def case_overview(case: Case) -> str:
    """Patient, document counts and the first documents (id, date, type)."""
    p = case.patient
    lines = [f"Patient: age {p.age if p.age is not None else 'unknown'}, sex {p.sex or 'unknown'}"]
    types = Counter(f"{d.kind}/{d.type}" for d in case.documents)
    dates = sorted(d.date[:10] for d in case.documents if d.date)
    span = f", dated {dates[0]} to {dates[-1]}" if dates else ""
    lines.append(f"Documents: {len(case.documents)}{span}")
    lines += [f"- {n} x {t}" for t, n in types.most_common(15)]
    if len(types) > 15:
        lines.append(f"- ... and {len(types) - 15} more types")
    listed = [d for d in case.documents if d.kind != "fhir"] or list(case.documents)
    lines.append("Documents by id:")
    lines += [
        f"- {d.id} ({d.date[:10] if d.date else 'undated'}, {d.type})"
        for d in listed[:MAX_LISTED_DOCUMENTS]
    ]
    if len(listed) > MAX_LISTED_DOCUMENTS:
        lines.append(f"- ... and {len(listed) - MAX_LISTED_DOCUMENTS} more")
    if case.images:
        lines.append(f"Images: {', '.join(f'{i.id} ({i.modality})' for i in case.images)}")
    return "\n".join(lines)


def roster(team: TeamConfig) -> str:
    """One line per specialist: name, description, tools and whose outputs it needs."""
    lines = []
    for a in team.specialists:
        needs = f"; needs: {', '.join(a.depends_on)}" if a.depends_on else ""
        lines.append(f"- {a.name}: {a.description} (tools: {', '.join(a.tools)}{needs})")
    return "\n".join(lines)


def caps(team: TeamConfig) -> str:
    c = team.team.complexity
    return f"low {c.low}, moderate {c.moderate}, high {c.high}"


def facts_text(facts: Facts) -> str:
    return json.dumps(facts.model_dump(mode="json"), indent=1, ensure_ascii=False)


def _status(step_id: str, outcomes: Mapping[str, StepOutcome]) -> str:
    outcome = outcomes.get(step_id)
    if outcome is None:
        return "not run"
    if outcome.status == "done":
        return f"done in wave {outcome.wave}"
    failures = "; ".join(f[:200] for f in outcome.failures[:3]) or "no reply"
    return f"FAILED in wave {outcome.wave}: {failures}"


def plan_status(ledger: TaskLedger, outcomes: Mapping[str, StepOutcome]) -> str:
    """Each step with its agent, dependencies, criticality and outcome."""
    lines = []
    for s in ledger.plan:
        deps = ", ".join(s.depends_on) or "none"
        crit = "critical" if s.critical else "not critical"
        lines.append(
            f"- {s.id} {s.agent} ({crit}; depends on {deps}): {_status(s.id, outcomes)}\n"
            f"  instruction: {s.instruction}"
        )
    return "\n".join(lines)


def replies_text(ledger: TaskLedger, outcomes: Mapping[str, StepOutcome]) -> str:
    """The completed steps' markdown (bounded) and findings as JSON, each finding under the
    first step that reported it (the report writer's reply repeats the findings it gathers;
    listing them again would only add prompt tokens)."""
    parts = []
    shown: set[bytes] = set()
    for s in ledger.plan:
        o = outcomes.get(s.id)
        if o is None or o.status != "done" or o.reply is None:
            continue
        text = o.reply.text.strip()
        if len(text) > MAX_REPLY_CHARS:
            text = text[:MAX_REPLY_CHARS] + "\n[... truncated]"
        dumped = FINDINGS.dump_python(o.reply.findings, mode="json")
        fresh, repeated, _ = first_mentions(map(orjson.dumps, dumped), shown, MAX_FINDINGS)
        note = f" (not repeating {repeated} listed above)" if repeated else ""
        findings = (b"[" + b",".join(fresh) + b"]").decode("utf-8")
        parts.append(f"### {s.id} {o.reply.agent}\n{text}\n\nFindings{note}:\n{findings}")
    return "\n\n".join(parts) or "(no step completed)"
