"""Case files (JSON/YAML naming a source) and the sample cases in ``cases/``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from magentic_health.case import find_sample_case, list_sample_cases, load_case
from magentic_health.errors import CaseError

SAMPLES = {
    "hao_patient_4": ("hao/patient_4", 16),
    "mcode_breast": ("mcode/patient_data.json", 20),
    "synthea_colon": ("synthea/Librada_Tromp_abf2707e-607b-4574-a8c2-432b213c7f0e.json", None),
    "synthea_colon_metastatic": (
        "synthea/Micah_Schinner_d4d72610-ec40-42ed-b34f-09e286181ee9.json",
        None,
    ),
    "synthea_lung_nsclc": (
        "synthea/Austin_Franecki_f23eef30-acb2-49da-8091-159b61dc1ed5.json",
        None,
    ),
    "synthea_prostate": ("synthea/Stevie_Cormier_7f4c7519-5b22-4855-812f-9e937c5a8d2f.json", None),
}


def _note_folder(folder: Path) -> Path:
    notes = folder / "clinical_notes"
    notes.mkdir(parents=True)
    note = {"id": "n1", "date": "2024-05-01", "note_type": "Progress Notes", "text": "Seen."}
    (notes / "n1.json").write_text(json.dumps(note), encoding="utf-8")
    return folder


def test_sample_cases_are_listed_and_load(data_dir: Path) -> None:
    samples = list_sample_cases()
    assert [s.name for s in samples] == sorted(SAMPLES)
    for sample in samples:
        source, count = SAMPLES[sample.name]
        assert (data_dir / source).exists()
        assert sample.description and sample.request == "Prepare the tumor board review"
        assert sample.case_id == sample.name
        case = load_case(sample.path, data_dir=data_dir)
        assert case.case_id == sample.case_id
        assert case.source == str(sample.path)
        if count is not None:
            assert len(case.documents) == count
        else:
            raw = json.loads((data_dir / source).read_text(encoding="utf-8"))
            assert case.patient.id == next(
                e["resource"]["id"]
                for e in raw["entry"]
                if e["resource"]["resourceType"] == "Patient"
            )


def test_sample_case_by_name() -> None:
    path = find_sample_case("hao_patient_4")
    assert path is not None and path.name == "hao_patient_4.yaml"
    assert find_sample_case("no_such_case") is None
    case = load_case("hao_patient_4", request="Which trials fit?")
    assert case.case_id == "hao_patient_4"
    assert case.request == "Which trials fit?"
    assert len(case.documents) == 16


def test_source_relative_to_the_case_file(tmp_path: Path) -> None:
    _note_folder(tmp_path / "patients" / "p7")
    case_file = tmp_path / "case.yaml"
    case_file.write_text("source: patients/p7\nrequest: Summarise\n", encoding="utf-8")
    case = load_case(case_file)
    assert case.case_id == "p7"
    assert case.request == "Summarise"
    assert case.documents[0].text == "Seen."
    assert load_case(case_file, request="Override").request == "Override"


def test_source_relative_to_the_data_dir(tmp_path: Path, data_dir: Path) -> None:
    case_file = tmp_path / "c.json"
    case_file.write_text(
        json.dumps(
            {"source": "mcode/patient_data.json", "case_id": "breast", "description": "mCODE"}
        ),
        encoding="utf-8",
    )
    case = load_case(case_file, data_dir=data_dir)
    assert case.case_id == "breast"
    assert case.request == "Prepare the tumor board review"
    assert case.patient.sex == "female"


def test_absolute_source_and_default_case_id(tmp_path: Path, mcode_bundle: Path) -> None:
    copy = tmp_path / "bundle_copy.json"
    shutil.copyfile(mcode_bundle, copy)
    case_file = tmp_path / "sub" / "c.yml"
    case_file.parent.mkdir()
    case_file.write_text(f"source: {json.dumps(str(copy.resolve()))}\n", encoding="utf-8")
    case = load_case(case_file)
    assert case.case_id == "bundle_copy"
    assert len(case.documents) == 20


def test_unknown_key_names_key_and_line(tmp_path: Path) -> None:
    case_file = tmp_path / "bad.yaml"
    case_file.write_text("source: x\n# a comment\nrequets: typo\n", encoding="utf-8")
    with pytest.raises(CaseError) as info:
        load_case(case_file)
    message = str(info.value)
    assert message.startswith(f"{case_file}: line 3: unknown key 'requets'")
    assert "allowed keys: case_id, description, request, source" in message


def test_custom_cases_dir(tmp_path: Path) -> None:
    (tmp_path / "b_case.yaml").write_text("source: x/y.json\n", encoding="utf-8")
    (tmp_path / "a_case.json").write_text(
        json.dumps({"source": "p9", "case_id": "A", "request": "Stage?"}), encoding="utf-8"
    )
    (tmp_path / "notes.txt").write_text("not a case", encoding="utf-8")
    samples = list_sample_cases(tmp_path)
    assert [(s.name, s.case_id, s.request) for s in samples] == [
        ("a_case", "A", "Stage?"),
        ("b_case", "y", "Prepare the tumor board review"),
    ]
    assert find_sample_case("b_case", cases_dir=tmp_path) == tmp_path / "b_case.yaml"
