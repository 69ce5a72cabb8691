"""The canonical encoding (fast path and fallback) writes exactly DESIGN's bytes."""

from __future__ import annotations

import json
import random
from datetime import datetime
from typing import Any

import pytest

from magentic_health.trace._canonical import canonical_bytes, canonical_json


def design(obj: Any) -> bytes:
    """DESIGN section 6, written out here so the test does not trust the module."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


VALUES: list[Any] = [
    {"b": 1, "a": {"é": 1, "e": 2, "Z": 3, "\U0001f600": 4, "\uffff": 5, "\ue000": 6}},
    {"text": 'line\nbreak\ttab "quoted" back\\slash \x00\x1f\x7f \u2028 — µg/m²'},
    {"uuid": "4a16150f-c95e-47cd-81a4-785114a9e6e1", "ref": "Observation/576e8b5e-4f9e-418c"},
    {"tiny": 1e-05, "tinier": [2.5e-07, -3.4897166100465444e-08], "small": 0.0001},
    {"big": 1e16, "huge": 1.2345678901234568e17, "max": 1e308, "neg": -0.0, "one": 1.0},
    {"mixed": [1, 2.5, "x", None, True, False, {"k": []}]},
    {"int64": 2**63 - 1, "beyond": 2**70, "negative": -(2**64)},
    {"text that looks numeric": "ratio 1e-5, then 0.00001]"},
    [{"z": 1}, {"a": 2}],
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_matches_design_bytes(value: Any) -> None:
    assert canonical_bytes(value) == design(value)
    assert canonical_json(value) == design(value).decode()


def test_non_string_keys_fall_back_to_json() -> None:
    assert canonical_bytes({2: "b", 1: "a"}) == b'{"1":"a","2":"b"}'


def test_random_floats_match_design() -> None:
    rng = random.Random(7)
    values = [rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30) for _ in range(2000)]
    for v in values:
        assert canonical_bytes({"v": v}) == design({"v": v}), v


def test_non_finite_floats_become_null_on_both_paths() -> None:
    assert canonical_bytes({"a": float("nan")}) == b'{"a":null}'
    # a tiny float sends the event down the json path, which must agree
    assert canonical_bytes({"a": float("inf"), "b": 1e-05}) == b'{"a":null,"b":1e-05}'


def test_types_json_cannot_encode_still_fail() -> None:
    with pytest.raises(TypeError):
        canonical_bytes({"when": datetime(2024, 1, 1)})
