"""Crash safety: a run killed at any moment leaves a ledger whose complete events verify.

Real offline runs are started as subprocesses of the command line and killed with SIGKILL at
seeded kill points (after some number of complete lines, then a short random delay), so the
test is reproducible yet lands at different moments of the run. A deterministic test cuts a
complete ledger at many byte offsets, as a kill in the middle of a write would.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from magentic_health import run_case
from magentic_health.cli import cli
from magentic_health.trace import CheckpointEvent, LedgerWriter, read_ledger, verify_ledger

CASE = "hao_patient_4"  # the sample run with the most events and the largest lines
RUNS = 8
SEED = 6
CLI = "from magentic_health.cli import main; main()"
DEADLINE_S = 120.0  # a safety net against a hung run, not a timing assertion


@dataclass
class _Kill:
    """One run and when to kill it: once ``lines`` complete lines are on disk, ``delay`` later;
    ``lines == 0`` kills ``delay`` after the start, maybe before the ledger exists."""

    out: Path
    lines: int
    delay: float
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    due: float | None = None


def _plans(tmp_path: Path) -> list[_Kill]:
    rng = random.Random(SEED)
    # a full run of the case writes ~53 events; thresholds spread over the run
    thresholds = [0, *sorted(rng.sample(range(1, 50), RUNS - 1))]
    return [
        _Kill(
            out=tmp_path / f"run{n}",
            lines=lines,
            delay=rng.uniform(0.5, 3.0) if lines == 0 else rng.uniform(0.0, 0.03),
        )
        for n, lines in enumerate(thresholds)
    ]


def _ledger(out: Path) -> Path | None:
    found = sorted(out.glob("*.jsonl"))
    assert len(found) <= 1, found
    return found[0] if found else None


def _complete_lines(path: Path | None) -> int:
    if path is None:
        return 0
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _run_and_kill(plans: list[_Kill], data_dir: Path) -> None:
    """Start every run at once and kill each at its kill point (or let it finish)."""
    env = {**os.environ, "MAGENTIC_HEALTH_DATA": str(data_dir)}
    for plan in plans:
        argv = [sys.executable, "-c", CLI, "run", CASE, "--out", str(plan.out), "--quiet"]
        plan.process = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        plan.started = time.monotonic()
        if plan.lines == 0:
            plan.due = plan.started + plan.delay
    deadline = time.monotonic() + DEADLINE_S
    pending = list(plans)
    while pending and time.monotonic() < deadline:
        now = time.monotonic()
        for plan in list(pending):
            assert plan.process is not None
            if plan.process.poll() is not None:
                pending.remove(plan)
            elif plan.due is None and _complete_lines(_ledger(plan.out)) >= plan.lines:
                plan.due = now + plan.delay
            elif plan.due is not None and now >= plan.due:
                plan.process.send_signal(signal.SIGKILL)
                plan.process.wait()
                pending.remove(plan)
        time.sleep(0.002)
    for plan in pending:  # hung: kill it, and fail below
        assert plan.process is not None
        plan.process.kill()
        plan.process.wait()
    assert not pending, f"{len(pending)} runs did not end within {DEADLINE_S:.0f} s"


def _check_ledger(path: Path, capsys: pytest.CaptureFixture[str]) -> int:
    """The invariants a crash must keep; returns how many complete events the ledger holds."""
    ledger = read_ledger(path)
    verification = verify_ledger(ledger)
    assert verification.ok, (verification.first_broken_seq, verification.reason)
    assert [e.seq for e in ledger.events] == list(range(len(ledger.events)))
    assert ledger.events[0].type == "run_started"
    assert len({e.run_id for e in ledger.events}) == 1
    capsys.readouterr()
    assert cli(["replay", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.strip()  # the views of what was written
    assert f"{len(ledger.events)} events; hash chain verified" in err
    assert ("the last line is incomplete" in err) == (ledger.truncated_tail is not None)
    return len(ledger.events)


def test_a_run_killed_at_random_points_leaves_a_verifiable_ledger(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plans = _plans(tmp_path)
    _run_and_kill(plans, data_dir)
    for plan in plans:
        assert plan.process is not None
        code = plan.process.returncode
        assert code in (0, -signal.SIGKILL), f"run {plan.out.name} exited with {code}"
        path = _ledger(plan.out)
        if path is None:  # killed before its first event: no ledger at all, never an empty one
            assert plan.lines == 0 and code == -signal.SIGKILL
            continue
        events = _check_ledger(path, capsys)
        assert events >= plan.lines
        if code == 0:  # not killed: the run wrote its end (a killed one may have, too)
            assert read_ledger(path).events[-1].type == "run_finished"


def _expected(content: bytes, cut: int) -> tuple[int, bool]:
    """Complete events and whether a damaged tail remains, for ``content`` cut at ``cut``."""
    full = content.split(b"\n")
    *complete, tail = content[:cut].split(b"\n")
    if tail and tail == full[len(complete)]:  # cut just before a newline: the line is whole
        return len(complete) + 1, False
    return len(complete), bool(tail)


def test_a_ledger_cut_mid_write_keeps_its_complete_events(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_case("synthea_colon", data_dir=data_dir, out_dir=tmp_path / "full")
    full_path = Path(result.ledger_path)
    content = full_path.read_bytes()
    lines = content.split(b"\n")[:-1]
    assert read_ledger(full_path).events[-1].type == "run_finished"
    ends = [len(b"\n".join(lines[: n + 1])) for n in range(len(lines))]
    rng = random.Random(SEED)
    cuts = {end + delta for end in ends[:-1] for delta in (-1, 0, 1, 2)}  # around each newline
    cuts |= set(rng.sample(range(ends[0] + 1, len(content)), 40))  # anywhere after line one
    multibyte = [i for i, byte in enumerate(content) if byte >= 0xC0 and i > ends[0]]
    cuts |= {i + 1 for i in multibyte[:: max(1, len(multibyte) // 5)]}  # inside a character
    cut_path = tmp_path / "cut.jsonl"
    # the first line is never cut: the writer creates the file holding it whole
    for cut in sorted(c for c in cuts if c >= ends[0]):
        cut_path.write_bytes(content[:cut])
        events, damaged = _expected(content, cut)
        ledger = read_ledger(cut_path)
        assert (len(ledger.events), ledger.truncated_tail is not None) == (events, damaged), cut
        if damaged:
            assert ledger.truncated_tail == content[ends[events - 1] + 1 : cut].decode(
                "utf-8", errors="replace"
            )
        verification = verify_ledger(ledger)
        assert (verification.ok, verification.events) == (True, events), cut
    # the command line on one half-written line: exit 0, the tail reported on stderr
    half = ends[3] + 1 + len(lines[4]) // 2
    cut_path.write_bytes(content[:half])
    assert _check_ledger(cut_path, capsys) == 4


def test_the_ledger_file_appears_with_its_first_event_whole(tmp_path: Path) -> None:
    path = tmp_path / "ledgers" / "run.jsonl"
    with LedgerWriter(path=path, run_id="r") as writer:
        assert not path.exists()  # a kill now leaves no ledger rather than an empty one
        first = writer.append(CheckpointEvent(name="contract", passed=True))
        assert read_ledger(path).events == [first]
        writer.append(CheckpointEvent(name="grounding", passed=False, failures=("no quote",)))
    assert [p.name for p in path.parent.iterdir()] == ["run.jsonl"]  # no temporary file left
    assert verify_ledger(path).ok and len(read_ledger(path).events) == 2
    with LedgerWriter(path=tmp_path / "unused.jsonl", run_id="r"):
        pass
    assert not (tmp_path / "unused.jsonl").exists()
