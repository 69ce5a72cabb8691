"""Regressions for the weaknesses of AutoGen's Magentic-One orchestrator loop, with scripted
planners, specialists and model clients: stall counting across re-plans and a hard re-plan
limit, evidence kept across a re-plan, an exact turn limit, per-run counters, follow-ups that
continue, malformed structured replies, orchestrator tokens in the budget, and requests that
strict chat templates accept."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autogen_core.models import CreateResult, RequestUsage, UserMessage

from magentic_health.case import Case
from magentic_health.config import Limits, TeamConfig, default_config_path, load_team_config
from magentic_health.models import ModelRequest, RecordingClient, Reply, ScriptedModelClient
from magentic_health.plan import BoolAnswer, NextAnswer, ProgressLedger, TaskLedger
from magentic_health.planners import StepOutcome
from magentic_health.team import HealthTeam
from magentic_health.trace import LedgerEvent, read_ledger
from tests._factories import synthetic_case
from tests.test_llm_specialists import StrictTemplateError, specialist_answer
from tests.test_team import FixedPlanner, Scripted, grounded, make_team, team_config

TUMOR_BOARD = "Prepare the tumor board review"


def events(result_path: str) -> list[LedgerEvent]:
    return read_ledger(Path(result_path)).events


def of_type(evs: list[LedgerEvent], kind: str) -> list[LedgerEvent]:
    return [e for e in evs if e.type == kind]


class NeverSatisfied(FixedPlanner):
    """Every progress ledger: not satisfied, no progress (a run that can only stall)."""

    async def progress(
        self,
        case: Case,
        team: TeamConfig,
        ledger: TaskLedger,
        outcomes: Mapping[str, StepOutcome],
        *,
        wave: int,
    ) -> ProgressLedger:
        no = BoolAnswer(answer=False, reason="scripted: nothing new")
        return ProgressLedger(
            is_request_satisfied=no,
            is_in_loop=no,
            is_progress_being_made=no,
            next=NextAnswer(answer=(), reason="scripted"),
        )


def stalling_team(tmp_path: Path, *, max_replans: int = 2) -> HealthTeam:
    specialists = {n: Scripted(n, grounded(n)) for n in "ABC"}
    return HealthTeam(
        team_config(limits=Limits(max_stalls=2, max_replans=max_replans)),
        data_dir=tmp_path,
        planner=NeverSatisfied(),
        specialists=specialists,
        case=synthetic_case(),
        ledger_dir=tmp_path,
    )


async def test_stalls_reset_after_a_replan_and_replans_are_capped(tmp_path: Path) -> None:
    team = stalling_team(tmp_path)
    result = await team.run(task=TUMOR_BOARD)
    evs = events(team.last_result.ledger_path)  # type: ignore[union-attr]
    stalls = [e.data["stalls"] for e in of_type(evs, "progress_ledger")]
    assert stalls == [1, 2, 1, 2, 1, 2]  # reset to zero by each re-plan
    assert [e.data["replans"] for e in of_type(evs, "replan")] == [1, 2]
    assert result.stop_reason == "partial: re-plan limit reached (max_replans=2)"


async def test_a_replan_keeps_the_evidence_of_completed_steps(tmp_path: Path) -> None:
    ecog = "ECOG 1"
    specialists = {
        "A": Scripted("A", grounded("A", quote=ecog)),
        "B": Scripted("B", grounded("B", quote="a quote that is in no document")),
        "C": Scripted("C", grounded("C")),
    }
    team = make_team(tmp_path, specialists, limits=Limits(max_stalls=1))
    result = await team.run_case(synthetic_case(), ledger_path=tmp_path / "l.jsonl")
    evs = events(result.ledger_path)
    assert len(of_type(evs, "replan")) == 1 and of_type(evs, "task_ledger")[1].data["version"] == 2
    assert set(specialists["C"].requests[0].upstream) == {"a_tool"}  # A's output survived
    assert any(c.quote == ecog for c in result.citations)  # and reached the final answer
    assert "a_tool" in result.tool_data


async def test_the_turn_limit_allows_exactly_max_turns_handoffs(tmp_path: Path) -> None:
    for max_turns in (1, 2, 3):
        specialists = {n: Scripted(n, grounded(n)) for n in "ABC"}
        team = make_team(tmp_path, specialists, limits=Limits(max_turns=max_turns))
        path = tmp_path / f"turns{max_turns}.jsonl"
        result = await team.run_case(synthetic_case(), ledger_path=path)
        handoffs = of_type(events(str(path)), "handoff")
        assert len(handoffs) == max_turns, max_turns
        if max_turns < 3:  # three steps: fewer turns end the run on the limit
            assert result.status == "partial" and f"max_turns={max_turns}" in (result.reason or "")
        else:  # exactly enough turns: the run completes
            assert result.status == "completed" and not result.limit_hit


async def test_a_retry_needs_a_turn_of_its_own(tmp_path: Path) -> None:
    specialists = {n: Scripted(n, grounded(n, quote="not in the case")) for n in "ABC"}
    team = make_team(tmp_path, specialists, limits=Limits(max_turns=1))
    result = await team.run_case(synthetic_case(), ledger_path=tmp_path / "l.jsonl")
    assert len(of_type(events(result.ledger_path), "handoff")) == 1
    assert result.limit_hit


async def test_counters_do_not_leak_into_the_next_run(tmp_path: Path) -> None:
    team = stalling_team(tmp_path, max_replans=1)
    await team.run(task=TUMOR_BOARD)
    first = events(team.last_result.ledger_path)  # type: ignore[union-attr]
    await team.run(task="and again")
    second = events(team.last_result.ledger_path)  # type: ignore[union-attr]
    for evs in (first, second):
        assert [e.data["stalls"] for e in of_type(evs, "progress_ledger")] == [1, 2, 1, 2]
        assert [e.data["replans"] for e in of_type(evs, "replan")] == [1]
    state = await team.save_state()
    assert state["last_counters"]["replans"] == 1 and state["last_counters"]["stalls"] == 2


async def test_a_follow_up_continues_without_rerunning_done_steps(tmp_path: Path) -> None:
    specialists = {n: Scripted(n, grounded(n)) for n in "ABC"}
    team = make_team(tmp_path, specialists)
    team.set_case(synthetic_case())
    team.ledger_dir = tmp_path
    await team.run(task=TUMOR_BOARD)
    first = team.last_result
    await team.run(task=TUMOR_BOARD)  # the same question again: nothing to redo
    second = team.last_result
    assert first is not None and second is not None
    assert second.parent_run == first.run_id and second.status == "completed"
    assert of_type(events(second.ledger_path), "handoff") == []
    assert [len(s.requests) for s in specialists.values()] == [1, 1, 1]
    assert {c.quote for c in second.citations} == {c.quote for c in first.citations}
    await team.run(task="A different question")  # these specialists may read the request
    assert [len(s.requests) for s in specialists.values()] == [2, 2, 2]


def config() -> TeamConfig:
    return load_team_config(default_config_path())


async def test_a_malformed_structured_reply_never_crashes_the_orchestrator(
    tmp_path: Path, data_dir: Path
) -> None:
    client = ScriptedModelClient(lambda r: '{"text": 1, "findings": {}, "gaps": null}')
    team = HealthTeam(
        config(),
        data_dir=data_dir,
        model_client=client,
        planner=FixedPlanner(),
        case=synthetic_case(),
        ledger_dir=tmp_path,
    )
    result = await team.run(task=TUMOR_BOARD)
    assert result.stop_reason is not None and result.stop_reason.startswith("failed")
    evs = events(team.last_result.ledger_path)  # type: ignore[union-attr]
    contract = [e for e in of_type(evs, "checkpoint") if e.data["name"] == "contract"]
    assert contract and not any(e.data["passed"] for e in contract)
    assert evs[-1].type == "run_finished"


class MeteredPlanner(FixedPlanner):
    """The fixed planner, but each progress assessment costs a (scripted) model call."""

    def __init__(self, client: RecordingClient) -> None:
        super().__init__()
        self.client = client

    async def progress(self, case: Case, team: TeamConfig, *args: Any, **kw: Any) -> ProgressLedger:
        await self.client.create([UserMessage(content="assess progress", source="user")])
        result: ProgressLedger = await self._rules.progress(case, team, *args, **kw)
        return result


def costly(request: ModelRequest) -> Reply:
    usage = RequestUsage(prompt_tokens=900, completion_tokens=100)
    return CreateResult(finish_reason="stop", content="{}", usage=usage, cached=False)


async def test_orchestrator_tokens_count_toward_the_budget(tmp_path: Path) -> None:
    planner = MeteredPlanner(RecordingClient(ScriptedModelClient(costly), agent="Boss"))
    specialists = {n: Scripted(n, grounded(n)) for n in "ABC"}
    team = HealthTeam(
        team_config(limits=Limits(max_total_tokens=900)),
        data_dir=tmp_path,
        planner=planner,
        specialists=specialists,
        case=synthetic_case(),
        ledger_dir=tmp_path,
    )
    result = await team.run(task=TUMOR_BOARD)
    assert result.stop_reason is not None and result.stop_reason.startswith("partial: token")
    assert "1000 tokens used" in result.stop_reason and "max_total_tokens=900" in result.stop_reason
    evs = events(team.last_result.ledger_path)  # type: ignore[union-attr]
    assert [e.agent for e in of_type(evs, "model_call")] == ["Boss"]
    usage = evs[-1].data["usage"]
    assert usage["Boss"] == {"prompt_tokens": 900, "completion_tokens": 100}
    assert usage["total"] == usage["Boss"]
    assert len(of_type(evs, "progress_ledger")) == 1  # stopped after the wave that overran
    assert specialists["C"].requests == []


async def test_every_specialist_request_fits_a_strict_chat_template(
    tmp_path: Path, data_dir: Path
) -> None:
    calls: list[int] = []

    def answer(request: ModelRequest) -> Reply:
        calls.append(1)
        if len(calls) == 1:
            return "not json"  # one retry in the run, too
        return specialist_answer(request)  # raises StrictTemplateError on a bad sequence

    client = ScriptedModelClient(answer)
    team = HealthTeam(
        config(),
        data_dir=data_dir,
        model_client=client,
        planner=FixedPlanner(),
        case=synthetic_case(),
        ledger_dir=tmp_path,
    )
    await team.run(task=TUMOR_BOARD)
    evs = events(team.last_result.ledger_path)  # type: ignore[union-attr]
    failures = [f for e in of_type(evs, "checkpoint") for f in e.data["failures"]]
    assert not any(StrictTemplateError.__name__ in f for f in failures), failures
    assert len(client.requests) >= 7  # six specialists, a retry, a search
    assert any(r.tool_names == ("search_notes",) for r in client.requests)
    assert team.last_result is not None and team.last_result.status == "completed"
