"""End to end through the command line, in process: one run per shared dataset, the three
team selections, and one clear line with exit code 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from magentic_health.cli import cli
from magentic_health.config import default_config_path
from magentic_health.trace import read_ledger, verify_ledger

REQUIRED_EVENTS = {
    "run_started",
    "triage",
    "task_ledger",
    "handoff",
    "agent_reply",
    "checkpoint",
    "progress_ledger",
    "final",
    "run_finished",
}
DATASETS = [
    "hao/patient_4",
    "synthea/Austin_Franecki_f23eef30-acb2-49da-8091-159b61dc1ed5.json",
    "synthea/Librada_Tromp_abf2707e-607b-4574-a8c2-432b213c7f0e.json",
    "synthea/Micah_Schinner_d4d72610-ec40-42ed-b34f-09e286181ee9.json",
    "synthea/Stevie_Cormier_7f4c7519-5b22-4855-812f-9e937c5a8d2f.json",
    "mcode/patient_data.json",
]


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = cli(["run", *args, "--format", "json", "--quiet"])
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.mark.parametrize("dataset", DATASETS)
def test_run_each_shared_dataset_end_to_end(
    dataset: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = run_json(capsys, str(data_dir / dataset), "--out", str(tmp_path))
    assert code == 0, result
    assert result["status"] == "completed", result["reason"]
    assert result["complexity"] == "high"
    assert "offline rule engine" in result["engine"]
    assert "offline rule engine" in result["summary"]
    assert "For research use only" in result["summary"]
    ledger = Path(result["ledger"])
    assert ledger.parent == tmp_path
    verification = verify_ledger(ledger)
    assert verification.ok, verification.reason
    events = read_ledger(ledger).events
    assert {e.type for e in events} >= REQUIRED_EVENTS
    # no checkpoint fails on a clean offline run of real data
    failed = [e.data for e in events if e.type == "checkpoint" and not e.data["passed"]]
    assert failed == []
    final = next(e for e in events if e.type == "final")
    assert final.data["text"] == result["summary"]
    assert final.data["citations"], "the summary cites its sources"


def test_three_requests_select_three_different_teams(
    hao_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    teams = {}
    for request in (
        "Prepare the tumor board review",
        "What is the current stage?",
        "Which clinical trials could this patient join?",
    ):
        code, result = run_json(capsys, str(hao_dir), "--request", request, "--out", str(tmp_path))
        assert code == 0
        teams[request] = (result["complexity"], tuple(result["selected"]))
    assert teams["What is the current stage?"] == ("low", ("PatientStatus",))
    assert teams["Which clinical trials could this patient join?"] == (
        "moderate",
        ("PatientStatus", "ClinicalTrials"),
    )
    complexity, selected = teams["Prepare the tumor board review"]
    assert complexity == "high" and len(selected) == 5 and "ReportCreation" in selected


def test_stage_question_answers_with_the_stage_and_its_source(
    hao_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = run_json(
        capsys, str(hao_dir), "--request", "What is the current stage?", "--out", str(tmp_path)
    )
    assert code == 0
    answer = result["summary"].split("## Answer", 1)[1]
    assert "T4N3M1a" in answer and "IVA" in answer
    assert "[4a16150f-c95e-47cd-81a4-78511581d635]" in answer or "[31bbcfb4" in answer


def test_text_output_prints_summary_and_ledger_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli(
        ["run", "hao_patient_4", "--out", str(tmp_path), "--request", "What is the current stage?"]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert "## Answer" in captured.out
    ledger_line = [line for line in captured.out.splitlines() if line.startswith("Ledger: ")]
    assert ledger_line and Path(ledger_line[0][8:]).is_file()
    # progress names the working agents on stderr, with no patient text
    assert "PatientStatus working" in captured.err
    assert "T4N3M1a" not in captured.err


def test_cases_lists_the_sample_cases(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["cases", "--format", "json"]) == 0
    names = {c["name"] for c in json.loads(capsys.readouterr().out)}
    assert "hao_patient_4" in names and len(names) >= 6


def test_replay_verifies_a_ledger_and_names_the_broken_seq(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, result = run_json(
        capsys, "hao_patient_4", "--request", "What is the current stage?", "--out", str(tmp_path)
    )
    ledger = Path(result["ledger"])
    assert cli(["replay", str(ledger)]) == 0
    captured = capsys.readouterr()
    assert "hash chain verified" in captured.err and "triage" in captured.out
    lines = ledger.read_text(encoding="utf-8").splitlines()
    event = json.loads(lines[3])
    event["data"]["tampered"] = True
    lines[3] = json.dumps(event)
    ledger.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert cli(["replay", str(ledger)]) == 2
    assert "chain broken at seq 3" in capsys.readouterr().err


def test_config_validate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli(["config", "validate", str(default_config_path())]) == 0
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("team: {name: x}\nagents: []\n", encoding="utf-8")
    assert cli(["config", "validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.yaml" in err


def _bad_input(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = cli(["run", *args, "--quiet"])
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_bad_inputs_give_one_line_and_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "no-such-folder" in _bad_input(capsys, str(tmp_path / "no-such-folder"))
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "resourceType": "Bundle",\n  "entry": [\n}', encoding="utf-8")
    line = _bad_input(capsys, str(broken))
    assert "broken.json" in line and "line 4" in line
    stu3 = tmp_path / "stu3.json"
    stu3.write_text(
        json.dumps(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [
                    {
                        "resource": {
                            "resourceType": "ProcedureRequest",
                            "id": "x",
                            "status": "active",
                        }
                    }
                ],
            }
        )
    )
    assert "FHIR" in _bad_input(capsys, str(stu3))
    empty = tmp_path / "empty_case"
    (empty / "clinical_notes").mkdir(parents=True)
    assert "no documents" in _bad_input(capsys, str(empty))
    assert "--model" in _bad_input(capsys, "hao_patient_4", "--model", "gpt-9")
    assert "--request" in _bad_input(capsys, "hao_patient_4", "--request", "  ")
    assert "--data-dir" in _bad_input(
        capsys, "hao_patient_4", "--data-dir", str(tmp_path / "nowhere")
    )


def test_an_unconfigured_model_backend_exits_3_naming_what_to_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    assert cli(["run", "hao_patient_4", "--model", "azure", "--quiet"]) == 3
    (line,) = capsys.readouterr().err.splitlines()
    assert "set AZURE_OPENAI_ENDPOINT or pass --base-url" in line


def test_export_writes_the_report_beside_the_ledger_in_each_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from html.parser import HTMLParser

    import docx

    code, result = run_json(
        capsys, "hao_patient_4", "--out", str(tmp_path), "--export", "md,html,docx"
    )
    assert code == 0
    exports = [Path(p) for p in result["exports"]]
    assert [p.suffix for p in exports] == [".md", ".html", ".docx"]
    stem = Path(result["ledger"]).name.removesuffix(".jsonl")
    assert all(p.parent == tmp_path and p.name.startswith(stem) for p in exports)
    markdown = exports[0].read_text(encoding="utf-8")
    assert "## Biomarkers" in markdown and "KRAS" in markdown
    HTMLParser().feed(exports[1].read_text(encoding="utf-8"))
    assert "offline rule engine" in exports[1].read_text(encoding="utf-8")
    text = "\n".join(p.text for p in docx.Document(str(exports[2])).paragraphs)
    assert "For research use only" in text and "p.G12C" in text


def test_export_without_a_report_says_how_to_get_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli(
        [
            "run",
            "hao_patient_4",
            "--quiet",
            "--out",
            str(tmp_path),
            "--request",
            "What is the current stage?",
            "--export",
            "html",
        ]
    )
    captured = capsys.readouterr()
    assert code == 2
    assert "Ledger: " in captured.out  # the run's result is still printed, its ledger kept
    assert "Prepare the tumor board review" in captured.err.strip().splitlines()[-1]
    assert "--export" in _bad_input(capsys, "hao_patient_4", "--export", "pdf")


def test_live_trials_flag_queries_the_configured_registry(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--live-trials turns the live search on; the registry here is a local server serving the
    real PALLAS record as a recruiting study, configured through tool_settings."""
    from tests._http_server import LocalServer, Reply

    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    study = json.loads((data_dir / "mcode" / "NCT02513394.json").read_text(encoding="utf-8"))
    study["protocolSection"]["statusModule"]["overallStatus"] = "RECRUITING"
    with LocalServer([Reply(json={"studies": [study], "nextPageToken": None})]) as server:
        config = tmp_path / "team.yaml"
        config.write_text(
            default_config_path().read_text(encoding="utf-8")
            + f"\ntool_settings:\n  clinical_trials:\n    api_base: {server.url}/api/v2\n",
            encoding="utf-8",
        )
        code, result = run_json(
            capsys,
            "mcode_breast",
            "--config",
            str(config),
            "--out",
            str(tmp_path),
            "--request",
            "Which clinical trials could this patient join?",
            "--live-trials",
        )
        offline_code, offline = run_json(
            capsys,
            "mcode_breast",
            "--config",
            str(config),
            "--out",
            str(tmp_path),
            "--request",
            "Which clinical trials could this patient join?",
        )
    assert code == 0 and offline_code == 0
    assert len(server.requests) == 1  # only the --live-trials run went to the registry
    assert server.requests[0].path.startswith("/api/v2/studies")
    assert "status: RECRUITING" in result["summary"]
    assert "status: ACTIVE_NOT_RECRUITING" in offline["summary"]
    assert "status: RECRUITING" not in offline["summary"]
