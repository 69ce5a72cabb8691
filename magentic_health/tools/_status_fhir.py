"""Status mentions from rendered FHIR resources.

Conditions that name a cancer give the diagnosis (its display without "(disorder)" and a
trailing ", TNM stage 1"), the organ, a histology named in the display or in the mCODE
histology extension, and the stage (in the display or on ``Stage:`` lines). A primary-cancer
profile, a stated stage and a histology make a display more specific; a "suspected" condition
or a secondary (metastatic) one is less specific than the primary. Observations give stage
groups, TNM, ECOG/Karnofsky and biomarkers; the Patient resource gives sex and birth date.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from magentic_health.reply import Evidence
from magentic_health.tools._fhir_parse import FhirView, Field, best_value, name_of, plain_display
from magentic_health.tools._status_grade import fhir_grade
from magentic_health.tools._status_markers import fhir_marker
from magentic_health.tools._status_mentions import REPORT_WEIGHT, Mention, Mentions
from magentic_health.tools._vocab import (
    CANCER,
    STAGE_GROUP,
    TNM,
    organ_of,
    roman_stage,
    specific_histology,
    stage_base,
)

_TNM_SUFFIX = re.compile(r",?\s*TNM stage \w+$", re.I)
_SUSPECTED = re.compile(r"suspected|history of|at risk", re.I)
# TNM category Observations: which letter, clinical or pathological
_CATEGORY = re.compile(
    r"(?P<T>primary tumou?r|primary-tumor)|(?P<N>regional (?:lymph )?nodes|regional-nodes)|"
    r"(?P<M>distant metastas[ie]s|distant-metastases)",
    re.I,
)
_CATEGORY_VALUE = {
    "T": re.compile(r"(?<![A-Za-z])[cpy]?T(?P<v>is|[0-4][a-d]?|x)(?![a-z0-9])", re.I),
    "N": re.compile(r"(?<![A-Za-z])[cpy]?N(?P<v>[0-3][a-c]?|x)(?![a-z0-9])", re.I),
    "M": re.compile(r"(?<![A-Za-z])[cpy]?M(?P<v>[01][a-d]?|x)(?![a-z0-9])", re.I),
}
Categories = dict[tuple[str, str | None], dict[str, tuple[str, FhirView, Field]]]
_SECONDARY = re.compile(r"secondary|metasta", re.I)


def _mention(view: FhirView, field: Field | None, value: str, group: str, spec: int = 0) -> Mention:
    line = field.line if field else view.title_line
    extra = (Evidence(doc_id=view.doc.id, quote=view.title_line[:300]),) if field else ()
    ev = Evidence(doc_id=view.doc.id, quote=line[:300])
    return Mention(value, group, REPORT_WEIGHT, view.date, ev, spec, extra=extra)


def _condition(view: FhirView, out: Mentions) -> None:
    displays = view.code_displays
    if not any(CANCER.search(d) for d in displays) or _SUSPECTED.search(view.title):
        return
    name = _TNM_SUFFIX.sub("", plain_display(view.title))
    spec = 1 + 2 * view.has_profile("primary-cancer") + bool(specific_histology(name))
    spec += bool(re.search(r"\bstage\b", view.title, re.I))
    if any(_SECONDARY.search(d) for d in displays):
        spec = 0
    out["diagnosis"].append(_mention(view, None, name, organ_of(name) or name.lower(), spec))
    if organ := organ_of(name):
        out["site"].append(_mention(view, None, organ, organ, spec))
    for site in view.all("Body site"):
        if re.search(r"[a-z]{3}", plain_display(site.value)) and not site.value.startswith(
            "SNOMED"
        ):
            label = re.sub(r"^(?:entire |structure of )+", "", plain_display(site.value).lower())
            out["subsite"].append(_mention(view, site, label, label))
    if histology := specific_histology(name):
        out["histology"].append(_mention(view, None, histology, histology, 1))
    for ext in view.all("Extension"):
        if "histology" in ext.value.lower():
            morphology = plain_display(ext.value.split(": ", 1)[-1]).removesuffix(" (Morphology)")
            out["histology"].append(_mention(view, ext, morphology.lower(), "morphology"))
    _stages(view, [view.first("Code"), *view.all("Stage")], out)


def _stages(view: FhirView, fields: Sequence[Field | None], out: Mentions) -> None:
    for field in fields:
        if field is None:
            continue
        for match in STAGE_GROUP.finditer(field.value):
            group = roman_stage(match.group("num"), match.group("sub"))
            out["stage_group"].append(_mention(view, field, group, stage_base(group), len(group)))
        for match in TNM.finditer(field.value):
            tnm = f"T{match.group('t')}N{match.group('n')}M{match.group('m')}"
            out["stage_tnm"].append(_mention(view, field, tnm, tnm, 1))


def _observation(view: FhirView, out: Mentions, categories: Categories) -> None:
    name = name_of(view)
    value = best_value(view)
    lowered = name.lower()
    if value and ("ecog" in lowered or "karnofsky" in lowered):
        scale = "ECOG" if "ecog" in lowered else "Karnofsky"
        out[f"performance:{scale}"].append(_mention(view, value, f"{scale} {value.value}", scale))
    elif value and (kind := _CATEGORY.search(name + " " + " ".join(view.profiles))):
        letter = kind.lastgroup or "T"
        if found := _CATEGORY_VALUE[letter].search(plain_display(value.value)):
            stage = "pathological" if "patholog" in lowered + str(view.profiles) else "clinical"
            categories[(stage, view.date)][letter] = (found.group("v"), view, value)
    elif "stage" in lowered or view.has_profile("stage-group"):
        _stages(view, view.all("Value"), out)
    elif found_grade := fhir_grade(view):
        out[found_grade[0]].append(found_grade[1])
    elif marker := fhir_marker(view):
        key, mention = marker
        out[key].append(mention)


def _categories_tnm(categories: Categories, out: Mentions) -> None:
    """T, N and M category Observations of one kind and date make one TNM stage."""
    for parts in categories.values():
        if set(parts) != {"T", "N", "M"}:
            continue
        tnm = "".join(letter + _category(parts[letter][0]) for letter in "TNM")
        evidence = [
            Evidence(doc_id=view.doc.id, quote=field.line[:300])
            for _, view, field in (parts[letter] for letter in "TNM")
        ]
        date = parts["T"][1].date
        out["stage_tnm"].append(
            Mention(tnm, tnm, REPORT_WEIGHT, date, evidence[0], 1, extra=tuple(evidence[1:]))
        )


def _category(value: str) -> str:
    """A category as the status writes it: "is", "X", "1a"."""
    lowered = value.lower()
    return "X" if lowered == "x" else lowered


def _patient(view: FhirView, out: Mentions) -> None:
    if gender := view.first("Gender"):
        out["sex"].append(_mention(view, gender, gender.value.lower(), gender.value.lower()))
    if birth := view.first("Birth date"):
        out["birth"].append(_mention(view, birth, birth.value, birth.value))


def fhir_mentions(views: list[FhirView]) -> Mentions:
    """All status mentions of the case's FHIR resources, keyed by field."""
    out: Mentions = defaultdict(list)
    categories: Categories = defaultdict(dict)
    for view in views:
        match view.resource_type:
            case "Condition":
                _condition(view, out)
            case "Observation":
                _observation(view, out, categories)
            case "Patient":
                _patient(view, out)
            case _:
                pass
    _categories_tnm(categories, out)
    return out
