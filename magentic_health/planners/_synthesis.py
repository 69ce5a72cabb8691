"""The offline synthesis: the final answer assembled from verified step outputs only.

Nothing here writes new clinical content: it selects and arranges what the specialists
reported (each statement keeps its citation) and says plainly what is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from magentic_health.case import Case
from magentic_health.checkpoints import conflict_topics
from magentic_health.plan import TaskLedger, Triage
from magentic_health.planners._protocol import FinalAnswer, StepOutcome
from magentic_health.reply import Evidence, SpecialistReply

DISCLAIMER = "For research use only. Not a medical device; not for clinical decision-making."
_STATUS_FIELDS = (
    ("diagnosis", "Diagnosis"),
    ("histology", "Histology"),
    ("stage_tnm", "Stage (TNM)"),
    ("stage_group", "Stage group"),
    ("performance_status", "Performance status"),
)


def _cite(evidence: Iterable[Any]) -> str:
    ids = []
    for ev in evidence:
        doc_id = ev["doc_id"] if isinstance(ev, dict) else ev.doc_id
        if doc_id not in ids:
            ids.append(doc_id)
    return " ".join(f"[{i}]" for i in ids[:3])


def _status_answer(status: dict[str, Any], request: str) -> list[str]:
    """Key status values, each with its citation; the stage first when the request asks."""
    lines = []
    fields = list(_STATUS_FIELDS)
    if "stage" in request.lower():
        fields.sort(key=lambda f: not f[0].startswith("stage"))
    for key, label in fields:
        value = status.get(key)
        if isinstance(value, dict) and value.get("value"):
            when = f" (stated {value['date']})" if value.get("date") else ""
            lines.append(f"- **{label}:** {value['value']}{when} {_cite(value['evidence'])}")
    for marker in status.get("biomarkers") or []:
        lines.append(
            f"- **Biomarker {marker['name']}:** {marker['result']} {_cite(marker['evidence'])}"
        )
    for conflict in status.get("conflicts") or []:
        lines.append(f"- **Conflict:** {conflict}")
    return lines


def _failure_summary(failures: tuple[str, ...]) -> str:
    """Failures counted by checkpoint, without repeating the rejected content."""
    counts: dict[str, int] = {}
    for failure in failures:
        name = failure.split(":", 1)[0] if ":" in failure else failure
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{name} ({n})" for name, n in counts.items()) or "no reply"


def _replies(ledger: TaskLedger, outcomes: Mapping[str, StepOutcome]) -> list[SpecialistReply]:
    return [
        o.reply
        for s in ledger.plan
        if (o := outcomes.get(s.id)) is not None and o.status == "done" and o.reply is not None
    ]


UNRESOLVED = ("Step ", "Conflict: ")
"""How the gaps no specialist could report start: failed or unrun steps, and conflicts
between agents flagged at the consistency checkpoint."""


def unresolved(gaps: Iterable[str]) -> list[str]:
    """The failed steps and flagged conflicts among ``gaps``."""
    return [g for g in gaps if g.startswith(UNRESOLVED)]


def gaps_of(ledger: TaskLedger, outcomes: Mapping[str, StepOutcome]) -> list[str]:
    """Failed and unrun steps with the conflicts that failed them, then the specialists' own
    gaps, each once (shared by both planners' syntheses). Rejected content is never repeated:
    a failed step is described by its checkpoints, a conflict by its agents and attribute."""
    gaps: list[str] = []
    for sid, outcome in sorted(outcomes.items()):
        if outcome.status == "failed":
            gaps.append(
                f"Step {sid} ({outcome.step.agent}) failed and its output was discarded: "
                f"{_failure_summary(outcome.failures)} (details in the ledger)"
            )
            gaps += [
                f"Conflict: {outcome.step.agent} disagreed with {topic}; its reply was "
                "rejected and the question is open for the board (details in the ledger)"
                for topic in conflict_topics(outcome.failures)
            ]
        gaps += [
            f"Conflict: {outcome.step.agent} disagreed with {topic}; both replies are kept "
            "and the question is open for the board (details in the ledger)"
            for topic in outcome.conflicts
        ]
    for step in ledger.plan:
        if step.id not in outcomes:
            gaps.append(f"Step {step.id} ({step.agent}) did not run")
    for reply in _replies(ledger, outcomes):
        gaps += [f"{reply.agent}: {g}" for g in reply.gaps]
    return list(dict.fromkeys(gaps))


def synthesize(
    case: Case,
    triage: Triage,
    ledger: TaskLedger,
    outcomes: Mapping[str, StepOutcome],
    *,
    engine: str,
) -> FinalAnswer:
    """The final answer: a direct answer where the request asks for one, then the report or
    each specialist's verified output, then the gaps."""
    replies = _replies(ledger, outcomes)
    by_tool = {tool: r for r in replies for tool in r.data}
    lines = [
        f"# Case {case.case_id}: {case.request}",
        "",
        f"> Produced by the {engine}: assembled from tool results over the case documents. "
        + DISCLAIMER,
        "",
        f"**Team** ({triage.complexity} complexity): {', '.join(triage.selected)}",
        "",
    ]
    status = by_tool.get("patient_status")
    if status is not None and ("status" in triage.intents or "addressed" in triage.intents):
        answer = _status_answer(status.data["patient_status"], case.request)
        if answer:
            lines += ["## Answer", "", *answer, ""]
    report = by_tool.get("report_export")
    if report is not None:
        lines += [report.text.strip(), ""]
    else:
        for reply in replies:
            lines += [f"## {reply.agent}", "", reply.text.strip(), ""]
    gaps = gaps_of(ledger, outcomes)
    # the report lists the specialists' own gaps; what it cannot know is which steps failed
    shown = unresolved(gaps) if report is not None else gaps
    if shown:
        lines += ["## Gaps and open questions", "", *[f"- {g}" for g in shown[:30]], ""]
        if len(shown) > 30:
            lines.append(f"- … and {len(shown) - 30} more (see the ledger)")
    citations: dict[tuple[str, str], Evidence] = {}
    for reply in replies:
        for finding in reply.findings:
            for ev in finding.evidence:
                citations.setdefault((ev.doc_id, ev.quote), ev)
    return FinalAnswer(
        text="\n".join(lines).rstrip() + "\n",
        citations=tuple(citations.values()),
        gaps=tuple(gaps),
    )
