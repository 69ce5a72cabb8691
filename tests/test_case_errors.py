"""Bad case input: one-line ``CaseError`` (exit 2) naming the file, the problem and the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from magentic_health.case import load_case
from magentic_health.errors import CaseError


def _error(path: Path | str, **kwargs: Any) -> str:
    """The message of the ``CaseError`` loading ``path`` raises, checked for shape."""
    with pytest.raises(CaseError) as info:
        load_case(path, **kwargs)
    assert info.value.exit_code == 2
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def _note(folder: Path, name: str, content: str) -> Path:
    notes = folder / "clinical_notes"
    notes.mkdir(parents=True, exist_ok=True)
    path = notes / name
    path.write_text(content, encoding="utf-8")
    return path


GOOD_NOTE = {"id": "n1", "date": "2024-01-02", "note_type": "Progress Notes", "text": "ok"}


def _bundle(path: Path, *resources: dict[str, Any], **extra: Any) -> Path:
    entries = [{"resource": r} for r in resources]
    path.write_text(
        json.dumps({"resourceType": "Bundle", "type": "collection", **extra, "entry": entries}),
        encoding="utf-8",
    )
    return path


PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "male"}


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "case.json"
    message = _error(missing)
    assert message.startswith(f"{missing}: no such file or folder")
    assert "HAO patient folder, a FHIR bundle .json, or a case file .json/.yaml" in message
    assert "hao_patient_4" in _error("not_a_sample")  # lists the sample names


def test_malformed_json_bundle(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "resourceType": "Bundle",\n  "entry": [,]\n}', encoding="utf-8")
    assert _error(path).startswith(f"{path}: invalid JSON at line 3 column 13: ")


def test_malformed_note_json(tmp_path: Path) -> None:
    bad = _note(tmp_path / "p", "n1.json", '{"id": "n1", "text": "unterminated}')
    message = _error(tmp_path / "p")
    assert message.startswith(f"{bad}: invalid JSON at line 1 column")


def test_note_missing_field(tmp_path: Path) -> None:
    note = {k: v for k, v in GOOD_NOTE.items() if k != "text"}
    bad = _note(tmp_path / "p", "n1.json", json.dumps(note))
    assert _error(tmp_path / "p").startswith(f"{bad}: field 'text' missing")


def test_note_field_of_wrong_type(tmp_path: Path) -> None:
    bad = _note(tmp_path / "p", "n1.json", json.dumps({**GOOD_NOTE, "text": 42}))
    assert _error(tmp_path / "p") == f"{bad}: field 'text' must be a string, got a number"


def test_note_that_is_not_an_object(tmp_path: Path) -> None:
    bad = _note(tmp_path / "p", "n1.json", json.dumps([GOOD_NOTE]))
    message = _error(tmp_path / "p")
    assert message.startswith(f"{bad}: expected a JSON object") and message.endswith("got a list")


def test_note_date_not_iso(tmp_path: Path) -> None:
    bad = _note(tmp_path / "p", "n1.json", json.dumps({**GOOD_NOTE, "date": "03/12/2021"}))
    assert _error(tmp_path / "p") == f"{bad}: field 'date' is '03/12/2021'; write it as YYYY-MM-DD"


def test_duplicate_note_ids_name_both_files(tmp_path: Path) -> None:
    first = _note(tmp_path / "p", "a.json", json.dumps(GOOD_NOTE))
    second = _note(tmp_path / "p", "b.json", json.dumps(GOOD_NOTE))
    message = _error(tmp_path / "p")
    assert str(first) in message and str(second) in message and "'n1'" in message


def test_bad_image_metadata(tmp_path: Path) -> None:
    _note(tmp_path / "p", "n1.json", json.dumps(GOOD_NOTE))
    meta = tmp_path / "p" / "images" / "metadata.json"
    meta.parent.mkdir()
    meta.write_text(json.dumps([{"filename": "x.png"}]), encoding="utf-8")
    assert _error(tmp_path / "p").startswith(f"{meta}: field 'type' missing")


def test_empty_folder_and_empty_notes(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _error(empty).startswith(f"{empty}: the folder is empty;")
    (tmp_path / "other" / "stuff").mkdir(parents=True)
    assert "not a HAO patient folder" in _error(tmp_path / "other")
    (tmp_path / "p" / "clinical_notes").mkdir(parents=True)
    message = _error(tmp_path / "p")
    assert message.startswith(f"{tmp_path / 'p' / 'clinical_notes'}: the case has no documents")


@pytest.mark.parametrize(
    ("resource", "version", "evidence"),
    [
        ({"resourceType": "ProcedureRequest", "id": "x"}, "STU3 (3.0)", "'ProcedureRequest'"),
        ({"resourceType": "MedicationOrder", "id": "x"}, "DSTU2 (1.0)", "'MedicationOrder'"),
        (
            {"resourceType": "Condition", "id": "x", "clinicalStatus": "active"},
            "STU3 (3.0)",
            "Condition.clinicalStatus as a plain code",
        ),
        (
            {"resourceType": "Encounter", "id": "x", "class": [{"code": "AMB"}]},
            "R5 (5.0)",
            "Encounter.class as a list",
        ),
        (
            {
                "resourceType": "MedicationStatement",
                "id": "x",
                "medication": {"concept": {"text": "x"}},
            },
            "R5 (5.0)",
            "CodeableReference",
        ),
    ],
)
def test_unsupported_fhir_versions(
    tmp_path: Path, resource: dict[str, Any], version: str, evidence: str
) -> None:
    path = _bundle(tmp_path / "old.json", PATIENT, resource)
    message = _error(path)
    assert message.startswith(f"{path}: unsupported FHIR version {version!r} (")
    assert evidence in message
    assert message.endswith("convert the bundle to FHIR R4 or R4B")


def test_stated_fhir_version(tmp_path: Path) -> None:
    path = _bundle(tmp_path / "r5.json", PATIENT, meta={"fhirVersion": "5.0.0"})
    assert _error(path).startswith(
        f"{path}: unsupported FHIR version 'R5 (5.0.0)' (meta.fhirVersion"
    )
    path = _bundle(tmp_path / "stu3.json", PATIENT, fhirVersion="3.0.2")
    assert "'STU3 (3.0.2)'" in _error(path)


def test_bundle_without_documents(tmp_path: Path) -> None:
    path = _bundle(tmp_path / "claims.json", {"resourceType": "Claim", "id": "c"})
    assert _error(path).startswith(f"{path}: the case has no documents")


def test_bundle_structure_errors(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "entry": {"x": 1}}), encoding="utf-8")
    assert _error(path) == f"{path}: 'entry' must be a list, got an object"
    path.write_text(json.dumps({"resourceType": "Bundle", "entry": [{"resource": {"id": "x"}}]}))
    assert _error(path).startswith(f"{path}: entry[0].resource has no 'resourceType'")
    two = _bundle(tmp_path / "two.json", PATIENT, {**PATIENT, "id": "p2"})
    assert _error(two).startswith(f"{two}: 2 Patient resources ('p1', 'p2')")


def test_json_that_is_neither_bundle_nor_case_file(tmp_path: Path) -> None:
    single = tmp_path / "patient.json"
    single.write_text(json.dumps(PATIENT), encoding="utf-8")
    assert _error(single).startswith(f"{single}: a FHIR 'Patient' resource, not a Bundle")
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]", encoding="utf-8")
    assert _error(listed).startswith(f"{listed}: expected a FHIR Bundle or a case file object")
    text = tmp_path / "case.txt"
    text.write_text("source: x", encoding="utf-8")
    assert _error(text).startswith(f"{text}: unsupported file type '.txt'")


def test_malformed_yaml_case_file(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_text("source: hao/patient_4\nrequest: [unclosed\n", encoding="utf-8")
    assert _error(path).startswith(f"{path}: invalid YAML at line 3 column 1: ")


def test_case_file_key_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_text("source: x\nrequest: 3\n", encoding="utf-8")
    assert _error(path) == (
        f"{path}: line 2: key 'request' must be a non-empty string, got a number"
    )
    path.write_text("case_id: a\n", encoding="utf-8")
    assert _error(path).startswith(f"{path}: key 'source' missing")
    path.write_text("- source: x\n", encoding="utf-8")
    assert _error(path).startswith(f"{path}: expected a mapping")
    path.write_text("", encoding="utf-8")
    assert _error(path).startswith(f"{path}: the file is empty")
    json_file = tmp_path / "case.json"
    json_file.write_text('{\n  "source": "x",\n  "sourse": "y"\n}', encoding="utf-8")
    assert _error(json_file).startswith(f"{json_file}: line 3: unknown key 'sourse'")


def test_case_file_source_missing_or_wrong(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_text("case_id: c\nsource: hao/patient_99\n", encoding="utf-8")
    message = _error(path, data_dir=data_dir)
    assert message.startswith(f"{path}: line 2: source 'hao/patient_99' not found (looked in ")
    assert str(data_dir) in message
    (tmp_path / "notes.md").write_text("# not a bundle", encoding="utf-8")
    path.write_text("source: notes.md\n", encoding="utf-8")
    assert _error(path).startswith(f"{path}: line 1: source 'notes.md' is not a FHIR Bundle")
    (tmp_path / "folder").mkdir()
    path.write_text("source: folder\n", encoding="utf-8")
    assert "is not a HAO patient folder" in _error(path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.json"
    path.write_bytes(b'{"resourceType": "Bundle", "x": "\xe9"}')
    assert _error(path).startswith(f"{path}: not UTF-8 text")
