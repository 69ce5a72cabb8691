"""The live ClinicalTrials.gov API v2 client against a real HTTP server on 127.0.0.1 serving a
studies page built from the real PALLAS record (NCT02513394.json, read in place)."""

from __future__ import annotations

import copy
import dataclasses
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from _http_server import LocalServer, Reply, direct_opener
from test_tool_trials import PALLAS, PALLAS_HER2_NEGATIVE, _by_id, breast, hao_like

from magentic_health.case import Case, Patient
from magentic_health.errors import BackendError
from magentic_health.tools._base import ToolContext, ToolOutput
from magentic_health.tools._ctgov import LIVE_SOURCE, LiveQuery, live_query, search
from magentic_health.tools._settings import ToolSettings, TrialSettings
from magentic_health.tools._trial_index import TrialIndex, trial_index
from magentic_health.tools._trial_profile import profile_of
from magentic_health.tools.trials import SPEC, match_trials, with_live


@pytest.fixture(scope="module")
def pallas_study(data_dir: Path) -> dict[str, Any]:
    study: dict[str, Any] = json.loads((data_dir / "mcode" / f"{PALLAS}.json").read_text("utf-8"))
    return study


@pytest.fixture(scope="module")
def local(data_dir: Path) -> TrialIndex:
    return trial_index(data_dir)


def page(*studies: dict[str, Any]) -> Reply:
    return Reply(json={"studies": list(studies), "nextPageToken": None})


def recruiting_copy(study: dict[str, Any], *, nct: str | None = None) -> dict[str, Any]:
    """The real record as a fresher live copy: now recruiting (and renumbered if asked)."""
    live = copy.deepcopy(study)
    live["protocolSection"]["statusModule"]["overallStatus"] = "RECRUITING"
    if nct is not None:
        live["protocolSection"]["identificationModule"]["nctId"] = nct
    return live


def trial_settings(server: LocalServer, **extra: Any) -> TrialSettings:
    return TrialSettings(live=True, api_base=f"{server.url}/api/v2/", **extra)


def test_search_sends_the_v2_parameters_and_parses_like_the_local_file(
    pallas_study: dict[str, Any], local: TrialIndex
) -> None:
    with LocalServer([page(pallas_study)]) as server:
        query = LiveQuery(condition="breast cancer", term="(KRAS G12C) OR HER2")
        result = search(query, trial_settings(server, max_results=7), opener=direct_opener())
    (request,) = server.requests
    assert (request.method, request.path) == ("GET", "/api/v2/studies")
    assert request.query == {
        "query.cond": ["breast cancer"],
        "query.term": ["(KRAS G12C) OR HER2"],
        "filter.overallStatus": ["RECRUITING|NOT_YET_RECRUITING"],
        "pageSize": ["7"],
        "format": ["json"],
    }
    assert result.skipped == ()
    (record,) = result.records
    assert record.source == LIVE_SOURCE
    assert record.title == "PALbociclib CoLlaborative Adjuvant Study (PALLAS)"
    assert (record.status, record.sex, record.minimum_age) == (
        "ACTIVE_NOT_RECRUITING",
        "ALL",
        "18 Years",
    )
    assert "Breast Cancer" in record.conditions
    assert PALLAS_HER2_NEGATIVE in [c.text for c in record.clauses if c.section == "inclusion"]
    stored = next(r for r in local.records if r.nct_id == PALLAS)
    assert dataclasses.replace(record, source=stored.source) == stored  # one parser for both


def test_queries_come_from_the_profile() -> None:
    lung = live_query(profile_of(hao_like()))
    assert lung == LiveQuery(condition="non-small cell lung cancer", term="(KRAS G12C)")
    her2 = live_query(profile_of(breast()))
    assert her2 == LiveQuery(condition="Malignant neoplasm of breast", term="HER2")
    nothing = hao_like().model_copy(update={"diagnosis": None, "biomarkers": ()})
    assert live_query(profile_of(nothing)) is None


def test_live_records_take_precedence_and_say_where_they_came_from(
    pallas_study: dict[str, Any], local: TrialIndex
) -> None:
    fresh, new = recruiting_copy(pallas_study), recruiting_copy(pallas_study, nct="NCT99999901")
    status = breast(her2="negative", stage="IIA")
    with LocalServer([page(fresh, new)]) as server:
        merged, live = with_live(status, local, trial_settings(server), opener=direct_opener())
    assert (live.added, live.replaced, live.gaps) == (1, (PALLAS,), ())
    assert len(merged.records) == len(local.records) + 1
    trials = _by_id(match_trials(status, index=merged, limit=300))
    assert (trials[PALLAS].source, trials[PALLAS].status) == (LIVE_SOURCE, "RECRUITING")
    assert "status: RECRUITING" in trials[PALLAS].reasons
    assert trials["NCT99999901"].source == LIVE_SOURCE
    before = _by_id(match_trials(status, index=local, limit=300))
    assert (before[PALLAS].source, before[PALLAS].status) == (
        "mcode/NCT02513394.json",
        "ACTIVE_NOT_RECRUITING",
    )
    assert trials[PALLAS].score == before[PALLAS].score + 1.5  # recruiting +0.5, not -1


