"""Redaction: patient text and secrets never reach a log line or a span.

Two nets. Keys known to hold text (a note, a quote, a claim, a prompt, a response) have their
values replaced by ``"[redacted: N chars]"`` unless text was asked for (``--log-text``). Secrets
(API keys, bearer tokens, JWTs, ``key=``/``token=`` URL parameters, authorization headers, the
values of the API-key environment variables) are masked in every string, always.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from typing import Any

TEXT_KEYS = frozenset(
    {
        "text",
        "quote",
        "quotes",
        "claim",
        "claims",
        "content",
        "instruction",
        "messages",
        "prompt",
        "request",
        "response",
        "output",
        "findings",
        "summary",
        "final_text",
        "rationale",
        "facts",
        "gaps",
        "failures",
        "citations",
        "evidence",
        "arguments",
        "thought",
        "message",
        "exception",
        "error",
        "reason_text",
        "query",
        "note",
    }
)
"""Keys whose values are (or may hold) patient text."""

SAFE_HEX_KEYS = frozenset(
    {"run_id", "parent_run", "request_digest", "hash", "prev_hash", "trace_id", "span_id"}
)
"""Keys whose values are our own identifiers and digests: not mistaken for 32-hex keys."""

SECRET_ENV_VARS = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_CLIENT_SECRET")
MASK = "[masked]"
_MARK = "[redacted: "

_SECRET_KEY = re.compile(
    r"(?i)^(?:.*[_-])?(?:api[_-]?key|secret|password|authorization|access[_-]?token|"
    r"ad[_-]?token|token|credential|bearer)$"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer x / api-key: x / "api_key": "x" (headers and reprs of them)
    (
        re.compile(
            r"(?i)((?:authorization|api[-_]?key|x-api-key|ocp-apim-subscription-key)"
            r"['\"]?\s*[:=]\s*['\"]?)(?:bearer\s+|basic\s+)?[^\s'\",}&]+"
        ),
        r"\1" + MASK,
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), MASK),
    (
        re.compile(
            r"(?i)([?&;](?:api[-_]?key|key|token|access_token|sig|signature|code|"
            r"client_secret|password|secret)=)[^&\s'\"#]+"
        ),
        r"\1" + MASK,
    ),
)
_HEX32 = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32}(?![0-9A-Za-z])")


def _env_secrets() -> list[str]:
    # read at each call: a key set after logging was configured is masked too
    return [v for name in SECRET_ENV_VARS if len(v := os.environ.get(name, "")) >= 8]


def mask_secrets(value: str, *, hex_keys: bool = True) -> str:
    """``value`` with every secret we can recognise replaced by ``[masked]``."""
    for secret in _env_secrets():
        if secret in value:
            value = value.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        value = pattern.sub(replacement, value)
    return _HEX32.sub(MASK, value) if hex_keys else value


def _size(value: Any) -> str:
    if isinstance(value, str):
        return f"{_MARK}{len(value)} chars]"
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        return f"{_MARK}{len(value)} items]"
    return f"{_MARK}{len(str(value))} chars]"


def redact_value(key: str, value: Any, *, include_text: bool) -> Any:
    """One value of an event, redacted by its key and masked for secrets (recursively)."""
    if isinstance(value, str) and value.startswith(_MARK):
        return value  # already redacted (the processor may run twice)
    if value is None or isinstance(value, bool | int | float):
        return value
    if _SECRET_KEY.match(key):
        return MASK
    if not include_text and key.lower() in TEXT_KEYS:
        return _size(value)
    if isinstance(value, str):
        return mask_secrets(value, hex_keys=key not in SAFE_HEX_KEYS)
    if isinstance(value, Mapping):
        return {
            str(k): redact_value(str(k), v, include_text=include_text) for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(key, v, include_text=include_text) for v in value]
    return mask_secrets(repr(value))


def redact_event(
    event: MutableMapping[str, Any], *, include_text: bool
) -> MutableMapping[str, Any]:
    """Redact an event dict in place (and return it)."""
    for key in list(event):
        if key == "event" and isinstance(event[key], str):
            event[key] = mask_secrets(event[key])  # the message itself: secrets only
        elif not key.startswith("_"):
            event[key] = redact_value(key, event[key], include_text=include_text)
    return event
