"""report_export: the tumor board report in Markdown, assembled only from what upstream tools
returned (never from the model's or this module's own knowledge).

Every patient statement ends with the case documents it rests on ("[doc_id]"); statements whose
evidence names no document of the case are left out and counted as gaps. Knowledge statements
cite their source ("[PDQ: section]", "[NCT01234567]"). A section whose tool did not run reads
"Not assessed in this run." and is listed under Open questions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from magentic_health.case import Case
from magentic_health.reply import Evidence, Finding
from magentic_health.tools._base import ToolContext, ToolOutput, ToolSpec
from magentic_health.tools._status_model import PatientStatus, StatusValue
from magentic_health.tools._text import clip

DISCLAIMER = "For research use only. Not a medical device; not for clinical decision-making."
NOT_ASSESSED = "Not assessed in this run."
SECTIONS = (
    "Patient",
    "Diagnosis and stage",
    "History",
    "Imaging",
    "Pathology",
    "Biomarkers",
    "Guideline considerations",
    "Trial options",
    "Open questions",
)
TOOL_ORDER = (
    "patient_status",
    "patient_timeline",
    "radiology",
    "search_notes",
    "clinical_guidelines",
    "clinical_trials",
)
EXCLUDED_SHOWN = 5
_PATHOLOGY_WORDS = ("patholog", "biopsy", "cytolog", "histolog")


@dataclass(frozen=True)
class Report:
    """The rendered report, which sections had their tool's output, and what is missing."""

    markdown: str
    assessed: dict[str, bool]
    gaps: tuple[str, ...]
    findings: tuple[Finding, ...]
    cited: tuple[str, ...]
    """Case document ids the report cites, in first-cited order."""


@dataclass
class _Draft:
    """The report as it is written: citations are checked against the case on the way in."""

    case: Case
    lines: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    cited: dict[str, None] = field(default_factory=dict)
    omitted: dict[str, int] = field(default_factory=dict)

    def fact(self, text: str, evidence: Iterable[Evidence], *, source: str) -> None:
        """A patient statement, written only with at least one citation into the case."""
        ids = [e.doc_id for e in evidence if self.case.document(e.doc_id) is not None]
        ids = list(dict.fromkeys(ids))
        if not ids:
            self.omitted[source] = self.omitted.get(source, 0) + 1
            return
        self.cited.update(dict.fromkeys(ids))
        self.lines.append(f"- {clip(text, 400)} " + " ".join(f"[{i}]" for i in ids))


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
    draft.lines.append(f"- {', '.join(parts)} [patient record: {draft.case.case_id}]")


def _value(draft: _Draft, label: str, value: StatusValue | None) -> None:
    if value is not None:
        when = f" ({value.date})" if value.date else ""
        draft.fact(f"**{label}:** {value.value}{when}", value.evidence, source="patient_status")


def _diagnosis(draft: _Draft, status: PatientStatus) -> None:
    _value(draft, "Diagnosis", status.diagnosis)
    _value(draft, "Primary site", status.primary_site)
    _value(draft, "Stage (TNM)", status.stage_tnm)
    _value(draft, "Stage group", status.stage_group)
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
            draft.fact(
                f"{date}{category}: {summary}{planned}",
                _evidence(event.get("evidence")),
                source="patient_timeline",
            )
    if timeline is not None and not events:
        draft.lines.append("No dated events were found.")
    hits = _items(search, "hits")
    if hits:
        draft.lines += ["", "From the note search:", ""]
    for hit in hits:
        doc_id, snippet = hit.get("doc_id"), str(hit.get("snippet") or "").strip()
        if isinstance(doc_id, str) and doc_id and snippet:
            label = " ".join(str(hit[k]) for k in ("date", "type") if hit.get(k))
            evidence = [Evidence(doc_id=doc_id, quote=snippet)]
            draft.fact(f'{label}: "{snippet}"', evidence, source="search_notes")


def _imaging(draft: _Draft, radiology: ToolOutput) -> None:
    """One line per study: date, modality, findings and comparison, citing every source."""
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
        draft.lines.append("No imaging studies were found.")


