"""The HTTP side of the CXRReportGen adapter: the Authorization header, the request body, one
POST (retried once on 429 or 5xx) and the response parsed defensively.

Request and response shapes follow Microsoft's "How to use CXRReportGen Healthcare AI model to
generate grounded findings" (Azure AI Foundry docs, MicrosoftDocs/azure-ai-docs,
articles/ai-studio/how-to/healthcare-ai/deploy-cxrreportgen.md): the body is
``{"input_data": {"columns": [...], "index": [0], "data": [[...]]}}`` with images as base64
strings, and the answer is ``{"output": [[finding text, [[x_min, y_min, x_max, y_max], ...] or
null], ...]}`` with coordinates between 0 and 1. Nothing here logs; tokens, keys and image
bytes never appear in messages.
"""

from __future__ import annotations

import base64
import json
import math
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Protocol

from azure.core.credentials import AccessToken
from azure.core.exceptions import AzureError

from magentic_health.errors import BackendError
from magentic_health.tools._cxr_model import Box, CxrFinding
from magentic_health.tools._settings import CxrSettings

COLUMNS = ("frontal_image", "lateral_image", "indication", "technique", "comparison")
MAX_RETRY_AFTER_S = 10.0
DEFAULT_RETRY_AFTER_S = 1.0
_SETTING = "tool_settings.radiology.cxr"


