"""The patient timeline tool on the HAO notes, the FHIR bundles and small synthetic cases."""

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

from magentic_health.case import Case
from magentic_health.tools.timeline import SPEC, Timeline, TimelineEvent, patient_timeline

PET_REPORT = "b41550bb-2fd8-4963-9443-92a2429d4dbb"
CT_REPORT = "a73bad38-58eb-48ea-8104-8692fc6c6096"


@pytest.fixture(scope="module")
def cases(data_dir: Path) -> dict[str, Case]:
    return sample_cases(data_dir)


@pytest.fixture(scope="module")
def hao(cases: dict[str, Case]) -> Timeline:
    return patient_timeline(cases["hao"])


def _at(timeline: Timeline, date: str, category: str) -> list[TimelineEvent]:
    return [e for e in timeline.events if e.date == date and e.category == category]


def test_hao_events_are_in_date_order(hao: Timeline) -> None:
    dates = [e.date for e in hao.events]
    assert dates == sorted(dates)
    assert len(hao.events) >= 15


def test_hao_ebus_diagnosis_is_one_event_with_every_source(hao: Timeline) -> None:
    (ebus,) = _at(hao, "2020-03-30", "diagnosis")
    assert "EBUS" in ebus.summary
    assert "adenocarcinoma" in ebus.summary
    assert len(ebus.sources) >= 3


def test_hao_first_pet_is_merged_across_notes(hao: Timeline) -> None:
    (pet,) = _at(hao, "2020-03-07", "imaging")
    assert "PET" in pet.summary
    assert len(pet.sources) >= 2


def test_hao_restaging_pet_keeps_the_report_date_and_lists_the_others(hao: Timeline) -> None:
    (pet,) = _at(hao, "2020-08-04", "imaging")
    assert pet.summary.startswith("PET/CT report")
    assert "partial response" in pet.summary
    assert PET_REPORT in pet.sources and len(pet.sources) >= 2
    assert "2020-08-03" in pet.other_dates
    assert not _at(hao, "2020-08-03", "imaging")


def test_hao_ct_of_2021_02_16_cites_the_report(hao: Timeline) -> None:
    (ct,) = _at(hao, "2021-02-16", "imaging")
    assert CT_REPORT in ct.sources
    assert "3.6 x 2.5 cm" in ct.summary
    assert "2021-02-15" in ct.other_dates


def test_hao_chemotherapy_start_and_maintenance(hao: Timeline) -> None:
    (start,) = _at(hao, "2020-04-30", "treatment")
    assert start.summary.startswith("carboplatin + paclitaxel")
    assert "cycle 1 day 1" in start.summary
    triplet = _at(hao, "2020-06-10", "treatment")
    assert [e.summary.split(" (")[0] for e in triplet] == [
        "carboplatin + paclitaxel + pembrolizumab"
    ]
    maintenance = [
        e for e in hao.events if "pembrolizumab" in e.summary and "maintenance" in e.summary
    ]
    assert any(e.date == "2020-12-10" for e in maintenance)
    (completed,) = _at(hao, "2020-09-24", "treatment")
    assert "6 cycles completed" in completed.summary
    assert len(completed.sources) >= 2


def test_hao_plans_are_marked_and_kept_apart_from_what_was_given(hao: Timeline) -> None:
    adagrasib = [e for e in hao.events if "adagrasib" in e.summary and e.category == "treatment"]
    assert adagrasib and all(e.planned for e in adagrasib)
    assert all("pembrolizumab" not in e.summary for e in adagrasib)


def test_hao_biomarkers_and_progression(hao: Timeline) -> None:
    (markers,) = _at(hao, "2020-08-10", "biomarker")
    assert "KRAS p.G12C" in markers.summary and "PD-L1" in markers.summary
    assert any("progress" in e.summary for e in hao.events if e.category == "response")