def _pathology(draft: _Draft, status: PatientStatus | None, timeline: ToolOutput | None) -> None:
    before = len(draft.lines)
    if status is not None:
        _value(draft, "Histology", status.histology)
    for event in _items(timeline, "events"):
        kind = f"{event.get('category', '')} {event.get('summary', '')}".lower()
        if any(word in kind for word in _PATHOLOGY_WORDS):
            date = event.get("date") or "undated"
            draft.fact(
                f"{date}: {event.get('summary', '')}",
                _evidence(event.get("evidence")),
                source="patient_timeline",
            )
    if len(draft.lines) == before:
        draft.lines.append("No pathology result was found in the upstream outputs.")
        draft.gaps.append("Pathology: no histology or pathology event found")


def _biomarkers(draft: _Draft, status: PatientStatus) -> None:
    for marker in status.biomarkers:
        when = f" ({marker.date})" if marker.date else ""
        draft.fact(
            f"**{marker.name}:** {marker.result}{when}", marker.evidence, source="patient_status"
        )
    if not status.biomarkers:
        draft.lines.append("No biomarker result was found.")
        draft.gaps.append("Biomarkers: no biomarker result in the patient status")


def _guidelines(draft: _Draft, guidelines: ToolOutput) -> None:
    passages = _items(guidelines, "passages")
    sources: dict[str, None] = {}
    for passage in passages:
        section = str(passage.get("section", "")).strip()
        text = clip(str(passage.get("text", "")), 320)
        draft.lines.append(f"- **{section}**: {text} [PDQ: {section}]")
        if passage.get("title") and passage.get("url"):
            sources[f"Source: NCI PDQ® {passage['title']}, {passage['url']}"] = None
    if not passages:
        draft.lines.append("No guideline passage was retrieved.")
    draft.lines.extend(["", *sources] if sources else [])


def _trials(draft: _Draft, trials: ToolOutput) -> None:
    candidates, excluded = _items(trials, "trials"), _items(trials, "excluded")
    for trial in candidates:
        nct = trial.get("nct_id", "?")
        why = "; ".join(str(r) for r in trial.get("reasons", []))
        draft.lines.append(
            f"- [{nct}] {clip(str(trial.get('title', '')), 140)} · status: "
            f"{trial.get('status', 'unknown')} · {why} · {trial.get('url', '')}"
        )
    for trial in excluded[:EXCLUDED_SHOWN]:
        nct = trial.get("nct_id", "?")
        for item in trial.get("excluding_criteria", [])[:1]:
            draft.lines.append(
                f"- [{nct}] {clip(str(trial.get('title', '')), 100)}: likely excluded by "
                f'"{clip(str(item.get("quote", "")), 200)}" ({item.get("rule", "")})'
            )
    if not candidates and not excluded:
        draft.lines.append("No trial in the local records fits the patient.")
    draft.lines += ["", "Source: ClinicalTrials.gov, U.S. National Library of Medicine."]


def _begin(draft: _Draft, name: str, tool: str, present: object | None) -> bool:
    """Open a section; when its tool's output is missing, mark it not assessed."""
    draft.lines += ["", f"## {name}", ""]
    if present is None:
        draft.lines.append(NOT_ASSESSED)
        draft.gaps.append(f"{name}: not assessed in this run ({tool} did not run)")
        return False
    return True


def _sections(
    draft: _Draft, upstream: Mapping[str, ToolOutput], status: PatientStatus | None
) -> dict[str, bool]:
    """Write every section after Patient; which ones had their tool's output."""
    timeline, radiology = upstream.get("patient_timeline"), upstream.get("radiology")
    guidelines, trials = upstream.get("clinical_guidelines"), upstream.get("clinical_trials")
    done: dict[str, bool] = {}
    done["Diagnosis and stage"] = _begin(draft, "Diagnosis and stage", "patient_status", status)
    if status is not None:
        _diagnosis(draft, status)
    search = upstream.get("search_notes")
    history = timeline if timeline is not None else search
    done["History"] = _begin(draft, "History", "patient_timeline", history)
    if history is not None:
        _history(draft, timeline, search)
    done["Imaging"] = _begin(draft, "Imaging", "radiology", radiology)
    if radiology is not None:
        _imaging(draft, radiology)
    either = status if status is not None else timeline
    done["Pathology"] = _begin(draft, "Pathology", "patient_status or patient_timeline", either)
    if either is not None:
        _pathology(draft, status, timeline)
    done["Biomarkers"] = _begin(draft, "Biomarkers", "patient_status", status)
    if status is not None:
        _biomarkers(draft, status)
    name = "Guideline considerations"
    done[name] = _begin(draft, name, "clinical_guidelines", guidelines)
    if guidelines is not None:
        _guidelines(draft, guidelines)
    done["Trial options"] = _begin(draft, "Trial options", "clinical_trials", trials)
    if trials is not None:
        _trials(draft, trials)
    return done


