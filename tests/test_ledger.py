"""The trace ledger: writing, reading back, and catching every kind of tampering."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import typing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import magentic_health.trace as trace
from magentic_health.errors import LedgerError
from magentic_health.plan import BoolAnswer, Facts, NextAnswer, PlanStep
from magentic_health.reply import Evidence, Finding
from magentic_health.trace import (
    EVENT_TYPES,
    GENESIS_HASH,
    AgentReply,
    CheckpointEvent,
    EventPayload,
    Final,
    Handoff,
    LedgerEvent,
    LedgerWriter,
    ProgressLedgerEvent,
    RunFinished,
    RunStarted,
    TaskLedgerEvent,
    ToolCall,
    ToolResult,
    TriageEvent,
    compute_hash,
    read_ledger,
    verify_ledger,
)

ENVELOPE_KEYS = {"v", "seq", "ts", "run_id", "type", "agent", "step", "data", "prev_hash", "hash"}
UMLAUT_QUOTE = "Größe 3·4 cm"
START = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def fixed_clock() -> Callable[[], datetime]:
    """A clock that starts at START and moves 1.5 ms per reading."""
    ticks = iter(range(10_000))
    return lambda: START + timedelta(microseconds=1500 * next(ticks))


def independent_hash(prev_hash: str, event: dict[str, Any]) -> str:
    """The DESIGN formula, written out here so the test does not trust ``compute_hash``."""
    body = {k: v for k, v in event.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + text).encode("utf-8")).hexdigest()


def sample_payloads() -> list[tuple[EventPayload, str | None, str | None]]:
    """A small run: (payload, agent, step) in the order a run writes them."""
    evidence = Evidence(doc_id="doc-ct", quote=UMLAUT_QUOTE)
    return [
        (
            RunStarted(
                case_id="case-1",
                case_digest="c" * 64,
                config_digest="f" * 64,
                config_name="tumor_board",
                model_profile="offline",
                engine="offline rule engine",
                request="Prepare the tumor board review",
                documents=2,
                package_versions={"magentic-health": "0.1.0"},
            ),
            None,
            None,
        ),
        (
            TriageEvent(
                complexity="moderate",
                intents=("imaging",),
                selected=("Radiology",),
                rationale="imaging question",
            ),
            "Orchestrator",
            None,
        ),
        (
            TaskLedgerEvent(
                version=1,
                facts=Facts(given=("CT on file",)),
                plan=(PlanStep(id="s1", agent="Radiology", instruction="Read the CT"),),
                waves=(("s1",),),
            ),
            "Orchestrator",
            None,
        ),
        (Handoff(to="Radiology", instruction="Read the CT"), "Orchestrator", "s1"),
        (ToolCall(tool="radiology", arguments={"study": "CT"}), "Radiology", "s1"),
        (ToolResult(tool="radiology", output={"n": 1}, duration_ms=2.5), "Radiology", "s1"),
        (
            AgentReply(
                text=f"Lesion {UMLAUT_QUOTE}",
                findings=(Finding(claim="Lesion measured", evidence=(evidence,)),),
                gaps=("no prior study",),
            ),
            "Radiology",
            "s1",
        ),
        (CheckpointEvent(name="contract", passed=True), "Orchestrator", "s1"),
        (CheckpointEvent(name="grounding", passed=True), "Orchestrator", "s1"),
        (
            ProgressLedgerEvent(
                wave=0,
                is_request_satisfied=BoolAnswer(answer=True, reason="all steps done"),
                is_in_loop=BoolAnswer(answer=False, reason="first wave"),
                is_progress_being_made=BoolAnswer(answer=True, reason="new findings"),
                next=NextAnswer(answer=(), reason="nothing left"),
            ),
            "Orchestrator",
            None,
        ),
        (Final(text="Summary", citations=(evidence,), engine="offline"), "Orchestrator", None),
        (
            RunFinished(
                status="completed",
                usage={"total": {"prompt_tokens": 0, "completion_tokens": 0}},
                duration_ms=12.0,
            ),
            None,
            None,
        ),
    ]


def write_sample(path: Path, run_id: str = "run-1") -> list[LedgerEvent]:
    with LedgerWriter(path=path, run_id=run_id, clock=fixed_clock()) as writer:
        return [writer.append(p, agent=a, step=s) for p, a, s in sample_payloads()]


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "ledgers" / "run-1.jsonl"
    write_sample(path)
    return path


def raw_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_lines(path: Path, events: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)
    path.write_text(text, encoding="utf-8")


def writer_line(event: dict[str, Any]) -> str:
    """``event`` laid out as the writer lays it out: the envelope in its order, compact, with
    ``data`` in canonical form."""

    def compact(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    head = compact({k: event[k] for k in ("v", "seq", "ts", "run_id", "type", "agent", "step")})
    data = json.dumps(event["data"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    tail = f',"prev_hash":{compact(event["prev_hash"])},"hash":{compact(event["hash"])}}}'
    return head[:-1] + ',"data":' + data + tail


def rechain(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recompute every prev_hash and hash, as a forger who knows the formula would."""
    prev = GENESIS_HASH
    for event in events:
        event["prev_hash"] = prev
        event["hash"] = prev = independent_hash(prev, event)
    return events


