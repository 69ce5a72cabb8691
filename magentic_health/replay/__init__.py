"""Replaying a ledger for debugging: text and JSON views of the run, and a self-contained
HTML page with each hand-off, verdict, re-plan and citation (``magentic-health replay``)."""

from __future__ import annotations

from pathlib import Path

from magentic_health.case import Case, load_case
from magentic_health.errors import InputError
from magentic_health.replay._html import render_html, write_html
from magentic_health.replay._quotes import locate
from magentic_health.replay._summary import RunSummary, summarize
from magentic_health.replay._views import (
    SECTIONS,
    VIEWS,
    ReplayFilter,
    chain_report,
    json_view,
    sections_for,
    show_event,
    text_view,
)
from magentic_health.trace import EVENT_TYPES, Ledger, Verification

__all__ = [
    "EVENT_TYPES",
    "SECTIONS",
    "VIEWS",
    "ReplayFilter",
    "RunSummary",
    "chain_report",
    "html_report",
    "json_view",
    "locate",
    "resolve_case",
    "sections_for",
    "show_event",
    "summarize",
    "text_view",
]


def resolve_case(
    ledger: Ledger, *, case: str | None = None, data_dir: Path | None = None
) -> tuple[Case | None, str | None]:
    """The run's case, or None and why: ``case`` if given, else the case source recorded in
    ``run_started``, else its case id (a sample case's id is its name)."""
    head = summarize(ledger.events[:1]).header
    if case is not None:
        refs = [case]
    elif head is not None:
        refs = list(dict.fromkeys(r for r in (head.case_source, head.case_id) if r))
    else:
        return None, "the ledger names no case; pass --case"
    problem = ""
    for ref in refs:
        try:
            return load_case(ref, data_dir=data_dir), None
        except InputError as exc:
            problem = f"case {ref!r} could not be loaded ({exc})"
    return None, f"{problem}; pass --case"


def html_report(
    ledger: Ledger,
    verification: Verification,
    out: Path,
    *,
    case: str | None = None,
    data_dir: Path | None = None,
) -> tuple[Path, str | None]:
    """Write the HTML page of ``ledger`` to ``out``; returns its path and, when the cited
    documents could not be embedded, why."""
    loaded, note = resolve_case(ledger, case=case, data_dir=data_dir)
    page = render_html(ledger, verification, case=loaded, case_note=note)
    return write_html(page, out), note
