"""``replay --html``: one self-contained HTML page of a run, readable offline.

The page inlines its CSS and script (a Content-Security-Policy allows exactly those two, by
hash, and nothing from anywhere else), escapes every value taken from the ledger or the case,
and embeds the cited documents with each quote marked, since the ledger holds quotes but not
the documents. It is written atomically (a temporary file renamed into place).
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from html import escape
from pathlib import Path

from magentic_health._console import one_line
from magentic_health.case import Case
from magentic_health.errors import InputError
from magentic_health.replay._html_steps import cite_links, flow_html, group_steps, verdicts_html
from magentic_health.replay._quotes import QuoteIndex, index_quotes
from magentic_health.replay._summary import RunHeader, RunSummary, summarize
from magentic_health.reply import Evidence
from magentic_health.trace import (
    AgentReply,
    CheckpointEvent,
    Final,
    Ledger,
    LedgerEvent,
    TriageEvent,
    Verification,
)

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 2rem;
color:#1d232a;background:#fff}
h1{font-size:1.5rem}h2{border-bottom:1px solid #ccd;margin-top:2rem}h4{margin:.8rem 0 .3rem}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f7f9;padding:.6rem;
border-radius:4px;font-size:13px}
table{border-collapse:collapse}td,th{border:1px solid #ccd;padding:.2rem .5rem;text-align:left;
vertical-align:top}
.badge{display:inline-block;padding:.2rem .6rem;border-radius:4px;font-weight:600}
.offline{background:#e3f1e6;color:#1e5a2b}.model{background:#fdf0d8;color:#6b4700}
.alert{background:#fde4e4;color:#7a1212;padding:.5rem;border-radius:4px}
.note{background:#eef2fb;padding:.5rem;border-radius:4px}
details.step{border:1px solid #ccd;border-radius:4px;margin:.4rem 0;padding:.3rem .6rem}
details.step>summary{cursor:pointer}
.ok{color:#1e5a2b}.fail{color:#a11}.none{color:#666}
.replan{background:#fdf0d8;padding:.4rem .6rem;border-radius:4px;margin:.5rem 0}
.progress{color:#445;font-size:.9rem}
mark{background:#fff3a3}mark.current{outline:2px solid #c60;background:#ffd76b}
a.cite{font-size:.8rem;text-decoration:none}
"""

_SCRIPT = """
(function () {
  function show() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id ? document.getElementById(id) : null;
    if (!el) { return; }
    for (var p = el.parentElement; p; p = p.parentElement) {
      if (p.tagName === 'DETAILS') { p.open = true; }
    }
    document.querySelectorAll('.current').forEach(function (m) { m.classList.remove('current'); });
    el.classList.add('current');
    el.scrollIntoView({block: 'center'});
  }
  function setAll(open) {
    document.querySelectorAll('details.step').forEach(function (d) { d.open = open; });
  }
  window.addEventListener('hashchange', show);
  document.addEventListener('click', function (e) {
    var a = e.target.closest ? e.target.closest('a[href^="#"]') : null;
    if (a) { setTimeout(show, 0); }
  });
  document.getElementById('expand-all').addEventListener('click', function () { setAll(true); });
  document.getElementById('collapse-all').addEventListener('click', function () { setAll(false); });
  show();
})();
"""


