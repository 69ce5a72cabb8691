"""Reading a model's answer: exactly one JSON object, validated against its answer model.

Prose or a fenced block around the object is accepted; two or more objects are an error (which
one would be meant?). Errors are short lines that name the key path, e.g.
``plan[2].agent: missing key``, so they can be quoted back to the model.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)
_DECODER = json.JSONDecoder()
MAX_ERRORS = 10


class AnswerError(Exception):
    """An answer that cannot be used; ``errors`` are the lines to quote back."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def json_objects(text: str) -> list[str]:
    """The top-level JSON objects in ``text``, in order (nested objects are part of theirs)."""
    found: list[str] = []
    i = text.find("{")
    while i != -1:
        try:
            value, end = _DECODER.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        if isinstance(value, dict):
            found.append(text[i:end])
        i = text.find("{", end)
    return found


def extract_json_object(text: str) -> str:
    """The one JSON object in ``text``; raises ``AnswerError`` for none or several."""
    objects = json_objects(text)
    if not objects:
        raise AnswerError(["no JSON object found; answer with exactly one JSON object"])
    if len(objects) > 1:
        raise AnswerError(
            [f"found {len(objects)} JSON objects; answer with exactly one JSON object"]
        )
    return objects[0]


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(answer)"


def _line(error: Any) -> str:
    path = _path(tuple(error["loc"]))
    kind = error["type"]
    if kind == "missing":
        return f"{path}: missing key"
    if kind == "extra_forbidden":
        return f"{path}: unknown key; remove it"
    if kind == "bool_type":
        return f"{path}: got {error['input']!r}; a boolean must be JSON true or false, not a string"
    got = error.get("input")
    shown = repr(got) if isinstance(got, str | int | float | bool) or got is None else type(got)
    shown_text = shown if isinstance(shown, str) else shown.__name__
    return f"{path}: {error['msg']} (got {shown_text})"


def validation_lines(exc: ValidationError) -> list[str]:
    """One line per pydantic error, at most ``MAX_ERRORS`` plus a count of the rest."""
    lines = [_line(e) for e in exc.errors()]
    if len(lines) > MAX_ERRORS:
        lines = [*lines[:MAX_ERRORS], f"... and {len(lines) - MAX_ERRORS} more error(s)"]
    return lines


def parse_answer(text: str, model: type[T]) -> T:
    """The answer in ``text`` as ``model``; raises ``AnswerError`` with the lines to quote."""
    obj = extract_json_object(text)
    try:
        return model.model_validate_json(obj)
    except ValidationError as exc:
        raise AnswerError(validation_lines(exc)) from exc
