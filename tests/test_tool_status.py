"""The patient status tool on the HAO notes, the FHIR bundles and small synthetic cases."""

from __future__ import annotations

from pathlib import Path

import pytest
from _quotes import (
    assert_findings_grounded,
    assert_quotes_in_documents,
    case_of,
    fhir_doc,
    note,
    run_tool,
    sample_cases,
)

from magentic_health.case import Case, Patient
from magentic_health.tools.status import SPEC, PatientStatus, patient_status

FLOW_SHEETS = (
    "86a93cdb-da8b-4c9a-b07c-641a19fb5ed9",
    "cc7a9b1c-6bfe-49c2-9255-85022eda4dbc",
    "5184613c-11f7-4ecb-985a-1920daba51c1",
)


@pytest.fixture(scope="module")
def cases(data_dir: Path) -> dict[str, Case]:
    return sample_cases(data_dir)


@pytest.fixture(scope="module")
def hao(cases: dict[str, Case]) -> PatientStatus:
    return patient_status(cases["hao"])


def _marker(status: PatientStatus, name: str) -> str:
    found = [b.result for b in status.biomarkers if b.name == name]
    assert found, f"no {name} in {[b.name for b in status.biomarkers]}"
    return found[0]


def test_hao_diagnosis_site_and_histology(hao: PatientStatus) -> None:
    assert hao.diagnosis is not None and hao.diagnosis.value == "non-small cell lung cancer"
    assert hao.histology is not None and hao.histology.value == "adenocarcinoma"
    assert hao.primary_site is not None and hao.primary_site.value == "left lung, lingula"


def test_hao_stage_is_stage_at_diagnosis(hao: PatientStatus) -> None:
    assert hao.stage_tnm is not None and hao.stage_tnm.value == "T4N3M1a"
    assert hao.stage_group is not None and hao.stage_group.value == "IVA"
    assert hao.stage_group.date == "2020-04-22"  # first stated ("likely stage IV")


def test_hao_biomarkers(hao: PatientStatus) -> None:
    assert _marker(hao, "KRAS") == "p.G12C"
    assert _marker(hao, "PD-L1") == "negative"
    kras = next(b for b in hao.biomarkers if b.name == "KRAS")
    assert kras.date == "2020-08-10"


def test_hao_performance_age_sex(hao: PatientStatus) -> None:
    assert hao.performance_status is not None
    assert hao.performance_status.value == "ECOG 1"
    assert (hao.age, hao.sex) == (59, "female")


def test_hao_lines_of_therapy_given_and_planned(hao: PatientStatus) -> None:
    values = [t.value for t in hao.treatments]
    assert values[0].startswith("carboplatin + paclitaxel (weekly) — given 2020-04-30")
    triplet = next(v for v in values if v.startswith("carboplatin + paclitaxel + pembrolizumab"))
    assert "6 cycles completed" in triplet and "given 2020-06-10 to 2020-09-24" in triplet
    maintenance = next(v for v in values if v.startswith("pembrolizumab"))
    assert "maintenance" in maintenance and "given 2020-12-28" in maintenance
    assert "discontinuation planned 2021-03-27" in maintenance
    assert values[-1] == "adagrasib — planned (stated 2021-03-27)"


def test_hao_flow_sheet_breast_cancer_is_a_reported_conflict(hao: PatientStatus) -> None:
    diagnosis = [c for c in hao.conflicts if c.startswith("diagnosis:")]
    assert len(diagnosis) == 1
    assert "'breast cancer'" in diagnosis[0] and "kept 'non-small cell lung cancer'" in diagnosis[0]
    for doc_id in FLOW_SHEETS:
        assert doc_id in diagnosis[0]
    stage = [c for c in hao.conflicts if c.startswith("stage group:")]
    assert len(stage) == 1 and "'II'" in stage[0] and "kept 'IVA'" in stage[0]


def test_hao_spec_output(cases: dict[str, Case], data_dir: Path) -> None:
    out = run_tool(SPEC, cases["hao"], data_dir)
    assert PatientStatus.model_validate(out.data) == patient_status(cases["hao"])
    claims = [f.claim for f in out.findings]
    assert "Stage group: IVA" in claims and "KRAS: p.G12C" in claims
    conflict = next(f for f in out.findings if f.claim.startswith("Conflict — diagnosis"))
    assert set(FLOW_SHEETS) <= {e.doc_id for e in conflict.evidence}
    # NGS reported KRAS and PD-L1 only: the other markers of a non-squamous NSCLC panel are gaps
    assert out.gaps == (
        "markers usually reported for non-small cell lung cancer not found in the record: "
        "EGFR, ALK, ROS1, BRAF",
    )
    assert "| Stage group | IVA |" in out.text and "Conflicts between sources" in out.text


