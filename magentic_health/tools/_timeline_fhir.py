"""Timeline candidates from rendered FHIR resources: only what concerns the cancer.

Kept: Conditions that name a cancer (diagnosis); Procedures that are cancer procedures by name
(biopsy, resection, chemotherapy, radiation ...) or by reason (imaging or surgery done for a
cancer); antineoplastic MedicationRequests/Statements (treatment, one series per drug with first
and last date); Observations that are mCODE cancer profiles, stage groups, tumour and receptor
markers, genetic variants, performance status, a cancer cause of death, or a serum marker of
the organ the patient has cancer in (PSA for prostate cancer, not for a lung cancer patient's
routine check-up), biopsy and pathology results; DiagnosticReports and ImagingStudies that are
imaging; care plans for the cancer; the patient's death; the abatement of a cancer Condition
(a response event). Vitals, routine labs, encounters and claims are left out.
"""

from __future__ import annotations

import re
from collections import defaultdict

from magentic_health.case import Case
from magentic_health.reply import Evidence
from magentic_health.tools._fhir_parse import (
    FhirView,
    best_value,
    gene_variant,
    name_of,
    parse_fhir,
    plain_display,
    value_text,
)
from magentic_health.tools._text import iso_day
from magentic_health.tools._timeline_events import Candidate, EventCategory
from magentic_health.tools._vocab import CANCER, SERUM_MARKERS, drugs_in, modality_of, organ_of

_CANCER_PROCEDURE = re.compile(
    r"biops|aspiration|chemotherapy|radiation|radiotherapy|brachytherapy|resection|excision|"
    r"lobectomy|pneumonectomy|mastectomy|lumpectomy|colectomy|prostatectomy|colostomy|polypectomy|"
    r"colonoscopy|mammogra|sentinel|oncolog",
    re.I,
)
_TREATMENT_PROCEDURE = re.compile(
    r"chemotherapy|radiation|radiotherapy|brachytherapy|immunotherapy", re.I
)
_MARKER_OBS = re.compile(
    r"her2|erbb2|estrogen|progesterone|receptor|pd-?l1|\bgene\b|variant|mutation|tumou?r marker|"
    r"kras|egfr|\balk\b|ros1|braf",
    re.I,
)
_STAGE_OBS = re.compile(r"\bstage\b|\btnm\b", re.I)
_TNM_CATEGORY = re.compile(
    r"primary tumou?r|regional (?:lymph )?nodes|distant metastas|primary-tumor|regional-nodes|"
    r"distant-metastases",
    re.I,
)
_PATHOLOGY_OBS = re.compile(r"biops|patholog|histolog|gleason|tumou?r grade|margin", re.I)
_RESOLVED = re.compile(r"resolved|remission|inactive", re.I)
_PERFORMANCE = re.compile(r"ecog|karnofsky|89247-1|89243-0", re.I)
_SERIES_CATEGORIES = ("treatment", "biomarker", "other")


def _evidence(view: FhirView, *labels: str) -> list[Evidence]:
    """The title line and the first line of each label present (e.g. the date line)."""
    quotes = [view.title_line] if view.title_line else []
    for label in labels:
        found = view.first(label)
        if found:
            quotes.append(found.line)
    return [Evidence(doc_id=view.doc.id, quote=q[:300]) for q in dict.fromkeys(quotes) if q]


_DATE_LABELS = ("Onset", "Performed", "Effective", "Authored", "Period", "Issued", "Recorded")


def _dated(view: FhirView, category: EventCategory, family: str, summary: str) -> Candidate | None:
    date = view.date
    if date is None:
        return None
    label = next((lbl for lbl in _DATE_LABELS if view.first(lbl)), None)
    labels = (label,) if label else ()
    return Candidate(date, category, family, summary, _evidence(view, *labels), authoritative=True)


def _condition(view: FhirView) -> list[Candidate]:
    """The diagnosis event, and a response event on the abatement date when the cancer is
    recorded as resolved or abated."""
    diagnosis = _diagnosis(view)
    abated = iso_day(view.value("Abatement"))
    if diagnosis is None or not abated:
        return [diagnosis] if diagnosis else []
    status = view.first("Clinical status")
    word = status.value if status and _RESOLVED.search(status.value) else "abated"
    summary = f"{view.code_displays[0]}: {word} (abatement {abated})"
    evidence = _evidence(view, "Abatement", "Clinical status")
    family = f"abated:{view.code_displays[0].lower()}"
    return [diagnosis, Candidate(abated, "response", family, summary, evidence, True)]


