"""`magentic-health replay`: the timeline, plan and waves, verdicts, re-plans, usage per agent
and status, on a real offline ledger and on a hand-built model-mode ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from magentic_health import run_case
from magentic_health.cli import cli
from magentic_health.plan import BoolAnswer, Facts, NextAnswer, PlanStep
from magentic_health.reply import Evidence, Finding
from magentic_health.trace import (
    AgentReply,
    CheckpointEvent,
    EventPayload,
    Final,
    Handoff,
    LedgerWriter,
    ModelCall,
    ProgressLedgerEvent,
    Replan,
    RunFinished,
    RunStarted,
    TaskLedgerEvent,
    ToolCall,
    ToolResult,
    TriageEvent,
    read_ledger,
)

REPLY_TEXT = "Right upper lobe mass now 3.1 x 2.4 cm, partial response."
FAILURE = "quote 'mass of 5 cm' does not occur in document 'ct-1'"
REPLAN_REASON = "critical step s1 failed twice; its findings become a gap"


def _plan(version: int, steps: tuple[PlanStep, ...]) -> TaskLedgerEvent:
    waves = (tuple(s.id for s in steps if not s.depends_on),)
    later = tuple(s.id for s in steps if s.depends_on)
    return TaskLedgerEvent(
        version=version,
        facts=Facts(given=("Request: tumor board",)),
        plan=steps,
        waves=waves + ((later,) if later else ()),
    )


def _call(prompt: int, completion: int, latency: float) -> ModelCall:
    return ModelCall(
        request_digest=f"sha256:{prompt:064d}",
        response={"content": "..."},
        usage={"prompt_tokens": prompt, "completion_tokens": completion},
        latency_ms=latency,
    )


def _model_events() -> list[tuple[EventPayload, str | None, str | None]]:
    """A model-mode run: two agents call the model; Radiology fails grounding, retries, fails
    again; the orchestrator re-plans and ends partial."""
    s1 = PlanStep(id="s1", agent="Radiology", instruction="Review the CT.", critical=True)
    s2 = PlanStep(id="s2", agent="PatientStatus", instruction="State the stage.")
    s3 = PlanStep(id="s3", agent="PatientStatus", instruction="Restate.", depends_on=("s2",))
    evidence = Evidence(doc_id="ct-1", quote="partial response")
    reply = AgentReply(
        text=REPLY_TEXT,
        findings=(Finding(claim="Partial response", evidence=(evidence,)),),
        gaps=(),
    )
    failed = CheckpointEvent(name="grounding", passed=False, failures=(FAILURE,))
    orch = "Orchestrator"
    return [
        (
            RunStarted(
                case_id="synthetic-1",
                case_digest="sha256:0",
                config_digest="sha256:0",
                config_name="tumor_board",
                model_profile="azure",
                engine="azure: gpt-4o",
                request="Prepare the tumor board review",
                documents=2,
                package_versions={},
            ),
            None,
            None,
        ),
        (
            TriageEvent(
                complexity="moderate",
                intents=("tumor_board",),
                selected=("Radiology", "PatientStatus"),
                rationale="two specialists",
            ),
            orch,
            None,
        ),
        (_call(500, 80, 900.0), orch, None),
        (_plan(1, (s1, s2)), orch, None),
        (Handoff(to="Radiology", instruction=s1.instruction, wave=1), "Radiology", "s1"),
        (_call(100, 20, 250.0), "Radiology", "s1"),
        (reply, "Radiology", "s1"),
        (failed, "Radiology", "s1"),
        (Handoff(to="PatientStatus", instruction=s2.instruction, wave=1), "PatientStatus", "s2"),
        (
            ToolCall(tool="patient_status", arguments={"case_id": "synthetic-1"}),
            "PatientStatus",
            "s2",
        ),
        (
            ToolResult(tool="patient_status", output={"stage": "IIIB"}, duration_ms=12.0),
            "PatientStatus",
            "s2",
        ),
        (_call(300, 60, 400.0), "PatientStatus", "s2"),
        (reply, "PatientStatus", "s2"),
        (CheckpointEvent(name="grounding", passed=True), "PatientStatus", "s2"),
        (
            Handoff(to="Radiology", instruction=s1.instruction, attempt=2, wave=1),
            "Radiology",
            "s1",
        ),
        (_call(120, 30, 350.0), "Radiology", "s1"),
        (reply.model_copy(update={"attempt": 2}), "Radiology", "s1"),
        (failed.model_copy(update={"attempt": 2}), "Radiology", "s1"),
        (
            ProgressLedgerEvent(
                wave=1,
                is_request_satisfied=BoolAnswer(answer=False, reason="s1 failed"),
                is_in_loop=BoolAnswer(answer=False, reason="no"),
                is_progress_being_made=BoolAnswer(answer=False, reason="critical step failed"),
                next=NextAnswer(answer=(), reason="re-plan"),
                stalls=1,
            ),
            orch,
            None,
        ),
        (Replan(reason=REPLAN_REASON, replans=1), orch, None),
        (_plan(2, (s2.model_copy(update={"id": "s2"}), s3)), orch, None),
        (_call(400, 100, 1100.0), orch, None),
        (Final(text="Summary.", citations=(evidence,), engine="azure: gpt-4o"), orch, None),
        (
            RunFinished(
                status="partial",
                gaps=("Radiology: grounding failed twice",),
                usage={"total": {"prompt_tokens": 1420, "completion_tokens": 290}},
                duration_ms=3210.0,
                reason="critical step s1 failed",
            ),
            orch,
            None,
        ),
    ]


@pytest.fixture
def model_ledger(tmp_path: Path) -> Path:
    path = tmp_path / "model-run.jsonl"
    with LedgerWriter(path=path, run_id="run-model") as writer:
        for payload, agent, step in _model_events():
            writer.append(payload, agent=agent, step=step)
    return path


@pytest.fixture(scope="module")
def offline_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ledgers")
    result = run_case("hao_patient_4", request="What is the current stage?", out_dir=out)
    assert result.status == "completed"
    return Path(result.ledger_path)


def replay(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = cli(["replay", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_model_ledger_plan_waves_and_replan(
    model_ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = replay(capsys, model_ledger, "--view", "plan")
    assert code == 0 and "hash chain verified" in err
    lines = out.splitlines()
    assert "Plan v1 (seq 3): 2 steps in 1 waves" in lines
    assert "  wave 1: s1 Radiology, s2 PatientStatus" in lines
    assert "  s1 Radiology [critical]: Review the CT." in lines
    assert f"Re-plan #1 (seq 19): {REPLAN_REASON}" in lines
    assert "Plan v2 (seq 20): 2 steps in 2 waves" in lines
    assert "  s3 PatientStatus (after s2): Restate." in lines
    # re-plans sit between the versions they separate
    order = [
        lines.index(x)
        for x in ("Plan v1 (seq 3): 2 steps in 1 waves", "Plan v2 (seq 20): 2 steps in 2 waves")
    ]
    assert order[0] < lines.index(f"Re-plan #1 (seq 19): {REPLAN_REASON}") < order[1]
    assert "== Timeline" not in out and "== Model usage" not in out


def test_model_ledger_verdicts_per_step_and_attempt(
    model_ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = replay(capsys, model_ledger, "--view", "checkpoints")
    lines = out.splitlines()
    assert "3 verdicts, 2 failed" in lines
    assert "  s1     Radiology          attempt 1: 0 passed, FAILED grounding" in lines
    assert "  s2     PatientStatus      attempt 1: 1 passed" in lines
    assert "  s1     Radiology          attempt 2: 0 passed, FAILED grounding" in lines
    assert lines.count(f"      grounding: {FAILURE}") == 2


def test_model_ledger_usage_per_agent(
    model_ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = replay(capsys, model_ledger, "--view", "usage")
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  ")}
    # agent, calls, prompt, completion, total latency "ms", mean "ms"
    assert rows["Orchestrator"] == ["Orchestrator", "2", "900", "180", "2000", "ms", "1000", "ms"]
    assert rows["Radiology"] == ["Radiology", "2", "220", "50", "600", "ms", "300", "ms"]
    assert rows["PatientStatus"] == ["PatientStatus", "1", "300", "60", "400", "ms", "400", "ms"]
    assert rows["total"] == ["total", "5", "1420", "290", "3000", "ms", "600", "ms"]


def test_model_ledger_status_and_default_sections(
    model_ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = replay(capsys, model_ledger)
    for title in ("Timeline", "Plan", "Checkpoints", "Model usage", "Status"):
        assert f"== {title}" in out
    assert "Engine: azure: gpt-4o" in out
    assert "partial (critical step s1 failed) in 3210 ms; 1 gaps" in out
    assert "  gap: Radiology: grounding failed twice" in out


def test_filters_narrow_the_timeline_and_the_agent_views(
    model_ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = replay(capsys, model_ledger, "--type", "checkpoint")
    timeline = [line for line in out.splitlines() if line[:4].strip().isdigit()]
    assert len(timeline) == 3 and all(" checkpoint " in line for line in timeline)
    assert "== Plan" not in out  # a filter alone shows the timeline
    _, out, _ = replay(capsys, model_ledger, "--agent", "Radiology", "--view", "all")
    timeline = [line for line in out.splitlines() if line[:4].strip().isdigit()]
    assert timeline and all(line.split()[2] == "Radiology" for line in timeline)
    assert "PatientStatus" not in out.split("== Checkpoints")[1]
    assert "  total" not in out  # one agent: no total row
    code, _, err = replay(capsys, model_ledger, "--type", "nonsense")
    assert code == 2 and "'nonsense' is not one of" in err


def test_json_output_keys_and_figures(
    model_ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = replay(capsys, model_ledger, "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert set(data) == {
        "ledger",
        "run_id",
        "verification",
        "run",
        "timeline",
        "plans",
        "replans",
        "checkpoints",
        "usage",
        "status",
        "errors",
    }
    assert data["verification"]["ok"] is True and data["run"]["offline"] is False
    assert [p["version"] for p in data["plans"]] == [1, 2]
    assert data["replans"] == [{"seq": 19, "replans": 1, "reason": REPLAN_REASON}]
    radiology = next(u for u in data["usage"] if u["agent"] == "Radiology")
    assert radiology["calls"] == 2 and radiology["mean_latency_ms"] == 300.0
    assert [c["passed"] for c in data["checkpoints"]] == [False, True, False]
    assert data["status"]["status"] == "partial"
    assert set(data["timeline"][0]) == {"seq", "ts", "agent", "step", "type", "summary"}
    _, out, _ = replay(capsys, model_ledger, "--format", "json", "--view", "usage")
    assert set(json.loads(out)) == {"ledger", "run_id", "verification", "run", "usage"}


def test_offline_ledger_views(offline_ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = replay(capsys, offline_ledger)
    assert code == 0
    events = read_ledger(offline_ledger).events
    plan = next(e for e in events if e.type == "task_ledger").payload()
    assert isinstance(plan, TaskLedgerEvent)
    agents = {s.id: s.agent for s in plan.plan}
    wave_1 = ", ".join(f"{sid} {agents[sid]}" for sid in plan.waves[0])
    assert f"  wave 1: {wave_1}" in out.splitlines()
    assert "no model calls (the offline engine uses no language model)" in out
    assert "completed in " in out
    checkpoints = sum(e.type == "checkpoint" for e in events)
    assert f"{checkpoints} verdicts, 0 failed" in out


def test_timeline_has_no_patient_text_but_step_shows_the_event_whole(
    offline_ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = read_ledger(offline_ledger).events
    reply = next(e for e in events if e.type == "agent_reply")
    payload = reply.payload()
    assert isinstance(payload, AgentReply)
    quote = payload.findings[0].evidence[0].quote
    _, out, _ = replay(capsys, offline_ledger, "--view", "timeline")
    assert len(out.splitlines()) >= len(events) and quote not in out
    code, out, _ = replay(capsys, offline_ledger, "--step", reply.seq)
    assert code == 0
    shown = json.loads(out)
    assert shown["seq"] == reply.seq and shown["data"]["text"] == payload.text
    code, _, err = replay(capsys, offline_ledger, "--step", 10_000)
    assert code == 2 and "--step 10000: no event with that seq" in err


def test_broken_chain_exits_2_and_names_the_seq(
    model_ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = model_ledger.read_text(encoding="utf-8").splitlines()
    event = json.loads(lines[5])
    event["data"]["latency_ms"] = 1.0  # a cheaper call than the one that was made
    lines[5] = json.dumps(event, ensure_ascii=False)
    model_ledger.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = replay(capsys, model_ledger, "--view", "timeline")
    assert code == 2
    assert "chain broken at seq 5: hash mismatch at seq 5" in err
    timeline = [line for line in out.splitlines() if line[:4].strip().isdigit()]
    assert not timeline[4].endswith("[unverified]") and timeline[5].endswith("[unverified]")
    code, out, _ = replay(capsys, model_ledger, "--format", "json")
    assert code == 2 and json.loads(out)["verification"]["first_broken_seq"] == 5


def test_truncated_last_line_is_reported_not_fatal(
    model_ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with model_ledger.open("a", encoding="utf-8") as file:
        file.write('{"v": 1, "seq": 24, "ts": "2026-')
    code, out, err = replay(capsys, model_ledger, "--view", "status")
    assert code == 0
    assert "the last line is incomplete" in err and "24 events; hash chain verified" in err
    assert "partial (critical step s1 failed)" in out
