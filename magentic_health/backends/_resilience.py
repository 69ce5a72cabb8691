"""Retrying model calls that fail transiently, and failing fast on the rest (tenacity).

``ResilientClient`` wraps one agent's ``ChatCompletionClient``: 429 (honouring Retry-After /
retry-after-ms, capped), 408/409/5xx, timeouts, dropped connections and unreadable replies are
retried with exponential backoff and jitter, at most ``max_attempts`` calls and
``max_total_wait_s`` of waiting; refused credentials, a missing model or deployment and an
over-long request raise ``BackendError`` at once. Every retry is a ``model_retry`` event and
every give-up an ``error`` event, written through the sink of ``reporting(...)`` (the run's
ledger) with the agent and its plan step.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel
from tenacity import AsyncRetrying, RetryCallState

from magentic_health.backends._failures import Fatal, Hints, Transient, classify, unreachable
from magentic_health.backends._profiles import RetryPolicy
from magentic_health.errors import BackendError, BackendRefusedError
from magentic_health.models import current_step
from magentic_health.models._stream import WrappingClient
from magentic_health.trace import ErrorEvent, ModelRetry

BackendEvent = ModelRetry | ErrorEvent
BackendEventSink = Callable[[BackendEvent, str, str | None], None]
"""Receives a ``model_retry`` or ``error`` payload, the agent's name and the plan step."""
Sleep = Callable[[float], Awaitable[None]]

_SINK: ContextVar[BackendEventSink | None] = ContextVar("magentic_health_backend", default=None)


@contextlib.contextmanager
def reporting(sink: BackendEventSink) -> Iterator[None]:
    """Send the retries and give-ups of model calls made inside this block to ``sink``."""
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)


def _report(event: BackendEvent, agent: str) -> None:
    sink = _SINK.get()
    if sink is not None:
        sink(event, agent, current_step())


class ResilientClient(WrappingClient):
    """One agent's model client with retries; see the module doc. ``sleep`` and ``jitter``
    are seams for tests (no real waiting, fixed randomness)."""

    def __init__(
        self,
        inner: ChatCompletionClient,
        *,
        agent: str,
        profile: str,
        policy: RetryPolicy,
        hints: Hints,
        model_name: str | None = None,
        sleep: Sleep | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.inner, self.agent, self.profile = inner, agent, profile
        self.model_name = model_name
        """The model or deployment, as the planner's engine label shows it."""
        self.policy, self.hints = policy, hints
        self._sleep: Sleep = sleep or asyncio.sleep
        self._jitter = jitter

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        retrying = AsyncRetrying(
            retry=self._should_retry,
            wait=self._wait,
            stop=self._stop,
            sleep=self._sleep,
            before_sleep=self._record,
            reraise=True,
        )
        try:
            result: CreateResult = await retrying(
                self.inner.create,
                messages,
                tools=tools,
                tool_choice=tool_choice,
                json_output=json_output,
                extra_create_args=extra_create_args,
                cancellation_token=cancellation_token,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise self._give_up(exc, retrying.statistics.get("attempt_number", 1)) from exc
        return result

    def _failure(self, state: RetryCallState) -> Transient | Fatal | None:
        exc = state.outcome.exception() if state.outcome is not None else None
        return None if exc is None else classify(exc, self.hints)

    def _should_retry(self, state: RetryCallState) -> bool:
        return isinstance(self._failure(state), Transient)

    def _wait(self, state: RetryCallState) -> float:
        """The server's Retry-After (capped), else doubling backoff with jitter (half to
        all of the doubled wait, capped)."""
        failure = self._failure(state)
        p = self.policy
        if isinstance(failure, Transient) and failure.retry_after_s is not None:
            return float(min(failure.retry_after_s, p.max_retry_after_s))
        backoff = min(p.max_wait_s, p.initial_wait_s * 2.0 ** (state.attempt_number - 1))
        return float(round(backoff * (0.5 + self._jitter() / 2), 3))

    def _stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.policy.max_attempts:
            return True
        return state.idle_for + (state.upcoming_sleep or 0.0) > self.policy.max_total_wait_s

    def _record(self, state: RetryCallState) -> None:
        failure = self._failure(state)
        assert isinstance(failure, Transient)  # only transient failures are retried
        _report(
            ModelRetry(
                attempt=state.attempt_number,
                reason=failure.reason,
                status=failure.status,
                wait_s=state.upcoming_sleep or 0.0,
                retry_after_s=failure.retry_after_s,
            ),
            self.agent,
        )

    def _give_up(self, exc: Exception, attempts: int) -> Exception:
        """The ``BackendError`` for a backend failure (recorded as an ``error`` event); any
        other exception unchanged."""
        failure = classify(exc, self.hints)
        if failure is None or isinstance(exc, BackendError):
            return exc
        if isinstance(failure, Fatal):
            line = failure.message
        else:
            line = f"{unreachable(failure.reason, self.hints)} (gave up after {attempts} attempts)"
        message = f"--model {self.profile}: {line}"
        _report(ErrorEvent(message=message, kind="backend_error"), self.agent)
        if isinstance(failure, Fatal) and failure.every_call:
            return BackendRefusedError(message)
        return BackendError(message)