# --- writing and reading back -------------------------------------------------------------


def test_round_trip_reads_back_the_typed_events(ledger_path: Path) -> None:
    ledger = read_ledger(ledger_path)
    expected = sample_payloads()
    assert ledger.truncated_tail is None
    assert ledger.run_id == "run-1"
    assert [e.seq for e in ledger.events] == list(range(len(expected)))
    assert [e.payload() for e in ledger.events] == [p for p, _, _ in expected]
    assert [(e.agent, e.step) for e in ledger.events] == [(a, s) for _, a, s in expected]
    assert [e.ts for e in ledger.events[:3]] == [
        "2025-03-01T12:00:00.000Z",
        "2025-03-01T12:00:00.001Z",
        "2025-03-01T12:00:00.003Z",
    ]
    verification = verify_ledger(ledger_path)
    assert verification.ok, verification.reason
    assert verification.events == len(expected)
    assert verification.first_broken_seq is None


def test_returned_events_equal_the_lines_written(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    written = write_sample(path)
    assert read_ledger(path).events == written


def test_first_event_hash_follows_the_design_formula(ledger_path: Path) -> None:
    events = raw_lines(ledger_path)
    assert events[0]["prev_hash"] == "0" * 64
    prev = "0" * 64
    for event in events:
        assert event["prev_hash"] == prev
        assert event["hash"] == independent_hash(prev, event)
        assert compute_hash(prev, event) == event["hash"]
        prev = event["hash"]


def test_each_line_is_one_json_object_with_exactly_the_envelope_keys(ledger_path: Path) -> None:
    text = ledger_path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    for line in text.splitlines():
        event = json.loads(line)
        assert set(event) == ENVELOPE_KEYS
        assert event["v"] == 1
        assert event["ts"].endswith("Z") and len(event["ts"]) == len("2025-03-01T12:00:00.000Z")
        assert event["type"] in EVENT_TYPES
        assert "type" not in event["data"]
    first = json.loads(text.splitlines()[0])
    assert first["data"]["case_id"] == "case-1"
    assert first["agent"] is None and first["step"] is None


def test_non_ascii_text_is_written_as_itself_and_hashed_as_utf8(ledger_path: Path) -> None:
    content = ledger_path.read_bytes()
    assert UMLAUT_QUOTE.encode("utf-8") in content
    assert b"\\u00f6" not in content and b"\\u00b7" not in content
    reply = next(e for e in raw_lines(ledger_path) if e["type"] == "agent_reply")
    assert reply["data"]["findings"][0]["evidence"][0]["quote"] == UMLAUT_QUOTE
    assert reply["hash"] == independent_hash(reply["prev_hash"], reply)


def test_timestamps_are_utc_with_milliseconds(tmp_path: Path) -> None:
    moment = datetime(2025, 3, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    with LedgerWriter(path=tmp_path / "l.jsonl", run_id="r", clock=lambda: moment) as writer:
        event = writer.append(CheckpointEvent(name="contract", passed=True))
    assert event.ts == "2025-03-01T12:00:00.123Z"


def test_writer_counts_and_chains(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "l.jsonl"
    with LedgerWriter(path=path, run_id="r", clock=fixed_clock()) as writer:
        assert (writer.count, writer.last_hash, writer.path) == (0, GENESIS_HASH, path)
        first = writer.append(Handoff(to="Radiology", instruction="go"), agent="Orchestrator")
        second = writer.append(CheckpointEvent(name="contract", passed=False, failures=("x",)))
        assert writer.count == 2
        assert writer.last_hash == second.hash
        assert second.prev_hash == first.hash
    assert writer.closed
    with pytest.raises(ValueError, match="closed"):
        writer.append(CheckpointEvent(name="contract", passed=True))


def test_subscribers_see_the_same_events_in_order(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    seen: list[LedgerEvent] = []
    later: list[LedgerEvent] = []
    with LedgerWriter(path=path, run_id="r", clock=fixed_clock()) as writer:
        writer.subscribe(seen.append)
        unsubscribe = writer.subscribe(later.append)
        writer.append(Handoff(to="Radiology", instruction="go"))
        unsubscribe()
        writer.append(CheckpointEvent(name="contract", passed=True))
    assert seen == read_ledger(path).events
    assert [e.type for e in later] == ["handoff"]


def test_writer_refuses_to_overwrite_a_ledger(ledger_path: Path) -> None:
    before = ledger_path.read_bytes()
    with pytest.raises(LedgerError, match=r"already exists and is not empty") as info:
        LedgerWriter(path=ledger_path, run_id="other")
    assert str(ledger_path) in str(info.value)
    assert ledger_path.read_bytes() == before


def test_writer_accepts_an_existing_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.touch()
    with LedgerWriter(path=path, run_id="r") as writer:
        writer.append(CheckpointEvent(name="contract", passed=True))
    assert verify_ledger(path).ok


def test_concurrent_appends_keep_seq_contiguous_and_the_chain_valid(tmp_path: Path) -> None:
    path = tmp_path / "threads.jsonl"
    threads_n, per_thread = 8, 60
    barrier = threading.Barrier(threads_n)
    with LedgerWriter(path=path, run_id="r") as writer:

        def work(worker: int) -> None:
            barrier.wait()
            for i in range(per_thread):
                writer.append(ToolCall(tool="radiology", arguments={"i": i}), agent=f"A{worker}")

        threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    ledger = read_ledger(path)
    assert [e.seq for e in ledger.events] == list(range(threads_n * per_thread))
    assert verify_ledger(ledger).ok
    per_agent = {f"A{n}": 0 for n in range(threads_n)}
    for event in ledger.events:
        assert event.agent is not None
        per_agent[event.agent] += 1
    assert set(per_agent.values()) == {per_thread}


# --- tampering ------------------------------------------------------------------------------


def test_changed_data_value_is_a_hash_mismatch(ledger_path: Path) -> None:
    events = raw_lines(ledger_path)
    assert events[7]["type"] == "checkpoint"
    events[7]["data"]["passed"] = False
    write_lines(ledger_path, events)
    result = verify_ledger(ledger_path)
    assert (result.ok, result.first_broken_seq) == (False, 7)
    assert result.reason == "hash mismatch at seq 7"


def test_deleted_line_is_a_seq_gap(ledger_path: Path) -> None:
    events = raw_lines(ledger_path)
    del events[5]
    write_lines(ledger_path, events)
    result = verify_ledger(ledger_path)
    assert (result.ok, result.first_broken_seq) == (False, 5)
    assert result.reason == "seq gap: expected 5, found 6"


def test_deleted_line_with_renumbered_seqs_breaks_the_chain_link(ledger_path: Path) -> None:
    events = raw_lines(ledger_path)
    del events[5]
    for seq, event in enumerate(events):
        event["seq"] = seq
    write_lines(ledger_path, events)
    result = verify_ledger(ledger_path)
    assert result.first_broken_seq == 5
    assert result.reason == "prev_hash of seq 5 does not match hash of seq 4"


def test_swapped_lines_are_out_of_order(ledger_path: Path) -> None:
    events = raw_lines(ledger_path)
    events[3], events[4] = events[4], events[3]
    write_lines(ledger_path, events)
    result = verify_ledger(ledger_path)
    assert result.first_broken_seq == 3
    assert result.reason is not None and result.reason.startswith("seq out of order: expected 3")


def test_edited_hash_is_detected_at_that_seq(ledger_path: Path) -> None:
    events = raw_lines(ledger_path)
    events[4]["hash"] = "f" * 64
    write_lines(ledger_path, events)
    result = verify_ledger(ledger_path)
    assert (result.first_broken_seq, result.reason) == (4, "hash mismatch at seq 4")


def test_changed_run_id_is_detected(ledger_path: Path) -> None:
    events = raw_lines(ledger_path)
    events[6]["run_id"] = "run-2"
    write_lines(ledger_path, events)
    result = verify_ledger(ledger_path)
    assert result.first_broken_seq == 6
    assert result.reason == "run_id of seq 6 is 'run-2', not the run's 'run-1'"


def test_rechained_run_id_change_is_still_detected(ledger_path: Path) -> None:
    events = raw_lines(ledger_path)
    for event in events[9:]:
        event["run_id"] = "run-2"
    write_lines(ledger_path, rechain(events))
    result = verify_ledger(ledger_path)
    assert (result.ok, result.first_broken_seq) == (False, 9)
    assert result.reason is not None and "'run-2'" in result.reason


def test_rechained_payload_that_does_not_validate_is_reported(ledger_path: Path) -> None:
    events = raw_lines(ledger_path)
    events[8]["data"]["passed"] = "yes"
    write_lines(ledger_path, rechain(events))
    result = verify_ledger(ledger_path)
    assert result.first_broken_seq == 8
    assert result.reason is not None
    assert result.reason.startswith("payload of seq 8 does not validate as 'checkpoint': passed:")


def test_rechained_unknown_type_is_reported(ledger_path: Path) -> None:
    events = raw_lines(ledger_path)
    events[2]["type"] = "shortcut"
    write_lines(ledger_path, rechain(events))
    result = verify_ledger(ledger_path)
    assert result.first_broken_seq == 2
    assert result.reason is not None and "unknown type 'shortcut'" in result.reason


def test_wrong_genesis_is_reported(ledger_path: Path) -> None:
    events = raw_lines(ledger_path)
    events[0]["prev_hash"] = "1" * 64
    events[0]["hash"] = independent_hash("1" * 64, events[0])
    write_lines(ledger_path, events)
    result = verify_ledger(ledger_path)
    assert result.first_broken_seq == 0
    assert result.reason == "prev_hash of seq 0 is not the genesis hash (64 zeros)"


# --- damaged files --------------------------------------------------------------------------


def test_truncated_last_line_is_reported_and_the_rest_verifies(ledger_path: Path) -> None:
    full = raw_lines(ledger_path)
    other = ledger_path.with_name("other.jsonl")
    with LedgerWriter(path=other, run_id="run-1") as writer:
        writer.append(Final(text=UMLAUT_QUOTE, citations=(), engine="e"))
    line = other.read_bytes()
    partial = line[: line.index("ö".encode()) + 1]  # ends inside the two bytes of "ö"
    with ledger_path.open("ab") as file:
        file.write(partial)
    ledger = read_ledger(ledger_path)
    assert len(ledger.events) == len(full)
    assert ledger.truncated_tail is not None and ledger.truncated_tail.startswith('{"v":1,"seq":')
    result = verify_ledger(ledger_path)
    assert (result.ok, result.events, result.truncated_tail) == (True, len(full), True)


def test_garbled_middle_line_names_file_and_line(ledger_path: Path) -> None:
    lines = ledger_path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[4] = lines[4][:40] + "\n"
    ledger_path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(LedgerError, match=r"not valid JSON") as info:
        read_ledger(ledger_path)
    assert str(info.value).startswith(f"{ledger_path}:5: not a ledger event")


def test_mistyped_envelope_in_the_middle_is_an_error(ledger_path: Path) -> None:
    events = raw_lines(ledger_path)
    events[2]["seq"] = "2"
    write_lines(ledger_path, events)
    with pytest.raises(LedgerError, match=r":3: not a ledger event: seq: "):
        read_ledger(ledger_path)


@pytest.mark.parametrize(("version", "shown"), [(True, "true"), (1.0, "1.0"), (2, None)])
def test_a_version_that_is_not_the_integer_1_is_an_error(
    ledger_path: Path, version: object, shown: str | None
) -> None:
    events = raw_lines(ledger_path)
    events[1]["v"] = version
    write_lines(ledger_path, events)
    expected = f"v is {shown}, not the integer 1" if shown else "v: Input should be 1"
    with pytest.raises(LedgerError, match=rf":2: not a ledger event: {re.escape(expected)}"):
        read_ledger(ledger_path)


def test_extra_envelope_key_is_an_error(ledger_path: Path) -> None:
    events = raw_lines(ledger_path)
    events[1]["note"] = "added"
    write_lines(ledger_path, events)
    with pytest.raises(LedgerError, match=r":2: .*unexpected keys \['note'\]"):
        read_ledger(ledger_path)


def test_missing_file_is_a_ledger_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(LedgerError, match=r"no such ledger file") as info:
        verify_ledger(missing)
    assert repr(str(missing)) in str(info.value)


def test_not_json_at_line_one_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("team:\n  name: tumor_board\n", encoding="utf-8")
    with pytest.raises(LedgerError, match=r"config\.yaml:1: not a ledger event: not valid JSON"):
        read_ledger(path)
    path.write_text("team: x", encoding="utf-8")
    with pytest.raises(LedgerError, match=r":1: not a ledger event"):
        read_ledger(path)


def test_empty_ledger_does_not_verify(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.touch()
    result = verify_ledger(path)
    assert (result.ok, result.events, result.reason) == (False, 0, "the ledger holds no events")


# --- the public surface -----------------------------------------------------------------------


def test_event_types_match_the_payload_union() -> None:
    union = typing.get_args(typing.get_args(EventPayload)[0])
    tags = [cls.model_fields["type"].default for cls in union]
    assert tags == list(EVENT_TYPES)


def test_trace_exports() -> None:
    assert set(trace.__all__) == {
        *("LedgerWriter", "LedgerEvent", "Ledger", "Verification", "read_ledger"),
        *("verify_ledger", "compute_hash", "GENESIS_HASH", "EVENT_TYPES", "EVENT_ADAPTER"),
        *("RunStarted", "TriageEvent", "TaskLedgerEvent", "Handoff", "ModelCall", "ToolCall"),
        *("ToolResult", "AgentReply", "CheckpointEvent", "ProgressLedgerEvent", "Replan"),
        *("Final", "RunFinished", "ErrorEvent", "EventPayload", "RunStatus"),
        *("ModelRetry", "RunCost"),
    }


def test_the_fast_payload_dump_equals_pydantics() -> None:
    """Fields already holding JSON data skip pydantic's walk; the result must not change."""
    from magentic_health.trace import ModelCall, ToolCall, ToolResult
    from magentic_health.trace._writer import payload_data

    payloads = [
        ToolResult(
            tool="patient_status",
            duration_ms=1.5,
            output={
                "text": "Größe",
                "findings": [{"claim": "c", "evidence": []}],
                "data": {"n": 1, "x": None, "f": 0.5},
            },
        ),
        ModelCall(
            request_digest="sha256:ab",
            latency_ms=2.0,
            response={"finish_reason": "stop", "content": '{"a": [1, 2]}'},
            usage={"prompt_tokens": 3, "completion_tokens": 4},
        ),
        ToolCall(tool="search_notes", arguments={"query": "KRAS", "upstream": ["a", "b"]}),
    ]
    for payload in payloads:
        assert payload_data(payload) == payload.model_dump(mode="json", exclude={"type"})


def test_a_line_re_encoded_with_other_spacing_and_key_order_still_verifies(
    ledger_path: Path,
) -> None:
    """Only the values are hashed (canonically), not the bytes of the line: a ledger
    re-formatted by another tool verifies (by re-encoding, not from the bytes read)."""
    lines = ledger_path.read_text(encoding="utf-8").splitlines()
    event = json.loads(lines[2])
    lines[2] = json.dumps(dict(reversed(event.items())), separators=(", ", ": "))
    ledger_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ledger = read_ledger(ledger_path)
    private = ledger.events[2].__pydantic_private__ or {}
    assert private["_as_written"] is False
    assert all(
        (e.__pydantic_private__ or {})["_as_written"] for i, e in enumerate(ledger.events) if i != 2
    )
    verification = verify_ledger(ledger)
    assert verification.ok, verification.reason
    assert ledger.events[2].payload().type == event["type"]


def test_a_payload_that_does_not_validate_is_reported_when_its_hash_is_right(
    ledger_path: Path,
) -> None:
    """A line as the writer would write it, hash recomputed, with a payload the writer never
    writes: read, not trusted."""
    events = raw_lines(ledger_path)
    as_read = ledger_path.read_text(encoding="utf-8").splitlines()
    assert [writer_line(e) for e in events] == as_read  # the layout is the writer's
    target = next(i for i, e in enumerate(events) if e["type"] == "handoff")
    events[target]["data"]["attempt"] = "first"
    rechain(events)
    ledger_path.write_text("".join(writer_line(e) + "\n" for e in events), encoding="utf-8")
    ledger = read_ledger(ledger_path)
    assert all((e.__pydantic_private__ or {})["_as_written"] for e in ledger.events)
    verification = verify_ledger(ledger)
    assert not verification.ok and verification.first_broken_seq == target
    assert verification.reason is not None
    assert verification.reason.startswith(f"payload of seq {target} does not validate as 'handoff'")


def test_integers_beyond_64_bits_read_back_exactly_and_verify(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    big = {"count": 2**70, "negative": -(2**64), "text": "ids 123456789012345678901234"}
    with LedgerWriter(path=path, run_id="r") as writer:
        writer.append(ToolResult(tool="t", output=big, duration_ms=1.0))
        writer.append(ToolResult(tool="t", output={"small": 1}, duration_ms=2.0))
    ledger = read_ledger(path)
    verification = verify_ledger(ledger)
    assert verification.ok, verification.reason
    assert ledger.events[0].data["output"] == big
    assert isinstance(ledger.events[0].data["output"]["count"], int)


def test_lines_orjson_refuses_get_the_json_verdict(tmp_path: Path) -> None:
    path = tmp_path / "nan.jsonl"
    with LedgerWriter(path=path, run_id="r") as writer:
        writer.append(ToolResult(tool="t", output={"a": 1}, duration_ms=1.0))
        writer.append(ToolResult(tool="t", output={"a": 2}, duration_ms=1.0))
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0].replace('{"a":1}', '{"a":NaN}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(LedgerError, match=r"big.jsonl:1|nan.jsonl:1: not a ledger event: .*NaN"):
        read_ledger(path)
