"""The HAO patient folder loader, on the shared sample patient and on small synthetic folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from magentic_health.case import Case, load_case

REPORT_TYPES = {"CT", "PET", "Pathology and Cytology", "Procedures"}


def _raw_notes(hao_dir: Path) -> dict[str, dict[str, str]]:
    notes = {}
    for path in sorted((hao_dir / "clinical_notes").glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        notes[raw["id"]] = {**raw, "file": path.name}
    return notes


@pytest.fixture(scope="module")
def hao_case(hao_dir: Path) -> Case:
    return load_case(hao_dir)


def test_sixteen_notes_with_unique_ids(hao_case: Case, hao_dir: Path) -> None:
    raw = _raw_notes(hao_dir)
    ids = [doc.id for doc in hao_case.documents]
    assert len(ids) == 16 == len(raw)
    assert len(set(ids)) == 16
    assert set(ids) == set(raw)
    assert hao_case.case_id == hao_dir.name == "patient_4"


def test_every_text_equals_the_json_text_exactly(hao_case: Case, hao_dir: Path) -> None:
    raw = _raw_notes(hao_dir)
    for doc in hao_case.documents:
        assert doc.text == raw[doc.id]["text"]
        assert doc.type == raw[doc.id]["note_type"]
        assert doc.date == raw[doc.id]["date"]
        assert doc.source.endswith(f"clinical_notes/{raw[doc.id]['file']}")


def test_documents_sorted_by_date_then_id(hao_case: Case) -> None:
    keys = [(doc.date or "", doc.id) for doc in hao_case.documents]
    assert keys == sorted(keys)
    assert hao_case.documents[0].date == "2020-04-16"
    assert hao_case.documents[-1].date == "2021-03-27"


def test_kinds_reports_for_imaging_pathology_procedures(hao_case: Case) -> None:
    for doc in hao_case.documents:
        assert doc.kind == ("report" if doc.type in REPORT_TYPES else "note"), doc.type
    kinds = {doc.type: doc.kind for doc in hao_case.documents}
    assert kinds["CT"] == kinds["PET"] == "report"
    assert kinds["Progress Notes"] == "note"


def test_the_xray_image(hao_case: Case) -> None:
    assert len(hao_case.images) == 1
    image = hao_case.images[0]
    assert image.id == "x-ray.png"
    assert image.modality == "x-ray image"
    assert Path(image.path).is_file()
    assert Path(image.path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_patient_age_and_sex_from_the_notes(hao_case: Case) -> None:
    assert hao_case.patient.id == "patient_4"
    assert hao_case.patient.age == 59
    assert hao_case.patient.sex == "female"
    assert hao_case.request == "Prepare the tumor board review"
    assert hao_case.warnings == ()


def _write_note(folder: Path, note_id: str, **fields: object) -> Path:
    notes = folder / "clinical_notes"
    notes.mkdir(parents=True, exist_ok=True)
    path = notes / f"{note_id}.json"
    path.write_text(json.dumps({"id": note_id, **fields}), encoding="utf-8")
    return path


def test_text_kept_byte_for_byte(tmp_path: Path) -> None:
    text = "  Leading spaces\r\nCRLF line\t tab\n\n\u00e9 accent  \n"
    _write_note(tmp_path / "p1", "n1", date="2024-01-02", note_type="MRI Brain", text=text)
    case = load_case(tmp_path / "p1")
    assert case.documents[0].text == text
    assert case.documents[0].kind == "report"
    assert case.images == ()


def test_type_is_accepted_for_note_type(tmp_path: Path) -> None:
    _write_note(tmp_path / "p1", "n1", date="2024-01-02", type="Telephone Encounter", text="ok")
    assert load_case(tmp_path / "p1").documents[0].type == "Telephone Encounter"


def test_conflicting_sex_and_no_age_stay_unknown(tmp_path: Path) -> None:
    folder = tmp_path / "p2"
    _write_note(
        folder,
        "a",
        date="2024-01-02",
        note_type="Progress Notes",
        text="Pt is a 61 y.o. female with cough.",
    )
    _write_note(
        folder, "b", date="2024-02-02", note_type="Progress Notes", text="He is a 61-year-old man."
    )
    patient = load_case(folder).patient
    assert patient.sex is None
    assert patient.age == 61
    _write_note(
        folder,
        "c",
        date="2024-03-02",
        note_type="Progress Notes",
        text="Her mother is a 85-year-old woman.",
    )
    assert load_case(folder).patient.age is None


def test_no_stated_age(tmp_path: Path) -> None:
    _write_note(tmp_path / "p3", "a", date="2024-01-02", note_type="Progress Notes", text="Stable.")
    patient = load_case(tmp_path / "p3").patient
    assert (patient.age, patient.sex) == (None, None)


def test_missing_image_file_is_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "p4"
    _write_note(folder, "a", date="2024-01-02", note_type="CT", text="CT chest.")
    (folder / "images").mkdir()
    (folder / "images" / "metadata.json").write_text(
        json.dumps([{"filename": "ct.png", "type": "CT image"}]), encoding="utf-8"
    )
    case = load_case(folder)
    assert case.images == ()
    assert len(case.warnings) == 1 and "ct.png" in case.warnings[0]
