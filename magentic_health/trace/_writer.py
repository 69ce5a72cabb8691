"""The ledger writer: typed payloads in, hash-chained JSONL lines out (DESIGN section 6).

Each event is written and flushed as it happens, and the file is created with the first one,
so a crashed run leaves no ledger or a readable one (at worst with a truncated last line, which
the reader reports). The console view subscribes
to the same writer, so what people see and what the ledger holds are the same events.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import orjson
from pydantic import BaseModel

from magentic_health.errors import LedgerError
from magentic_health.trace._canonical import canonical_bytes
from magentic_health.trace._events import GENESIS_HASH, EventPayload, LedgerEvent

Subscriber = Callable[[LedgerEvent], None]


@functools.cache
def _raw_fields(cls: type[BaseModel]) -> frozenset[str]:
    """Fields typed ``dict[str, Any]``: they already hold JSON data (tool outputs, model
    responses), which pydantic would otherwise walk value by value."""
    return frozenset(n for n, f in cls.model_fields.items() if f.annotation == dict[str, Any])


def json_data(model: BaseModel, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``model`` as JSON data, its ``dict[str, Any]`` fields (already JSON data: tool outputs,
    model responses) taken as they are rather than copied value by value."""
    raw = _raw_fields(type(model))
    data = model.model_dump(mode="json", exclude={*exclude, *raw})
    for name in raw:
        data[name] = getattr(model, name)
    return data


_TYPE_TAG = frozenset({"type"})


def payload_data(payload: EventPayload) -> dict[str, Any]:
    """The ``data`` of an event: the payload as JSON data, without its ``type`` tag."""
    return json_data(payload, exclude=_TYPE_TAG)


_SYNCER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-sync")


def _sync_and_close(file: BinaryIO) -> None:
    try:
        with contextlib.suppress(OSError):
            os.fsync(file.fileno())
    finally:
        file.close()


def encode_event(
    *,
    prev_hash: str,
    seq: int,
    ts: str,
    run_id: str,
    type_: str,
    agent: str | None,
    step: str | None,
    data: Mapping[str, Any],
) -> tuple[str, bytes]:
    """The event's hash and its line (UTF-8, newline-terminated), encoding ``data`` (the
    large part) once.

    The hash is taken over the canonical JSON of the envelope (keys sorted, as
    ``compute_hash`` does); the line shows the same encoded parts in reading order."""
    body = canonical_bytes(data)
    small: dict[str, Any] = {
        "v": 1,
        "seq": seq,
        "ts": ts,
        "run_id": run_id,
        "type": type_,
        "agent": agent,
        "step": step,
        "data": None,
        "prev_hash": prev_hash,
    }
    digest = envelope_hash(prev_hash, small, body)
    small["hash"] = digest
    line = orjson.dumps(small, option=orjson.OPT_APPEND_NEWLINE)
    return digest, line.replace(b'"data":null', b'"data":' + body, 1)


def envelope_hash(prev_hash: str, envelope: Mapping[str, Any], data: bytes) -> str:
    """``compute_hash`` for an envelope whose ``data`` is None and given apart as its canonical
    bytes: the large part is encoded once, by the caller, who may reuse it."""
    # ``"data":null`` can only occur as the key: quotes inside encoded strings are escaped
    before, found, after = canonical_bytes(envelope).partition(b'"data":null')
    digest = hashlib.sha256(prev_hash.encode("utf-8"))
    digest.update(before)
    if found:
        digest.update(b'"data":')
        digest.update(data)  # fed apart: a large body is not copied to be hashed
    digest.update(after)
    return digest.hexdigest()


def compute_hash(prev_hash: str, event: Mapping[str, Any]) -> str:
    """The ``hash`` of an event: sha256 hex of ``prev_hash`` followed by the canonical JSON of
    the event without its ``hash`` key."""
    if "hash" in event:
        event = {k: v for k, v in event.items() if k != "hash"}
    return hashlib.sha256(prev_hash.encode("utf-8") + canonical_bytes(event)).hexdigest()


