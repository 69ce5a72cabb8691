"""The radiology tool on the HAO imaging reports and notes, the FHIR bundles and synthetic text."""

from __future__ import annotations

from pathlib import Path

import pytest
from _quotes import (
    assert_findings_grounded,
    case_of,
    fhir_doc,
    note,
    run_tool,
    sample_cases,
)

from magentic_health.case import Case, CaseImage
from magentic_health.tools._radiology_parse import changes_in
from magentic_health.tools.radiology import (
    NOT_INTERPRETED,
    SPEC,
    ImagingReview,
    ImagingStudy,
    radiology,
)

PET_REPORT = "b41550bb-2fd8-4963-9443-92a2429d4dbb"
CT_REPORT = "a73bad38-58eb-48ea-8104-8692fc6c6096"


@pytest.fixture(scope="module")
def cases(data_dir: Path) -> dict[str, Case]:
    return sample_cases(data_dir)


@pytest.fixture(scope="module")
def hao(cases: dict[str, Case]) -> ImagingReview:
    return radiology(cases["hao"])


def _study(review: ImagingReview, date: str, modality: str) -> ImagingStudy:
    found = [s for s in review.studies if s.date == date and s.modality == modality]
    assert len(found) == 1, [(s.date, s.modality) for s in review.studies]
    return found[0]


def test_hao_restaging_pet_report(hao: ImagingReview) -> None:
    pet = _study(hao, "2020-08-04", "PET/CT")
    assert pet.source == "report"
    assert pet.comparison is not None and pet.comparison.text == "pet-ct dated 2020-03-07"
    assert len(pet.findings) == 4
    assert pet.findings[0].text.startswith("Findings are consistent with a partial response")
    assert {f.evidence.doc_id for f in pet.findings} == {PET_REPORT}
    assert pet.other_dates == ("2020-08-03", "2020-08-09")
    primary = [c for c in pet.changes if c.quantity == "size"]
    assert [(c.current, c.prior) for c in primary] == [("2.4 x 2 cm", "3.5 x 3.8 cm")]


def test_hao_ct_with_lingular_mass_comparison(hao: ImagingReview) -> None:
    ct = _study(hao, "2021-02-16", "CT")
    assert ct.comparison is not None and "2020-06-03" in ct.comparison.text
    assert ct.findings[0].text == (
        "Lingular mass now measured at 3.6 x 2.5 cm as opposed to 2.7 x 2.4 cm previously."
    )
    changes = {(c.lesion, c.current, c.prior) for c in ct.changes}
    assert ("Lingular mass", "3.6 x 2.5 cm", "2.7 x 2.4 cm") in changes
    assert ("left lower lobe nodule", "10 x 4 mm", "7 x 6 mm") in changes
    assert ct.other_dates == ("2021-02-15",)
    assert len({f.evidence.doc_id for f in ct.also_reported}) == 2


def test_hao_studies_from_notes_and_images(hao: ImagingReview) -> None:
    dates = [s.date or "" for s in hao.studies]
    assert dates == sorted(dates)
    first_pet = _study(hao, "2020-03-07", "PET/CT")
    assert first_pet.source == "note" and len(first_pet.also_reported) >= 3
    assert "3.4 x 3.8 cm" in first_pet.findings[0].text
    latest = _study(hao, "2021-03-22", "PET/CT")
    assert any("4.1 cm left lung mass" in f.text for f in latest.findings)
    october = _study(hao, "2020-10-22", "PET/CT")
    assert ("Subcentimeter left infrahilar node", "4.5", "4.8") in {
        (c.lesion, c.current, c.prior) for c in october.changes
    }
    assert [(i.id, i.note) for i in hao.images] == [("x-ray.png", NOT_INTERPRETED)]
    # a planned scan ("Will assess with PET/CT scheduled on ...") is not a study of its own
    assert not any(s.date == "2021-04-27" for s in hao.studies)


def test_hao_spec_output(cases: dict[str, Case], data_dir: Path) -> None:
    out = run_tool(SPEC, cases["hao"], data_dir)
    assert ImagingReview.model_validate(out.data) == radiology(cases["hao"])
    claims = [f.claim for f in out.findings]
    assert "2021-02-16 CT: Lingular mass size 3.6 x 2.5 cm, previously 2.7 x 2.4 cm" in claims
    assert "2020-08-04 PET/CT compared with pet-ct dated 2020-03-07" in claims
    assert "### 2021-02-16 — CT (CT report)" in out.text
    assert any("not interpreted" in g for g in out.gaps)


