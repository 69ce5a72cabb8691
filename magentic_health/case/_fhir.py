"""The FHIR R4/R4B bundle loader: one ``Document`` per clinically meaningful resource.

The bundle is read as plain JSON (no FHIR model library): that is ten times faster on the
largest sample bundle and lets us load fixtures that are not strictly valid (the mCODE bundle's
Observations carry two ``value[x]`` each) by rendering what is there. Raw resources are JSON
objects read by key; ``_fhir_values`` wraps every access so a mistyped element cannot crash.

Choices worth knowing:
- resources that occur twice with the same type and id are kept once when identical and
  renamed ``Type/id#2`` when not, so document ids stay unique; a warning says which;
- ``Patient.age`` is the age at death for a deceased patient, else the age on the latest
  document date (not today: a case must load the same tomorrow, and the record ends there);
- documents are ordered Patient first, then by clinical date (bundle order within a date),
  undated last.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from magentic_health.case._fhir_render import Resource, patient_name, render_resource
from magentic_health.case._fhir_values import choice_items, date_part, obj, scalar
from magentic_health.case._fhir_version import check_bundle_version, check_resource_version
from magentic_health.case._jsonio import json_type_name
from magentic_health.case._models import Case, Document, Patient
from magentic_health.errors import CaseError

RENDERED_TYPES = frozenset(
    {
        "Condition",
        "Observation",
        "Procedure",
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
        "DiagnosticReport",
        "DocumentReference",
        "Encounter",
        "CarePlan",
        "Immunization",
        "AllergyIntolerance",
        "ImagingStudy",
        "Specimen",
        "Goal",
    }
)
"""Resource types that become documents (besides ``Patient``)."""

NON_CLINICAL_TYPES = frozenset(
    {
        "Account",
        "AuditEvent",
        "CareTeam",
        "ChargeItem",
        "Claim",
        "ClaimResponse",
        "Consent",
        "Coverage",
        "CoverageEligibilityRequest",
        "CoverageEligibilityResponse",
        "Device",
        "Endpoint",
        "ExplanationOfBenefit",
        "Group",
        "HealthcareService",
        "Invoice",
        "Location",
        "Medication",
        "Organization",
        "PaymentNotice",
        "PaymentReconciliation",
        "Person",
        "Practitioner",
        "PractitionerRole",
        "Provenance",
        "RelatedPerson",
        "Schedule",
        "Slot",
        "SupplyDelivery",
        "SupplyRequest",
    }
)
"""Administrative resources skipped on purpose (counted in one warning line)."""

_SEX: dict[str, Literal["female", "male", "other", "unknown"]] = {
    "female": "female",
    "male": "male",
    "other": "other",
    "unknown": "unknown",
}


@dataclass(frozen=True)
class _Entry:
    index: int
    full_url: str | None
    resource: Resource
    rtype: str
    rid: str


@dataclass
class _Index:
    """Resolves references inside the bundle: ``urn:uuid:...``, ``Type/id`` or a bare id."""

    by_key: dict[str, Resource] = field(default_factory=dict)

    def add(self, entry: _Entry) -> None:
        for key in (entry.full_url, f"{entry.rtype}/{entry.rid}", entry.rid):
            if key:
                self.by_key.setdefault(key, entry.resource)

    def resolve(self, reference: str) -> Resource | None:
        return self.by_key.get(reference)


def load_bundle(path: Path, bundle: dict[str, Any]) -> Case:
    """Load a parsed FHIR Bundle read from ``path`` as a ``Case`` (default request)."""
    check_bundle_version(path, bundle)
    entries = _entries(path, bundle)
    index = _Index()
    for entry in entries:
        index.add(entry)
    kept, duplicate_note = _dedupe([e for e in entries if _is_document(e.rtype)])
    documents = _documents(path, kept, index)
    if not documents:
        raise CaseError(
            f"{path}: the case has no documents (no Patient or clinical resources among "
            f"{len(entries)} entries); pass a bundle with Conditions, Observations, Procedures ..."
        )
    patients = [e for e in kept if e.rtype == "Patient"]
    warnings = _skip_warnings(entries)
    if duplicate_note:
        warnings.append(duplicate_note)
    warnings += _double_value_warning(kept)
    if not patients:
        warnings.append("no Patient resource; the patient id is the file name")
    return Case(
        case_id=path.stem,
        patient=_patient(path, patients, documents),
        documents=tuple(documents),
        source=str(path),
        warnings=tuple(warnings),
    )


def _is_document(rtype: str) -> bool:
    return rtype == "Patient" or rtype in RENDERED_TYPES


def _entries(path: Path, bundle: dict[str, Any]) -> list[_Entry]:
    raw_entries = bundle.get("entry", [])
    if not isinstance(raw_entries, list):
        raise CaseError(f"{path}: 'entry' must be a list, got {json_type_name(raw_entries)}")
    entries = []
    for i, raw in enumerate(raw_entries):
        if not isinstance(raw, dict):
            raise CaseError(f"{path}: entry[{i}] must be an object, got {json_type_name(raw)}")
        resource = raw.get("resource")
        if resource is None:
            continue  # e.g. a DELETE request entry: nothing to read
        rtype = obj(resource).get("resourceType")
        if not isinstance(resource, dict) or not isinstance(rtype, str) or not rtype:
            raise CaseError(
                f"{path}: entry[{i}].resource has no 'resourceType'; every resource needs one"
            )
        check_resource_version(path, resource)
        full_url = scalar(raw.get("fullUrl"))
        rid = scalar(resource.get("id")) or _id_from_url(full_url) or f"entry{i}"
        entries.append(_Entry(i, full_url, resource, rtype, rid))
    return entries


def _id_from_url(full_url: str | None) -> str | None:
    if not full_url:
        return None
    return full_url.rsplit("/", 1)[-1].rsplit(":", 1)[-1] or None


def _dedupe(entries: list[_Entry]) -> tuple[list[_Entry], str | None]:
    """Drop identical repeats, rename different resources sharing ``Type/id`` to ``#2``..."""
    first: dict[str, list[Resource]] = {}
    taken = {f"{e.rtype}/{e.rid}" for e in entries}
    kept: list[_Entry] = []
    merged: list[str] = []
    renamed: list[str] = []
    for entry in entries:
        key = f"{entry.rtype}/{entry.rid}"
        seen = first.setdefault(key, [])
        if entry.resource in seen:
            merged.append(key)
            continue
        seen.append(entry.resource)
        if len(seen) > 1:
            n = len(seen)
            while f"{key}#{n}" in taken:
                n += 1
            taken.add(f"{key}#{n}")
            entry = _Entry(
                entry.index, entry.full_url, entry.resource, entry.rtype, f"{entry.rid}#{n}"
            )
            renamed.append(f"{key}#{n}")
        kept.append(entry)
    if not merged and not renamed:
        return kept, None
    parts = []
    if merged:
        parts.append(f"{len(merged)} identical repeats kept once ({', '.join(merged)})")
    if renamed:
        parts.append(
            f"{len(renamed)} different resources sharing an id renamed ({', '.join(renamed)})"
        )
    return kept, "duplicate resources: " + "; ".join(parts)


