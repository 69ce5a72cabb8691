"""Model backends against a real chat-completions server on 127.0.0.1 that injects faults.

First the server itself, through the ``openai`` SDK: it answers like an endpoint and fails like
one. Then the fault suite: each test is a whole run of a sample case through the command line
(``run CASE --model openai-compatible --base-url ... --model-name ...``) with one fault, and
asserts that the run completes (transient faults are retried, each retry a ``model_retry``
event; wrong content is corrected by the team) or ends with exit 3 and one line naming the
problem (refused credentials, a missing model, an over-long request, a backend that never
recovers); and that its ledger verifies with nothing lost: contiguous ``seq``, one
``model_call`` per answer the client accepted, every token accounted for, ``run_finished``
last. The Azure path runs against the same server with a stub Entra ID credential.

Waits are tiny (a models file with a 2 s timeout and millisecond backoff): no test sleeps.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
from _chat_answers import model_request, reference_model
from _chat_server import PROSE, REFUSAL, UNKNOWN_TOOL, ChatRequest, ChatServer, Fault, FaultKind
from _http_server import direct_opener
from autogen_core import FunctionCall
from autogen_core.models import FunctionExecutionResultMessage, SystemMessage, UserMessage
from azure.core.credentials import AccessToken

from magentic_health import arun_case
from magentic_health.backends import AZURE_SCOPE, open_backend
from magentic_health.cli import cli
from magentic_health.config import load_team_config
from magentic_health.errors import BackendError
from magentic_health.models import ModelRequest
from magentic_health.models.scripted import Reply
from magentic_health.models.simulated import SimulatedModel
from magentic_health.trace import Ledger, LedgerEvent, read_ledger, verify_ledger

CASE = "synthea_lung_nsclc"
REQUEST = "Prepare the tumor board review"
MODELS_YAML = """\
profiles:
  openai-compatible:
    kind: openai-compatible
    model: test
    api_key_env: OPENAI_API_KEY
    timeout_s: 2.0
    retry: {max_attempts: 4, initial_wait_s: 0.01, max_wait_s: 0.05, max_retry_after_s: 0.2,
            max_total_wait_s: 2}
    capabilities: {structured_output: true}
  plain:
    kind: openai-compatible
    model: test
    api_key_env: OPENAI_API_KEY
    timeout_s: 2.0
    retry: {max_attempts: 4, initial_wait_s: 0.01, max_wait_s: 0.05, max_retry_after_s: 0.2,
            max_total_wait_s: 2}
    capabilities: {structured_output: false}
  azure:
    kind: azure
    endpoint: ${AZURE_OPENAI_ENDPOINT}
    deployment: gpt-4o-test
    api_version: "2024-10-21"
    api_key_env: AZURE_OPENAI_API_KEY
    timeout_s: 2.0
    retry: {max_attempts: 4, initial_wait_s: 0.01, max_wait_s: 0.05, max_retry_after_s: 0.2,
            max_total_wait_s: 2}
    capabilities: {structured_output: true, family: gpt-4o}
"""
ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_DEPLOYMENT",
    "AZURE_OPENAI_API_VERSION",
    "AZURE_OPENAI_AD_TOKEN",
    "MAGENTIC_HEALTH_MODELS",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def model(data_dir: Path) -> SimulatedModel:
    """The team's right answers for the case (from one offline run)."""
    return reference_model(CASE, REQUEST, data_dir)


@pytest.fixture
def models_file(tmp_path: Path) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(MODELS_YAML, encoding="utf-8")
    return path


# -- the server itself, through the openai SDK ------------------------------------------------


def _sdk(server: ChatServer, *, timeout: float = 5.0) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=server.url + "/v1", api_key="sk-test", max_retries=0, timeout=timeout
    )


USER = [{"role": "user", "content": "Summarise the case."}]


