"""Rerun and resume of runs that used a model backend, from the command line, against a
chat-completions server on 127.0.0.1: a rerun with no server asks nothing; a resumed run and a
``rerun --live-from`` open the recorded profile with ``open_backend`` and ask the server only
what the ledger does not hold. The server answers by who speaks (the system message) and what
is asked (the structured-output schema name)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from magentic_health.agents import ReplyContract
from magentic_health.cli import cli
from magentic_health.config import default_config_path, load_team_config
from magentic_health.planners.answers import (
    FactsAnswer,
    FinalAnswerModel,
    PlanDecision,
    ProgressAnswer,
    StepAnswer,
)
from magentic_health.rerun import compare_ledgers
from magentic_health.trace import LedgerEvent, read_ledger, verify_ledger
from tests._chat_wire import api_error, completion, schema_name, system_text
from tests._http_server import LocalServer, Recorded, Reply

CASE = "synthea_lung_nsclc"
PATIENT = "Patient/84afbe27-2a55-4f53-b1de-3513e21dae68"
QUOTE = "Gender: male"
TEAM = load_team_config(default_config_path())
INSTRUCTIONS = {a.instructions.strip(): a.name for a in TEAM.agents}
ORCHESTRATOR = TEAM.facilitator.name
SPECIALISTS = ("PatientStatus", "PatientHistory")

PLAN = PlanDecision(
    complexity="moderate",
    intents=["status", "history"],
    selected=list(SPECIALISTS),
    rationale="The status and the history answer the review's first questions.",
    excluded=[],
    facts=FactsAnswer(given=["a Synthea bundle"], to_look_up=["status", "history"],
                      to_derive=[], educated_guesses=[]),
    plan=[StepAnswer(id=f"s{i}", agent=agent, instruction=f"Summarise the {agent}.",
                     depends_on=[], critical=True) for i, agent in enumerate(SPECIALISTS, 1)],
)  # fmt: skip
REPLY = ReplyContract.model_validate(
    {
        "text": "The patient is male.",
        "findings": [
            {"claim": "The patient is male", "evidence": [{"doc_id": PATIENT, "quote": QUOTE}]}
        ],
        "gaps": [],
    }
)
FINAL = FinalAnswerModel(
    text="The record describes a male patient.", citations=[{"doc_id": PATIENT, "quote": QUOTE}]
)
PROGRESS = ProgressAnswer.model_validate(
    {
        "is_request_satisfied": {"answer": True, "reason": "both steps answered"},
        "is_in_loop": {"answer": False, "reason": "one wave"},
        "is_progress_being_made": {"answer": True, "reason": "both steps answered"},
        "next": {"answer": [], "reason": "nothing left"},
    }
)
ANSWERS = {"PlanDecision": PLAN, "ProgressAnswer": PROGRESS, "FinalAnswerModel": FINAL}


class Board:
    """Answers the orchestrator by the schema asked for and every specialist with ``REPLY``;
    the first ``fail_first`` requests get a 503 (retried by the client)."""

    def __init__(self, *, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self._count = 0
        self._lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        with self._lock:
            self._count += 1
            if self._count <= self.fail_first:
                return api_error(503)
        if speaker(request) != ORCHESTRATOR:
            return completion(REPLY.model_dump_json(), prompt_tokens=40, completion_tokens=10)
        name = schema_name(request)
        assert name is not None, "the local profile asks for structured output"
        return completion(ANSWERS[name].model_dump_json(), prompt_tokens=80, completion_tokens=20)


def speaker(request: Recorded) -> str:
    """The agent whose instructions open the request's system message."""
    system = system_text(request).strip()
    return next(name for text, name in INSTRUCTIONS.items() if system.startswith(text))


def asked(requests: list[Recorded]) -> list[tuple[str, str | None]]:
    """Who asked what, sorted (concurrent steps ask in any order)."""
    return sorted((speaker(r), schema_name(r)) for r in requests)


def models_file(folder: Path) -> Path:
    profile = {
        "kind": "openai-compatible",
        "model": "unused",
        "capabilities": {"structured_output": True},
        "retry": {"max_attempts": 2, "initial_wait_s": 0.01, "max_wait_s": 0.02},
    }
    path = folder / "models.yaml"
    path.write_text(yaml.safe_dump({"profiles": {"local": profile}}), encoding="utf-8")
    return path


