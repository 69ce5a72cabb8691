"""Logs and traces of a run: structlog event stream and human trace, OpenTelemetry spans.

Both are made from the ledger's typed events (``run_observers`` subscribes them to each run's
writer), so logs, spans and the ledger never disagree. Patient text is redacted and secrets are
masked by default; AutoGen's own event loggers and runtime tracing stay off unless asked for.
"""

from collections.abc import Callable

from magentic_health.logs._cli import log_options, setup_from_options
from magentic_health.logs._redact import TEXT_KEYS, mask_secrets, redact_event
from magentic_health.logs._setup import (
    AUTOGEN_LOGGERS,
    AUTOGEN_TRACE_ENV,
    EVENT_LOGGER_NAME,
    LOG_FORMATS,
    LOG_LEVELS,
    LOG_TEXT_ENV,
    TRACE_LOGGER_NAME,
    LogFormat,
    autogen_trace,
    configure_logging,
    get_logger,
    include_text,
    reset_logging,
    silence_autogen,
)
from magentic_health.logs._spans import SpanSubscriber
from magentic_health.logs._subscriber import LogSubscriber
from magentic_health.logs._tracing import (
    OTEL_ENV,
    OTLP_ENV,
    active_tracer,
    configure_tracing,
    reset_tracing,
)
from magentic_health.trace import LedgerEvent


def run_observers() -> list[Callable[[LedgerEvent], None]]:
    """The subscribers a run's ledger writer gets: the logs, and spans when a tracer listens.

    Also keeps AutoGen's event loggers silent unless ``configure_logging(autogen_trace=True)``."""
    if not autogen_trace():
        silence_autogen()
    observers: list[Callable[[LedgerEvent], None]] = [LogSubscriber()]
    tracer = active_tracer()
    if tracer is not None:
        observers.append(SpanSubscriber(tracer, include_text=include_text()))
    return observers


__all__ = [
    "AUTOGEN_LOGGERS",
    "AUTOGEN_TRACE_ENV",
    "EVENT_LOGGER_NAME",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "LOG_TEXT_ENV",
    "OTEL_ENV",
    "OTLP_ENV",
    "TEXT_KEYS",
    "TRACE_LOGGER_NAME",
    "LogFormat",
    "LogSubscriber",
    "SpanSubscriber",
    "active_tracer",
    "configure_logging",
    "configure_tracing",
    "get_logger",
    "include_text",
    "log_options",
    "mask_secrets",
    "redact_event",
    "reset_logging",
    "reset_tracing",
    "run_observers",
    "setup_from_options",
    "silence_autogen",
]
