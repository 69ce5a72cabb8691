"""Which FHIR versions the bundle loader reads (R4 4.0.x, R4B 4.3.x) and how others are spotted.

A bundle seldom states its version, so besides an explicit ``fhirVersion`` we look for cheap
tell-tales: resource types that exist only in DSTU2/STU3 or only in R5, and a few element
shapes that changed between versions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NoReturn

from magentic_health.errors import CaseError

_SUPPORTED = re.compile(r"^4\.(?:0|3)(?:\.\d+)?(?:-.*)?$")

# Resource types removed before R4, with the newest version that still had them.
_OLD_TYPES = {
    "MedicationOrder": "DSTU2 (1.0)",
    "DiagnosticOrder": "DSTU2 (1.0)",
    "DeviceUseRequest": "DSTU2 (1.0)",
    "Order": "DSTU2 (1.0)",
    "OrderResponse": "DSTU2 (1.0)",
    "Conformance": "DSTU2 (1.0)",
    "ImagingObjectSelection": "DSTU2 (1.0)",
    "ProcedureRequest": "STU3 (3.0)",
    "ReferralRequest": "STU3 (3.0)",
    "ProcessRequest": "STU3 (3.0)",
    "ProcessResponse": "STU3 (3.0)",
    "EligibilityRequest": "STU3 (3.0)",
    "EligibilityResponse": "STU3 (3.0)",
    "BodySite": "STU3 (3.0)",
    "DataElement": "STU3 (3.0)",
    "ExpansionProfile": "STU3 (3.0)",
    "ImagingManifest": "STU3 (3.0)",
    "Sequence": "STU3 (3.0)",
    "ServiceDefinition": "STU3 (3.0)",
    "DeviceComponent": "STU3 (3.0)",
}

# Resource types introduced in R5.
_R5_TYPES = {
    "ActorDefinition",
    "ArtifactAssessment",
    "ConditionDefinition",
    "DeviceDispense",
    "DeviceUsage",
    "EncounterHistory",
    "FormularyItem",
    "GenomicStudy",
    "ImagingSelection",
    "InventoryItem",
    "InventoryReport",
    "NutritionIntake",
    "Permission",
    "RequestOrchestration",
    "Requirements",
    "TestPlan",
    "Transport",
}
_R5 = "R5 (5.0)"
_MEDICATION_TYPES = {"MedicationRequest", "MedicationStatement", "MedicationAdministration"}


def version_name(version: str) -> str:
    """A FHIR version number with its release name, e.g. ``'STU3 (3.0.2)'``."""
    names = {"1.0": "DSTU2", "3.0": "STU3", "4.0": "R4", "4.3": "R4B", "5.0": "R5", "6.0": "R6"}
    return f"{names.get(version[:3], 'FHIR')} ({version})"


def check_bundle_version(path: Path, bundle: dict[str, Any]) -> None:
    """Refuse a bundle that states a version other than 4.0.x or 4.3.x."""
    for where, holder in (("fhirVersion", bundle), ("meta.fhirVersion", bundle.get("meta"))):
        if not isinstance(holder, dict) or "fhirVersion" not in holder:
            continue
        stated = str(holder["fhirVersion"])
        if not _SUPPORTED.match(stated):
            _refuse(path, version_name(stated), f"{where} is {stated!r}")


def check_resource_version(path: Path, resource: dict[str, Any]) -> None:
    """Refuse a resource whose type or shape exists only outside R4/R4B."""
    rtype = str(resource.get("resourceType"))
    if rtype in _OLD_TYPES:
        _refuse(path, _OLD_TYPES[rtype], f"found resource type {rtype!r}")
    if rtype in _R5_TYPES:
        _refuse(path, _R5, f"found resource type {rtype!r}")
    if rtype in {"Condition", "AllergyIntolerance"}:
        for element in ("clinicalStatus", "verificationStatus"):
            if isinstance(resource.get(element), str):
                _refuse(path, "STU3 (3.0)", f"found {rtype}.{element} as a plain code")
    if rtype == "Encounter" and isinstance(resource.get("class"), list):
        _refuse(path, _R5, "found Encounter.class as a list")
    if rtype in _MEDICATION_TYPES and isinstance(resource.get("medication"), dict):
        _refuse(path, _R5, f"found {rtype}.medication as a CodeableReference")


def _refuse(path: Path, version: str, evidence: str) -> NoReturn:
    raise CaseError(
        f"{path}: unsupported FHIR version {version!r} ({evidence}); "
        "convert the bundle to FHIR R4 or R4B"
    )
