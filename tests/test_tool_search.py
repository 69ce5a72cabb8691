"""The note search tool: ranking, case-insensitivity, verbatim snippets, the instruction query."""

from __future__ import annotations

from pathlib import Path

import pytest
from _quotes import (
    assert_findings_grounded,
    case_of,
    note,
    run_tool,
    sample_cases,
)

from magentic_health.case import Case
from magentic_health.tools.search import SPEC, query_terms, search_notes


@pytest.fixture(scope="module")
def cases(data_dir: Path) -> dict[str, Case]:
    return sample_cases(data_dir)


def test_hao_adagrasib_is_found_in_the_last_progress_note(cases: dict[str, Case]) -> None:
    hits = search_notes(cases["hao"], "adagrasib")
    assert [h.doc_id for h in hits] == ["31bbcfb4-704e-4e28-8f33-f0db97d5598d"]
    assert "adagrasib" in hits[0].snippet
    assert hits[0].snippet in cases["hao"].document(hits[0].doc_id).text  # type: ignore[union-attr]
    assert (hits[0].date, hits[0].type) == ("2021-03-27", "Progress Notes")


def test_search_is_case_insensitive_and_ranks_by_term_frequency() -> None:
    case = case_of(
        note("once", "2020-01-01", "Keytruda given. Patient tolerated it well. Next visit soon."),
        note("thrice", "2020-02-01", "Keytruda cycle 2. KEYTRUDA infusion. keytruda tolerated."),
        note("none", "2020-03-01", "Labs reviewed, no infusion today."),
    )
    hits = search_notes(case, "KEYTRUDA")
    assert [h.doc_id for h in hits] == ["thrice", "once"]
    assert all(h.terms == ("keytruda",) for h in hits)
    assert hits[0].score > hits[1].score > 0


def test_rarer_terms_weigh_more() -> None:
    case = case_of(
        note("a", "2020-01-01", "Chest CT reviewed. CT stable. CT again."),
        note("b", "2020-01-02", "Chest CT shows a KRAS G12C lung mass."),
        note("c", "2020-01-03", "CT scheduled."),
    )
    hits = search_notes(case, "kras ct")
    assert hits[0].doc_id == "b"
    assert hits[0].terms == ("kras", "ct")
    assert "KRAS" in hits[0].snippet


def test_limit_and_no_match(cases: dict[str, Case]) -> None:
    assert len(search_notes(cases["hao"], "pembrolizumab keytruda", limit=2)) == 2
    assert search_notes(cases["hao"], "osimertinib") == []
    assert search_notes(cases["hao"], "the and of") == []


def test_query_terms_drop_stopwords_and_instruction_words() -> None:
    assert query_terms("Please find the notes about the EGD and Schatzki's ring") == [
        "egd",
        "schatzki",
        "ring",
    ]


def test_spec_uses_the_instruction(cases: dict[str, Case], data_dir: Path) -> None:
    out = run_tool(SPEC, cases["hao"], data_dir, "Please find notes about the EGD dilation")
    assert out.data["query"] == ["egd", "dilation"]
    assert out.findings and out.gaps == ()
    assert out.findings[0].claim == "Procedures (2021-03-11) mentions egd, dilation"
    assert_findings_grounded(cases["hao"], out.findings)
    assert "f051320d-2f94-4daa-a819-05c8eff11b3f" in {h["doc_id"] for h in out.data["hits"]}


def test_spec_without_terms_or_matches_reports_a_gap(
    cases: dict[str, Case], data_dir: Path
) -> None:
    empty = run_tool(SPEC, cases["hao"], data_dir, "please find the notes")
    assert empty.findings == () and empty.gaps[0].startswith("no search terms")
    missing = run_tool(SPEC, cases["hao"], data_dir, "osimertinib")
    assert missing.findings == () and missing.gaps == ("no document mentions 'osimertinib'",)


@pytest.mark.parametrize(
    ("name", "query", "doc_type"),
    [
        ("austin", "cisplatin", "MedicationRequest"),
        ("mcode", "HER2", "Observation"),
        ("stevie", "prostatectomy", "Procedure"),
    ],
)
def test_fhir_documents_are_searchable(
    cases: dict[str, Case], data_dir: Path, name: str, query: str, doc_type: str
) -> None:
    out = run_tool(SPEC, cases[name], data_dir, query)
    assert out.findings and all(h["type"] == doc_type for h in out.data["hits"])
    assert_findings_grounded(cases[name], out.findings)


def test_a_drug_is_found_by_its_other_names() -> None:
    case = case_of(
        note("brand", "2020-01-01", "Keytruda 200 mg given today."),
        note("generic", "2020-02-01", "Continues pembrolizumab every 3 weeks."),
        note("other", "2020-03-01", "Carboplatin and paclitaxel."),
    )
    hits = search_notes(case, "Keytruda")
    assert {h.doc_id for h in hits} == {"brand", "generic"}
    generic = next(h for h in hits if h.doc_id == "generic")
    assert generic.terms == ("pembrolizumab",) and "pembrolizumab" in generic.snippet
    assert [h.doc_id for h in search_notes(case, "taxol")] == ["other"]
