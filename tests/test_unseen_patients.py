"""The patient tools on small synthetic patients unlike the shared data: other cancers, other
writing styles and date formats, negated findings, and an mCODE FHIR bundle with TNM category
Observations loaded through the real loader.

Each case checks the values a clinician would read off the text, that negated findings stay
negated, that nothing absent is invented, and that every quote occurs verbatim in its document.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _quotes import assert_quotes_in_documents, case_of, evidence_in_data, note, run_tool

from magentic_health.case import Case, load_case
from magentic_health.tools.radiology import SPEC as RADIOLOGY
from magentic_health.tools.radiology import radiology
from magentic_health.tools.status import SPEC as STATUS
from magentic_health.tools.status import PatientStatus, patient_status
from magentic_health.tools.timeline import SPEC as TIMELINE
from magentic_health.tools.timeline import Timeline, patient_timeline

MELANOMA = (
    "72 yo male with metastatic melanoma, stage IV (M1c), BRAF V600E mutation detected. ECOG 0."
)
BREAST = (
    "58-year-old woman with invasive ductal carcinoma of the left breast, grade 2.\n"
    "ER+/PR-/HER2 2+, FISH negative. Ki-67 20%.\n"
    "Clinical stage IIA (cT2N0M0)."
)
COLON = (
    "Sigmoid colon adenocarcinoma, pT3N1bM0, stage IIIB. KRAS G12D mutation; NRAS and BRAF "
    "wild-type. MSI-high, dMMR.\nPlan: adjuvant FOLFOX for 6 months, to start 03/01/2023."
)
PROSTATE = (
    "68 yo man. PSA 12.4 ng/mL on 03/14/2022. Prostate MRI on March 21, 2022 showed a PI-RADS 5 "
    "lesion in the left peripheral zone. Biopsy on March 28, 2022: prostate adenocarcinoma, "
    "Gleason 4+3=7 (Grade Group 3). Started leuprolide and abiraterone on 04/20/2022."
)
PANCREAS = (
    "Pancreatic ductal adenocarcinoma of the pancreatic head with liver metastases. "
    "CA 19-9 was 850 U/mL. Started FOLFIRINOX 5/2/2023."
)
SCLC = (
    "Extensive-stage small cell lung cancer diagnosed 11/02/2021. Started carboplatin, etoposide "
    "and atezolizumab on 11/15/2021. ECOG 1."
)
NEGATED = (
    "CT chest/abdomen/pelvis on 2022-01-10: 2.1 cm right upper lobe mass. No evidence of "
    "metastatic disease. There is no history of breast cancer.\n"
    "Assessment: lung adenocarcinoma, stage IB. Liver biopsy negative for malignancy."
)


def _one_note(text: str, date: str = "2022-05-02") -> Case:
    return case_of(note("n1", date, text))


def _marker(status: PatientStatus, name: str) -> str:
    found = {b.name: b.result for b in status.biomarkers}
    assert name in found, f"no {name} in {found}"
    return found[name]


def _grounded(case: Case, data_dir: Path) -> None:
    """Every quote of every patient tool's findings and data occurs in its document."""
    for spec in (STATUS, TIMELINE, RADIOLOGY):
        out = run_tool(spec, case, data_dir)
        quotes = [e for f in out.findings for e in f.evidence] + list(evidence_in_data(out.data))
        assert_quotes_in_documents(case, quotes)


def _events(timeline: Timeline) -> list[tuple[str, str]]:
    return [(e.date, e.category) for e in timeline.events]


def test_metastatic_melanoma(data_dir: Path) -> None:
    case = _one_note(MELANOMA)
    status = patient_status(case)
    assert status.diagnosis is not None and status.diagnosis.value == "melanoma"
    assert status.stage_group is not None and status.stage_group.value == "IV"
    assert _marker(status, "BRAF") == "p.V600E"
    assert status.performance_status is not None
    assert status.performance_status.value == "ECOG 0"
    assert (status.age, status.sex) == (72, "male")
    # nothing the note does not say: no TNM, no primary site, no treatment, no course
    assert status.stage_tnm is None and status.primary_site is None
    assert status.treatments == () and status.disease_status is None and status.vital_status is None
    assert [b.name for b in status.biomarkers] == ["BRAF"]
    _grounded(case, data_dir)


def test_breast_receptors_her2_equivocal_resolved_by_fish(data_dir: Path) -> None:
    case = _one_note(BREAST, "2021-09-01")
    status = patient_status(case)
    assert status.diagnosis is not None and status.diagnosis.value == "breast cancer"
    assert status.histology is not None
    assert status.histology.value == "invasive ductal carcinoma"
    assert status.primary_site is not None and status.primary_site.value == "left breast"
    assert status.grade is not None and status.grade.value == "grade 2"
    assert (_marker(status, "ER"), _marker(status, "PR")) == ("positive", "negative")
    assert _marker(status, "HER2") == "2+ (FISH negative)"
    assert _marker(status, "Ki-67") == "20%"
    assert status.stage_tnm is not None and status.stage_tnm.value == "T2N0M0"
    assert status.stage_group is not None and status.stage_group.value == "IIA"
    assert status.conflicts == ()
    out = run_tool(STATUS, case, data_dir)
    assert not any("markers usually reported" in g for g in out.gaps)
    _grounded(case, data_dir)


