"""The command line's log and trace options, added to a command by one decorator.

By default a run writes no log lines besides its progress view: only warnings and errors (ours
and third parties', redacted) reach stderr, and with ``--quiet`` only errors. ``--log-format``
or ``--log-file`` turn the logs on (info and up); ``--log-level`` sets the level;
``--log-text`` lets patient text in (secrets stay masked); ``--autogen-trace`` turns AutoGen's
own loggers (and tracing) on; ``--otel`` exports our spans (also on when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set and the SDK is installed).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from magentic_health.errors import InputError
from magentic_health.logs._setup import (
    AUTOGEN_TRACE_ENV,
    LOG_FORMATS,
    LOG_LEVELS,
    LOG_TEXT_ENV,
    TRACE_LOGGER_NAME,
    LogFormat,
    configure_logging,
    env_flag,
    get_logger,
    reset_logging,
)
from magentic_health.logs._tracing import OTEL_ENV, OTLP_ENV, configure_tracing, reset_tracing

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = (
    click.option(
        "--log-format",
        type=click.Choice(LOG_FORMATS),
        help="Write logs: json (the event stream) or console (the human trace); "
        "default: none besides warnings, json with --log-file.",
    ),
    click.option(
        "--log-file",
        type=click.Path(path_type=Path),
        help="Write logs to this file instead of stderr.",
    ),
    click.option(
        "--log-level",
        type=click.Choice(LOG_LEVELS),
        help="Lowest level logged (default: info when logging, else warning).",
    ),
    click.option(
        "--log-text",
        is_flag=True,
        help=f"Let patient text into logs and spans, for local debugging (or {LOG_TEXT_ENV}=1); "
        "secrets stay masked.",
    ),
    click.option(
        "--autogen-trace",
        is_flag=True,
        help=f"Also log AutoGen's own events and runtime spans (or {AUTOGEN_TRACE_ENV}=1).",
    ),
    click.option(
        "--otel",
        is_flag=True,
        help=f"Export spans over OTLP to ${OTLP_ENV} (needs opentelemetry-sdk and "
        "opentelemetry-exporter-otlp).",
    ),
)


def _sdk_installed() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry.sdk") is not None
    except ImportError:
        return False


def setup_from_options(
    *,
    log_format: str | None,
    log_file: Path | None,
    log_level: str | None,
    log_text: bool,
    autogen_trace: bool,
    otel: bool,
    quiet: bool = False,
) -> None:
    """Configure logging (and tracing) as the options say; ``quiet`` (the command's
    ``--quiet``) keeps even warnings off stderr unless logging was asked for."""
    logging_on = log_format is not None or log_file is not None
    fmt = cast(LogFormat, log_format or ("json" if log_file is not None else "console"))
    with_text = log_text or env_flag(LOG_TEXT_ENV)
    with_autogen = autogen_trace or env_flag(AUTOGEN_TRACE_ENV)
    configure_logging(
        fmt,
        level=log_level or ("info" if logging_on else "error" if quiet else "warning"),
        include_text=with_text,
        file=log_file,
        autogen_trace=with_autogen,
    )
    wanted = otel or env_flag(OTEL_ENV)
    if wanted:
        configure_tracing(autogen_trace=with_autogen)
    elif os.environ.get(OTLP_ENV) and _sdk_installed():
        try:
            configure_tracing(autogen_trace=with_autogen)
        except InputError:  # only the endpoint is set: no spans, and the run goes on
            get_logger(TRACE_LOGGER_NAME).warning(
                "%s is set but opentelemetry-exporter-otlp is not installed: no spans", OTLP_ENV
            )


def log_options(command: F) -> F:
    """Add the log and trace options to a click command; logging is set up before it runs
    and taken down after (so in-process callers are left as they were)."""

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        log_format: str | None,
        log_file: Path | None,
        log_level: str | None,
        log_text: bool,
        autogen_trace: bool,
        otel: bool,
        **kwargs: Any,
    ) -> Any:
        setup_from_options(
            log_format=log_format,
            log_file=log_file,
            log_level=log_level,
            log_text=log_text,
            autogen_trace=autogen_trace,
            otel=otel,
            quiet=bool(kwargs.get("quiet", False)),
        )
        try:
            return command(*args, **kwargs)
        finally:
            reset_tracing()
            reset_logging()

    decorated: Callable[..., Any] = wrapper
    for option in reversed(_OPTIONS):
        decorated = option(decorated)
    return cast(F, decorated)
