"""Injected faults on real sample cases: each is caught at its checkpoint, retried once,
recorded in the ledger, and absent from the final summary and its citations; clean offline
runs of every sample case have no failing checkpoint at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from magentic_health.agents import ToolAgent
from magentic_health.case import load_case
from magentic_health.config import load_team_config
from magentic_health.team import HealthTeam, RunResult
from magentic_health.trace import LedgerEvent, read_ledger, verify_ledger
from tests._faults import CATCHES, FaultKind, FaultySpecialist

TUMOR_BOARD = "Prepare the tumor board review"
TRIALS = "Which clinical trials could this patient join?"
STAGE = "What is the current stage?"
IMAGING = "@Radiology what changed?"
SAMPLE_CASES = sorted(p.stem for p in (Path(__file__).parents[1] / "cases").glob("*.yaml"))

FAULTS: list[tuple[FaultKind, str, str, str]] = [
    ("invent_quote", "PatientStatus", "hao_patient_4", TUMOR_BOARD),
    ("invent_quote", "Radiology", "hao_patient_4", TUMOR_BOARD),
    ("invent_quote", "PatientHistory", "synthea_colon", TUMOR_BOARD),
    ("invent_quote", "ClinicalTrials", "mcode_breast", TUMOR_BOARD),
    ("missing_document", "PatientHistory", "hao_patient_4", TUMOR_BOARD),
    ("missing_document", "ClinicalGuidelines", "synthea_lung_nsclc", TUMOR_BOARD),
    ("missing_document", "ReportCreation", "synthea_prostate", TUMOR_BOARD),
    ("change_number", "PatientStatus", "hao_patient_4", STAGE),
    ("change_number", "Radiology", "hao_patient_4", TUMOR_BOARD),
    ("change_number", "PatientStatus", "synthea_prostate", TUMOR_BOARD),
    ("change_number", "ReportCreation", "mcode_breast", TUMOR_BOARD),
    ("change_date", "PatientHistory", "hao_patient_4", TUMOR_BOARD),
    ("change_date", "Radiology", "hao_patient_4", IMAGING),
    ("change_date", "PatientHistory", "synthea_colon_metastatic", TUMOR_BOARD),
    ("change_date", "ReportCreation", "synthea_lung_nsclc", TUMOR_BOARD),
    ("contradict", "ClinicalGuidelines", "hao_patient_4", TUMOR_BOARD),
    ("contradict", "ClinicalTrials", "mcode_breast", TRIALS),
    ("contradict", "ReportCreation", "synthea_lung_nsclc", TUMOR_BOARD),
    ("contradict", "ClinicalGuidelines", "mcode_breast", TUMOR_BOARD),
    ("foreign_tool", "PatientStatus", "mcode_breast", TUMOR_BOARD),
    ("foreign_tool", "ClinicalTrials", "hao_patient_4", TRIALS),
    ("treatment_order", "ClinicalGuidelines", "hao_patient_4", TUMOR_BOARD),
    ("treatment_order", "ReportCreation", "synthea_colon", TUMOR_BOARD),
    ("treatment_order", "PatientStatus", "synthea_colon_metastatic", STAGE),
]


async def _run(
    tmp_path: Path, data_dir: Path, case_name: str, request: str, faulty: FaultySpecialist | None
) -> RunResult:
    config = load_team_config()
    specialists = {a.name: ToolAgent(a) for a in config.specialists}
    if faulty is not None:
        specialists[faulty.name] = faulty  # type: ignore[assignment]
    team = HealthTeam(config, data_dir=data_dir, specialists=specialists)
    case = load_case(case_name, request=request, data_dir=data_dir)
    return await team.run_case(case, ledger_path=tmp_path / f"{case_name}.jsonl")


def _checkpoints(events: list[LedgerEvent], agent: str | None = None) -> list[LedgerEvent]:
    return [e for e in events if e.type == "checkpoint" and agent in (None, e.agent)]


@pytest.mark.parametrize(
    ("kind", "agent", "case_name", "request_text"),
    FAULTS,
    ids=[f"{k}-{a}-{c}" for k, a, c, _ in FAULTS],
)
async def test_an_injected_fault_is_caught_recorded_and_kept_out_of_the_summary(
    tmp_path: Path, data_dir: Path, kind: FaultKind, agent: str, case_name: str, request_text: str
) -> None:
    config = load_team_config()
    agent_config = config.agent(agent)
    assert agent_config is not None
    faulty = FaultySpecialist(ToolAgent(agent_config), kind, own_tools=agent_config.tools)
    result = await _run(tmp_path, data_dir, case_name, request_text, faulty)
    assert faulty.markers, "the fault was never injected: the agent did not run"

    # recorded: a chain that verifies, with the failed verdict of the expected checkpoint on
    # both attempts, the retry's hand-off listing the failures, and the step's failure
    assert verify_ledger(result.ledger_path).ok
    events = list(read_ledger(result.ledger_path).events)
    failed = [e for e in _checkpoints(events, agent) if not e.data["passed"]]
    caught = [e for e in failed if e.data["name"] == CATCHES[kind]]
    assert [e.data["attempt"] for e in caught] == [1, 2], [e.data for e in failed]
    retry = [
        e for e in events if e.type == "handoff" and e.agent == agent and e.data["attempt"] == 2
    ]
    assert len(retry) == 1 and "Fix these checkpoint failures" in retry[0].data["instruction"]
    assert any(g.startswith("Step ") and f"({agent}) failed" in g for g in result.gaps)
    assert result.status == ("failed" if result.selected == (agent,) else "partial")

    # absent: no faulty content in the final summary, its citations, or the run's gaps
    final = next(e for e in events if e.type == "final")
    cited = [f"{c.doc_id} {c.quote}" for c in result.citations]
    for marker in set(faulty.markers):
        assert marker not in result.final_text and marker not in final.data["text"]
        assert not any(marker in c for c in cited)
        assert not any(marker in g for g in result.gaps)
    if kind == "contradict":  # the flagged conflict is listed, by agents and attribute
        assert f"Conflict: {agent} disagreed with" in result.final_text


def test_the_suite_covers_every_fault_kind_with_at_least_twenty_faults() -> None:
    assert len(FAULTS) >= 20
    assert {k for k, *_ in FAULTS} == set(CATCHES)


CLEAN_RUNS = [(c, r) for c in SAMPLE_CASES for r in (TUMOR_BOARD, STAGE, TRIALS, IMAGING)]


@pytest.mark.parametrize(("case_name", "request_text"), CLEAN_RUNS)
async def test_clean_offline_runs_have_no_failing_checkpoint(
    tmp_path: Path, data_dir: Path, case_name: str, request_text: str
) -> None:
    result = await _run(tmp_path, data_dir, case_name, request_text, None)
    events = list(read_ledger(result.ledger_path).events)
    verdicts = _checkpoints(events)
    assert verdicts and all(e.data["passed"] for e in verdicts), [
        (e.agent, e.data) for e in verdicts if not e.data["passed"]
    ]
    names = {e.data["name"] for e in verdicts}
    assert {"contract", "grounding", "consistency", "scope", "final_grounding"} <= names
    assert result.status == "completed"