def test_hao_leaves_out_labs_vitals_and_signature_stamps(hao: Timeline) -> None:
    dates = {e.date for e in hao.events}
    # lab draws on the flow sheets, the last menstrual period, signature time stamps
    assert not dates & {"2020-09-23", "2020-12-27", "2007-09-14", "2020-04-14"}
    assert not any("TSH" in e.summary and e.category != "imaging" for e in hao.events)


def test_repeated_facts_are_merged(hao: Timeline) -> None:
    keys = [(e.date, e.category, e.summary) for e in hao.events]
    assert len(keys) == len(set(keys))
    assert sum(len(e.sources) >= 2 for e in hao.events) >= 5


def test_spec_output_for_hao(cases: dict[str, Case], data_dir: Path) -> None:
    out = run_tool(SPEC, cases["hao"], data_dir)
    timeline = Timeline.model_validate(out.data)
    assert len(out.findings) == len(timeline.events)
    assert out.gaps == ()
    assert "2020-08-04 — imaging — PET/CT report" in out.text
    assert PET_REPORT in out.text


@pytest.mark.parametrize("name", ["hao", "mcode", "austin", "librada", "micah", "stevie"])
def test_every_quote_occurs_in_its_document(
    cases: dict[str, Case], data_dir: Path, name: str
) -> None:
    case = cases[name]
    out = run_tool(SPEC, case, data_dir)
    assert assert_findings_grounded(case, out.findings) > 0
    timeline = patient_timeline(case)
    assert_quotes_in_documents(case, (ev for e in timeline.events for ev in e.evidence))


def test_synthea_lung_is_about_the_cancer(cases: dict[str, Case]) -> None:
    case = cases["austin"]
    timeline = patient_timeline(case)
    assert len(timeline.events) < 30 < len(case.documents)
    diagnoses = [e.summary for e in timeline.of("diagnosis")]
    assert "Non-small cell carcinoma of lung, TNM stage 1" in diagnoses
    cisplatin = [e for e in timeline.of("treatment") if e.summary.startswith("Cisplatin")]
    assert len(cisplatin) == 1
    assert (cisplatin[0].date, cisplatin[0].end_date) == ("1985-07-26", "1989-07-20")
    assert cisplatin[0].occurrences == 48
    text = " ".join(e.summary for e in timeline.events)
    for noise in ("Body Height", "Glucose", "Documentation of current medications", "Prostate"):
        assert noise not in text
    assert any(e.summary.startswith("X-ray") for e in timeline.of("imaging"))


def test_psa_counts_for_the_prostate_patient_only(cases: dict[str, Case]) -> None:
    prostate = patient_timeline(cases["stevie"])
    psa = [e for e in prostate.of("biomarker") if "Prostate specific" in e.summary]
    assert len(psa) == 1 and psa[0].occurrences == 3
    assert any("Prostatectomy" in e.summary for e in prostate.of("procedure"))
    colon = patient_timeline(cases["micah"])
    assert not any("Prostate specific" in e.summary for e in colon.events)
    assert any("oxaliplatin" in e.summary for e in colon.of("treatment"))


def test_mcode_markers_stage_and_radiation(cases: dict[str, Case]) -> None:
    timeline = patient_timeline(cases["mcode"])
    summaries = [e.summary for e in timeline.events]
    assert "HER2 Receptor: Positive (2 results)" in summaries
    assert any("Stage 3A" in s for s in timeline_summaries(timeline, "diagnosis"))
    assert any(s.startswith("STK11 variant") for s in summaries)
    (radiation,) = [e for e in timeline.of("treatment") if "radiotherapy" in e.summary]
    assert radiation.end_date == "2018-01-27"


def timeline_summaries(timeline: Timeline, category: str) -> list[str]:
    return [e.summary for e in timeline.of(category)]  # type: ignore[arg-type]


