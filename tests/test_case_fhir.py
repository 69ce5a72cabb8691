"""The FHIR bundle loader on the shared Synthea and mCODE bundles and on synthetic bundles."""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from magentic_health.case import Case, load_case

# The resource types the brief says become documents (Patient too), stated independently here.
INCLUDED = {
    "Patient",
    "Condition",
    "Observation",
    "Procedure",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "DiagnosticReport",
    "DocumentReference",
    "Encounter",
    "CarePlan",
    "Immunization",
    "AllergyIntolerance",
    "ImagingStudy",
    "Specimen",
    "Goal",
}

# From the data README's Synthea table: sex, birth year, death year, cancer display.
SYNTHEA = {
    "Austin_Franecki": ("male", "1920", "1989", "Non-small cell carcinoma of lung, TNM stage 1"),
    "Librada_Tromp": ("female", "1959", None, "Overlapping malignant neoplasm of colon"),
    "Micah_Schinner": ("male", "1959", "2020", "Secondary malignant neoplasm of colon"),
    "Stevie_Cormier": ("male", "1920", "1987", "Carcinoma in situ of prostate"),
}


def _raw(path: Path) -> dict[str, Any]:
    # parse_float=str keeps every number exactly as the file writes it
    return json.loads(path.read_text(encoding="utf-8"), parse_float=str)


def _resources(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in raw["entry"]]


def _expected_ids(raw: dict[str, Any]) -> set[str]:
    return {
        f"{r['resourceType']}/{r['id']}" for r in _resources(raw) if r["resourceType"] in INCLUDED
    }


def _years(born: str, until: str) -> int:
    b, u = date.fromisoformat(born[:10]), date.fromisoformat(until[:10])
    return u.year - b.year - ((u.month, u.day) < (b.month, b.day))


@pytest.fixture(scope="module")
def synthea_cases(synthea_bundles: list[Path]) -> dict[str, tuple[Case, dict[str, Any]]]:
    assert len(synthea_bundles) == 4
    return {p.name: (load_case(p), _raw(p)) for p in synthea_bundles}


@pytest.mark.parametrize("stem", sorted(SYNTHEA))
def test_synthea_patient(stem: str, synthea_cases: dict[str, tuple[Case, dict[str, Any]]]) -> None:
    ((case, raw),) = [v for k, v in synthea_cases.items() if k.startswith(stem)]
    sex, born, died, _ = SYNTHEA[stem]
    patient_raw = next(r for r in _resources(raw) if r["resourceType"] == "Patient")
    patient = case.patient
    assert patient.sex == sex
    assert patient.birth_date == patient_raw["birthDate"] and patient.birth_date.startswith(born)
    assert patient.id == patient_raw["id"]
    assert (
        patient.name == f"{patient_raw['name'][0]['given'][0]} {patient_raw['name'][0]['family']}"
    )
    assert case.documents[0].id == f"Patient/{patient_raw['id']}"
    assert f"Gender: {sex}" in case.documents[0].text
    if died is None:
        assert patient.deceased_date is None
        latest = max(d.date for d in case.documents if d.date)
        assert patient.age == _years(patient.birth_date, latest)
    else:
        assert patient.deceased_date is not None and patient.deceased_date.startswith(died)
        assert patient.age == _years(patient.birth_date, patient.deceased_date)


@pytest.mark.parametrize("stem", sorted(SYNTHEA))
def test_synthea_documents(
    stem: str, synthea_cases: dict[str, tuple[Case, dict[str, Any]]]
) -> None:
    ((case, raw),) = [v for k, v in synthea_cases.items() if k.startswith(stem)]
    ids = [d.id for d in case.documents]
    assert len(ids) == len(set(ids))
    assert set(ids) == _expected_ids(raw)
    assert len(ids) == sum(1 for r in _resources(raw) if r["resourceType"] in INCLUDED)
    assert {d.kind for d in case.documents} == {"fhir"}
    for doc in case.documents:
        assert doc.text.startswith(f"{doc.type}: ")
        assert doc.id.startswith(f"{doc.type}/")
    cancer = SYNTHEA[stem][3]
    conditions = [d for d in case.documents if d.type == "Condition" and cancer in d.text]
    assert conditions, cancer
    assert conditions[0].text.splitlines()[0].startswith(f"Condition: {cancer}")
    claims = sum(1 for r in _resources(raw) if r["resourceType"] == "Claim")
    assert any(f"Claim {claims}" in w for w in case.warnings)


