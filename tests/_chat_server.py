"""A real HTTP server on 127.0.0.1 that speaks OpenAI's chat-completions API, with faults.

It answers ``POST /v1/chat/completions`` (OpenAI and OpenAI-compatible servers) and
``POST /openai/deployments/{deployment}/chat/completions?api-version=...`` (Azure OpenAI) well
enough for the ``openai`` SDK and autogen-ext's clients. What it says is a function of the
request: the JSON is read back into a ``ModelRequest`` (messages, tools, the response format's
schema name) and handed to an answer function such as ``SimulatedModel``, which answers by the
request's structure, never by prompt text.

    with ChatServer(answer, faults=[Fault("rate_limit", nth=1)]) as server:
        run(base_url=server.url + "/v1")
    assert server.outcomes[:2] == ["rate_limit", "ok"]

``faults`` pick requests by number (``nth``, from 1), by schema name, or by whether tools are
offered; each applies ``times`` times (None: always). Every request is recorded with its
outcome ("ok" for a well-formed answer, else the fault's kind). A slow reply ends early when
the server stops, so no test waits on it.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

from _chat_answers import AnswerFn, completion, model_request, prompt_text, sse
from _http_server import ServerThread

from magentic_health.models.scripted import Reply

FaultKind = Literal[
    "rate_limit",  # 429 with Retry-After and retry-after-ms
    "server_error",  # 500
    "bad_gateway",  # 502 (an HTML body, as proxies send)
    "unavailable",  # 503
    "slow",  # the answer comes after ``delay_s`` (longer than the client's timeout)
    "drop",  # the connection closes without a response
    "truncated",  # 200 with half of the JSON body
    "bad_arguments",  # a tool call whose arguments are not JSON
    "unknown_tool",  # a tool call naming a tool nobody offered
    "empty_choices",  # 200 with "choices": []
    "refusal",  # message.refusal set, content null
    "unauthorized",  # 401
    "forbidden",  # 403
    "missing_deployment",  # 404 (Azure: DeploymentNotFound; else model_not_found)
    "context_length",  # 400 context_length_exceeded
    "prose",  # text instead of the JSON object asked for
    "wrong_schema",  # a JSON object that is not the schema asked for
]
FAULT_KINDS: tuple[FaultKind, ...] = FaultKind.__args__  # type: ignore[attr-defined]
UNKNOWN_TOOL = "order_lab_test"
PROSE = "The patient's case was reviewed and the findings are summarised above."
REFUSAL = "I'm sorry, but I can't help with that request."


@dataclass(frozen=True)
class Fault:
    """A fault for the requests it matches: the ``nth`` request, or those asking for the
    ``schema`` name, or those offering tools (``tools=True``); ``times`` of them (None: all)."""

    kind: FaultKind
    nth: int | None = None
    schema: str | None = None
    tools: bool | None = None
    times: int | None = 1
    retry_after_s: float = 0.0
    delay_s: float = 2.0

    def matches(self, request: ChatRequest) -> bool:
        if self.nth is not None and request.number != self.nth:
            return False
        if self.schema is not None and request.schema_name != self.schema:
            return False
        return self.tools is None or bool(request.tool_names) == self.tools


@dataclass
class ChatRequest:
    """A request as the server saw it (header names lower-cased) and what it got."""

    number: int
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    outcome: str = "pending"
    sent: dict[str, Any] | None = None
    """The ``chat.completion`` sent back, when the server answered 200 with one."""
    """"ok" (a well-formed answer), a fault kind, or an HTTP status for a bad request."""

    def json(self) -> dict[str, Any]:
        data = json.loads(self.body or b"{}")
        return data if isinstance(data, dict) else {}

    @property
    def deployment(self) -> str | None:
        """The Azure deployment named in the path, if any."""
        parts = self.path.strip("/").split("/")
        if len(parts) >= 4 and parts[:2] == ["openai", "deployments"]:
            return urllib.parse.unquote(parts[2])
        return None

    @property
    def schema_name(self) -> str | None:
        fmt = self.json().get("response_format") or {}
        if fmt.get("type") == "json_schema":
            name = (fmt.get("json_schema") or {}).get("name")
            return str(name) if name else None
        return None

    @property
    def tool_names(self) -> tuple[str, ...]:
        return tuple(t["function"]["name"] for t in self.json().get("tools") or ())


@dataclass(frozen=True)
class Response:
    """What the handler writes: a status, headers and a body; ``drop`` closes instead."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False


