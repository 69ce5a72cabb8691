"""`replay --html`: the page of a real offline run, opened in a real headless browser (Debian's
chromium driven by Playwright), and the page's escaping and fallbacks checked on its text."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, expect, sync_playwright

from magentic_health import run_case
from magentic_health.checkpoints import fold
from magentic_health.cli import cli
from magentic_health.reply import Evidence, Finding
from magentic_health.trace import (
    AgentReply,
    CheckpointEvent,
    Final,
    Handoff,
    LedgerWriter,
    Replan,
    RunStarted,
    read_ledger,
)

CHROMIUM = Path(os.environ.get("MAGENTIC_HEALTH_CHROMIUM", "/usr/bin/chromium"))
INJECTION = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def offline_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = run_case("hao_patient_4", out_dir=tmp_path_factory.mktemp("ledgers"))
    assert result.status == "completed"
    return Path(result.ledger_path)


@pytest.fixture(scope="module")
def page_path(offline_ledger: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html") / "replay.html"
    assert cli(["replay", str(offline_ledger), "--html", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def browser(page_path: Path) -> Iterator[Browser]:
    """The browser; it needs ``page_path`` made first, since Playwright's sync API keeps an
    event loop running while it is open and a run cannot start inside it."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"chromium not found at {CHROMIUM}: install Debian's chromium "
            "(apt-get install -y chromium) or set MAGENTIC_HEALTH_CHROMIUM to its path",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@dataclass
