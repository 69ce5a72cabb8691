"""Chat-completions wire replies for ``LocalServer`` scripts: a completion, an API error, and
what a request asks for (its structured-output schema name, who speaks), read from its JSON."""

from __future__ import annotations

import json
from typing import Any

from tests._http_server import Recorded, Reply


def completion(
    content: str, *, prompt_tokens: int = 11, completion_tokens: int = 7, model: str = "test"
) -> Reply:
    """A 200 ``chat.completion`` answering ``content``."""
    return Reply(
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": content},
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


def api_error(
    status: int, *, code: str | None = None, message: str = "error", **headers: str
) -> Reply:
    """An OpenAI-style error body with ``status`` (and headers such as ``Retry-After``)."""
    body = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
    return Reply(status=status, json=body, headers=dict(headers))


def schema_name(request: Recorded) -> str | None:
    """The structured-output schema the request asks for (``response_format.json_schema``)."""
    fmt = request.json().get("response_format") or {}
    schema = fmt.get("json_schema") or {}
    name = schema.get("name")
    return name if isinstance(name, str) else None


def system_text(request: Recorded) -> str:
    """The first (system) message of the request: who is speaking."""
    first = request.json()["messages"][0]
    return first["content"] if first.get("role") == "system" else ""


def dumps(value: Any) -> str:
    return json.dumps(value)
