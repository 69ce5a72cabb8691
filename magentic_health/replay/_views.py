"""The text and JSON views of a ledger: timeline, plan and waves (with re-plans), checkpoint
verdicts, model usage per agent, and the run's status.

The timeline prints one-line summaries that carry no patient text; ``show_event`` prints one
event whole, on request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from magentic_health._console import one_line
from magentic_health.errors import InputError
from magentic_health.replay._summary import AgentUsage, RunSummary, VerdictRow, summarize
from magentic_health.trace import Ledger, LedgerEvent, Verification

VIEWS = ("timeline", "plan", "checkpoints", "usage", "status", "all")
SECTIONS = VIEWS[:-1]


@dataclass(frozen=True)
class ReplayFilter:
    """Which events and agents to show; None keeps all."""

    type_: str | None = None
    agent: str | None = None

    def keeps(self, event: LedgerEvent) -> bool:
        return (self.type_ is None or event.type == self.type_) and self.keeps_agent(event.agent)

    def keeps_agent(self, agent: str | None) -> bool:
        return self.agent is None or agent == self.agent


def sections_for(views: Sequence[str], filters: ReplayFilter) -> tuple[str, ...]:
    """The sections to show: the named views; without one, all of them, or the timeline
    alone when a filter is given (a filter narrows the timeline)."""
    if not views:
        filtered = filters.type_ is not None or filters.agent is not None
        return ("timeline",) if filtered else SECTIONS
    if "all" in views:
        return SECTIONS
    return tuple(s for s in SECTIONS if s in views)


def show_event(ledger: Ledger, seq: int) -> str:
    """The event with this ``seq``, whole, as indented JSON."""
    for event in ledger.events:
        if event.seq == seq:
            return json.dumps(event.model_dump(), ensure_ascii=False, indent=2)
    last = ledger.events[-1].seq if ledger.events else -1
    raise InputError(f"--step {seq}: no event with that seq; {ledger.path} holds seq 0 to {last}")


def text_view(
    ledger: Ledger, verification: Verification, *, sections: Sequence[str], filters: ReplayFilter
) -> list[str]:
    """The chosen sections as lines of text."""
    summary = summarize(ledger.events)
    lines = _header_lines(summary)
    if "timeline" in sections:
        lines += _section("Timeline", timeline_lines(ledger.events, verification, filters))
    if "plan" in sections:
        lines += _section("Plan", plan_lines(summary))
    if "checkpoints" in sections:
        lines += _section("Checkpoints", checkpoint_lines(summary.verdicts, filters))
    if "usage" in sections:
        lines += _section("Model usage", usage_lines(summary, filters))
    if "status" in sections:
        lines += _section("Status", status_lines(summary))
    return lines


def _section(title: str, body: list[str]) -> list[str]:
    return ["", f"== {title}", *body]


def _header_lines(summary: RunSummary) -> list[str]:
    head = summary.header
    if head is None:
        return ["Run: no run_started event"]
    parent = f"; parent run {head.parent_run}" if head.parent_run else ""
    return [
        f"Run {head.run_id}: case {head.case_id}, config {head.config_name}, "
        f"model profile {head.model_profile}{parent}",
        f"Engine: {head.engine}",
    ]


def timeline_lines(
    events: Iterable[LedgerEvent], verification: Verification, filters: ReplayFilter
) -> list[str]:
    """One text-free line per event; events from a broken seq on are marked unverified."""
    broken = verification.first_broken_seq
    lines = []
    for event in events:
        if not filters.keeps(event):
            continue
        mark = " [unverified]" if broken is not None and event.seq >= broken else ""
        lines.append(
            f"{event.seq:>4} {event.ts[11:23]} {event.agent or '-':<18} "
            f"{event.type:<16} {one_line(event)}{mark}"
        )
    return lines or ["(no event matches the filters)"]


def plan_lines(summary: RunSummary) -> list[str]:
    """Every plan version with its waves and steps, and the re-plans between them."""
    items: list[tuple[int, list[str]]] = []
    for plan in summary.plans:
        agents = {s.id: s.agent for s in plan.steps}
        lines = [
            f"Plan v{plan.version} (seq {plan.seq}): "
            f"{len(plan.steps)} steps in {len(plan.waves)} waves"
        ]
        for n, wave in enumerate(plan.waves, start=1):
            members = ", ".join(f"{sid} {agents.get(sid, '?')}" for sid in wave)
            lines.append(f"  wave {n}: {members}")
        for step in plan.steps:
            after = f" (after {', '.join(step.depends_on)})" if step.depends_on else ""
            critical = " [critical]" if step.critical else ""
            lines.append(f"  {step.id} {step.agent}{after}{critical}: {step.instruction}")
        items.append((plan.seq, lines))
    for replan in summary.replans:
        items.append(
            (replan.seq, [f"Re-plan #{replan.replans} (seq {replan.seq}): {replan.reason}"])
        )
    lines = [line for _, block in sorted(items, key=lambda item: item[0]) for line in block]
    return lines or ["(no task_ledger event)"]


def checkpoint_lines(verdicts: Sequence[VerdictRow], filters: ReplayFilter) -> list[str]:
    """Verdicts per step, agent and attempt; each failure on its own line."""
    groups: dict[tuple[str | None, str | None, int], list[VerdictRow]] = {}
    for row in verdicts:
        if filters.keeps_agent(row.agent):
            groups.setdefault((row.step, row.agent, row.attempt), []).append(row)
    failed = sum(not r.passed for rows in groups.values() for r in rows)
    total = sum(len(rows) for rows in groups.values())
    if not total:
        return ["(no checkpoint verdicts)"]
    lines = [f"{total} verdicts, {failed} failed"]
    for (step, agent, attempt), rows in groups.items():
        label = step or "final"
        bad = [r for r in rows if not r.passed]
        verdict = f"{len(rows) - len(bad)} passed"
        if bad:
            verdict += f", FAILED {', '.join(r.name for r in bad)}"
        lines.append(f"  {label:<6} {agent or '-':<18} attempt {attempt}: {verdict}")
        lines += [f"      {r.name}: {failure}" for r in bad for failure in r.failures]
    return lines


def usage_lines(summary: RunSummary, filters: ReplayFilter) -> list[str]:
    """Calls, tokens and latency per agent, from the ``model_call`` events."""
    rows = [u for u in summary.usage if filters.keeps_agent(u.agent)]
    if not rows:
        offline = summary.header is not None and summary.header.offline
        why = " (the offline engine uses no language model)" if offline else ""
        return [f"no model calls{why}"]
    lines = [
        f"  {'agent':<20} {'calls':>5} {'prompt':>9} {'completion':>10} {'latency':>11} {'mean':>9}"
    ]
    lines += [_usage_line(u) for u in rows]
    if len(rows) > 1:
        lines.append(_usage_line(_total(rows)))
    return lines


def _usage_line(u: AgentUsage) -> str:
    return (
        f"  {u.agent:<20} {u.calls:>5} {u.prompt_tokens:>9} {u.completion_tokens:>10} "
        f"{u.total_latency_ms:>8.0f} ms {u.mean_latency_ms:>6.0f} ms"
    )


def _total(rows: Sequence[AgentUsage]) -> AgentUsage:
    return AgentUsage(
        agent="total",
        calls=sum(u.calls for u in rows),
        prompt_tokens=sum(u.prompt_tokens for u in rows),
        completion_tokens=sum(u.completion_tokens for u in rows),
        total_latency_ms=sum(u.total_latency_ms for u in rows),
    )


def status_lines(summary: RunSummary) -> list[str]:
    """The outcome from ``run_finished``, its gaps, and the error events."""
    out = summary.outcome
    if out is None:
        lines = ["no run_finished event: the run did not finish (it crashed or is still running)"]
    else:
        reason = f" ({out.reason})" if out.reason else ""
        lines = [f"{out.status}{reason} in {out.duration_ms:.0f} ms; {len(out.gaps)} gaps"]
        lines += [f"  gap: {gap}" for gap in out.gaps]
    if summary.errors:
        lines.append(f"error events at seq {', '.join(map(str, summary.errors))}")
    return lines


def json_view(
    ledger: Ledger, verification: Verification, *, sections: Sequence[str], filters: ReplayFilter
) -> dict[str, Any]:
    """The chosen sections as JSON data (the same content as the text view)."""
    summary = summarize(ledger.events)
    head = summary.header
    out: dict[str, Any] = {
        "ledger": str(ledger.path),
        "run_id": ledger.run_id,
        "verification": verification.model_dump(mode="json"),
        "run": None if head is None else {**head.model_dump(mode="json"), "offline": head.offline},
    }
    if "timeline" in sections:
        out["timeline"] = [
            {
                "seq": e.seq,
                "ts": e.ts,
                "agent": e.agent,
                "step": e.step,
                "type": e.type,
                "summary": one_line(e),
            }
            for e in ledger.events
            if filters.keeps(e)
        ]
    if "plan" in sections:
        out["plans"] = [p.model_dump(mode="json") for p in summary.plans]
        out["replans"] = [r.model_dump(mode="json") for r in summary.replans]
    if "checkpoints" in sections:
        out["checkpoints"] = [
            v.model_dump(mode="json") for v in summary.verdicts if filters.keeps_agent(v.agent)
        ]
    if "usage" in sections:
        out["usage"] = [
            {**u.model_dump(mode="json"), "mean_latency_ms": u.mean_latency_ms}
            for u in summary.usage
            if filters.keeps_agent(u.agent)
        ]
    if "status" in sections:
        outcome = summary.outcome
        out["status"] = None if outcome is None else outcome.model_dump(mode="json")
        out["errors"] = list(summary.errors)
    return out


def chain_report(ledger: Ledger, verification: Verification) -> list[str]:
    """The lines that say whether the chain holds (for stderr)."""
    path = ledger.path
    lines = []
    if ledger.truncated_tail is not None:
        lines.append(f"{path}: the last line is incomplete (a crash mid-write?); ignored")
    if not verification.ok:
        lines.append(
            f"{path}: chain broken at seq {verification.first_broken_seq}: {verification.reason}"
        )
    else:
        lines.append(f"{path}: {verification.events} events; hash chain verified")
    return lines
