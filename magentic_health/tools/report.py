"""report_export: the tumor board report, assembled only from what upstream tools returned.

The tool's ``text`` is the report in Markdown; its ``data["report"]`` is the whole report as
JSON (``Report.model_dump(mode="json")``), so it can be rendered again later from a ledger or a
run result, as Markdown, a self-contained HTML page or a Word document, without running the
tools again::

    report = report_from_data(result.tool_data["report_export"])
    export_report(report, "html", Path("out/report.html"), engine=result.engine)

Every patient statement cites the case documents it rests on, with the quotes; knowledge
statements cite their PDQ section or NCT record (see ``_report_build`` for the rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast, get_args

from pydantic import ValidationError

from magentic_health.case import Case
from magentic_health.errors import InputError
from magentic_health.tools._base import ToolContext, ToolOutput, ToolSpec
from magentic_health.tools._report_build import TOOL_ORDER, build_report
from magentic_health.tools._report_docx import write_docx
from magentic_health.tools._report_html import render_html
from magentic_health.tools._report_model import (
    DISCLAIMER,
    NOT_ASSESSED,
    SECTIONS,
    Citation,
    DocCitation,
    Item,
    Question,
    Remark,
    Report,
    Statement,
    TrialCitation,
    citation_label,
)

ExportFormat = Literal["md", "html", "docx"]
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)


def _md_citations(citations: tuple[Citation, ...]) -> str:
    """``[note-1] [PDQ: section] [NCT01234567](url)``: each document once, trials linked."""
    marks: dict[str, None] = {}
    for citation in citations:
        label = citation_label(citation)
        link = f"({citation.url})" if isinstance(citation, TrialCitation) else ""
        marks[f"[{label}]{link}"] = None
    return " ".join(marks)


def _md_items(items: tuple[Item, ...]) -> list[str]:
    """Statements and questions as bullets; remarks as paragraphs between them."""
    lines: list[str] = []
    after_remark = False
    for item in items:
        if isinstance(item, Remark):
            lines += ["", item.text] if lines else [item.text]
            after_remark = True
            continue
        if isinstance(item, Statement):
            label = f"**{item.label}:** " if item.label else ""
            bullet = f"- {label}{item.text} {_md_citations(item.citations)}"
        else:
            bullet = f"- ({item.source}) {item.text}"
        lines += ["", bullet] if after_remark else [bullet]
        after_remark = False
    return lines


def render_markdown(report: Report, *, engine: str | None = None) -> str:
    """The report as Markdown: title, disclaimer, request, engine (when given), the sections."""
    lines = [f"# {report.title}", "", f"> {report.disclaimer}", ""]
    lines.append(f"**Request:** {report.request}")
    if engine:
        lines += ["", f"**Engine:** {engine}"]
    for section in report.sections:
        lines += ["", f"## {section.name}", "", *_md_items(section.items)]
    lines += ["", "---", "", f"*{report.disclaimer}*", ""]
    return "\n".join(lines)


def render_report_markdown(case: Case, upstream: Mapping[str, ToolOutput]) -> str:
    """The report's Markdown straight from the upstream outputs (see ``build_report``)."""
    return render_markdown(build_report(case, upstream))


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def report_from_data(data: Mapping[str, Any]) -> Report:
    """The report held in ``data``: report_export's tool data (with the ``report`` key) or the
    report itself (``Report.model_dump(mode="json")``).

    Raises ``InputError`` naming the first field that is missing or wrong.
    """
    hint = "expected report_export's data with a 'report' object (Report.model_dump(mode='json'))"
    if not isinstance(data, Mapping):
        raise InputError(f"report data: not a JSON object; {hint}")
    if "report" in data:
        raw, prefix = data["report"], "report"
    elif "sections" in data and "case_id" in data:
        raw, prefix = data, ""
    else:
        raise InputError(f"report data: missing field 'report'; {hint}")
    try:
        return Report.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _field_path((prefix, *first["loc"]) if prefix else tuple(first["loc"]))
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InputError(
            f"report data: field {where or prefix or 'report'!r}: {first['msg']}{more}; {hint}"
        ) from exc


def export_format(name: str) -> ExportFormat:
    """``name`` ("md", "html" or "docx", any case) as an export format, else ``InputError``."""
    value = name.strip().lower()
    for fmt in get_args(ExportFormat):
        if value == fmt:
            return cast(ExportFormat, fmt)
    raise InputError(f"report format {name!r} is unknown; choose from {', '.join(EXPORT_FORMATS)}")


def export_report(report: Report, fmt: ExportFormat, path: Path, *, engine: str) -> Path:
    """Write ``report`` to ``path`` as ``md``, ``html`` or ``docx`` (creating its folders);
    ``engine`` names what produced it (shown in every format)."""
    fmt = export_format(fmt)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "docx":
            return write_docx(report, path, engine=engine)
        text = (
            render_html(report, engine=engine)
            if fmt == "html"
            else render_markdown(report, engine=engine)
        )
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"{str(path)!r}: cannot write the report ({exc.strerror or exc}); "
            "choose a writable output folder"
        ) from exc
    return path


def _run(ctx: ToolContext) -> ToolOutput:
    report = build_report(ctx.case, ctx.upstream)
    data = {
        "format": "markdown",
        "sections": {
            name: ("assessed" if assessed else "not assessed")
            for name, assessed in report.assessed.items()
        },
        "tools": [t for t in TOOL_ORDER if t in ctx.upstream],
        "cited_documents": list(report.cited),
        "disclaimer": report.disclaimer,
        "report": report.model_dump(mode="json"),
    }
    return ToolOutput(
        text=render_markdown(report), findings=report.findings, gaps=report.gaps, data=data
    )


SPEC = ToolSpec(
    name="report_export",
    description=(
        "Writes the tumor board report (Markdown, plus the structured report for HTML and DOCX "
        "export) from the upstream tool outputs: patient, diagnosis and stage, history, "
        "imaging, pathology, biomarkers, guideline considerations, trial options and open "
        "questions, every statement cited."
    ),
    run=_run,
)

__all__ = [
    "DISCLAIMER",
    "EXPORT_FORMATS",
    "NOT_ASSESSED",
    "SECTIONS",
    "SPEC",
    "Citation",
    "DocCitation",
    "ExportFormat",
    "Question",
    "Remark",
    "Report",
    "Statement",
    "build_report",
    "export_format",
    "export_report",
    "render_html",
    "render_markdown",
    "render_report_markdown",
    "report_from_data",
    "write_docx",
]
