"""The text of one FHIR resource, as the ``Document.text`` other tools read and quote.

Rendering contract (tools parse it, so keep it stable):

- first line ``<ResourceType>: <primary display>``;
- then one ``Label: value`` line per element present, in the order of ``_FIELDS``. Elements
  that hold several things of their own (``Code`` codings, ``Stage``, ``Component``,
  ``Result``, ``Dosage``, ``Activity``, ``Note``, ``Extension``) get one line each; lists of
  descriptors (``Category``, ``Interpretation``, ``Body site``, ``Reason``, ``Profile``) are
  joined with ``, `` on one line;
- codes as ``<display> (<system short name> <code>)``; datetimes exactly as the source writes
  them; numbers exactly as written;
- decoded attachment text after a line ``Text:``; narrative (``text.div``) as plain text after
  a line ``Narrative:``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from magentic_health.case._fhir_values import (
    attachment_text,
    choice_date,
    choice_texts,
    code_labels,
    coding_text,
    concept_plain,
    concept_text,
    date_part,
    narrative_text,
    obj,
    objs,
    period_text,
    quantity_text,
    scalar,
)
from magentic_health.case._models import DocumentKind

Resource = dict[str, Any]
Resolver = Callable[[str], Resource | None]
"""Finds a resource of the same bundle by reference (``urn:uuid:...``, ``Type/id``, ``id``)."""

NO_DISPLAY = "(not stated)"

# Which element holds a resource's code, where it is not ``code``.
_CODE_ELEMENT = {
    "Immunization": "vaccineCode",
    "Goal": "description",
    "Encounter": "type",
    "Specimen": "type",
    "DocumentReference": "type",
    "ImagingStudy": "procedureCode",
    "CarePlan": "",
    "Patient": "",
}
_MEDICATION_TYPES = {"MedicationRequest", "MedicationStatement", "MedicationAdministration"}

# Where a resource's clinical date is, first match wins; ``x[x]`` is a choice element.
_DATE_PATHS: dict[str, tuple[str, ...]] = {
    "Condition": ("onset[x]", "recordedDate"),
    "Observation": ("effective[x]", "issued"),
    "Procedure": ("performed[x]",),
    "MedicationRequest": ("authoredOn",),
    "MedicationStatement": ("effective[x]", "dateAsserted"),
    "MedicationAdministration": ("effective[x]",),
    "DiagnosticReport": ("effective[x]", "issued"),
    "DocumentReference": ("date", "context.period"),
    "Encounter": ("period",),
    "CarePlan": ("period", "created"),
    "Immunization": ("occurrence[x]", "recorded"),
    "AllergyIntolerance": ("onset[x]", "recordedDate"),
    "ImagingStudy": ("started",),
    "Specimen": ("collection.collected[x]", "receivedTime"),
    "Goal": ("start[x]", "statusDate"),
}


@dataclass(frozen=True)
class Rendered:
    """A resource's text, its document kind and its clinical date (``YYYY-MM-DD``)."""

    text: str
    kind: DocumentKind
    date: str | None


def render_resource(resource: Resource, resolve: Resolver) -> Rendered:
    """Render one clinical resource by the contract in this module's docstring."""
    rtype = str(resource.get("resourceType"))
    lines = [f"{rtype}: {primary_display(resource, resolve)}"]
    for label, values in _FIELDS:
        lines.extend(f"{label}: {value}" for value in values(resource, resolve))
    texts = _attachment_texts(resource)
    for text in texts:
        lines.extend(["Text:", text])
    narrative = narrative_text(obj(resource.get("text")).get("div"))
    if narrative:
        lines.extend(["Narrative:", narrative])
    kind: DocumentKind = "fhir"
    if texts and rtype == "DocumentReference":
        kind = "note"
    elif texts and rtype == "DiagnosticReport":
        kind = "report"
    return Rendered(text="\n".join(lines), kind=kind, date=resource_date(resource))


def resource_date(resource: Resource) -> str | None:
    """The resource's clinical date as ``YYYY-MM-DD`` (or as much of it as the source gives)."""
    for path in _DATE_PATHS.get(str(resource.get("resourceType")), ()):
        *parents, last = path.split(".")
        node = resource
        for parent in parents:
            node = obj(node.get(parent))
        if last.endswith("[x]"):
            found = choice_date(node, last[:-3])
        else:
            value = node.get(last)
            found = scalar(obj(value).get("start")) if isinstance(value, dict) else scalar(value)
        if found:
            return date_part(found)
    return None


