"""Building the tumor board report from upstream tool outputs (never from any model's or this
module's own knowledge).

Every patient statement cites the case documents it rests on, with their quotes; statements
whose evidence names no document of the case are left out and counted as gaps. Knowledge
statements cite their source (a PDQ section, an NCT record). A section whose tool did not run
reads "Not assessed in this run." and is listed under Open questions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from magentic_health.case import Case
from magentic_health.reply import Evidence, Finding
from magentic_health.tools._base import ToolOutput
from magentic_health.tools._report_model import (
    NOT_ASSESSED,
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
    trial_citation,
)
from magentic_health.tools._status_model import PatientStatus, StatusValue
from magentic_health.tools._text import clip

TOOL_ORDER = (
    "patient_status",
    "patient_timeline",
    "radiology",
    "search_notes",
    "clinical_guidelines",
    "clinical_trials",
)
EXCLUDED_SHOWN = 5
PDQ_NOTE = (
    "Excerpts are quoted from NCI's PDQ summaries with attribution; they are not a PDQ "
    "summary themselves."
)
TRIALS_SOURCE = "Source: ClinicalTrials.gov, U.S. National Library of Medicine."
_PATHOLOGY_WORDS = ("patholog", "biopsy", "cytolog", "histolog")
_EMPHASIS = re.compile(r"\*+")


@dataclass
class _Draft:
    """The report as it is written, section by section; citations into the case are checked
    on the way in."""

    case: Case
    sections: list[Section] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    cited: dict[str, None] = field(default_factory=dict)
    omitted: dict[tuple[str, str], int] = field(default_factory=dict)
    """Statements left out, by (tool, why)."""

    def fact(
        self, text: str, evidence: Iterable[Evidence], *, source: str, label: str | None = None
    ) -> None:
        """A patient statement, written only with at least one citation into the case."""
        cites = [
            DocCitation(doc_id=e.doc_id, quote=e.quote)
            for e in evidence
            if self.case.document(e.doc_id) is not None
        ]
        if not cites or not text.strip():
            self.omit(source)
            return
        self.cited.update(dict.fromkeys(c.doc_id for c in cites))
        self.state(clip(text, 400), *dict.fromkeys(cites), label=label)

    def state(self, text: str, *citations: Citation, label: str | None = None) -> None:
        self.items.append(Statement(label=label, text=text, citations=citations))

    def remark(self, text: str) -> None:
        self.items.append(Remark(text=text))

    def omit(self, source: str, why: str = "no evidence in this case") -> None:
        self.omitted[source, why] = self.omitted.get((source, why), 0) + 1

    def close(self, name: str, *, assessed: bool) -> None:
        """End the section being written under ``name``."""
        self.sections.append(Section(name=name, assessed=assessed, items=tuple(self.items)))
        self.items = []


def _evidence(raw: Any) -> list[Evidence]:
    """Evidence from tool data: one {doc_id, quote} or a list of them; malformed items are
    skipped."""
    out: list[Evidence] = []
    for item in raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else []:
        try:
            out.append(Evidence.model_validate(item))
        except ValidationError:
            continue
    return out


def _said(raw: Any) -> tuple[str, list[Evidence]]:
    """A statement in tool data: a string, or {text, evidence}."""
    if isinstance(raw, dict):
        return str(raw.get("text") or "").strip(), _evidence(raw.get("evidence"))
    return (str(raw).strip() if raw else ""), []


def _items(output: ToolOutput | None, key: str) -> list[dict[str, Any]]:
    value = output.data.get(key) if output is not None else None
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _status(upstream: Mapping[str, ToolOutput]) -> tuple[PatientStatus | None, str | None]:
    output = upstream.get("patient_status")
    if output is None:
        return None, None
    try:
        return PatientStatus.model_validate(output.data), None
    except ValidationError as exc:
        return None, f"patient_status data could not be read ({exc.error_count()} errors)"


def _patient(draft: _Draft, status: PatientStatus | None) -> None:
    patient = draft.case.patient
    age = patient.age if patient.age is not None else (status.age if status else None)
    sex = patient.sex or (status.sex if status else None)
    parts = [f"Patient {patient.id}"]
    parts.append(f"age {age}" if age is not None else "age not stated")
    parts.append(f"sex {sex}" if sex else "sex not stated")
    draft.state(", ".join(parts), RecordCitation(case_id=draft.case.case_id))
    draft.close("Patient", assessed=True)


def _value(draft: _Draft, label: str, value: StatusValue | None) -> None:
    if value is not None:
        when = f" ({value.date})" if value.date else ""
        draft.fact(f"{value.value}{when}", value.evidence, source="patient_status", label=label)


def _diagnosis(draft: _Draft, status: PatientStatus) -> None:
    _value(draft, "Diagnosis", status.diagnosis)
    _value(draft, "Primary site", status.primary_site)
    _value(draft, "Stage (TNM)", status.stage_tnm)
    _value(draft, "Stage group", status.stage_group)
    _value(draft, "Disease status", status.disease_status)
    _value(draft, "Vital status", status.vital_status)
    _value(draft, "Performance status", status.performance_status)
    for treatment in status.treatments:
        _value(draft, "Treatment", treatment)
    if status.diagnosis is None:
        draft.gaps.append("Diagnosis and stage: no diagnosis in the patient status")


def _history(draft: _Draft, timeline: ToolOutput | None, search: ToolOutput | None) -> None:
    """Timeline events oldest first (undated last), then the note search hits, if either ran."""
    events = _items(timeline, "events")
    order = sorted(range(len(events)), key=lambda i: (str(events[i].get("date") or "9999"), i))
    for event in (events[i] for i in order):
        date = str(event.get("date") or "undated")
        if event.get("end_date"):
            date += f" to {event['end_date']}"
        category = f" · {event['category']}" if event.get("category") else ""
        summary = str(event.get("summary") or "").strip()
        planned = " (planned)" if event.get("planned") and "planned" not in summary else ""
        if summary:
            evidence = _evidence(event.get("evidence"))
            draft.fact(f"{date}{category}: {summary}{planned}", evidence, source="patient_timeline")
    if timeline is not None and not events:
        draft.remark("No dated events were found.")
    hits = _items(search, "hits")
    if hits:
        draft.remark("From the note search:")
    for hit in hits:
        doc_id, snippet = hit.get("doc_id"), str(hit.get("snippet") or "").strip()
        if isinstance(doc_id, str) and doc_id and snippet:
            label = " ".join(str(hit[k]) for k in ("date", "type") if hit.get(k))
            evidence = [Evidence(doc_id=doc_id, quote=snippet)]
            text = f'{label}: "{snippet}"' if label else f'"{snippet}"'
            draft.fact(text, evidence, source="search_notes")


def _imaging(draft: _Draft, radiology: ToolOutput) -> None:
    """One statement per study: date, modality, findings and comparison, citing every source."""
    studies = _items(radiology, "studies")
    for study in studies:
        evidence = _evidence(study.get("evidence"))
        texts: list[str] = []
        raw_findings = study.get("findings")
        for raw in raw_findings if isinstance(raw_findings, list) else [raw_findings]:
            text, cited = _said(raw)
            texts += [text] if text else []
            evidence += cited
        comparison, cited = _said(study.get("comparison"))
        evidence += cited
        head = " ".join(str(study.get(k)) for k in ("date", "modality") if study.get(k)) or "Study"
        said = "; ".join(texts) or str(study.get("description") or "no findings stated")
        compared = f" (comparison: {comparison})" if comparison else ""
        draft.fact(f"{head}: {said}{compared}", evidence, source="radiology")
    if not studies:
        draft.remark("No imaging studies were found.")


def _pathology(draft: _Draft, status: PatientStatus | None, timeline: ToolOutput | None) -> None:
    before = len(draft.items)
    if status is not None:
        _value(draft, "Histology", status.histology)
        _value(draft, "Grade", status.grade)
    for event in _items(timeline, "events"):
        kind = f"{event.get('category', '')} {event.get('summary', '')}".lower()
        if any(word in kind for word in _PATHOLOGY_WORDS):
            date = event.get("date") or "undated"
            draft.fact(
                f"{date}: {event.get('summary', '')}",
                _evidence(event.get("evidence")),
                source="patient_timeline",
            )
    if len(draft.items) == before:
        draft.remark("No pathology result was found in the upstream outputs.")
        draft.gaps.append("Pathology: no histology or pathology event found")


def _biomarkers(draft: _Draft, status: PatientStatus) -> None:
    for marker in status.biomarkers:
        when = f" ({marker.date})" if marker.date else ""
        text = f"{marker.result}{when}"
        draft.fact(text, marker.evidence, source="patient_status", label=marker.name)
    if not status.biomarkers:
        draft.remark("No biomarker result was found.")
        draft.gaps.append("Biomarkers: no biomarker result in the patient status")


def _guidelines(draft: _Draft, guidelines: ToolOutput) -> None:
    """One statement per passage (labelled with its own heading, emphasis marks dropped) citing
    its PDQ section, then the summaries it came from and the PDQ attribution note."""
    sources: dict[str, None] = {}
    for passage in _items(guidelines, "passages"):
        section = str(passage.get("section", "")).strip()
        text = clip(_EMPHASIS.sub("", str(passage.get("text") or "")), 320)
        try:
            citation = PdqCitation(
                file=str(passage.get("file", "")),
                title=str(passage.get("title") or ""),
                section=section,
                url=str(passage.get("url", "")),
            )
        except ValidationError:
            draft.omit("clinical_guidelines", "no PDQ section with a cancer.gov link")
            continue
        heading = section.rsplit(" > ", 1)[-1]
        draft.state(text or heading, citation, label=heading)
        sources[f"Source: NCI PDQ® {citation.title or citation.file}, {citation.url}"] = None
    if not sources:
        draft.remark("No guideline passage was retrieved.")
    for source in [*sources, PDQ_NOTE] if sources else []:
        draft.remark(source)


def _trials(draft: _Draft, trials: ToolOutput) -> None:
    """Candidate trials with the reasons they fit, then the likely excluded ones with the
    criterion that excludes them, each citing its ClinicalTrials.gov record."""
    candidates, excluded = _items(trials, "trials"), _items(trials, "excluded")
    for trial in candidates:
        why = "; ".join(str(r) for r in trial.get("reasons", []))
        text = (
            f"{clip(str(trial.get('title', '')), 140)} · status: {trial.get('status', 'unknown')}"
        )
        _trial(draft, trial, text + (f" · {why}" if why else ""))
    for trial in excluded[:EXCLUDED_SHOWN]:
        for item in trial.get("excluding_criteria", [])[:1]:
            quote, rule = clip(str(item.get("quote", "")), 200), item.get("rule", "")
            text = f'{clip(str(trial.get("title", "")), 100)}: likely excluded by "{quote}"'
            _trial(draft, trial, text + (f" ({rule})" if rule else ""))
    if not candidates and not excluded:
        draft.remark("No trial in the local records fits the patient.")
    draft.remark(TRIALS_SOURCE)


def _trial(draft: _Draft, trial: dict[str, Any], text: str) -> None:
    try:
        citation = trial_citation(str(trial.get("nct_id", "")))
    except ValidationError:
        draft.omit("clinical_trials", "no valid NCT id")
        return
    draft.state(text, citation)


def _missing(draft: _Draft, name: str, tool: str, present: object | None) -> bool:
    """True, with the section written as not assessed and the gap recorded, when its tool's
    output is missing."""
    if present is not None:
        return False
    draft.remark(NOT_ASSESSED)
    draft.gaps.append(f"{name}: not assessed in this run ({tool} did not run)")
    draft.close(name, assessed=False)
    return True


def _write_sections(
    draft: _Draft, upstream: Mapping[str, ToolOutput], status: PatientStatus | None
) -> None:
    """Every section after Patient and before Open questions, in order."""
    timeline, radiology = upstream.get("patient_timeline"), upstream.get("radiology")
    guidelines, trials = upstream.get("clinical_guidelines"), upstream.get("clinical_trials")
    search = upstream.get("search_notes")
    if not _missing(draft, "Diagnosis and stage", "patient_status", status) and status is not None:
        _diagnosis(draft, status)
        draft.close("Diagnosis and stage", assessed=True)
    history = timeline if timeline is not None else search
    if not _missing(draft, "History", "patient_timeline", history):
        _history(draft, timeline, search)
        draft.close("History", assessed=True)
    if not _missing(draft, "Imaging", "radiology", radiology) and radiology is not None:
        _imaging(draft, radiology)
        draft.close("Imaging", assessed=True)
    either = status if status is not None else timeline
    if not _missing(draft, "Pathology", "patient_status or patient_timeline", either):
        _pathology(draft, status, timeline)
        draft.close("Pathology", assessed=True)
    if not _missing(draft, "Biomarkers", "patient_status", status) and status is not None:
        _biomarkers(draft, status)
        draft.close("Biomarkers", assessed=True)
    name = "Guideline considerations"
    if not _missing(draft, name, "clinical_guidelines", guidelines) and guidelines is not None:
        _guidelines(draft, guidelines)
        draft.close(name, assessed=True)
    if not _missing(draft, "Trial options", "clinical_trials", trials) and trials is not None:
        _trials(draft, trials)
        draft.close("Trial options", assessed=True)


def build_report(case: Case, upstream: Mapping[str, ToolOutput]) -> Report:
    """The report for ``case`` from the upstream tool outputs (keyed by tool name)."""
    draft = _Draft(case)
    status, status_problem = _status(upstream)
    _patient(draft, status)
    _write_sections(draft, upstream, status)
    if status_problem:
        draft.gaps.append(status_problem)
    for (source, why), count in draft.omitted.items():
        draft.gaps.append(f"{count} statement(s) from {source} left out: {why}")
    draft.items = list(_open_questions(upstream, status, draft.gaps)) or [
        Remark(text="None recorded.")
    ]
    draft.close("Open questions", assessed=True)
    return Report(
        case_id=case.case_id,
        request=clip(case.request, 300),
        sections=tuple(draft.sections),
        gaps=tuple(draft.gaps),
        findings=_passed_findings(upstream),
        cited=tuple(draft.cited),
    )


def _open_questions(
    upstream: Mapping[str, ToolOutput], status: PatientStatus | None, own: list[str]
) -> list[Question]:
    """Every gap the tools reported, the status conflicts, and the report's own gaps."""
    questions: dict[Question, None] = {}
    for tool in sorted(upstream, key=lambda t: (TOOL_ORDER.index(t) if t in TOOL_ORDER else 99, t)):
        for gap in (g for g in upstream[tool].gaps if g.strip()):
            questions[Question(source=tool, text=gap)] = None
    for conflict in status.conflicts if status else ():
        questions[Question(source="patient_status", text=f"conflict: {conflict}")] = None
    for gap in own:
        questions[Question(source="report", text=gap)] = None
    return list(questions)


def _passed_findings(upstream: Mapping[str, ToolOutput]) -> tuple[Finding, ...]:
    """The upstream findings, in tool order, each once, with their original evidence."""
    seen: dict[tuple[str, tuple[Evidence, ...]], Finding] = {}
    for tool in TOOL_ORDER:
        output = upstream.get(tool)
        for finding in output.findings if output else ():
            seen.setdefault((finding.claim, finding.evidence), finding)
    return tuple(seen.values())


__all__ = ["TOOL_ORDER", "build_report"]
