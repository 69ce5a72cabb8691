"""The HAO-style patient folder loader: ``clinical_notes/*.json`` plus ``images/metadata.json``.

The layout is the one Microsoft's Healthcare Agent Orchestrator ships its sample patient in:
one JSON object per note with string fields ``id``, ``date``, ``note_type`` and ``text``. Note
text is kept exactly as the JSON string decodes, because checkpoints look quotes up in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from magentic_health.case._jsonio import json_type_name, read_json
from magentic_health.case._models import Case, CaseImage, Document, DocumentKind, Patient
from magentic_health.errors import CaseError

NOTES_DIR = "clinical_notes"
IMAGES_DIR = "images"
IMAGE_METADATA = "metadata.json"

_REQUIRED = ("id", "date", "note_type", "text")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

# Note types whose text is a report of a study or a procedure rather than a clinician's note.
_REPORT_TYPE = re.compile(
    r"\b(?:ct|pet|mri|x-?ray|ultrasound|sonograph\w*|mammogra\w*|radiology|imaging|scan|"
    r"nuclear medicine|echocardiogra\w*|pathology|cytology|procedures?)\b",
    re.IGNORECASE,
)

# An age stated about the patient: "is a 59 y.o. female", "is a 59-year-old woman", "Age: 59 y.o.".
_AGE = re.compile(
    r"(?:\bis an?|\bage:)\s+(\d{1,3})\s*(?:-\s*)?(?:y\.?\s?o\b\.?|years?[- ]old\b)"
    r"(?:\s+(female|woman|lady|male|man|gentleman)\b)?",
    re.IGNORECASE,
)
_FEMALE = {"female", "woman", "lady"}


def is_hao_folder(path: Path) -> bool:
    """Whether ``path`` is a folder with a ``clinical_notes`` sub-folder."""
    return path.is_dir() and (path / NOTES_DIR).is_dir()


def note_kind(note_type: str) -> DocumentKind:
    """``report`` for imaging, pathology and procedure notes, else ``note``."""
    return "report" if _REPORT_TYPE.search(note_type) else "note"


def load_hao_folder(folder: Path) -> Case:
    """Load a HAO patient folder as a ``Case`` (request left at its default)."""
    notes_dir = folder / NOTES_DIR
    if not notes_dir.is_dir():
        raise CaseError(
            f"{folder}: not a HAO patient folder (no {NOTES_DIR}/ inside); pass a HAO patient "
            "folder, a FHIR bundle .json, or a case file .json/.yaml"
        )
    files = sorted(p for p in notes_dir.glob("*.json") if p.is_file())
    if not files:
        raise CaseError(
            f"{notes_dir}: the case has no documents (no *.json note files); add one JSON "
            "file per note with id, date, note_type and text"
        )
    name = folder.name or folder.resolve().name  # "." names the current folder
    documents = _read_notes(name, files)
    images, warnings = _read_images(folder)
    return Case(
        case_id=name,
        patient=_patient(name, documents),
        documents=tuple(sorted(documents, key=lambda d: (d.date or "", d.id))),
        images=images,
        source=str(folder),
        warnings=warnings,
    )


def _read_notes(case_name: str, files: list[Path]) -> list[Document]:
    seen: dict[str, Path] = {}
    documents = []
    for path in files:
        doc = _read_note(case_name, path)
        if doc.id in seen:
            raise CaseError(
                f"{path}: note id {doc.id!r} is also the id of {seen[doc.id]}; "
                "give every note a unique id"
            )
        seen[doc.id] = path
        documents.append(doc)
    return documents


def _read_note(case_name: str, path: Path) -> Document:
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise CaseError(
            f"{path}: expected a JSON object with id, date, note_type and text, "
            f"got {json_type_name(raw)}"
        )
    if "note_type" not in raw and "type" in raw:
        # HAO's ingestion docs call the field ``type``; its sample files use ``note_type``.
        raw = {**raw, "note_type": raw["type"]}
    fields = {name: _string_field(path, raw, name) for name in _REQUIRED}
    if not fields["id"].strip():
        raise CaseError(f"{path}: field 'id' is empty; give the note a unique id")
    if not _ISO_DATE.match(fields["date"]):
        raise CaseError(f"{path}: field 'date' is {fields['date']!r}; write it as YYYY-MM-DD")
    return Document(
        id=fields["id"],
        date=fields["date"],
        kind=note_kind(fields["note_type"]),
        type=fields["note_type"],
        text=fields["text"],
        source=f"{case_name}/{NOTES_DIR}/{path.name}",
    )


def _string_field(path: Path, raw: dict[str, Any], name: str) -> str:
    if name not in raw:
        raise CaseError(f"{path}: field {name!r} missing; a note needs id, date, note_type, text")
    value = raw[name]
    if not isinstance(value, str):
        raise CaseError(f"{path}: field {name!r} must be a string, got {json_type_name(value)}")
    return value


def _read_images(folder: Path) -> tuple[tuple[CaseImage, ...], tuple[str, ...]]:
    meta_path = folder / IMAGES_DIR / IMAGE_METADATA
    if not meta_path.is_file():
        return (), ()
    raw = read_json(meta_path)
    if not isinstance(raw, list):
        raise CaseError(
            f"{meta_path}: expected a JSON list of {{filename, type}} objects, "
            f"got {json_type_name(raw)}"
        )
    images: list[CaseImage] = []
    warnings: list[str] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise CaseError(f"{meta_path}: item [{i}] must be an object with filename and type")
        name = _string_field(meta_path, item, "filename")
        modality = _string_field(meta_path, item, "type")
        image_path = folder / IMAGES_DIR / name
        if not image_path.is_file():
            warnings.append(f"{IMAGES_DIR}/{IMAGE_METADATA} lists {name!r} but the file is missing")
            continue
        images.append(CaseImage(id=name, path=str(image_path), modality=modality))
    return tuple(images), tuple(warnings)


_Sex = Literal["female", "male"]


@dataclass(frozen=True)
class _Stated:
    date: str
    age: int
    sex: _Sex | None


def _patient(patient_id: str, documents: list[Document]) -> Patient:
    """The patient with age and sex where the notes state them clearly and consistently.

    Age comes from the latest note that states one, provided every stated age fits the time
    the notes span (a stray age of a relative makes it ``None``). Sex is set only when every
    statement agrees.
    """
    stated = [
        _Stated(doc.date or "", int(m.group(1)), _sex_word(m.group(2)))
        for doc in documents
        for m in _AGE.finditer(doc.text)
    ]
    if not stated:
        return Patient(id=patient_id)
    ages = [s.age for s in stated]
    years = [int(s.date[:4]) for s in stated]
    consistent = max(ages) - min(ages) <= max(years) - min(years) + 1
    age = max(stated, key=lambda s: (s.date, s.age)).age if consistent else None
    sexes = {s.sex for s in stated if s.sex is not None}
    sex = sexes.pop() if len(sexes) == 1 else None
    return Patient(id=patient_id, age=age, sex=sex)


def _sex_word(word: str | None) -> _Sex | None:
    if word is None:
        return None
    return "female" if word.lower() in _FEMALE else "male"
