"""clinical_trials: rank the local trial records for this patient and say what speaks for and
against each one, quoting the trial's own criteria.

Trials come from the data directory (see ``_trial_index``) and, when
``tool_settings.clinical_trials.live`` is set, from a live ClinicalTrials.gov search merged in
for the call (``_ctgov``; a failed search is a gap, the local matches still come back). The
score and its weights are in ``_trial_match``, the exclusion rules in ``_trial_rules``. Trial
records are not case documents: they are cited by NCT id in ``data`` and the text, while the
findings cite the patient evidence each match rests on.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from typing import Any

from magentic_health.errors import BackendError, InputError
from magentic_health.reply import Finding
from magentic_health.tools._base import ToolContext, ToolOutput, ToolSpec
from magentic_health.tools._ctgov import live_query, search
from magentic_health.tools._settings import TrialSettings
from magentic_health.tools._status_input import status_for
from magentic_health.tools._status_model import PatientStatus
from magentic_health.tools._text import clip
from magentic_health.tools._trial_index import TrialIndex, TrialRecord, trial_index, with_records
from magentic_health.tools._trial_match import match
from magentic_health.tools._trial_profile import Profile, profile_of
from magentic_health.tools._trial_rules import Exclusion, exclusions

VERIFY_SHOWN = 3
"""Criteria to verify shown per trial in the text (``data`` keeps them all)."""


@dataclass(frozen=True)
class TrialResult:
    """One assessed trial."""

    nct_id: str
    title: str
    status: str
    score: float
    url: str
    source: str
    reasons: tuple[str, ...]
    matched_criteria: tuple[str, ...]
    """Verbatim clauses of the trial's summary or criteria that support the match."""
    excluding_criteria: tuple[Exclusion, ...]
    to_verify: tuple[str, ...]
    matched_markers: tuple[str, ...]

    def as_data(self) -> dict[str, Any]:
        return {
            "nct_id": self.nct_id,
            "title": self.title,
            "status": self.status,
            "score": self.score,
            "url": self.url,
            "source": self.source,
            "reasons": list(self.reasons),
            "matched_criteria": list(self.matched_criteria),
            "excluding_criteria": [
                {"quote": e.quote, "rule": e.rule, "source": e.source}
                for e in self.excluding_criteria
            ],
            "to_verify": list(self.to_verify),
            "likely_excluded": bool(self.excluding_criteria),
        }


@dataclass(frozen=True)
class TrialMatches:
    """Candidates and likely-excluded trials, each best first (score, then NCT id)."""

    candidates: tuple[TrialResult, ...]
    excluded: tuple[TrialResult, ...]
    considered: int
    gaps: tuple[str, ...]


def assess(record: TrialRecord, profile: Profile) -> TrialResult | None:
    """The trial's assessment, or None when nothing about it fits the patient."""
    found = match(record, profile)
    if found.other_cancer:
        return None  # a biomarker match in a trial for another cancer is no fit
    if not (found.condition or found.markers or (found.basket and not found.undocumented)):
        return None  # nor is a basket trial asking for a biomarker the patient lacks
    excluding, verify = exclusions(record, profile)
    return TrialResult(
        nct_id=record.nct_id,
        title=record.title,
        status=record.status,
        score=round(found.score, 2),
        url=record.url,
        source=record.source,
        reasons=tuple(found.reasons),
        matched_criteria=tuple(found.quotes),
        excluding_criteria=tuple(excluding),
        to_verify=tuple(dict.fromkeys(found.to_verify + verify)),
        matched_markers=tuple(m.label for m in found.markers),
    )


def match_trials(status: PatientStatus, *, index: TrialIndex, limit: int = 10) -> TrialMatches:
    """Assess every record; return the ``limit`` best candidates and the ``limit`` best
    trials that would fit but likely exclude the patient."""
    profile = profile_of(status)
    assessed = [r for r in (assess(rec, profile) for rec in index.records) if r is not None]
    assessed.sort(key=lambda r: (-r.score, r.nct_id))
    candidates = tuple(r for r in assessed if not r.excluding_criteria)[:limit]
    excluded = tuple(r for r in assessed if r.excluding_criteria)[:limit]
    gaps: list[str] = []
    if status.diagnosis is None:
        gaps.append("no diagnosis in the patient status: trials matched on biomarkers only")
    if not candidates:
        gaps.append(f"no trial among the {len(index.records)} records fits the patient")
    unknown = sum(1 for r in candidates if r.status == "unknown")
    if unknown:
        gaps.append(
            f"recruitment status unknown for {unknown} listed trials (the local text set "
            "carries none): check ClinicalTrials.gov"
        )
    if profile.age is None:
        gaps.append("patient age unknown: age limits not checked")
    return TrialMatches(candidates, excluded, len(assessed), tuple(gaps))