@pytest.mark.parametrize("name", ["hao", "mcode", "austin", "librada", "micah", "stevie"])
def test_every_quote_occurs_in_its_document(
    cases: dict[str, Case], data_dir: Path, name: str
) -> None:
    case = cases[name]
    out = run_tool(SPEC, case, data_dir)
    assert assert_findings_grounded(case, out.findings) > 0
    status = patient_status(case)
    values = [status.diagnosis, status.stage_group, *status.treatments, *status.biomarkers]
    assert_quotes_in_documents(case, (e for v in values if v is not None for e in v.evidence))


def test_synthea_lung(cases: dict[str, Case], data_dir: Path) -> None:
    status = patient_status(cases["austin"])
    assert status.diagnosis is not None
    assert status.diagnosis.value.lower() == "non-small cell carcinoma of lung"
    assert status.stage_group is not None and status.stage_group.value == "I"
    assert (status.sex, status.age) == ("male", 69)
    assert any(
        t.value.startswith("cisplatin + paclitaxel — ordered 1985-07-26") for t in status.treatments
    )
    gaps = run_tool(SPEC, cases["austin"], data_dir).gaps
    assert "performance status not found in the record" in gaps
    assert "no biomarker results found in the record" in gaps


@pytest.mark.parametrize(
    ("name", "organ"), [("librada", "colon"), ("micah", "colon"), ("stevie", "prostate")]
)
def test_synthea_colon_and_prostate(cases: dict[str, Case], name: str, organ: str) -> None:
    status = patient_status(cases[name])
    assert status.diagnosis is not None and organ in status.diagnosis.value.lower()
    assert status.primary_site is not None and status.primary_site.value == organ
    assert status.conflicts == ()


def test_mcode_breast_cancer(cases: dict[str, Case]) -> None:
    status = patient_status(cases["mcode"])
    assert status.diagnosis is not None and "breast" in status.diagnosis.value.lower()
    assert _marker(status, "HER2") == "positive"
    assert _marker(status, "ER") == "positive"
    assert status.stage_group is not None and status.stage_group.value == "IIIA"
    assert status.performance_status is not None
    assert status.performance_status.value.startswith("ECOG 3")
    assert any(t.value.startswith("paclitaxel") for t in status.treatments)


def test_fhir_stage_normalisation_and_marker_conflict() -> None:
    case = case_of(
        fhir_doc(
            "Condition/c1",
            "Condition: Malignant neoplasm of breast (disorder)\n"
            "Code: Malignant neoplasm of breast (disorder) (SNOMED 254837009)\n"
            "Onset: 2020-01-01\nStage: Stage 2B (qualifier value)",
            "2020-01-01",
        ),
        fhir_doc(
            "Observation/her2a",
            "Observation: HER2 Receptor\nCode: HER2 [Interpretation] in Tissue (LOINC 48676-1)\n"
            "Value: Negative (qualifier value)\nProfile: mcode-tumor-marker",
            "2020-01-02",
        ),
        fhir_doc(
            "Observation/her2b",
            "Observation: HER2 Receptor\nCode: HER2 [Interpretation] in Tissue (LOINC 48676-1)\n"
            "Value: Positive (qualifier value)\nProfile: mcode-tumor-marker",
            "2020-02-02",
        ),
        patient=Patient(id="p", sex="female", age=50),
    )
    status = patient_status(case)
    assert status.stage_group is not None and status.stage_group.value == "IIB"
    assert status.histology is None
    (conflict,) = status.conflicts
    assert conflict.startswith("HER2 result:")
    assert "Observation/her2a" in conflict and "Observation/her2b" in conflict


def test_header_lines_weigh_less_than_narrative_and_reports() -> None:
    case = case_of(
        note("h1", "2020-01-01", "Flow sheet\nDiagnosis: Colon Cancer\nCycle 1"),
        note("h2", "2020-02-01", "Flow sheet\nDiagnosis: Colon Cancer\nCycle 2"),
        note("n1", "2020-01-05", "She has rectal cancer and is here for staging, ECOG 2."),
        note("r1", "2020-01-03", "Impression: rectal cancer, stage 3B.", kind="report", type_="CT"),
    )
    status = patient_status(case)
    assert status.diagnosis is not None and status.diagnosis.value == "rectal cancer"
    assert status.stage_group is not None and status.stage_group.value == "IIIB"
    (conflict,) = status.conflicts
    assert "'colon cancer' in h1, h2" in conflict and "support 5 vs 2" in conflict
    assert status.performance_status is not None and status.performance_status.value == "ECOG 2"
    assert status.age is None and status.sex is None


def test_empty_case_lists_every_missing_field(data_dir: Path) -> None:
    case = case_of(note("n1", "2020-01-01", "Seen for a sprained ankle."))
    out = run_tool(SPEC, case, data_dir)
    assert "diagnosis not found in the record" in out.gaps
    assert "performance status not found in the record" in out.gaps
    assert "no cancer treatment found in the record" in out.gaps
    assert out.findings == ()