def build_report(case: Case, upstream: Mapping[str, ToolOutput]) -> Report:
    """The report for ``case`` from the upstream tool outputs (keyed by tool name)."""
    draft = _Draft(case)
    status, status_problem = _status(upstream)
    draft.lines += [f"# Tumor board report: {case.case_id}", "", f"> {DISCLAIMER}", ""]
    draft.lines.append(f"**Request:** {clip(case.request, 300)}")
    draft.lines += ["", "## Patient", ""]
    _patient(draft, status)
    assessed = {"Patient": True, **_sections(draft, upstream, status)}
    if status_problem:
        draft.gaps.append(status_problem)
    for source, count in draft.omitted.items():
        draft.gaps.append(f"{count} statement(s) from {source} left out: no evidence in this case")
    questions = _open_questions(upstream, status, draft.gaps)
    draft.lines += ["", "## Open questions", ""]
    draft.lines += [f"- {q}" for q in questions] or ["None recorded."]
    draft.lines += ["", "---", "", f"*{DISCLAIMER}*", ""]
    assessed["Open questions"] = True
    return Report(
        markdown="\n".join(draft.lines),
        assessed=assessed,
        gaps=tuple(draft.gaps),
        findings=_passed_findings(upstream),
        cited=tuple(draft.cited),
    )


def _open_questions(
    upstream: Mapping[str, ToolOutput], status: PatientStatus | None, own: list[str]
) -> list[str]:
    """Every gap the tools reported, the status conflicts, and the report's own gaps."""
    questions: dict[str, None] = {}
    for tool in sorted(upstream, key=lambda t: (TOOL_ORDER.index(t) if t in TOOL_ORDER else 99, t)):
        for gap in upstream[tool].gaps:
            questions[f"({tool}) {gap}"] = None
    for conflict in status.conflicts if status else ():
        questions[f"(patient_status) conflict: {conflict}"] = None
    for gap in own:
        questions[f"(report) {gap}"] = None
    return list(questions)


def _passed_findings(upstream: Mapping[str, ToolOutput]) -> tuple[Finding, ...]:
    """The upstream findings, in tool order, each once, with their original evidence."""
    seen: dict[tuple[str, tuple[Evidence, ...]], Finding] = {}
    for tool in TOOL_ORDER:
        output = upstream.get(tool)
        for finding in output.findings if output else ():
            seen.setdefault((finding.claim, finding.evidence), finding)
    return tuple(seen.values())


def render_report_markdown(case: Case, upstream: Mapping[str, ToolOutput]) -> str:
    """The report's Markdown (see ``build_report``)."""
    return build_report(case, upstream).markdown


def _run(ctx: ToolContext) -> ToolOutput:
    report = build_report(ctx.case, ctx.upstream)
    data = {
        "format": "markdown",
        "sections": {
            name: ("assessed" if report.assessed.get(name) else "not assessed") for name in SECTIONS
        },
        "tools": [t for t in TOOL_ORDER if t in ctx.upstream],
        "cited_documents": list(report.cited),
        "disclaimer": DISCLAIMER,
    }
    return ToolOutput(text=report.markdown, findings=report.findings, gaps=report.gaps, data=data)


SPEC = ToolSpec(
    name="report_export",
    description=(
        "Writes the tumor board report (Markdown) from the upstream tool outputs: patient, "
        "diagnosis and stage, history, imaging, pathology, biomarkers, guideline "
        "considerations, trial options and open questions, every statement cited."
    ),
    run=_run,
)

__all__ = [
    "DISCLAIMER",
    "NOT_ASSESSED",
    "SECTIONS",
    "SPEC",
    "Report",
    "build_report",
    "render_report_markdown",
]
