"""Logs and spans of whole runs hold no patient text and no secret at default settings.

Every log line of an offline run and of a model-mode run (scripted model) is grepped for each
phrase of the case's documents, the findings' claims and quotes, and the API keys (set as
environment variables and handed to the logger as client configuration). ``--log-text`` lets
text in, secrets stay masked; AutoGen's event loggers stay silent; spans follow the GenAI
conventions without content.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import autogen_agentchat
import autogen_core
import pytest
from autogen_core.logging import LLMCallEvent
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import magentic_health as mh
from magentic_health.agents import ReplyContract
from magentic_health.case import Case
from magentic_health.cli import cli
from magentic_health.logs import (
    LogSubscriber,
    configure_logging,
    configure_tracing,
    get_logger,
    reset_logging,
    reset_tracing,
)
from magentic_health.models import ModelRequest, ScriptedModelClient
from magentic_health.planners.answers import FactsAnswer, FinalAnswerModel, PlanDecision, StepAnswer
from magentic_health.trace import (
    AgentReply,
    CheckpointEvent,
    ErrorEvent,
    Ledger,
    LedgerWriter,
    RunFinished,
    read_ledger,
    verify_ledger,
)

OPENAI_KEY = "sk-proj-SENTINELopenai0123456789abcdefXYZ"
AZURE_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # Azure keys: 32 hex digits
NOTE = "4a16150f-c95e-47cd-81a4-78511581d635"  # the HAO oncology note of 2021-03-20
STAGE = "T4N3M1a (IVA)"


@pytest.fixture(autouse=True)
def _keys_and_clean_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)
    monkeypatch.delenv("MAGENTIC_HEALTH_LOG_TEXT", raising=False)
    yield
    reset_tracing()
    reset_logging()


def phrases(text: str, minimum: int = 25) -> set[str]:
    """Sentences and clauses of ``text`` at least ``minimum`` characters long."""
    parts = re.split(r"[.\n;:!?]+", text)
    return {p.strip() for p in parts if len(p.strip()) >= minimum}


def patient_phrases(case: Case, ledger: Ledger) -> set[str]:
    found: set[str] = set()
    for doc in case.documents:
        found |= phrases(doc.text)
    for event in ledger.events:
        payload = event.payload()
        if isinstance(payload, AgentReply):
            for finding in payload.findings:
                found |= {finding.claim} if len(finding.claim) >= 15 else set()
                found |= {e.quote for e in finding.evidence if len(e.quote) >= 15}
    return found


def log_client_config() -> None:
    """What a backend might log about its client: every secret in it must be masked."""
    get_logger("magentic_health.events").info(
        "client_configured",
        profile="azure",
        api_key=OPENAI_KEY,
        endpoint=f"https://example.invalid/openai?api-key={AZURE_KEY}&x=1",
        headers={"Authorization": f"Bearer {OPENAI_KEY}", "api-key": AZURE_KEY},
        token="eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
    )
    logging.getLogger("openai").warning("Retrying with headers %s", {"api-key": AZURE_KEY})


def assert_clean(lines: list[str], forbidden: set[str]) -> None:
    leaked = sorted({p for p in forbidden for line in lines if p in line})
    assert not leaked, f"{len(leaked)} phrases leaked into logs, e.g. {leaked[:3]}"
    for secret in (OPENAI_KEY, AZURE_KEY, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIi"):
        assert not [line for line in lines if secret in line], secret


@pytest.mark.parametrize(("fmt", "level"), [("json", "info"), ("console", "debug")])
def test_an_offline_run_logs_no_patient_text_and_no_secret(
    tmp_path: Path, data_dir: Path, fmt: str, level: str
) -> None:
    buf = io.StringIO()
    configure_logging(fmt, level=level, stream=buf)  # type: ignore[arg-type]
    log_client_config()
    result = mh.run_case("hao_patient_4", data_dir=data_dir, out_dir=tmp_path)
    lines = buf.getvalue().splitlines()
    ledger = read_ledger(result.ledger_path)
    assert verify_ledger(ledger).ok
    case = mh.load_case("hao_patient_4", data_dir=data_dir)
    forbidden = patient_phrases(case, ledger) | {case.request}
    assert len(forbidden) > 50  # the check has teeth
    assert_clean(lines, forbidden)
    assert "[masked]" in buf.getvalue()
    if fmt == "json":
        events = [json.loads(line) for line in lines]  # every line is one JSON object
        by_type = {e["event"] for e in events if e["logger"] == "magentic_health.events"}
        assert {"run_started", "handoff", "checkpoint", "run_finished"} <= by_type
        finished = next(e for e in events if e["event"] == "run_finished")
        assert finished["status"] == result.status and "usage" in finished
        handoffs = [e for e in events if e["event"] == "handoff"]
        assert len(handoffs) == sum(1 for e in ledger.events if e.type == "handoff")
        assert all({"agent", "step", "attempt"} <= e.keys() for e in handoffs)
    else:
        assert any("hand-off to PatientStatus" in line for line in lines)


def scripted_answer(case: Case):  # type: ignore[no-untyped-def]
    """A stand-in model whose replies quote the case (and carry keys a model might echo)."""
    note = next(d for d in case.documents if d.id == NOTE)
    long_quote = max(phrases(note.text, 40), key=len)

    def answer(request: ModelRequest) -> object:
        match request.schema_name:
            case "PlanDecision":
                return PlanDecision(
                    complexity="moderate",
                    intents=["status", "history"],
                    selected=["PatientStatus", "PatientHistory"],
                    rationale="Stage and history.",
                    excluded=[],
                    facts=FactsAnswer(
                        given=["HAO patient 4"],
                        to_look_up=["stage"],
                        to_derive=[],
                        educated_guesses=[],
                    ),
                    plan=[
                        StepAnswer(
                            id="s1",
                            agent="PatientStatus",
                            critical=True,
                            depends_on=[],
                            instruction="State the current stage with its source.",
                        ),
                        StepAnswer(
                            id="s2",
                            agent="PatientHistory",
                            critical=True,
                            depends_on=[],
                            instruction="Summarise the history with sources.",
                        ),
                    ],
                )
            case "ReplyContract":
                return ReplyContract.model_validate(
                    {
                        "text": f"{long_quote}. Stage {STAGE}. (echoed key {OPENAI_KEY})",
                        "gaps": [],
                        "findings": [
                            {
                                "claim": long_quote,
                                "evidence": [{"doc_id": NOTE, "quote": long_quote}],
                            },
                            {
                                "claim": f"Stage {STAGE}",
                                "evidence": [{"doc_id": NOTE, "quote": STAGE}],
                            },
                        ],
                    }
                )
            case "FinalAnswerModel":
                return FinalAnswerModel(
                    text=f"The current stage is {STAGE}. {long_quote}.",
                    citations=[{"doc_id": NOTE, "quote": long_quote}],
                )
        raise ValueError(f"unexpected request for {request.schema_name!r}")

    return answer, long_quote


async def model_run(data_dir: Path, out: Path) -> tuple[mh.RunResult, Case, str]:
    case = mh.load_case("hao_patient_4", data_dir=data_dir)
    answer, long_quote = scripted_answer(case)
    team = mh.HealthTeam(
        mh.load_team_config(),
        data_dir=data_dir,
        ledger_dir=out,
        model_client=ScriptedModelClient(answer),
    )
    result = await team.run_case(
        case.with_request("What is the stage and the history?"), ledger_path=out / "run.jsonl"
    )
    return result, case, long_quote


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_a_model_run_logs_calls_and_tokens_but_no_text(
    tmp_path: Path, data_dir: Path
) -> None:
    buf = io.StringIO()
    configure_logging("json", stream=buf, level="debug")
    root = Collect()
    logging.getLogger().addHandler(root)
    try:
        log_client_config()
        result, case, long_quote = await model_run(data_dir, tmp_path)
    finally:
        logging.getLogger().removeHandler(root)
    assert result.status == "completed", result.reason
    ledger = read_ledger(result.ledger_path)
    lines = buf.getvalue().splitlines()
    assert_clean(lines, patient_phrases(case, ledger) | {long_quote, STAGE, case.request})
    events = [json.loads(line) for line in lines]
    calls = [e for e in events if e["event"] == "model_call"]
    assert len(calls) == sum(1 for e in ledger.events if e.type == "model_call") >= 4
    assert all(c["prompt_tokens"] > 0 and c["request_digest"].startswith("sha256:") for c in calls)
    assert {c["agent"] for c in calls} >= {"Orchestrator", "PatientStatus", "PatientHistory"}
    assert not [r for r in root.records if r.name.startswith(("autogen_core", "autogen_agentchat"))]


async def test_log_text_lets_text_in_but_keeps_secrets_masked(
    tmp_path: Path, data_dir: Path
) -> None:
    buf = io.StringIO()
    configure_logging("json", stream=buf, level="info", include_text=True)
    log_client_config()
    _, _, long_quote = await model_run(data_dir, tmp_path)
    text = buf.getvalue()
    assert long_quote in text  # the reply text is logged now
    assert "State the current stage with its source." in text  # and the instruction
    assert_clean(text.splitlines(), set())
    assert "(echoed key [masked])" in text


def test_the_environment_switch_turns_text_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAGENTIC_HEALTH_LOG_TEXT", "1")
    buf = io.StringIO()
    configure_logging("json", stream=buf)
    get_logger("magentic_health.events").info("x", text="the patient text", api_key=OPENAI_KEY)
    event = json.loads(buf.getvalue())
    assert event["text"] == "the patient text" and event["api_key"] == "[masked]"
    reset_logging()
    monkeypatch.delenv("MAGENTIC_HEALTH_LOG_TEXT")
    buf = io.StringIO()
    configure_logging("json", stream=buf)
    get_logger("magentic_health.events").info("x", text="the patient text")
    assert json.loads(buf.getvalue())["text"] == "[redacted: 16 chars]"


def test_autogen_event_loggers_emit_nothing_unless_asked() -> None:
    buf = io.StringIO()
    configure_logging("json", stream=buf, level="debug")
    root = Collect()
    logging.getLogger().addHandler(root)
    event = LLMCallEvent(
        messages=[{"role": "user", "content": "Patient has a right upper lobe mass"}],
        response={"content": "stage IVA"},
        prompt_tokens=10,
        completion_tokens=2,
    )
    try:
        for name in (autogen_core.EVENT_LOGGER_NAME, autogen_agentchat.EVENT_LOGGER_NAME):
            logger = logging.getLogger(name)
            # no propagation, nothing enabled (pytest's own capture handler may be attached)
            assert not logger.propagate and not logger.isEnabledFor(logging.CRITICAL)
            logger.info(event)
        logging.getLogger(autogen_core.TRACE_LOGGER_NAME).warning("trace %s", "x")
    finally:
        logging.getLogger().removeHandler(root)
    assert buf.getvalue() == "" and root.records == []

    configure_logging("json", stream=buf, level="debug", autogen_trace=True)
    logging.getLogger(autogen_core.EVENT_LOGGER_NAME).info(event)
    line = json.loads(buf.getvalue())
    assert line["event"] == "LLMCallEvent" and line["content"].startswith("[redacted:")
    assert "upper lobe" not in buf.getvalue()


@pytest.mark.parametrize("level", ["warning", "info"])
def test_at_warning_only_errors_and_failed_runs_are_logged(tmp_path: Path, level: str) -> None:
    """The subscriber skips events no enabled level would log, and no more than those."""
    buf = io.StringIO()
    configure_logging("json", stream=buf, level=level)
    writer = LedgerWriter(path=tmp_path / "run.jsonl", run_id="r1")
    writer.subscribe(LogSubscriber())
    with writer:
        writer.append(CheckpointEvent(name="grounding", passed=True), agent="A", step="s1")
        writer.append(ErrorEvent(message="tool crashed", kind="tool"), agent="A", step="s1")
        usage = {"total": {"prompt_tokens": 1, "completion_tokens": 1}}
        writer.append(RunFinished(status="completed", usage=usage, duration_ms=1.0))
        writer.append(RunFinished(status="failed", usage=usage, duration_ms=1.0))
    logged = [json.loads(line) for line in buf.getvalue().splitlines()]
    events = [(e["event"], e.get("status")) for e in logged if "seq" in e]
    expected = [("error", None), ("run_finished", "failed")]
    if level == "info":
        expected = [
            ("checkpoint", None),
            ("error", None),
            ("run_finished", "completed"),
            ("run_finished", "failed"),
        ]
    assert events == expected


def test_third_party_debug_logs_stay_off_even_at_debug() -> None:
    buf = io.StringIO()
    configure_logging("console", stream=buf, level="debug")
    logging.getLogger("openai._base_client").debug("Request options: %s", "right upper lobe")
    logging.getLogger("httpx").info("HTTP Request: POST https://x.invalid/?key=%s", AZURE_KEY)
    assert buf.getvalue() == ""
    logging.getLogger("httpx").warning("POST https://x.invalid/v1?api-key=%s failed", AZURE_KEY)
    assert "api-key=[masked]" in buf.getvalue() and AZURE_KEY not in buf.getvalue()


async def test_spans_per_handoff_and_model_call_follow_genai_conventions(
    tmp_path: Path, data_dir: Path
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    configure_tracing(provider)
    result, case, long_quote = await model_run(data_dir, tmp_path)
    ledger = read_ledger(result.ledger_path)
    spans = exporter.get_finished_spans()
    handoffs = [s for s in spans if s.name.startswith("invoke_agent ") and s.parent is not None]
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert len(handoffs) == sum(1 for e in ledger.events if e.type == "handoff") == 2
    assert len(chats) == sum(1 for e in ledger.events if e.type == "model_call") >= 4
    run = next(s for s in spans if s.parent is None)
    assert run.attributes is not None and run.attributes["magentic_health.status"] == "completed"
    for span in handoffs:
        attrs = dict(span.attributes or {})
        assert attrs["gen_ai.operation.name"] == "invoke_agent"
        assert attrs["gen_ai.agent.name"] in ("PatientStatus", "PatientHistory")
        assert span.parent is not None and span.parent.span_id == run.context.span_id
    by_id = {s.context.span_id: s for s in spans}
    for span in chats:
        attrs = dict(span.attributes or {})
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.usage.input_tokens"] > 0 and "gen_ai.usage.output_tokens" in attrs
        assert attrs["gen_ai.system"] and attrs["gen_ai.request.model"]
        if attrs["gen_ai.agent.name"] != "Orchestrator":  # a specialist's call: under its hand-off
            assert span.parent is not None
            parent = by_id[span.parent.span_id]
            assert parent.attributes is not None
            assert parent.attributes["gen_ai.agent.name"] == attrs["gen_ai.agent.name"]
    dumped = json.dumps(
        [dict(s.attributes or {}) for s in spans]
        + [[dict(e.attributes or {}) for e in s.events] for s in spans]
    )
    for phrase in patient_phrases(case, ledger) | {long_quote, OPENAI_KEY}:
        assert phrase not in dumped


def _run_stage(tmp_path: Path, data_dir: Path, *options: str) -> int:
    """``magentic-health run`` on hao_patient_4's stage question, quietly, with ``options``."""
    return cli(
        [
            "run",
            "hao_patient_4",
            "--quiet",
            "--data-dir",
            str(data_dir),
            "--out",
            str(tmp_path),
            "--request",
            "What is the current stage?",
            *options,
        ]
    )