def test_a_study_that_is_not_v2_is_skipped_with_a_gap(
    pallas_study: dict[str, Any], local: TrialIndex
) -> None:
    broken = {"protocolSection": {"identificationModule": {"briefTitle": "no id"}}}
    with LocalServer([page(broken, pallas_study)]) as server:
        _, live = with_live(breast(), local, trial_settings(server), opener=direct_opener())
    assert live.replaced == (PALLAS,)
    assert live.gaps == (
        "live study 0 skipped: not an API v2 study "
        "(protocolSection.identificationModule.nctId: field required)",
    )


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(status=500, body=b"oops"), "answered HTTP 500"),
        (Reply(body=b"<html>maintenance</html>"), "returned a page that is not JSON"),
        (Reply(json={"error": "bad query"}), "returned no 'studies' list"),
        (Reply(json={"studies": []}, delay_s=5), "did not answer within 0.2 s"),
    ],
)
def test_errors_become_a_gap_and_leave_the_local_index(
    local: TrialIndex, reply: Reply, expected: str
) -> None:
    with LocalServer(lambda _request: reply) as server:
        cfg = trial_settings(server, timeout_s=0.2)
        merged, live = with_live(hao_like(), local, cfg, opener=direct_opener())
        with pytest.raises(BackendError, match=expected):
            search(LiveQuery("lung cancer", ""), cfg, opener=direct_opener())
    assert merged is local
    (gap,) = live.gaps
    assert expected in gap and f"{server.url}/api/v2/" in gap


def test_an_unreachable_service_is_a_gap(local: TrialIndex) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = TrialSettings(live=True, api_base=f"http://127.0.0.1:{port}/api/v2")
    merged, live = with_live(hao_like(), local, cfg, opener=direct_opener())
    assert merged is local
    assert "is unreachable" in live.gaps[0] and "live: false" in live.gaps[0]


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tool uses the default opener, which honours proxy variables: reach 127.0.0.1."""
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def tool_context(data_dir: Path, settings: TrialSettings) -> ToolContext:
    case = Case(case_id="t", patient=Patient(id="p"), documents=(), source="test")
    status = ToolOutput(text="", data=breast().model_dump(mode="json"))
    return ToolContext(
        case,
        "Find trials",
        data_dir,
        {"patient_status": status},
        ToolSettings(clinical_trials=settings),
    )


@pytest.mark.usefixtures("no_proxy")
def test_the_tool_merges_live_records_and_keeps_local_matches_on_failure(
    data_dir: Path, pallas_study: dict[str, Any]
) -> None:
    with LocalServer([page(recruiting_copy(pallas_study)), Reply(status=503)]) as server:
        live_out = SPEC.run(tool_context(data_dir, trial_settings(server)))
        failed = SPEC.run(tool_context(data_dir, trial_settings(server)))
    assert live_out.data["live"] == {"added": 0, "replaced": [PALLAS]}
    pallas = next(t for t in live_out.data["excluded"] if t["nct_id"] == PALLAS)
    assert (pallas["source"], pallas["status"]) == (LIVE_SOURCE, "RECRUITING")
    assert f"source: {LIVE_SOURCE}" in live_out.text
    assert "1 updated by the live ClinicalTrials.gov search" in live_out.text
    offline = SPEC.run(tool_context(data_dir, TrialSettings()))
    assert "live" not in offline.data
    assert failed.data["trials"] == offline.data["trials"] != []
    assert any("answered HTTP 503" in gap for gap in failed.gaps)
    assert not any("HTTP" in gap for gap in offline.gaps)


@pytest.mark.usefixtures("no_proxy")
def test_live_mode_works_without_local_records(
    tmp_path: Path, pallas_study: dict[str, Any]
) -> None:
    with LocalServer([page(recruiting_copy(pallas_study))]) as server:
        out = SPEC.run(tool_context(tmp_path, trial_settings(server)))
    assert out.data["records"] == 1 and out.data["live"] == {"added": 1, "replaced": []}
    assert [t["nct_id"] for t in out.data["excluded"]] == [PALLAS]  # HER2+: PALLAS wants HER2-
    assert any("no trial records" in gap and "data fetch" in gap for gap in out.gaps)