def test_synthea_imaging_procedures_have_no_reports(cases: dict[str, Case], data_dir: Path) -> None:
    review = radiology(cases["austin"])
    assert [(s.modality, s.source) for s in review.studies] == [
        ("X-ray", "fhir"),
        ("CT", "fhir"),
        ("MRI", "fhir"),
    ]
    assert all(not s.findings for s in review.studies)
    out = run_tool(SPEC, cases["austin"], data_dir)
    assert out.gaps == (
        "no imaging reports in the record: 3 imaging procedure(s) are recorded without findings "
        "or report text",
    )
    assert len(out.findings) == 3


@pytest.mark.parametrize("name", ["librada", "micah", "stevie", "mcode"])
def test_bundles_without_imaging_say_so(cases: dict[str, Case], data_dir: Path, name: str) -> None:
    out = run_tool(SPEC, cases[name], data_dir)
    assert out.findings == ()
    assert out.gaps == ("no imaging studies or imaging reports found in the record",)
    assert "No imaging studies or reports were found" in out.text


@pytest.mark.parametrize("name", ["hao", "mcode", "austin", "librada", "micah", "stevie"])
def test_every_quote_occurs_in_its_document(
    cases: dict[str, Case], data_dir: Path, name: str
) -> None:
    out = run_tool(SPEC, cases[name], data_dir)
    assert_findings_grounded(cases[name], out.findings)
    review = radiology(cases[name])
    for study in review.studies:
        for item in (*study.findings, *study.also_reported):
            assert item.evidence.quote in cases[name].document(item.evidence.doc_id).text  # type: ignore[union-attr]


def test_fhir_diagnostic_report_conclusion_is_a_finding(data_dir: Path) -> None:
    case = case_of(
        fhir_doc(
            "DiagnosticReport/d1",
            "DiagnosticReport: CT Chest with contrast\n"
            "Code: CT Chest with contrast (LOINC 24627-2)\n"
            "Category: Radiology\nEffective: 2022-03-01\n"
            "Conclusion: New 1.2 cm nodule in the right upper lobe.",
            "2022-03-01",
        ),
        fhir_doc(
            "DiagnosticReport/d2",
            "DiagnosticReport: Lipid Panel\n"
            "Code: Lipid Panel (LOINC 57698-3)\nCategory: Laboratory",
            "2022-03-01",
        ),
    )
    review = radiology(case)
    (study,) = review.studies
    assert (study.date, study.modality, study.source) == ("2022-03-01", "CT", "fhir")
    assert study.findings[0].text == "New 1.2 cm nodule in the right upper lobe."
    out = run_tool(SPEC, case, data_dir)
    assert_findings_grounded(case, out.findings)
    assert out.gaps == ()


def test_images_are_listed_not_read(data_dir: Path) -> None:
    case = case_of(note("n1", "2020-01-01", "No imaging yet."))
    case = case.model_copy(
        update={"images": (CaseImage(id="ct1.png", path="ct1.png", modality="CT image"),)}
    )
    review = radiology(case)
    assert review.studies == ()
    assert review.images[0].note == NOT_INTERPRETED


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "Lingular mass now measured at 3.6 x 2.5 cm as opposed to 2.7 x 2.4 cm previously.",
            ("Lingular mass", "size", "3.6 x 2.5 cm", "2.7 x 2.4 cm"),
        ),
        (
            "7 x 6 mm left lower lobe nodule now measured at 10 x 4 mm.",
            ("left lower lobe nodule", "size", "10 x 4 mm", "7 x 6 mm"),
        ),
        (
            "Suv max subcarinal region 4.8 compared with 11.0 previous.",
            ("subcarinal", "SUV max", "4.8", "11.0"),
        ),
        (
            "Subcentimeter left infrahilar node has a max SUV of 4.5, previously 4.8.",
            ("Subcentimeter left infrahilar node", "SUV max", "4.5", "4.8"),
        ),
    ],
)
def test_measurement_changes(sentence: str, expected: tuple[str, str, str, str]) -> None:
    (change,) = changes_in(sentence, 0, len(sentence))
    assert (change.lesion, change.quantity, change.current, change.prior) == expected
    assert change.quote in sentence


def test_no_change_without_a_comparison() -> None:
    sentence = "Comparison: chest ct of 2020-06-03 findings: the lingular mass is now 3.6 x 2.5 cm."
    assert changes_in(sentence, 0, len(sentence)) == []
