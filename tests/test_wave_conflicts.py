"""Two specialists of the same wave that disagree: neither saw the other at its checkpoint, so
the orchestrator cross-checks the wave; both replies are kept and the conflict is flagged in the
ledger and in the summary."""

from __future__ import annotations

from pathlib import Path

from magentic_health.agents import HandoffRequest
from magentic_health.case import Document
from magentic_health.reply import Evidence, Finding, SpecialistReply
from magentic_health.trace import read_ledger, verify_ledger
from tests._factories import synthetic_case
from tests.test_team import Scripted, grounded, make_team

RESTAGING = "Restaging review: now stage IVA (T3N2M1a) with a new adrenal metastasis."


def _stage(name: str, doc_id: str, quote: str, claim: str):
    def answer(request: HandoffRequest) -> SpecialistReply:
        return SpecialistReply(
            agent=name,
            text=f"{name}: {claim}.",
            findings=(Finding(claim=claim, evidence=(Evidence(doc_id=doc_id, quote=quote),)),),
            data={f"{name.lower()}_tool": {"stage": claim}},
        )

    return answer


async def test_a_same_wave_disagreement_is_flagged_and_both_replies_kept(tmp_path: Path) -> None:
    base = synthetic_case()
    extra = Document(
        id="note-2",
        date="2024-04-02",
        kind="note",
        type="Progress Notes",
        text=RESTAGING,
        source="synthetic",
    )
    case = base.model_copy(update={"documents": (*base.documents, extra)})
    specialists = {
        "A": Scripted("A", _stage("A", "note-1", "stage IIIB (T3N2M0)", "Stage IIIB (T3N2M0)")),
        "B": Scripted("B", _stage("B", "note-2", "stage IVA (T3N2M1a)", "Stage IVA (T3N2M1a)")),
        "C": Scripted("C", grounded("C")),
    }
    result = await make_team(tmp_path, specialists).run_case(case, ledger_path=tmp_path / "l.jsonl")

    events = read_ledger(tmp_path / "l.jsonl").events
    assert verify_ledger(tmp_path / "l.jsonl").ok
    flagged = [e for e in events if e.type == "checkpoint" and not e.data["passed"]]
    assert [(e.agent, e.data["name"]) for e in flagged] == [("B", "consistency")]
    assert any("conflicts with A on the TNM stage" in f for f in flagged[0].data["failures"])
    # both replies kept: no step failed, both are in the summary, the conflict is listed
    assert result.status == "completed"
    assert "Stage IIIB (T3N2M0)" in result.final_text
    assert "Stage IVA (T3N2M1a)" in result.final_text
    assert "Conflict: B disagreed with A on the TNM stage; both replies are kept" in (
        result.final_text
    )


async def test_agreeing_replies_of_one_wave_raise_no_flag(tmp_path: Path) -> None:
    specialists = {n: Scripted(n, grounded(n)) for n in "ABC"}
    result = await make_team(tmp_path, specialists).run_case(
        synthetic_case(), ledger_path=tmp_path / "l.jsonl"
    )
    events = read_ledger(tmp_path / "l.jsonl").events
    assert all(e.data["passed"] for e in events if e.type == "checkpoint")
    assert "Conflict:" not in result.final_text
