"""The tumor board report as data, Markdown, HTML and DOCX, built from the real tools' outputs on
the HAO patient and on a Synthea bundle."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import docx
import pytest

from magentic_health.case import Case, load_case
from magentic_health.errors import InputError
from magentic_health.tools import ToolContext, ToolOutput, get_tool
from magentic_health.tools.report import (
    DISCLAIMER,
    SECTIONS,
    DocCitation,
    Report,
    Statement,
    build_report,
    export_report,
    render_html,
    render_markdown,
    report_from_data,
    write_docx,
)

UPSTREAM_TOOLS = (
    "patient_status",
    "patient_timeline",
    "radiology",
    "search_notes",
    "clinical_guidelines",
    "clinical_trials",
)
ENGINE = "offline rule engine (deterministic; no language model)"
SYNTHEA_COLON = "Librada_Tromp_abf2707e-607b-4574-a8c2-432b213c7f0e.json"


@dataclass(frozen=True)
class Run:
    case: Case
    upstream: dict[str, ToolOutput]
    output: ToolOutput


def _run(case: Case, data_dir: Path) -> Run:
    """Every upstream tool on ``case``, each seeing the outputs before it, then report_export."""
    upstream: dict[str, ToolOutput] = {}
    for name in UPSTREAM_TOOLS:
        ctx = ToolContext(case, case.request, data_dir, dict(upstream))
        upstream[name] = get_tool(name).run(ctx)
    ctx = ToolContext(case, case.request, data_dir, upstream)
    return Run(case, upstream, get_tool("report_export").run(ctx))


@pytest.fixture(scope="module")
def hao(hao_dir: Path, data_dir: Path) -> Run:
    return _run(load_case(hao_dir), data_dir)


@pytest.fixture(scope="module")
def synthea(data_dir: Path) -> Run:
    return _run(load_case(data_dir / "synthea" / SYNTHEA_COLON), data_dir)


def _kras(report: Report) -> Statement:
    (kras,) = [s for s in report.section("Biomarkers").statements if s.label == "KRAS"]
    return kras


class _Page(HTMLParser):
    """What the tests check in an HTML page: tags, ids, links, headings and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.sup_hrefs: list[str] = []
        self.h2: list[str] = []
        self.text: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = {k: v or "" for k, v in attrs}
        self.attrs += list(values.items())
        if "id" in values:
            self.ids.add(values["id"])
        if tag == "a" and "href" in values:
            self.hrefs.append(values["href"])
            if "sup" in self._open:
                self.sup_hrefs.append(values["href"])
        if tag not in ("meta", "br"):
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._open and self._open[-1] == "h2":
            self.h2.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _statements(report: Report) -> list[Statement]:
    return [s for section in report.sections for s in section.statements]


# --- the data --------------------------------------------------------------------------------


def test_data_round_trips_through_json(hao: Run) -> None:
    data = json.loads(json.dumps(hao.output.data, ensure_ascii=False))
    report = report_from_data(data)
    assert report == build_report(hao.case, hao.upstream)
    assert [s["name"] for s in data["report"]["sections"]] == list(SECTIONS)
    assert report.disclaimer == DISCLAIMER
    assert render_markdown(report) == hao.output.text
    assert report_from_data(data["report"]) == report  # the bare report reads too


def test_every_statement_cites_and_doc_quotes_are_verbatim(hao: Run) -> None:
    report = report_from_data(hao.output.data)
    kinds = {c.kind for s in _statements(report) for c in s.citations}
    assert kinds == {"doc", "pdq", "trial", "record"}
    for statement in _statements(report):
        assert statement.citations, statement.text
        for citation in statement.citations:
            if isinstance(citation, DocCitation):
                document = hao.case.document(citation.doc_id)
                assert document is not None and citation.quote in document.text
    kras = _kras(report)
    assert kras.text.startswith("p.G12C")
    assert any("KRAS p.G12C" in c.quote for c in kras.citations if isinstance(c, DocCitation))


