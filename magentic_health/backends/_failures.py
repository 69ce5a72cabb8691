"""What a failed model call means: retry it (and how long the server asked us to wait), or give
up with one line that says what to check. The one place the openai SDK's exceptions are read.

Server messages are not quoted for refused credentials (they may echo part of a key) and
never in full: a line names the status, the error code and the setting to check.
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass
from typing import Literal

import openai
from pydantic import ValidationError

Reason = Literal["rate_limited", "server_error", "timeout", "connection", "invalid_response"]


@dataclass(frozen=True)
class Hints:
    """What to tell the user to check, per kind of failure (names of flags and variables)."""

    auth: str
    not_found: str
    unreachable: str


@dataclass(frozen=True)
class Transient:
    """A failure worth retrying."""

    reason: Reason
    status: int | None = None
    retry_after_s: float | None = None


@dataclass(frozen=True)
class Fatal:
    """A failure no retry will fix: the line to show (without the profile's name)."""

    message: str
    status: int | None = None
    every_call: bool = False
    """Every call of the run would fail the same way (not only this request)."""


def classify(exc: BaseException, hints: Hints) -> Transient | Fatal | None:
    """``Transient``, ``Fatal``, or None for an exception that is not the backend's (a bug)."""
    match exc:
        case openai.APITimeoutError():
            return Transient("timeout")
        case openai.APIConnectionError():
            return Transient("connection")
        case openai.AuthenticationError() | openai.PermissionDeniedError():
            return Fatal(
                f"the model backend refused the credentials (HTTP {exc.status_code}); "
                f"check {hints.auth}",
                exc.status_code,
                every_call=True,
            )
        case openai.NotFoundError():
            return Fatal(
                f"the model or deployment was not found (HTTP 404); check {hints.not_found}",
                404,
                every_call=True,
            )
        case openai.RateLimitError() if _code(exc) == "insufficient_quota":
            return Fatal(
                "the account's quota is used up (HTTP 429 insufficient_quota)", 429, every_call=True
            )
        case openai.RateLimitError():
            return Transient("rate_limited", 429, retry_after(exc.response.headers))
        case openai.APIStatusError() if exc.status_code in (408, 409) or exc.status_code >= 500:
            reason: Reason = "timeout" if exc.status_code == 408 else "server_error"
            return Transient(reason, exc.status_code, retry_after(exc.response.headers))
        case openai.BadRequestError() if _too_long(exc):
            return Fatal(
                "the request is longer than the model's context window "
                "(HTTP 400 context_length_exceeded); use a model with a larger context window "
                "or lower the case's size",
                400,
            )
        case openai.APIStatusError():
            code = f" {_code(exc)}" if _code(exc) else ""
            return Fatal(
                f"the model backend rejected the request (HTTP {exc.status_code}{code})",
                exc.status_code,
            )
        case openai.APIResponseValidationError() | json.JSONDecodeError() | ValidationError():
            return Transient("invalid_response")
        case IndexError() | KeyError() | AttributeError() if _from_client(exc):
            return Transient("invalid_response")  # e.g. a reply with no choices
    return None


def unreachable(reason: Reason, hints: Hints) -> str:
    """The line for a transient failure that lasted through every retry."""
    what = {
        "rate_limited": "the model backend kept rate-limiting us (HTTP 429)",
        "server_error": "the model backend kept failing (HTTP 5xx)",
        "timeout": "the model backend did not answer in time",
        "connection": "the model backend cannot be reached",
        "invalid_response": "the model backend's replies could not be read",
    }[reason]
    if reason == "rate_limited":
        return f"{what}; wait and try again, or raise the quota of the key or deployment"
    return f"{what}; check {hints.unreachable}"


def retry_after(headers: object) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, else ``Retry-After`` (seconds
    or an HTTP date); None when absent or unreadable."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    millis = get("retry-after-ms")
    try:
        if millis is not None:
            return max(0.0, float(millis) / 1000)
    except ValueError:
        pass
    value = get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        return None if parsed is None else max(0.0, email.utils.mktime_tz(parsed) - time.time())


def _code(exc: openai.APIError) -> str | None:
    return exc.code if isinstance(exc.code, str) else None


def _too_long(exc: openai.BadRequestError) -> bool:
    message = str(exc.message).lower()
    return _code(exc) == "context_length_exceeded" or "context length" in message


def _from_client(exc: BaseException) -> bool:
    """Whether the exception was raised while reading a model reply (autogen-ext's client or
    the openai SDK), not in our own code."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "") if tb is not None else ""
    return isinstance(module, str) and module.startswith(("autogen_ext.", "openai."))
