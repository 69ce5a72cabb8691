"""The scripted model client and the recording of model calls."""

from __future__ import annotations

from autogen_core import FunctionCall
from autogen_core.models import SystemMessage, UserMessage
from pydantic import BaseModel

from magentic_health.models import (
    ModelRequest,
    RecordingClient,
    ScriptedModelClient,
    UsageMeter,
    in_step,
    recording,
    request_digest,
)
from magentic_health.trace import ModelCall


class Verdict(BaseModel):
    ok: bool
    reason: str


def answer(request: ModelRequest) -> str | BaseModel | list[FunctionCall]:
    if request.schema_name == "Verdict":
        return Verdict(ok=True, reason="looks fine")
    if "call a tool" in request.text():
        return [FunctionCall(id="c1", name="patient_status", arguments="{}")]
    return "plain answer"


def messages(text: str) -> list[SystemMessage | UserMessage]:
    return [SystemMessage(content="You are a test."), UserMessage(content=text, source="user")]


async def test_scripted_client_answers_by_request_and_records_it() -> None:
    client = ScriptedModelClient(answer)
    structured = await client.create(messages("judge this"), json_output=Verdict)
    assert Verdict.model_validate_json(structured.content) == Verdict(ok=True, reason="looks fine")
    tool = await client.create(messages("please call a tool"))
    assert tool.finish_reason == "function_calls"
    assert tool.content[0].name == "patient_status"
    text = await client.create(messages("hello"))
    assert (text.content, text.finish_reason) == ("plain answer", "stop")
    assert [r.schema_name for r in client.requests] == ["Verdict", None, None]
    total = client.total_usage()
    assert total.prompt_tokens == sum(r.usage.prompt_tokens for r in (structured, tool, text)) > 0
    assert client.actual_usage() == text.usage


async def test_stream_ends_with_the_result() -> None:
    chunks = [c async for c in ScriptedModelClient(answer).create_stream(messages("hi"))]
    assert chunks[0] == "plain answer" and chunks[-1].content == "plain answer"


async def test_recording_meters_tokens_and_emits_model_calls() -> None:
    recorded: list[tuple[ModelCall, str, str | None]] = []
    meter = UsageMeter()
    client = RecordingClient(ScriptedModelClient(answer), agent="Orchestrator")
    await client.create(messages("outside a run"))  # not recorded
    with recording(lambda p, a, s: recorded.append((p, a, s)), meter), in_step("s2"):
        result = await client.create(messages("judge this"), json_output=Verdict)
    assert len(recorded) == 1
    call, agent, step = recorded[0]
    assert (agent, step) == ("Orchestrator", "s2")
    assert call.request_digest == request_digest(messages("judge this"), json_output=Verdict)
    assert call.usage["completion_tokens"] == result.usage.completion_tokens
    assert Verdict.model_validate_json(call.response["content"]).ok is True
    assert meter.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens
    report = meter.report(["Orchestrator", "PatientStatus"])
    assert report["PatientStatus"] == {"prompt_tokens": 0, "completion_tokens": 0}
    assert report["total"]["prompt_tokens"] == result.usage.prompt_tokens


def test_request_digest_depends_on_content_and_schema() -> None:
    base = request_digest(messages("a"))
    assert base == request_digest(messages("a"))
    assert base != request_digest(messages("b"))
    assert base != request_digest(messages("a"), json_output=Verdict)


def test_request_digests_stay_those_recorded_ledgers_hold() -> None:
    """``rerun`` finds recorded calls by digest: a change to how requests are digested would
    orphan every ledger recorded before it (values pinned from the first implementation)."""
    request = [
        SystemMessage(content="You are a test."),
        UserMessage(content="judge ü this", source="user"),
    ]
    assert request_digest(request) == (
        "sha256:bb57cbd9eeb85d1df5a239829491acac6d3eb6d79260c9f28f655820e902aeca"
    )
    assert request_digest(request, json_output=Verdict) == (
        "sha256:1fd321b8d6acf5366fcc409460572b725e5971b51faf66a0c7f72921dc76cf95"
    )
    assert request_digest(request, json_output=True) == (
        "sha256:6f985f1a2fb9d05ae3942f725d534e1a9a74b13cb6be362d249289b9677f1740"
    )


def test_the_suite_cannot_reach_a_real_model() -> None:
    import socket

    import pytest

    with (
        pytest.raises(RuntimeError, match="offline"),
        socket.create_connection(("203.0.113.7", 443), timeout=1),
    ):
        pass


async def test_a_recorded_tool_call_reply_is_stored_as_objects_not_repr_text() -> None:
    call = FunctionCall(id="c1", arguments='{"query": "EGFR"}', name="search_notes")
    client = RecordingClient(ScriptedModelClient(lambda _r: [call]), agent="PatientHistory")
    recorded: list[ModelCall] = []
    with recording(lambda p, a, s: recorded.append(p), UsageMeter()):
        await client.create([UserMessage(content="find EGFR", source="user")])
    assert recorded[0].response["content"] == [
        {"id": "c1", "arguments": '{"query": "EGFR"}', "name": "search_notes"}
    ]
