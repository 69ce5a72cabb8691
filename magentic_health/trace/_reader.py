"""Reading a ledger back and verifying its hash chain (DESIGN section 6).

``read_ledger`` parses the file line by line: a damaged last line after complete events is
what a crash leaves behind, so it is reported and the events before it stay usable; a damaged
line in the middle (or a damaged first line: then the file is no ledger at all) means the file
was edited or corrupted, and is an error. ``verify_ledger`` then
checks what the writer guarantees: contiguous ``seq``, the genesis and the chain links, each
recomputed hash, one ``run_id``, and payloads that validate against their type.

Most lines are exactly as the writer wrote them: their ``data`` is the canonical encoding the
hash covers. For those, ``read_ledger`` checks the hash on the bytes it read and validates the
payload from them, and ``verify_ledger`` reports what it found instead of encoding the data
again (on a large ledger, a fifth of the work); any other line (edited, re-formatted) takes
the full path.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, get_args

import orjson
import pydantic_core
from pydantic import BaseModel, ConfigDict, ValidationError

from magentic_health._gc import collector_paused
from magentic_health.errors import LedgerError
from magentic_health.trace._canonical import canonical_bytes
from magentic_health.trace._events import (
    EVENT_ADAPTER,
    EVENT_TYPES,
    GENESIS_HASH,
    EventPayload,
    LedgerEvent,
)
from magentic_health.trace._writer import _raw_fields, envelope_hash

_ENVELOPE_KEYS = frozenset(LedgerEvent.model_fields)
_PAYLOAD_CLASSES: dict[str, type[BaseModel]] = {
    cls.model_fields["type"].default: cls for cls in get_args(get_args(EventPayload)[0])
}


class Ledger(BaseModel):
    """The events of one ledger file, in file order."""

    model_config = ConfigDict(frozen=True)

    path: Path
    events: list[LedgerEvent]
    truncated_tail: str | None = None
    """The damaged last line (what a crash mid-write leaves), if there was one."""

    @property
    def run_id(self) -> str | None:
        """The run id of the first event, or None for an empty ledger."""
        return self.events[0].run_id if self.events else None


class Verification(BaseModel):
    """The outcome of ``verify_ledger``; events before ``first_broken_seq`` are intact."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    events: int
    first_broken_seq: int | None = None
    reason: str | None = None
    truncated_tail: bool = False


