"""Reading case inputs from disk with one-line ``CaseError`` messages instead of tracebacks.

Every loader reads its files through here so that a missing file, a file that is not UTF-8 or
malformed JSON is reported the same way: the file, the line and column, and what to do.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from magentic_health.errors import CaseError


def one_line(text: str) -> str:
    """``text`` with line breaks folded to spaces: error messages are one line."""
    return " ".join(text.split())


def read_text(path: Path) -> str:
    """The file's text as UTF-8, or a ``CaseError`` naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CaseError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from exc
    except OSError as exc:
        raise CaseError(
            f"{path}: cannot read the file: {one_line(exc.strerror or str(exc))}"
        ) from exc


def parse_json(text: str, *, where: Path, exact_numbers: bool = False) -> Any:
    """Parse JSON text read from ``where``.

    With ``exact_numbers`` decimals are kept as ``Decimal`` so that a rendering shows a number
    exactly as the source wrote it (``0.00001`` stays ``0.00001``, not ``1e-05``).
    """
    try:
        if exact_numbers:
            return json.loads(text, parse_float=Decimal)
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CaseError(
            f"{where}: invalid JSON at line {exc.lineno} column {exc.colno}: {one_line(exc.msg)}; "
            "fix the syntax or re-export the file"
        ) from exc
    except RecursionError as exc:
        raise CaseError(f"{where}: JSON nested too deeply to read") from exc


def read_json(path: Path, *, exact_numbers: bool = False) -> Any:
    """Read and parse a JSON file; every failure is a one-line ``CaseError``."""
    return parse_json(read_text(path), where=path, exact_numbers=exact_numbers)


def json_type_name(value: object) -> str:
    """The JSON name of a parsed value's type, for messages ("a list", "a number")."""
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float() | Decimal():
            return "a number"
        case str():
            return "a string"
        case list():
            return "a list"
        case dict():
            return "an object"
        case _:
            return type(value).__name__
