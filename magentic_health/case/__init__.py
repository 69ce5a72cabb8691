"""Cases and their loaders: HAO-style note folders, FHIR R4/R4B bundles, case files."""

from magentic_health.case._load import load_case
from magentic_health.case._models import Case, CaseImage, Document, DocumentKind, Patient
from magentic_health.case._samples import SampleCase, find_sample_case, list_sample_cases

__all__ = [
    "Case",
    "CaseImage",
    "Document",
    "DocumentKind",
    "Patient",
    "SampleCase",
    "find_sample_case",
    "list_sample_cases",
    "load_case",
]
