"""Ledger write overhead per event and replay time of a large ledger.

Usage: python scripts/bench_ledger.py [--events 10000] [--case hao_patient_4] [--repeat 5]
                                     [--json]

(a) Write: the events of a real offline run of --case (run once, in a temporary folder) are
turned back into their typed payloads and appended cyclically, --events in all, through
``LedgerWriter`` to a temporary file: the realistic mix of types and sizes (small hand-offs and
checkpoints, tool outputs and reports of tens to hundreds of kB). Reported: mean ms per event
(``time.perf_counter`` around the appends, close included) and the bytes written.
(b) Replay: ``magentic-health replay`` on that ledger, in process with its output captured:
reading, verifying the hash chain and printing the views; then, apart, the part of it spent in
``read_ledger`` and ``verify_ledger``. With another --events the replay figure is also scaled to
10,000 events (``replay_s_10k_events``).
Each is measured --repeat times (a fresh file for every write); the figure is the fastest,
as the least disturbed by whatever else the machine does, with the median beside it.
Targets, reported and never asserted: write under 0.2 ms per event, replay of 10,000 events
under 2 s.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from magentic_health import run_case
from magentic_health.cli import cli
from magentic_health.trace import EventPayload, LedgerWriter, read_ledger, verify_ledger

WRITE_TARGET_MS = 0.2
REPLAY_TARGET_S = 2.0

Sample = tuple[EventPayload, str | None, str | None]


def sample_events(case: str, folder: Path) -> list[Sample]:
    """The typed payloads (with agent and step) of one offline run of ``case``."""
    result = run_case(case, out_dir=folder)
    return [(e.payload(), e.agent, e.step) for e in read_ledger(result.ledger_path).events]


def write_ledger(path: Path, samples: Sequence[Sample], events: int) -> float:
    """Append ``events`` payloads cycling through ``samples``; returns the seconds taken."""
    cycle = itertools.islice(itertools.cycle(samples), events)
    start = time.perf_counter()
    with LedgerWriter(path=path, run_id="bench") as writer:
        for payload, agent, step in cycle:
            writer.append(payload, agent=agent, step=step)
    return time.perf_counter() - start


def replay_seconds(path: Path) -> float:
    """Seconds ``magentic-health replay PATH`` takes, its output captured and discarded."""
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(["replay", str(path)])
    elapsed = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"replay of {path} failed with exit code {code}: {err.getvalue()}")
    return elapsed


def read_verify_seconds(path: Path) -> float:
    """Seconds ``read_ledger`` and ``verify_ledger`` take on ``path``."""
    start = time.perf_counter()
    ledger = read_ledger(path)
    verification = verify_ledger(ledger)
    elapsed = time.perf_counter() - start  # freeing it is not reading or verifying
    del ledger
    if not verification.ok:
        raise SystemExit(f"{path} does not verify: {verification.reason}")
    return elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="events to write and replay")
    parser.add_argument("--case", default="hao_patient_4", help="sample case the events are from")
    parser.add_argument("--repeat", type=int, default=5, help="measurements of each figure")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error("--events must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    writes: list[float] = []
    replays: list[float] = []
    read_verifies: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        folder = Path(tmp)
        samples = sample_events(args.case, folder / "run")
        for n in range(args.repeat):
            path = folder / f"bench-{n}.jsonl"
            writes.append(write_ledger(path, samples, args.events))
        size = path.stat().st_size
        for _ in range(args.repeat):
            gc.collect()
            replays.append(replay_seconds(path))
            gc.collect()
            read_verifies.append(read_verify_seconds(path))
    replay_s = min(replays)
    report = {
        "case": args.case,
        "events": args.events,
        "bytes": size,
        "repeat": args.repeat,
        "write_ms_per_event": 1000 * min(writes) / args.events,
        "write_ms_per_event_median": 1000 * statistics.median(writes) / args.events,
        "replay_s_10k_events": replay_s * 10_000 / args.events,
        "replay_s_10k_events_median": statistics.median(replays) * 10_000 / args.events,
        "replay_s": replay_s,
        "read_verify_s": min(read_verifies),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"events: {args.events} (cycling the {len(samples)} events of a {args.case} run)")
    print(f"fastest of {args.repeat} measurements each")
    print(
        f"write: {report['write_ms_per_event']:.3f} ms/event "
        f"(median {report['write_ms_per_event_median']:.3f}; target < {WRITE_TARGET_MS} ms); "
        f"{size / 1e6:.1f} MB written"
    )
    print(
        f"replay: {replay_s:.2f} s for {args.events} events; "
        f"{report['replay_s_10k_events']:.2f} s per 10,000 "
        f"(median {report['replay_s_10k_events_median']:.2f}; target < {REPLAY_TARGET_S} s); "
        f"of which reading and verifying: {report['read_verify_s']:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
