"""The patient status: diagnosis, site, histology, stage, grade, biomarkers (with the serum
tumour markers of the patient's cancer), performance status, lines of therapy, disease status,
vital status, age and sex, each with the quotes that state it.

How values are chosen when sources disagree is the rule of ``_status_mentions``: most
supporting documents, reports and FHIR resources outweighing narrative notes, which outweigh
form headers such as a flow sheet's "Diagnosis: Breast Cancer"; the loser is listed in
``conflicts`` with the documents on both sides, never silently dropped. Stage is the stage at
diagnosis, dated by its first statement; performance status, serum markers and the disease
status are the most recent ones. Gaps name what is missing, including the biomarkers usually
reported for the patient's cancer (``EXPECTED_MARKERS``).
"""

from __future__ import annotations

import re
from collections import defaultdict

from magentic_health.case import Case
from magentic_health.reply import Evidence, Finding
from magentic_health.tools._base import ToolContext, ToolOutput, ToolSpec
from magentic_health.tools._fhir_parse import parse_fhir
from magentic_health.tools._notes import narrative_docs
from magentic_health.tools._status_course import disease_status, vital_status
from magentic_health.tools._status_fhir import fhir_mentions
from magentic_health.tools._status_mentions import (
    Mentions,
    Resolved,
    conflict_evidence,
    evidence_of,
    latest,
    resolve,
)
from magentic_health.tools._status_model import Biomarker, PatientStatus, StatusValue
from magentic_health.tools._status_notes import note_mentions
from magentic_health.tools._status_treatments import treatments
from magentic_health.tools._vocab import EXPECTED_MARKERS, SERUM_MARKERS, organ_of

__all__ = ["SPEC", "PatientStatus", "patient_status", "render"]

_FIELDS = {
    "diagnosis": "diagnosis",
    "primary_site": "primary site",
    "histology": "histology",
    "stage_tnm": "TNM stage",
    "stage_group": "stage group",
    "performance_status": "performance status",
}
_MORE = {"grade": "grade", "disease_status": "disease status", "vital_status": "vital status"}


def _collect(case: Case) -> Mentions:
    mentions: Mentions = defaultdict(list)
    for doc in narrative_docs(case):
        for key, found in note_mentions(doc).items():
            mentions[key].extend(found)
    views = [parse_fhir(doc) for doc in case.documents if doc.kind == "fhir"]
    for key, found in fhir_mentions(views).items():
        mentions[key].extend(found)
    return mentions


def _value(resolved: Resolved | None) -> StatusValue | None:
    if resolved is None:
        return None
    return StatusValue(value=resolved.value, date=resolved.date, evidence=resolved.evidence)


def _site(mentions: Mentions, diagnosis: Resolved | None) -> StatusValue | None:
    """The organ of the diagnosis, with laterality and sub-site where the sources say."""
    site_mentions = mentions.get("site", [])
    if diagnosis is not None:
        organ_groups = {
            m.group for m in mentions.get("diagnosis", []) if m.value == diagnosis.value
        }
        site_mentions = [m for m in site_mentions if m.group in organ_groups] or site_mentions
    site = resolve("primary site", site_mentions)
    if site is None:
        return None
    sub = resolve("sub-site", mentions.get("subsite", []))
    value = site.value if sub is None else f"{site.value}, {sub.value}"
    evidence = site.evidence + (sub.evidence[:2] if sub else ())
    return StatusValue(value=value, date=site.date, evidence=evidence)


def _performance(mentions: Mentions) -> StatusValue | None:
    """The latest ECOG and the latest Karnofsky score (ECOG first)."""
    found = [
        r for key in ("ECOG", "Karnofsky") if (r := latest(mentions.get(f"performance:{key}", [])))
    ]
    if not found:
        return None
    dates = [r.date for r in found if r.date]
    return StatusValue(
        value="; ".join(r.value for r in found),
        date=max(dates) if dates else None,
        evidence=tuple(e for r in found for e in r.evidence),
    )


def _grade(mentions: Mentions) -> tuple[StatusValue | None, list[str]]:
    """Each grading scale found (Gleason, grade group, grade, differentiation), joined."""
    found = [
        (key, r)
        for key in ("grade:Gleason", "grade:Grade Group", "grade:grade", "grade:differentiation")
        if (r := resolve(key.split(":")[1], mentions.get(key, [])))
    ]
    if not found:
        return None, []
    dates = [r.date for _, r in found if r.date]
    value = StatusValue(
        value="; ".join(r.value for _, r in found),
        date=min(dates) if dates else None,
        evidence=tuple(e for _, r in found for e in r.evidence),
    )
    return value, [c for _, r in found for c in r.conflicts]


