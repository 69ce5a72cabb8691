"""Digests recorded in run_started: stable for the same content, different otherwise."""

from __future__ import annotations

from magentic_health.case import Document
from magentic_health.team._digest import case_digest, digest
from tests._factories import synthetic_case


def test_case_digest_depends_on_documents_and_request() -> None:
    case = synthetic_case("What is the current stage?")
    same = synthetic_case("What is the current stage?")
    assert case_digest(case) == case_digest(same) == case_digest(case)
    assert case_digest(case) != case_digest(case.with_request("Prepare the tumor board review"))
    changed = case.model_copy(
        update={
            "documents": (
                *case.documents[:1],
                Document(
                    id="ct-1",
                    date="2024-03-10",
                    kind="report",
                    type="CT",
                    text="Changed.",
                    source="synthetic",
                ),
            )
        }
    )
    assert case_digest(changed) != case_digest(case)


def test_model_digest_is_remembered_only_for_the_same_object() -> None:
    first, second = synthetic_case("a"), synthetic_case("b")
    assert digest(first) == digest(first) != digest(second)