def test_fhir_rules_on_a_synthetic_bundle() -> None:
    docs = [
        fhir_doc(
            "Condition/c1",
            "Condition: Adenocarcinoma of lung (disorder)\n"
            "Code: Adenocarcinoma of lung (disorder) (SNOMED 254626006)\n"
            "Onset: 2019-02-01T10:00:00Z",
            "2019-02-01",
        ),
        fhir_doc(
            "Observation/o1",
            "Observation: Body Height\nCode: Body Height (LOINC 8302-2)\nValue: 170 cm",
            "2019-02-01",
        ),
        fhir_doc(
            "Procedure/p1",
            "Procedure: Documentation of current medications\nPerformed: 2019-02-02",
            "2019-02-02",
        ),
    ]
    for i, day in enumerate(("2019-03-01", "2019-03-22", "2019-04-12")):
        docs.append(
            fhir_doc(
                f"MedicationRequest/m{i}",
                "MedicationRequest: Pemetrexed 500 MG Injection\n"
                f"Code: Pemetrexed 500 MG Injection (RxNorm 1)\nAuthored: {day}T09:00:00Z",
                day,
            )
        )
    case = case_of(*docs)
    timeline = patient_timeline(case)
    assert [e.category for e in timeline.events] == ["diagnosis", "treatment"]
    treatment = timeline.events[1]
    assert (treatment.date, treatment.end_date, treatment.occurrences) == (
        "2019-03-01",
        "2019-04-12",
        3,
    )
    assert treatment.sources == ("MedicationRequest/m0", "MedicationRequest/m2")
    assert_quotes_in_documents(case, (ev for e in timeline.events for ev in e.evidence))


def test_note_rules_on_synthetic_notes() -> None:
    report = note(
        "r1",
        "2021-05-04",
        "Indication: lung cancer. Comparison: CT of 2021-01-02. Impression: 1. Stable 2 cm mass.",
        kind="report",
        type_="CT",
    )
    first = note("n1", "2021-05-10", "2021-05-03: CT chest showed a stable 2 cm mass.")
    second = note(
        "n2",
        "2021-06-01",
        "Oncologic history:\n2021-05-03: CT chest showed a stable 2 cm mass.\n"
        "Patient here for Cycle 2, Day 1 of pemetrexed today.",
    )
    case = case_of(report, first, second)
    timeline = patient_timeline(case)
    prior, ct = timeline.of("imaging")
    assert ct.date == "2021-05-04" and ct.other_dates == ("2021-05-03",)
    assert set(ct.sources) == {"r1", "n1", "n2"}
    # the comparison study is an event of its own date, cited by the report's comparison line
    assert (prior.date, prior.sources, prior.planned) == ("2021-01-02", ("r1",), False)
    assert prior.evidence[0].quote == "Comparison: CT of 2021-01-02"
    (given,) = timeline.of("treatment")
    assert (given.date, given.summary) == ("2021-06-01", "pemetrexed (cycle 2 day 1)")


def test_empty_case_reports_gaps(data_dir: Path) -> None:
    case = case_of(note("n1", "2020-01-01", "Patient seen for a sprained ankle."))
    out = run_tool(SPEC, case, data_dir)
    assert out.findings == ()
    assert "no diagnosis event found in the record" in out.gaps
    assert "No dated cancer-related events" in out.text


def test_partial_fhir_dates_are_kept() -> None:
    case = case_of(
        fhir_doc(
            "Condition/c1",
            "Condition: Malignant neoplasm of prostate (disorder)\nOnset: 2001-05",
            "2001-05",
        ),
        fhir_doc("Procedure/p1", "Procedure: Prostatectomy\nPerformed: 2001-06-02", "2001-06-02"),
    )
    timeline = patient_timeline(case)
    assert [(e.date, e.category) for e in timeline.events] == [
        ("2001-05", "diagnosis"),
        ("2001-06-02", "procedure"),
    ]


def test_other_reports_still_make_one_event() -> None:
    report = note(
        "r1", "2022-02-02", "Echocardiogram: normal ejection fraction.", kind="report", type_="Echo"
    )
    (event,) = patient_timeline(case_of(report)).events
    assert (event.date, event.category, event.sources) == ("2022-02-02", "other", ("r1",))
    assert event.summary == "Echo: Echocardiogram: normal ejection fraction."
