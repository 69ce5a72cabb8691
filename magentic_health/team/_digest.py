"""Stable digests of what a run depends on, recorded in ``run_started``."""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import metadata
from typing import Any

from pydantic import BaseModel

from magentic_health.case import Case

_PACKAGES = (
    "magentic-health",
    "autogen-agentchat",
    "autogen-core",
    "autogen-ext",
    "openai",
    "pydantic",
)


_MEMO: dict[int, tuple[Any, str]] = {}
_MEMO_SIZE = 32


def digest(model: BaseModel) -> str:
    """sha256 of the model's canonical JSON (keys sorted, compact, UTF-8).

    Cases and configurations are frozen, so a digest is remembered for the last few objects
    (keyed by identity, holding the object so the identity stays valid)."""
    known = _MEMO.get(id(model))
    if known is not None and known[0] is model and model.model_config.get("frozen"):
        return known[1]
    data = json.dumps(
        model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    result = "sha256:" + hashlib.sha256(data.encode("utf-8")).hexdigest()
    _remember(id(model), (model, result))
    return result


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for name in _PACKAGES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            found.append((name, "not installed"))
    return tuple(found)


def case_digest(case: Case) -> str:
    """The case's digest: its documents (digested once per documents tuple, which copies of a
    case with another request share) and its other fields."""
    docs = _MEMO.get(id(case.documents))
    if docs is None or docs[0] is not case.documents:
        text = json.dumps(
            [d.model_dump(mode="json") for d in case.documents],
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        docs = (case.documents, hashlib.sha256(text.encode("utf-8")).hexdigest())
        _remember(id(case.documents), docs)
    rest = json.dumps(
        case.model_dump(mode="json", exclude={"documents"}),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(f"{docs[1]}{rest}".encode()).hexdigest()


def _remember(key: int, value: tuple[Any, str]) -> None:
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.pop(next(iter(_MEMO)))
    _MEMO[key] = value


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a run's behaviour depends on (read once a process)."""
    return dict(_versions())
