"""``run --resume LEDGER``: a crashed run continued in a new run and ledger, every recorded
model call and tool result served from the crashed ledger, the rest run live; the final answer
is the uninterrupted run's. Crashes are made by cutting a complete ledger after N events (as a
kill between writes leaves it) and by really killing a ``run`` subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from autogen_core import FunctionCall
from autogen_core.models import FunctionExecutionResultMessage

from magentic_health import run_case
from magentic_health.agents import ReplyContract
from magentic_health.cli import cli
from magentic_health.config import default_config_path, load_team_config
from magentic_health.errors import BackendError
from magentic_health.models import ModelRequest, Reply, ScriptedModelClient
from magentic_health.planners import RulePlanner
from magentic_health.rerun import aresume, compare_ledgers, resume
from magentic_health.team import HealthTeam, RunResult
from magentic_health.trace import LedgerEvent, read_ledger, verify_ledger
from tests._factories import synthetic_case

CASE = "synthea_colon"
KILL_CASE = "hao_patient_4"  # the sample run with the most events
CLI = "from magentic_health.cli import main; main()"
DEADLINE_S = 120.0  # a safety net against a hung run, not a timing assertion


def events(path: str | Path) -> list[LedgerEvent]:
    return read_ledger(Path(path)).events


def cut(source: Path, n: int, target: Path, tail: bytes = b"") -> Path:
    """``source``'s first ``n`` lines (and a half-written ``tail``), as a kill leaves it."""
    lines = source.read_bytes().split(b"\n")[:n]
    target.write_bytes(b"".join(line + b"\n" for line in lines) + tail)
    return target


def open_steps(evs: list[LedgerEvent]) -> set[str]:
    """Steps handed off and not yet replied to."""
    started = {e.step for e in evs if e.type == "handoff" and e.step}
    return started - {e.step for e in evs if e.type == "agent_reply"}


def cut_points(full: list[LedgerEvent]) -> dict[str, int]:
    types = [e.type for e in full]
    first_result = types.index("tool_result")
    points = {
        "only-run-started": 1,
        "after-triage": types.index("triage") + 1,
        "mid-wave": first_result + 1,
        "after-the-last-reply": types.index("final"),
    }
    assert len(open_steps(full[: points["mid-wave"]])) >= 2  # steps of one wave in flight
    last_reply = max(i for i, t in enumerate(types) if t == "agent_reply")
    assert last_reply < points["after-the-last-reply"]
    return points


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> RunResult:
    return run_case(CASE, data_dir=data_dir, out_dir=tmp_path_factory.mktemp("full"))


# -- deterministic crashes: a complete offline ledger cut after N events -----------------------


@pytest.mark.parametrize(
    "point", ["only-run-started", "after-triage", "mid-wave", "after-the-last-reply"]
)
def test_a_cut_ledger_resumes_to_the_uninterrupted_answer_serving_what_was_recorded(
    point: str, uninterrupted: RunResult, tmp_path: Path
) -> None:
    full_path = Path(uninterrupted.ledger_path)
    full = events(full_path)
    n = cut_points(full)[point]
    crashed = cut(full_path, n, tmp_path / "crashed.jsonl")
    resumed = resume(crashed)
    run = resumed.run
    assert run.status == "completed" and run.final_text == uninterrupted.final_text
    assert run.citations == uninterrupted.citations
    assert Path(run.ledger_path).parent == tmp_path  # beside the crashed ledger
    assert Path(run.ledger_path).name.startswith("crashed-resumed-")
    new = events(run.ledger_path)
    assert verify_ledger(Path(run.ledger_path)).ok and new[-1].type == "run_finished"
    parent = full[0].run_id
    assert new[0].data["parent_run"] == parent == resumed.parent_run == run.parent_run
    assert new[0].run_id != parent
    # the new ledger is the uninterrupted one but for the parent it names
    assert [d.what for d in compare_ledgers(full, new)] == [
        f"run_started: data.parent_run: None != {parent!r}"
    ]
    # every tool result recorded before the cut was served; only the rest ran for real
    results = [e for e in full if e.type == "tool_result"]
    before = sum(e.seq < n for e in results)
    assert resumed.served_tool_results == before
    assert resumed.live_tool_calls == len(results) - before
    assert (resumed.served_model_calls, resumed.live_model_calls) == (0, 0)
    assert resumed.recorded_events == n and not resumed.truncated_tail
    assert crashed.read_bytes().count(b"\n") == n  # the crashed ledger is left as it was


