"""The tumor board report as one self-contained HTML page.

Inline CSS only: no script, no stylesheet, image or font to load, so the page opens offline and
can be attached or archived as it is. Every text of the report is HTML-escaped (patient text
included). Each statement's citations are superscript links to a numbered, anchored Sources list
at the end that shows each document quote with its document id; PDQ sources link to cancer.gov
and trial sources to clinicaltrials.gov. A banner at the top states the disclaimer and the
engine that produced the report.
"""

from __future__ import annotations

import re
from html import escape
from typing import assert_never

from magentic_health.tools._report_model import (
    Citation,
    DocCitation,
    Item,
    PdqCitation,
    Question,
    RecordCitation,
    Remark,
    Report,
    Section,
    Statement,
    TrialCitation,
    citation_label,
)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;
color:#1b1f24;max-width:60rem;margin:0 auto;padding:1rem 1.5rem 3rem}
h1{font-size:1.6rem;margin:.6rem 0}
h2{font-size:1.2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:1.8rem}
.banner{background:#fff4e5;border:2px solid #d97706;border-radius:6px;padding:.6rem .9rem}
.banner p{margin:.1rem 0}
.not-assessed p{color:#57606a;font-style:italic}
li{margin:.25rem 0}
sup a{text-decoration:none;font-size:.75em;padding-left:.1em}
.src{color:#57606a;font-size:.9em}
blockquote{margin:.2rem 0 .4rem 1rem;padding-left:.6rem;border-left:3px solid #d0d7de;
color:#3d444d;white-space:pre-wrap}
.sources li:target{background:#fff8c5}
code{font-size:.9em}
footer{margin-top:2rem;border-top:1px solid #d0d7de;padding-top:.6rem;color:#57606a}
"""


def _e(text: str) -> str:
    return escape(text, quote=True)


def _anchor(name: str) -> str:
    """``sec-diagnosis-and-stage`` for "Diagnosis and stage"."""
    return "sec-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _sups(citations: tuple[Citation, ...], numbers: dict[Citation, int]) -> str:
    out = []
    for citation in citations:
        n = numbers[citation]
        title = _e(citation_label(citation))
        out.append(f'<sup><a href="#src-{n}" title="{title}">[{n}]</a></sup>')
    return "".join(out)


def _item(item: Item, numbers: dict[Citation, int]) -> str:
    match item:
        case Statement():
            label = f"<strong>{_e(item.label)}:</strong> " if item.label else ""
            return f"<li>{label}{_e(item.text)}{_sups(item.citations, numbers)}</li>"
        case Remark():
            return f"<p>{_e(item.text)}</p>"
        case Question():
            return f'<li><span class="src">({_e(item.source)})</span> {_e(item.text)}</li>'
        case _:
            assert_never(item)


def _section(section: Section, numbers: dict[Citation, int]) -> list[str]:
    """The section's heading, then its bullets grouped in lists and its remarks as paragraphs."""
    css = "" if section.assessed else ' class="not-assessed"'
    out = [f'<section id="{_anchor(section.name)}"{css}>', f"<h2>{_e(section.name)}</h2>"]
    in_list = False
    for item in section.items:
        bullet = not isinstance(item, Remark)
        if bullet != in_list:
            out.append("<ul>" if bullet else "</ul>")
            in_list = bullet
        out.append(_item(item, numbers))
    out += ["</ul>"] if in_list else []
    out.append("</section>")
    return out


def _source(citation: Citation) -> str:
    """One entry of the Sources list (without its ``<li>``)."""
    match citation:
        case DocCitation():
            return (
                f"<code>{_e(citation.doc_id)}</code> (case document)"
                f"<blockquote>{_e(citation.quote)}</blockquote>"
            )
        case PdqCitation():
            title = f"NCI PDQ® {citation.title}" if citation.title else citation.file
            return (
                f'<a href="{_e(citation.url)}">{_e(title)}</a>, section '
                f"“{_e(citation.section)}” (public domain; quoted with attribution)"
            )
        case TrialCitation():
            return (
                f'<a href="{_e(citation.url)}">{_e(citation.nct_id)}</a> '
                "(ClinicalTrials.gov, U.S. National Library of Medicine)"
            )
        case RecordCitation():
            return (
                f"Patient record of case <code>{_e(citation.case_id)}</code> "
                "(identifier, age and sex as the case loader read them)"
            )
        case _:
            assert_never(citation)


def render_html(report: Report, *, engine: str) -> str:
    """The report as one HTML document; ``engine`` names what produced it (shown in the
    banner)."""
    sources = report.sources()
    numbers = {citation: n for n, citation in enumerate(sources, 1)}
    body = [
        '<div class="banner" role="note">',
        f"<p><strong>{_e(report.disclaimer)}</strong></p>",
        f"<p>Engine: {_e(engine)}</p>",
        "</div>",
        f"<h1>{_e(report.title)}</h1>",
        f"<p><strong>Request:</strong> {_e(report.request)}</p>",
    ]
    for section in report.sections:
        body += _section(section, numbers)
    body += ['<section id="sources" class="sources">', "<h2>Sources</h2>"]
    entries = [f'<li id="src-{numbers[c]}">{_source(c)}</li>' for c in sources]
    body += ["<ol>", *entries, "</ol>"] if entries else ["<p>No sources cited.</p>"]
    body += ["</section>", f"<footer><p>{_e(report.disclaimer)}</p></footer>"]
    head = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(report.title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
    ]
    return "\n".join([*head, *body, "</body>", "</html>", ""])


__all__ = ["render_html"]
