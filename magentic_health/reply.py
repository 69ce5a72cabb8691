"""The specialist reply contract (DESIGN section 5): markdown for people plus cited findings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class Evidence(BaseModel):
    """A quote from one document of the case; ``quote`` must occur in that document."""

    model_config = ConfigDict(frozen=True)

    doc_id: str = Field(min_length=1)
    quote: str = Field(min_length=1)


class Finding(BaseModel):
    """One claim and the evidence it rests on."""

    model_config = ConfigDict(frozen=True)

    claim: str = Field(min_length=1)
    evidence: tuple[Evidence, ...] = Field(min_length=1)


FINDINGS: TypeAdapter[tuple[Finding, ...]] = TypeAdapter(tuple[Finding, ...])
"""Findings validated or dumped in one call (one pass in pydantic's core, not one per finding);
shared, since building an adapter costs a schema build."""


class SpecialistReply(BaseModel):
    """What a specialist hands back to the orchestrator."""

    model_config = ConfigDict(frozen=True)

    agent: str
    text: str
    """Markdown for people."""
    findings: tuple[Finding, ...] = ()
    gaps: tuple[str, ...] = ()
    """What the specialist looked for and could not find."""
    data: dict[str, Any] = Field(default_factory=dict)
    """Structured results keyed by tool name, for dependent steps (e.g. the patient status)."""
    tools_used: tuple[str, ...] = ()
