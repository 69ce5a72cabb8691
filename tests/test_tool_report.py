"""report_export: the Markdown tumor board report built only from upstream tool outputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from magentic_health.case import Case, Document, Patient
from magentic_health.reply import Evidence, Finding
from magentic_health.tools import guidelines, trials
from magentic_health.tools._base import ToolContext, ToolOutput
from magentic_health.tools._report_model import trial_citation
from magentic_health.tools._status_model import Biomarker, PatientStatus, StatusValue
from magentic_health.tools.report import (
    DISCLAIMER,
    NOT_ASSESSED,
    SECTIONS,
    SPEC,
    DocCitation,
    build_report,
    render_markdown,
    render_report_markdown,
    report_from_data,
)

NOTE = (
    "Reason for visit: Follow-up for non-small cell lung cancer T4N3M1a (IVA). "
    "Pathology: lung, lingula, FNA -- non-small cell carcinoma, favor adenocarcinoma. "
    "NGS returned showing KRAS p.G12C mutation. PD-L1 neg. ECOG 1."
)
CT = "CT chest: Lingular mass now measured at 3.6 x 2.5 cm as opposed to 2.7 x 2.4 cm previously."
PATIENT_SECTIONS = ("Diagnosis and stage", "History", "Imaging", "Pathology", "Biomarkers")


def _ev(doc_id: str, quote: str) -> Evidence:
    return Evidence(doc_id=doc_id, quote=quote)


def _case() -> Case:
    docs = (
        Document(
            id="note-1",
            date="2021-03-20",
            kind="note",
            type="Progress Notes",
            text=NOTE,
            source="t",
        ),
        Document(id="ct-1", date="2021-02-15", kind="report", type="CT", text=CT, source="t"),
    )
    return Case(
        case_id="case-7",
        patient=Patient(id="p-7", age=59, sex="female"),
        documents=docs,
        source="t",
    )


def _status() -> PatientStatus:
    return PatientStatus(
        diagnosis=StatusValue(
            value="non-small cell lung cancer",
            evidence=(_ev("note-1", "non-small cell lung cancer"),),
        ),
        histology=StatusValue(
            value="adenocarcinoma", evidence=(_ev("note-1", "favor adenocarcinoma"),)
        ),
        stage_tnm=StatusValue(value="T4N3M1a", evidence=(_ev("note-1", "T4N3M1a"),)),
        stage_group=StatusValue(value="IVA", date="2021-03-20", evidence=(_ev("note-1", "(IVA)"),)),
        performance_status=StatusValue(value="ECOG 1", evidence=(_ev("note-1", "ECOG 1"),)),
        biomarkers=(
            Biomarker(
                name="KRAS", result="p.G12C", evidence=(_ev("note-1", "KRAS p.G12C mutation"),)
            ),
            Biomarker(name="PD-L1", result="negative", evidence=(_ev("note-1", "PD-L1 neg"),)),
        ),
        age=59,
        sex="female",
        conflicts=("stage group: 'II' in note-9 disagrees with 'IVA' in note-1",),
    )


def _upstream() -> dict[str, ToolOutput]:
    status_finding = Finding(
        claim="Diagnosis: non-small cell lung cancer",
        evidence=(_ev("note-1", "non-small cell lung cancer"),),
    )
    return {
        "patient_status": ToolOutput(
            text="", findings=(status_finding,), data=_status().model_dump(mode="json")
        ),
        "patient_timeline": ToolOutput(
            text="",
            gaps=("no date for the first PET/CT",),
            data={
                "events": [
                    {
                        "date": "2021-03-20",
                        "category": "pathology",
                        "summary": "FNA of the lingula: favor adenocarcinoma",
                        "evidence": [{"doc_id": "note-1", "quote": "favor adenocarcinoma"}],
                    },
                    {
                        "date": "2021-02-15",
                        "category": "imaging",
                        "summary": "CT chest: lingular mass 3.6 x 2.5 cm",
                        "evidence": [
                            {
                                "doc_id": "ct-1",
                                "quote": "Lingular mass now measured at 3.6 x 2.5 cm",
                            }
                        ],
                    },
                    {
                        "date": "2020-01-01",
                        "category": "other",
                        "summary": "An event whose evidence is not in this case",
                        "evidence": [{"doc_id": "elsewhere", "quote": "x"}],
                    },
                ]
            },
        ),
        "radiology": ToolOutput(
            text="",
            data={
                "studies": [
                    {  # the radiology tool's shape: findings and comparison carry evidence
                        "date": "2021-02-15",
                        "modality": "CT",
                        "description": "CT chest",
                        "findings": [
                            {
                                "text": "Lingular mass 3.6 x 2.5 cm",
                                "evidence": {"doc_id": "ct-1", "quote": "3.6 x 2.5 cm"},
                            }
                        ],
                        "comparison": {
                            "text": "previously 2.7 x 2.4 cm",
                            "evidence": {"doc_id": "ct-1", "quote": "2.7 x 2.4 cm previously"},
                        },
                    },
                    {  # the plain shape: findings as strings, evidence on the study
                        "date": "2021-03-22",
                        "modality": "PET/CT",
                        "findings": ["FDG avid lingular mass", "no new lesions"],
                        "evidence": [{"doc_id": "note-1", "quote": "non-small cell lung cancer"}],
                    },
                    {
                        "date": "2019-01-01",
                        "modality": "MRI",
                        "findings": ["uncited study"],
                    },
                ]
            },
        ),
        "search_notes": ToolOutput(
            text="",
            data={
                "query": ["kras"],
                "hits": [
                    {
                        "doc_id": "note-1",
                        "date": "2021-03-20",
                        "type": "Progress Notes",
                        "snippet": "KRAS p.G12C mutation",
                    }
                ],
            },
        ),
        "clinical_guidelines": ToolOutput(
            text="",
            data={
                "passages": [
                    {
                        "file": "nsclc.md",
                        "title": "Non-Small Cell Lung Cancer Treatment",
                        "url": "https://www.cancer.gov/types/lung/hp/non-small-cell-lung-treatment-pdq",
                        "section": "Treatment of Progressive Stage IV NSCLC > KRAS G12C inhibitors",
                        "score": 12.5,
                        "text": "The FDA approved sotorasib for KRAS G12C NSCLC.",
                    }
                ]
            },
        ),
        "clinical_trials": ToolOutput(
            text="",
            gaps=("recruitment status unknown for 1 listed trials",),
            data={
                "trials": [
                    {
                        "nct_id": "NCT05383898",
                        "title": "D-1553 in KRAS G12C NSCLC",
                        "status": "unknown",
                        "url": "https://clinicaltrials.gov/study/NCT05383898",
                        "reasons": [
                            "condition: non-small cell lung cancer",
                            "biomarker: KRAS p.G12C",
                        ],
                    }
                ],
                "excluded": [
                    {
                        "nct_id": "NCT03808480",
                        "title": "Nivolumab second line",
                        "excluding_criteria": [
                            {
                                "quote": "Previous therapy with anti-PD-1 or -PD-L1 inhibitors",
                                "rule": "excludes prior anti-PD-1",
                            }
                        ],
                    }
                ],
            },
        ),
    }


def _section(markdown: str, name: str) -> str:
    match = re.search(rf"^## {re.escape(name)}\n(.*?)(?=^## |^---)", markdown, re.S | re.M)
    assert match is not None, name
    return match.group(1)


def test_all_sections_present_with_citations() -> None:
    report = build_report(_case(), _upstream())
    md = render_markdown(report)
    assert md.startswith("# Tumor board report: case-7")
    assert [line[3:] for line in md.splitlines() if line.startswith("## ")] == list(SECTIONS)
    assert md.count(DISCLAIMER) == 2
    assert NOT_ASSESSED not in md
    assert "- **Diagnosis:** non-small cell lung cancer [note-1]" in md
    assert "- **Stage group:** IVA (2021-03-20) [note-1]" in md
    assert (
        "- 2021-02-15 CT: Lingular mass 3.6 x 2.5 cm (comparison: previously 2.7 x 2.4 cm) [ct-1]"
        in md
    )
    assert "- 2021-03-22 PET/CT: FDG avid lingular mass; no new lesions [note-1]" in md
    assert "uncited study" not in md
    history_hit = '- 2021-03-20 Progress Notes: "KRAS p.G12C mutation" [note-1]'
    assert history_hit in _section(md, "History")
    assert "- **KRAS:** p.G12C [note-1]" in md
    assert "[PDQ: Treatment of Progressive Stage IV NSCLC > KRAS G12C inhibitors]" in md
    assert "Source: NCI PDQ® Non-Small Cell Lung Cancer Treatment, https://www.cancer.gov/" in md
    assert "- **KRAS G12C inhibitors:** The FDA approved sotorasib for KRAS G12C NSCLC." in md
    assert (
        "- D-1553 in KRAS G12C NSCLC · status: unknown · condition: non-small cell lung cancer; "
        "biomarker: KRAS p.G12C [NCT05383898](https://clinicaltrials.gov/study/NCT05383898)"
    ) in md
    assert (
        '- Nivolumab second line: likely excluded by "Previous therapy with anti-PD-1 or -PD-L1 '
        'inhibitors" (excludes prior anti-PD-1) [NCT03808480]('
    ) in md
    history = _section(md, "History")
    assert history.index("2021-02-15") < history.index("2021-03-20")  # oldest first
    assert "favor adenocarcinoma [note-1]" in _section(md, "Pathology")
    assert all(report.assessed[name] for name in SECTIONS)
    assert report.cited == ("note-1", "ct-1")


def test_patient_sections_have_no_uncited_statement() -> None:
    md = render_report_markdown(_case(), _upstream())
    for name in PATIENT_SECTIONS:
        bullets = [line for line in _section(md, name).splitlines() if line.startswith("- ")]
        assert bullets, name
        for line in bullets:
            assert re.search(r"(?: \[(?:note-1|ct-1)\])+$", line), line
    assert "not in this case" not in md


def test_evidence_outside_the_case_drops_the_statement_and_says_so() -> None:
    report = build_report(_case(), _upstream())
    assert "1 statement(s) from patient_timeline left out: no evidence in this case" in report.gaps
    assert "1 statement(s) from radiology left out: no evidence in this case" in report.gaps
    assert "(report) 1 statement(s) from patient_timeline left out" in render_markdown(report)


def test_missing_upstream_is_not_assessed_and_a_gap() -> None:
    upstream = {"patient_status": _upstream()["patient_status"]}
    report = build_report(_case(), upstream)
    for name in ("History", "Imaging", "Guideline considerations", "Trial options"):
        assert _section(render_markdown(report), name).strip() == NOT_ASSESSED
        assert not report.assessed[name]
    assert "Imaging: not assessed in this run (radiology did not run)" in report.gaps
    assert (
        "(report) Trial options: not assessed in this run (clinical_trials did not run)"
        in render_markdown(report)
    )
    assert report.assessed["Biomarkers"] and report.assessed["Pathology"]


def test_nothing_upstream_still_renders_patient_and_disclaimer() -> None:
    report = build_report(_case(), {})
    assert "- Patient p-7, age 59, sex female [patient record: case-7]" in render_markdown(report)
    assert sum(not v for v in report.assessed.values()) == 7
    assert report.findings == ()
    assert DISCLAIMER in render_markdown(report)


def test_open_questions_gather_gaps_and_conflicts() -> None:
    questions = _section(render_report_markdown(_case(), _upstream()), "Open questions")
    assert "- (patient_timeline) no date for the first PET/CT" in questions
    assert "- (clinical_trials) recruitment status unknown for 1 listed trials" in questions
    assert "- (patient_status) conflict: stage group: 'II' in note-9 disagrees" in questions


def test_unreadable_status_is_a_gap_not_a_crash() -> None:
    upstream = {"patient_status": ToolOutput(text="", data={"biomarkers": "KRAS"})}
    report = build_report(_case(), upstream)
    assert _section(render_markdown(report), "Biomarkers").strip() == NOT_ASSESSED
    assert any(g.startswith("patient_status data could not be read") for g in report.gaps)


def test_spec_run_passes_upstream_findings_through(tmp_path: Path) -> None:
    upstream = _upstream()
    out = SPEC.run(ToolContext(_case(), "Prepare the tumor board review", tmp_path, upstream))
    assert SPEC.name == "report_export"
    assert out.findings == upstream["patient_status"].findings
    assert out.data["sections"] == {name: "assessed" for name in SECTIONS}
    assert out.data["cited_documents"] == ["note-1", "ct-1"]
    assert out.data["disclaimer"] == DISCLAIMER
    report = report_from_data(out.data)
    assert out.text == render_markdown(report)
    (kras,) = [s for s in report.section("Biomarkers").statements if s.label == "KRAS"]
    assert kras.citations == (DocCitation(doc_id="note-1", quote="KRAS p.G12C mutation"),)
    (trial,) = [s for s in report.section("Trial options").statements if "D-1553" in s.text]
    assert trial.citations == (trial_citation("NCT05383898"),)


def test_knowledge_without_a_valid_source_is_left_out() -> None:
    upstream = _upstream()
    trials_data = dict(upstream["clinical_trials"].data)
    trials_data["trials"] = [{**trials_data["trials"][0], "nct_id": "?"}]
    guideline_data = dict(upstream["clinical_guidelines"].data)
    guideline_data["passages"] = [{**guideline_data["passages"][0], "url": "http://example.org"}]
    upstream["clinical_trials"] = ToolOutput(text="", data=trials_data)
    upstream["clinical_guidelines"] = ToolOutput(text="", data=guideline_data)
    report = build_report(_case(), upstream)
    assert "1 statement(s) from clinical_trials left out: no valid NCT id" in report.gaps
    assert (
        "1 statement(s) from clinical_guidelines left out: no PDQ section with a cancer.gov link"
        in report.gaps
    )
    assert not report.section("Guideline considerations").statements
    assert "D-1553" not in render_markdown(report)


@pytest.mark.parametrize("tool", ["clinical_guidelines", "clinical_trials"])
def test_report_from_real_tool_outputs(data_dir: Path, tool: str) -> None:
    case = _case()
    status = _upstream()["patient_status"]
    ctx = ToolContext(case, "Prepare the tumor board review", data_dir, {"patient_status": status})
    spec = guidelines.SPEC if tool == "clinical_guidelines" else trials.SPEC
    upstream = {"patient_status": status, tool: spec.run(ctx)}
    report = build_report(case, upstream)
    if tool == "clinical_guidelines":
        section = _section(render_markdown(report), "Guideline considerations")
        assert "[PDQ: Treatment of Progressive Stage IV, Relapsed, and Recurrent NSCLC" in section
        assert "KRAS G12C inhibitors" in section
    else:
        section = _section(render_markdown(report), "Trial options")
        assert "[NCT05383898]" in section
    for finding in report.findings:
        for ev in finding.evidence:
            document = case.document(ev.doc_id)
            assert document is not None and ev.quote in document.text


def test_grade_and_disease_status_are_reported_with_citations() -> None:
    status = _status().model_copy(
        update={
            "grade": StatusValue(value="grade 2", evidence=(_ev("note-1", "ECOG 1"),)),
            "disease_status": StatusValue(
                value="progression", evidence=(_ev("ct-1", "Lingular mass now measured"),)
            ),
        }
    )
    upstream = _upstream() | {
        "patient_status": ToolOutput(text="", data=status.model_dump(mode="json"))
    }
    markdown = render_report_markdown(_case(), upstream)
    assert "**Grade:** grade 2 [note-1]" in _section(markdown, "Pathology")
    assert "**Disease status:** progression [ct-1]" in _section(markdown, "Diagnosis and stage")