def primary_display(resource: Resource, resolve: Resolver) -> str:
    """What the resource is about, for its first line and for references to it."""
    rtype = resource.get("resourceType")
    found: str | None
    if rtype == "Patient":
        found = patient_name(resource)
    elif rtype in _MEDICATION_TYPES:
        found = concept_text(_medication_concept(resource, resolve))
        found = found or scalar(obj(resource.get("medicationReference")).get("display"))
    elif rtype == "Encounter":
        found = _first_concept(resource.get("type")) or _coding_or_concept(resource.get("class"))
    elif rtype == "CarePlan":
        found = scalar(resource.get("title")) or _first_concept(resource.get("category"))
        found = found or scalar(resource.get("description"))
    elif rtype == "DocumentReference":
        found = scalar(resource.get("description")) or concept_text(resource.get("type"))
    elif rtype == "ImagingStudy":
        found = scalar(resource.get("description")) or _first_concept(resource.get("procedureCode"))
        found = found or ", ".join(
            t for c in objs(resource.get("modality")) if (t := coding_text(c))
        )
    else:
        found = _first_concept(resource.get(_CODE_ELEMENT.get(str(rtype), "code")))
    return found or NO_DISPLAY


def patient_name(resource: Resource) -> str | None:
    """``Given Family`` from the official name (else the first one)."""
    names = objs(resource.get("name"))
    official = [n for n in names if n.get("use") == "official"]
    for name in official + names:
        given = [g for g in name.get("given", []) if isinstance(g, str)]
        family = scalar(name.get("family"))
        parts = [*given, family] if family else given
        text = " ".join(parts) or scalar(name.get("text"))
        if text:
            return text
    return None


def _first_concept(value: Any) -> str | None:
    for concept in objs(value):
        text = concept_text(concept)
        if text:
            return text
    return None


def _coding_or_concept(value: Any) -> str | None:
    value = obj(value)
    return concept_text(value) if "coding" in value or "text" in value else coding_text(value)


def _plain_coding(value: Any) -> str | None:
    """A Coding (or concept) as its display or bare code, for class-like elements."""
    value = obj(value)
    if "coding" in value or "text" in value:
        return concept_plain(value)
    return scalar(value.get("display")) or scalar(value.get("code"))


def _medication_concept(resource: Resource, resolve: Resolver) -> Any:
    if "medicationCodeableConcept" in resource:
        return resource["medicationCodeableConcept"]
    reference = scalar(obj(resource.get("medicationReference")).get("reference"))
    medication = resolve(reference) if reference else None
    return obj(medication).get("code")


def _reference_display(ref: Any, resolve: Resolver) -> str | None:
    ref = obj(ref)
    display = scalar(ref.get("display"))
    if display:
        return display
    reference = scalar(ref.get("reference"))
    target = resolve(reference) if reference else None
    return primary_display(target, resolve) if target else reference


# ---- one extractor per label: (resource, resolver) -> the values, one line each ----

Extractor = Callable[[Resource, Resolver], list[str]]


def _element(name: str, plain: bool = False) -> Extractor:
    """A scalar element (``status``) or, with ``plain``, a status-like concept."""

    def extract(resource: Resource, resolve: Resolver) -> list[str]:
        value = concept_plain(resource.get(name)) if plain else scalar(resource.get(name))
        return [value] if value else []

    return extract


def _choice(name: str) -> Extractor:
    return lambda resource, resolve: choice_texts(resource, name)


def _joined(texts: list[str]) -> list[str]:
    return [", ".join(texts)] if texts else []


def _code(resource: Resource, resolve: Resolver) -> list[str]:
    rtype = str(resource.get("resourceType"))
    if rtype in _MEDICATION_TYPES:
        return code_labels(_medication_concept(resource, resolve))
    element = _CODE_ELEMENT.get(rtype, "code")
    return code_labels(resource.get(element)) if element else []


def _category(resource: Resource, resolve: Resolver) -> list[str]:
    value = resource.get("category")
    items = value if isinstance(value, list) else [value]
    return _joined([t for item in items if (t := concept_plain(item))])