def format_ts(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds and ``Z``; a naive datetime is taken to be UTC already
    (so injected test clocks need no time zone)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class LedgerWriter:
    """Appends typed events to a new ledger file, one hash-chained JSON line each.

    Thread-safe: ``seq``, ``ts``, the chain and the subscriber calls happen under one lock, so
    concurrent specialists cannot interleave or fork the chain. Subscribers are called in
    ``seq`` order after the line is flushed; they must not append to the same writer.
    """

    def __init__(
        self,
        *,
        path: str | os.PathLike[str],
        run_id: str,
        clock: Callable[[], datetime] | None = None,
        fsync: bool = False,
    ) -> None:
        if not run_id:
            raise LedgerError("a ledger needs a non-empty run_id")
        self._path = Path(path)
        self._run_id = run_id
        self._clock = clock or _utc_now
        self._fsync = fsync
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []
        self._seq = 0
        self._last_hash = GENESIS_HASH
        self._closed = False
        # created with the first event (see ``_create_with``); a file we could not use is still
        # refused here, before the run
        self._file: BinaryIO | None = None
        _check_new(self._path)

    @property
    def path(self) -> Path:
        """The ledger file."""
        return self._path

    @property
    def run_id(self) -> str:
        """The run every event of this ledger belongs to."""
        return self._run_id

    @property
    def last_hash(self) -> str:
        """The hash of the last event written (the genesis hash before the first)."""
        return self._last_hash

    @property
    def count(self) -> int:
        """How many events have been written."""
        return self._seq

    @property
    def closed(self) -> bool:
        """Whether ``close()`` has been called."""
        return self._closed

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every event appended from now on; returns an unsubscribe."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def append(
        self, payload: EventPayload, *, agent: str | None = None, step: str | None = None
    ) -> LedgerEvent:
        """Write one event and return it; the line is flushed before this returns."""
        data = payload_data(payload)
        with self._lock:
            if self._closed:
                raise ValueError(f"ledger {str(self._path)!r} is closed")
            ts = format_ts(self._clock())
            prev = self._last_hash
            digest, line = encode_event(
                prev_hash=prev,
                seq=self._seq,
                ts=ts,
                run_id=self._run_id,
                type_=payload.type,
                agent=agent,
                step=step,
                data=data,
            )
            if self._file is None:
                self._file = _create_with(self._path, line, fsync=self._fsync)
            else:
                self._write(self._file, line)
            envelope: dict[str, Any] = {
                "v": 1,
                "seq": self._seq,
                "ts": ts,
                "run_id": self._run_id,
                "type": payload.type,
                "agent": agent,
                "step": step,
                "data": data,
                "prev_hash": prev,
                "hash": digest,
            }
            event = LedgerEvent.written(envelope, payload)
            self._seq += 1
            self._last_hash = digest
            for callback in tuple(self._subscribers):
                callback(event)
        return event

    def _write(self, file: BinaryIO, line: bytes) -> None:
        """Write and flush one line; on failure close the file, since a partial line may be
        on disk and appending after it would garble the middle of the ledger."""
        try:
            file.write(line)
            file.flush()
            if self._fsync:
                os.fsync(file.fileno())
        except OSError as exc:
            self._file, self._closed = None, True
            with contextlib.suppress(OSError):
                file.close()
            raise LedgerError(f"cannot write ledger {str(self._path)!r}: {exc.strerror}") from exc

    def close(self) -> None:
        """Flush and close; closing twice is harmless.

        Every line is already flushed to the operating system, so a killed process loses
        nothing; the one sync to disk (against power loss) runs on a background thread that
        Python joins at exit, so it does not hold up the end of a run."""
        with self._lock:
            file, self._file, self._closed = self._file, None, True
            if file is None:
                return
            try:
                file.flush()
            except OSError:
                file.close()
                raise
            _SYNCER.submit(_sync_and_close, file)

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LedgerWriter(path={str(self._path)!r}, run_id={self._run_id!r}, count={self._seq})"


def _check_new(path: Path) -> None:
    """Create the folder of ``path``; refuse a ledger that holds data or cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        size = path.stat().st_size if path.exists() else 0
    except OSError as exc:
        raise LedgerError(f"cannot open ledger {str(path)!r}: {exc.strerror}") from exc
    if size > 0:
        raise _not_empty(path)
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        raise LedgerError(f"cannot open ledger {str(path)!r}: Permission denied")


def _create_with(path: Path, first_line: bytes, *, fsync: bool) -> BinaryIO:
    """Create the ledger already holding its first line, open for appending.

    The line is written to a hidden file beside it, which is then renamed: no kill leaves an
    empty ledger or a damaged first line, neither of which reads back as a ledger. A file that
    gained data since ``_check_new`` is refused."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o666)
        file = os.fdopen(fd, "ab")
        try:
            file.write(first_line)
            file.flush()
            if fsync:
                os.fsync(fd)
            if path.exists() and path.stat().st_size > 0:
                raise _not_empty(path)
            os.replace(tmp, path)
        except BaseException:
            file.close()
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise LedgerError(f"cannot write ledger {str(path)!r}: {exc.strerror}") from exc
    return file


def _not_empty(path: Path) -> LedgerError:
    return LedgerError(
        f"ledger {str(path)!r} already exists and is not empty; "
        "choose another output file or remove it"
    )
