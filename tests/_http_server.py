"""A real HTTP server on 127.0.0.1 for adapter tests: it records every request and answers
each with the next scripted reply (or with a function of the request).

    with LocalServer([Reply(json={"output": []})]) as server:
        call(server.url + "/score")
    assert server.requests[0].headers["authorization"] == "Bearer t"

Replies may be delayed (to test client timeouts); a delayed reply ends early when the server
stops, so no test waits on it. Requests past the script get HTTP 599 "unexpected request".
"""

from __future__ import annotations

import json
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a JSON value (``json``) or raw bytes (``body``)."""

    status: int = 200
    json: Any = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

    def payload(self) -> bytes:
        return json.dumps(self.json).encode() if self.json is not None else self.body


@dataclass(frozen=True)
class Recorded:
    """A request as the server saw it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Script = Sequence[Reply] | Callable[[Recorded], Reply]


class ServerThread:
    """A threading HTTP server on an ephemeral port of 127.0.0.1, serving in a daemon thread
    while used as a context manager. Subclasses set up their state, then call ``_serve_with``
    with their handler; handlers that wait should wait on ``_stopping`` (set on exit)."""

    def _serve_with(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class LocalServer(ServerThread):
    """A local server answering from a script of replies (or a function of the request)."""

    def __init__(self, script: Script = ()) -> None:
        self._script = script
        self._next = 0
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self._serve_with(self._handler())

    def _reply(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            if callable(self._script):
                return self._script(request)
            if self._next >= len(self._script):
                return Reply(status=599, body=b"unexpected request")
            reply = self._script[self._next]
            self._next += 1
            return reply

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                split = urllib.parse.urlsplit(self.path)
                recorded = Recorded(
                    method=self.command,
                    path=split.path,
                    query=urllib.parse.parse_qs(split.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                reply = server._reply(recorded)
                if reply.delay_s and server._stopping.wait(reply.delay_s):
                    return  # the test is over: drop the connection
                payload = reply.payload()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler


def direct_opener() -> urllib.request.OpenerDirector:
    """An opener that ignores proxy settings, so 127.0.0.1 is reached directly."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))
