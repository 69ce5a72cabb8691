"""The checkpoints one by one: what each catches and what it lets through (dates in any
common format, numbers in a quote's passage, documented disagreements, reported plans), the
model judge with a scripted model, and custom checkpoints from a configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from magentic_health.agents import ReplyContract
from magentic_health.case import Case, Document, Patient
from magentic_health.checkpoints import (
    CheckContext,
    ConsistencyCheckpoint,
    GroundingCheckpoint,
    RoleScopeCheckpoint,
    Verdict,
    conflict_topics,
    get_checkpoint,
)
from magentic_health.cli import cli
from magentic_health.config import AgentConfig, TeamConfig, load_team_config
from magentic_health.errors import ConfigError
from magentic_health.models import ModelRequest, Reply, ScriptedModelClient
from magentic_health.planners.answers import (
    BoolItem,
    FactsAnswer,
    FinalAnswerModel,
    NextItem,
    PlanDecision,
    ProgressAnswer,
    StepAnswer,
)
from magentic_health.reply import Evidence, Finding, SpecialistReply
from magentic_health.team import HealthTeam
from magentic_health.trace import read_ledger
from tests._factories import synthetic_case

NOTE = (
    "Oncology progress note. PET/CT 2021-02-01: 4.1 cm left lung mass, SUV 12.4.\n"
    "Assessment: adenocarcinoma, stage IVA (T4N3M1a). PD-L1 80% (22C3). ECOG 1. Gleason 4+3.\n"
    "Seen on March 4, 2021 and again 03/18/2021. Plan: will start pembrolizumab."
)


def _case() -> Case:
    docs = (
        Document(id="n1", date="2021-03-20", kind="note", type="Note", text=NOTE, source="t"),
        Document(
            id="Observation/ecog",
            date="2019-04-01",
            kind="fhir",
            type="Observation",
            text="Observation: LOINC 89247-1\nEffective: 2019-04-01\nValue: 3",
            source="t",
        ),
        Document(
            id="Patient/p1", kind="fhir", type="Patient", text="Birth date: 1962-05-01", source="t"
        ),
    )
    return Case(
        case_id="c", request="r", patient=Patient(id="p1"), documents=docs, source="synthetic"
    )


def _reply(*claims: tuple[str, str, str], agent: str = "A", text: str = "ok") -> SpecialistReply:
    findings = tuple(
        Finding(claim=c, evidence=(Evidence(doc_id=d, quote=q),)) for c, d, q in claims
    )
    return SpecialistReply(agent=agent, text=text, findings=findings)


def _ground(*claims: tuple[str, str, str]) -> Verdict:
    return GroundingCheckpoint().verify(_reply(*claims), CheckContext(case=_case(), agent=None))


@pytest.mark.parametrize(
    "claim",
    [
        "Stage T4N3M1a (IVA)",  # the quote's own token
        "PD-L1 80%, ECOG 1",  # marker names are names; values are in the passage
        "Stated 2021-03-20: stage IVA",  # the document's own date (not in the quote)
        "Stated 03/20/2021: stage IVA",  # the same date, US format
        "Stated March 20, 2021: stage IVA",  # the same date, in words
        "2021-02-01 PET/CT: stage IVA",  # the date heading the passage
    ],
)
def test_grounding_accepts_numbers_and_dates_its_evidence_holds(claim: str) -> None:
    verdict = _ground((claim, "n1", "stage IVA (T4N3M1a)"))
    assert verdict.passed, verdict.failures


def test_grounding_accepts_a_dated_visit_in_any_format_and_a_rounded_value() -> None:
    assert _ground(("Seen 2021-03-04", "n1", "Seen on March 4, 2021")).passed
    assert _ground(("Seen on March 18, 2021", "n1", "again 03/18/2021")).passed
    assert _ground(("SUV 12", "n1", "SUV 12.4")).failures  # 12 is not 12.4
    assert _ground(("mass 4.10 cm", "n1", "4.1 cm left lung mass")).passed


def test_grounding_reads_a_whole_structured_record_and_derives_ages_from_birth_dates() -> None:
    assert _ground(("ECOG performance status: 3", "Observation/ecog", "LOINC 89247-1")).passed
    assert _ground(("Age: 58", "Patient/p1", "Birth date: 1962-05-01")).passed
    assert not _ground(("Age: 71", "Patient/p1", "Birth date: 1962-05-01")).passed


@pytest.mark.parametrize(
    ("claim", "quote", "expected"),
    [
        ("ECOG 2", "ECOG 1", "the number '2'"),
        ("Gleason 3+5", "Gleason 4+3", "the number '5'"),
        ("Stage T2N0M0", "stage IVA (T4N3M1a)", "'t2n0m0'"),
        ("PD-L1 50%", "PD-L1 80% (22C3)", "the number '50'"),
        ("Seen 2021-03-05", "Seen on March 4, 2021", "the date 2021-03-05"),
        ("Seen 1999-03-04: stage IVA", "stage IVA (T4N3M1a)", "the date 1999-03-04"),
    ],
)
def test_grounding_catches_a_changed_number_or_date(claim: str, quote: str, expected: str) -> None:
    verdict = _ground((claim, "n1", quote))
    assert not verdict.passed and expected in verdict.failures[0]


def test_grounding_catches_invented_quotes_and_unknown_documents() -> None:
    verdict = _ground(("x", "n1", "complete remission"), ("y", "n9", "ECOG 1"))
    assert len(verdict.failures) == 2
    assert "does not occur in 'n1'" in verdict.failures[0]
    assert "'n9', which is not a document" in verdict.failures[1]


def _consistency(reply: SpecialistReply, *prior: SpecialistReply) -> Verdict:
    ctx = CheckContext(
        case=_case(), agent=None, prior={f"s{i}": r for i, r in enumerate(prior, start=1)}
    )
    return ConsistencyCheckpoint().verify(reply, ctx)


STATUS = _reply(
    ("Stage group: IVA", "n1", "stage IVA"),
    ("Histology: adenocarcinoma", "n1", "adenocarcinoma"),
    ("PD-L1 80%", "n1", "PD-L1 80%"),
    ("2021-02-01: PET/CT left lung mass", "n1", "PET/CT 2021-02-01"),
    agent="PatientStatus",
)


@pytest.mark.parametrize(
    ("claim", "topic"),
    [
        ("Stage-specific guidance for stage IIB", "the stage group"),
        ("Histology: squamous cell carcinoma", "the histology"),
        ("PD-L1 negative", "the PD-L1 status"),
        ("2021-02-09: PET/CT left lung mass", "the date of"),
    ],
)
def test_consistency_flags_a_contradiction_of_an_earlier_agent(claim: str, topic: str) -> None:
    verdict = _consistency(_reply((claim, "n1", "stage IVA"), agent="Guidelines"), STATUS)
    assert not verdict.passed
    assert f"conflicts with PatientStatus on {topic}" in verdict.failures[0]
    assert conflict_topics(verdict.failures)[0].startswith(f"PatientStatus on {topic}")
    assert claim not in conflict_topics(verdict.failures)[0]  # never repeats the rejected value


def test_consistency_accepts_restatements_less_specific_forms_and_documented_versions() -> None:
    history = _reply(("Stage II per the 2020 note", "n1", "stage IVA"), agent="History")
    same = _reply(
        ("Selected for stage IV", "n1", "stage IVA"),  # less specific, same stage
        ("Stage II per the 2020 note", "n1", "stage IVA"),  # a version an earlier agent gave
        ("Adenocarcinoma, PD-L1 80%", "n1", "adenocarcinoma"),
        agent="Report",
    )
    assert _consistency(same, STATUS, history).passed
    assert _consistency(STATUS).passed  # nothing earlier: nothing to contradict


def _scope(reply: SpecialistReply, tools: tuple[str, ...] = ("radiology",)) -> Verdict:
    agent = AgentConfig(name="R", description="d", instructions="i", tools=tools)
    return RoleScopeCheckpoint().verify(reply, CheckContext(case=_case(), agent=agent))


@pytest.mark.parametrize(
    "text",
    [
        "Start cisplatin 75 mg/m2 on day 1.",
        "- Administer pembrolizumab every 3 weeks.",
        "The patient should be started on osimertinib.",
        "We prescribe ondansetron for nausea.",
        "Please order carboplatin AUC 5, 500 mg.",
    ],
)
def test_scope_catches_treatment_orders(text: str) -> None:
    verdict = _scope(_reply(("ECOG 1", "n1", "ECOG 1"), text=f"Summary.\n{text}"))
    assert not verdict.passed and "treatment order" in verdict.failures[0]


@pytest.mark.parametrize(
    "text",
    [
        "The board may consider pembrolizumab; the guideline describes it as an option.",
        "Plan: will start pembrolizumab.",  # what the note says, copied from it
        '> Patients should receive docetaxel.\n- Criterion: "Must start therapy within 28 days"',
        "2021-03-22: Keytruda administered. Started carboplatin on 2024-02-01.",
    ],
)
def test_scope_lets_options_quotes_and_reported_history_through(text: str) -> None:
    verdict = _scope(_reply(("ECOG 1", "n1", "ECOG 1"), text=text))
    assert verdict.passed, verdict.failures


def test_scope_catches_tools_outside_the_role() -> None:
    reply = _reply(("ECOG 1", "n1", "ECOG 1")).model_copy(
        update={"tools_used": ("radiology", "clinical_trials")}
    )
    verdict = _scope(reply)
    assert verdict.failures == (
        "used tool 'clinical_trials', which is not among R's tools (radiology)",
    )


# -- the model judge ----------------------------------------------------------------------

ONCO = "note-1"


def _answer(judge: bool) -> object:
    def answer(request: ModelRequest) -> Reply:
        match request.schema_name:
            case "PlanDecision":
                return PlanDecision(
                    complexity="low",
                    intents=["status"],
                    selected=["PatientStatus"],
                    rationale="status only",
                    excluded=[],
                    facts=FactsAnswer(
                        given=["x"], to_look_up=[], to_derive=[], educated_guesses=[]
                    ),
                    plan=[
                        StepAnswer(
                            id="s1",
                            agent="PatientStatus",
                            critical=True,
                            depends_on=[],
                            instruction="State the stage.",
                        )
                    ],
                )
            case "ReplyContract":
                return ReplyContract.model_validate(
                    {
                        "text": "Stage IIIB (T3N2M0).",
                        "gaps": [],
                        "findings": [
                            {
                                "claim": "Stage IIIB (T3N2M0)",
                                "evidence": [{"doc_id": ONCO, "quote": "stage IIIB (T3N2M0)"}],
                            }
                        ],
                    }
                )
            case "JudgeVerdict":
                return (
                    '{"supported": true, "problems": []}'
                    if judge
                    else '{"supported": false, "problems": ["claim 0: the stage is not stated"]}'
                )
            case "ProgressAnswer":  # after the failed step: nothing more to run
                done = BoolItem(answer=True, reason="the only step has ended")
                no = BoolItem(answer=False, reason="one wave")
                return ProgressAnswer(
                    is_request_satisfied=done,
                    is_in_loop=no,
                    is_progress_being_made=no,
                    next=NextItem(answer=[], reason="nothing left"),
                )
            case "FinalAnswerModel":
                return FinalAnswerModel(
                    text="Stage IIIB.",
                    citations=[{"doc_id": ONCO, "quote": "stage IIIB (T3N2M0)"}],
                )
        raise AssertionError(request.schema_name)

    return answer


def _with_judge(config: TeamConfig) -> TeamConfig:
    agents = tuple(
        a.model_copy(update={"checkpoints": (*a.checkpoints, "judge")})
        if a.name == "PatientStatus"
        else a
        for a in config.agents
    )
    return config.model_copy(update={"agents": agents})


@pytest.mark.parametrize("supported", [True, False])
async def test_the_model_judge_runs_in_model_mode_and_its_verdict_counts(
    tmp_path: Path, supported: bool
) -> None:
    client = ScriptedModelClient(_answer(supported))  # type: ignore[arg-type]
    team = HealthTeam(_with_judge(load_team_config()), data_dir=tmp_path, model_client=client)
    result = await team.run_case(
        synthetic_case("What is the current stage?"), ledger_path=tmp_path / "l.jsonl"
    )
    events = list(read_ledger(tmp_path / "l.jsonl").events)
    judged = [e.data for e in events if e.type == "checkpoint" and e.data["name"] == "judge"]
    calls = [r for r in client.requests if r.schema_name == "JudgeVerdict"]
    if supported:
        assert [j["passed"] for j in judged] == [True] and len(calls) == 1
        assert result.status == "completed"
    else:  # judged twice (the retry too), then the step fails
        assert [j["passed"] for j in judged] == [False, False] and len(calls) == 2
        assert judged[0]["failures"] == ["judge: claim 0: the stage is not stated"]
        assert result.status == "failed"
    assert any(e.type == "model_call" and e.agent == "Orchestrator" for e in events)


async def test_the_model_judge_is_skipped_on_the_offline_engine(tmp_path: Path) -> None:
    team = HealthTeam(_with_judge(load_team_config()), data_dir=tmp_path)
    result = await team.run_case(
        synthetic_case("What is the current stage?"), ledger_path=tmp_path / "l.jsonl"
    )
    names = {
        e.data["name"] for e in read_ledger(tmp_path / "l.jsonl").events if e.type == "checkpoint"
    }
    assert "judge" not in names and "grounding" in names
    assert result.status == "completed"


# -- custom checkpoints -------------------------------------------------------------------


class NoUncertaintyCheckpoint:
    """A custom checkpoint, as a configuration would name it by import path."""

    name = "no_uncertainty"

    def verify(self, reply: SpecialistReply, ctx: CheckContext) -> Verdict:
        hedged = [f.claim for f in reply.findings if "possibly" in f.claim.lower()]
        return Verdict(name=self.name, passed=not hedged, failures=tuple(hedged))


CUSTOM = "tests.test_checkpoints:NoUncertaintyCheckpoint"


def _config_with(tmp_path: Path, entry: str) -> Path:
    shipped = Path(__file__).parents[1] / "configs" / "tumor_board.yaml"
    text = shipped.read_text(encoding="utf-8")
    old = "    tools: [radiology]\n    checkpoints: [contract, grounding, consistency, scope]\n"
    assert text.count(old) == 1
    new = old.replace("scope]", f"scope, {entry!r}]")
    path = tmp_path / "team.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_a_custom_checkpoint_is_loaded_by_import_path_and_run(tmp_path: Path) -> None:
    config = load_team_config(_config_with(tmp_path, CUSTOM))
    radiology = config.agent("Radiology")
    assert radiology is not None and radiology.checkpoints[-1] == CUSTOM
    checkpoint = get_checkpoint(CUSTOM)
    verdict = checkpoint.verify(
        _reply(("possibly a mass", "n1", "mass")), CheckContext(case=_case(), agent=radiology)
    )
    assert isinstance(verdict, Verdict) and verdict.failures == ("possibly a mass",)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("tests.no_such_module:Check", "cannot import 'tests.no_such_module'"),
        ("tests.test_checkpoints:Missing", "'tests.test_checkpoints' has no 'Missing'"),
        ("tests.test_checkpoints:CUSTOM", "not a checkpoint class"),
        ("tests.test_checkpoints:", "write it as 'package.module:ClassName'"),
        ("numbers", "unknown checkpoint 'numbers'; known checkpoints: contract, grounding"),
    ],
)
def test_a_bad_checkpoint_entry_is_one_config_error_line(
    tmp_path: Path, entry: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config_with(tmp_path, entry)
    with pytest.raises(ConfigError) as info:
        load_team_config(path)
    message = str(info.value)
    assert "\n" not in message and problem in message
    assert message.startswith(f"{path}:") and "agents[3].checkpoints[4]" in message
    assert cli(["config", "validate", str(path)]) == 2
    assert problem in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"supported": "true", "problems": []}', "a boolean must be JSON true or false"),
        ('{"supported": true}\n{"supported": false}', "found 2 JSON objects"),
        ("Looks fine to me.", "no JSON object found"),
    ],
)
async def test_a_judge_answer_that_cannot_be_read_fails_the_checkpoint(
    content: str, expected: str
) -> None:
    from magentic_health.checkpoints.judge import ModelJudgeCheckpoint

    reply = SpecialistReply(
        agent="PatientStatus",
        text="Stage IIIB.",
        findings=(
            Finding(
                claim="Stage IIIB (T3N2M0)",
                evidence=(Evidence(doc_id="note-1", quote="stage IIIB (T3N2M0)"),),
            ),
        ),
    )
    client = ScriptedModelClient(lambda _request: content)
    ctx = CheckContext(case=synthetic_case(), agent=None, model_client=client)
    verdict = await ModelJudgeCheckpoint().verify(reply, ctx)
    assert not verdict.passed
    assert expected in verdict.failures[0]
    assert "could not be read" in verdict.failures[0]