@pytest.mark.parametrize("stem", sorted(SYNTHEA))
def test_synthea_dates(stem: str, synthea_cases: dict[str, tuple[Case, dict[str, Any]]]) -> None:
    ((case, raw),) = [v for k, v in synthea_cases.items() if k.startswith(stem)]
    docs = {d.id: d for d in case.documents}
    for r in _resources(raw):
        rid = f"{r['resourceType']}/{r['id']}"
        if r["resourceType"] == "Condition":
            assert docs[rid].date == r["onsetDateTime"][:10]
            assert f"Onset: {r['onsetDateTime']}" in docs[rid].text
        elif r["resourceType"] == "Encounter":
            assert docs[rid].date == r["period"]["start"][:10]
        elif r["resourceType"] == "MedicationRequest":
            assert docs[rid].date == r["authoredOn"][:10]
            med = r["medicationCodeableConcept"]["coding"][0]
            assert f"Code: {med['display']} (RxNorm {med['code']})" in docs[rid].text
    dated = [d.date for d in case.documents[1:] if d.date]
    assert dated == sorted(dated)


@pytest.mark.parametrize("stem", sorted(SYNTHEA))
def test_diagnostic_report_results_resolve(
    stem: str, synthea_cases: dict[str, tuple[Case, dict[str, Any]]]
) -> None:
    ((case, raw),) = [v for k, v in synthea_cases.items() if k.startswith(stem)]
    by_url = {e["fullUrl"]: e["resource"] for e in raw["entry"]}
    reports = [r for r in _resources(raw) if r["resourceType"] == "DiagnosticReport"]
    assert reports
    checked = 0
    for report in reports:
        text = case.document(f"DiagnosticReport/{report['id']}").text  # type: ignore[union-attr]
        for ref in report["result"]:
            obs = by_url[ref["reference"]]
            if "valueQuantity" in obs:
                q = obs["valueQuantity"]
                assert f"Result: {obs['code']['text']}: {q['value']} {q['unit']}" in text
                checked += 1
    assert checked > 0


def test_austin_lung_cancer_code_line(
    synthea_cases: dict[str, tuple[Case, dict[str, Any]]],
) -> None:
    ((case, _),) = [v for k, v in synthea_cases.items() if k.startswith("Austin")]
    code = "Code: Non-small cell carcinoma of lung, TNM stage 1 (disorder) (SNOMED 424132000)"
    assert sum(code in d.text for d in case.documents) == 1
    meds = " ".join(d.text for d in case.documents if d.type == "MedicationRequest")
    assert "Cisplatin" in meds and "PACLitaxel" in meds


def test_largest_bundle_loads(synthea_bundles: list[Path]) -> None:
    largest = max(synthea_bundles, key=lambda p: p.stat().st_size)
    assert largest.stat().st_size > 2_500_000
    case = load_case(largest)  # its time is measured by scripts/bench_tools.py
    assert len(case.documents) > 400


def test_loading_is_deterministic(synthea_bundles: list[Path]) -> None:
    path = synthea_bundles[1]
    assert load_case(path) == load_case(path)


# ---- mCODE ----


@pytest.fixture(scope="module")
def mcode_case(mcode_bundle: Path) -> Case:
    return load_case(mcode_bundle)


def test_mcode_breast_cancer_condition(mcode_case: Case) -> None:
    doc = mcode_case.document("Condition/4dee068c-5ffe-4977-8677-4ff9b518e763")
    assert doc is not None
    lines = doc.text.splitlines()
    assert lines[0] == "Condition: Malignant neoplasm of breast (disorder)"
    assert "Code: Malignant neoplasm of breast (disorder) (SNOMED 254837009)" in lines
    assert "Stage: Stage 3A (qualifier value)" in lines
    assert (
        "Extension: mcode-histology-morphology-behavior: Malignant Neoplasm (Morphology)" in lines
    )
    assert "Profile: mcode-primary-cancer-condition, us-core-condition" in lines
    assert doc.date == "2017-07-21"
    assert sum("Stage 3A" in d.text for d in mcode_case.documents) >= 2


def test_mcode_tumour_markers_render_both_values(mcode_case: Case) -> None:
    her2 = [d for d in mcode_case.documents if d.text.startswith("Observation: HER2 Receptor\n")]
    assert len(her2) == 2
    for doc in her2:
        assert "Value: Positive (qualifier value)" in doc.text.splitlines()
    texts = {d.id: d.text.splitlines() for d in her2}
    assert "Value: 3" in texts["Observation/95d74cb0-15d5-44dd-a289-b622bfed80be"]
    assert "Value: >=1/>=100" in texts["Observation/79930cdd-7eb4-44e3-8e5e-f45892813d04"]
    er = mcode_case.document("Observation/576e8b5e-4f9e-418c-842b-f86d6e7ce795")
    assert er is not None and er.text.startswith("Observation: Estrogen Receptor")
    assert "Value: >=10 %" in er.text.splitlines()
    assert any("more than one value[x]" in w for w in mcode_case.warnings)


