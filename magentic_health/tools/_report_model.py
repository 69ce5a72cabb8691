"""The tumor board report as data: fixed sections of items, every statement with its citations.

This is what ``report_export`` puts in its ``data["report"]`` (``Report.model_dump(mode="json")``)
so a report can be rendered again later, from a ledger or a run result, in any format without
running the tools again. Renderers read only this model.

A section holds items in order: cited ``statement``s, plain ``remark``s ("No imaging studies were
found.", attributions) and, in Open questions, ``question``s (a gap and the tool that reported it).
A citation is a case document with the quote (``doc``), a PDQ summary section (``pdq``), a
ClinicalTrials.gov record (``trial``), or the case's own patient record (``record``: the
demographics the case loader read).
"""

from __future__ import annotations

from typing import Annotated, Literal, assert_never

from pydantic import BaseModel, ConfigDict, Field, model_validator

from magentic_health.reply import Finding

DISCLAIMER = "For research use only. Not a medical device; not for clinical decision-making."
NOT_ASSESSED = "Not assessed in this run."
SECTIONS = (
    "Patient",
    "Diagnosis and stage",
    "History",
    "Imaging",
    "Pathology",
    "Biomarkers",
    "Guideline considerations",
    "Trial options",
    "Open questions",
)
TRIAL_URL = "https://clinicaltrials.gov/study/{nct_id}"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DocCitation(_Frozen):
    """A quote from one document of the case."""

    kind: Literal["doc"] = "doc"
    doc_id: str = Field(min_length=1)
    quote: str = Field(min_length=1)


class PdqCitation(_Frozen):
    """A section of an NCI PDQ summary (public domain, quoted with attribution)."""

    kind: Literal["pdq"] = "pdq"
    file: str = Field(min_length=1)
    title: str = ""
    section: str = Field(min_length=1)
    url: str = Field(pattern=r"^https://www\.cancer\.gov/\S*$")


class TrialCitation(_Frozen):
    """A ClinicalTrials.gov study record."""

    kind: Literal["trial"] = "trial"
    nct_id: str = Field(pattern=r"^NCT\d{8}$")
    url: str = Field(pattern=r"^https://clinicaltrials\.gov/\S*$")


class RecordCitation(_Frozen):
    """The case's patient record (id, age, sex as the case loader read them)."""

    kind: Literal["record"] = "record"
    case_id: str = Field(min_length=1)


Citation = Annotated[
    DocCitation | PdqCitation | TrialCitation | RecordCitation, Field(discriminator="kind")
]


class Statement(_Frozen):
    """A statement of the report; ``label`` is its bold lead-in ("Diagnosis"), if any."""

    kind: Literal["statement"] = "statement"
    label: str | None = None
    text: str = Field(min_length=1)
    citations: tuple[Citation, ...] = Field(min_length=1)


class Remark(_Frozen):
    """A paragraph that states no patient fact (an empty result, an attribution)."""

    kind: Literal["remark"] = "remark"
    text: str = Field(min_length=1)


class Question(_Frozen):
    """An open question: a gap, and the tool (or "report") that reported it."""

    kind: Literal["question"] = "question"
    source: str = Field(min_length=1)
    text: str = Field(min_length=1)


Item = Annotated[Statement | Remark | Question, Field(discriminator="kind")]


class Section(_Frozen):
    """One section: its name, whether its tool's output was there, and its items."""

    name: str
    assessed: bool
    items: tuple[Item, ...]

    @property
    def statements(self) -> tuple[Statement, ...]:
        return tuple(i for i in self.items if isinstance(i, Statement))


class Report(_Frozen):
    """The whole report: the sections in ``SECTIONS`` order, the gaps, and what it cites."""

    schema_version: Literal[1] = 1
    case_id: str = Field(min_length=1)
    request: str
    disclaimer: str = Field(default=DISCLAIMER, min_length=1)
    sections: tuple[Section, ...]
    gaps: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    """The upstream findings, passed through with their original evidence."""
    cited: tuple[str, ...] = ()
    """Case document ids the report cites, in first-cited order."""

    @model_validator(mode="after")
    def _all_sections_in_order(self) -> Report:
        names = tuple(s.name for s in self.sections)
        if names != SECTIONS:
            raise ValueError(f"sections must be {list(SECTIONS)} in this order, got {list(names)}")
        return self

    @property
    def title(self) -> str:
        return f"Tumor board report: {self.case_id}"

    @property
    def assessed(self) -> dict[str, bool]:
        return {s.name: s.assessed for s in self.sections}

    def section(self, name: str) -> Section:
        """The section called ``name`` (one of ``SECTIONS``)."""
        for section in self.sections:
            if section.name == name:
                return section
        raise KeyError(f"no section {name!r}; sections: {', '.join(SECTIONS)}")

    def sources(self) -> tuple[Citation, ...]:
        """Every distinct citation, in first-cited order (the numbering of a Sources list)."""
        seen: dict[Citation, None] = {}
        for section in self.sections:
            for statement in section.statements:
                seen.update(dict.fromkeys(statement.citations))
        return tuple(seen)


def citation_label(citation: Citation) -> str:
    """The bracketed id a citation reads as in text: ``note-1``, ``PDQ: <section>``, ``NCT…``."""
    match citation:
        case DocCitation():
            return citation.doc_id
        case PdqCitation():
            return f"PDQ: {citation.section}"
        case TrialCitation():
            return citation.nct_id
        case RecordCitation():
            return f"patient record: {citation.case_id}"
        case _:
            assert_never(citation)


def trial_citation(nct_id: str) -> TrialCitation:
    """The citation of a trial by its NCT id, linking to its ClinicalTrials.gov record."""
    return TrialCitation(nct_id=nct_id, url=TRIAL_URL.format(nct_id=nct_id))


__all__ = [
    "DISCLAIMER",
    "NOT_ASSESSED",
    "SECTIONS",
    "Citation",
    "DocCitation",
    "Item",
    "PdqCitation",
    "Question",
    "RecordCitation",
    "Remark",
    "Report",
    "Section",
    "Statement",
    "TrialCitation",
    "citation_label",
    "trial_citation",
]