def test_server_answers_a_well_formed_completion_and_records_the_request() -> None:
    with ChatServer(lambda _r: "a summary") as server:
        reply = _sdk(server).chat.completions.create(model="m1", messages=USER)  # type: ignore[arg-type]
    assert reply.object == "chat.completion" and reply.model == "m1"
    assert reply.choices[0].message.content == "a summary"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    (seen,) = server.requests
    assert (seen.method, seen.path, seen.outcome) == ("POST", "/v1/chat/completions", "ok")
    assert seen.headers["authorization"] == "Bearer sk-test"
    assert seen.json()["messages"] == USER
    assert seen.sent is not None and seen.sent["usage"] == reply.usage.model_dump(exclude_none=True)


def test_server_reads_schema_tools_and_tool_results_back_into_a_model_request() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "You are PatientHistory."},
            {"role": "user", "content": "hand-off", "name": "Orchestrator"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "search_notes", "arguments": '{"query": "x"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "## Note search"},
        ],
        "tools": [{"type": "function", "function": {"name": "search_notes", "parameters": {}}}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "ReplyContract"}},
    }
    request = model_request(body)
    assert request.schema_name == "ReplyContract" and request.tool_names == ("search_notes",)
    system, user, _calls, results = request.messages
    assert isinstance(system, SystemMessage) and system.content == "You are PatientHistory."
    assert isinstance(user, UserMessage) and user.source == "Orchestrator"
    assert isinstance(results, FunctionExecutionResultMessage)
    assert [(r.call_id, r.name) for r in results.content] == [("c1", "search_notes")]