def model_options(server: LocalServer, models: Path) -> list[str]:
    return ["--models", str(models), "--base-url", server.url + "/v1", "--model-name", "test"]


def events(path: str | Path) -> list[LedgerEvent]:
    return read_ledger(Path(path)).events


def model_calls(evs: list[LedgerEvent]) -> list[LedgerEvent]:
    return [e for e in evs if e.type == "model_call"]


def cut(source: Path, n: int, target: Path) -> Path:
    """``source``'s first ``n`` lines, as a kill between two writes leaves it."""
    lines = source.read_bytes().split(b"\n")[:n]
    target.write_bytes(b"".join(line + b"\n" for line in lines))
    return target


def cli_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    capsys.readouterr()
    code = cli(argv)
    out = capsys.readouterr()
    return code, json.loads(out.out) if out.out.strip() else None, out.err


@dataclass(frozen=True)
class ModelRun:
    """The recorded model run: its ledger, models file and what the server was asked."""

    ledger: Path
    models: Path
    asked: list[tuple[str, str | None]]
    final_text: str


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> ModelRun:
    folder = tmp_path_factory.mktemp("model-run")
    models = models_file(folder)
    with LocalServer(Board(fail_first=1)) as server:
        argv = ["run", CASE, "--model", "local", *model_options(server, models), "--quiet"]
        assert cli([*argv, "--out", str(folder / "ledgers"), "--format", "json"]) == 0
    (ledger,) = (folder / "ledgers").glob("*.jsonl")
    evs = events(ledger)
    assert evs[0].data["model_profile"] == "local (test)" and evs[-1].type == "run_finished"
    assert evs[-1].data["status"] == "completed"
    final = next(e for e in evs if e.type == "final").data["text"]
    # the first request got the 503
    return ModelRun(
        ledger=ledger, models=models, asked=asked(server.requests[1:]), final_text=final
    )


def test_the_recorded_run_names_the_model_of_each_call_and_kept_its_retry(
    recorded: ModelRun,
) -> None:
    evs = events(recorded.ledger)
    assert recorded.asked == sorted(
        [(ORCHESTRATOR, "PlanDecision"), (ORCHESTRATOR, "FinalAnswerModel")]
        + [(agent, "ReplyContract") for agent in SPECIALISTS]
    )
    assert [e.data["model"] for e in model_calls(evs)] == ["test"] * 4
    (retry,) = [e for e in evs if e.type == "model_retry"]
    assert (retry.agent, retry.data["status"]) == (ORCHESTRATOR, 503)


