"""Our own OpenTelemetry spans, built from the ledger events (GenAI semantic conventions).

One span per run, one per hand-off (``invoke_agent <agent>``, open until the step's next
attempt or the end of its wave) and one per model call (``chat <model>``, placed under its
step's hand-off, timed from the recorded latency). Attributes are names, counts and tokens:
no prompt or response content unless text was asked for (``--log-text``); secrets masked.
Only ``opentelemetry-api`` is used here; exporting needs an SDK (see ``configure_tracing``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from magentic_health.logs._redact import mask_secrets
from magentic_health.logs._subscriber import model_call_fields, scalar_fields
from magentic_health.trace import (
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
)

_SYSTEMS = {"azure": "az.ai.openai", "openai": "openai", "openai-compatible": "openai"}
Attributes = dict[str, str | bool | int | float | list[str]]


def _attrs(values: dict[str, Any]) -> Attributes:
    """OpenTelemetry attributes: None dropped, strings masked for secrets."""
    out: Attributes = {}
    for key, value in values.items():
        if value is None:
            continue
        out[key] = mask_secrets(value) if isinstance(value, str) else value
    return out


class SpanSubscriber:
    """Turns one run's ledger events into spans (subscribe a new one per run)."""

    def __init__(self, tracer: Tracer, *, include_text: bool = False) -> None:
        self._tracer = tracer
        self._include_text = include_text
        self._run: Span | None = None
        self._steps: dict[str | None, Span] = {}
        self._system = "magentic_health"

    def __call__(self, event: LedgerEvent) -> None:
        payload = event.payload()
        now = time.time_ns()
        match payload:
            case RunStarted():
                self._system = _SYSTEMS.get(payload.model_profile, payload.model_profile)
                self._run = self._tracer.start_span(
                    f"invoke_agent {payload.config_name}",
                    start_time=now,
                    attributes=_attrs(
                        {
                            "gen_ai.operation.name": "invoke_agent",
                            "gen_ai.system": self._system,
                            "gen_ai.agent.name": event.agent or payload.config_name,
                            "magentic_health.run_id": event.run_id,
                            "magentic_health.case_id": payload.case_id,
                            "magentic_health.profile": payload.model_profile,
                            "magentic_health.documents": payload.documents,
                        }
                    ),
                )
            case Handoff():
                self._end_step(event.step, now)
                self._steps[event.step] = self._handoff(event, payload, now)
            case ModelCall():
                self._model_call(event, payload, now)
            case ModelRetry():
                span = self._steps.get(event.step) or self._run
                if span is not None:
                    values = {"reason": payload.reason, **scalar_fields(payload)}
                    span.add_event("model_retry", _attrs(values), timestamp=now)
            case CheckpointEvent():
                self._checkpoint(event, payload)
            case ErrorEvent():
                span = self._steps.get(event.step) or self._run
                if span is not None:
                    span.set_attribute("error.type", payload.kind)
                    span.set_status(Status(StatusCode.ERROR, payload.kind))
            case ProgressLedgerEvent() | Replan() | Final():
                self._end_steps(now)
            case RunFinished():
                self._finish(payload, now)
            case _:
                span = self._steps.get(event.step) or self._run
                if span is not None:
                    span.add_event(event.type, _attrs(scalar_fields(payload)), timestamp=now)

    def _parent(self, step: str | None) -> Any:
        span = self._steps.get(step) if step is not None else None
        span = span or self._run
        return trace.set_span_in_context(span) if span is not None else None

    def _handoff(self, event: LedgerEvent, payload: Handoff, now: int) -> Span:
        values: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.system": self._system,
            "gen_ai.agent.name": payload.to,
            "magentic_health.step": event.step,
            "magentic_health.attempt": payload.attempt,
            "magentic_health.wave": payload.wave,
            "magentic_health.inputs": list(payload.inputs),
        }
        if self._include_text:
            values["magentic_health.instruction"] = payload.instruction
        return self._tracer.start_span(
            f"invoke_agent {payload.to}",
            context=self._parent(None),
            start_time=now,
            attributes=_attrs(values),
        )

    def _model_call(self, event: LedgerEvent, payload: ModelCall, now: int) -> None:
        fields = model_call_fields(payload)
        model = fields["model"] or self._system
        values: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": self._system,
            "gen_ai.request.model": model,
            "gen_ai.agent.name": event.agent,
            "gen_ai.usage.input_tokens": fields["prompt_tokens"],
            "gen_ai.usage.output_tokens": fields["completion_tokens"],
            "gen_ai.response.finish_reasons": (
                [fields["finish_reason"]] if fields["finish_reason"] else None
            ),
            "magentic_health.step": event.step,
            "magentic_health.request_digest": payload.request_digest,
            "magentic_health.latency_ms": payload.latency_ms,
        }
        if self._include_text:
            values["gen_ai.response.content"] = json.dumps(
                payload.response.get("content"), ensure_ascii=False
            )
        span = self._tracer.start_span(
            f"chat {model}",
            context=self._parent(event.step),
            kind=trace.SpanKind.CLIENT,
            start_time=now - int(payload.latency_ms * 1_000_000),
            attributes=_attrs(values),
        )
        span.end(end_time=now)

    def _checkpoint(self, event: LedgerEvent, payload: CheckpointEvent) -> None:
        span = self._steps.get(event.step) or self._run
        if span is None:
            return
        span.add_event(
            "checkpoint",
            _attrs(
                {
                    "magentic_health.checkpoint": payload.name,
                    "magentic_health.passed": payload.passed,
                    "magentic_health.failures": len(payload.failures),
                }
            ),
        )
        if not payload.passed:
            span.set_status(Status(StatusCode.ERROR, f"checkpoint {payload.name} failed"))

    def _end_step(self, step: str | None, now: int) -> None:
        span = self._steps.pop(step, None)
        if span is not None:
            span.end(end_time=now)

    def _end_steps(self, now: int) -> None:
        for step in list(self._steps):
            self._end_step(step, now)

    def _finish(self, payload: RunFinished, now: int) -> None:
        self._end_steps(now)
        if self._run is None:
            return
        total = payload.usage.get("total", {})
        self._run.set_attributes(
            _attrs(
                {
                    "magentic_health.status": payload.status,
                    "gen_ai.usage.input_tokens": total.get("prompt_tokens", 0),
                    "gen_ai.usage.output_tokens": total.get("completion_tokens", 0),
                }
            )
        )
        if payload.status == "failed":
            self._run.set_status(Status(StatusCode.ERROR, payload.reason or "failed"))
        self._run.end(end_time=now)
        self._run = None