def _sha(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


_CSP = (
    f"default-src 'none'; style-src 'sha256-{_sha(_CSS)}'; script-src 'sha256-{_sha(_SCRIPT)}'; "
    "img-src 'none'; base-uri 'none'; form-action 'none'"
)


def _all_evidence(events: list[LedgerEvent]) -> list[Evidence]:
    """Every cited piece of evidence: the final answer's first, then each reply's."""
    final: list[Evidence] = []
    replies: list[Evidence] = []
    for _, payload in group_steps(events)[1]:
        if isinstance(payload, Final):
            final += payload.citations
    for block in group_steps(events)[0]:
        for _, payload in block.events:
            if isinstance(payload, AgentReply):
                replies += [e for f in payload.findings for e in f.evidence]
    return final + replies


def render_html(
    ledger: Ledger, verification: Verification, *, case: Case | None, case_note: str | None
) -> str:
    """The page for ``ledger``; ``case`` supplies the cited documents (None: quotes alone,
    with ``case_note`` saying why)."""
    events = ledger.events
    summary = summarize(events)
    quotes = index_quotes(_all_evidence(events), case)
    title = f"Replay of run {ledger.run_id or '?'}"
    body = [
        f"<h1>{escape(title)}</h1>",
        _header_html(summary.header, ledger, verification),
        '<p><button type="button" id="expand-all">Expand all steps</button> '
        '<button type="button" id="collapse-all">Collapse all steps</button></p>',
        _triage_html(events),
        _plan_html(summary),
        "<h2>Hand-offs</h2>",
        flow_html(events, quotes, ledger.path.name),
        _final_html(events, quotes),
        _outcome_html(summary),
        _documents_html(quotes, case, case_note),
        _timeline_html(events),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{_SCRIPT}</script>\n</body></html>\n"
    )


def _header_html(head: RunHeader | None, ledger: Ledger, verification: Verification) -> str:
    parts: list[str] = []
    if not verification.ok:
        parts.append(
            f'<p class="alert">Hash chain broken at seq {verification.first_broken_seq}: '
            f"{escape(verification.reason or '')}. Events from there on are not verified.</p>"
        )
    if ledger.truncated_tail is not None:
        parts.append('<p class="alert">The last line of the ledger is incomplete and ignored.</p>')
    if head is None:
        return "".join(parts) + "<p>The ledger has no run_started event.</p>"
    if head.offline:
        badge = (
            '<span class="badge offline">Offline engine: deterministic rules over the case '
            "documents, no language model</span>"
        )
    else:
        badge = (
            f'<span class="badge model">Model profile {escape(head.model_profile)}: '
            "answers written by a language model</span>"
        )
    rows = [
        ("Case", head.case_id),
        ("Request", head.request),
        ("Engine", head.engine),
        ("Configuration", head.config_name),
        ("Started", head.started),
        ("Ledger", f"{ledger.path.name} ({verification.events} events)"),
    ]
    if head.parent_run:
        rows.append(("Parent run", head.parent_run))
    table = "".join(f"<tr><th>{k}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return "".join(parts) + f'<p>{badge}</p><table class="header">{table}</table>'


def _triage_html(events: list[LedgerEvent]) -> str:
    for _, payload in group_steps(events)[1]:
        if isinstance(payload, TriageEvent):
            excluded = "".join(
                f"<li>{escape(e.agent)}: {escape(e.reason)}</li>" for e in payload.excluded
            )
            return (
                f"<h2>Triage</h2><p>{escape(payload.complexity)} complexity; selected "
                f"{escape(', '.join(payload.selected))}.</p><p>{escape(payload.rationale)}</p>"
                + (f"<p>Left out:</p><ul>{excluded}</ul>" if excluded else "")
            )
    return ""


def _plan_html(summary: RunSummary) -> str:
    parts = ["<h2>Plan and waves</h2>"]
    items: list[tuple[int, str]] = []
    for plan in summary.plans:
        wave_of = {sid: n for n, wave in enumerate(plan.waves, start=1) for sid in wave}
        rows = "".join(
            f"<tr><td>{escape(s.id)}</td><td>{wave_of.get(s.id, '-')}</td>"
            f"<td>{escape(s.agent)}</td><td>{escape(', '.join(s.depends_on) or '-')}</td>"
            f"<td>{'yes' if s.critical else ''}</td><td>{escape(s.instruction)}</td></tr>"
            for s in plan.steps
        )
        items.append(
            (
                plan.seq,
                f'<h3 id="plan-v{plan.version}">Plan v{plan.version} (seq {plan.seq}): '
                f"{len(plan.steps)} steps in {len(plan.waves)} waves</h3>"
                "<table><tr><th>step</th><th>wave</th><th>agent</th><th>after</th>"
                f"<th>critical</th><th>instruction</th></tr>{rows}</table>",
            )
        )
    for replan in summary.replans:
        items.append(
            (
                replan.seq,
                f'<div class="replan"><b>Re-plan #{replan.replans}</b> (seq {replan.seq}): '
                f"{escape(replan.reason)}</div>",
            )
        )
    parts += [chunk for _, chunk in sorted(items, key=lambda item: item[0])]
    return "".join(parts) if items else "<h2>Plan</h2><p>No task_ledger event.</p>"


def _final_html(events: list[LedgerEvent], quotes: QuoteIndex) -> str:
    _, rest = group_steps(events)
    finals = [p for _, p in rest if isinstance(p, Final)]
    checks = [p for e, p in rest if isinstance(p, CheckpointEvent)]
    if not finals:
        return "<h2>Final answer</h2><p>The ledger holds no final answer.</p>"
    final = finals[-1]
    cites = "".join(
        f"<li>{cite_links((c,), quotes)} {escape(c.doc_id)}: <q>{escape(c.quote)}</q></li>"
        for c in final.citations
    )
    return (
        '<h2 id="final">Final answer</h2>'
        f"<p>{escape(final.engine)}</p>"
        f'<pre class="final">{escape(final.text)}</pre>'
        f"{verdicts_html(checks)}"
        f'<h3>Citations ({len(final.citations)})</h3><ol class="citations">{cites}</ol>'
    )


def _outcome_html(summary: RunSummary) -> str:
    out = summary.outcome
    if out is None:
        status = "<p>No run_finished event: the run did not finish.</p>"
    else:
        gaps = "".join(f"<li>{escape(g)}</li>" for g in out.gaps)
        status = (
            f"<p>Status: <b>{escape(out.status)}</b>"
            f"{f' ({escape(out.reason)})' if out.reason else ''} in {out.duration_ms:.0f} ms.</p>"
            + (f"<p>Gaps:</p><ul>{gaps}</ul>" if gaps else "")
        )
    rows = "".join(
        f"<tr><td>{escape(u.agent)}</td><td>{u.calls}</td><td>{u.prompt_tokens}</td>"
        f"<td>{u.completion_tokens}</td><td>{u.total_latency_ms:.0f} ms</td>"
        f"<td>{u.mean_latency_ms:.0f} ms</td></tr>"
        for u in summary.usage
    )
    usage = (
        "<table><tr><th>agent</th><th>calls</th><th>prompt tokens</th><th>completion tokens</th>"
        f"<th>latency</th><th>mean</th></tr>{rows}</table>"
        if rows
        else "<p>No model calls.</p>"
    )
    return f"<h2>Outcome</h2>{status}<h3>Model usage</h3>{usage}"


def _documents_html(quotes: QuoteIndex, case: Case | None, note: str | None) -> str:
    parts = ['<h2 id="documents">Cited documents</h2>']
    if case is None:
        parts.append(
            f'<p class="note">The documents are not embedded: {escape(note or "no case")}. '
            "The quotes are shown alone.</p>"
        )
    for doc in quotes.documents:
        d = doc.document
        parts.append(
            f'<details class="doc" id="{doc.anchor}"><summary><b>{escape(d.id)}</b> · '
            f"{escape(d.type)} · {escape(d.date or 'undated')} · {doc.quotes} quotes</summary>"
            f'<pre class="doc-text">{doc.html}</pre></details>'
        )
    if quotes.loose:
        if case is not None:
            parts.append("<h3>Quotes not found in the case</h3>")
        items = "".join(
            f'<li>{escape(q.doc_id)}: <mark id="{q.anchor}">{escape(q.quote)}</mark> '
            f"<small>({escape(q.reason)})</small></li>"
            for q in quotes.loose
        )
        parts.append(f'<ul class="loose">{items}</ul>')
    return "".join(parts)


def _timeline_html(events: list[LedgerEvent]) -> str:
    rows = "".join(
        f"<tr><td>{e.seq}</td><td>{escape(e.ts[11:23])}</td><td>{escape(e.agent or '-')}</td>"
        f"<td>{escape(e.type)}</td><td>{escape(one_line(e))}</td></tr>"
        for e in events
    )
    return (
        f"<h2>Timeline</h2><details><summary>All {len(events)} events</summary>"
        f"<table><tr><th>seq</th><th>time</th><th>agent</th><th>type</th><th>summary</th></tr>"
        f"{rows}</table></details>"
    )


_FILE_MODE = 0o644
"""A new page is readable by others, like any file the user writes (mkstemp makes 0o600)."""


def write_html(text: str, out: Path) -> Path:
    """Write ``text`` to ``out`` atomically (a temporary file beside it, then renamed)."""
    out = out.expanduser()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise InputError(
            f"--html {str(out)!r}: cannot write there ({exc.strerror}); choose a writable path"
        ) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(tmp, out.stat().st_mode & 0o777 if out.exists() else _FILE_MODE)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out.resolve()