def test_a_model_run_reruns_with_no_server_reproduced(
    recorded: ModelRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "rerun.log.jsonl"
    argv = ["rerun", str(recorded.ledger), "--out", str(tmp_path), "--format", "json"]
    code, result, err = cli_json([*argv, "--log-file", str(log)], capsys)
    assert code == 0, result
    assert result["reproduced"] and result["differences"] == [] and result["divergence"] is None
    assert (result["served_model_calls"], result["live_model_calls"]) == (4, 0)
    assert result["final_text"] == recorded.final_text
    assert "model:" not in err  # no backend was opened
    new = events(result["ledger_path"])
    assert verify_ledger(Path(result["ledger_path"])).ok
    # the served calls name the recorded model; the retry is not replayed, and not missed
    assert [e.data["model"] for e in model_calls(new)] == ["test"] * 4
    assert not [e for e in new if e.type == "model_retry"]
    logged = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    calls = [e for e in logged if e["event"] == "model_call"]
    assert len(calls) == 4 and {c["model"] for c in calls} == {"test"}


def test_model_retry_events_are_left_out_of_the_comparison(recorded: ModelRun) -> None:
    evs = events(recorded.ledger)
    without = [e for e in evs if e.type != "model_retry"]
    assert len(without) == len(evs) - 1
    assert compare_ledgers(evs, without) == [] and compare_ledgers(without, evs) == []
    # what is not a retry still counts
    assert compare_ledgers(evs, [e for e in evs if e.type != "tool_result"]) != []


def test_a_crashed_model_run_resumes_on_the_recorded_profile_asking_only_the_rest(
    recorded: ModelRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full = events(recorded.ledger)
    second = model_calls(full)[2]  # the second specialist's call: the kill came before it
    assert second.agent in SPECIALISTS
    crashed = cut(recorded.ledger, second.seq, tmp_path / "crashed.jsonl")
    with LocalServer(Board()) as server:
        argv = ["run", "--resume", str(crashed), *model_options(server, recorded.models)]
        code, result, err = cli_json([*argv, "--format", "json"], capsys)
        assert code == 0, err
    assert "model: local (test) [the profile the run recorded]" in err
    # the served calls were not asked again: only the cut-off step and the final answer were
    assert asked(server.requests) == sorted(
        [(second.agent, "ReplyContract"), (ORCHESTRATOR, "FinalAnswerModel")]
    )
    resumed = result["resumed"]
    assert (resumed["served_model_calls"], resumed["live_model_calls"]) == (2, 2)
    assert result["status"] == "completed" and result["summary"] == recorded.final_text
    new = events(result["ledger"])
    parent = full[0].run_id
    assert new[0].data["parent_run"] == parent and new[0].run_id != parent
    assert verify_ledger(Path(result["ledger"])).ok
    # the uninterrupted run's ledger but for the parent (its retry is left out)
    assert [d.what for d in compare_ledgers(full, new)] == [
        f"run_started: data.parent_run: None != {parent!r}"
    ]


def test_live_from_a_seq_of_a_model_run_asks_the_server_from_there(
    recorded: ModelRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full = events(recorded.ledger)
    seq = model_calls(full)[1].seq  # the first specialist's call
    log = tmp_path / "live.log.jsonl"
    with LocalServer(Board()) as server:
        argv = ["rerun", str(recorded.ledger), "--live-from", str(seq), "--out", str(tmp_path)]
        argv += [*model_options(server, recorded.models), "--log-file", str(log)]
        code, result, err = cli_json([*argv, "--format", "json"], capsys)
        assert code == 0, err
    assert asked(server.requests) == sorted(
        [(ORCHESTRATOR, "FinalAnswerModel")] + [(agent, "ReplyContract") for agent in SPECIALISTS]
    )
    assert (result["served_model_calls"], result["live_model_calls"]) == (1, 3)
    assert result["status"] == "completed" and result["final_text"] == recorded.final_text
    new = events(result["ledger_path"])
    assert new[0].data["parent_run"] == full[0].run_id
    assert [e.data["model"] for e in model_calls(new)] == ["test"] * 4  # served and live
    logged = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [e["model"] for e in logged if e["event"] == "model_call"] == ["test"] * 4


def test_another_profile_may_continue_a_model_run(
    recorded: ModelRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = yaml.safe_load(recorded.models.read_text(encoding="utf-8"))
    other["profiles"]["second"] = other["profiles"]["local"]
    models = tmp_path / "two.yaml"
    models.write_text(yaml.safe_dump(other), encoding="utf-8")
    seq = model_calls(events(recorded.ledger))[-1].seq
    with LocalServer(Board()) as server:
        argv = ["rerun", str(recorded.ledger), "--live-from", str(seq), "--model", "second"]
        argv += [*model_options(server, models), "--out", str(tmp_path), "--format", "json"]
        code, result, err = cli_json(argv, capsys)
        assert code == 0, err
    assert "model: second (test) [--model second]" in err
    assert asked(server.requests) == [(ORCHESTRATOR, "FinalAnswerModel")]
    assert (result["served_model_calls"], result["live_model_calls"]) == (3, 1)


def test_a_change_of_engine_and_a_profile_that_cannot_be_found_are_refused(
    recorded: ModelRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crashed = str(cut(recorded.ledger, 6, tmp_path / "crashed.jsonl"))

    def refused(argv: list[str]) -> str:
        code, _, err = cli_json(argv, capsys)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1, err
        return lines[0]

    line = refused(["run", "--resume", crashed, "--model", "offline"])
    assert line == (
        "error: --model 'offline': the run used the model profile 'local (test)'; the offline "
        "engine cannot continue it (its plan and replies come from a model): leave --model out "
        "to continue on that profile, or name another model profile"
    )
    line = refused(["rerun", str(recorded.ledger), "--live-from", "3", "--model", "offline"])
    assert "the offline engine cannot continue it" in line
    line = refused(["run", "--resume", crashed])  # the default profiles have no "local"
    assert line.startswith(
        f"error: {crashed}: the run used the model profile 'local (test)', which is not in "
    )
    assert line.endswith(": pass --models FILE with a profile 'local', or --model PROFILE")
    line = refused(["rerun", str(recorded.ledger), "--model-name", "other"])
    assert line == "error: --model-name applies to the live part: give --live-from SEQ too"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crashed.jsonl"]  # nothing ran
