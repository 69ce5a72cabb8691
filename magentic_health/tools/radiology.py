"""Radiology review: each imaging study with its date, modality, key findings, the prior study
it was compared with and the measurement changes, every item quoted.

Studies come from imaging reports (their "Impression:" items, else the sentences with
measurements), from imaging statements in notes ("PET scan on 2020-03-07 showed ...", a dated
"CT chest ... impression:" with its numbered items) and from FHIR DiagnosticReport,
ImagingStudy and imaging Procedure resources. A note's mention of a study up to a week from a
report of the same modality is the same study (its date is listed in ``other_dates``). Case
images are listed as available but are not interpreted: there is no pixel analysis offline.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from magentic_health.case import Case, Document
from magentic_health.reply import Evidence, Finding
from magentic_health.tools._base import ToolContext, ToolOutput, ToolSpec
from magentic_health.tools._cxr import interpret_images
from magentic_health.tools._fhir_parse import FhirView, parse_fhir
from magentic_health.tools._notes import Statement, impression_items, narrative_docs, statements
from magentic_health.tools._radiology_parse import MEASURE, changes_in, comparison_in, prior_study
from magentic_health.tools._text import clip, days_apart, split_sentences, window
from magentic_health.tools._vocab import PLANNED, modality_of

__all__ = ["SPEC", "ImageNote", "ImagingReview", "ImagingStudy", "Measurement", "radiology"]

SAME_STUDY_DAYS = 7
MAX_FINDINGS = 6
NOT_INTERPRETED = "image available, not interpreted offline (no pixel analysis)"
_MEASURED = re.compile(MEASURE + r"|suv", re.I)
_SIZED = re.compile(r"\d\s*(?:cm|mm|millimeters?)\b|suv", re.I)


class StudyFinding(BaseModel):
    """One finding of a study, as the source states it."""

    model_config = ConfigDict(frozen=True)

    text: str
    evidence: Evidence


class Measurement(BaseModel):
    """A measurement now and at the prior study."""

    model_config = ConfigDict(frozen=True)

    lesion: str
    quantity: str
    """"size" or "SUV max"."""
    current: str
    prior: str
    evidence: Evidence


class ImagingStudy(BaseModel):
    """One imaging study and what the record says about it."""

    model_config = ConfigDict(frozen=True)

    date: str | None
    modality: str
    source: Literal["report", "note", "fhir", "comparison"]
    """"comparison": known only as the prior study an imaging report was compared with."""
    description: str
    findings: tuple[StudyFinding, ...] = ()
    comparison: StudyFinding | None = None
    changes: tuple[Measurement, ...] = ()
    other_dates: tuple[str, ...] = ()
    also_reported: tuple[StudyFinding, ...] = ()
    """Statements of the same study in other documents."""


class ImageNote(BaseModel):
    """An image file of the case, listed but not read."""

    model_config = ConfigDict(frozen=True)

    id: str
    modality: str
    note: str = NOT_INTERPRETED


class ImagingReview(BaseModel):
    """All imaging of a case, oldest first."""

    model_config = ConfigDict(frozen=True)

    studies: tuple[ImagingStudy, ...] = ()
    images: tuple[ImageNote, ...] = ()


_MARKER = re.compile(r"^(?:[-*•]\s*|\d{1,2}[.)]\s+)+")


def _finding(doc: Document, start: int, end: int) -> StudyFinding:
    quote = window(doc.text, start, end, start)
    text = clip(_MARKER.sub("", quote), 240)
    return StudyFinding(text=text, evidence=Evidence(doc_id=doc.id, quote=quote))


def _measurements(doc: Document, start: int, end: int) -> list[Measurement]:
    return [
        Measurement(
            lesion=c.lesion,
            quantity=c.quantity,
            current=c.current,
            prior=c.prior,
            evidence=Evidence(doc_id=doc.id, quote=c.quote),
        )
        for c in changes_in(doc.text, start, end)
    ]


def _report_study(doc: Document, modality: str) -> ImagingStudy:
    text = doc.text
    items = impression_items(text)
    if not items:
        items = [s for s in split_sentences(text, 0, len(text)) if _SIZED.search(text[s[0] : s[1]])]
    compared = comparison_in(text)
    return ImagingStudy(
        date=doc.date[:10] if doc.date else None,
        modality=modality,
        source="report",
        description=f"{doc.type} report",
        findings=tuple(_finding(doc, a, b) for a, b in items[:MAX_FINDINGS]),
        comparison=StudyFinding(
            text=compared[0], evidence=Evidence(doc_id=doc.id, quote=compared[1])
        )
        if compared
        else None,
        changes=tuple(_dedupe(_measurements(doc, 0, len(text)))),
    )


def _dedupe(changes: list[Measurement]) -> list[Measurement]:
    seen: dict[tuple[str, str], Measurement] = {}
    for change in changes:
        seen.setdefault((change.current, change.prior), change)
    return list(seen.values())


def _note_study(st: Statement, modality: str) -> ImagingStudy:
    doc = st.doc
    lines = [b for b in st.block if not doc.text[b[0] : b[1]].rstrip().endswith(":")]
    impression = [b for b in lines if doc.text[b[0] : b[1]].lower().startswith("impression")]
    measured = [b for b in lines if _MEASURED.search(doc.text[b[0] : b[1]]) and b not in impression]
    chosen = (impression + measured)[:MAX_FINDINGS] or lines[:MAX_FINDINGS]
    findings = [_finding(doc, a, b) for a, b in chosen] or [_finding(doc, st.start, st.end)]
    changes = _measurements(doc, st.start, st.end)
    for a, b in st.block:
        changes += _measurements(doc, a, b)
    return ImagingStudy(
        date=st.date,
        modality=modality,
        source="note",
        description=f"mentioned in {doc.type}",
        findings=tuple(findings),
        changes=tuple(_dedupe(changes)),
        also_reported=(_finding(doc, st.start, st.end),),
    )


def _prior(doc: Document, modality: str) -> ImagingStudy | None:
    """The dated study a report was compared with, as a study known from that comparison."""
    prior = prior_study(doc.text, modality)
    if prior is None:
        return None
    said = StudyFinding(
        text=f"{prior.what} (the comparison study of the {doc.type} report of {doc.date})",
        evidence=Evidence(doc_id=doc.id, quote=prior.quote),
    )
    return ImagingStudy(
        date=prior.date,
        modality=prior.modality,
        source="comparison",
        description=f"prior study named in the {doc.type} report",
        findings=(said,),
        also_reported=(said,),
    )


def _fhir_study(view: FhirView) -> ImagingStudy | None:
    name = view.code_displays[0] if view.code_displays else view.title
    categories = " ".join(f.value for f in view.all("Category"))
    imaging_type = view.resource_type == "ImagingStudy" or re.search(
        r"radiolog|imaging", categories, re.I
    )
    modality = modality_of(name) or (modality_of(view.search_text()) if imaging_type else None)
    if view.resource_type not in ("DiagnosticReport", "ImagingStudy", "Procedure") or not modality:
        return None
    findings = [
        StudyFinding(text=f.value, evidence=Evidence(doc_id=view.doc.id, quote=f.line[:300]))
        for f in view.all("Conclusion") + view.all("Note")
    ]
    return ImagingStudy(
        date=view.date,
        modality=modality,
        source="fhir",
        description=name,
        findings=tuple(findings),
        comparison=None,
        also_reported=(
            StudyFinding(
                text=name, evidence=Evidence(doc_id=view.doc.id, quote=view.title_line[:300])
            ),
        ),
    )


def _same(a: ImagingStudy, b: ImagingStudy) -> bool:
    if a.modality != b.modality or not a.date or not b.date:
        return False
    if a.date == b.date:
        return True
    days = days_apart(a.date, b.date)
    return days is not None and a.source == "report" and days <= SAME_STUDY_DAYS


def _fold(study: ImagingStudy, mention: ImagingStudy) -> ImagingStudy:
    """``study`` with ``mention`` (another statement of the same study) folded in."""
    other = [mention.date] if mention.date and mention.date != study.date else []
    known = {(c.current, c.prior) for c in study.changes}
    new_changes = tuple(c for c in mention.changes if (c.current, c.prior) not in known)
    findings = study.findings
    longer = _length(mention.findings) > _length(study.findings)
    if study.source in ("note", "comparison") and mention.source == "note" and longer:
        findings = mention.findings
    return study.model_copy(
        update={
            "other_dates": tuple(sorted(set(study.other_dates) | set(other))),
            "also_reported": study.also_reported + mention.also_reported,
            "changes": study.changes + new_changes,
            "findings": findings,
        }
    )


def _length(findings: tuple[StudyFinding, ...]) -> int:
    return sum(len(f.text) for f in findings)


def radiology(case: Case) -> ImagingReview:
    """Every imaging study of the case, merged across the documents that report it."""
    reports: list[ImagingStudy] = []
    mentions: list[ImagingStudy] = []
    for doc in narrative_docs(case):
        modality = modality_of(doc.type) if doc.kind == "report" else None
        if modality:
            reports.append(_report_study(doc, modality))
            mentions += [prior] if (prior := _prior(doc, modality)) else []
            continue
        for st in statements(doc):
            st_modality = modality_of(st.text)
            if st.date and st_modality and not PLANNED.search(st.text):
                mentions.append(_note_study(st, st_modality))
    fhir = [
        s for doc in case.documents if doc.kind == "fhir" and (s := _fhir_study(parse_fhir(doc)))
    ]
    # a DiagnosticReport with findings stands for the Procedure or ImagingStudy of its date
    fhir.sort(key=lambda s: not s.findings)
    studies = reports + [s for s in fhir if s.findings]
    mentions = [s for s in fhir if not s.findings] + mentions
    for mention in mentions:
        index = next((i for i, s in enumerate(studies) if _same(s, mention)), None)
        if index is None:
            studies.append(mention)
        else:
            studies[index] = _fold(studies[index], mention)
    studies.sort(key=lambda s: (s.date or "", s.modality))
    images = tuple(ImageNote(id=img.id, modality=img.modality) for img in case.images)
    return ImagingReview(studies=tuple(studies), images=images)


def _date(study: ImagingStudy) -> str:
    return study.date or "undated"


def render(review: ImagingReview) -> str:
    """Markdown: one section per study, then the images."""
    lines = ["## Radiology review", ""]
    if not review.studies:
        lines.append("No imaging studies or reports were found in the record.")
    for study in review.studies:
        sources = dict.fromkeys(
            [f.evidence.doc_id for f in study.findings]
            + [f.evidence.doc_id for f in study.also_reported]
        )
        lines.append(f"### {_date(study)} — {study.modality} ({study.description})")
        if study.other_dates:
            lines.append(f"- Also dated {', '.join(study.other_dates)} in other notes")
        if study.comparison:
            lines.append(f"- Comparison: {study.comparison.text}")
        lines += [f"- {f.text}" for f in study.findings]
        if not study.findings:
            lines.append("- No findings or report text in the record.")
        lines += [
            f"- Change: {c.lesion} {c.quantity} {c.current} (prior {c.prior})"
            for c in study.changes
        ]
        if sources:
            lines.append(f"- Sources: {', '.join(sources)}")
        lines.append("")
    for image in review.images:
        lines.append(f"- Image {image.id} ({image.modality}): {image.note}")
    return "\n".join(lines).rstrip()


def _findings(review: ImagingReview) -> list[Finding]:
    out: list[Finding] = []
    for study in review.studies:
        head = f"{_date(study)} {study.modality}"
        for f in study.findings:
            out.append(Finding(claim=f"{head}: {f.text}", evidence=(f.evidence,)))
        if not study.findings and study.also_reported:
            out.append(
                Finding(
                    claim=f"{head}: {study.description}",
                    evidence=(study.also_reported[0].evidence,),
                )
            )
        if study.comparison:
            out.append(
                Finding(
                    claim=f"{head} compared with {study.comparison.text}",
                    evidence=(study.comparison.evidence,),
                )
            )
        for c in study.changes:
            claim = f"{head}: {c.lesion} {c.quantity} {c.current}, previously {c.prior}"
            out.append(Finding(claim=claim, evidence=(c.evidence,)))
    return out


def _gaps(review: ImagingReview) -> list[str]:
    if not review.studies:
        return ["no imaging studies or imaging reports found in the record"]
    bare = [s for s in review.studies if not s.findings]
    if len(bare) == len(review.studies):
        return [
            f"no imaging reports in the record: {len(bare)} imaging procedure(s) are recorded "
            "without findings or report text"
        ]
    return [f"{_date(s)} {s.modality} ({s.description}): no findings in the record" for s in bare]


def _run(ctx: ToolContext) -> ToolOutput:
    """The report-based review, plus the imaging model's reading of the x-rays when an
    endpoint is configured (labelled as model output; never cited as case evidence)."""
    review = radiology(ctx.case)
    gaps = _gaps(review)
    settings = ctx.settings.radiology.cxr
    cxr = interpret_images(ctx.case, settings)
    pending = [image for image in review.images if image.id not in cxr.findings_by_image]
    if pending:
        why = (
            "no findings from the imaging model"
            if settings.endpoint
            else "no image analysis offline"
        )
        gaps.append(f"{len(pending)} image(s) not interpreted: {why}")
    gaps += cxr.gaps
    data = review.model_dump(mode="json")
    if settings.endpoint:
        data["cxr"] = cxr.as_data()
    text = render(review) + (f"\n\n{cxr.markdown()}" if cxr.findings_by_image else "")
    return ToolOutput(text=text, findings=tuple(_findings(review)), gaps=tuple(gaps), data=data)


SPEC = ToolSpec(
    name="radiology",
    description=(
        "Imaging review: each study's date, modality, key findings (impression), comparison "
        "with the prior study and measurement changes, quoted; case images are listed but not "
        "interpreted offline."
    ),
    run=_run,
)