def test_colorectal_kras_msi_and_a_planned_regimen(data_dir: Path) -> None:
    case = _one_note(COLON, "2023-02-10")
    status = patient_status(case)
    assert status.diagnosis is not None and status.diagnosis.value == "colon cancer"
    assert status.stage_tnm is not None and status.stage_tnm.value == "T3N1bM0"
    assert status.stage_group is not None and status.stage_group.value == "IIIB"
    assert _marker(status, "KRAS") == "p.G12D"
    assert (_marker(status, "NRAS"), _marker(status, "BRAF")) == ("negative", "negative")
    assert (_marker(status, "MSI"), _marker(status, "MMR")) == ("high", "deficient")
    (plan,) = status.treatments
    assert plan.value == "fluorouracil + leucovorin + oxaliplatin — planned (stated 2023-03-01)"
    timeline = patient_timeline(case)
    assert _events(timeline) == [("2023-03-01", "treatment")]
    assert timeline.events[0].planned
    _grounded(case, data_dir)


def test_prostate_gleason_psa_and_written_dates(data_dir: Path) -> None:
    case = _one_note(PROSTATE, "2022-04-20")
    status = patient_status(case)
    assert status.diagnosis is not None and status.diagnosis.value == "prostate cancer"
    assert status.grade is not None
    assert status.grade.value == "Gleason 4+3=7; Grade Group 3"
    psa = next(b for b in status.biomarkers if b.name == "PSA")
    assert (psa.result, psa.date) == ("12.4 ng/mL", "2022-03-14")
    (line,) = status.treatments
    assert line.value == "abiraterone + leuprolide — given 2022-04-20"
    timeline = patient_timeline(case)
    assert _events(timeline) == [
        ("2022-03-21", "imaging"),
        ("2022-03-28", "diagnosis"),
        ("2022-04-20", "treatment"),
    ]
    (mri,) = radiology(case).studies
    assert (mri.date, mri.modality) == ("2022-03-21", "MRI")
    assert "PI-RADS 5" in mri.findings[0].text
    out = run_tool(STATUS, case, data_dir)
    assert "Gleason score not found in the record" not in out.gaps
    _grounded(case, data_dir)


def test_pancreatic_adenocarcinoma_with_ca19_9_and_folfirinox(data_dir: Path) -> None:
    case = _one_note(PANCREAS, "2023-05-02")
    status = patient_status(case)
    assert status.diagnosis is not None and status.diagnosis.value == "pancreatic cancer"
    assert status.primary_site is not None and status.primary_site.value == "pancreas"
    assert status.histology is not None and status.histology.value == "adenocarcinoma"
    assert _marker(status, "CA 19-9") == "850 U/mL"
    (line,) = status.treatments
    assert line.value.startswith("fluorouracil + irinotecan + leucovorin + oxaliplatin — given")
    assert line.date == "2023-05-02"
    # liver metastases are stated, a stage is not: none is made up
    assert status.stage_group is None and status.stage_tnm is None
    _grounded(case, data_dir)


def test_extensive_stage_small_cell_lung_cancer(data_dir: Path) -> None:
    case = _one_note(SCLC, "2021-11-20")
    status = patient_status(case)
    assert status.diagnosis is not None
    assert status.diagnosis.value == "small cell lung cancer"
    assert status.histology is not None and status.histology.value == "small cell carcinoma"
    assert status.stage_group is not None and status.stage_group.value == "extensive stage"
    (line,) = status.treatments
    assert line.value == "atezolizumab + carboplatin + etoposide — given 2021-11-15"
    assert _events(patient_timeline(case)) == [
        ("2021-11-02", "diagnosis"),
        ("2021-11-15", "treatment"),
    ]
    # the EGFR/ALK panel is for non-small cell lung cancer, not asked of SCLC
    out = run_tool(STATUS, case, data_dir)
    assert not any("EGFR" in g for g in out.gaps)
    _grounded(case, data_dir)


def test_negated_findings_stay_negated(data_dir: Path) -> None:
    case = _one_note(NEGATED, "2022-01-20")
    status = patient_status(case)
    assert status.diagnosis is not None and status.diagnosis.value == "lung cancer"
    assert status.stage_group is not None and status.stage_group.value == "IB"
    assert status.stage_tnm is None
    assert status.conflicts == ()  # "no history of breast cancer" is not a breast cancer
    assert status.disease_status is None  # no evidence of metastatic disease is not NED
    timeline = patient_timeline(case)
    assert _events(timeline) == [("2022-01-10", "imaging")]
    assert all(e.category != "diagnosis" for e in timeline.events)  # biopsy was benign
    _grounded(case, data_dir)


