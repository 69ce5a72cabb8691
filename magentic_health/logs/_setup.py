"""Logging set up once: our two loggers, one redacting handler, quiet third parties.

``magentic_health.trace`` is the human trace (one sentence per ledger event, lazy ``%s``
arguments); ``magentic_health.events`` is the event stream (one key-value event per ledger
event). Both go through structlog processors that redact patient text and mask secrets before
any handler sees an event. Nothing is global in structlog: our loggers are wrapped stdlib
loggers, so an application's own ``structlog.configure`` is left alone.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import autogen_agentchat
import autogen_core
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from magentic_health.errors import InputError
from magentic_health.logs._redact import redact_event

TRACE_LOGGER_NAME = "magentic_health.trace"
EVENT_LOGGER_NAME = "magentic_health.events"
LOG_TEXT_ENV = "MAGENTIC_HEALTH_LOG_TEXT"
AUTOGEN_TRACE_ENV = "MAGENTIC_HEALTH_AUTOGEN_TRACE"
LogFormat = Literal["json", "console"]
LOG_FORMATS: tuple[str, ...] = ("json", "console")
LOG_LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error")

AUTOGEN_LOGGERS = (
    autogen_core.EVENT_LOGGER_NAME,
    autogen_core.TRACE_LOGGER_NAME,
    autogen_agentchat.EVENT_LOGGER_NAME,
    autogen_agentchat.TRACE_LOGGER_NAME,
)
"""AutoGen's event loggers emit whole messages (patient text): off unless asked for."""
NOISY_LOGGERS = ("openai", "httpx", "httpcore", "azure", "autogen_ext", "autogen_core")
"""Third-party loggers kept at warnings, through our redacting handler."""
_OFF = logging.CRITICAL + 10


@dataclass
class _Settings:
    include_text: bool = False
    autogen_trace: bool = False
    handler: logging.Handler | None = None


def env_flag(name: str) -> bool:
    """Whether the environment variable ``name`` is set to 1/true/yes."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


_SETTINGS = _Settings(include_text=env_flag(LOG_TEXT_ENV))


def _redact(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    redact_event(event, include_text=_SETTINGS.include_text)
    return event


def _autogen_event(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """AutoGen's event objects (asked for with --autogen-trace) hold whole messages: keep the
    type and the size unless text was asked for."""
    record = event.get("_record")
    name = record.name if isinstance(record, logging.LogRecord) else ""
    if name in AUTOGEN_LOGGERS and not _SETTINGS.include_text:
        message = event.get("event")
        event["event"] = type(record.msg).__name__ if isinstance(record, logging.LogRecord) else ""
        event["content"] = str(message)
    return event


_SHARED: list[Processor] = [
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.stdlib.PositionalArgumentsFormatter(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]
_BOUND_CHAIN: list[Processor] = [
    structlog.stdlib.filter_by_level,
    *_SHARED,
    _redact,
    structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
]


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """One of our loggers, redacting whatever handler it reaches (ours or the application's)."""
    logger: structlog.stdlib.BoundLogger = structlog.wrap_logger(
        logging.getLogger(name),
        processors=_BOUND_CHAIN,
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    return logger


def _formatter(fmt: LogFormat) -> logging.Formatter:
    renderer: Processor = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder()],
        processors=[
            _autogen_event,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact,
            renderer,
        ],
    )


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise InputError(f"--log-level {level!r}: choose one of {', '.join(LOG_LEVELS)}")
    return value


def configure_logging(
    format: LogFormat = "console",
    *,
    level: str | int = "info",
    include_text: bool | None = None,
    stream: IO[str] | None = None,
    file: str | os.PathLike[str] | None = None,
    autogen_trace: bool | None = None,
) -> logging.Handler:
    """Send our logs (and third-party warnings) to ``stream`` (default stderr) or ``file``.

    ``format="json"`` writes the event stream, one JSON object per line; ``"console"`` the
    human trace. Patient text is redacted unless ``include_text`` (default: the environment
    variable ``MAGENTIC_HEALTH_LOG_TEXT=1``); secrets are masked always. AutoGen's own
    loggers stay off unless ``autogen_trace`` (default: ``MAGENTIC_HEALTH_AUTOGEN_TRACE=1``).
    Calling it again replaces the previous set-up. Returns the handler.
    """
    if format not in LOG_FORMATS:
        raise InputError(f"--log-format {format!r}: choose one of {', '.join(LOG_FORMATS)}")
    numeric = _level(level)
    handler = _handler(stream, file)
    handler.setFormatter(_formatter(format))
    reset_logging()
    _SETTINGS.handler = handler
    _SETTINGS.include_text = env_flag(LOG_TEXT_ENV) if include_text is None else include_text
    _SETTINGS.autogen_trace = (
        env_flag(AUTOGEN_TRACE_ENV) if autogen_trace is None else autogen_trace
    )
    ours, other = (
        (EVENT_LOGGER_NAME, TRACE_LOGGER_NAME)
        if format == "json"
        else (TRACE_LOGGER_NAME, EVENT_LOGGER_NAME)
    )
    _route(ours, handler, numeric)
    _route(other, None, _OFF)
    for name in NOISY_LOGGERS:
        _route(name, handler, max(numeric, logging.WARNING))
    for name in AUTOGEN_LOGGERS:
        _route(name, handler if _SETTINGS.autogen_trace else None, numeric)
        if not _SETTINGS.autogen_trace:
            logging.getLogger(name).setLevel(_OFF)
    return handler


def _handler(stream: IO[str] | None, file: str | os.PathLike[str] | None) -> logging.Handler:
    if file is None:
        return logging.StreamHandler(stream if stream is not None else sys.stderr)
    path = Path(file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--log-file {str(path)!r}: cannot write it: {exc.strerror}") from exc


def _route(name: str, handler: logging.Handler | None, level: int) -> None:
    logger = logging.getLogger(name)
    logger.setLevel(level)
    logger.propagate = False
    if handler is not None:
        logger.addHandler(handler)


def silence_autogen() -> None:
    """AutoGen's event and trace loggers off: no handler, no propagation, nothing enabled."""
    for name in AUTOGEN_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(_OFF)
        logger.propagate = False


def reset_logging() -> None:
    """Undo ``configure_logging``: our handler removed and closed, the loggers as they were
    (propagating, level unset), text redacted again; AutoGen's loggers stay silenced."""
    handler, _SETTINGS.handler = _SETTINGS.handler, None
    _SETTINGS.include_text, _SETTINGS.autogen_trace = env_flag(LOG_TEXT_ENV), False
    for name in (TRACE_LOGGER_NAME, EVENT_LOGGER_NAME, *NOISY_LOGGERS, *AUTOGEN_LOGGERS):
        logger = logging.getLogger(name)
        if handler is not None and handler in logger.handlers:
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
    silence_autogen()
    if handler is not None:
        handler.close()


def autogen_trace() -> bool:
    """Whether AutoGen's own loggers were asked for (``--autogen-trace``)."""
    return _SETTINGS.autogen_trace


def include_text() -> bool:
    """Whether logs and spans may carry patient text (``--log-text``)."""
    return _SETTINGS.include_text
