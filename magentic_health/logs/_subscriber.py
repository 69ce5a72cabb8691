"""Ledger events as log events: the same typed events the ledger and the console view hold.

``LogSubscriber`` is subscribed to the ledger writer of every run. For each event it writes one
key-value event to the event stream and one sentence to the human trace, each with names,
counts, tokens, verdicts and timings only: the payload's text fields are never passed on (and
the redacting processors are a second net).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel

from magentic_health.logs._setup import (
    EVENT_LOGGER_NAME,
    TRACE_LOGGER_NAME,
    get_logger,
    include_text,
)
from magentic_health.trace import (
    AgentReply,
    CheckpointEvent,
    ErrorEvent,
    EventPayload,
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

Fields = dict[str, Any]
_SCALARS = (bool, int, float)


def _tokens(usage: dict[str, dict[str, int]]) -> int:
    total = usage.get("total", {})
    return total.get("prompt_tokens", 0) + total.get("completion_tokens", 0)


_ABOVE_INFO = frozenset({"error", "run_finished"})
"""The event types ``_fields`` may log above INFO (an error; a failed run)."""


def _fields(payload: EventPayload) -> tuple[int, Fields]:
    """The level and the text-free fields of one event (above INFO only for ``_ABOVE_INFO``)."""
    return _step_fields(payload) or _run_fields(payload) or (logging.INFO, scalar_fields(payload))


def _run_fields(payload: EventPayload) -> tuple[int, Fields] | None:
    """Fields of the orchestrator's events (the run, the ledgers, the final answer)."""
    match payload:
        case RunStarted():
            return logging.INFO, {
                "case_id": payload.case_id,
                "profile": payload.model_profile,
                "config": payload.config_name,
                "documents": payload.documents,
                "parent_run": payload.parent_run,
            }
        case TriageEvent():
            return logging.INFO, {
                "complexity": payload.complexity,
                "selected": list(payload.selected),
                "excluded": [e.agent for e in payload.excluded],
            }
        case TaskLedgerEvent():
            return logging.INFO, {
                "version": payload.version,
                "steps": len(payload.plan),
                "waves": [list(w) for w in payload.waves],
            }
        case ProgressLedgerEvent():
            return logging.INFO, {
                "wave": payload.wave,
                "satisfied": payload.is_request_satisfied.answer,
                "in_loop": payload.is_in_loop.answer,
                "progress": payload.is_progress_being_made.answer,
                "stalls": payload.stalls,
            }
        case Replan():
            return logging.INFO, {"replans": payload.replans}
        case Final():
            return logging.INFO, {"citations": len(payload.citations), "chars": len(payload.text)}
        case RunFinished():
            level = logging.WARNING if payload.status == "failed" else logging.INFO
            return level, {
                "status": payload.status,
                "reason": payload.reason,
                "gaps": len(payload.gaps),
                "tokens": _tokens(payload.usage),
                "usage": payload.usage,
                "duration_ms": payload.duration_ms,
                "cost": payload.cost.total if payload.cost else None,
                "currency": payload.cost.currency if payload.cost else None,
            }
    return None


def _step_fields(payload: EventPayload) -> tuple[int, Fields] | None:
    """Fields of a step's events (hand-off, calls, reply, verdicts, errors)."""
    match payload:
        case Handoff():
            return logging.INFO, {
                "to": payload.to,
                "attempt": payload.attempt,
                "wave": payload.wave,
                "inputs": list(payload.inputs),
            }
        case ModelCall():
            return logging.INFO, model_call_fields(payload)
        case ModelRetry():
            return logging.INFO, {
                "attempt": payload.attempt,
                "reason": payload.reason,
                "status": payload.status,
                "wait_s": payload.wait_s,
                "retry_after_s": payload.retry_after_s,
            }
        case ToolCall():
            return logging.DEBUG, {"tool": payload.tool}
        case ToolResult():
            return logging.DEBUG, {
                "tool": payload.tool,
                "duration_ms": payload.duration_ms,
                "failed": payload.error is not None,
            }
        case AgentReply():
            return logging.INFO, {
                "attempt": payload.attempt,
                "findings": len(payload.findings),
                "gaps": len(payload.gaps),
                "chars": len(payload.text),
            }
        case CheckpointEvent():
            return logging.INFO, {
                "name": payload.name,
                "passed": payload.passed,
                "failures": len(payload.failures),
                "attempt": payload.attempt,
            }
        case ErrorEvent():
            return logging.WARNING, {"kind": payload.kind, "message": payload.message}
    return None


