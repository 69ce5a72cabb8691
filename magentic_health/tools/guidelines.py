"""clinical_guidelines: the NCI PDQ passages that bear on this patient's cancer and stage.

BM25 over the passages of the summary that covers the diagnosis, with a query built from the
diagnosis, stage group, biomarkers and the instruction. Sections written for the patient's stage
group and sections that name one of the patient's biomarkers are boosted. Passages are quoted
with attribution (they are not case documents, so they are cited in ``data`` and the text, and
the findings cite only the patient evidence that made them relevant).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from magentic_health.errors import InputError
from magentic_health.reply import Finding
from magentic_health.tools._base import ToolContext, ToolOutput, ToolSpec
from magentic_health.tools._bm25 import tokenize
from magentic_health.tools._markers import (
    RECEPTORS,
    Marker,
    names_variant,
    patient_markers,
    receptor_polarities,
    text_pattern,
)
from magentic_health.tools._oncology import CancerType, cancer_types, stage_base, stages_named
from magentic_health.tools._pdq import GuidelineIndex, Passage, guideline_index
from magentic_health.tools._status_input import status_for
from magentic_health.tools._status_model import PatientStatus

EXCERPT_LIMIT = 800
STAGE_BOOST = 1.5
OTHER_STAGE_PENALTY = 0.6
MARKER_BOOST = 1.5
OTHER_SUBTYPE_PENALTY = 0.6
_SENTENCE = re.compile(r"(?<=[.!?\]:])[ \t]+(?=[A-Z0-9*\[(])|\s*\n\s*")
_SYNONYMS: dict[CancerType, str] = {
    "nsclc": "NSCLC non-small cell lung cancer",
    "sclc": "SCLC small cell lung cancer",
    "colon": "colon cancer",
    "rectal": "rectal cancer",
    "prostate": "prostate cancer",
    "breast": "breast cancer",
}

_METASTATIC = re.compile(r"\b(secondary|metasta\w*)", re.IGNORECASE)
_NEGATED = re.compile(r"\b(no|not|without|negative for|free of)\b", re.IGNORECASE)


@dataclass(frozen=True)
class GuidelinePassage:
    """A ranked passage: where it is from, its score and a trimmed excerpt."""

    file: str
    title: str
    url: str
    section: str
    score: float
    excerpt: str
    markers: tuple[str, ...]
    """Labels of the patient's biomarkers this passage's section heading names."""


@dataclass(frozen=True)
class GuidelineResult:
    """Passages best first, the query used, the summaries searched and what was missing."""

    passages: tuple[GuidelinePassage, ...]
    query: str
    summaries: tuple[str, ...]
    gaps: tuple[str, ...]


def _stage_of(status: PatientStatus) -> str | None:
    """The base stage (e.g. "IV") to rank by: the stated group, else "IV" when the diagnosis or
    disease status itself says the cancer is secondary or metastatic (e.g. Synthea's
    "Secondary malignant neoplasm of colon"), else None."""
    if status.stage_group is not None:
        return stage_base(status.stage_group.value)
    stated = [v.value for v in (status.diagnosis, status.disease_status) if v is not None]
    metastatic = [t for t in stated if _METASTATIC.search(t) and not _NEGATED.search(t)]
    return "IV" if metastatic else None


def guideline_query(status: PatientStatus, instruction: str) -> str:
    """Diagnosis, histology, stage group (with and without its letter), biomarkers, request."""
    parts = [v.value for v in (status.diagnosis, status.histology) if v is not None]
    if status.diagnosis is not None:
        parts.extend(_SYNONYMS[kind] for kind in cancer_types(status.diagnosis.value))
    if status.stage_group is not None:
        base = stage_base(status.stage_group.value)
        parts.append(f"stage {status.stage_group.value}" + (f" stage {base}" if base else ""))
    elif _stage_of(status) == "IV":
        parts.append("metastatic stage IV")
    parts.extend(f"{b.name} {b.result}" for b in status.biomarkers)
    parts.append(instruction)
    return " ".join(parts)


def find_guidelines(
    status: PatientStatus, query: str, *, index: GuidelineIndex, limit: int = 5
) -> GuidelineResult:
    """The ``limit`` best passages of the summary covering the patient's cancer type.

    ``query`` is the free-text request; the status adds the diagnosis, stage and biomarkers.
    """
    if status.diagnosis is None:
        return GuidelineResult((), query, (), ("no diagnosis in the patient status",))
    kinds = set(cancer_types(status.diagnosis.value))
    files = sorted(f for f, s in index.summaries.items() if kinds & set(s.cancer_types))
    if not files:
        gap = f"no guideline summary covers the diagnosis {status.diagnosis.value!r}"
        return GuidelineResult((), query, (), (gap,))
    full_query = guideline_query(status, query)
    among = [i for i, p in enumerate(index.passages) if p.file in files]
    base = _stage_of(status)
    markers = patient_markers(status.biomarkers)
    scored: list[tuple[float, int, tuple[str, ...]]] = []
    for i, raw in index.bm25.rank(full_query, among=among):
        passage = index.passages[i]
        factor, named = _marker_match(passage, markers)
        scored.append((raw * _stage_factor(passage, base) * factor, i, named))
    scored.sort(key=lambda item: (-item[0], item[1]))
    terms = {t: index.bm25.idf(t) for t in tokenize(full_query)}
    top = tuple(
        _result_passage(index, index.passages[i], score, named, terms)
        for score, i, named in scored[:limit]
    )
    gaps = () if top else (f"no guideline passage matched the query {full_query!r}",)
    return GuidelineResult(top, full_query, tuple(files), gaps)


def _stage_factor(passage: Passage, base: str | None) -> float:
    """Boost sections written for the patient's stage group; damp those for other stages."""
    if base is None:
        return 1.0
    top = passage.headings[0]
    named = stages_named(top)
    if base == "IV" and re.search(r"\bmetastatic\b", top, re.IGNORECASE):
        named.add("IV")
    if not named:
        return 1.0
    return STAGE_BOOST if base in named else OTHER_STAGE_PENALTY