def test_malformed_data_names_the_field(hao: Run) -> None:
    with pytest.raises(InputError, match=r"missing field 'report'"):
        report_from_data({"format": "markdown"})
    with pytest.raises(InputError, match=r"not a JSON object"):
        report_from_data([])  # type: ignore[arg-type]
    data = json.loads(json.dumps(hao.output.data))
    del data["report"]["case_id"]
    with pytest.raises(InputError, match=r"field 'report\.case_id': Field required"):
        report_from_data(data)
    data = json.loads(json.dumps(hao.output.data))
    del data["report"]["sections"][5]["items"][0]["citations"]
    with pytest.raises(
        InputError, match=r"'report\.sections\[5\]\.items\[0\]\.statement\.citations'"
    ):
        report_from_data(data)
    data = json.loads(json.dumps(hao.output.data))
    data["report"]["sections"].pop(3)
    with pytest.raises(InputError, match=r"sections must be .* in this order"):
        report_from_data(data)


# --- Markdown --------------------------------------------------------------------------------


def test_markdown_engine_line_only_when_given(hao: Run) -> None:
    report = report_from_data(hao.output.data)
    plain = render_markdown(report)
    assert "**Engine:**" not in plain
    with_engine = render_markdown(report, engine=ENGINE)
    request = f"**Request:** {hao.case.request}"
    assert with_engine == plain.replace(request, f"{request}\n\n**Engine:** {ENGINE}", 1)
    kras = _kras(report)
    ids = " ".join(dict.fromkeys(f"[{c.doc_id}]" for c in kras.citations))  # type: ignore[union-attr]
    assert f"- **KRAS:** {kras.text} {ids}" in plain


# --- HTML ------------------------------------------------------------------------------------


def test_html_is_self_contained_with_resolving_citations(hao: Run) -> None:
    report = report_from_data(hao.output.data)
    html = render_html(report, engine=ENGINE)
    page = _parse(html)
    assert page.h2 == [*SECTIONS, "Sources"]
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(page.tags)
    assert not [name for name, _ in page.attrs if name == "src" or name.startswith("on")]
    assert "http" not in html[html.index("<style>") : html.index("</style>")]
    internal = [h for h in page.hrefs if h.startswith("#")]
    assert internal and all(h[1:] in page.ids for h in internal)
    external = [h for h in page.hrefs if not h.startswith("#")]
    assert external and all(
        h.startswith(("https://www.cancer.gov/", "https://clinicaltrials.gov/study/NCT"))
        for h in external
    )
    assert len(page.sup_hrefs) == sum(len(s.citations) for s in _statements(report))
    assert len(set(page.sup_hrefs)) == len(report.sources())
    banner = html[html.index('<div class="banner"') : html.index("</div>")]
    assert DISCLAIMER in banner and ENGINE in banner


def test_html_sources_show_quotes_and_links(hao: Run) -> None:
    report = report_from_data(hao.output.data)
    page = _parse(render_html(report, engine=ENGINE))
    kras = _kras(report).citations[0]
    assert isinstance(kras, DocCitation)
    text = page.all_text
    sources = text[text.rindex("Sources") :]
    assert kras.doc_id in sources and kras.quote in sources
    trials = {c.url for s in report.section("Trial options").statements for c in s.citations}
    pdq = {
        c.url for s in report.section("Guideline considerations").statements for c in s.citations
    }
    assert trials and trials <= set(page.hrefs)
    assert pdq == {"https://www.cancer.gov/types/lung/hp/non-small-cell-lung-treatment-pdq"}
    assert pdq <= set(page.hrefs)


def test_html_escapes_patient_text(hao: Run) -> None:
    report = report_from_data(hao.output.data)
    hostile = Statement(
        label='x"<i>',
        text='KRAS <b>& "q" <script>alert(1)</script>',
        citations=(DocCitation(doc_id="doc<1>", quote="a <b>&amp; c"),),
    )
    sections = tuple(
        s.model_copy(update={"items": (hostile,)}) if s.name == "Biomarkers" else s
        for s in report.sections
    )
    html = render_html(report.model_copy(update={"sections": sections}), engine="<img src=x>")
    page = _parse(html)
    assert "script" not in page.tags and "b" not in page.tags and "img" not in page.tags
    assert "KRAS &lt;b&gt;&amp; &quot;q&quot; &lt;script&gt;" in html
    assert 'KRAS <b>& "q" <script>alert(1)</script>' in page.all_text
    assert "a <b>&amp; c" in page.all_text  # the quote, shown as written
    assert 'x"<i>:' in page.all_text and "doc<1>" in page.all_text
    assert "Engine: <img src=x>" in page.all_text


