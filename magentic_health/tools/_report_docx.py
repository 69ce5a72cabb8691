"""The tumor board report as a Word document (python-docx).

Title, the disclaimer, the engine and the request; each section as a heading with its
statements as bullet paragraphs, every statement followed by its citations as bracketed ids
("[note-1] [PDQ: …]"); then a Sources section listing each citation with its quote or link, and
the disclaimer again. The core properties carry the title and subject, and no author name.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, assert_never

from magentic_health.tools._report_model import (
    Citation,
    DocCitation,
    PdqCitation,
    Question,
    RecordCitation,
    Remark,
    Report,
    Statement,
    TrialCitation,
    citation_label,
)

SUBJECT = "Tumor board report (research use only)"
# Characters XML 1.0 forbids (python-docx refuses them): C0 controls other than tab, LF, CR.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _t(text: str) -> str:
    return _NOT_XML.sub("", text)


def _cites(citations: tuple[Citation, ...]) -> str:
    """Each citation's bracketed id, each document once."""
    return " ".join(dict.fromkeys(f"[{citation_label(c)}]" for c in citations))


def _statement(doc: Any, item: Statement) -> None:
    paragraph = doc.add_paragraph(style="List Bullet")
    if item.label:
        paragraph.add_run(_t(f"{item.label}: ")).bold = True
    paragraph.add_run(_t(item.text) + " ")
    paragraph.add_run(_t(_cites(item.citations))).italic = True


def _source(citation: Citation) -> str:
    """One entry of the Sources list after its bracketed id."""
    match citation:
        case DocCitation():
            return f"case document: “{citation.quote}”"
        case PdqCitation():
            title = f"NCI PDQ® {citation.title}" if citation.title else citation.file
            return f"{title}, section “{citation.section}”, {citation.url}"
        case RecordCitation():
            return "the case's patient record (identifier, age and sex as the loader read them)"
        case TrialCitation():
            return f"ClinicalTrials.gov, U.S. National Library of Medicine, {citation.url}"
        case _:
            assert_never(citation)


def _sections(doc: Any, report: Report) -> None:
    for section in report.sections:
        doc.add_heading(_t(section.name), level=1)
        for item in section.items:
            match item:
                case Statement():
                    _statement(doc, item)
                case Question():
                    doc.add_paragraph(_t(f"({item.source}) {item.text}"), style="List Bullet")
                case Remark():
                    run = doc.add_paragraph().add_run(_t(item.text))
                    run.italic = not section.assessed
                case _:
                    assert_never(item)


def write_docx(report: Report, path: Path, *, engine: str) -> Path:
    """Write ``report`` to ``path`` as a .docx; ``engine`` names what produced it."""
    from docx import Document  # imported here: python-docx takes ~0.1 s to import
    from docx.shared import Pt

    doc = Document()
    properties = doc.core_properties
    properties.title = _t(report.title)
    properties.subject = SUBJECT
    properties.author = ""
    properties.last_modified_by = ""
    properties.comments = _t(report.disclaimer)
    properties.keywords = "tumor board; research use only"
    now = datetime.now(UTC).replace(microsecond=0)
    properties.created = properties.modified = now
    doc.add_heading(_t(report.title), level=0)
    disclaimer = doc.add_paragraph(style="Intense Quote").add_run(_t(report.disclaimer))
    disclaimer.bold = True
    doc.add_paragraph(_t(f"Engine: {engine}"))
    request = doc.add_paragraph()
    request.add_run("Request: ").bold = True
    request.add_run(_t(report.request))
    _sections(doc, report)
    doc.add_heading("Sources", level=1)
    for citation in report.sources():
        paragraph = doc.add_paragraph(style="List Number")
        paragraph.add_run(_t(f"[{citation_label(citation)}] ")).bold = True
        paragraph.add_run(_t(_source(citation)))
    closing = doc.add_paragraph().add_run(_t(report.disclaimer))
    closing.italic = True
    closing.font.size = Pt(9)
    doc.save(str(path))
    return Path(path)


__all__ = ["SUBJECT", "write_docx"]
