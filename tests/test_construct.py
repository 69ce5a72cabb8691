"""Trusted construction: the same instance ``model_construct`` builds, for less."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from magentic_health._construct import construct_trusted
from magentic_health.team import CheckpointUpdate
from magentic_health.trace import CheckpointEvent, LedgerEvent


def _envelope() -> dict[str, object]:
    return {
        "v": 1,
        "seq": 3,
        "ts": "2026-01-01T00:00:00.000Z",
        "run_id": "r1",
        "type": "checkpoint",
        "agent": "Radiology",
        "step": "s2",
        "data": {"name": "grounding", "passed": False, "failures": ["findings[0]: no quote"]},
        "prev_hash": "0" * 64,
        "hash": "1" * 64,
    }


def _state(model: object) -> tuple[object, ...]:
    names = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
    return tuple(getattr(model, n) for n in names)


def test_a_ledger_event_is_built_as_model_construct_builds_it() -> None:
    payload = CheckpointEvent(name="grounding", passed=False, failures=("findings[0]: no quote",))
    expected = LedgerEvent.model_construct(**_envelope())
    expected._payload = payload
    built = construct_trusted(LedgerEvent, _envelope(), _payload=payload)
    assert _state(built) == _state(expected)
    assert built.payload() is payload
    assert built.model_dump() == expected.model_dump()
    assert LedgerEvent.model_validate(built.model_dump()) == built


def test_an_autogen_message_is_built_as_model_construct_builds_it() -> None:
    values: dict[str, object] = {
        "id": "m1",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "metadata": {},
        "type": "CheckpointUpdate",
        "source": "Orchestrator",
        "event_type": "checkpoint",
        "seq": 3,
        "run_id": "r1",
        "step": "s2",
        "data": {"name": "grounding"},
        "summary": "grounding failed",
        "models_usage": None,
    }
    built = construct_trusted(CheckpointUpdate, dict(values))
    assert _state(built) == _state(CheckpointUpdate.model_construct(**values))
    assert built.to_text() == "checkpoint [s2]: grounding failed"
    assert CheckpointUpdate.model_validate(built.model_dump()) == built


def test_a_missing_or_unknown_field_is_refused() -> None:
    values = _envelope()
    del values["hash"]
    with pytest.raises(TypeError, match=r"missing fields \['hash'\]"):
        construct_trusted(LedgerEvent, values)
    with pytest.raises(TypeError, match=r"unknown fields \['extra'\]"):
        construct_trusted(LedgerEvent, {**_envelope(), "extra": 1})
    with pytest.raises(TypeError, match="no private attributes"):
        construct_trusted(LedgerEvent, _envelope(), _nothing=1)
