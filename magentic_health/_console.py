"""The console view of a run, rendered from the same typed events as the ledger.

Progress lines name agents, steps, counts and verdicts only: patient text never appears in them
(it appears only in the final summary the user asked for).
"""

from __future__ import annotations

from pydantic import ValidationError
from rich.console import Console

from magentic_health.trace import (
    AgentReply,
    CheckpointEvent,
    ErrorEvent,
    Final,
    Handoff,
    LedgerEvent,
    ModelCall,
    ModelRetry,
    ProgressLedgerEvent,
    Replan,
    RunFinished,
    RunStarted,
    TaskLedgerEvent,
    ToolCall,
    ToolResult,
    TriageEvent,
)


def one_line(event: LedgerEvent) -> str:
    """A one-line, text-free summary of an event."""
    try:
        payload = event.payload()
    except ValidationError:
        return f"{event.type}: payload does not validate"
    match payload:
        case RunStarted():
            return (
                f"case {payload.case_id}: {payload.documents} documents; engine: {payload.engine}"
            )
        case TriageEvent():
            return f"{payload.complexity} complexity; selected {', '.join(payload.selected)}" + (
                f"; left out {', '.join(e.agent for e in payload.excluded)}"
                if payload.excluded
                else ""
            )
        case TaskLedgerEvent():
            waves = " | ".join(", ".join(w) for w in payload.waves)
            return f"plan v{payload.version}: {len(payload.plan)} steps; waves: {waves}"
        case Handoff():
            return f"wave {payload.wave}: hand-off to {payload.to} (attempt {payload.attempt})"
        case ToolCall():
            return f"calls {payload.tool}"
        case ToolResult():
            status = f"error: {payload.error}" if payload.error else "ok"
            return f"{payload.tool} {status} in {payload.duration_ms:.0f} ms"
        case ModelCall():
            return f"model call {payload.request_digest[:12]} in {payload.latency_ms:.0f} ms"
        case ModelRetry():
            status = f" (HTTP {payload.status})" if payload.status else ""
            return (
                f"model call attempt {payload.attempt} failed: {payload.reason}{status}; "
                f"retrying in {payload.wait_s:.1f} s"
            )
        case AgentReply():
            return f"reply: {len(payload.findings)} findings, {len(payload.gaps)} gaps"
        case CheckpointEvent():
            verdict = "passed" if payload.passed else f"FAILED ({len(payload.failures)})"
            return f"checkpoint {payload.name}: {verdict}"
        case ProgressLedgerEvent():
            return (
                f"progress after wave {payload.wave}: satisfied="
                f"{payload.is_request_satisfied.answer}, progress="
                f"{payload.is_progress_being_made.answer}, stalls={payload.stalls}, "
                f"next={', '.join(payload.next.answer) or '-'}"
            )
        case Replan():
            return f"re-plan #{payload.replans}: {payload.reason}"
        case Final():
            return f"final answer: {len(payload.citations)} citations"
        case RunFinished():
            return f"run {payload.status}" + (f": {payload.reason}" if payload.reason else "")
        case ErrorEvent():
            return f"error ({payload.kind})"
    return event.type


class ProgressView:
    """Prints which agents are working as a run goes (to stderr, so stdout stays clean)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)

    def __call__(self, event: LedgerEvent) -> None:
        payload = event.payload()
        match payload:
            case TriageEvent() | TaskLedgerEvent() | Replan() | RunFinished():
                self.console.print(f"[bold]{event.type}[/bold] {one_line(event)}")
            case Handoff():
                retry = f" (retry {payload.attempt - 1})" if payload.attempt > 1 else ""
                self.console.print(f"[cyan]wave {payload.wave}[/cyan] {payload.to} working{retry}")
            case ModelRetry() | ErrorEvent():
                self.console.print(f"  [yellow]![/yellow] {event.agent or '-'}: {one_line(event)}")
            case CheckpointEvent() if not payload.passed:
                self.console.print(f"  [red]✗[/red] {event.agent}: {one_line(event)}")
            case AgentReply():
                self.console.print(f"  [green]✓[/green] {event.agent} {one_line(event)}")
            case _:
                pass