def test_server_sends_tool_calls_and_streams() -> None:
    def answer(request: ModelRequest) -> Reply:
        if request.tool_names:
            return [FunctionCall(id="call_1", name="search_notes", arguments='{"query": "EGFR"}')]
        return "done"

    tools: Any = [{"type": "function", "function": {"name": "search_notes", "parameters": {}}}]
    with ChatServer(answer) as server:
        client = _sdk(server)
        called = client.chat.completions.create(model="m", messages=USER, tools=tools)  # type: ignore[arg-type]
        chunks = list(
            client.chat.completions.create(
                model="m",
                messages=USER,  # type: ignore[arg-type]
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    (call,) = called.choices[0].message.tool_calls or []
    assert called.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, json.loads(call.function.arguments)) == (  # type: ignore[union-attr]
        "search_notes",
        {"query": "EGFR"},
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "done"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_server_serves_azure_deployments_with_a_bearer_token() -> None:
    with ChatServer(lambda _r: "ok") as server:
        client = openai.AzureOpenAI(
            azure_endpoint=server.url,
            azure_deployment="gpt-4o-test",
            api_version="2024-10-21",
            azure_ad_token_provider=lambda: "stub-token",
            max_retries=0,
        )
        reply = client.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]
        unversioned = urllib.request.Request(
            server.url + "/openai/deployments/d/chat/completions", data=b"{}", method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            direct_opener().open(unversioned)
    seen = server.requests[0]
    assert seen.path == "/openai/deployments/gpt-4o-test/chat/completions"
    assert seen.query["api-version"] == ["2024-10-21"]
    assert seen.headers["authorization"] == "Bearer stub-token"
    assert (seen.deployment, reply.model) == ("gpt-4o-test", "gpt-4o-test")
    assert refused.value.code == 400 and server.outcomes == ["ok", "400"]


SDK_FAULTS: dict[FaultKind, type[Exception] | None] = {
    "rate_limit": openai.RateLimitError,
    "server_error": openai.InternalServerError,
    "bad_gateway": openai.InternalServerError,
    "unavailable": openai.InternalServerError,
    "slow": openai.APITimeoutError,
    "drop": openai.APIConnectionError,
    "truncated": json.JSONDecodeError,
    "unauthorized": openai.AuthenticationError,
    "forbidden": openai.PermissionDeniedError,
    "missing_deployment": openai.NotFoundError,
    "context_length": openai.BadRequestError,
    "bad_arguments": None,
    "unknown_tool": None,
    "empty_choices": None,
    "refusal": None,
    "prose": None,
    "wrong_schema": None,
}


@pytest.mark.parametrize("kind", list(SDK_FAULTS))
def test_each_fault_reaches_the_sdk_as_a_real_endpoint_would_fail(kind: FaultKind) -> None:
    error = SDK_FAULTS[kind]
    faults = [Fault(kind, nth=1, retry_after_s=0.1, delay_s=3.0)]
    with ChatServer(lambda _r: '{"text": "fine"}', faults=faults) as server:
        client = _sdk(server, timeout=0.3)
        if error is not None:
            with pytest.raises(error) as raised:
                client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
            exc: Any = raised.value
        else:
            reply = client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
        after = client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    assert server.outcomes == [kind, "ok"]
    assert after.choices[0].message.content == '{"text": "fine"}'
    if error is not None:
        _check_error(kind, exc)
    else:
        _check_content(kind, reply)


def _check_error(kind: FaultKind, exc: Any) -> None:
    match kind:
        case "rate_limit":
            headers = exc.response.headers
            assert (headers["retry-after"], headers["retry-after-ms"]) == ("0.1", "100")
        case "bad_gateway" | "unavailable" | "server_error":
            assert exc.status_code == {"bad_gateway": 502, "unavailable": 503}.get(kind, 500)
        case "missing_deployment":
            assert exc.code == "model_not_found"
        case "context_length":
            assert exc.code == "context_length_exceeded"
        case "drop":
            assert not isinstance(exc, openai.APITimeoutError)


def _check_content(kind: FaultKind, reply: Any) -> None:
    if kind == "empty_choices":
        assert reply.choices == []
        return
    message = reply.choices[0].message
    match kind:
        case "bad_arguments":
            with pytest.raises(json.JSONDecodeError):
                json.loads(message.tool_calls[0].function.arguments)
        case "unknown_tool":
            assert message.tool_calls[0].function.name == UNKNOWN_TOOL
        case "refusal":
            assert (message.content, message.refusal) == (None, REFUSAL)
        case "prose":
            assert message.content == PROSE
        case "wrong_schema":
            assert json.loads(message.content) == {"answer": "yes", "confidence": 0.9}


def test_faults_match_by_number_schema_and_tools_for_as_many_times_as_asked() -> None:
    def request(number: int, body: dict[str, Any]) -> ChatRequest:
        return ChatRequest(
            number, "POST", "/v1/chat/completions", {}, {}, json.dumps(body).encode()
        )

    planned = {"response_format": {"type": "json_schema", "json_schema": {"name": "Plan"}}}
    tooled = {"tools": [{"type": "function", "function": {"name": "search_notes"}}]}
    assert Fault("drop", nth=2).matches(request(2, {}))
    assert not Fault("drop", nth=2).matches(request(3, {}))
    assert Fault("drop", schema="Plan").matches(request(7, planned))
    assert not Fault("drop", schema="Plan").matches(request(7, tooled))
    assert Fault("drop", tools=True).matches(request(1, tooled))
    assert not Fault("drop", tools=True).matches(request(1, planned))
    with ChatServer(lambda _r: "ok", faults=[Fault("server_error", times=2)]) as server:
        client = _sdk(server)
        for _ in range(2):
            with pytest.raises(openai.InternalServerError):
                client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
        client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    assert server.outcomes == ["server_error", "server_error", "ok"]


# -- whole runs through the command line ------------------------------------------------------


@dataclass
class Ran:
    """One run through the command line: exit code, output, the server and the ledger."""

    code: int
    out: str
    err: str
    server: ChatServer
    ledger: Ledger

    def events(self, kind: str) -> list[LedgerEvent]:
        return [e for e in self.ledger.events if e.type == kind]

    @property
    def result(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.out)
        return data


@pytest.fixture
def run_cli(
    model: SimulatedModel,
    models_file: Path,
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Any]:
    """``run_cli(*faults, profile=..., extra=[...])``: a run against a fresh server."""

    def run(*faults: Fault, api_key: str | None = None, extra: tuple[str, ...] = ()) -> Ran:
        out = tmp_path / f"run{len(list(tmp_path.glob('run*')))}"
        with ChatServer(model, faults=faults, api_key=api_key) as server:
            code = cli(
                [
                    "run",
                    CASE,
                    "--request",
                    REQUEST,
                    "--model",
                    "openai-compatible",
                    "--base-url",
                    server.url + "/v1",
                    "--model-name",
                    "test",
                    "--models",
                    str(models_file),
                    "--data-dir",
                    str(data_dir),
                    "--out",
                    str(out),
                    "--format",
                    "json",
                    "--quiet",
                    *extra,
                ]
            )
        captured = capsys.readouterr()
        ledgers = list(out.glob("*.jsonl"))
        assert len(ledgers) == 1, (code, captured.err)
        assert server.errors == []  # the simulated model had an answer for every request
        return Ran(code, captured.out, captured.err, server, read_ledger(ledgers[0]))

    yield run


def assert_nothing_lost(ran: Ran, *, accepted: tuple[FaultKind, ...] = ()) -> None:
    """The ledger verifies; every answer the client accepted (the well-formed ones, and the
    faulty ones of ``accepted``, which the team handled) has its ``model_call`` with the tokens
    the server reported, and ``run_finished`` closes the ledger with the same totals."""
    verification = verify_ledger(ran.ledger)
    assert verification.ok, verification.reason
    events = ran.ledger.events
    assert [e.seq for e in events] == list(range(len(events)))
    assert events[-1].type == "run_finished"
    calls = ran.events("model_call")
    kept = [r for r in ran.server.requests if r.outcome == "ok" or r.outcome in accepted]
    assert len(calls) == len(kept)
    totals = events[-1].data["usage"]["total"]
    for field in ("prompt_tokens", "completion_tokens"):
        recorded = sum(e.data["usage"][field] for e in calls)
        assert recorded == sum(r.sent["usage"][field] for r in kept if r.sent is not None)
        assert totals[field] == recorded


def assert_completed(ran: Ran) -> None:
    assert ran.code == 0, ran.err
    assert ran.result["status"] == "completed"
    assert ran.events("run_finished")[0].data["status"] == "completed"
    assert ran.events("final") and not ran.events("error")


def test_a_clean_run_completes_and_accounts_for_every_call(run_cli: Any) -> None:
    ran = run_cli()
    assert_completed(ran)
    assert_nothing_lost(ran)
    assert set(ran.server.outcomes) == {"ok"} and not ran.events("model_retry")
    schemas = [r.schema_name for r in ran.server.requests]
    assert schemas[0] == "PlanDecision" and schemas[-1] == "FinalAnswerModel"
    assert "ReplyContract" in schemas
    assert all(r.json()["model"] == "test" for r in ran.server.requests)


@dataclass(frozen=True)
class Transient:
    fault: Fault
    reason: str
    status: int | None
    agent: str
    step: str | None


TRANSIENT: dict[str, Transient] = {
    "429 with Retry-After": Transient(
        Fault("rate_limit", nth=1, retry_after_s=0.1), "rate_limited", 429, "Orchestrator", None
    ),
    "500": Transient(
        Fault("server_error", schema="ReplyContract", tools=False),
        "server_error",
        500,
        "PatientStatus",
        "s2",
    ),
    "502": Transient(
        Fault("bad_gateway", schema="FinalAnswerModel"), "server_error", 502, "Orchestrator", None
    ),
    "503": Transient(Fault("unavailable", nth=1), "server_error", 503, "Orchestrator", None),
    "slower than the timeout": Transient(
        Fault("slow", schema="ReplyContract", tools=False, delay_s=5.0),
        "timeout",
        None,
        "PatientStatus",
        "s2",
    ),
    "dropped connection": Transient(
        Fault("drop", tools=True), "connection", None, "PatientHistory", "s1"
    ),
    "truncated JSON": Transient(
        Fault("truncated", nth=1), "invalid_response", None, "Orchestrator", None
    ),
    "empty choices": Transient(
        Fault("empty_choices", schema="ReplyContract", tools=False),
        "invalid_response",
        None,
        "PatientStatus",
        "s2",
    ),
    "prose instead of JSON": Transient(
        Fault("prose", schema="PlanDecision"), "invalid_response", None, "Orchestrator", None
    ),
    "JSON of the wrong schema": Transient(
        Fault("wrong_schema", schema="FinalAnswerModel"),
        "invalid_response",
        None,
        "Orchestrator",
        None,
    ),
}


@pytest.mark.parametrize("name", list(TRANSIENT))
def test_a_transient_fault_is_retried_and_the_run_completes(run_cli: Any, name: str) -> None:
    case = TRANSIENT[name]
    ran = run_cli(case.fault)
    assert_completed(ran)
    assert_nothing_lost(ran)
    assert ran.server.outcomes.count(case.fault.kind) == 1
    faulty = ran.server.outcomes.index(case.fault.kind)
    retried = ran.server.requests[faulty + 1 :]
    assert any(r.body == ran.server.requests[faulty].body for r in retried)  # the same call
    (retry,) = ran.events("model_retry")
    assert (retry.agent, retry.step) == (case.agent, case.step)
    assert retry.data["attempt"] == 1
    assert (retry.data["reason"], retry.data["status"]) == (case.reason, case.status)
    if case.fault.kind == "rate_limit":  # the server's Retry-After is the wait
        assert retry.data["retry_after_s"] == retry.data["wait_s"] == 0.1
    else:  # backoff: half to all of initial_wait_s
        assert retry.data["retry_after_s"] is None and 0.005 <= retry.data["wait_s"] <= 0.01


def test_a_long_retry_after_is_capped_by_the_profile(run_cli: Any) -> None:
    ran = run_cli(Fault("rate_limit", nth=1, retry_after_s=30))
    assert_completed(ran)
    assert_nothing_lost(ran)
    (retry,) = ran.events("model_retry")
    assert (retry.data["retry_after_s"], retry.data["wait_s"]) == (30.0, 0.2)


def test_a_refusal_is_answered_again_with_the_errors_quoted(run_cli: Any) -> None:
    ran = run_cli(Fault("refusal", schema="PlanDecision"))
    assert_completed(ran)
    assert_nothing_lost(ran, accepted=("refusal",))
    first, again = ran.server.requests[:2]
    assert first.outcome == "refusal" and again.schema_name == "PlanDecision"
    roles = [m["role"] for m in again.json()["messages"]]
    assert roles == ["system", "user", "assistant", "user"]  # its answer, then what was wrong
    assert not ran.events("model_retry")


def _next_call_of_the_same_agent(ran: Ran, request: ChatRequest) -> ChatRequest:
    """The agent's next request (steps run concurrently: known by its system message)."""
    system = request.json()["messages"][0]
    later = ran.server.requests[request.number :]
    return next(r for r in later if r.json()["messages"][0] == system)


def test_invalid_tool_arguments_under_structured_output_are_retried(run_cli: Any) -> None:
    """Strict tools: the client refuses arguments that break the schema, so the call is
    retried as an unreadable reply and the tool only ever sees valid arguments."""
    ran = run_cli(Fault("bad_arguments", tools=True))
    assert_completed(ran)
    assert_nothing_lost(ran)
    (retry,) = ran.events("model_retry")
    assert (retry.agent, retry.step, retry.data["reason"]) == (
        "PatientHistory",
        "s1",
        "invalid_response",
    )
    searches = [e for e in ran.events("tool_call") if e.data["tool"] == "search_notes"]
    assert searches and all(isinstance(e.data["arguments"]["query"], str) for e in searches)


def test_invalid_tool_arguments_never_reach_the_tool(run_cli: Any) -> None:
    """Without structured output the arguments reach AutoGen, which answers the model with
    the validation error instead of calling the tool."""
    ran = run_cli(Fault("bad_arguments", tools=True), extra=("--model", "plain"))
    assert_completed(ran)
    assert_nothing_lost(ran, accepted=("bad_arguments",))
    bad = next(r for r in ran.server.requests if r.outcome == "bad_arguments")
    follow = _next_call_of_the_same_agent(ran, bad)  # it carries the error
    results = [m for m in follow.json()["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in results] == [f"call_bad_{bad.number}"]
    assert "## Note search" not in results[0]["content"]
    assert not [e for e in ran.events("tool_call") if e.data["tool"] == "search_notes"]
    replied = {e.agent for e in ran.events("agent_reply")}
    assert "PatientHistory" in replied


def test_an_unknown_tool_is_refused_and_the_agent_carries_on(run_cli: Any) -> None:
    ran = run_cli(Fault("unknown_tool", tools=True))
    assert_completed(ran)
    assert_nothing_lost(ran, accepted=("unknown_tool",))
    tools = [e.data["tool"] for e in ran.events("tool_call") if e.agent == "PatientHistory"]
    assert UNKNOWN_TOOL not in tools and "search_notes" in tools
    bad = next(r for r in ran.server.requests if r.outcome == "unknown_tool")
    follow = _next_call_of_the_same_agent(ran, bad)
    (result,) = [m for m in follow.json()["messages"] if m["role"] == "tool"]
    assert result["tool_call_id"] == f"call_bad_{bad.number}"
    assert UNKNOWN_TOOL in result["content"]  # the model is told the tool does not exist


FATAL: dict[str, tuple[Fault, str, int]] = {
    "401": (
        Fault("unauthorized", nth=1),
        "the model backend refused the credentials (HTTP 401); check OPENAI_API_KEY",
        1,
    ),
    "403": (
        Fault("forbidden", nth=1),
        "the model backend refused the credentials (HTTP 403); check OPENAI_API_KEY",
        1,
    ),
    "404 missing model": (
        Fault("missing_deployment", nth=1),
        "the model or deployment was not found (HTTP 404); check --model-name",
        1,
    ),
    "400 context length": (
        Fault("context_length", nth=1),
        "the request is longer than the model's context window (HTTP 400 context_length_exceeded)",
        1,
    ),
    "429 for good": (
        Fault("rate_limit", times=None, retry_after_s=0.01),
        "the model backend kept rate-limiting us (HTTP 429)",
        4,
    ),
    "503 for good": (
        Fault("unavailable", times=None),
        "the model backend kept failing (HTTP 5xx)",
        4,
    ),
    "unreachable": (
        Fault("drop", times=None),
        "the model backend cannot be reached; check --base-url",
        4,
    ),
}


@pytest.mark.parametrize("name", list(FATAL))
def test_a_fatal_fault_ends_the_run_with_exit_3_and_one_line(run_cli: Any, name: str) -> None:
    fault, problem, calls = FATAL[name]
    ran = run_cli(fault)
    assert ran.code == 3
    lines = ran.err.strip().splitlines()
    (line,) = lines  # --quiet: the one error line, no warnings logged besides
    assert line.startswith("error:") and "Traceback" not in ran.err
    assert line.startswith(f"error: --model openai-compatible: {problem}")
    assert line.endswith(f"(the ledger is kept: {ran.ledger.path})")
    assert ran.out == ""
    assert ran.server.outcomes == [fault.kind] * calls  # fatal: no retry; else max_attempts
    assert len(ran.events("model_retry")) == calls - 1
    assert_nothing_lost(ran)
    error, finished = ran.ledger.events[-2:]
    assert (error.type, error.agent, error.data["kind"]) == (
        "error",
        "Orchestrator",
        "backend_error",
    )
    assert line.removeprefix("error: ").startswith(error.data["message"])
    assert finished.data["status"] == "failed"
    assert finished.data["reason"] == f"model backend failed: {error.data['message']}"


def test_credentials_refused_at_a_specialist_end_the_run_and_its_wave(run_cli: Any) -> None:
    """The planner's calls succeed, the first specialist's call gets a 401: every later call
    would too, so the run ends (exit 3) instead of failing and re-planning step after step,
    and the steps running beside it are stopped before ``run_finished`` closes the ledger."""
    ran = run_cli(Fault("unauthorized", schema="ReplyContract", tools=False, times=None))
    assert ran.code == 3 and "Traceback" not in ran.err
    assert (
        ran.err.strip()
        .splitlines()[-1]
        .startswith(
            "error: --model openai-compatible: the model backend refused the credentials (HTTP 401)"
        )
    )
    assert ran.server.outcomes.count("unauthorized") == 1  # no retry, no second step tried
    assert verify_ledger(ran.ledger).ok  # (the call cancelled in flight has no model_call)
    events = ran.ledger.events
    (error,) = ran.events("error")
    assert (error.agent, error.step, error.data["kind"]) == ("PatientStatus", "s2", "backend_error")
    assert events[-1].type == "run_finished" and events[-1].data["status"] == "failed"
    assert not [e for e in events if e.seq > error.seq and e.type == "agent_reply"]
    assert not ran.events("final")
    assert not [e for e in events if e.type == "handoff" and e.data["wave"] > 1]


def test_a_request_too_long_for_one_specialist_fails_only_its_step(run_cli: Any) -> None:
    """A context-length refusal is about that request, not the backend: the step fails (it
    is retried once, then re-planned until the turn limit) and the others go on."""
    ran = run_cli(Fault("context_length", schema="ReplyContract", tools=False, times=None))
    assert ran.code == 4 and ran.result["status"] == "partial", ran.err
    assert_nothing_lost(ran, accepted=())
    failed = ran.events("error")
    assert len(failed) >= 2 and {(e.agent, e.step) for e in failed} == {("PatientStatus", "s2")}
    assert all("context window" in e.data["message"] for e in failed)
    assert "PatientHistory" in {e.agent for e in ran.events("agent_reply")}
    gaps = ran.events("run_finished")[0].data["gaps"]
    assert any(g.startswith("Step s2 (PatientStatus) failed") for g in gaps)


def test_the_key_comes_from_the_environment_and_stays_out_of_the_ledger(
    run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-local-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    ran = run_cli(api_key=key)
    assert_completed(ran)
    assert_nothing_lost(ran)
    assert {r.headers["authorization"] for r in ran.server.requests} == {f"Bearer {key}"}
    assert key not in ran.ledger.path.read_text(encoding="utf-8")
    assert key not in ran.out + ran.err


# -- Azure OpenAI with a stub Entra ID credential ---------------------------------------------


class StubCredential:
    """A ``TokenCredential`` that hands out a fixed token (what DefaultAzureCredential does
    after a sign-in), recording the scopes asked for."""

    token = "stub-entra-token"

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, 4_102_444_800)  # 2100-01-01


def _azure_run(
    server: ChatServer, models_file: Path, data_dir: Path, out: Path, credential: StubCredential
) -> Any:
    config = load_team_config()
    backend = open_backend(
        "azure",
        agents=[a.name for a in config.agents],
        models=models_file,
        base_url=server.url,
        env={},
        credential=credential,
    )
    return asyncio.run(
        arun_case(CASE, request=REQUEST, data_dir=data_dir, out_dir=out, backend=backend)
    )


def test_azure_runs_on_the_deployment_with_the_entra_id_token(
    model: SimulatedModel, models_file: Path, data_dir: Path, tmp_path: Path
) -> None:
    credential = StubCredential()
    with ChatServer(model) as server:
        result = _azure_run(server, models_file, data_dir, tmp_path, credential)
    assert result.status == "completed"
    assert set(credential.scopes) == {(AZURE_SCOPE,)}
    for seen in server.requests:
        assert seen.path == "/openai/deployments/gpt-4o-test/chat/completions"
        assert seen.query["api-version"] == ["2024-10-21"]
        assert seen.headers["authorization"] == f"Bearer {StubCredential.token}"
        assert "api-key" not in seen.headers
    ledger = read_ledger(result.ledger_path)
    ran = Ran(0, "", "", server, ledger)
    assert_nothing_lost(ran)
    assert ledger.events[0].data["model_profile"] == "azure (deployment gpt-4o-test)"
    assert StubCredential.token not in Path(result.ledger_path).read_text(encoding="utf-8")


def test_azure_missing_deployment_fails_fast_naming_the_deployment(
    model: SimulatedModel, models_file: Path, data_dir: Path, tmp_path: Path
) -> None:
    faults = [Fault("missing_deployment", nth=1)]
    with ChatServer(model, faults=faults) as server, pytest.raises(BackendError) as raised:
        _azure_run(server, models_file, data_dir, tmp_path, StubCredential())
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("--model azure: the model or deployment was not found (HTTP 404)")
    assert "AZURE_OPENAI_DEPLOYMENT" in message
    assert server.outcomes == ["missing_deployment"]
    (path,) = tmp_path.glob("*.jsonl")
    ledger = read_ledger(path)
    assert verify_ledger(ledger).ok
    assert [e.type for e in ledger.events[-2:]] == ["error", "run_finished"]
