"""The live ClinicalTrials.gov API v2 search, used only when ``tool_settings.clinical_trials.live``
is true (never in tests or CI against the real service).

One request per call: ``GET {api_base}/studies`` with ``query.cond`` (the patient's diagnosis),
``query.term`` (the patient's positive biomarkers), ``filter.overallStatus`` (recruiting or not
yet recruiting), ``pageSize`` and ``format=json``; parameter names as in the API v2
documentation (https://clinicaltrials.gov/data-api/api). Only the first page is read: the
local matcher ranks what comes back. Each study is parsed by the same code as the study files
in the data directory (``_trial_study``), so live and local records are matched alike.

Failures (unreachable, timeout, HTTP errors, a page that is not JSON) raise ``BackendError``;
the trials tool records them as a gap and still returns its local matches.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from magentic_health.errors import BackendError
from magentic_health.tools._markers import GENES
from magentic_health.tools._settings import TrialSettings
from magentic_health.tools._trial_index import TrialRecord, study_record
from magentic_health.tools._trial_profile import Profile
from magentic_health.tools._trial_study import StudyError, parse_study

__all__ = ["LIVE_SOURCE", "OPEN_STATUSES", "LiveQuery", "LiveResult", "live_query", "search"]

LIVE_SOURCE = "ClinicalTrials.gov API v2 (live)"
"""The ``source`` of every live record, so a reader can tell it from a local file."""
OPEN_STATUSES = ("RECRUITING", "NOT_YET_RECRUITING")


@dataclass(frozen=True)
class LiveQuery:
    """What is searched: the condition and the other terms (either may be empty)."""

    condition: str
    term: str

    def params(self, settings: TrialSettings) -> dict[str, str]:
        """The query string parameters, in a fixed order."""
        params = {"query.cond": self.condition, "query.term": self.term}
        params = {k: v for k, v in params.items() if v}
        params["filter.overallStatus"] = "|".join(OPEN_STATUSES)
        params["pageSize"] = str(settings.max_results)
        params["format"] = "json"
        return params


@dataclass(frozen=True)
class LiveResult:
    """The parsed studies and what could not be read."""

    records: tuple[TrialRecord, ...]
    skipped: tuple[str, ...]
    """One line per study that is not a usable API v2 record."""


def live_query(profile: Profile) -> LiveQuery | None:
    """The search for a patient: the diagnosis as the condition, the positive gene markers
    (with their variant) and a positive HER2 as other terms; None when there is neither."""
    condition = profile.diagnosis.value if profile.diagnosis else ""
    terms = [
        f"{m.name} {m.variant}" if m.variant else m.name
        for m in profile.markers
        if m.polarity == "positive" and (m.name in GENES or m.name == "HER2")
    ]
    term = " OR ".join(f"({t})" if " " in t else t for t in dict.fromkeys(terms))
    if not (condition or term):
        return None
    return LiveQuery(condition=condition, term=term)


def search(
    query: LiveQuery,
    settings: TrialSettings,
    *,
    opener: urllib.request.OpenerDirector | None = None,
) -> LiveResult:
    """Recruiting studies for ``query``, parsed into trial records (at most
    ``settings.max_results``)."""
    query_string = urllib.parse.urlencode(query.params(settings))
    url = f"{settings.api_base.rstrip('/')}/studies?{query_string}"
    page = _get_json(url, settings, opener or urllib.request.build_opener())
    studies = page.get("studies") if isinstance(page, dict) else None
    if not isinstance(studies, list):
        raise BackendError(
            f"ClinicalTrials.gov API at {settings.api_base!r} returned no 'studies' list; "
            "check tool_settings.clinical_trials.api_base"
        )
    records: list[TrialRecord] = []
    skipped: list[str] = []
    for n, raw in enumerate(studies[: settings.max_results]):
        try:
            records.append(study_record(parse_study(raw), source=LIVE_SOURCE))
        except StudyError as exc:
            skipped.append(f"live study {n} skipped: not an API v2 study ({exc})")
    return LiveResult(tuple(records), tuple(skipped))


def _get_json(url: str, settings: TrialSettings, opener: urllib.request.OpenerDirector) -> Any:
    """One GET, translated to ``BackendError`` on any failure."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    where = f"ClinicalTrials.gov API at {settings.api_base!r}"
    try:
        with opener.open(request, timeout=settings.timeout_s) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise BackendError(
            f"{where} answered HTTP {exc.code}; live trials skipped, local records used "
            "(check tool_settings.clinical_trials.api_base, or set live: false)"
        ) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise BackendError(_timed_out(where, settings)) from exc
        raise BackendError(
            f"{where} is unreachable ({exc.reason}); local records used "
            "(set tool_settings.clinical_trials.live: false to work offline)"
        ) from exc
    except TimeoutError as exc:
        raise BackendError(_timed_out(where, settings)) from exc
    except OSError as exc:
        raise BackendError(f"{where}: connection failed ({exc}); local records used") from exc
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackendError(f"{where} returned a page that is not JSON ({exc})") from exc


def _timed_out(where: str, settings: TrialSettings) -> str:
    return (
        f"{where} did not answer within {settings.timeout_s:g} s "
        "(tool_settings.clinical_trials.timeout_s); local records used"
    )
