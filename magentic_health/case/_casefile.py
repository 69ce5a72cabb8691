"""Case files: a small JSON or YAML object naming a patient folder or bundle plus the request.

```yaml
case_id: hao_patient_4                 # optional; default: the folder name or bundle stem
description: NSCLC, KRAS G12C ...      # optional; shown by ``magentic-health cases``
request: Prepare the tumor board review  # optional; this is the default
source: hao/patient_4                  # absolute, or relative to this file's folder,
                                       # else relative to the data directory
```

Errors name the file and, where the key is found, its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from magentic_health._data import resolve_data_dir
from magentic_health.case._jsonio import json_type_name, one_line, parse_json, read_text
from magentic_health.errors import CaseError, InputError

DEFAULT_REQUEST = "Prepare the tumor board review"
YAML_SUFFIXES = (".yaml", ".yml")
CASE_FILE_SUFFIXES = (".json", *YAML_SUFFIXES)


class CaseFileSpec(BaseModel):
    """The keys a case file may hold."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    source: str = Field(min_length=1)
    request: str | None = Field(default=None, min_length=1)
    case_id: str | None = Field(default=None, min_length=1)
    description: str | None = None


_ALLOWED = ", ".join(sorted(CaseFileSpec.model_fields))


@dataclass(frozen=True)
class CaseFile:
    """A parsed case file and the line each top-level key is on (for messages)."""

    path: Path
    spec: CaseFileSpec
    lines: dict[str, int]

    def at(self, key: str) -> str:
        """``"line N: "`` for ``key`` when known, else ``""``."""
        line = self.lines.get(key)
        return f"line {line}: " if line else ""

    def default_case_id(self) -> str:
        """The case id when the file gives none: the source folder name or bundle stem."""
        source = Path(self.spec.source)
        return source.stem if source.suffix.lower() == ".json" else source.name


def read_case_file(path: Path, parsed_json: Any = None) -> CaseFile:
    """Read and validate a case file (``parsed_json``: the JSON already parsed, if it is JSON)."""
    if path.suffix.lower() in YAML_SUFFIXES:
        raw, lines = _read_yaml(path)
    else:
        text = read_text(path)
        raw = parse_json(text, where=path) if parsed_json is None else parsed_json
        lines = _json_key_lines(text)
    if raw is None:
        raise CaseError(f"{path}: the file is empty; give at least 'source: <folder or bundle>'")
    if not isinstance(raw, dict):
        raise CaseError(
            f"{path}: expected a mapping with keys {_ALLOWED}, got {json_type_name(raw)}"
        )
    try:
        spec = CaseFileSpec.model_validate(raw)
    except ValidationError as exc:
        raise CaseError(_validation_message(path, raw, lines, exc)) from exc
    return CaseFile(path=path, spec=spec, lines=lines)


def resolve_source(case_file: CaseFile, data_dir: Path | None) -> Path:
    """The folder or bundle a case file names: absolute, beside the file, or in the data dir."""
    source = Path(case_file.spec.source).expanduser()
    if source.is_absolute():
        places = [source]
        looked = "as an absolute path"
    else:
        places = [case_file.path.parent / source]
        data, why = _data_dir(data_dir)
        if data is not None:
            places.append(data / source)
        looked = f"in {case_file.path.parent} and " + (str(data) if data else why)
    for place in places:
        if place.exists():
            return place
    raise CaseError(
        f"{case_file.path}: {case_file.at('source')}source {case_file.spec.source!r} not found "
        f"(looked {looked}); give a path relative to the case file's folder or to the data "
        "directory (--data-dir)"
    )


def _data_dir(explicit: Path | None) -> tuple[Path | None, str]:
    try:
        return resolve_data_dir(explicit), ""
    except InputError as exc:
        return None, f"no data directory ({exc})"


def _read_yaml(path: Path) -> tuple[Any, dict[str, int]]:
    text = read_text(path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise CaseError(
            f"{path}: invalid YAML{where}: {one_line(problem)}; fix the syntax"
        ) from exc
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, _value in node.value:
            if isinstance(key, yaml.ScalarNode):
                lines.setdefault(str(key.value), key.start_mark.line + 1)
    return raw, lines


_JSON_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:')


def _json_key_lines(text: str) -> dict[str, int]:
    """The line of the first ``"key":`` for each key (case files are flat objects)."""
    lines: dict[str, int] = {}
    for match in _JSON_KEY.finditer(text):
        lines.setdefault(match.group(1), text.count("\n", 0, match.start()) + 1)
    return lines


def _validation_message(
    path: Path, raw: dict[str, Any], lines: dict[str, int], exc: ValidationError
) -> str:
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    error = errors[0]
    key = str(error["loc"][0]) if error["loc"] else ""
    at = f"line {lines[key]}: " if key in lines else ""
    if error["type"] == "extra_forbidden":
        problem = f"unknown key {key!r}; allowed keys: {_ALLOWED}"
    elif error["type"] == "missing":
        problem = f"key {key!r} missing; name the HAO patient folder or FHIR bundle to load"
    else:
        value = raw.get(key)
        got = repr(value) if isinstance(value, str) else json_type_name(value)
        kind = "a string" if key == "description" else "a non-empty string"
        problem = f"key {key!r} must be {kind}, got {got}"
    return f"{path}: {at}{problem}"