def test_mcode_duplicates_kept_once_with_a_warning(mcode_case: Case, mcode_bundle: Path) -> None:
    raw = _raw(mcode_bundle)
    keys = [f"{r['resourceType']}/{r['id']}" for r in _resources(raw)]
    repeated = {k for k in keys if keys.count(k) > 1}
    assert len(repeated) == 5
    ids = [d.id for d in mcode_case.documents]
    assert len(ids) == len(set(ids)) == len(set(keys)) == 20
    (warning,) = [w for w in mcode_case.warnings if "duplicate" in w]
    assert "5 identical" in warning
    for key in repeated:
        assert key in warning


def test_mcode_variant_and_performance_status(mcode_case: Case) -> None:
    variant = mcode_case.document("Observation/6556b6b3-678c-4fd6-9309-8df77xxxxxxx")
    assert variant is not None
    assert "Component: LOINC 48018-6: HGNC HGNC:11389" in variant.text.splitlines()
    ecog = mcode_case.document("Observation/mCODEECOGPerformanceStatusExample")
    assert ecog is not None
    assert "Value: 3" in ecog.text.splitlines()
    assert "ECOG Performance Status score" in ecog.text  # from the narrative
    assert mcode_case.patient.sex == "female"
    assert mcode_case.patient.birth_date == "1966-08-03"


# ---- synthetic bundles ----


def _write_bundle(path: Path, *resources: dict[str, Any], **extra: Any) -> Path:
    entries = [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]
    path.write_text(
        json.dumps({"resourceType": "Bundle", "type": "collection", **extra, "entry": entries}),
        encoding="utf-8",
    )
    return path


PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "gender": "female",
    "birthDate": "1970-05-01",
    "name": [{"given": ["Ann", "B"], "family": "Lee"}],
    "text": {"div": "<div><p>Ann <b>Lee</b> &amp; co</p><ul><li>one</li></ul></div>"},
}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def test_attachments_become_note_and_report_text(tmp_path: Path) -> None:
    note = "Pathology: adenocarcinoma.\n  KRAS G12C detected."
    docref = {
        "resourceType": "DocumentReference",
        "id": "d1",
        "status": "current",
        "date": "2021-03-12T10:00:00Z",
        "type": {"text": "Pathology report"},
        "content": [{"attachment": {"contentType": "text/plain", "data": _b64(note)}}],
    }
    hao_style = {
        "resourceType": "DocumentReference",
        "id": "d2",
        "status": "current",
        "content": [
            {
                "attachment": {
                    "contentType": "application/json",
                    "data": _b64(json.dumps({"text": "CT: no change."})),
                }
            }
        ],
    }
    report = {
        "resourceType": "DiagnosticReport",
        "id": "r1",
        "status": "final",
        "code": {"text": "CT chest"},
        "effectiveDateTime": "2021-02-16",
        "conclusion": "Stable disease",
        "presentedForm": [{"contentType": "text/plain", "data": _b64("Impression: stable.")}],
    }
    case = load_case(_write_bundle(tmp_path / "b.json", PATIENT, docref, hao_style, report))
    d1 = case.document("DocumentReference/d1")
    assert d1 is not None and d1.kind == "note" and d1.date == "2021-03-12"
    assert d1.text.endswith("Text:\n" + note)
    d2 = case.document("DocumentReference/d2")
    assert d2 is not None and d2.text.endswith("Text:\nCT: no change.")
    r1 = case.document("DiagnosticReport/r1")
    assert r1 is not None and r1.kind == "report"
    assert "Conclusion: Stable disease" in r1.text.splitlines()
    assert r1.text.endswith("Text:\nImpression: stable.")
    patient_doc = case.document("Patient/p1")
    assert patient_doc is not None
    assert patient_doc.text.splitlines()[0] == "Patient: Ann B Lee"
    assert patient_doc.text.endswith("Narrative:\nAnn Lee & co\none")
    assert case.case_id == "b"
    assert case.patient.name == "Ann B Lee" and case.patient.age == 50