class Credential(Protocol):
    """What the adapter needs of an Azure credential (``DefaultAzureCredential`` has it)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken: ...


class MalformedOutput(BackendError):
    """The endpoint answered, but not with CXRReportGen output (a per-image failure)."""


def authorization(settings: CxrSettings, credential: Credential | None) -> str:
    """The ``Authorization`` header value: the endpoint key from ``api_key_env`` when set,
    else an Entra ID token for ``scope`` (from ``credential``, by default
    ``DefaultAzureCredential``)."""
    if settings.api_key_env:
        key = os.environ.get(settings.api_key_env, "").strip()
        if not key:
            raise BackendError(
                f"{_SETTING}.api_key_env names {settings.api_key_env!r}, which is not set: "
                f"export the endpoint key in {settings.api_key_env}, or remove api_key_env "
                "to sign in with Entra ID"
            )
        return f"Bearer {key}"
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    try:
        token = credential.get_token(settings.scope)
    except AzureError as exc:
        raise BackendError(
            f"no Entra ID token for scope {settings.scope!r} ({type(exc).__name__}): sign in "
            f"with 'az login' (or another DefaultAzureCredential source), or set "
            f"{_SETTING}.api_key_env to a variable holding the endpoint key"
        ) from exc
    return f"Bearer {token.token}"


def request_body(image: bytes, *, indication: str = "") -> bytes:
    """One frontal image and its indication in the online-endpoint ``input_data`` shape."""
    frontal = base64.b64encode(image).decode("ascii")
    row = [frontal, "", indication, "", ""]
    payload = {"input_data": {"columns": list(COLUMNS), "index": [0], "data": [row]}}
    return json.dumps(payload).encode("utf-8")


def post(
    body: bytes,
    *,
    settings: CxrSettings,
    authorization: str,
    opener: urllib.request.OpenerDirector,
    sleep: Callable[[float], None],
) -> Any:
    """POST ``body`` to the endpoint and return the parsed JSON answer; one retry on 429 or
    5xx (after Retry-After, at most 10 s); every failure is a ``BackendError``."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Authorization": authorization,
    }
    if settings.deployment:
        headers["azureml-model-deployment"] = settings.deployment
    endpoint = settings.endpoint or ""
    for attempt in (1, 2):
        request = urllib.request.Request(endpoint, data=body, headers=headers, method="POST")
        try:
            with opener.open(request, timeout=settings.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            exc.close()
            if attempt == 1 and (exc.code == 429 or exc.code >= 500):
                sleep(_retry_after(exc.headers.get("Retry-After")))
                continue
            raise BackendError(_http_message(exc.code, settings, retried=attempt == 2)) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise BackendError(_timeout_message(settings)) from exc
            raise BackendError(
                f"CXRReportGen endpoint {endpoint!r} is unreachable ({exc.reason}): check "
                f"{_SETTING}.endpoint and the network"
            ) from exc
        except TimeoutError as exc:
            raise BackendError(_timeout_message(settings)) from exc
        except OSError as exc:
            raise BackendError(
                f"CXRReportGen endpoint {endpoint!r}: connection failed ({exc.strerror or exc})"
            ) from exc
        return _json(raw, endpoint)
    raise AssertionError("unreachable: the second attempt returns or raises")


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value is not None else DEFAULT_RETRY_AFTER_S
    except ValueError:
        seconds = DEFAULT_RETRY_AFTER_S  # an HTTP date: wait the default
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _http_message(code: int, settings: CxrSettings, *, retried: bool) -> str:
    endpoint = repr(settings.endpoint)
    if code in (401, 403):
        how = (
            f"check the key in {settings.api_key_env}"
            if settings.api_key_env
            else f"sign in with an identity allowed on the endpoint ('az login'), or set "
            f"{_SETTING}.api_key_env to a variable holding the endpoint key"
        )
        return f"CXRReportGen endpoint {endpoint} refused the credentials (HTTP {code}): {how}"
    if code == 404:
        deployment = f" or deployment {settings.deployment!r}" if settings.deployment else ""
        return (
            f"CXRReportGen endpoint {endpoint}{deployment} not found (HTTP 404): check "
            f"{_SETTING}.endpoint (the scoring URL) and {_SETTING}.deployment"
        )
    again = " after one retry" if retried else ""
    return f"CXRReportGen endpoint {endpoint} failed with HTTP {code}{again}; try again later"


def _timeout_message(settings: CxrSettings) -> str:
    return (
        f"CXRReportGen endpoint {settings.endpoint!r} did not answer within "
        f"{settings.timeout_s:g} s ({_SETTING}.timeout_s)"
    )


def _json(raw: bytes, endpoint: str) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedOutput(
            f"CXRReportGen endpoint {endpoint!r} answered with text that is not JSON "
            f"({type(exc).__name__})"
        ) from exc


def parse_output(payload: Any) -> list[CxrFinding]:
    """The findings of one image's answer. Accepted: ``{"output": [...]}``, the same wrapped in
    a one-item list (one per input row), a JSON string holding either, or the bare list. Each
    item is ``[text, boxes or null]`` or ``{"text", "boxes"}``; a box is four numbers."""
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)  # some scoring scripts encode their answer twice
        except json.JSONDecodeError as exc:
            raise MalformedOutput("CXRReportGen answered with a string, not findings") from exc
    if isinstance(payload, list) and len(payload) == 1 and isinstance(payload[0], dict):
        payload = payload[0]
    items = payload.get("output") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        raise MalformedOutput(
            f"CXRReportGen answer has no 'output' list of findings (got {type(items).__name__})"
        )
    findings = [f for f in (_finding(item) for item in items) if f is not None]
    if items and not findings:
        raise MalformedOutput("CXRReportGen 'output' holds no finding with text")
    return findings


def _finding(item: Any) -> CxrFinding | None:
    if isinstance(item, dict):
        text, boxes = item.get("text") or item.get("finding"), item.get("boxes")
    elif isinstance(item, list | tuple) and item:
        text, boxes = item[0], item[1] if len(item) > 1 else None
    else:
        text, boxes = item, None
    if not isinstance(text, str) or not text.strip():
        return None
    return CxrFinding(text=text.strip(), boxes=_boxes(boxes))


def _boxes(raw: Any) -> tuple[Box, ...]:
    """Well-formed boxes only: four finite numbers between 0 and 1, min before max."""
    if not isinstance(raw, list):
        return ()
    out: list[Box] = []
    for box in raw:
        if not isinstance(box, list) or len(box) != 4:
            continue
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in box):
            continue
        x0, y0, x1, y1 = (float(v) for v in box)
        if all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in box) and x0 <= x1 and y0 <= y1:
            out.append((x0, y0, x1, y1))
    return tuple(out)
