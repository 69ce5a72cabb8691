"""Shared helpers for the tool tests: the sample cases and the quote-grounding assertion."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from magentic_health.case import Case, Document, Patient, load_case
from magentic_health.reply import Evidence, Finding
from magentic_health.tools import ToolContext, ToolOutput, ToolSpec


def assert_quotes_in_documents(case: Case, evidence: Iterable[Evidence]) -> int:
    """Every quote occurs verbatim in the document it cites; returns how many were checked."""
    checked = 0
    for item in evidence:
        doc = case.document(item.doc_id)
        assert doc is not None, f"cites unknown document {item.doc_id!r}"
        assert item.quote.strip(), f"empty quote for {item.doc_id!r}"
        assert item.quote in doc.text, f"quote not in {item.doc_id!r}: {item.quote[:120]!r}"
        checked += 1
    return checked


def evidence_in_data(value: object) -> Iterator[Evidence]:
    """Every ``{"doc_id", "quote"}`` object nested in a tool's structured data."""
    if isinstance(value, dict):
        if set(value) == {"doc_id", "quote"}:
            yield Evidence.model_validate(value)
            return
        for item in value.values():
            yield from evidence_in_data(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from evidence_in_data(item)


def assert_findings_grounded(case: Case, findings: Iterable[Finding]) -> int:
    """Every finding has evidence and every quote occurs in its cited document."""
    total = 0
    for finding in findings:
        assert finding.evidence, f"finding without evidence: {finding.claim!r}"
        total += assert_quotes_in_documents(case, finding.evidence)
    return total


def sample_cases(data_dir: Path) -> dict[str, Case]:
    """The HAO patient, the mCODE bundle and every Synthea bundle, keyed by a short name."""
    cases = {
        "hao": load_case(data_dir / "hao" / "patient_4"),
        "mcode": load_case(data_dir / "mcode" / "patient_data.json"),
    }
    for path in sorted((data_dir / "synthea").glob("*.json")):
        cases[path.stem.split("_")[0].lower()] = load_case(path)
    return cases


def run_tool(spec: ToolSpec, case: Case, data_dir: Path, instruction: str = "") -> ToolOutput:
    return spec.run(ToolContext(case=case, instruction=instruction, data_dir=data_dir))


def fhir_doc(ref: str, text: str, date: str | None = None) -> Document:
    """A FHIR document in the loader's rendering contract, for small synthetic cases."""
    return Document(id=ref, date=date, kind="fhir", type=ref.split("/")[0], text=text, source="t")


def note(
    doc_id: str, date: str, text: str, *, kind: str = "note", type_: str = "Progress Notes"
) -> Document:
    return Document(id=doc_id, date=date, kind=kind, type=type_, text=text, source="t")  # type: ignore[arg-type]


def case_of(*docs: Document, patient: Patient | None = None) -> Case:
    return Case(
        case_id="synthetic",
        patient=patient or Patient(id="p"),
        documents=tuple(docs),
        source="synthetic",
    )
