"""Comparing two ledgers of the same run, event by event, minus what must differ.

Ignored, and why:

- envelope ``run_id`` (new for every run), ``ts`` (wall-clock time), ``prev_hash`` and
  ``hash`` (they chain over ``run_id`` and ``ts``);
- envelope ``seq``: steps of one wave run concurrently, so their events may interleave in
  another order; instead, order is compared within each step's events and within the
  orchestrator's (the events with no step), which is where order means something;
- ``model_call.latency_ms``, ``tool_result.duration_ms`` and ``run_finished.duration_ms``:
  timings measured on the wall clock;
- ``model_retry`` events, whole: a retried call is a transient fact of the network (a 429, a
  timeout) on the way to the same answer, not the run's logic; a rerun serves the answer and
  retries nothing. A call that was given up on is an ``error`` event, which is compared.

Everything else is compared: types, agents, steps, and every other data field (a rerun's
``run_started`` names the same parent, case and configuration as the original's). A field an
older ledger lacks (one added since, such as ``model_call.model``) is compared at its default.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from magentic_health.trace import LedgerEvent

IGNORED_ENVELOPE_FIELDS = ("run_id", "ts", "prev_hash", "hash", "seq")
IGNORED_DATA_FIELDS: dict[str, tuple[str, ...]] = {
    "model_call": ("latency_ms",),
    "tool_result": ("duration_ms",),
    "run_finished": ("duration_ms",),
}
IGNORED_EVENT_TYPES = ("model_retry",)


class LedgerDifference(BaseModel):
    """The first difference within one stream (a step's events, or the orchestrator's)."""

    model_config = ConfigDict(frozen=True)

    stream: str
    """``step <id>`` or ``orchestrator``."""
    index: int
    """The position of the differing event within its stream."""
    expected_seq: int | None
    actual_seq: int | None
    what: str

    def describe(self) -> str:
        seqs = f"original seq {_seq(self.expected_seq)}, rerun seq {_seq(self.actual_seq)}"
        return f"{self.stream}, event {self.index} ({seqs}): {self.what}"


def _seq(value: int | None) -> str:
    return "-" if value is None else str(value)


def comparable(event: LedgerEvent) -> dict[str, Any]:
    """An event without the ignored fields, the fields its ledger lacks at their default."""
    ignored = IGNORED_DATA_FIELDS.get(event.type, ())
    data = event.data
    payload = event.payload()
    missing = {n for n in type(payload).model_fields if n != "type" and n not in data}
    if missing:
        data = data | payload.model_dump(mode="json", include=missing)
    return {
        "type": event.type,
        "agent": event.agent,
        "step": event.step,
        "data": {k: v for k, v in data.items() if k not in ignored},
    }


def compare_ledgers(
    expected: Sequence[LedgerEvent], actual: Sequence[LedgerEvent]
) -> list[LedgerDifference]:
    """The first difference in each stream, in stream order (empty when the ledgers agree)."""
    left, right = _streams(expected), _streams(actual)
    differences: list[LedgerDifference] = []
    for name in sorted(left.keys() | right.keys(), key=lambda n: (n != "orchestrator", n)):
        found = _first_difference_in(name, left.get(name, []), right.get(name, []))
        if found is not None:
            differences.append(found)
    return differences


def _streams(events: Sequence[LedgerEvent]) -> dict[str, list[LedgerEvent]]:
    streams: dict[str, list[LedgerEvent]] = defaultdict(list)
    for event in events:
        if event.type not in IGNORED_EVENT_TYPES:
            streams["orchestrator" if event.step is None else f"step {event.step}"].append(event)
    return streams


def _first_difference_in(
    name: str, expected: list[LedgerEvent], actual: list[LedgerEvent]
) -> LedgerDifference | None:
    for index in range(max(len(expected), len(actual))):
        a = expected[index] if index < len(expected) else None
        b = actual[index] if index < len(actual) else None
        if a is None or b is None:
            there = a or b
            assert there is not None
            what = (
                f"{there.type!r} is missing from the rerun"
                if b is None
                else f"{there.type!r} was not in the original"
            )
        else:
            found = first_difference(comparable(a), comparable(b))
            if found is None:
                continue
            what = f"{a.type}: {found}"
        return LedgerDifference(
            stream=name,
            index=index,
            expected_seq=a.seq if a else None,
            actual_seq=b.seq if b else None,
            what=what,
        )
    return None


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two JSON values first differ, as ``path: expected != actual``; None if equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            where = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                return f"{where}: only in the {'rerun' if key in b else 'original'}"
            found = first_difference(a[key], b[key], where)
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for index, (x, y) in enumerate(zip(a, b, strict=False)):
            found = first_difference(x, y, f"{path}[{index}]")
            if found is not None:
                return found
        if len(a) != len(b):
            return f"{path}: {len(a)} items in the original, {len(b)} in the rerun"
        return None
    if a == b and type(a) is type(b):
        return None
    return f"{path or 'value'}: {_short(a)} != {_short(b)}"


def _short(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"