def test_a_half_written_last_line_is_reported_and_ignored(
    uninterrupted: RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full_path = Path(uninterrupted.ledger_path)
    lines = full_path.read_bytes().split(b"\n")
    n = cut_points(events(full_path))["mid-wave"]
    crashed = cut(full_path, n, tmp_path / "crashed.jsonl", tail=lines[n][: len(lines[n]) // 2])
    out_dir = tmp_path / "resumed"
    capsys.readouterr()
    argv = ["run", "--resume", str(crashed), "--out", str(out_dir), "--quiet", "--format", "json"]
    assert cli(argv) == 0
    captured = capsys.readouterr()
    shown = json.loads(captured.out)
    assert shown["status"] == "completed" and shown["summary"] == uninterrupted.final_text
    assert Path(shown["ledger"]).parent == out_dir
    resumed = shown["resumed"]
    assert resumed["parent_run"] == events(full_path)[0].run_id
    assert resumed["truncated_tail"] and resumed["recorded_events"] == n
    assert resumed["reused"] == resumed["served_tool_results"] > 0
    assert "the last line is incomplete (cut by the crash); ignored" in captured.err


def test_the_text_output_is_the_runs_with_a_line_on_what_was_reused(
    uninterrupted: RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full_path = Path(uninterrupted.ledger_path)
    full = events(full_path)
    n = cut_points(full)["after-the-last-reply"]
    crashed = cut(full_path, n, tmp_path / "crashed.jsonl")
    capsys.readouterr()
    assert cli(["run", "--resume", str(crashed), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(uninterrupted.final_text)
    assert "Status: completed" in out and f"Ledger: {tmp_path}" in out
    served = sum(e.type == "tool_result" for e in full)
    assert (
        f"Resumed run {full[0].run_id}: reused {served} recorded results ({served} tool results, "
        f"0 model calls) of its {n} complete events; live: 0 tool calls, 0 model calls"
    ) in out


# -- a real kill ---------------------------------------------------------------------------------


def kill_run(out: Path, data_dir: Path, lines: int) -> subprocess.Popen[bytes]:
    """Start ``run`` in a subprocess and SIGKILL it once ``lines`` complete lines are on disk
    (it may finish first: the caller checks)."""
    env = {**os.environ, "MAGENTIC_HEALTH_DATA": str(data_dir)}
    argv = [sys.executable, "-c", CLI, "run", KILL_CASE, "--out", str(out), "--quiet"]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + DEADLINE_S
    while process.poll() is None and time.monotonic() < deadline:
        written = list(out.glob("*.jsonl"))
        if written and written[0].read_bytes().count(b"\n") >= lines:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.001)
    else:
        if process.poll() is None:  # hung: kill it, and fail
            process.kill()
    process.wait()
    return process


def test_a_killed_run_resumes_to_the_answer_of_a_clean_run(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = run_case(KILL_CASE, data_dir=data_dir, out_dir=tmp_path / "clean")
    total = len(events(clean.ledger_path))
    crashed: Path | None = None
    for attempt, lines in enumerate((total // 2, total // 3, 3)):  # a later kill point may miss
        out = tmp_path / f"killed{attempt}"
        process = kill_run(out, data_dir, lines)
        assert process.returncode in (0, -signal.SIGKILL), process.returncode
        (written,) = out.glob("*.jsonl")
        if events(written)[-1].type != "run_finished":
            crashed = written
            break
    assert crashed is not None, "every run finished before its kill point"
    recorded = read_ledger(crashed)
    assert verify_ledger(recorded).ok and recorded.events[-1].type != "run_finished"
    capsys.readouterr()
    assert cli(["run", "--resume", str(crashed), "--quiet", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "completed" and shown["summary"] == clean.final_text
    assert shown["citations"] == [c.model_dump() for c in clean.citations]
    new = events(shown["ledger"])
    assert verify_ledger(Path(shown["ledger"])).ok
    assert new[0].data["parent_run"] == recorded.events[0].run_id
    assert shown["resumed"]["recorded_events"] == len(recorded.events)
    results = sum(e.type == "tool_result" for e in recorded.events)
    assert shown["resumed"]["served_tool_results"] == results


# -- refusals --------------------------------------------------------------------------------------


def refused(argv: list[str], capsys: pytest.CaptureFixture[str], code: int = 2) -> str:
    capsys.readouterr()
    assert cli(argv) == code
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and captured.out == "", err
    return err


def test_a_finished_run_is_refused_with_a_pointer_to_rerun(
    uninterrupted: RunResult, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(["run", "--resume", uninterrupted.ledger_path], capsys)
    assert "already finished (completed)" in err
    assert f"use 'magentic-health rerun {uninterrupted.ledger_path}' to reproduce it" in err


def test_a_broken_chain_a_missing_or_empty_file_are_refused(
    uninterrupted: RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crashed = cut(Path(uninterrupted.ledger_path), 10, tmp_path / "crashed.jsonl")
    lines = crashed.read_text(encoding="utf-8").splitlines(keepends=True)
    edited = json.loads(lines[2])
    edited["data"]["rationale"] = "edited by hand"
    lines[2] = json.dumps(edited) + "\n"
    crashed.write_text("".join(lines), encoding="utf-8")
    err = refused(["run", "--resume", str(crashed)], capsys)
    assert "chain broken at seq 2" in err and "resuming a run needs an intact ledger" in err
    err = refused(["run", "--resume", str(tmp_path / "missing.jsonl")], capsys)
    assert "no such ledger file" in err
    (tmp_path / "empty.jsonl").write_bytes(b"")
    err = refused(["run", "--resume", str(tmp_path / "empty.jsonl")], capsys)
    assert "holds no complete event" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crashed.jsonl", "empty.jsonl"]


def test_options_that_would_change_the_run_are_refused(
    uninterrupted: RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crashed = str(cut(Path(uninterrupted.ledger_path), 10, tmp_path / "crashed.jsonl"))
    err = refused(["run", CASE, "--resume", crashed], capsys)
    assert f"CASE ({CASE!r}) cannot be combined with --resume" in err
    for option in (["--request", "What is the stage?"], ["--live-trials"]):
        err = refused(["run", "--resume", crashed, *option], capsys)
        assert f"{option[0]} cannot be combined with --resume" in err
    err = refused(["run", "--resume", crashed, "--model", "openai"], capsys)
    assert "--model 'openai': the run used the offline engine; a model cannot continue it" in err
    assert "missing argument 'CASE' (or give --resume LEDGER)" in refused(["run"], capsys)
    assert list(tmp_path.iterdir()) == [tmp_path / "crashed.jsonl"]  # nothing was run
    assert cli(["run", "--resume", crashed, "--model", "offline", "--quiet"]) == 0


# -- a model run, continued on a scripted model from Python -------------------------------------


def contract() -> ReplyContract:
    quote = "KRAS p.G12C detected by NGS"
    return ReplyContract.model_validate(
        {
            "text": "KRAS G12C was found by NGS.",
            "findings": [
                {"claim": "KRAS G12C", "evidence": [{"doc_id": "note-1", "quote": quote}]}
            ],
            "gaps": [],
        }
    )


def specialist_answer(request: ModelRequest) -> Reply:
    """Search once when search_notes is offered (by message structure), then the contract."""
    searched = isinstance(request.messages[-1], FunctionExecutionResultMessage)
    if "search_notes" in request.tool_names and not searched:
        return [FunctionCall(id="c1", name="search_notes", arguments='{"query": "KRAS"}')]
    return contract()


async def test_a_crashed_model_run_continues_on_the_client_given(tmp_path: Path) -> None:
    team = HealthTeam(
        load_team_config(default_config_path()),
        data_dir=None,
        model_client=ScriptedModelClient(specialist_answer),
        planner=RulePlanner(),
        case=synthetic_case(),
        ledger_dir=tmp_path,
    )
    result = await team.run_case(synthetic_case(), ledger_path=tmp_path / "run.jsonl")
    full = events(result.ledger_path)
    calls = [e for e in full if e.type == "model_call"]
    n = calls[len(calls) // 2].seq  # the kill came before this call was written
    crashed = cut(Path(result.ledger_path), n, tmp_path / "crashed.jsonl")
    with pytest.raises(BackendError, match="pass live_client="):
        await aresume(crashed, case=synthetic_case())
    live = ScriptedModelClient(specialist_answer)
    resumed = await aresume(crashed, case=synthetic_case(), live_client=live)
    assert resumed.run.final_text == result.final_text and resumed.run.status == result.status
    assert resumed.served_model_calls == sum(c.seq < n for c in calls) > 0
    assert resumed.live_model_calls == len(live.requests) == len(calls) - resumed.served_model_calls
    new = events(resumed.run.ledger_path)
    assert new[0].data["parent_run"] == full[0].run_id
    assert [d.what for d in compare_ledgers(full, new)] == [
        f"run_started: data.parent_run: None != {full[0].run_id!r}"
    ]
