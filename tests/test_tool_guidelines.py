"""clinical_guidelines: PDQ passages by cancer type, stage and biomarkers (BM25)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from magentic_health.case import Case, Document, Patient
from magentic_health.errors import InputError
from magentic_health.reply import Evidence
from magentic_health.tools._base import ToolContext, ToolOutput
from magentic_health.tools._bm25 import BM25, tokenize
from magentic_health.tools._pdq import GuidelineIndex, guideline_index
from magentic_health.tools._status_model import Biomarker, PatientStatus, StatusValue
from magentic_health.tools.guidelines import SPEC, excerpt, find_guidelines

NSCLC_FILE = "types-lung-hp-non-small-cell-lung-treatment-pdq.md"
COLON_FILE = "types-colorectal-hp-colon-treatment-pdq.md"
NOTE = (
    "Reason for visit: Follow-up for non-small cell lung cancer T4N3M1a (IVA). "
    "NGS returned showing KRAS p.G12C mutation. PD-L1 neg."
)


def _value(value: str, quote: str) -> StatusValue:
    return StatusValue(value=value, evidence=(Evidence(doc_id="note-1", quote=quote),))


def hao_like() -> PatientStatus:
    """NSCLC stage IVA, KRAS p.G12C, PD-L1 negative, quoting the synthetic note above."""
    return PatientStatus(
        diagnosis=_value("non-small cell lung cancer", "non-small cell lung cancer"),
        stage_tnm=_value("T4N3M1a", "T4N3M1a"),
        stage_group=_value("IVA", "(IVA)"),
        biomarkers=(
            Biomarker(
                name="KRAS",
                result="p.G12C",
                evidence=(Evidence(doc_id="note-1", quote="KRAS p.G12C mutation"),),
            ),
            Biomarker(
                name="PD-L1",
                result="negative",
                evidence=(Evidence(doc_id="note-1", quote="PD-L1 neg"),),
            ),
        ),
        age=59,
        sex="female",
    )


@pytest.fixture(scope="module")
def index(data_dir: Path) -> GuidelineIndex:
    return guideline_index(data_dir)


def test_hao_like_status_gets_stage_iv_and_kras_g12c_passages(index: GuidelineIndex) -> None:
    result = find_guidelines(hao_like(), "Prepare the tumor board review", index=index)

    assert result.summaries == (NSCLC_FILE,)
    assert len(result.passages) == 5
    assert {p.file for p in result.passages} == {NSCLC_FILE}
    sections = [p.section for p in result.passages]
    assert all("Stage IV" in s for s in sections[:3]), sections
    kras = [p for p in result.passages if "KRAS G12C inhibitors" in p.section]
    assert kras, sections
    assert kras[0] is result.passages[0]
    assert "G12C" in kras[0].excerpt and "KRAS" in kras[0].excerpt
    assert "adagrasib" in kras[0].excerpt.lower()
    assert kras[0].markers == ("KRAS p.G12C",)
    assert any(s.startswith("Treatment of Newly Diagnosed Stage IV") for s in sections)
    assert [p.score for p in result.passages] == sorted(
        (p.score for p in result.passages), reverse=True
    )


def test_excerpts_are_verbatim_and_short(index: GuidelineIndex) -> None:
    result = find_guidelines(hao_like(), "Prepare the tumor board review", index=index)
    stored = {p.section: p.text for p in index.passages if p.file == NSCLC_FILE}
    for passage in result.passages:
        body = passage.excerpt.removeprefix("… ").removesuffix(" …")
        assert len(body) <= 800
        assert body in stored[passage.section]
        assert "](" not in body  # link targets and image links are not displayed


def test_colon_status_gets_the_colon_summary(index: GuidelineIndex) -> None:
    status = PatientStatus(diagnosis=_value("Overlapping malignant neoplasm of colon", "colon"))
    result = find_guidelines(status, "Treatment options", index=index)
    assert result.summaries == (COLON_FILE,)
    assert result.passages and {p.file for p in result.passages} == {COLON_FILE}
    assert {p.title for p in result.passages} == {"Colon Cancer Treatment"}
    assert (
        result.passages[0].url == "https://www.cancer.gov/types/colorectal/hp/colon-treatment-pdq"
    )


def test_stage_sections_are_preferred_for_the_stage_group(index: GuidelineIndex) -> None:
    status = PatientStatus(
        diagnosis=_value("adenocarcinoma of the colon", "colon"),
        stage_group=_value("IV", "stage IV"),
    )
    result = find_guidelines(status, "treatment options", index=index)
    assert result.passages[0].section.startswith("Treatment of Stage IV and Recurrent Colon Cancer")


def test_unknown_cancer_is_a_gap(index: GuidelineIndex) -> None:
    status = PatientStatus(diagnosis=_value("cutaneous melanoma", "melanoma"))
    result = find_guidelines(status, "treatment", index=index)
    assert result.passages == ()
    assert result.gaps and "'cutaneous melanoma'" in result.gaps[0]


def test_missing_diagnosis_is_a_gap(index: GuidelineIndex) -> None:
    result = find_guidelines(PatientStatus(), "treatment", index=index)
    assert result.passages == () and result.gaps == ("no diagnosis in the patient status",)


def test_bm25_ranks_the_only_document_with_a_rare_term_first() -> None:
    texts = [
        "stage IV lung cancer chemotherapy options",
        "lung cancer radiation therapy for stage III",
        "sotorasib for KRAS G12C lung cancer",
        "lung cancer screening and lung cancer risk",
    ]
    bm25 = BM25(texts)
    ranked = bm25.rank("lung cancer sotorasib")
    assert ranked[0][0] == 2
    assert len(ranked) == 4  # every text shares "lung cancer"
    assert bm25.rank("absent words") == []
    assert bm25.idf("sotorasib") > bm25.idf("lung")


def test_bm25_prefers_shorter_documents_at_equal_term_frequency() -> None:
    bm25 = BM25(["kras inhibitor", "kras inhibitor " + "filler words here " * 20])
    assert [i for i, _ in bm25.rank("kras")] == [0, 1]


def test_tokenize_keeps_variants_and_drops_stopwords() -> None:
    assert tokenize("The KRAS p.G12C and PD-L1 of stage IVA") == [
        "kras",
        "g12c",
        "pd",
        "l1",
        "stage",
        "iva",
    ]


SYNTHETIC_PDQ = """---
title: Colon Cancer Treatment (PDQ®) - NCI
url: https://www.cancer.gov/types/colorectal/hp/colon-treatment-pdq
cancerTypes:
- breast
audienceLevel: patient
---

