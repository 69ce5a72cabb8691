"""The hand-offs of a run as HTML: one expandable ``<details>`` per hand-off (its tool calls,
model calls, reply, findings, gaps and verdicts), in seq order with the waves, progress
assessments and re-plans between them. Every value is escaped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from typing import Any

from pydantic import ValidationError

from magentic_health.replay._quotes import QuoteIndex
from magentic_health.reply import Evidence, Finding
from magentic_health.trace import (
    AgentReply,
    CheckpointEvent,
    EventPayload,
    Handoff,
    LedgerEvent,
    ModelCall,
    ProgressLedgerEvent,
    Replan,
    TaskLedgerEvent,
    ToolCall,
    ToolResult,
)

MAX_JSON_CHARS = 20_000
"""Tool outputs and model responses longer than this are cut in the page (``--step`` shows
them whole)."""


@dataclass
class StepBlock:
    """One hand-off and the events of its step that follow it (until the step's next one)."""

    event: LedgerEvent
    handoff: Handoff
    events: list[tuple[LedgerEvent, EventPayload]] = field(default_factory=list)


def _payload(event: LedgerEvent) -> EventPayload | None:
    try:
        return event.payload()
    except ValidationError:
        return None


def group_steps(
    events: list[LedgerEvent],
) -> tuple[list[StepBlock], list[tuple[LedgerEvent, EventPayload]]]:
    """The hand-off blocks, and the events outside any step (the orchestrator's)."""
    blocks: list[StepBlock] = []
    open_blocks: dict[str, StepBlock] = {}
    rest: list[tuple[LedgerEvent, EventPayload]] = []
    for event in events:
        payload = _payload(event)
        if payload is None:
            continue
        if isinstance(payload, Handoff):
            block = StepBlock(event, payload)
            blocks.append(block)
            open_blocks[event.step or payload.to] = block
        elif event.step is not None and event.step in open_blocks:
            open_blocks[event.step].events.append((event, payload))
        else:
            rest.append((event, payload))
    return blocks, rest


def flow_html(events: list[LedgerEvent], quotes: QuoteIndex, ledger_name: str) -> str:
    """The steps in seq order, under wave headings, with progress notes and re-plans."""
    blocks, rest = group_steps(events)
    items: list[tuple[int, str]] = [
        (b.event.seq, _block_html(b, quotes, ledger_name)) for b in blocks
    ]
    wave_of = {b.event.seq: b.handoff.wave for b in blocks}
    for event, payload in rest:
        note = _orchestrator_note(payload)
        if note:
            items.append((event.seq, note))
    parts: list[str] = []
    wave: int | None = None
    for seq, chunk in sorted(items, key=lambda item: item[0]):
        if seq in wave_of and wave_of[seq] != wave:
            wave = wave_of[seq]
            parts.append(f'<h3 class="wave" id="wave-{seq}">Wave {wave}</h3>')
        parts.append(chunk)
    return "\n".join(parts) if parts else "<p>No hand-offs in this ledger.</p>"


def _orchestrator_note(payload: EventPayload) -> str:
    match payload:
        case ProgressLedgerEvent():
            satisfied = payload.is_request_satisfied
            progress = payload.is_progress_being_made
            return (
                f'<p class="progress">After wave {payload.wave}: request satisfied: '
                f"{_yes(satisfied.answer)} ({escape(satisfied.reason)}); progress: "
                f"{_yes(progress.answer)} ({escape(progress.reason)}); stalls "
                f"{payload.stalls}; next: {escape(', '.join(payload.next.answer) or '-')}</p>"
            )
        case Replan():
            return (
                f'<div class="replan"><b>Re-plan #{payload.replans}</b>: '
                f"{escape(payload.reason)}</div>"
            )
        case TaskLedgerEvent() if payload.version > 1:
            return f'<p class="progress">Plan v{payload.version} adopted (see the plan above).</p>'
    return ""


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _block_html(block: StepBlock, quotes: QuoteIndex, ledger_name: str) -> str:
    h = block.handoff
    verdicts = [p for _, p in block.events if isinstance(p, CheckpointEvent)]
    failed = [v.name for v in verdicts if not v.passed]
    if failed:
        state = f'<span class="fail">failed: {escape(", ".join(failed))}</span>'
    elif verdicts:
        state = f'<span class="ok">{len(verdicts)} checks passed</span>'
    else:
        state = '<span class="none">no verdict</span>'
    retry = " (retry)" if h.attempt > 1 else ""
    step = block.event.step or "-"
    body = [
        f"<p><b>Instruction:</b> {escape(h.instruction)}</p>",
        f"<p><b>Inputs:</b> {escape(', '.join(h.inputs) or 'none')}</p>",
        _calls_html(block, ledger_name),
        *(_reply_html(p, quotes) for _, p in block.events if isinstance(p, AgentReply)),
        _verdicts_html(verdicts),
    ]
    return (
        f'<details class="step" id="h{block.event.seq}" data-step="{escape(step)}" '
        f'data-agent="{escape(h.to)}" data-attempt="{h.attempt}">'
        f"<summary><b>{escape(step)}</b> {escape(h.to)} · attempt {h.attempt}{retry} · "
        f"{state} <small>seq {block.event.seq}</small></summary>"
        f'<div class="body">{"".join(body)}</div></details>'
    )


def _calls_html(block: StepBlock, ledger_name: str) -> str:
    items = []
    for event, payload in block.events:
        match payload:
            case ToolCall():
                items.append(
                    f"<li>seq {event.seq}: calls <code>{escape(payload.tool)}</code>"
                    f"{_json_details('arguments', payload.arguments, event.seq, ledger_name)}</li>"
                )
            case ToolResult():
                status = f"error: {payload.error}" if payload.error else "ok"
                items.append(
                    f"<li>seq {event.seq}: <code>{escape(payload.tool)}</code> "
                    f"{escape(status)} in {payload.duration_ms:.0f} ms"
                    f"{_json_details('output', payload.output, event.seq, ledger_name)}</li>"
                )
            case ModelCall():
                tokens = ", ".join(f"{escape(k)} {v}" for k, v in payload.usage.items())
                items.append(
                    f"<li>seq {event.seq}: model call <code>{escape(payload.request_digest[:16])}"
                    f"</code> in {payload.latency_ms:.0f} ms ({tokens})"
                    f"{_json_details('response', payload.response, event.seq, ledger_name)}</li>"
                )
    if not items:
        return ""
    return f'<h4>Tool and model calls</h4><ul class="calls">{"".join(items)}</ul>'


def _json_details(label: str, value: dict[str, Any], seq: int, ledger_name: str) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=2)
    cut = ""
    if len(text) > MAX_JSON_CHARS:
        cut = (
            f"\n… {len(text) - MAX_JSON_CHARS} more characters: "
            f"magentic-health replay {ledger_name} --step {seq}"
        )
        text = text[:MAX_JSON_CHARS]
    return f"<details><summary>{label}</summary><pre>{escape(text + cut)}</pre></details>"


