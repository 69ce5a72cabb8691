"""Cases and their loaders: HAO-style note folders, FHIR R4/R4B bundles, case files."""

from magentic_health.case._load import load_case
from magentic_health.case._models import Case, CaseImage, Document, DocumentKind, Patient

__all__ = ["Case", "CaseImage", "Document", "DocumentKind", "Patient", "load_case"]
