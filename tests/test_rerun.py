"""``rerun``: a recorded run reproduced from its ledger with no model and no tool run, matched
by request digest (not by position); the first divergence reported when the configuration or
the case changed; ``--live-from`` continuing live with the new ledger naming its parent."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from autogen_core import FunctionCall
from autogen_core.models import FunctionExecutionResultMessage

from magentic_health import arun_case as mh_arun_case
from magentic_health.agents import ReplyContract, Specialist, ToolAgent
from magentic_health.case import list_sample_cases
from magentic_health.cli import cli
from magentic_health.config import TeamConfig, default_config_path, load_team_config
from magentic_health.errors import BackendError, CaseError
from magentic_health.models import ModelRequest, Reply, ScriptedModelClient
from magentic_health.planners import RulePlanner
from magentic_health.rerun import RerunResult, arerun, compare_ledgers
from magentic_health.team import HealthTeam, RunResult
from magentic_health.tools import ToolContext, ToolOutput, ToolSpec
from magentic_health.trace import (
    GENESIS_HASH,
    LedgerEvent,
    LedgerWriter,
    compute_hash,
    read_ledger,
    verify_ledger,
)
from tests._factories import synthetic_case

TUMOR_BOARD = "Prepare the tumor board review"
QUOTE = "KRAS p.G12C detected by NGS"


def config() -> TeamConfig:
    return load_team_config(default_config_path())


def events(path: str | Path) -> list[LedgerEvent]:
    return read_ledger(Path(path)).events


def of_type(evs: list[LedgerEvent], kind: str) -> list[LedgerEvent]:
    return [e for e in evs if e.type == kind]


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    capsys.readouterr()
    code = cli(argv)
    return code, json.loads(capsys.readouterr().out)


# -- the offline engine: every sample case ------------------------------------------------------


@pytest.mark.parametrize("name", [s.name for s in list_sample_cases()])
def test_every_sample_case_reruns_to_the_same_answer_with_no_model_call(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, run = run_json(
        ["run", name, "--out", str(tmp_path), "--quiet", "--format", "json"], capsys
    )
    assert code in (0, 4), run
    original = events(run["ledger"])
    assert original[0].data["case_source"] == name
    code, rerun = run_json(["rerun", run["ledger"], "--format", "json"], capsys)
    assert code == 0, rerun
    assert rerun["reproduced"] and rerun["divergence"] is None and rerun["differences"] == []
    assert rerun["final_text"] == run["summary"] and rerun["same_final_answer"]
    assert rerun["served_model_calls"] == 0 and rerun["live_model_calls"] == 0
    assert rerun["served_tool_results"] == len(of_type(original, "tool_result")) > 0
    new = events(rerun["ledger_path"])
    assert Path(rerun["ledger_path"]).parent == tmp_path
    assert verify_ledger(Path(rerun["ledger_path"])).ok
    assert of_type(new, "model_call") == []
    assert new[0].run_id != original[0].run_id and len(new) == len(original)
    assert compare_ledgers(original, new) == []


def test_the_text_output_says_what_was_served_and_that_the_ledgers_agree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run = run_json(
        ["run", "synthea_lung_nsclc", "--out", str(tmp_path), "--quiet", "--format", "json"], capsys
    )
    out_dir = tmp_path / "reruns"
    assert cli(["rerun", run["ledger"], "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(run["summary"])
    assert "Served from the ledger: 0 model calls" in out and "Final answer: identical" in out
    assert "Ledger: identical to the original except run_id, ts, seq, hashes and timings" in out
    (written,) = out_dir.glob("*-rerun-*.jsonl")
    assert written.name.startswith(Path(run["ledger"]).name.removesuffix(".jsonl") + "-rerun-")


def test_another_case_is_reported_as_the_first_divergence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run = run_json(
        ["run", "synthea_colon", "--out", str(tmp_path), "--quiet", "--format", "json"], capsys
    )
    first_call = of_type(events(run["ledger"]), "tool_call")[0]
    code, rerun = run_json(
        ["rerun", run["ledger"], "--case", "synthea_prostate", "--format", "json"], capsys
    )
    assert code == 1 and not rerun["reproduced"]
    assert [c["name"] for c in rerun["input_changes"]] == ["case"]
    div = rerun["divergence"]
    assert div["kind"] == "tool_call" and div["tool"] == first_call.data["tool"]
    assert (div["agent"], div["step"]) == (first_call.agent, first_call.step)
    assert div["expected_arguments"] == first_call.data["arguments"]
    assert div["expected_arguments"]["case_id"] == "synthea_colon"
    assert div["actual_arguments"]["case_id"] == "synthea_prostate"
    assert div["expected_digest"] != div["actual_digest"] and div["expected_seq"] == first_call.seq
    assert rerun["status"] is None and rerun["final_text"] is None
    partial = Path(rerun["ledger_path"])
    assert partial.exists() and verify_ledger(partial).ok  # the partial ledger is kept
    assert of_type(events(partial), "tool_result") == []  # nothing was served after the stop
    assert cli(["rerun", run["ledger"], "--case", "synthea_prostate"]) == 1
    out = capsys.readouterr().out
    assert f"First divergence at step {first_call.step} ({first_call.agent})" in out
    assert "expected arguments: case_id='synthea_colon'" in out and "Partial ledger:" in out


def test_live_from_serves_what_came_before_and_runs_the_tools_after(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run = run_json(
        ["run", "synthea_colon", "--out", str(tmp_path), "--quiet", "--format", "json"], capsys
    )
    original = events(run["ledger"])
    results = of_type(original, "tool_result")
    seq = results[len(results) // 2].seq
    code, rerun = run_json(
        ["rerun", run["ledger"], "--live-from", str(seq), "--format", "json"], capsys
    )
    assert code == 0, rerun
    assert rerun["served_tool_results"] == sum(r.seq < seq for r in results) > 0
    assert rerun["live_tool_calls"] == sum(r.seq >= seq for r in results) > 0
    assert rerun["final_text"] == run["summary"]  # the offline tools are deterministic
    started = events(rerun["ledger_path"])[0]
    assert started.data["parent_run"] == original[0].run_id
    assert [d["what"] for d in rerun["differences"]] == [
        f"run_started: data.parent_run: None != {original[0].run_id!r}"
    ]


def test_a_broken_chain_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run = run_json(
        ["run", "synthea_colon", "--out", str(tmp_path), "--quiet", "--format", "json"], capsys
    )
    path = Path(run["ledger"])
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    edited = json.loads(lines[1])
    edited["data"]["rationale"] = "edited by hand"
    lines[1] = json.dumps(edited) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    assert cli(["rerun", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "chain broken at seq" in err


def test_model_flag_needs_live_from_and_an_engine_that_can_continue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run = run_json(
        ["run", "synthea_colon", "--out", str(tmp_path), "--quiet", "--format", "json"], capsys
    )
    assert cli(["rerun", run["ledger"], "--model", "offline"]) == 2
    assert "give --live-from SEQ" in capsys.readouterr().err
    assert cli(["rerun", run["ledger"], "--live-from", "5", "--model", "openai"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: --model 'openai': the run used the offline engine; a model cannot continue it "
        "(its plan and replies come from rules): leave --model out, or give --model offline"
    )
    assert cli(["rerun", run["ledger"], "--live-from", "5", "--model", "offline"]) == 0


# -- model-driven specialists with a scripted model -----------------------------------------------


def contract(text: str = "KRAS G12C was found by NGS.") -> ReplyContract:
    return ReplyContract.model_validate(
        {
            "text": text,
            "findings": [
                {"claim": "KRAS G12C", "evidence": [{"doc_id": "note-1", "quote": QUOTE}]}
            ],
            "gaps": [],
        }
    )


def specialist_answer(request: ModelRequest) -> Reply:
    """Search once when search_notes is offered (by message structure), then the contract;
    any other structured request (the LLM planner's) gets the contract too, which it rejects
    and falls back on its rules: recorded calls all the same."""
    searched = isinstance(request.messages[-1], FunctionExecutionResultMessage)
    if "search_notes" in request.tool_names and not searched:
        return [FunctionCall(id="c1", name="search_notes", arguments='{"query": "KRAS"}')]
    return contract()


async def model_run(tmp_path: Path, *, llm_planner: bool) -> tuple[RunResult, ScriptedModelClient]:
    client = ScriptedModelClient(specialist_answer)
    team = HealthTeam(
        config(),
        data_dir=None,
        model_client=client,
        planner=None if llm_planner else RulePlanner(),
        case=synthetic_case(),
        ledger_dir=tmp_path,
    )
    result = await team.run_case(synthetic_case(TUMOR_BOARD), ledger_path=tmp_path / "run.jsonl")
    return result, client


@pytest.mark.parametrize("llm_planner", [False, True], ids=["rule-planner", "llm-planner"])
async def test_a_model_run_reruns_with_no_model_served_by_digest(
    tmp_path: Path, llm_planner: bool
) -> None:
    result, client = await model_run(tmp_path, llm_planner=llm_planner)
    original = events(result.ledger_path)
    calls = of_type(original, "model_call")
    assert len(calls) == len(client.requests) > 3
    assert len({c.step for c in calls if c.step}) > 2  # several steps, some side by side
    asked = len(client.requests)
    rerun = await arerun(result.ledger_path, case=synthetic_case(), out_dir=tmp_path / "re")
    assert len(client.requests) == asked  # the model was not asked again
    assert rerun.reproduced, rerun.differences or rerun.divergence
    assert rerun.final_text == result.final_text and rerun.status == result.status
    assert rerun.served_model_calls == len(calls) and rerun.live_model_calls == 0
    new = of_type(events(rerun.ledger_path), "model_call")
    assert sorted(c.data["request_digest"] for c in new) == sorted(
        c.data["request_digest"] for c in calls
    )


def reorder_model_calls(source: Path, target: Path) -> list[LedgerEvent]:
    """A valid ledger with the same events but the ``model_call`` events in reverse order of
    position (re-chained, so it verifies)."""
    evs = events(source)
    slots = [i for i, e in enumerate(evs) if e.type == "model_call"]
    moved = list(evs)
    for slot, event in zip(slots, reversed([evs[i] for i in slots]), strict=True):
        moved[slot] = event
    with LedgerWriter(path=target, run_id=evs[0].run_id) as writer:
        for event in moved:
            writer.append(event.payload(), agent=event.agent, step=event.step)
    return moved


async def test_recorded_calls_are_matched_by_digest_not_by_position(tmp_path: Path) -> None:
    result, _ = await model_run(tmp_path, llm_planner=False)
    shuffled = tmp_path / "shuffled.jsonl"
    moved = reorder_model_calls(Path(result.ledger_path), shuffled)
    order = [e.data["request_digest"] for e in moved if e.type == "model_call"]
    before = [e.data["request_digest"] for e in of_type(events(result.ledger_path), "model_call")]
    assert order != before and verify_ledger(shuffled).ok
    rerun = await arerun(shuffled, case=synthetic_case())
    assert rerun.divergence is None and rerun.same_final_answer
    assert rerun.final_text == result.final_text
    assert rerun.served_model_calls == len(order)
    # the rerun asks in the run's own order, which the original ledger has
    assert compare_ledgers(events(result.ledger_path), events(rerun.ledger_path)) == []


async def test_an_edited_prompt_is_the_first_divergence(tmp_path: Path) -> None:
    result, _ = await model_run(tmp_path, llm_planner=False)
    original = events(result.ledger_path)
    team = config()
    agents = [
        a.model_copy(update={"instructions": a.instructions + "\nBe brief."})
        if a.name == "PatientStatus"
        else a
        for a in team.agents
    ]
    edited = team.model_copy(update={"agents": tuple(agents)})
    rerun: RerunResult = await arerun(result.ledger_path, case=synthetic_case(), config=edited)
    assert [c.name for c in rerun.input_changes] == ["config"]
    div = rerun.divergence
    assert div is not None and div.kind == "model_call" and div.agent == "PatientStatus"
    recorded = next(e for e in original if e.type == "model_call" and e.agent == "PatientStatus")
    assert div.step == recorded.step
    assert div.expected_digest == recorded.data["request_digest"]
    assert div.expected_seq == recorded.seq and div.actual_digest != div.expected_digest
    assert "output: ReplyContract" in div.request
    assert rerun.exit_code == 1 and rerun.status is None and not rerun.reproduced
    assert verify_ledger(Path(rerun.ledger_path)).ok
    lines = div.describe()
    where = f"step {recorded.step} (PatientStatus)"
    assert lines[0] == f"First divergence at {where}: model call with no recorded match"


async def test_live_from_continues_with_the_live_model_and_names_the_parent(
    tmp_path: Path,
) -> None:
    result, _ = await model_run(tmp_path, llm_planner=False)
    original = events(result.ledger_path)
    calls = of_type(original, "model_call")
    seq = calls[len(calls) // 2].seq
    live = ScriptedModelClient(
        lambda r: specialist_answer(r) if r.tool_names else contract("Live.")
    )
    rerun = await arerun(result.ledger_path, case=synthetic_case(), live_from=seq, live_client=live)
    assert rerun.divergence is None and rerun.status is not None
    assert rerun.served_model_calls == sum(c.seq < seq for c in calls) > 0
    assert rerun.live_model_calls == len(live.requests) > 0
    new = events(rerun.ledger_path)
    assert new[0].data["parent_run"] == original[0].run_id
    texts = [e.data["text"] for e in of_type(new, "agent_reply")]
    assert "Live." in texts and rerun.exit_code == 0


async def test_live_from_a_model_run_without_a_model_is_a_backend_error(tmp_path: Path) -> None:
    result, _ = await model_run(tmp_path, llm_planner=False)
    with pytest.raises(BackendError, match=r"no model client was given .* pass live_client="):
        await arerun(result.ledger_path, case=synthetic_case(), live_from=3)


async def test_live_clients_answer_each_agent_and_live_client_the_others(
    tmp_path: Path,
) -> None:
    result, _ = await model_run(tmp_path, llm_planner=False)
    calls = of_type(events(result.ledger_path), "model_call")
    status = ScriptedModelClient(lambda r: contract("Live status."))
    others = ScriptedModelClient(
        lambda r: specialist_answer(r) if r.tool_names else contract("Live.")
    )
    rerun = await arerun(
        result.ledger_path,
        case=synthetic_case(),
        live_from=calls[0].seq,  # every model call runs live
        live_client=others,
        live_clients={"PatientStatus": status},
    )
    assert rerun.divergence is None and rerun.status is not None
    assert rerun.live_model_calls == len(status.requests) + len(others.requests)
    new = of_type(events(rerun.ledger_path), "model_call")
    by_status = [c for c in new if c.agent == "PatientStatus"]
    assert len(by_status) == len(status.requests) > 0
    assert len(new) - len(by_status) == len(others.requests) > 0
    replies = {e.agent: e.data["text"] for e in of_type(events(rerun.ledger_path), "agent_reply")}
    assert replies["PatientStatus"] == "Live status."
    assert "Live status." not in {t for a, t in replies.items() if a != "PatientStatus"}


async def test_a_ledger_without_a_case_source_asks_for_the_case(tmp_path: Path) -> None:
    result, _ = await model_run(tmp_path, llm_planner=False)
    with pytest.raises(CaseError, match="pass the case with --case"):
        await arerun(result.ledger_path)


def test_the_readme_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- example: rerun -->\n```python\n(.*?)```", readme, re.DOTALL)
    assert found, "README has no rerun example"
    monkeypatch.chdir(tmp_path)  # its ledgers go to ./ledgers
    exec(compile(found.group(1), "README.md", "exec"), {"__name__": "__readme__"})
    assert capsys.readouterr().out.strip() == "0 True None"
    assert len(list((tmp_path / "ledgers").glob("*-rerun-*.jsonl"))) == 1


def status_only(run: Callable[[ToolContext], ToolOutput]) -> dict[str, Specialist]:
    """The PatientStatus specialist of the offline engine with its tool replaced."""
    agent = config().agent("PatientStatus")
    assert agent is not None
    spec = ToolSpec(name="patient_status", description="status", run=run)
    return {"PatientStatus": ToolAgent(agent, tools=[spec])}


async def test_a_tool_that_failed_fails_again_with_the_same_error(tmp_path: Path) -> None:
    def broken(ctx: ToolContext) -> ToolOutput:
        raise ValueError("the status source is unreadable")

    team = HealthTeam(config(), specialists=status_only(broken), ledger_dir=tmp_path)
    case = synthetic_case("What is the current stage?")
    result = await team.run_case(case, ledger_path=tmp_path / "broken.jsonl")
    failed = [e.data["error"] for e in of_type(events(result.ledger_path), "tool_result")]
    assert failed[0] == "ValueError: the status source is unreadable"
    rerun = await arerun(result.ledger_path, case=case)
    assert rerun.reproduced, rerun.differences
    again = [e.data for e in of_type(events(rerun.ledger_path), "tool_result")]
    assert [d["error"] for d in again] == failed and again[0]["output"] == {}


async def test_a_ledger_from_before_case_source_reruns_with_the_case_given(
    tmp_path: Path,
) -> None:
    result = await mh_arun_case("synthea_colon", out_dir=tmp_path)
    old = tmp_path / "old.jsonl"
    prev, lines = GENESIS_HASH, []
    for event in events(result.ledger_path):  # re-chained as written before these fields
        envelope = event.model_dump(mode="json") | {"prev_hash": prev}
        for key in ("case_source", "config_source"):
            envelope["data"].pop(key, None)
        envelope["hash"] = prev = compute_hash(prev, envelope)
        lines.append(json.dumps(envelope, ensure_ascii=False) + "\n")
    old.write_text("".join(lines), encoding="utf-8")
    assert verify_ledger(old).ok and "case_source" not in events(old)[0].data
    with pytest.raises(CaseError, match="--case"):
        await arerun(old)
    rerun = await arerun(old, case="synthea_colon")
    assert rerun.same_final_answer and rerun.divergence is None and not rerun.input_changes
    assert rerun.final_text == result.final_text


async def test_a_model_ledger_from_before_model_call_model_reruns_reproduced(
    tmp_path: Path,
) -> None:
    result, _ = await model_run(tmp_path, llm_planner=False)
    old = tmp_path / "old.jsonl"
    prev, lines = GENESIS_HASH, []
    for event in events(result.ledger_path):  # re-chained as written before model_call.model
        envelope = event.model_dump(mode="json") | {"prev_hash": prev}
        if event.type == "model_call":
            assert envelope["data"].pop("model") is None  # the scripted client names no model
        envelope["hash"] = prev = compute_hash(prev, envelope)
        lines.append(json.dumps(envelope, ensure_ascii=False) + "\n")
    old.write_text("".join(lines), encoding="utf-8")
    assert verify_ledger(old).ok
    rerun = await arerun(old, case=synthetic_case())
    assert rerun.reproduced, rerun.differences
    assert {c.data["model"] for c in of_type(events(rerun.ledger_path), "model_call")} == {None}
