"""The orchestration benchmark runs both systems to the end; the simulated model answers by
structure. Figures are printed, never asserted: no timing here."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from autogen_core.models import (
    AssistantMessage,
    FunctionExecutionResult,
    FunctionExecutionResultMessage,
    SystemMessage,
    UserMessage,
)

from magentic_health.case import load_case
from magentic_health.config import load_team_config
from magentic_health.models import ModelRequest
from magentic_health.models.simulated import SimulatedModel, SimulatedSpecialist

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_orchestration.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_orchestration", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_bench_runs_both_systems_to_completion(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _script()
    code = bench.main(["--cases", "synthea_colon", "--latency-ms", "0", "--repeat", "3", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert {"calls_ratio", "wall_ratio", "overhead_ms_per_handoff", "cases"} <= set(report)
    assert report["repeat"] == 3
    (row,) = report["cases"]
    assert row["case"] == "synthea_colon"
    for system in ("magentic_one", "health_team"):
        figures = row[system]
        assert "error" not in figures, figures.get("error")
        assert figures["completed"] is True
        assert figures["calls"] > 0 and figures["prompt_tokens"] > 0
        assert figures["handoffs"] >= len(row["specialists"])
        # one zero-latency run a round; the overhead is the fastest over the hand-offs
        assert figures["zero_latency_runs"] == 3
        assert 0 < figures["zero_latency_wall_ms"] <= figures["zero_latency_median_ms"]
        assert figures["overhead_ms_per_handoff"] == round(
            figures["zero_latency_wall_ms"] / figures["handoffs"], 3
        )
    assert report["calls_ratio"] is not None and report["calls_ratio"] > 0


def test_a_system_that_raises_is_reported_and_the_other_still_measured(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = _script()
    runs = {"magentic_one": 0}

    async def broken(*_args: object, **_kwargs: object) -> object:
        runs["magentic_one"] += 1
        raise RuntimeError("no such group chat")

    monkeypatch.setitem(bench.SYSTEMS, "magentic_one", broken)
    code = bench.main(["--cases", "synthea_colon", "--latency-ms", "0", "--repeat", "2", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    (row,) = report["cases"]
    assert row["magentic_one"] == {"error": "RuntimeError: no such group chat"}
    assert runs["magentic_one"] == 1  # not tried again in the zero-latency rounds
    assert row["health_team"]["completed"] is True
    assert row["health_team"]["zero_latency_runs"] == 2
    assert report["calls_ratio"] is None and report["overhead_ms_per_handoff"] is None


async def test_no_prompt_of_a_real_case_repeats_a_finding(tmp_path: Path, data_dir: Path) -> None:
    """On hao_patient_4 the report writer's tool gathers the findings of every step before it,
    and one step ran two tools: each prompt still lists every finding once."""
    bench = _script()
    config = load_team_config()
    case = load_case("hao_patient_4", request=bench.DEFAULT_REQUEST, data_dir=data_dir)
    ref = await bench.offline_reference(case, config, data_dir)
    client = bench.simulated_model(ref, config).client()
    team = bench.health_team(ref, config, client, data_dir=data_dir, ledger_dir=tmp_path)
    await team.run(task=case.request)
    assert team.last_result is not None and team.last_result.status == "completed"

    report = next(r for r in client.requests if "### report_export" in _user_text(r))
    lines = [line for line in _user_text(report).splitlines() if " <- [" in line]
    assert len(lines) > 60 and len(lines) == len(set(lines))
    assert "Findings listed above that this output also reports: " in _user_text(report)

    (synthesis,) = [r for r in client.requests if r.schema_name == "FinalAnswerModel"]
    listed = [
        json.dumps(f, sort_keys=True)
        for line in _user_text(synthesis).splitlines()
        if line.startswith('[{"claim"')
        for f in json.loads(line)
    ]
    assert len(listed) > 40 and len(listed) == len(set(listed))
    assert "(not repeating " in _user_text(synthesis)


def _user_text(request: ModelRequest) -> str:
    return str(request.messages[-1].content)


MODEL = SimulatedModel(
    specialists=(
        SimulatedSpecialist(name="Status", tools=("patient_status",), reply="status reply"),
        SimulatedSpecialist(name="Trials", tools=("clinical_trials",), reply="trials reply"),
    ),
    final_text="the summary",
)
TOOLS = {
    "patient_status": {
        "name": "patient_status",
        "parameters": {"type": "object", "properties": {"instruction": {"type": "string"}}},
    },
}


def _ledger(*speakers: str) -> dict[str, dict[str, object]]:
    messages = [AssistantMessage(content="ledger", source="MagenticOneOrchestrator")]
    messages += [UserMessage(content="report", source=s) for s in speakers]
    messages.append(UserMessage(content="progress?", source="MagenticOneOrchestrator"))
    answer = MODEL(ModelRequest(messages=tuple(messages), json_output=True))
    assert isinstance(answer, str)
    ledger: dict[str, dict[str, object]] = json.loads(answer)
    return ledger


def test_progress_ledger_walks_the_plan_then_declares_the_request_satisfied() -> None:
    first, second, done = _ledger(), _ledger("Status"), _ledger("Status", "Trials")
    assert first["next_speaker"]["answer"] == "Status"
    assert first["is_request_satisfied"]["answer"] is False
    assert second["next_speaker"]["answer"] == "Trials"
    assert done["is_request_satisfied"]["answer"] is True


def test_a_specialist_calls_its_tools_then_replies() -> None:
    ask = (SystemMessage(content="You are Status."), UserMessage(content="go", source="user"))
    calls = MODEL(ModelRequest(messages=ask, tools=(TOOLS["patient_status"],)))  # type: ignore[arg-type]
    assert isinstance(calls, list) and [c.name for c in calls] == ["patient_status"]
    result = FunctionExecutionResult(content="{}", name="patient_status", call_id=calls[0].id)
    follow = (
        *ask,
        AssistantMessage(content=list(calls), source="Status"),
        FunctionExecutionResultMessage(content=[result]),
    )
    assert MODEL(ModelRequest(messages=follow)) == "status reply"


def test_plain_calls_are_told_apart_by_the_conversation_shape() -> None:
    user = UserMessage(content="x", source="o")
    facts = MODEL(ModelRequest(messages=(user,)))
    plan = MODEL(ModelRequest(messages=(user, AssistantMessage(content="f", source="o"), user)))
    final = MODEL(ModelRequest(messages=(AssistantMessage(content="l", source="o"), user)))
    assert facts == MODEL.facts_text
    assert plan == MODEL.plan_text and "Status" in plan
    assert final == "the summary"


def test_a_specialist_without_tools_is_known_by_its_system_message() -> None:
    status = SimulatedSpecialist(
        name="Status", tools=("patient_status",), reply="status reply", system_message="be Status"
    )
    model = SimulatedModel(specialists=(status,), final_text="the summary")
    ask = (SystemMessage(content="be Status"), UserMessage(content="go", source="Orchestrator"))
    assert model(ModelRequest(messages=ask, json_output=True)) == "status reply"
    other = (SystemMessage(content="be someone"), UserMessage(content="go", source="o"))
    assert model(ModelRequest(messages=other)) == "the summary"