# Colon Cancer Treatment (PDQ®) - NCI

## General Information

Colon cancer is common.[[1](#cit/section_1.1)] See [staging](/types/colon#_1).

[Enlarge](https://nci-media.cancer.gov/x.jpg)![Anatomy](https://nci-media.cancer.gov/y.jpg "A")

### Risk Factors

Age is a risk factor.

###### References

1. Someone: A zyxwvut paper. J 1: 1, 2020.

## Treatment of Stage IV Colon Cancer

### Treatment Options

#### Systemic therapy

Oxaliplatin regimens are used.

##### FOLFOX

FOLFOX is a regimen.

## Latest Updates to This Summary (02/12/2025)

Updated oxaliplatin text.

## About This PDQ Summary

### Purpose of This Summary

Oxaliplatin purpose.
"""


def _write_pdq(folder: Path) -> Path:
    guidelines = folder / "guidelines"
    guidelines.mkdir(parents=True)
    path = guidelines / "colon.md"
    path.write_text(SYNTHETIC_PDQ, encoding="utf-8")
    return path


def test_chunking_keeps_heading_paths_and_drops_unranked_sections(tmp_path: Path) -> None:
    _write_pdq(tmp_path)
    index = guideline_index(tmp_path)
    summary = index.summaries["colon.md"]
    assert summary.title == "Colon Cancer Treatment"
    assert summary.cancer_types == ("colon",)  # from the title, not the wrong cancerTypes
    sections = [p.section for p in index.passages]
    assert sections == [
        "General Information",
        "General Information > Risk Factors",
        "Treatment of Stage IV Colon Cancer > Treatment Options > Systemic therapy",
    ]
    general, risk, systemic = index.passages
    assert "[1]" in general.text and "#cit/" not in general.text
    assert "staging" in general.text and "/types/colon" not in general.text
    assert "nci-media" not in general.text and "Anatomy" not in general.text
    assert "[[1]" not in general.index_text and "1](" not in general.index_text
    assert "zyxwvut" not in risk.text  # references are not passages
    assert "**FOLFOX**" in systemic.text  # deeper headings stay inside their passage
    assert all("Latest Updates" not in s and "About This" not in s for s in sections)


def test_index_is_cached_and_rebuilt_when_a_file_changes(tmp_path: Path) -> None:
    path = _write_pdq(tmp_path)
    first = guideline_index(tmp_path)
    assert guideline_index(tmp_path) is first
    path.write_text(SYNTHETIC_PDQ.replace("Age is a risk factor.", "Age matters."), "utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = guideline_index(tmp_path)
    assert second is not first
    assert "Age matters." in second.passages[1].text


def test_missing_guidelines_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="guidelines"):
        guideline_index(tmp_path)


def test_front_matter_without_url_is_an_input_error(tmp_path: Path) -> None:
    folder = tmp_path / "guidelines"
    folder.mkdir()
    (folder / "bad.md").write_text("---\ntitle: X\n---\n\n## A\n\ntext\n", "utf-8")
    with pytest.raises(InputError, match="'url'"):
        guideline_index(tmp_path)


def test_excerpt_picks_the_sentences_with_the_query_terms() -> None:
    text = "Alpha beta gamma. " * 30 + "Sotorasib treats KRAS G12C. " + "Delta epsilon. " * 30
    out = excerpt(text, {"sotorasib": 3.0, "g12c": 2.0}, limit=120)
    assert "Sotorasib treats KRAS G12C." in out
    assert out.startswith("… ") and out.endswith(" …")
    assert len(out) <= 124


def _case() -> Case:
    note = Document(id="note-1", kind="note", type="Progress Notes", text=NOTE, source="test")
    return Case(case_id="g", patient=Patient(id="p"), documents=(note,), source="test")


def test_spec_run_cites_pdq_in_data_and_case_evidence_in_findings(
    data_dir: Path, index: GuidelineIndex
) -> None:
    case = _case()
    status = ToolOutput(text="", data=hao_like().model_dump(mode="json"))
    ctx = ToolContext(case, "Prepare the tumor board review", data_dir, {"patient_status": status})
    out = SPEC.run(ctx)
    assert SPEC.run(ctx) == out  # deterministic: the same context gives the same output
    assert SPEC.name == "clinical_guidelines"
    assert out.gaps == ()
    assert (
        "Source: NCI PDQ® Non-Small Cell Lung Cancer Treatment, "
        "https://www.cancer.gov/types/lung/hp/non-small-cell-lung-treatment-pdq"
    ) in out.text
    passages = out.data["passages"]
    assert passages[0]["file"] == NSCLC_FILE and "KRAS G12C" in passages[0]["section"]
    assert f"[PDQ: {passages[0]['section']}]" in out.text
    claims = [f.claim for f in out.findings]
    assert "Guidance specific to the patient's KRAS p.G12C was retrieved" in claims
    for finding in out.findings:
        for ev in finding.evidence:
            document = case.document(ev.doc_id)
            assert document is not None and ev.quote in document.text


def test_spec_run_without_a_status_says_why(data_dir: Path) -> None:
    bad = ToolOutput(text="", data={"diagnosis": "not a status value"})
    out = SPEC.run(ToolContext(_case(), "x", data_dir, {"patient_status": bad}))
    assert out.data == {} and out.gaps and "patient_status" in out.gaps[0]


def test_a_secondary_cancer_without_a_stage_ranks_stage_iv_passages(
    index: GuidelineIndex,
) -> None:
    from magentic_health.tools.guidelines import _stage_of

    secondary = PatientStatus(
        diagnosis=_value("Secondary malignant neoplasm of colon", "Secondary malignant neoplasm")
    )
    negated = PatientStatus(
        diagnosis=_value("colon cancer", "colon cancer"),
        disease_status=_value("no evidence of metastatic disease", "no evidence of metastatic"),
    )
    assert _stage_of(secondary) == "IV"
    assert _stage_of(negated) is None
    result = find_guidelines(secondary, "", index=index)
    assert any("Stage IV" in p.section for p in result.passages[:3])