def _serum(mentions: Mentions, diagnosis: Resolved | None) -> list[Biomarker]:
    """The latest value of each serum tumour marker that belongs to the patient's cancer."""
    organ = organ_of(diagnosis.value) if diagnosis else None
    out: list[Biomarker] = []
    for key in sorted(k for k in mentions if k.startswith("serum:")):
        name = key.split(":", 1)[1]
        belongs = SERUM_MARKERS[name][1]
        if diagnosis is None or (belongs is not None and belongs != organ):
            continue
        if found := latest(mentions[key]):
            out.append(
                Biomarker(name=name, result=found.value, date=found.date, evidence=found.evidence)
            )
    return out


def _biomarkers(mentions: Mentions) -> tuple[tuple[Biomarker, ...], list[str]]:
    markers: list[Biomarker] = []
    conflicts: list[str] = []
    for key in sorted(k for k in mentions if k.startswith("biomarker:")):
        name = key.split(":", 1)[1]
        resolved = resolve(f"{name} result", mentions[key])
        if resolved is None:
            continue
        markers.append(
            Biomarker(
                name=name, result=resolved.value, date=resolved.date, evidence=resolved.evidence
            )
        )
        conflicts.extend(resolved.conflicts)
    return tuple(markers), conflicts


def _demographics(case: Case, mentions: Mentions) -> tuple[int | None, str | None]:
    age = case.patient.age
    if age is None and (said := resolve("age", mentions.get("age", []))):
        age = int(said.value)
    sex: str | None = case.patient.sex
    if sex is None and (said := resolve("sex", mentions.get("sex", []))):
        sex = said.value
    return age, sex


def patient_status(case: Case) -> PatientStatus:
    """The current picture of the cancer, from the case's notes and FHIR resources."""
    return _status(case, _collect(case))


def _status(case: Case, mentions: Mentions) -> PatientStatus:
    resolved = {
        name: resolve(_FIELDS[name], mentions.get(name, []))
        for name in ("diagnosis", "histology", "stage_tnm", "stage_group")
    }
    markers, marker_conflicts = _biomarkers(mentions)
    grade, grade_conflicts = _grade(mentions)
    conflicts = [c for r in resolved.values() if r for c in r.conflicts]
    conflicts += marker_conflicts + grade_conflicts
    notes = narrative_docs(case)
    views = [parse_fhir(doc) for doc in case.documents if doc.kind == "fhir"]
    age, sex = _demographics(case, mentions)
    return PatientStatus(
        diagnosis=_value(resolved["diagnosis"]),
        primary_site=_site(mentions, resolved["diagnosis"]),
        histology=_value(resolved["histology"]),
        stage_tnm=_value(resolved["stage_tnm"]),
        stage_group=_value(resolved["stage_group"]),
        grade=grade,
        biomarkers=markers + tuple(_serum(mentions, resolved["diagnosis"])),
        performance_status=_performance(mentions),
        treatments=treatments(notes, views),
        disease_status=disease_status(notes, views) if resolved["diagnosis"] else None,
        vital_status=vital_status(notes, views),
        age=age,
        sex=sex,
        conflicts=tuple(conflicts),
    )


def _findings(status: PatientStatus, mentions: Mentions) -> list[Finding]:
    findings: list[Finding] = []
    for name, label in (_FIELDS | _MORE).items():
        value = getattr(status, name)
        if isinstance(value, StatusValue) and value.evidence:
            findings.append(
                Finding(claim=f"{label.capitalize()}: {value.value}", evidence=value.evidence)
            )
    for marker in status.biomarkers:
        findings.append(Finding(claim=f"{marker.name}: {marker.result}", evidence=marker.evidence))
    for line in status.treatments:
        if line.evidence:
            findings.append(Finding(claim=f"Treatment: {line.value}", evidence=line.evidence))
    for field, value in (("age", status.age), ("sex", status.sex)):
        quotes = _quotes_for(mentions, field, value)
        if value is not None and quotes:
            findings.append(Finding(claim=f"{field.capitalize()}: {value}", evidence=quotes))
    for conflict in status.conflicts:
        field_key = _conflict_field(conflict)
        kept = conflict.rsplit("kept ", 1)[-1].split(" (support")[0].strip("'\"")
        quotes = conflict_evidence(mentions.get(field_key, []), kept)
        if quotes:
            findings.append(Finding(claim=f"Conflict — {conflict.split(';')[0]}", evidence=quotes))
    return findings