def test_the_cli_writes_json_logs_to_a_file_and_leaves_logging_as_it_was(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "logs" / "run.jsonl"
    code = _run_stage(tmp_path, data_dir, "--log-file", str(log))
    assert code == 0
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert events[0]["event"] == "run_started" and events[-1]["event"] == "run_finished"
    assert "current stage" not in log.read_text(encoding="utf-8")
    assert logging.getLogger("magentic_health.events").handlers == []
    assert "run_started" not in capsys.readouterr().err


def test_a_bad_log_level_is_an_input_error() -> None:
    with pytest.raises(mh.InputError, match="--log-level"):
        configure_logging("json", level="loud")


def test_the_readme_logging_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- example: logs -->\n```python\n(.*?)```", text, re.DOTALL)
    assert found, "README has no logging example"
    monkeypatch.chdir(tmp_path)  # its ledger goes to ./ledgers
    exec(compile(found.group(1), "README.md", "exec"), {"__name__": "__readme__"})
    assert capsys.readouterr().out.strip() == "run_finished completed 0"


def test_secrets_are_masked_in_any_string_and_our_ids_are_kept() -> None:
    from magentic_health.logs import mask_secrets, redact_event

    line = (
        f"Authorization: Bearer {OPENAI_KEY} url=https://h.invalid/x?token=abc123&api_key=zz "
        f"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_nature-1 azure {AZURE_KEY}"
    )
    masked = mask_secrets(line)
    for secret in (OPENAI_KEY, "abc123", "api_key=zz", "eyJhbGciOiJIUzI1NiJ9", AZURE_KEY):
        assert secret not in masked
    event = redact_event(
        {"event": "x", "run_id": "ab" * 16, "claim": "stage IVA", "usage": {"prompt_tokens": 3}},
        include_text=False,
    )
    assert event["run_id"] == "ab" * 16 and event["usage"] == {"prompt_tokens": 3}
    assert event["claim"] == "[redacted: 9 chars]"


def test_otel_without_an_exporter_says_what_to_install(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib

    code = _run_stage(tmp_path, data_dir, "--otel")
    try:
        importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
        exporter = True
    except ImportError:
        exporter = False
    if not exporter:
        assert code == 2
        assert "opentelemetry-exporter-otlp" in capsys.readouterr().err
    else:
        assert code == 0
