"""Canonical JSON: the exact bytes a ledger hash is taken over (DESIGN section 6).

DESIGN defines them as the UTF-8 of Python's ``json.dumps(e, sort_keys=True,
separators=(",", ":"), ensure_ascii=False)``. orjson writes the same bytes for strings (every
escape), integers, booleans, null and key order, several times faster; ledgers are mostly tool
outputs and model replies, so this encoding is most of what writing and verifying a ledger costs.

orjson departs from ``json`` in four places, each sent to ``json`` instead:
- a float of magnitude below 1e-4 (``json`` writes ``1e-05`` and ``2.5e-07``, orjson ``0.00001``
  and ``2.5e-7``): its output is checked for those two forms (a cheap byte search; a false alarm
  in a string only costs the slow path);
- an integer beyond 64 bits, a non-string key, a type ``json`` cannot encode: orjson raises.
NaN and infinities, which ``json`` would write as the non-JSON ``NaN``, are written as ``null``
(the ledger reader refuses ``NaN``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import orjson

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
"""Datetimes and dataclasses are passed to ``default`` (which has none), so they fail as they
would in ``json`` instead of being encoded in orjson's own way."""

_TINY_EXPONENT = re.compile(rb"e-\d+[,\]}]")
"""A negative exponent ending a number (a number is followed by ``,`` ``]`` or ``}``); uuids
(``...5e-47cd...``) never match."""


def canonical_bytes(obj: Mapping[str, Any] | list[Any]) -> bytes:
    """The canonical JSON of ``obj`` as UTF-8 bytes."""
    try:
        out = orjson.dumps(obj, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: too large an int, a non-str key, ...
        return _slow(obj)
    if b"0.0000" in out or (b"e-" in out and _TINY_EXPONENT.search(out) is not None):
        return _slow(obj)
    return out


def canonical_json(obj: Mapping[str, Any] | list[Any]) -> str:
    """The canonical JSON of ``obj`` as text."""
    return canonical_bytes(obj).decode("utf-8")


def _slow(obj: Mapping[str, Any] | list[Any]) -> bytes:
    try:
        text = _dumps(obj)
    except ValueError:  # NaN or an infinity: null, as on the fast path (values kept exactly)
        text = _dumps(orjson.loads(orjson.dumps(obj, option=_OPTIONS)))
    return text.encode("utf-8")


def _dumps(obj: Any) -> str:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
