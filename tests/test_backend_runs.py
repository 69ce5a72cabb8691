"""Whole runs from the command line against a chat-completions server on 127.0.0.1 that answers
as a function of the request: who speaks (the system message) and what is asked (the schema
name of structured output; in JSON mode, the orchestrator's first call is its plan)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from magentic_health.agents import ReplyContract
from magentic_health.backends import validate_models
from magentic_health.cli import cli
from magentic_health.config import default_config_path, load_team_config
from magentic_health.planners.answers import (
    FactsAnswer,
    FinalAnswerModel,
    PlanDecision,
    ProgressAnswer,
    StepAnswer,
)
from magentic_health.trace import read_ledger, verify_ledger
from tests._chat_wire import api_error, completion, schema_name, system_text
from tests._http_server import LocalServer, Recorded, Reply

CASE = "synthea_lung_nsclc"
PATIENT = "Patient/84afbe27-2a55-4f53-b1de-3513e21dae68"
QUOTE = "Gender: male"
ORCHESTRATOR = load_team_config(default_config_path()).facilitator.instructions.strip()

PLAN = PlanDecision(
    complexity="low",
    intents=["status"],
    selected=["PatientStatus"],
    rationale="The patient's current status answers the review's first question.",
    excluded=[],
    facts=FactsAnswer(given=["a Synthea bundle"], to_look_up=["status"], to_derive=[],
                      educated_guesses=[]),
    plan=[StepAnswer(id="s1", agent="PatientStatus", instruction="Summarise the status.",
                     depends_on=[], critical=True)],
)  # fmt: skip
EVIDENCE = {"doc_id": PATIENT, "quote": QUOTE}
REPLY = ReplyContract.model_validate(
    {
        "text": "The patient is male.",
        "findings": [{"claim": "The patient is male", "evidence": [EVIDENCE]}],
        "gaps": [],
    }
)
FINAL = FinalAnswerModel(
    text="The record describes a male patient.", citations=[{"doc_id": PATIENT, "quote": QUOTE}]
)
PROGRESS = ProgressAnswer.model_validate(
    {
        "is_request_satisfied": {"answer": True, "reason": "nothing more can be done"},
        "is_in_loop": {"answer": False, "reason": "one wave"},
        "is_progress_being_made": {"answer": False, "reason": "the step failed"},
        "next": {"answer": [], "reason": "nothing left"},
    }
)


class TeamServer:
    """Answers the planner and the PatientStatus specialist; counts the orchestrator's calls."""

    def __init__(self, *, tokens: int = 100, specialist: Reply | None = None) -> None:
        self.tokens, self.specialist = tokens, specialist
        self.orchestrator_calls = 0
        self._lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        orchestrator = system_text(request).strip() == ORCHESTRATOR
        if not orchestrator:
            return self.specialist or self._reply(REPLY.model_dump_json())
        with self._lock:
            self.orchestrator_calls += 1
            first = self.orchestrator_calls == 1
        answers = {"PlanDecision": PLAN, "ProgressAnswer": PROGRESS, "FinalAnswerModel": FINAL}
        name = schema_name(request)
        answer = answers[name] if name else (PLAN if first else FINAL)  # JSON mode: by order
        return self._reply(answer.model_dump_json())

    def _reply(self, content: str) -> Reply:
        return completion(content, prompt_tokens=self.tokens, completion_tokens=self.tokens // 4)


def models_file(tmp_path: Path, **extra: Any) -> Path:
    profile = {
        "kind": "openai-compatible",
        "model": "unused",
        "capabilities": {"structured_output": True},
        "prices": {"per_tokens": 1000, "prompt": 0.5, "completion": 1.5, "currency": "EUR"},
        "retry": {"max_attempts": 2, "initial_wait_s": 0.01, "max_wait_s": 0.02},
        **extra,
    }
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump({"profiles": {"local": profile}}), encoding="utf-8")
    return path


def run(server: LocalServer, tmp_path: Path, *args: str) -> list[str]:
    base = ["run", CASE, "--base-url", server.url + "/v1", "--model-name", "test"]
    return [*base, "--out", str(tmp_path / "ledgers"), "--format", "json", *args]


def only_ledger(tmp_path: Path) -> Path:
    (path,) = (tmp_path / "ledgers").glob("*.jsonl")
    return path


