"""What a rerun serves: a verified ledger's model calls and tool results, consumed as matched.

``Recording.read`` refuses a ledger whose chain does not verify (a rerun of an edited ledger
would reproduce nothing trustworthy). ``ReplayBook`` holds the recorded calls: model calls by
request digest, tool results by (tool, digest of the canonical arguments); identical requests
are served in recorded order. It is shared by the step tasks and the tool threads, so it locks.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from magentic_health.errors import LedgerError
from magentic_health.trace import (
    Final,
    Ledger,
    LedgerEvent,
    ModelCall,
    RunStarted,
    ToolCall,
    ToolResult,
    read_ledger,
    verify_ledger,
)

TOOL_ARGUMENT_KEYS = ("case_id", "instruction", "upstream")
"""The arguments a tool receives (its context): the case, the instruction (the request, or the
model's ``query``, which the instruction then carries) and the names of the upstream outputs."""


def profile_name(model_profile: str) -> str:
    """The profile a ``run_started.model_profile`` names: the part before `` (``
    (``"azure (deployment x)"`` is ``azure``; ``"offline"`` is ``offline``)."""
    return model_profile.split(" (", 1)[0]


def tool_arguments_digest(arguments: Mapping[str, Any]) -> str:
    """sha256 of a tool call's canonical arguments (``TOOL_ARGUMENT_KEYS``, JSON, keys sorted)."""
    canonical = {key: arguments.get(key) for key in TOOL_ARGUMENT_KEYS}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RecordedModelCall:
    """One recorded ``model_call`` and where it was made."""

    seq: int
    agent: str | None
    step: str | None
    call: ModelCall


@dataclass(frozen=True)
class RecordedToolCall:
    """One recorded ``tool_call`` paired with its ``tool_result``."""

    seq: int
    """The seq of the ``tool_result`` (what ``--live-from`` compares)."""
    call_seq: int
    agent: str | None
    step: str | None
    call: ToolCall
    result: ToolResult

    @property
    def digest(self) -> str:
        return tool_arguments_digest(self.call.arguments)


@dataclass(frozen=True)
class Recording:
    """A verified ledger read for a rerun."""

    ledger: Ledger
    started: RunStarted
    final: Final | None
    model_calls: tuple[RecordedModelCall, ...]
    tool_calls: tuple[RecordedToolCall, ...]

    @property
    def run_id(self) -> str:
        return self.ledger.events[0].run_id

    @property
    def path(self) -> Path:
        return self.ledger.path

    @property
    def profile(self) -> str:
        """The recorded model profile's name (``offline`` for the offline engine)."""
        return profile_name(self.started.model_profile)

    @classmethod
    def read(cls, path: str | os.PathLike[str], *, purpose: str = "a rerun") -> Recording:
        """Read and verify ``path``; a broken chain is a one-line ``LedgerError`` (exit 2)
        saying that ``purpose`` needs an intact ledger."""
        ledger = read_ledger(path)
        if not ledger.events:
            raise LedgerError(f"{path}: the ledger holds no complete event; {purpose} needs one")
        check = verify_ledger(ledger)
        if not check.ok:
            raise LedgerError(
                f"{path}: chain broken at seq {check.first_broken_seq}: {check.reason}; "
                f"{purpose} needs an intact ledger (see 'magentic-health replay')"
            )
        first = ledger.events[0].payload()
        if not isinstance(first, RunStarted):
            raise LedgerError(f"{path}: seq 0 is {first.type!r}, not 'run_started'")
        finals = [p for p in (e.payload() for e in ledger.events) if isinstance(p, Final)]
        return cls(
            ledger=ledger,
            started=first,
            final=finals[-1] if finals else None,
            model_calls=tuple(_model_calls(ledger.events)),
            tool_calls=tuple(_tool_calls(ledger.events)),
        )


def _model_calls(events: Iterable[LedgerEvent]) -> Iterable[RecordedModelCall]:
    for event in events:
        payload = event.payload()
        if isinstance(payload, ModelCall):
            yield RecordedModelCall(event.seq, event.agent, event.step, payload)


def _tool_calls(events: Iterable[LedgerEvent]) -> Iterable[RecordedToolCall]:
    """Pair each ``tool_result`` with the earliest open ``tool_call`` of the same agent, step
    and tool (a step calls a tool once per attempt, in order)."""
    open_calls: dict[tuple[str | None, str | None, str], deque[tuple[int, ToolCall]]]
    open_calls = defaultdict(deque)
    for event in events:
        payload = event.payload()
        if isinstance(payload, ToolCall):
            open_calls[(event.agent, event.step, payload.tool)].append((event.seq, payload))
        elif isinstance(payload, ToolResult):
            waiting = open_calls[(event.agent, event.step, payload.tool)]
            if waiting:
                call_seq, call = waiting.popleft()
                yield RecordedToolCall(event.seq, call_seq, event.agent, event.step, call, payload)


class ReplayBook:
    """The recorded calls a rerun may serve (those before ``live_from``, if given)."""

    def __init__(self, recording: Recording, *, live_from: int | None = None) -> None:
        self.live_from = live_from
        limit = live_from if live_from is not None else float("inf")
        self.model_calls = [c for c in recording.model_calls if c.seq < limit]
        self.tool_calls = [c for c in recording.tool_calls if c.seq < limit]
        self._models: dict[str, deque[RecordedModelCall]] = defaultdict(deque)
        for m in self.model_calls:
            self._models[m.call.request_digest].append(m)
        self._tools: dict[tuple[str, str], deque[RecordedToolCall]] = defaultdict(deque)
        for t in self.tool_calls:
            self._tools[(t.call.tool, t.digest)].append(t)
        self._used: set[int] = set()
        self._lock = threading.Lock()
        self.served_model_calls = self.served_tool_calls = 0
        self.live_model_calls = self.live_tool_calls = 0

    def take_model_call(self, digest: str) -> RecordedModelCall | None:
        """The next recorded call with this request digest, or None."""
        with self._lock:
            queue = self._models.get(digest)
            if not queue:
                return None
            found = queue.popleft()
            self._used.add(found.seq)
            self.served_model_calls += 1
            return found

    def take_tool_call(self, tool: str, digest: str) -> RecordedToolCall | None:
        """The next recorded result of ``tool`` for these canonical arguments, or None."""
        with self._lock:
            queue = self._tools.get((tool, digest))
            if not queue:
                return None
            found = queue.popleft()
            self._used.add(found.seq)
            self.served_tool_calls += 1
            return found

    def expected_model_call(self, agent: str, step: str | None) -> RecordedModelCall | None:
        """The next unserved recorded call of this agent in this step (else in any step)."""
        with self._lock:
            mine = [m for m in self.model_calls if m.agent == agent and m.seq not in self._used]
        return next((m for m in mine if m.step == step), mine[0] if mine else None)

    def expected_tool_call(
        self, agent: str, step: str | None, tool: str
    ) -> RecordedToolCall | None:
        """The next unserved recorded call of this tool by this agent in this step (else in any
        step)."""
        with self._lock:
            mine = [
                t
                for t in self.tool_calls
                if t.agent == agent and t.call.tool == tool and t.seq not in self._used
            ]
        return next((t for t in mine if t.step == step), mine[0] if mine else None)

    def count_live(self, *, model: bool) -> None:
        with self._lock:
            if model:
                self.live_model_calls += 1
            else:
                self.live_tool_calls += 1