def _reply_html(reply: AgentReply, quotes: QuoteIndex) -> str:
    parts = [
        f"<h4>Reply (attempt {reply.attempt})</h4>",
        f'<pre class="reply">{escape(reply.text)}</pre>',
    ]
    if reply.findings:
        parts.append(f"<h4>Findings ({len(reply.findings)})</h4>")
        parts.append(
            f'<ol class="findings">{"".join(_finding(f, quotes) for f in reply.findings)}</ol>'
        )
    if reply.gaps:
        parts.append(
            f"<h4>Gaps</h4><ul>{''.join(f'<li>{escape(g)}</li>' for g in reply.gaps)}</ul>"
        )
    return "".join(parts)


def _finding(finding: Finding, quotes: QuoteIndex) -> str:
    return f"<li>{escape(finding.claim)} {cite_links(finding.evidence, quotes)}</li>"


def cite_links(evidence: tuple[Evidence, ...], quotes: QuoteIndex) -> str:
    """A link per piece of evidence to its quote's ``<mark>``; the quote is the link's title."""
    links = []
    for item in evidence:
        target = quotes.target(item)
        label = escape(item.doc_id[:8])
        title = escape(item.quote)
        if target is None:
            links.append(f'<span class="cite" title="{title}">[{label}]</span>')
        else:
            links.append(f'<a class="cite" href="#{target}" title="{title}">[{label}]</a>')
    return f'<span class="cites">{" ".join(links)}</span>'


def _verdicts_html(verdicts: list[CheckpointEvent]) -> str:
    if not verdicts:
        return ""
    items = []
    for v in verdicts:
        mark = "✓" if v.passed else "✗"
        failures = "".join(f"<li>{escape(f)}</li>" for f in v.failures)
        items.append(
            f'<li class="{"ok" if v.passed else "fail"}">{mark} {escape(v.name)} '
            f"(attempt {v.attempt}){f'<ul>{failures}</ul>' if failures else ''}</li>"
        )
    return f'<h4>Checkpoints</h4><ul class="verdicts">{"".join(items)}</ul>'


def verdicts_html(verdicts: list[CheckpointEvent]) -> str:
    """Checkpoint verdicts as a list (used for the final answer's checks too)."""
    return _verdicts_html(verdicts)