def _json(status: int, data: Any, **headers: str) -> Response:
    return Response(
        status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers}
    )


def _err(message: str, code: str | None, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


_ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "server_error": (500, _err("The server had an error.", None, "server_error")),
    "unavailable": (503, _err("The engine is currently overloaded.", None, "server_error")),
    "unauthorized": (401, _err("Incorrect API key provided.", "invalid_api_key")),
    "forbidden": (
        403,
        {"error": {"code": "PermissionDenied", "message": "Principal does not have access."}},
    ),
    "context_length": (
        400,
        _err(
            "This model's maximum context length is 8192 tokens. Please reduce the length "
            "of the messages.",
            "context_length_exceeded",
        ),
    ),
}


def error_response(fault: Fault, request: ChatRequest) -> Response | None:
    """The response for a fault that is an HTTP error or no response; None for the others."""
    if fault.kind in _ERRORS:
        status, data = _ERRORS[fault.kind]
        return _json(status, data)
    match fault.kind:
        case "rate_limit":
            wait = fault.retry_after_s
            return _json(
                429,
                _err(f"Rate limit is exceeded. Try again in {wait:g} seconds.", "429"),
                **{"Retry-After": f"{wait:g}", "retry-after-ms": str(round(wait * 1000))},
            )
        case "bad_gateway":
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            return Response(502, page, {"Content-Type": "text/html"})
        case "drop":
            return Response(drop=True)
        case "missing_deployment" if request.deployment is not None:
            missing = {"code": "DeploymentNotFound", "message": "The deployment does not exist."}
            return _json(404, {"error": missing})
        case "missing_deployment":
            name = request.json().get("model")
            return _json(404, _err(f"The model `{name}` does not exist.", "model_not_found"))
    return None


