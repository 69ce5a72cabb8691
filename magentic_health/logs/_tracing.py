"""Where our spans go: an application's tracer provider, or one we set up for ``--otel``.

We never install a provider globally unless AutoGen's own tracing is asked for
(``--autogen-trace``): AutoGen's runtime and agents trace to the global provider, so keeping
ours private keeps theirs off. When an application has configured a global provider itself,
our spans go there and AutoGen's runtime tracing is disabled (``AUTOGEN_DISABLE_RUNTIME_TRACING``)
unless asked for.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, Tracer, TracerProvider

from magentic_health.errors import InputError

OTLP_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTEL_ENV = "MAGENTIC_HEALTH_OTEL"
_SCOPE = "magentic_health"


@dataclass
class _Tracing:
    provider: TracerProvider | None = None


_TRACING = _Tracing()


def _version() -> str | None:
    try:
        return metadata.version("magentic-health")
    except metadata.PackageNotFoundError:
        return None


def global_provider() -> TracerProvider | None:
    """The application's tracer provider, when it has set one."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, ProxyTracerProvider | NoOpTracerProvider):
        return None
    return provider


def configure_tracing(
    provider: TracerProvider | None = None,
    *,
    autogen_trace: bool = False,
) -> TracerProvider:
    """Emit our spans to ``provider`` (default: the application's global provider, else an
    OTLP exporter to ``$OTEL_EXPORTER_OTLP_ENDPOINT``, which needs ``opentelemetry-sdk`` and
    ``opentelemetry-exporter-otlp``). With ``autogen_trace`` the provider is also made
    global, so AutoGen's spans join ours. Span attributes carry text only when logs do
    (``configure_logging(include_text=True)``)."""
    chosen = provider or global_provider() or _otlp_provider()
    _TRACING.provider = chosen
    if autogen_trace:
        if global_provider() is None:
            trace.set_tracer_provider(chosen)
    else:
        os.environ.setdefault("AUTOGEN_DISABLE_RUNTIME_TRACING", "true")
    return chosen


def reset_tracing() -> None:
    """Forget the provider given to ``configure_tracing`` (spans follow the global one again)."""
    _TRACING.provider = None


def _otlp_provider() -> TracerProvider:
    try:
        sdk: Any = importlib.import_module("opentelemetry.sdk.trace")
        export: Any = importlib.import_module("opentelemetry.sdk.trace.export")
        otlp: Any = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    except ImportError as exc:
        raise InputError(
            "--otel: exporting spans needs opentelemetry-sdk and opentelemetry-exporter-otlp; "
            "pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http "
            f"(and set {OTLP_ENV})"
        ) from exc
    provider = sdk.TracerProvider()
    provider.add_span_processor(export.BatchSpanProcessor(otlp.OTLPSpanExporter()))
    sdk_provider: TracerProvider = provider
    return sdk_provider


def active_tracer() -> Tracer | None:
    """The tracer for our spans; None when nobody listens."""
    provider = _TRACING.provider or global_provider()
    return None if provider is None else provider.get_tracer(_SCOPE, _version())