# --- DOCX ------------------------------------------------------------------------------------


def test_docx_has_headings_disclaimer_statements_sources(hao: Run, tmp_path: Path) -> None:
    report = report_from_data(hao.output.data)
    path = write_docx(report, tmp_path / "report.docx", engine=ENGINE)
    doc = docx.Document(str(path))
    paragraphs = [(p.style.name, p.text) for p in doc.paragraphs]
    assert paragraphs[0] == ("Title", report.title)
    headings = [text for style, text in paragraphs if style == "Heading 1"]
    assert headings == [*SECTIONS, "Sources"]
    assert ("Intense Quote", DISCLAIMER) in paragraphs
    assert paragraphs[-1][1] == DISCLAIMER
    assert f"Engine: {ENGINE}" in [text for _, text in paragraphs]
    kras = _kras(report)
    ids = " ".join(dict.fromkeys(f"[{c.doc_id}]" for c in kras.citations))  # type: ignore[union-attr]
    assert ("List Bullet", f"KRAS: {kras.text} {ids}") in paragraphs
    sources = [t for s, t in paragraphs[[t for _, t in paragraphs].index("Sources") :] if s]
    quote = kras.citations[0].quote  # type: ignore[union-attr]
    assert f"[{kras.citations[0].doc_id}] case document: “{quote}”" in sources  # type: ignore[union-attr]
    assert any(
        t.startswith("[NCT") and "https://clinicaltrials.gov/study/NCT" in t for t in sources
    )
    properties = doc.core_properties
    assert properties.title == report.title
    assert "Tumor board report" in properties.subject
    assert properties.author == "" and properties.last_modified_by == ""


# --- export and a case with no notes and no imaging -----------------------------------------


@pytest.mark.parametrize("fmt", ["md", "html", "docx"])
def test_export_report_writes_the_file(hao: Run, tmp_path: Path, fmt: Any) -> None:
    report = report_from_data(hao.output.data)
    path = export_report(report, fmt, tmp_path / "out" / "deeper" / f"r.{fmt}", engine=ENGINE)
    assert path == tmp_path / "out" / "deeper" / f"r.{fmt}" and path.is_file()
    if fmt == "md":
        assert path.read_text(encoding="utf-8") == render_markdown(report, engine=ENGINE)
    elif fmt == "html":
        assert path.read_text(encoding="utf-8") == render_html(report, engine=ENGINE)
    else:
        assert docx.Document(str(path)).core_properties.title == report.title


def test_export_report_refuses_an_unknown_format(hao: Run, tmp_path: Path) -> None:
    report = report_from_data(hao.output.data)
    with pytest.raises(InputError, match=r"report format 'pdf' is unknown; choose from md, html"):
        export_report(report, "pdf", tmp_path / "r.pdf", engine=ENGINE)  # type: ignore[arg-type]
    assert not (tmp_path / "r.pdf").exists()
    (tmp_path / "taken").write_text("a file, not a folder", encoding="utf-8")
    with pytest.raises(InputError, match=r"cannot write the report .*writable output folder"):
        export_report(report, "md", tmp_path / "taken" / "r.md", engine=ENGINE)


def test_synthea_bundle_renders_in_every_format(synthea: Run, tmp_path: Path) -> None:
    report = report_from_data(json.loads(json.dumps(synthea.output.data)))
    assert not any(d.kind == "note" for d in synthea.case.documents)
    imaging = report.section("Imaging")
    assert imaging.assessed and not imaging.statements
    assert [i.text for i in imaging.items] == ["No imaging studies were found."]
    diagnosis = report.section("Diagnosis and stage").statements
    assert diagnosis[0].label == "Diagnosis" and "colon" in diagnosis[0].text
    page = _parse(render_html(report, engine=ENGINE))
    assert page.h2 == [*SECTIONS, "Sources"]
    assert all(h[1:] in page.ids for h in page.hrefs if h.startswith("#"))
    assert "No imaging studies were found." in page.all_text
    doc = docx.Document(str(write_docx(report, tmp_path / "s.docx", engine=ENGINE)))
    assert [p.text for p in doc.paragraphs if p.style.name == "Heading 1"] == [*SECTIONS, "Sources"]
    assert f"**Diagnosis:** {diagnosis[0].text}" in render_markdown(report)