def _marker_match(passage: Passage, markers: Sequence[Marker]) -> tuple[float, tuple[str, ...]]:
    """The factor for the section heading and the labels of the patient's markers it names.

    Named: a positive gene with its variant when known ("KRAS G12C inhibitors"), a receptor
    with the patient's polarity ("HER2-Positive"). A heading that states the opposite polarity
    of one of the patient's receptors ("HER2-Negative" for a HER2-positive patient) is damped.
    """
    named: list[str] = []
    contradicted = False
    for marker in markers:
        if marker.name in RECEPTORS and marker.polarity != "unknown":
            said = receptor_polarities(passage.section, marker.name)
            contradicted = contradicted or bool(said - {marker.polarity})
            hit = marker.polarity == "positive" and marker.polarity in said
        elif marker.polarity != "positive":
            continue
        elif marker.variant is not None:
            hit = names_variant(passage.section, marker)
        else:
            hit = re.search(text_pattern(marker.name), passage.section) is not None
        if hit:
            named.append(marker.label)
    if contradicted:
        return OTHER_SUBTYPE_PENALTY, ()
    return (MARKER_BOOST if named else 1.0), tuple(named)


def _result_passage(
    index: GuidelineIndex,
    passage: Passage,
    score: float,
    named: tuple[str, ...],
    terms: dict[str, float],
) -> GuidelinePassage:
    summary = index.summaries[passage.file]
    return GuidelinePassage(
        file=passage.file,
        title=summary.title,
        url=summary.url,
        section=passage.section,
        score=round(score, 3),
        excerpt=excerpt(passage.text, terms),
        markers=named,
    )


