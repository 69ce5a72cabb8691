"""The case: one patient's documents and the question asked about them (DESIGN section 2)."""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DocumentKind = Literal["note", "report", "fhir"]


class Document(BaseModel):
    """One source document. ``text`` is what tools read and what quotes must occur in.

    For notes the text is kept byte for byte; for FHIR resources it is a faithful rendering.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    date: str | None = None
    """ISO date (``YYYY-MM-DD``) or datetime where the source gives one."""
    kind: DocumentKind
    type: str
    """The source's own type, e.g. "Pathology and Cytology", "Condition"."""
    text: str
    source: str
    """Where the document came from: a file path, or ``bundle.json#entry[3]``."""


class Patient(BaseModel):
    """Who the case is about, as far as the sources say."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str | None = None
    age: int | None = None
    sex: Literal["female", "male", "other", "unknown"] | None = None
    birth_date: str | None = None
    deceased_date: str | None = None


class CaseImage(BaseModel):
    """An image that belongs to the case (read by imaging tools, never embedded in text)."""

    model_config = ConfigDict(frozen=True)

    id: str
    path: str
    modality: str


class Case(BaseModel):
    """A patient case: documents, images and the request the team answers."""

    model_config = ConfigDict(frozen=True)

    case_id: str = Field(min_length=1)
    request: str = "Prepare the tumor board review"
    patient: Patient
    documents: tuple[Document, ...]
    images: tuple[CaseImage, ...] = ()
    source: str
    """The folder, bundle or case file the case was loaded from."""
    warnings: tuple[str, ...] = ()
    """What the loader skipped or repaired, e.g. a duplicated FHIR resource."""

    @model_validator(mode="after")
    def _ids_unique(self) -> Case:
        seen: set[str] = set()
        for doc in self.documents:
            if doc.id in seen:
                raise ValueError(f"document id {doc.id!r} occurs twice")
            seen.add(doc.id)
        return self

    def document(self, doc_id: str) -> Document | None:
        """The document with this id, or None."""
        return self._by_id.get(doc_id)

    @functools.cached_property
    def _by_id(self) -> dict[str, Document]:
        return {doc.id: doc for doc in self.documents}

    def with_request(self, request: str) -> Case:
        """The same case asked a different question."""
        return self.model_copy(update={"request": request})