def _documents(path: Path, kept: list[_Entry], index: _Index) -> list[Document]:
    documents = []
    for entry in kept:
        rendered = render_resource(entry.resource, index.resolve)
        documents.append(
            Document(
                id=f"{entry.rtype}/{entry.rid}",
                date=rendered.date,
                kind=rendered.kind,
                type=entry.rtype,
                text=rendered.text,
                source=f"{path.name}#entry[{entry.index}]",
            )
        )
    # Stable sort: Patient first, then by date, undated last; bundle order breaks ties.
    return sorted(documents, key=lambda d: (d.type != "Patient", d.date is None, d.date or ""))


def _skip_warnings(entries: list[_Entry]) -> list[str]:
    skipped = Counter(e.rtype for e in entries if e.rtype in NON_CLINICAL_TYPES)
    other = Counter(
        e.rtype for e in entries if not _is_document(e.rtype) and e.rtype not in NON_CLINICAL_TYPES
    )
    warnings = []
    for counts, what in (
        (skipped, "non-clinical resources"),
        (other, "resources of types not rendered"),
    ):
        if counts:
            listed = ", ".join(f"{t} {n}" for t, n in sorted(counts.items()))
            warnings.append(f"skipped {sum(counts.values())} {what}: {listed}")
    return warnings


def _double_value_warning(kept: list[_Entry]) -> list[str]:
    ids = [f"{e.rtype}/{e.rid}" for e in kept if len(choice_items(e.resource, "value")) > 1]
    if not ids:
        return []
    return [
        f"{len(ids)} resources carry more than one value[x]; all values rendered ({', '.join(ids)})"
    ]


def _patient(path: Path, patients: list[_Entry], documents: list[Document]) -> Patient:
    if not patients:
        return Patient(id=path.stem)
    if len(patients) > 1:
        ids = ", ".join(repr(p.rid) for p in patients)
        raise CaseError(
            f"{path}: {len(patients)} Patient resources ({ids}); a case is about one patient: "
            "split the bundle per patient"
        )
    resource = patients[0].resource
    birth = scalar(resource.get("birthDate"))
    deceased = next(
        (
            date_part(scalar(v))
            for k, v in choice_items(resource, "deceased")
            if k.endswith("DateTime")
        ),
        None,
    )
    latest = max((d.date for d in documents if d.date), default=None)
    gender = scalar(resource.get("gender"))
    return Patient(
        id=patients[0].rid,
        name=patient_name(resource),
        age=_years_between(birth, deceased or latest),
        sex=_SEX.get(gender or ""),
        birth_date=birth,
        deceased_date=deceased,
    )


def _years_between(start: str | None, end: str | None) -> int | None:
    """Whole years from ``start`` to ``end`` (full ``YYYY-MM-DD`` dates), else None."""
    try:
        born = date.fromisoformat(start or "")
        until = date.fromisoformat(end or "")
    except ValueError:
        return None
    years = until.year - born.year - ((until.month, until.day) < (born.month, born.day))
    return years if years >= 0 else None