def test_statements_of_progression_and_of_its_absence() -> None:
    case = case_of(
        note("a", "2022-01-05", "Lung adenocarcinoma.\n2022-01-03: CT showed partial response."),
        note("b", "2022-04-02", "Restaging: no evidence of disease progression."),
        note("c", "2022-07-09", "2022-07-08: PET/CT shows progression of liver metastases."),
    )
    course = patient_status(case).disease_status
    assert course is not None and (course.value, course.date) == ("progression", "2022-07-08")
    assert [e.doc_id for e in course.evidence] == ["c"]
    earlier = case_of(*case.documents[:2])
    course = patient_status(earlier).disease_status
    assert course is not None and (course.value, course.date) == ("partial response", "2022-01-03")
    # PD-L1 is not progressive disease; a response still to be assessed is not a response
    later = case_of(
        *case.documents[:2],
        note(
            "d",
            "2022-05-01",
            "2022-05-01: PD-L1 22C3 TPS 5%. Restage to assess response to therapy.",
        ),
    )
    course = patient_status(later).disease_status
    assert course is not None and course.value == "partial response"
    # without a cancer diagnosis, "progression" says nothing about a cancer
    assert patient_status(case_of(case.documents[2])).disease_status is None


def _coded(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code} | ({"display": display} if display else {})
    return {"coding": [coding]}


_MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
_LOINC, _SCT, _AJCC = "http://loinc.org", "http://snomed.info/sct", "http://cancerstaging.org"


def _observation(rid: str, profile: str, loinc: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "meta": {"profile": [_MCODE + profile]},
        "status": "final",
        "code": _coded(_LOINC, loinc),
        "subject": {"reference": "urn:uuid:pat"},
        "effectiveDateTime": "2021-06-01",
    } | value


def _mcode_bundle() -> dict[str, Any]:
    variant = _observation(
        "egfr", "mcode-cancer-genetic-variant", "69548-6", {"valueCodeableConcept": {}}
    )
    variant["component"] = [
        {"code": _coded(_LOINC, "48018-6"), "valueCodeableConcept": _coded(
            "http://www.genenames.org/geneId", "HGNC:3236")},
        {"code": _coded(_LOINC, "48005-3"), "valueCodeableConcept": _coded(
            "http://varnomen.hgvs.org", "p.Leu858Arg")},
    ]  # fmt: skip
    resources: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": "pat", "gender": "male", "birthDate": "1955-02-11"},
        {
            "resourceType": "Condition",
            "id": "dx",
            "meta": {"profile": [_MCODE + "mcode-primary-cancer-condition"]},
            "code": _coded(_SCT, "254637007", "Non-small cell lung cancer (disorder)"),
            "subject": {"reference": "urn:uuid:pat"},
            "onsetDateTime": "2021-06-01",
        },
        _observation("t", "mcode-tnm-clinical-primary-tumor-category", "21905-5",
                     {"valueCodeableConcept": _coded(_AJCC, "cT2a")}),
        _observation("n", "mcode-tnm-clinical-regional-nodes-category", "21906-3",
                     {"valueCodeableConcept": _coded(_AJCC, "cN1")}),
        _observation("m", "mcode-tnm-clinical-distant-metastases-category", "21907-1",
                     {"valueCodeableConcept": _coded(_AJCC, "cM0")}),
        _observation("sg", "mcode-tnm-clinical-stage-group", "21908-9",
                     {"valueCodeableConcept": _coded(_SCT, "261614003", "Stage 2B")}),
        _observation("ecog", "mcode-ecog-performance-status", "89247-1", {"valueInteger": 1}),
        variant,
        {
            "resourceType": "MedicationRequest",
            "id": "osi",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": _coded(
                "http://www.nlm.nih.gov/research/umls/rxnorm", "1721560", "osimertinib 80 MG"
            ),
            "subject": {"reference": "urn:uuid:pat"},
            "authoredOn": "2021-06-20",
        },
    ]  # fmt: skip
    entries = [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


@pytest.fixture
def mcode_case(tmp_path: Path) -> Case:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(_mcode_bundle()), encoding="utf-8")
    return load_case(path)


def test_fhir_mcode_tnm_categories_make_one_stage(mcode_case: Case, data_dir: Path) -> None:
    status = patient_status(mcode_case)
    assert status.diagnosis is not None
    assert status.diagnosis.value == "Non-small cell lung cancer"
    assert status.stage_tnm is not None and status.stage_tnm.value == "T2aN1M0"
    assert {e.doc_id for e in status.stage_tnm.evidence} == {
        "Observation/t",
        "Observation/n",
        "Observation/m",
    }
    assert status.stage_group is not None and status.stage_group.value == "IIB"
    assert status.performance_status is not None
    assert status.performance_status.value == "ECOG 1"
    assert _marker(status, "EGFR") == "p.Leu858Arg"
    assert [t.value for t in status.treatments] == ["osimertinib — ordered 2021-06-20"]
    assert status.vital_status is None and status.disease_status is None
    staging = [e for e in patient_timeline(mcode_case).events if e.summary.startswith("clinical")]
    assert [(e.date, e.summary) for e in staging] == [("2021-06-01", "clinical TNM: cT2a cN1 cM0")]
    _grounded(mcode_case, data_dir)