def test_structured_output_run_completes_with_usage_and_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalServer(TeamServer()) as server:
        argv = run(server, tmp_path, "--model", "local", "--models", str(models_file(tmp_path)))
        assert cli(argv) == 0
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert result["status"] == "completed" and result["engine"] == "language-model planner (test)"
    assert "model: local (test) [--model local]" in out.err
    assert result["usage"]["total"] == {"prompt_tokens": 300, "completion_tokens": 75}
    assert result["usage"]["Orchestrator"] == {"prompt_tokens": 200, "completion_tokens": 50}
    # 0.5 EUR per 1k prompt tokens, 1.5 per 1k completion tokens
    assert result["cost"] == {
        "currency": "EUR",
        "per_agent": {"Orchestrator": 0.175, "PatientStatus": 0.0875},
        "total": 0.2625,
    }
    events = read_ledger(only_ledger(tmp_path)).events
    assert verify_ledger(only_ledger(tmp_path)).ok
    assert events[0].data["model_profile"] == "local (test)"
    assert [e.agent for e in events if e.type == "model_call"] == [
        "Orchestrator",
        "PatientStatus",
        "Orchestrator",
    ]
    assert [r.json()["response_format"]["json_schema"]["name"] for r in server.requests] == [
        "PlanDecision",
        "ReplyContract",
        "FinalAnswerModel",
    ]
    assert events[-1].data["cost"]["total"] == 0.2625


def test_the_default_openai_compatible_profile_needs_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local-secret")
    with LocalServer(TeamServer()) as server:
        assert cli(run(server, tmp_path, "--model", "openai-compatible")) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "completed" and result["cost"] is None
    first = server.requests[0]
    assert first.headers["authorization"] == "Bearer sk-local-secret"
    assert first.json()["response_format"] == {"type": "json_object"}  # JSON mode, no schema
    text = only_ledger(tmp_path).read_text(encoding="utf-8")
    assert "sk-local-secret" not in text and verify_ledger(only_ledger(tmp_path)).ok


def test_an_unauthorised_planner_ends_the_run_failed_with_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalServer(lambda r: api_error(401)) as server:
        argv = run(server, tmp_path, "--model", "local", "--models", str(models_file(tmp_path)))
        assert cli(argv) == 3
    (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
    assert line.startswith("error: --model local: the model backend refused the credentials")
    assert "check OPENAI_API_KEY" in line and "the ledger is kept" in line
    events = read_ledger(only_ledger(tmp_path)).events
    assert [e.type for e in events] == ["run_started", "error", "run_finished"]
    assert events[1].agent == "Orchestrator" and events[1].data["kind"] == "backend_error"
    assert events[-1].data["status"] == "failed"
    assert events[-1].data["reason"].startswith("model backend failed: --model local:")
    assert verify_ledger(only_ledger(tmp_path)).ok


def test_a_specialist_whose_backend_keeps_failing_fails_its_step_not_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    team = TeamServer(specialist=api_error(503))
    with LocalServer(team) as server:
        argv = run(server, tmp_path, "--model", "local", "--models", str(models_file(tmp_path)))
        assert cli(argv) == 1  # no step succeeded: the run failed, with its summary
    assert json.loads(capsys.readouterr().out)["status"] == "failed"
    events = read_ledger(only_ledger(tmp_path)).events
    retries = [e for e in events if e.type == "model_retry"]
    assert {(e.agent, e.step, e.data["status"]) for e in retries} == {("PatientStatus", "s1", 503)}
    errors = [e for e in events if e.type == "error"]
    assert errors and all(e.agent == "PatientStatus" and e.step == "s1" for e in errors)
    assert events[-1].type == "run_finished" and verify_ledger(only_ledger(tmp_path)).ok


def test_the_token_budget_ends_a_model_run_as_partial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = yaml.safe_load(default_config_path().read_text(encoding="utf-8"))
    config["team"]["limits"]["max_total_tokens"] = 1000
    small = tmp_path / "small.yaml"
    small.write_text(yaml.safe_dump(config), encoding="utf-8")
    with LocalServer(TeamServer(tokens=800)) as server:
        argv = run(server, tmp_path, "--model", "local", "--models", str(models_file(tmp_path)))
        assert cli([*argv, "--config", str(small)]) == 4
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "partial" and "max_total_tokens=1000" in result["reason"]
    assert verify_ledger(only_ledger(tmp_path)).ok


def test_replay_answers_a_run_from_its_ledger_without_a_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalServer(TeamServer()) as server:
        argv = run(server, tmp_path, "--model", "local", "--models", str(models_file(tmp_path)))
        assert cli(argv) == 0
    first = json.loads(capsys.readouterr().out)
    again = ["run", CASE, "--model", "replay", "--ledger", first["ledger"], "--format", "json"]
    assert cli([*again, "--out", str(tmp_path / "replayed")]) == 0
    replayed = json.loads(capsys.readouterr().out)
    assert replayed["status"] == "completed" and replayed["summary"] == first["summary"]
    (path,) = (tmp_path / "replayed").glob("*.jsonl")
    started = read_ledger(path).events[0].data["model_profile"]
    assert started.startswith("replay (") and started.endswith("recorded with local (test))")


def test_the_readme_override_example_is_a_valid_profile() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("**Per-agent overrides**", 1)[1].split("```yaml\n", 1)[1]
    data = yaml.safe_load(block.split("```", 1)[0])
    profile = validate_models(data, source="README.md").profiles["azure"]
    assert profile.agents["Orchestrator"].deployment == "gpt-4o"