def _conflict_field(conflict: str) -> str:
    label = conflict.split(":", 1)[0]
    for name, text in _FIELDS.items():
        if text == label:
            return name
    if label in ("Gleason", "Grade Group", "grade", "differentiation"):
        return f"grade:{label}"
    return f"biomarker:{label.removesuffix(' result')}"


def _quotes_for(mentions: Mentions, field: str, value: object) -> tuple[Evidence, ...]:
    if value is None:
        return ()
    wanted = str(value)
    matching = [m for m in mentions.get(field, []) if m.value == wanted]
    if field == "age" and not matching:
        matching = mentions.get("birth", [])
    return evidence_of(matching)[:3]


def _gaps(status: PatientStatus) -> list[str]:
    gaps = [
        f"{label} not found in the record"
        for name, label in _FIELDS.items()
        if getattr(status, name) is None
    ]
    if not status.biomarkers:
        gaps.append("no biomarker results found in the record")
    gaps += _expected_gaps(status)
    if not status.treatments:
        gaps.append("no cancer treatment found in the record")
    gaps += [f"{f} not found in the record" for f in ("age", "sex") if getattr(status, f) is None]
    return gaps


def _expected_gaps(status: PatientStatus) -> list[str]:
    """The biomarkers (and for prostate cancer the Gleason score) usually reported for the
    patient's cancer that the record does not state."""
    if status.diagnosis is None:
        return []
    diagnosis = status.diagnosis.value
    organ = organ_of(diagnosis)
    if organ == "lung" and re.search(r"(?<!non-)small cell", diagnosis, re.I):
        organ = None
    have = {b.name for b in status.biomarkers}
    if "MMR" in have:  # mismatch repair status stands for microsatellite instability
        have.add("MSI")
    missing = [m for m in EXPECTED_MARKERS.get(organ or "", ()) if m not in have]
    gaps = []
    if missing:
        names = ", ".join(missing)
        gaps.append(f"markers usually reported for {diagnosis} not found in the record: {names}")
    if organ == "prostate" and (status.grade is None or "Gleason" not in status.grade.value):
        gaps.append("Gleason score not found in the record")
    return gaps


def render(status: PatientStatus) -> str:
    """A compact markdown table of the status, then conflicts."""
    rows = [
        ("Diagnosis", status.diagnosis),
        ("Primary site", status.primary_site),
        ("Histology", status.histology),
        ("Stage (TNM)", status.stage_tnm),
        ("Stage group", status.stage_group),
        ("Grade", status.grade),
        ("Performance status", status.performance_status),
    ]
    lines = ["## Patient status", "", "| Item | Value | Stated | Sources |", "|---|---|---|---|"]
    for label, value in rows:
        if value is None:
            lines.append(f"| {label} | not found | | |")
        else:
            lines.append(
                f"| {label} | {value.value} | {value.date or ''} | {_ids(value.evidence)} |"
            )
    for marker in status.biomarkers:
        lines.append(
            f"| {marker.name} | {marker.result} | {marker.date or ''} | {_ids(marker.evidence)} |"
        )
    for line in status.treatments:
        lines.append(f"| Treatment | {line.value} | {line.date or ''} | {_ids(line.evidence)} |")
    for label, value in (
        ("Disease status", status.disease_status),
        ("Vital status", status.vital_status),
    ):
        if value is not None:
            lines.append(
                f"| {label} | {value.value} | {value.date or ''} | {_ids(value.evidence)} |"
            )
    lines.append(f"| Age, sex | {status.age or 'not found'}, {status.sex or 'not found'} | | |")
    if status.conflicts:
        lines += ["", "**Conflicts between sources**", ""]
        lines += [f"- {c}" for c in status.conflicts]
    return "\n".join(lines)


def _ids(evidence: tuple[Evidence, ...]) -> str:
    return ", ".join(dict.fromkeys(e.doc_id for e in evidence))


def _run(ctx: ToolContext) -> ToolOutput:
    mentions = _collect(ctx.case)
    status = _status(ctx.case, mentions)
    return ToolOutput(
        text=render(status),
        findings=tuple(_findings(status, mentions)),
        gaps=tuple(_gaps(status)),
        data=status.model_dump(mode="json"),
    )


SPEC = ToolSpec(
    name="patient_status",
    description=(
        "Current cancer status: diagnosis, primary site, histology, TNM and stage group, "
        "biomarkers, performance status, lines of therapy, age and sex, each cited; "
        "disagreements between sources are listed as conflicts."
    ),
    run=_run,
)