class _BadLine(Exception):
    """One line is not a ledger event; ``tail_ok`` if a crash mid-write could explain it."""

    def __init__(self, reason: str, *, tail_ok: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tail_ok = tail_ok


def read_ledger(path: str | os.PathLike[str]) -> Ledger:
    """Parse a ledger file into events; see the module docstring for damaged lines."""
    path = Path(path)
    if not path.exists():
        raise LedgerError(f"no such ledger file {str(path)!r}; pass the path of a .jsonl ledger")
    if not path.is_file():
        raise LedgerError(f"ledger {str(path)!r} is not a file; pass the path of a .jsonl ledger")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise LedgerError(f"cannot read ledger {str(path)!r}: {exc.strerror}") from exc
    lines = content.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    events: list[LedgerEvent] = []
    tail: str | None = None
    with collector_paused():
        for number, raw in enumerate(lines, start=1):
            try:
                events.append(_parse_line(raw))
            except _BadLine as bad:
                if number == len(lines) and bad.tail_ok and events:
                    tail = raw.decode("utf-8", errors="replace")
                    break
                raise LedgerError(f"{path}:{number}: not a ledger event: {bad.reason}") from None
    return Ledger(path=path, events=events, truncated_tail=tail)


def _parse_line(raw: bytes) -> LedgerEvent:
    """One line as an envelope exactly as the writer writes it, or ``_BadLine``."""
    obj = _load(raw)
    if not isinstance(obj, dict):
        raise _BadLine(f"a JSON {type(obj).__name__}, not an object", tail_ok=False)
    keys = set(obj)
    if keys != _ENVELOPE_KEYS:
        missing, extra = sorted(_ENVELOPE_KEYS - keys), sorted(keys - _ENVELOPE_KEYS)
        raise _BadLine(f"missing keys {missing}, unexpected keys {extra}", tail_ok=False)
    try:
        event = LedgerEvent.model_validate(obj, strict=True)
    except ValidationError as exc:
        raise _BadLine(_first_error(exc), tail_ok=False) from None
    # strict validation keeps every envelope value as written, except that ``Literal[1]``
    # also takes ``true`` and ``1.0``, which the writer never writes
    if type(obj["v"]) is not int:
        raise _BadLine(f"v is {_raw_json(obj['v'])}, not the integer 1", tail_ok=False)
    _check_as_written(event, raw)
    return event


def _check_as_written(event: LedgerEvent, raw: bytes) -> None:
    """If ``raw`` holds ``data`` as the writer encodes it (the bytes between ``"data":`` and
    ``,"prev_hash":``, which cannot occur unescaped inside a JSON string), check the hash on
    those bytes and validate the payload from them; see the module doc."""
    start, end = raw.find(b'"data":'), raw.rfind(b',"prev_hash":"')
    if start < 0 or end < start or "type" in event.data or event.type not in EVENT_TYPES:
        return  # left to verify_ledger, which says what is wrong
    body = raw[start + len(b'"data":') : end]
    if envelope_hash(event.prev_hash, _envelope(event), body) != event.hash:
        return
    private = event.__pydantic_private__
    assert private is not None  # LedgerEvent has private attributes
    private["_as_written"] = True
    private["_problem"] = _payload_problem(event, body)


def _envelope(event: LedgerEvent) -> dict[str, Any]:
    """The envelope as hashed: without ``hash``, its ``data`` null (given apart as bytes)."""
    return {
        "v": event.v,
        "seq": event.seq,
        "ts": event.ts,
        "run_id": event.run_id,
        "type": event.type,
        "agent": event.agent,
        "step": event.step,
        "data": None,
        "prev_hash": event.prev_hash,
    }


def _load(raw: bytes) -> Any:
    """Parse one line, refusing what the writer never writes.

    pydantic-core's parser first (several times faster than ``json`` on the large lines of
    tool outputs, integers beyond 64 bits kept exact, repeated short strings shared); what it
    refuses goes to ``json`` for the same verdicts and messages as always."""
    try:
        return pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError:
        return _load_with_json(raw)


def _load_with_json(raw: bytes) -> Any:
    try:
        return json.loads(
            raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float
        )
    except UnicodeDecodeError as exc:
        raise _BadLine(f"not UTF-8 at byte {exc.start}", tail_ok=True) from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise _BadLine(f"not valid JSON ({exc})", tail_ok=True) from None


def _reject_constant(name: str) -> Any:
    """``json.loads`` hook: NaN and Infinity are not JSON and never written by the writer."""
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    """``json.loads`` hook: a number too large for a float (``1e999``) was not written by us."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _first_error(exc: ValidationError, *, skip: int = 0) -> str:
    """The first pydantic error as ``field.path: message``, dropping ``skip`` leading parts of
    the location (a tagged union puts the tag first)."""
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"][skip:]) or "value"
    return f"{where}: {error['msg']}"


def verify_ledger(source: str | os.PathLike[str] | Ledger) -> Verification:
    """Check the chain of a ledger (a path or one already read); never raises for a broken
    chain, only for a file that cannot be read (``LedgerError``)."""
    ledger = source if isinstance(source, Ledger) else read_ledger(source)
    with collector_paused():
        broken = _first_break(ledger)
    return Verification(
        ok=broken is None,
        events=len(ledger.events),
        first_broken_seq=None if broken is None else broken[0],
        reason=None if broken is None else broken[1],
        truncated_tail=ledger.truncated_tail is not None,
    )


def _first_break(ledger: Ledger) -> tuple[int, str] | None:
    """The position and reason of the first event that breaks the chain, or None."""
    events = ledger.events
    if not events:
        return 0, "the ledger holds no events"
    run_id = events[0].run_id
    prev_hash = GENESIS_HASH
    for expected, event in enumerate(events):
        problem = _seq_problem(events, expected) or _event_problem(event, prev_hash, run_id)
        if problem is not None:
            return expected, problem
        prev_hash = event.hash
    return None


def _seq_problem(events: list[LedgerEvent], expected: int) -> str | None:
    found = events[expected].seq
    if found == expected:
        return None
    if any(later.seq == expected for later in events[expected + 1 :]):
        return f"seq out of order: expected {expected}, found {found} (seq {expected} comes later)"
    if found > expected:
        return f"seq gap: expected {expected}, found {found}"
    return f"seq repeated: expected {expected}, found {found}"


def _event_problem(event: LedgerEvent, prev_hash: str, run_id: str) -> str | None:
    """What is wrong with one event whose ``seq`` is right, given the previous hash."""
    seq = event.seq
    if event.prev_hash != prev_hash:
        if seq == 0:
            return "prev_hash of seq 0 is not the genesis hash (64 zeros)"
        return f"prev_hash of seq {seq} does not match hash of seq {seq - 1}"
    if event.run_id != run_id:
        return f"run_id of seq {seq} is {event.run_id!r}, not the run's {run_id!r}"
    private = event.__pydantic_private__
    if private and private.get("_as_written"):
        problem: str | None = private.get("_problem")
        return problem
    body = canonical_bytes(event.data)
    if envelope_hash(event.prev_hash, _envelope(event), body) != event.hash:
        return f"hash mismatch at seq {seq}"
    if "type" in event.data:
        return f"data of seq {seq} carries its own 'type' key; the type belongs in the envelope"
    if event.type not in EVENT_TYPES:
        return f"seq {seq} has unknown type {event.type!r}; known types: {', '.join(EVENT_TYPES)}"
    return _payload_problem(event, body)


def _payload_problem(event: LedgerEvent, body: bytes) -> str | None:
    """Validate the payload strictly, as JSON, and keep it on the event (``payload()`` need not
    validate it again). Fields typed ``dict[str, Any]`` (tool outputs, model responses: most of
    a ledger) take any JSON object, so an object there is not parsed a second time."""
    raw = {
        name: event.data[name]
        for name in _raw_fields(_PAYLOAD_CLASSES[event.type])
        if isinstance(event.data.get(name), dict)
    }
    if raw:
        body = canonical_bytes({**event.data, **{name: {} for name in raw}})
    tagged = b'{"type":' + orjson.dumps(event.type) + (b"," + body[1:] if body != b"{}" else b"}")
    try:
        payload = EVENT_ADAPTER.validate_json(tagged, strict=True)
    except ValidationError as exc:
        return (
            f"payload of seq {event.seq} does not validate as {event.type!r}: "
            f"{_first_error(exc, skip=1)}"
        )
    event._payload = payload.model_copy(update=raw) if raw else payload
    return None


def _raw_json(value: Any) -> str:
    """A parsed JSON value shown as JSON, for messages."""
    return json.dumps(value)