def excerpt(text: str, terms: Mapping[str, float], *, limit: int = EXCERPT_LIMIT) -> str:
    """A verbatim stretch of ``text`` of at most ``limit`` characters: the run of consecutive
    sentences and list lines carrying most query weight (``terms``: token -> weight), marked
    with an ellipsis where it starts or stops inside the passage."""
    spans = _sentence_spans(text)
    if not spans:
        return ""
    weights = [sum(terms.get(t, 0.0) for t in set(tokenize(text[a:b]))) for a, b in spans]
    best: tuple[float, int, int] = (-1.0, 0, 0)
    for first in range(len(spans)):
        total = 0.0
        for last in range(first, len(spans)):
            if spans[last][1] - spans[first][0] > limit:
                break
            total += weights[last]
            if total > best[0]:
                best = (total, first, last)
    _, first, last = best
    while last + 1 < len(spans) and spans[last + 1][1] - spans[first][0] <= limit:
        last += 1
    while first and spans[last][1] - spans[first - 1][0] <= limit:
        first -= 1
    if spans[first][1] - spans[first][0] > limit:  # one sentence longer than the limit
        start = spans[first][0]
        return text[start : start + limit].rsplit(" ", 1)[0] + " …"
    out = text[spans[first][0] : spans[last][1]]
    return ("… " if first else "") + out + (" …" if last < len(spans) - 1 else "")


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence or list line."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for match in _SENTENCE.finditer(text):
        if text[cursor : match.start()].strip():
            spans.append((cursor, match.start()))
        cursor = match.end()
    if text[cursor:].strip():
        spans.append((cursor, len(text.rstrip())))
    return spans


def _findings(status: PatientStatus, result: GuidelineResult) -> tuple[Finding, ...]:
    """Patient facts that made the passages relevant, each with its own evidence."""
    if not result.passages or status.diagnosis is None:
        return ()
    findings: list[Finding] = []
    if status.diagnosis.evidence:
        claim = f"Guideline passages were selected for the diagnosis {status.diagnosis.value}"
        findings.append(Finding(claim=claim, evidence=status.diagnosis.evidence))
    if status.stage_group is not None and status.stage_group.evidence:
        claim = f"Stage-specific guidance was selected for stage {status.stage_group.value}"
        findings.append(Finding(claim=claim, evidence=status.stage_group.evidence))
    covered = {label for p in result.passages for label in p.markers}
    for marker in patient_markers(status.biomarkers):
        if marker.label in covered and marker.evidence:
            claim = f"Guidance specific to the patient's {marker.label} was retrieved"
            findings.append(Finding(claim=claim, evidence=marker.evidence))
    return tuple(findings)


def _markdown(result: GuidelineResult, index: GuidelineIndex) -> str:
    lines = ["## Guideline considerations (NCI PDQ®)", ""]
    if not result.passages:
        lines.append("No guideline passage was retrieved.")
    for n, p in enumerate(result.passages, 1):
        lines.append(f"### {n}. {p.section}")
        lines.append(f"*[PDQ: {p.section}]* (score {p.score})")
        lines.append("")
        lines.extend(f"> {line}" if line else ">" for line in p.excerpt.splitlines())
        lines.append("")
    for file in result.summaries:
        summary = index.summaries[file]
        lines.append(f"Source: NCI PDQ® {summary.title}, {summary.url}")
    lines.append("")
    lines.append(
        "Excerpts are quoted from NCI's PDQ summaries with attribution; they are not a PDQ "
        "summary themselves."
    )
    return "\n".join(lines)


def _run(ctx: ToolContext) -> ToolOutput:
    status, status_gap = status_for(ctx)
    if status is None:
        return ToolOutput(
            text="No patient status: guidelines not searched.", gaps=(str(status_gap),)
        )
    try:
        index = guideline_index(ctx.data_dir)
    except InputError as exc:
        return ToolOutput(text="Guideline summaries unavailable.", gaps=(str(exc),))
    result = find_guidelines(status, ctx.instruction or ctx.case.request, index=index)
    data = {
        "query": result.query,
        "summaries": [
            {"file": f, "title": index.summaries[f].title, "url": index.summaries[f].url}
            for f in result.summaries
        ],
        "passages": [
            {
                "file": p.file,
                "title": p.title,
                "url": p.url,
                "section": p.section,
                "score": p.score,
                "text": p.excerpt,
                "markers": list(p.markers),
            }
            for p in result.passages
        ],
    }
    gaps = result.gaps + ((status_gap,) if status_gap else ())
    return ToolOutput(
        text=_markdown(result, index), findings=_findings(status, result), gaps=gaps, data=data
    )


SPEC = ToolSpec(
    name="clinical_guidelines",
    description=(
        "Finds the NCI PDQ guideline passages for the patient's cancer type, stage and "
        "biomarkers (BM25 over section-level passages), quoted with attribution."
    ),
    run=_run,
)

__all__ = ["SPEC", "GuidelinePassage", "GuidelineResult", "find_guidelines", "guideline_query"]
