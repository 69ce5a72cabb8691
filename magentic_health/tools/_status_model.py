"""The patient status as structured data, shared by the status, trials, guidelines and report
tools (the trials tool matches on it; the report prints it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from magentic_health.reply import Evidence


class StatusValue(BaseModel):
    """One stated value (e.g. a stage), when it was stated, and the quotes that state it."""

    model_config = ConfigDict(frozen=True)

    value: str
    date: str | None = None
    evidence: tuple[Evidence, ...]


class Biomarker(BaseModel):
    """A biomarker result, e.g. gene "KRAS", result "p.G12C"; or "PD-L1", "negative"."""

    model_config = ConfigDict(frozen=True)

    name: str
    result: str
    date: str | None = None
    evidence: tuple[Evidence, ...]


class PatientStatus(BaseModel):
    """The current picture of the cancer. Missing values are None, never guessed."""

    model_config = ConfigDict(frozen=True)

    diagnosis: StatusValue | None = None
    """Primary cancer, e.g. "non-small cell lung cancer"."""
    primary_site: StatusValue | None = None
    histology: StatusValue | None = None
    stage_tnm: StatusValue | None = None
    stage_group: StatusValue | None = None
    """Group stage normalised to roman numerals and letter, e.g. "IVA", "IIIA", "I"; for small
    cell lung cancer the VA stage ("extensive stage", "limited stage") when that is what is
    written."""
    grade: StatusValue | None = None
    """Histologic grade as written, e.g. "Gleason 4+3=7", "grade 2"."""
    biomarkers: tuple[Biomarker, ...] = ()
    performance_status: StatusValue | None = None
    treatments: tuple[StatusValue, ...] = ()
    """Lines of therapy, current and prior, oldest first."""
    disease_status: StatusValue | None = None
    """The latest statement of the disease course: "progression", "partial response",
    "resolved (abatement 2016-01-17)", dated."""
    vital_status: StatusValue | None = None
    """Only when the record states a death: "deceased 1989-07-25; cause of death: ..."."""
    age: int | None = None
    sex: str | None = None
    conflicts: tuple[str, ...] = ()
    """Values that disagree across documents, each naming both sources."""