def _findings(status: PatientStatus, result: TrialMatches) -> tuple[Finding, ...]:
    """The patient facts the ranking used, each with the status evidence."""
    shown = result.candidates + result.excluded
    findings: list[Finding] = []
    diagnosis = status.diagnosis
    if (
        diagnosis is not None
        and diagnosis.evidence
        and any(r.reasons[0].startswith("condition") for r in shown)
    ):
        claim = f"Trials were matched on the diagnosis {diagnosis.value}"
        findings.append(Finding(claim=claim, evidence=diagnosis.evidence))
    labels = {label for r in shown for label in r.matched_markers}
    for marker in profile_of(status).markers:
        if marker.label in labels and marker.evidence:
            claim = f"Trials were matched on the patient's {marker.label}"
            findings.append(Finding(claim=claim, evidence=marker.evidence))
    for therapy in profile_of(status).prior_therapies:
        rules = [e.rule for r in result.excluded for e in r.excluding_criteria]
        if therapy.evidence and any(therapy.therapy_class in rule for rule in rules):
            claim = (
                f"Prior {therapy.therapy_class} ({therapy.drug}) excludes the patient from "
                "some trials"
            )
            findings.append(Finding(claim=claim, evidence=therapy.evidence))
    return tuple(findings)


def _markdown(result: TrialMatches, index: TrialIndex, live: LiveSearch | None) -> str:
    lines = ["## Clinical trial options", ""]
    where = "local trial records"
    if live is not None:
        where = (
            f"trial records (local, plus {live.added} added and {len(live.replaced)} updated "
            "by the live ClinicalTrials.gov search)"
        )
    lines.append(
        f"{result.considered} of {len(index.records)} {where} fit the patient's "
        "cancer type or biomarkers. Screening is indicative: confirm eligibility with the full "
        "protocol."
    )
    for heading, trials in (
        ("Candidates", result.candidates),
        ("Considered, likely excluded", result.excluded),
    ):
        lines += ["", f"### {heading}", ""]
        if not trials:
            lines.append("None.")
        for n, trial in enumerate(trials, 1):
            lines.append(
                f"{n}. **[{trial.nct_id}]** {clip(trial.title, 120)} · status: {trial.status}"
                f" · score {trial.score} · {trial.url} · source: {trial.source}"
            )
            lines.append(f"   - Why: {'; '.join(trial.reasons)}")
            lines.extend(
                f'   - Criterion: "{clip(q, 220)}" [{trial.nct_id}]' for q in trial.matched_criteria
            )
            lines.extend(
                f'   - Likely excludes: "{clip(e.quote, 220)}" [{trial.nct_id}] (rule: {e.rule})'
                for e in trial.excluding_criteria
            )
            lines.extend(
                f'   - To verify: "{clip(q, 220)}" [{trial.nct_id}]'
                for q in trial.to_verify[:VERIFY_SHOWN]
            )
    lines += [
        "",
        "Source: ClinicalTrials.gov, U.S. National Library of Medicine (records via the "
        "oncotrialLLM sample set and the ClinicalTrials.gov API v2).",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class LiveSearch:
    """What the live ClinicalTrials.gov search added (only when settings ask for it)."""

    added: int
    """Live records not in the local set."""
    replaced: tuple[str, ...]
    """NCT ids whose local record the live one replaced."""
    gaps: tuple[str, ...]


def with_live(
    status: PatientStatus,
    index: TrialIndex,
    settings: TrialSettings,
    *,
    opener: urllib.request.OpenerDirector | None = None,
) -> tuple[TrialIndex, LiveSearch]:
    """The index with the live search's records merged in (live wins over a local record with
    the same NCT id); a failed search is a gap and leaves the index as it was."""
    query = live_query(profile_of(status))
    if query is None:
        gap = "live trial search skipped: no diagnosis or positive biomarker to search for"
        return index, LiveSearch(0, (), (gap,))
    try:
        found = search(query, settings, opener=opener)
    except BackendError as exc:
        return index, LiveSearch(0, (), (str(exc),))
    local = {r.nct_id for r in index.records}
    replaced = tuple(sorted(r.nct_id for r in found.records if r.nct_id in local))
    added = len({r.nct_id for r in found.records} - local)
    return with_records(index, found.records), LiveSearch(added, replaced, found.skipped)


def _run(ctx: ToolContext) -> ToolOutput:
    status, status_gap = status_for(ctx)
    if status is None:
        return ToolOutput(text="No patient status: trials not matched.", gaps=(str(status_gap),))
    settings = ctx.settings.clinical_trials
    gaps: tuple[str, ...] = (status_gap,) if status_gap else ()
    try:
        index = trial_index(ctx.data_dir)
    except InputError as exc:
        if not settings.live:
            return ToolOutput(text="Trial records unavailable.", gaps=(str(exc),))
        index, gaps = TrialIndex((), 0.0), (*gaps, str(exc))
    live = None
    if settings.live:
        index, live = with_live(status, index, settings)
    result = match_trials(status, index=index)
    data: dict[str, Any] = {
        "trials": [r.as_data() for r in result.candidates],
        "excluded": [r.as_data() for r in result.excluded],
        "considered": result.considered,
        "records": len(index.records),
    }
    if live is not None:
        data["live"] = {"added": live.added, "replaced": list(live.replaced)}
        gaps += live.gaps
    return ToolOutput(
        text=_markdown(result, index, live),
        findings=_findings(status, result),
        gaps=result.gaps + gaps,
        data=data,
    )


SPEC = ToolSpec(
    name="clinical_trials",
    description=(
        "Ranks the local clinical trial records for the patient's cancer type, stage, "
        "biomarkers, age and sex, quoting the criteria that support each match and those "
        "that likely exclude the patient."
    ),
    run=_run,
)

__all__ = [
    "SPEC",
    "LiveSearch",
    "TrialMatches",
    "TrialResult",
    "assess",
    "match_trials",
    "with_live",
]