def test_value_types_references_and_exact_numbers(tmp_path: Path) -> None:
    med = {
        "resourceType": "Medication",
        "id": "m1",
        "code": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "1",
                    "display": "Adagrasib 200 MG Oral Tablet",
                }
            ]
        },
    }
    order = {
        "resourceType": "MedicationRequest",
        "id": "mr1",
        "status": "active",
        "intent": "order",
        "medicationReference": {"reference": "urn:uuid:m1"},
        "authoredOn": "2021-03-27",
        "dosageInstruction": [{"text": "600 mg twice daily"}],
    }
    obs = [
        {
            "resourceType": "Observation",
            "id": "o1",
            "status": "final",
            "code": {"text": "Tiny"},
            "effectiveDateTime": "2021",
            "valueQuantity": {"value": 0.00001, "unit": "g"},
        },
        {
            "resourceType": "Observation",
            "id": "o2",
            "status": "final",
            "code": {"text": "Range"},
            "valueRange": {"low": {"value": 5}, "high": {"value": 10, "unit": "mm"}},
        },
        {
            "resourceType": "Observation",
            "id": "o3",
            "status": "final",
            "code": {"text": "Flag"},
            "valueBoolean": False,
            "note": [{"text": "checked twice"}],
        },
        {
            "resourceType": "Observation",
            "id": "o4",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "X-1"}]},
            "valueString": "see report",
        },
    ]
    report = {
        "resourceType": "DiagnosticReport",
        "id": "r1",
        "status": "final",
        "code": {"text": "Panel"},
        "issued": "2021-01-01T00:00:00Z",
        "result": [
            {"reference": "urn:uuid:o1"},
            {"reference": "Observation/o2"},
            {"reference": "urn:uuid:gone", "display": "Lost"},
        ],
    }
    path = _write_bundle(tmp_path / "v.json", PATIENT, med, order, *obs, report)
    path.write_text(path.read_text().replace("1e-05", "0.00001"), encoding="utf-8")
    case = load_case(path)
    texts = {d.id: d.text.splitlines() for d in case.documents}
    assert texts["MedicationRequest/mr1"][0] == "MedicationRequest: Adagrasib 200 MG Oral Tablet"
    assert "Code: Adagrasib 200 MG Oral Tablet (RxNorm 1)" in texts["MedicationRequest/mr1"]
    assert "Dosage: 600 mg twice daily" in texts["MedicationRequest/mr1"]
    assert "Value: 0.00001 g" in texts["Observation/o1"]
    assert case.document("Observation/o1").date == "2021"  # type: ignore[union-attr]
    assert "Value: 5-10 mm" in texts["Observation/o2"]
    assert {"Value: false", "Note: checked twice"} <= set(texts["Observation/o3"])
    assert texts["Observation/o4"][:2] == ["Observation: LOINC X-1", "Code: LOINC X-1"]
    assert "Value: see report" in texts["Observation/o4"]
    assert texts["DiagnosticReport/r1"][-3:] == [
        "Result: Tiny: 0.00001 g",
        "Result: Range: 5-10 mm",
        "Result: Lost: (not in bundle)",
    ]
    assert "Medication/m1" not in texts
    assert any("Medication 1" in w for w in case.warnings)


def test_non_identical_duplicates_are_renamed(tmp_path: Path) -> None:
    a = {"resourceType": "Condition", "id": "c1", "code": {"text": "Lung cancer"}}
    b = {"resourceType": "Condition", "id": "c1", "code": {"text": "Breast cancer"}}
    case = load_case(_write_bundle(tmp_path / "d.json", PATIENT, a, b, a))
    assert [d.id for d in case.documents if d.type == "Condition"] == [
        "Condition/c1",
        "Condition/c1#2",
    ]
    assert case.document("Condition/c1#2").text.startswith("Condition: Breast cancer")  # type: ignore[union-attr]
    (warning,) = [w for w in case.warnings if "duplicate" in w]
    assert "1 identical" in warning and "Condition/c1#2" in warning


def test_renamed_ids_never_collide(tmp_path: Path) -> None:
    a = {"resourceType": "Condition", "id": "c1", "code": {"text": "A"}}
    b = {"resourceType": "Condition", "id": "c1", "code": {"text": "B"}}
    c = {"resourceType": "Condition", "id": "c1#2", "code": {"text": "C"}}
    case = load_case(_write_bundle(tmp_path / "d.json", PATIENT, a, b, c))
    ids = {d.id: d.text.splitlines()[0] for d in case.documents if d.type == "Condition"}
    assert ids == {
        "Condition/c1": "Condition: A",
        "Condition/c1#3": "Condition: B",
        "Condition/c1#2": "Condition: C",
    }


def test_r4b_version_is_accepted(tmp_path: Path) -> None:
    path = _write_bundle(tmp_path / "r4b.json", PATIENT, meta={"fhirVersion": "4.3.0"})
    assert load_case(path).patient.id == "p1"