def _period(resource: Resource, resolve: Resolver) -> list[str]:
    period = resource.get("period") or obj(resource.get("context")).get("period")
    text = period_text(period)
    return [text] if text else []


def _component(resource: Resource, resolve: Resolver) -> list[str]:
    lines = []
    for component in objs(resource.get("component")):
        name = concept_text(component.get("code")) or NO_DISPLAY
        values = choice_texts(component, "value")
        absent = concept_text(component.get("dataAbsentReason"))
        shown = "; ".join(values) or (f"(absent: {absent})" if absent else "(no value)")
        lines.append(f"{name}: {shown}")
    return lines


def _interpretation(resource: Resource, resolve: Resolver) -> list[str]:
    return _joined([t for c in objs(resource.get("interpretation")) if (t := concept_text(c))])


def _body_site(resource: Resource, resolve: Resolver) -> list[str]:
    sites = objs(resource.get("bodySite"))
    sites += objs(obj(resource.get("collection")).get("bodySite"))
    sites += [s for series in objs(resource.get("series")) for s in objs(series.get("bodySite"))]
    return _joined([t for site in sites if (t := _coding_or_concept(site))])


def _stage(resource: Resource, resolve: Resolver) -> list[str]:
    return [t for stage in objs(resource.get("stage")) if (t := concept_text(stage.get("summary")))]


def _reason(resource: Resource, resolve: Resolver) -> list[str]:
    texts = [t for c in objs(resource.get("reasonCode")) if (t := concept_text(c))]
    refs = objs(resource.get("reasonReference"))
    texts += [t for ref in refs if (t := _reference_display(ref, resolve))]
    return _joined(texts)


def _dosage(resource: Resource, resolve: Resolver) -> list[str]:
    dosages = objs(resource.get("dosageInstruction")) + objs(resource.get("dosage"))
    return [t for dosage in dosages if (t := _dosage_text(dosage))]


def _dosage_text(dosage: dict[str, Any]) -> str | None:
    text = scalar(dosage.get("text"))
    if text:
        return text
    parts = []
    for rate in objs(dosage.get("doseAndRate")):
        dose = quantity_text(rate.get("doseQuantity"))
        if dose:
            parts.append(f"dose {dose}")
    dose = quantity_text(dosage.get("dose"))  # MedicationAdministration.dosage
    if dose:
        parts.append(f"dose {dose}")
    repeat = obj(obj(dosage.get("timing")).get("repeat"))
    frequency, per = scalar(repeat.get("frequency")), scalar(repeat.get("period"))
    if frequency and per:
        parts.append(
            f"{frequency} times per {per} {scalar(repeat.get('periodUnit')) or ''}".strip()
        )
    route = concept_text(dosage.get("route"))
    if route:
        parts.append(f"route {route}")
    if dosage.get("asNeededBoolean") is True:
        parts.append("as needed")
    parts += [t for c in objs(dosage.get("additionalInstruction")) if (t := concept_text(c))]
    return "; ".join(parts) or None


def _result(resource: Resource, resolve: Resolver) -> list[str]:
    lines = []
    for ref in objs(resource.get("result")):
        reference = scalar(ref.get("reference"))
        target = resolve(reference) if reference else None
        if target is None:
            name = scalar(ref.get("display")) or reference or NO_DISPLAY
            lines.append(f"{name}: (not in bundle)")
            continue
        values = choice_texts(target, "value") or [
            f"{concept_text(c.get('code')) or NO_DISPLAY}: {'; '.join(choice_texts(c, 'value'))}"
            for c in objs(target.get("component"))
        ]
        lines.append(f"{primary_display(target, resolve)}: {'; '.join(values) or '(no value)'}")
    return lines


def _conclusion(resource: Resource, resolve: Resolver) -> list[str]:
    texts = [scalar(resource.get("conclusion"))]
    texts += [concept_text(c) for c in objs(resource.get("conclusionCode"))]
    return _joined([t for t in texts if t])


def _activity(resource: Resource, resolve: Resolver) -> list[str]:
    lines = []
    for activity in objs(resource.get("activity")):
        detail = obj(activity.get("detail"))
        name = concept_text(detail.get("code")) or _reference_display(
            activity.get("reference"), resolve
        )
        status = scalar(detail.get("status"))
        if name:
            lines.append(f"{name} ({status})" if status else name)
    return lines


