"""Small synthetic cases for unit tests (written here; not copies of the shared data)."""

from __future__ import annotations

from magentic_health.case import Case, Document, Patient

NOTE = (
    "Oncology progress note. Diagnosis: non-small cell lung cancer, adenocarcinoma of the "
    "right upper lobe, stage IIIB (T3N2M0). KRAS p.G12C detected by NGS. ECOG 1. "
    "Started carboplatin and pemetrexed on 2024-02-01."
)
CT = (
    "CT chest with contrast. Comparison: CT of 2024-01-05. Findings: right upper lobe mass "
    "now 3.1 x 2.4 cm, previously 4.0 x 3.2 cm. Impression: partial response."
)


def synthetic_case(
    request: str = "Prepare the tumor board review", *, imaging: bool = True
) -> Case:
    docs = [
        Document(
            id="note-1",
            date="2024-03-01",
            kind="note",
            type="Progress Notes",
            text=NOTE,
            source="synthetic",
        )
    ]
    if imaging:
        docs.append(
            Document(
                id="ct-1", date="2024-03-10", kind="report", type="CT", text=CT, source="synthetic"
            )
        )
    return Case(
        case_id="synthetic-1",
        request=request,
        patient=Patient(id="p1", age=64, sex="male"),
        documents=tuple(docs),
        source="synthetic",
    )