def _diagnosis(view: FhirView) -> Candidate | None:
    names = view.code_displays
    if not any(CANCER.search(n) for n in names):
        return None
    summary = names[0] + "".join(f" — {n}" for n in names[1:])
    if abatement := view.value("Abatement"):
        summary += f" (abated {abatement[:10]})"
    cand = _dated(view, "diagnosis", f"condition:{summary.lower()}", summary)
    if cand and (stage := view.first("Stage")):
        cand.evidence.append(Evidence(doc_id=view.doc.id, quote=stage.line[:300]))
    return cand


def _procedure(view: FhirView) -> Candidate | None:
    name = view.code_displays[0] if view.code_displays else view.title
    reasons = " ".join(f.value for f in view.all("Reason"))
    cancer_reason = bool(CANCER.search(reasons) or CANCER.search(name))
    modality = modality_of(name)
    if not (_CANCER_PROCEDURE.search(name) or cancer_reason):
        return None
    if modality:
        return _dated(view, "imaging", modality, f"{modality}: {name}")
    category: EventCategory = "treatment" if _TREATMENT_PROCEDURE.search(name) else "procedure"
    return _dated(view, category, name.lower(), name)


def _medication(view: FhirView) -> Candidate | None:
    found = drugs_in(" ".join([view.title, *(f.value for f in view.all("Code"))]))
    if not found:
        return None
    drug = found[0][0]
    name = view.code_displays[0] if view.code_displays else drug
    cand = _dated(view, "treatment", f"drug:{drug}", name)
    if cand is not None:
        cand.drugs = []
    return cand


def _observation(view: FhirView, organs: set[str]) -> Candidate | None:
    name = name_of(view)
    text = " ".join([name, *view.code_displays])
    found = best_value(view)
    value = found.value if found else ""
    summary = f"{name}: {value_text(value)}" if value else name
    family = f"obs:{name.lower()}"
    if variant := gene_variant(view):
        gene, change, line = variant
        summary = f"{gene} variant {change}".rstrip()
        cand = _dated(view, "biomarker", f"variant:{gene}:{change}", summary)
        if cand:
            cand.evidence.append(Evidence(doc_id=view.doc.id, quote=line.line[:300]))
        return cand
    if _PERFORMANCE.search(text) or view.has_profile("performance-status"):
        return _dated(view, "other", family, summary)
    if _STAGE_OBS.search(text) or view.has_profile("stage-group") or view.has_profile("tnm"):
        category = _TNM_CATEGORY.search(text + " ".join(view.profiles))
        stage = "pathological" if "patholog" in (text + str(view.profiles)).lower() else "clinical"
        family = f"tnm:{stage}" if category else family
        summary = f"{stage} TNM: {value_text(value)}" if category else summary
        return _dated(view, "diagnosis", family, summary)
    if _PATHOLOGY_OBS.search(text):
        return _dated(view, "pathology", family, summary)
    if "cause of death" in text.lower():
        return _dated(view, "other", family, summary) if CANCER.search(value) else None
    profiled = view.has_profile("tumor-marker") or view.has_profile("genetic-variant")
    if profiled or _MARKER_OBS.search(text):
        return _dated(view, "biomarker", family, summary)
    for pattern, organ in SERUM_MARKERS.values():
        if pattern.search(text) and (organ is None or organ in organs):
            return _dated(view, "biomarker", family, summary)
    if CANCER.search(text):
        return _dated(view, "pathology", family, summary)
    return None


def _report(view: FhirView) -> Candidate | None:
    name = view.code_displays[0] if view.code_displays else view.title
    categories = " ".join(f.value for f in view.all("Category"))
    modality = modality_of(name) or (
        modality_of(view.narrative) if re.search(r"radiolog|imaging", categories, re.I) else None
    )
    if view.resource_type == "ImagingStudy":
        modality = modality or modality_of(view.search_text()) or "imaging"
    if not modality:
        return None
    conclusion = view.value("Conclusion")
    summary = f"{modality}: {name}" + (f": {conclusion}" if conclusion else "")
    cand = _dated(view, "imaging", modality, summary)
    if cand and (found := view.first("Conclusion")):
        cand.evidence.append(Evidence(doc_id=view.doc.id, quote=found.line[:300]))
    return cand