class Watched:
    page: Page
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def open_page(browser: Browser, path: Path) -> Watched:
    """Open ``path`` and record console errors, page errors, requests and dialogs."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    watched = Watched(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.errors.append(message.text)

    def on_failed(request: Request) -> None:
        watched.failed.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    page.on("request", lambda request: watched.requests.append(request.url))
    page.on("requestfailed", on_failed)
    page.on("dialog", lambda dialog: (watched.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return watched


def test_page_loads_offline_without_errors(browser: Browser, page_path: Path) -> None:
    watched = open_page(browser, page_path)
    page = watched.page
    expect(page.locator("h1")).to_contain_text("Replay of run")
    expect(page.locator(".badge.offline")).to_contain_text("deterministic")
    expect(page.locator(".badge.offline")).to_contain_text("no language model")
    assert page.locator("details.step").count() == 5
    assert watched.errors == [] and watched.failed == []
    assert watched.requests == [page_path.as_uri()]


def test_expanding_a_step_shows_its_reply(
    browser: Browser, page_path: Path, offline_ledger: Path
) -> None:
    reply = next(
        e.payload()
        for e in read_ledger(offline_ledger).events
        if e.type == "agent_reply" and e.step == "s2"
    )
    assert isinstance(reply, AgentReply)
    first_line = reply.text.splitlines()[0]
    watched = open_page(browser, page_path)
    step = watched.page.locator('details.step[data-step="s2"]')
    text = step.locator("pre.reply")
    expect(text).to_be_hidden()
    step.locator("> summary").click()
    expect(text).to_be_visible()
    expect(text).to_contain_text(first_line)
    expect(step.locator("ul.verdicts")).to_contain_text("grounding")
    expect(step.locator("ul.calls")).to_contain_text("patient_status")
    assert watched.errors == []


def test_a_citation_targets_the_marked_quote_in_its_document(
    browser: Browser, page_path: Path
) -> None:
    watched = open_page(browser, page_path)
    page = watched.page
    link = page.locator("ol.citations a.cite").nth(2)
    href = link.get_attribute("href")
    quote = link.get_attribute("title")
    assert href and href.startswith("#doc-") and quote
    link.click()
    expect(page).to_have_url(re.compile(re.escape(href) + "$"))
    mark = page.locator(href)
    expect(mark).to_be_visible()
    expect(mark).to_be_in_viewport()
    expect(mark).to_have_class(re.compile("current"))
    assert mark.evaluate("e => e.tagName") == "MARK"
    assert fold(quote) in fold(mark.inner_text())
    assert watched.errors == [] and watched.failed == []


def _injected_ledger(path: Path) -> None:
    """A ledger whose texts try to inject markup, for a case that cannot be loaded."""
    evidence = Evidence(doc_id="doc-<b>1</b>", quote=INJECTION)
    with LedgerWriter(path=path, run_id="run-x") as writer:
        writer.append(
            RunStarted(
                case_id="no-such-case",
                case_digest="sha256:0",
                config_digest="sha256:0",
                config_name="tumor_board",
                model_profile="offline",
                engine="offline rule engine (deterministic; no language model)",
                request=INJECTION,
                documents=1,
                package_versions={},
            )
        )
        writer.append(Handoff(to="Radiology", instruction=INJECTION), agent="Radiology", step="s1")
        writer.append(
            AgentReply(
                text=INJECTION, findings=(Finding(claim=INJECTION, evidence=(evidence,)),), gaps=()
            ),
            agent="Radiology",
            step="s1",
        )
        writer.append(Final(text=INJECTION, citations=(evidence,), engine="offline"))


def test_ledger_text_cannot_inject_markup(
    browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "x.jsonl"
    _injected_ledger(ledger)
    out = tmp_path / "x.html"
    assert cli(["replay", str(ledger), "--html", str(out)]) == 0
    err = capsys.readouterr().err
    assert "cited documents not embedded" in err and "no-such-case" in err
    html = out.read_text(encoding="utf-8")
    assert "<img src=x" not in html and 'alert("x")</script>' not in html
    assert "&lt;script&gt;" in html and "quotes are shown alone" in html
    watched = open_page(browser, out)
    page = watched.page
    assert watched.dialogs == [] and watched.errors == []
    assert (
        page.locator("img").count() == 0
        and page.locator("b").filter(has_text=re.compile(r"^1$")).count() == 0
    )
    page.locator("ol.citations a.cite").first.click()
    expect(page.locator("ul.loose mark.current")).to_have_text(INJECTION)


def test_case_override_and_atomic_write(
    offline_ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nested" / "page.html"
    assert cli(["replay", str(offline_ledger), "--html", str(out), "--case", "nope"]) == 0
    captured = capsys.readouterr()
    assert f"HTML: {out.resolve()}" in captured.out and "'nope'" in captured.err
    html = out.read_text(encoding="utf-8")
    assert 'ul class="loose"' in html and 'class="doc"' not in html
    assert cli(["replay", str(offline_ledger), "--html", str(out)]) == 0
    assert 'class="doc"' in out.read_text(encoding="utf-8")
    assert [p.name for p in out.parent.iterdir()] == ["page.html"]  # no temporary file left


def _retry_ledger(path: Path) -> None:
    """A model-mode step that fails grounding, is retried and passes; then a re-plan."""
    with LedgerWriter(path=path, run_id="run-retry") as writer:
        writer.append(
            RunStarted(
                case_id="no-such-case",
                case_digest="sha256:0",
                config_digest="sha256:0",
                config_name="tumor_board",
                model_profile="azure",
                engine="azure: gpt-4o",
                request="Prepare the tumor board review",
                documents=1,
                package_versions={},
            )
        )
        for attempt, passed in ((1, False), (2, True)):
            writer.append(
                Handoff(to="Radiology", instruction="Review the CT.", attempt=attempt, wave=1),
                agent="Radiology",
                step="s1",
            )
            writer.append(
                AgentReply(text=f"Reply of attempt {attempt}", findings=(), gaps=()),
                agent="Radiology",
                step="s1",
            )
            writer.append(
                CheckpointEvent(
                    name="grounding",
                    passed=passed,
                    failures=() if passed else ("quote 'x' is not in ct-1",),
                    attempt=attempt,
                ),
                agent="Radiology",
                step="s1",
            )
        writer.append(Replan(reason="no progress after wave 1", replans=1))


def test_retries_failures_and_replans_are_shown(browser: Browser, tmp_path: Path) -> None:
    ledger, out = tmp_path / "r.jsonl", tmp_path / "r.html"
    _retry_ledger(ledger)
    assert cli(["replay", str(ledger), "--html", str(out)]) == 0
    watched = open_page(browser, out)
    page = watched.page
    expect(page.locator(".badge.model")).to_contain_text("language model")
    first, second = page.locator('details.step[data-step="s1"]').all()
    expect(first.locator("> summary")).to_contain_text("failed: grounding")
    expect(second.locator("> summary")).to_contain_text("attempt 2 (retry)")
    first.locator("> summary").click()
    expect(first.locator("ul.verdicts")).to_contain_text("quote 'x' is not in ct-1")
    expect(first.locator("pre.reply")).to_have_text("Reply of attempt 1")
    expect(page.locator(".replan").first).to_contain_text("no progress after wave 1")
    assert watched.errors == []