def _addresses(resource: Resource, resolve: Resolver) -> list[str]:
    refs = objs(resource.get("addresses"))
    return _joined([t for ref in refs if (t := _reference_display(ref, resolve))])


def _attachment_notes(resource: Resource, resolve: Resolver) -> list[str]:
    notes = []
    for attachment in _attachments(resource):
        text, note = attachment_text(attachment)
        if note:
            notes.append(note)
        elif text is None and (url := scalar(attachment.get("url"))):
            notes.append(f"{scalar(attachment.get('title')) or url} (not fetched: {url})")
    return notes


def _note(resource: Resource, resolve: Resolver) -> list[str]:
    return [t for note in objs(resource.get("note")) if (t := scalar(note.get("text")))]


def _profile(resource: Resource, resolve: Resolver) -> list[str]:
    profiles = obj(resource.get("meta")).get("profile")
    names = [p.rstrip("/").rsplit("/", 1)[-1] for p in profiles or [] if isinstance(p, str)]
    return _joined(names)


def _extension(resource: Resource, resolve: Resolver) -> list[str]:
    lines = []
    for extension in objs(resource.get("extension")):
        url = scalar(extension.get("url")) or ""
        display = concept_text(extension.get("valueCodeableConcept"))
        if url and display:
            lines.append(f"{url.rstrip('/').rsplit('/', 1)[-1]}: {display}")
    return lines


def _attachments(resource: Resource) -> list[dict[str, Any]]:
    if resource.get("resourceType") == "DocumentReference":
        return [obj(c.get("attachment")) for c in objs(resource.get("content"))]
    if resource.get("resourceType") == "DiagnosticReport":
        return objs(resource.get("presentedForm"))
    return []


def _attachment_texts(resource: Resource) -> list[str]:
    return [text for a in _attachments(resource) if (text := attachment_text(a)[0]) is not None]


def _modality(resource: Resource, resolve: Resolver) -> list[str]:
    codings = objs(resource.get("modality"))
    codings += [m for series in objs(resource.get("series")) for m in objs(series.get("modality"))]
    return _joined(sorted({t for c in codings if (t := coding_text(c))}))


_FIELDS: tuple[tuple[str, Extractor], ...] = (
    ("Code", _code),
    ("Status", lambda r, f: _element("status")(r, f) or _element("lifecycleStatus")(r, f)),
    ("Clinical status", _element("clinicalStatus", plain=True)),
    ("Verification status", _element("verificationStatus", plain=True)),
    ("Category", _category),
    ("Class", lambda r, f: [t] if (t := _plain_coding(r.get("class"))) else []),
    ("Type", lambda r, f: [t] if isinstance(t := r.get("type"), str) and t else []),
    ("Criticality", _element("criticality")),
    ("Modality", _modality),
    ("Gender", _element("gender")),
    ("Birth date", _element("birthDate")),
    ("Deceased", _choice("deceased")),
    ("Onset", _choice("onset")),
    ("Abatement", _choice("abatement")),
    ("Recorded", lambda r, f: _element("recordedDate")(r, f) or _element("recorded")(r, f)),
    ("Effective", _choice("effective")),
    ("Issued", _element("issued")),
    ("Performed", _choice("performed")),
    ("Occurrence", _choice("occurrence")),
    ("Authored", _element("authoredOn")),
    ("Period", _period),
    ("Date", _element("date")),
    ("Started", _element("started")),
    ("Collected", lambda r, f: choice_texts(obj(r.get("collection")), "collected")),
    ("Value", _choice("value")),
    ("Component", _component),
    ("Interpretation", _interpretation),
    ("Body site", _body_site),
    ("Stage", _stage),
    ("Reason", _reason),
    ("Dosage", _dosage),
    ("Intent", _element("intent")),
    ("Result", _result),
    ("Conclusion", _conclusion),
    ("Activity", _activity),
    ("Addresses", _addresses),
    ("Achievement", _element("achievementStatus", plain=True)),
    ("Attachment", _attachment_notes),
    ("Note", _note),
    ("Profile", _profile),
    ("Extension", _extension),
)