def _care_plan(view: FhirView) -> Candidate | None:
    """A care plan for the cancer (cancer care, terminal care, surgery care management)."""
    addresses = [plain_display(f.value) for f in view.all("Addresses") + view.all("Reason")]
    cancer = [a for a in addresses if CANCER.search(a)]
    if not (cancer or CANCER.search(view.title)):
        return None
    summary = view.title + (f" for {', '.join(dict.fromkeys(cancer))}" if cancer else "")
    cand = _dated(view, "other", f"careplan:{view.title.lower()}", summary)
    period = view.value("Period") or ""
    if cand is not None and " to " in period:
        cand.end_date = iso_day(period.split(" to ", 1)[1])
    if cand is not None and (found := view.first("Addresses")):
        cand.evidence.append(Evidence(doc_id=view.doc.id, quote=found.line[:300]))
    return cand


def _death(view: FhirView) -> Candidate | None:
    """The patient's death, from the Patient resource's deceased date."""
    found = view.first("Deceased")
    day = iso_day(found.value) if found else None
    if found is None or day is None:
        return None
    evidence = [Evidence(doc_id=view.doc.id, quote=found.line[:300])]
    return Candidate(day, "other", "deceased", "Patient deceased", evidence, authoritative=True)


def cancer_organs(views: list[FhirView]) -> set[str]:
    """Organs named by the cancer Conditions of the case."""
    organs: set[str] = set()
    for view in views:
        if view.resource_type == "Condition":
            for name in view.code_displays:
                if CANCER.search(name) and (organ := organ_of(name)):
                    organs.add(organ)
    return organs


def _group_series(cands: list[Candidate]) -> list[Candidate]:
    """One candidate per repeated treatment, marker or measure: first date, last date, count;
    evidence from the first and the last source."""
    series: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    single: list[Candidate] = []
    for cand in cands:
        if cand.category in _SERIES_CATEGORIES:
            series[(cand.category, cand.family)].append(cand)
        else:
            single.append(cand)
    for group in series.values():
        group.sort(key=lambda c: c.date)
        first, last = group[0], group[-1]
        if len(group) > 1:
            first.end_date = last.date if last.date != first.date else None
            first.occurrences = len(group)
            first.evidence = first.evidence + [e for e in last.evidence if e not in first.evidence]
            if first.family.startswith("drug:"):
                first.summary = f"{first.summary}: {len(group)} orders"
            elif first.category == "treatment":
                first.summary = f"{first.summary}: {len(group)} sessions"
            elif first.end_date is None:
                first.summary = f"{first.summary} ({len(group)} results)"
            else:
                first.summary = f"{last.summary} (latest of {len(group)} results)"
        single.append(first)
    return single


def fhir_candidates(case: Case) -> list[Candidate]:
    """The timeline candidates of the case's FHIR documents."""
    views = [parse_fhir(doc) for doc in case.documents if doc.kind == "fhir"]
    organs = cancer_organs(views)
    out: list[Candidate] = []
    for view in views:
        if view.resource_type == "Condition":
            out.extend(_condition(view))
        elif cand := _one(view, organs):
            out.append(cand)
    return _group_series(_join_tnm(out))


def _join_tnm(cands: list[Candidate]) -> list[Candidate]:
    """The T, N and M category Observations of one date and kind as one staging event."""
    joined: dict[tuple[str, str], Candidate] = {}
    out: list[Candidate] = []
    for cand in cands:
        if not cand.family.startswith("tnm:"):
            out.append(cand)
        elif (key := (cand.date, cand.family)) in joined:
            head = joined[key]
            head.summary += " " + cand.summary.split(": ", 1)[1]
            head.evidence += [e for e in cand.evidence if e not in head.evidence]
        else:
            joined[key] = cand
            out.append(cand)
    return out


def _one(view: FhirView, organs: set[str]) -> Candidate | None:
    match view.resource_type:
        case "Patient":
            return _death(view)
        case "CarePlan":
            return _care_plan(view)
        case "Procedure":
            return _procedure(view)
        case "MedicationRequest" | "MedicationStatement" | "MedicationAdministration":
            return _medication(view)
        case "Observation":
            return _observation(view, organs)
        case "DiagnosticReport" | "ImagingStudy":
            return _report(view)
        case _:
            return None
