"""``load_case``: one entry point for every kind of case input (DESIGN section 2).

It decides what a path is (a HAO patient folder, a FHIR bundle, a case file, or the name of a
sample case) and hands it to the right loader. Bad input is a one-line ``CaseError`` (exit 2).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeGuard

from pydantic import ValidationError

from magentic_health.case._casefile import (
    DEFAULT_REQUEST,
    YAML_SUFFIXES,
    read_case_file,
    resolve_source,
)
from magentic_health.case._fhir import load_bundle
from magentic_health.case._hao import is_hao_folder, load_hao_folder
from magentic_health.case._jsonio import json_type_name, one_line, read_json
from magentic_health.case._models import Case
from magentic_health.case._samples import find_sample_case, sample_case_names
from magentic_health.errors import CaseError

_WHAT_TO_PASS = "pass a HAO patient folder, a FHIR bundle .json, or a case file .json/.yaml"


def load_case(
    path: str | os.PathLike[str], *, request: str | None = None, data_dir: Path | None = None
) -> Case:
    """Load the case at ``path``: a HAO patient folder, a FHIR R4/R4B bundle, a case file, or
    the name of a sample case (see ``list_sample_cases``).

    ``request`` replaces the case file's request (default "Prepare the tumor board review");
    ``data_dir`` is where a case file's relative source is looked up after the file's folder.
    """
    target = _locate(path)
    try:
        case = _load_target(target, data_dir)
    except ValidationError as exc:  # a loader let through a value our models refuse
        error = exc.errors()[0]
        where = "".join(f"{part}: " for part in error["loc"][:1])
        raise CaseError(f"{target}: {where}{one_line(error['msg'])}") from exc
    return case.with_request(request) if request is not None else case


def _load_target(target: Path, data_dir: Path | None) -> Case:
    if target.is_dir():
        return _load_folder(target)
    if target.suffix.lower() in YAML_SUFFIXES:
        return _load_case_file(target, None, data_dir)
    if target.suffix.lower() == ".json":
        return _load_json(target, data_dir)
    raise CaseError(f"{target}: unsupported file type {target.suffix!r}; {_WHAT_TO_PASS}")


def _locate(path: str | os.PathLike[str]) -> Path:
    given = Path(path)
    if given.exists():
        return given
    name = os.fspath(path)
    if name and not given.suffix and len(given.parts) == 1:
        sample = find_sample_case(name)
        if sample is not None:
            return sample
    names = sample_case_names()
    samples = f", or a sample case name ({', '.join(names)})" if names else ""
    raise CaseError(f"{name}: no such file or folder; {_WHAT_TO_PASS}{samples}")


def _load_folder(folder: Path) -> Case:
    if is_hao_folder(folder):
        return load_hao_folder(folder)
    if not any(folder.iterdir()):
        raise CaseError(f"{folder}: the folder is empty; {_WHAT_TO_PASS}")
    raise CaseError(
        f"{folder}: not a HAO patient folder (no clinical_notes/ inside); {_WHAT_TO_PASS}"
    )


def _load_json(path: Path, data_dir: Path | None) -> Case:
    raw = read_json(path, exact_numbers=True)
    if _is_bundle(raw):
        return load_bundle(path, raw)
    if isinstance(raw, dict) and "resourceType" in raw:
        raise CaseError(
            f"{path}: a FHIR {raw['resourceType']!r} resource, not a Bundle; "
            "put the patient's resources in a Bundle"
        )
    if isinstance(raw, dict):
        return _load_case_file(path, raw, data_dir)
    raise CaseError(
        f"{path}: expected a FHIR Bundle or a case file object, got {json_type_name(raw)}; "
        f"{_WHAT_TO_PASS}"
    )


def _is_bundle(raw: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(raw, dict) and raw.get("resourceType") == "Bundle"


def _load_case_file(path: Path, parsed: Any, data_dir: Path | None) -> Case:
    case_file = read_case_file(path, parsed)
    source = resolve_source(case_file, data_dir)
    if source.is_dir():
        if not is_hao_folder(source):
            raise CaseError(
                f"{path}: {case_file.at('source')}source {case_file.spec.source!r} is not a HAO "
                "patient folder (no clinical_notes/ inside); name a HAO folder or a FHIR bundle"
            )
        case = load_hao_folder(source)
    else:
        raw = read_json(source, exact_numbers=True) if source.suffix.lower() == ".json" else None
        if not _is_bundle(raw):
            raise CaseError(
                f"{path}: {case_file.at('source')}source {case_file.spec.source!r} is not a FHIR "
                "Bundle .json; a case file names a HAO patient folder or a FHIR bundle"
            )
        case = load_bundle(source, raw)
    return case.model_copy(
        update={
            "case_id": case_file.spec.case_id or case.case_id,
            "request": case_file.spec.request or DEFAULT_REQUEST,
            "source": str(path),
        }
    )
