"""The first divergence of a rerun, and stopping the run where it is found.

A divergence is a request the ledger has no recorded answer for: the code or the configuration
changed, so the run asks something it did not ask before. The rerun records the first one and
cancels the run there (the partial ledger is kept): every later step would depend on an answer
nobody recorded. ``in_step`` wraps a specialist so model and tool calls know their plan step
(a context variable, copied into the tool threads).
"""

from __future__ import annotations

import asyncio
import threading
from contextvars import ContextVar
from typing import Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict

from magentic_health.agents import EventSink, HandoffRequest, Specialist
from magentic_health.reply import SpecialistReply


class Divergence(BaseModel):
    """A request with no recorded match: where, and what was expected instead."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["model_call", "tool_call"]
    agent: str | None
    step: str | None
    actual_digest: str
    """The request digest (model calls) or the canonical arguments' digest (tool calls)."""
    expected_digest: str | None
    """The next recorded one for the same agent and step; None when none was left."""
    expected_seq: int | None
    """Where the expected call is in the original ledger."""
    request: str
    """A short description of the actual request (no patient text)."""
    tool: str | None = None
    actual_arguments: dict[str, Any] | None = None
    expected_arguments: dict[str, Any] | None = None

    def describe(self) -> list[str]:
        """The divergence as lines for people."""
        where = f"step {self.step or '-'} ({self.agent or '-'})"
        what = f"tool {self.tool!r}" if self.kind == "tool_call" else "model call"
        expected = (
            f"{self.expected_digest} (original seq {self.expected_seq})"
            if self.expected_digest
            else "none (the original made no further call here)"
        )
        lines = [
            f"First divergence at {where}: {what} with no recorded match",
            f"  expected: {expected}",
            f"  actual:   {self.actual_digest} ({self.request})",
        ]
        if self.kind == "tool_call":
            lines.append(f"  expected arguments: {_brief(self.expected_arguments)}")
            lines.append(f"  actual arguments:   {_brief(self.actual_arguments)}")
        return lines


class InputChange(BaseModel):
    """A run input whose digest differs from the one recorded in ``run_started``."""

    model_config = ConfigDict(frozen=True)

    name: Literal["case", "config"]
    expected: str
    actual: str

    def describe(self) -> str:
        return f"{self.name} changed: recorded {self.expected}, now {self.actual}"


def _brief(arguments: dict[str, Any] | None, width: int = 160) -> str:
    if arguments is None:
        return "-"
    text = ", ".join(f"{k}={v!r}" for k, v in sorted(arguments.items()))
    return text if len(text) <= width else text[: width - 1] + "…"


class Watch:
    """Holds the first divergence and cancels the run task it happened in."""

    def __init__(self) -> None:
        self.divergence: Divergence | None = None
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def attach(self, task: asyncio.Task[Any]) -> None:
        """Watch ``task`` (call from the event loop running it)."""
        self._task, self._loop = task, asyncio.get_running_loop()

    def stop(self, divergence: Divergence) -> NoReturn:
        """Record ``divergence`` (if it is the first) and cancel the run; called from the run's
        tasks or its tool threads, it never returns."""
        with self._lock:
            if self.divergence is None:
                self.divergence = divergence
        if self._task is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        raise asyncio.CancelledError


_STEP: ContextVar[str | None] = ContextVar("magentic_health_rerun_step", default=None)


def current_step() -> str | None:
    """The plan step whose specialist is running in this context (None: the orchestrator)."""
    return _STEP.get()


class InStep:
    """A specialist that marks its calls with the step it is answering."""

    def __init__(self, inner: Specialist) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def reads_request(self) -> bool:
        return bool(getattr(self.inner, "reads_request", True))

    async def handle(self, request: HandoffRequest, *, emit: EventSink) -> SpecialistReply:
        token = _STEP.set(request.step.id)
        try:
            return await self.inner.handle(request, emit=emit)
        finally:
            _STEP.reset(token)
