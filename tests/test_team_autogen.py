"""HealthTeam through AutoGen's Team API: run, run_stream, Console, state, reset, pause and
cancellation, on the offline engine (RulePlanner and ToolAgent) over a synthetic case."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from autogen_agentchat.base import TaskResult, Team
from autogen_agentchat.messages import TextMessage
from autogen_agentchat.ui import Console
from autogen_core import CancellationToken

from magentic_health.agents import EventSink, HandoffRequest
from magentic_health.config import TeamConfig, default_config_path, load_team_config
from magentic_health.errors import InputError
from magentic_health.reply import SpecialistReply
from magentic_health.team import (
    CheckpointUpdate,
    HandoffUpdate,
    HealthEvent,
    HealthTeam,
    ProgressLedgerUpdate,
    RunUpdate,
    TaskLedgerUpdate,
    TriageUpdate,
)
from magentic_health.trace import read_ledger
from tests._factories import synthetic_case
from tests.test_team import Scripted, grounded, make_team

STAGE = "What is the current stage?"


def config() -> TeamConfig:
    return load_team_config(default_config_path())


def offline_team(tmp_path: Path, data_dir: Path) -> HealthTeam:
    return HealthTeam(config(), data_dir=data_dir, case=synthetic_case(), ledger_dir=tmp_path)


def handoffs(team: HealthTeam) -> list[str]:
    assert team.last_result is not None
    events = read_ledger(Path(team.last_result.ledger_path)).events
    return [str(e.data["to"]) for e in events if e.type == "handoff"]


async def test_run_returns_a_task_result_ending_with_the_final_answer(
    tmp_path: Path, data_dir: Path
) -> None:
    team = offline_team(tmp_path, data_dir)
    assert isinstance(team, Team)
    assert team.name == "tumor_board" and "tumor board" in team.description
    result = await team.run(task=STAGE)
    assert isinstance(result, TaskResult)
    first, last = result.messages[0], result.messages[-1]
    assert isinstance(first, TextMessage) and first.source == "user" and first.content == STAGE
    assert isinstance(last, TextMessage) and last.source == "Orchestrator"
    assert team.last_result is not None and last.content == team.last_result.final_text
    assert "**Stage group:** IIIB" in last.content
    assert result.stop_reason == "completed"
    replies = [m for m in result.messages if isinstance(m, TextMessage) and m.source != "user"]
    assert [m.source for m in replies] == ["PatientStatus", "Orchestrator"]


async def test_run_stream_yields_our_events_as_they_happen_then_the_result(
    tmp_path: Path, data_dir: Path
) -> None:
    team = offline_team(tmp_path, data_dir)
    items = [item async for item in team.run_stream(task=STAGE, output_task_messages=False)]
    assert isinstance(items[-1], TaskResult)
    assert list(items[-1].messages) == items[:-1]
    kinds = [type(i) for i in items]
    for kind in (
        RunUpdate,
        TriageUpdate,
        TaskLedgerUpdate,
        HandoffUpdate,
        CheckpointUpdate,
        ProgressLedgerUpdate,
    ):
        assert kind in kinds
    assert kinds.index(TriageUpdate) < kinds.index(TaskLedgerUpdate) < kinds.index(HandoffUpdate)
    events = [i for i in items if isinstance(i, HealthEvent)]
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    triage = next(e for e in events if isinstance(e, TriageUpdate))
    assert triage.data["selected"] == ["PatientStatus"]
    assert "selected PatientStatus" in triage.to_text()
    for event in events:  # summaries never carry patient text
        assert "G12C" not in event.to_text() and "carboplatin" not in event.to_text()
    # each message's id names its ledger line
    assert team.last_result is not None
    ledger = read_ledger(Path(team.last_result.ledger_path)).events
    by_id = {f"{e.run_id}:{e.seq}": e for e in ledger}
    streamed = items[:-1]
    assert len({m.id for m in streamed}) == len(streamed)
    for event in events:
        assert by_id[event.id].type == event.event_type and by_id[event.id].seq == event.seq
    texts = [m for m in streamed if isinstance(m, TextMessage)]
    assert [by_id[m.id].type for m in texts] == ["agent_reply", "final"]
    assert by_id[texts[-1].id].data["text"] == texts[-1].content


async def test_console_shows_the_run(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    team = offline_team(tmp_path, data_dir)
    result = await Console(team.run_stream(task=STAGE))
    out = capsys.readouterr().out
    assert isinstance(result, TaskResult) and result.stop_reason == "completed"
    assert "TriageUpdate (Orchestrator)" in out and "HandoffUpdate (PatientStatus)" in out
    assert "TextMessage (PatientStatus)" in out and "run_finished: run completed" in out


async def test_a_follow_up_continues_the_case_and_reuses_verified_steps(
    tmp_path: Path, data_dir: Path
) -> None:
    team = offline_team(tmp_path, data_dir)
    await team.run(task=STAGE)
    first = team.last_result
    assert first is not None
    await team.run(task="Which clinical trials could this patient join?")
    second = team.last_result
    assert second is not None and second.parent_run == first.run_id
    started = read_ledger(Path(second.ledger_path)).events[0]
    assert started.data["parent_run"] == first.run_id
    assert handoffs(team) == ["ClinicalTrials"]  # PatientStatus reused, not re-run
    plan = read_ledger(Path(second.ledger_path)).events[2]
    assert any("reuses the verified output" in g for g in plan.data["facts"]["given"])
    assert second.status == "completed" and "clinical_trials" in second.tool_data


async def test_state_round_trips_through_json_into_a_new_team(
    tmp_path: Path, data_dir: Path
) -> None:
    team = offline_team(tmp_path, data_dir)
    await team.run(task=STAGE)
    state = json.loads(json.dumps(await team.save_state()))
    assert state["case"]["case_id"] == "synthetic-1" and len(state["outcomes"]) == 1
    assert state["last_counters"]["turns"] == 1
    fresh = HealthTeam(config(), data_dir=data_dir, ledger_dir=tmp_path)
    await fresh.load_state(state)
    await fresh.run(task="Which clinical trials could this patient join?")
    assert fresh.last_result is not None
    assert fresh.last_result.parent_run == state["run_ids"][-1]
    assert handoffs(fresh) == ["ClinicalTrials"]


async def test_reset_forgets_runs_and_outcomes(tmp_path: Path, data_dir: Path) -> None:
    team = offline_team(tmp_path, data_dir)
    await team.run(task=STAGE)
    await team.reset()
    state = await team.save_state()
    assert state["outcomes"] == [] and state["run_ids"] == [] and state["last_counters"] is None
    assert team.last_result is None
    await team.run(task=STAGE)
    assert team.last_result is not None and team.last_result.parent_run is None
    assert handoffs(team) == ["PatientStatus"]


async def test_a_team_without_a_case_says_how_to_give_it_one(data_dir: Path) -> None:
    team = HealthTeam(config(), data_dir=data_dir)
    with pytest.raises(InputError, match="set_case"):
        await team.run(task=STAGE)


async def test_pause_holds_the_next_wave_until_resume(tmp_path: Path) -> None:
    specialists = {n: Scripted(n, grounded(n)) for n in "ABC"}
    team = make_team(tmp_path, specialists)
    team.set_case(synthetic_case())
    team.ledger_dir = tmp_path
    await team.pause()
    planned = asyncio.Event()
    seen: list[object] = []

    async def consume() -> None:
        async for item in team.run_stream(task="Prepare the tumor board review"):
            seen.append(item)
            if isinstance(item, TaskLedgerUpdate):
                planned.set()

    runner = asyncio.create_task(consume())
    await planned.wait()
    for _ in range(50):
        await asyncio.sleep(0)
    assert not any(isinstance(i, HandoffUpdate) for i in seen)
    assert all(not s.requests for s in specialists.values())
    await team.resume()
    await runner
    assert isinstance(seen[-1], TaskResult) and seen[-1].stop_reason == "completed"


class Blocking:
    """A specialist that cancels the run's token and then waits forever."""

    def __init__(self, token: CancellationToken) -> None:
        self.token = token

    @property
    def name(self) -> str:
        return "A"

    async def handle(self, request: HandoffRequest, *, emit: EventSink) -> SpecialistReply:
        assert request.cancellation_token is self.token
        self.token.cancel()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_cancellation_ends_the_run_and_the_ledger_says_so(tmp_path: Path) -> None:
    token = CancellationToken()
    specialists = {"A": Blocking(token), "B": Scripted("B", grounded("B"))}
    specialists["C"] = Scripted("C", grounded("C"))
    team = make_team(tmp_path, specialists)  # type: ignore[arg-type]
    team.set_case(synthetic_case())
    team.ledger_dir = tmp_path
    with pytest.raises(asyncio.CancelledError):
        await team.run(task="Prepare the tumor board review", cancellation_token=token)
    ledger = next(tmp_path.glob("*.jsonl"))
    last = read_ledger(ledger).events[-1]
    assert last.type == "run_finished" and last.data["reason"] == "cancelled by the caller"