def text_fields(payload: EventPayload) -> Fields:
    """The text of an event, logged only when asked for (``--log-text``)."""
    match payload:
        case Handoff():
            return {"instruction": payload.instruction}
        case AgentReply() | Final():
            return {"text": payload.text}
        case CheckpointEvent() if payload.failures:
            return {"failures": list(payload.failures)}
        case ModelCall():
            return {"response": payload.response}
    return {}


def model_call_fields(payload: ModelCall) -> Fields:
    """A model call without its response: model, tokens, latency, digest, finish reason."""
    finish = payload.response.get("finish_reason")
    return {
        "model": payload.model,
        "prompt_tokens": payload.usage.get("prompt_tokens", 0),
        "completion_tokens": payload.usage.get("completion_tokens", 0),
        "latency_ms": payload.latency_ms,
        "request_digest": payload.request_digest,
        "finish_reason": finish if isinstance(finish, str) else None,
    }


def scalar_fields(payload: BaseModel) -> Fields:
    """Numbers and booleans of an event type this module does not know (e.g. a newer one)."""
    return {
        name: value
        for name in type(payload).model_fields
        if isinstance(value := getattr(payload, name), _SCALARS)
    }


def _sentence(event: LedgerEvent, fields: Fields) -> tuple[str, tuple[Any, ...]]:
    """The human trace's line: a ``%s`` template and its arguments."""
    who = event.agent or "-"
    match event.type:
        case "run_started":
            return "run %s started: case %s, profile %s, %s documents", (
                event.run_id[:8],
                fields["case_id"],
                fields["profile"],
                fields["documents"],
            )
        case "handoff":
            return "wave %s: hand-off to %s for step %s (attempt %s)", (
                fields["wave"],
                fields["to"],
                event.step,
                fields["attempt"],
            )
        case "model_call":
            return "%s: model call (%s prompt + %s completion tokens) in %.0f ms", (
                who,
                fields["prompt_tokens"],
                fields["completion_tokens"],
                fields["latency_ms"],
            )
        case "model_retry":
            return "%s: model call attempt %s failed (%s, HTTP %s); retrying in %.1f s", (
                who,
                fields["attempt"],
                fields["reason"],
                fields["status"],
                fields["wait_s"],
            )
        case "checkpoint":
            verdict = "passed" if fields["passed"] else "failed"
            return "%s: checkpoint %s %s (%s failures)", (
                who,
                fields["name"],
                verdict,
                fields["failures"],
            )
        case "run_finished":
            return "run %s %s: %s tokens in %.0f ms", (
                event.run_id[:8],
                fields["status"],
                fields["tokens"],
                fields["duration_ms"],
            )
    shown = ", ".join(f"{k}=%s" for k in fields if not isinstance(fields[k], dict | list))
    values = tuple(v for v in fields.values() if not isinstance(v, dict | list))
    return f"{who}: {event.type}" + (f" ({shown})" if shown else ""), values


class LogSubscriber:
    """Writes each ledger event to the event stream and the human trace (text-free)."""

    def __init__(self) -> None:
        self._events = get_logger(EVENT_LOGGER_NAME)
        self._trace = get_logger(TRACE_LOGGER_NAME)
        self._event_std = logging.getLogger(EVENT_LOGGER_NAME)
        self._trace_std = logging.getLogger(TRACE_LOGGER_NAME)

    def __call__(self, event: LedgerEvent) -> None:
        ceiling = logging.CRITICAL if event.type in _ABOVE_INFO else logging.INFO
        if not (self._event_std.isEnabledFor(ceiling) or self._trace_std.isEnabledFor(ceiling)):
            # nothing of this event would be logged (by default the loggers are at WARNING):
            # not even its fields are computed
            return
        payload = event.payload()
        level, fields = _fields(payload)
        if self._event_std.isEnabledFor(level):
            text = text_fields(payload) if include_text() else {}
            self._events.log(
                level,
                event.type,
                run_id=event.run_id,
                seq=event.seq,
                agent=event.agent,
                step=event.step,
                **(fields | text),
            )
        if self._trace_std.isEnabledFor(level):
            template, args = _sentence(event, fields)
            self._trace.log(level, template, *args)
