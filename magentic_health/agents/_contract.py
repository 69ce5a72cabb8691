"""The specialist reply contract for model-driven agents: the pydantic reply model, the text of
the contract given to the model, and strict reading of a reply into a ``SpecialistReply``.

A reply that cannot be read (not JSON, two JSON blocks, prose around the JSON, a wrong shape, a
finding without evidence) raises ``ReplyContractError``; the orchestrator turns it into a failed
``contract`` checkpoint and hands the failures back to the agent once.
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict, ValidationError

from magentic_health.reply import FINDINGS, Finding


class ReplyContractError(Exception):
    """A specialist's reply does not follow the reply contract; ``failures`` say why."""

    def __init__(self, failures: tuple[str, ...]) -> None:
        super().__init__("; ".join(failures))
        self.failures = failures


class ContractEvidence(BaseModel):
    """A verbatim quote from one document."""

    model_config = ConfigDict(extra="forbid")

    doc_id: str
    quote: str


class ContractFinding(BaseModel):
    """One checkable claim with its quotes."""

    model_config = ConfigDict(extra="forbid")

    claim: str
    evidence: list[ContractEvidence]


class ReplyContract(BaseModel):
    """What a specialist model answers: markdown for people, cited findings, and gaps."""

    model_config = ConfigDict(extra="forbid")

    text: str
    findings: list[ContractFinding]
    gaps: list[str]


CONTRACT_PROMPT = """\
Answer with one JSON object and nothing else (no prose before or after it, no second object):
{"text": "<short markdown section for the board>",
 "findings": [{"claim": "<one checkable statement>",
               "evidence": [{"doc_id": "<id exactly as given>", "quote": "<verbatim span>"}]}],
 "gaps": ["<what you looked for and could not find>"]}
Every finding needs at least one evidence item. Quote only text that occurs in the document
named by doc_id, copied verbatim as one contiguous span."""

_FENCE = re.compile(r"^```(?:json)?\s*\n(?P<body>.*)\n```$", re.DOTALL)


def describe_validation(exc: ValidationError) -> tuple[str, ...]:
    """One line per validation error: where and what, without echoing the input."""
    return tuple(
        f"{'.'.join(str(p) for p in err['loc']) or 'reply'}: {err['msg']}" for err in exc.errors()
    )


def parse_contract(content: str) -> ReplyContract:
    """Read a reply that must be exactly one JSON object (optionally in one ```json fence)."""
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced is not None:
        text = fenced.group("body").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplyContractError(
            (
                f"the reply is not one JSON object ({exc.msg} at line {exc.lineno} column "
                f"{exc.colno}); answer with the JSON object only",
            )
        ) from exc
    if not isinstance(data, dict):
        raise ReplyContractError((f"the reply is JSON {type(data).__name__}, not an object",))
    try:
        return ReplyContract.model_validate(data)
    except ValidationError as exc:
        raise ReplyContractError(describe_validation(exc)) from exc


def to_findings(contract: ReplyContract) -> tuple[Finding, ...]:
    """The contract's findings as ``Finding``; a finding without evidence or with an empty
    claim, doc_id or quote is a contract failure."""
    failures: list[str] = []
    for i, item in enumerate(contract.findings):
        if not item.claim.strip():
            failures.append(f"findings[{i}] has an empty claim")
        if not item.evidence:
            failures.append(f"findings[{i}] ({item.claim[:60]!r}) has no evidence")
        for j, ev in enumerate(item.evidence):
            if not ev.doc_id.strip() or not ev.quote.strip():
                failures.append(f"findings[{i}].evidence[{j}] needs a doc_id and a quote")
    if failures:
        raise ReplyContractError(tuple(failures))
    # the contract has the shape of our findings: one validation builds them all
    return FINDINGS.validate_python(contract.model_dump(include={"findings"})["findings"])