class ChatServer(ServerThread):
    """The chat-completions server on an ephemeral port of 127.0.0.1 (a context manager)."""

    def __init__(
        self,
        answer: AnswerFn,
        *,
        faults: Sequence[Fault] = (),
        api_key: str | None = None,
    ) -> None:
        self._answer = answer
        self._faults = list(faults)
        self._left = {i: f.times for i, f in enumerate(self._faults)}
        self._api_key = api_key
        self._lock = threading.Lock()
        self.requests: list[ChatRequest] = []
        self.errors: list[str] = []
        """Answer functions that raised (a bug in the test's setup): the reply was a 500."""
        self._serve_with(self._handler())

    @property
    def outcomes(self) -> list[str]:
        return [r.outcome for r in self.requests]

    @property
    def answered(self) -> list[ChatRequest]:
        """The requests that got a well-formed answer."""
        return [r for r in self.requests if r.outcome == "ok"]

    def _completion(
        self, reply: Reply, request: ChatRequest, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        model = request.deployment or str(body.get("model") or "test")
        return completion(reply, number=request.number, model=model, prompt_text=prompt_text(body))

    def _fault(self, request: ChatRequest) -> Fault | None:
        for i, fault in enumerate(self._faults):
            left = self._left[i]
            if (left is None or left > 0) and fault.matches(request):
                self._left[i] = None if left is None else left - 1
                return fault
        return None

    def respond(self, request: ChatRequest) -> Response:
        """The response to one request (recorded first, under the lock)."""
        with self._lock:
            request.number = len(self.requests) + 1
            self.requests.append(request)
            problem = self._check(request)
            fault = None if problem else self._fault(request)
        if problem is not None:
            request.outcome = str(problem.status)
            return problem
        if fault is not None:
            request.outcome = fault.kind
            return self._faulty(fault, request)
        try:
            body = request.json()
            reply = self._answer(model_request(body))
        except Exception as exc:  # the answer function's bug: make it visible to the test
            self.errors.append(f"{type(exc).__name__}: {exc}")
            request.outcome = "answer_error"
            return _json(500, {"error": {"message": f"test server: {exc}", "type": "server_error"}})
        request.outcome = "ok"
        return self._answered(self._completion(reply, request, body), request, body)

    def _check(self, request: ChatRequest) -> Response | None:
        if request.method != "POST" or not request.path.endswith("/chat/completions"):
            return _json(404, {"error": {"message": f"no route {request.path}", "code": "404"}})
        if request.deployment is not None and not request.query.get("api-version"):
            return _json(400, {"error": {"code": "400", "message": "api-version is required"}})
        if self._api_key is not None:
            given = request.headers.get("api-key") or request.headers.get(
                "authorization", ""
            ).removeprefix("Bearer ")
            if given != self._api_key:
                return _json(401, _ERRORS["unauthorized"][1])
        try:
            request.json()
        except ValueError:
            return _json(400, _err("the body is not JSON", None))
        return None

    def _answered(
        self, data: dict[str, Any], request: ChatRequest, body: Mapping[str, Any]
    ) -> Response:
        request.sent = data
        if not body.get("stream"):
            return _json(200, data)
        return Response(200, sse(data), {"Content-Type": "text/event-stream"})

    def _faulty(self, fault: Fault, request: ChatRequest) -> Response:
        return error_response(fault, request) or self._bad_answer(fault, request, request.json())

    def _bad_answer(self, fault: Fault, request: ChatRequest, body: Mapping[str, Any]) -> Response:
        """A 200 whose content is wrong (or late): built from a well-formed completion."""
        good = self._completion("", request, body)
        choice = good["choices"][0]
        message = choice["message"]
        offered = request.tool_names[0] if request.tool_names else "search_notes"
        match fault.kind:
            case "slow":
                answer = self._answer(model_request(body))
                late = self._completion(answer, request, body)
                return Response(
                    200,
                    json.dumps(late).encode(),
                    {"Content-Type": "application/json"},
                    delay_s=fault.delay_s,
                )
            case "truncated":
                whole = json.dumps(self._completion(PROSE, request, {})).encode()
                return Response(200, whole[: len(whole) // 2], {"Content-Type": "application/json"})
            case "bad_arguments" | "unknown_tool":
                name = UNKNOWN_TOOL if fault.kind == "unknown_tool" else offered
                arguments = '{"query": "x"}' if fault.kind == "unknown_tool" else '{"query": "half'
                message["content"] = None
                message["tool_calls"] = [
                    {
                        "id": f"call_bad_{request.number}",
                        "type": "function",
                        "function": {"name": name, "arguments": arguments},
                    }
                ]
                choice["finish_reason"] = "tool_calls"
            case "empty_choices":
                good["choices"] = []
            case "refusal":
                message["content"], message["refusal"] = None, REFUSAL
            case "prose":
                message["content"] = PROSE
            case "wrong_schema":
                message["content"] = json.dumps({"answer": "yes", "confidence": 0.9})
        return self._answered(good, request, body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                split = urllib.parse.urlsplit(self.path)
                request = ChatRequest(
                    number=0,
                    method=self.command,
                    path=split.path,
                    query=urllib.parse.parse_qs(split.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                response = server.respond(request)
                if response.drop or (response.delay_s and server._stopping.wait(response.delay_s)):
                    self.close_connection = True
                    return  # no response: the client sees the connection close
                try:
                    self.send_response(response.status)
                    for name, value in response.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(response.body)))
                    self.end_headers()
                    self.wfile.write(response.body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (a timeout)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler
