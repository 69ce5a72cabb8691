"""The sample cases: small case files in the checkout's ``cases/`` folder.

They name their sources relative to the data directory, so they carry no patient data
themselves. ``magentic-health cases`` lists them and ``load_case`` accepts their names.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from magentic_health.case._casefile import CASE_FILE_SUFFIXES, DEFAULT_REQUEST, read_case_file


class SampleCase(BaseModel):
    """One sample case file, as listed for users."""

    model_config = ConfigDict(frozen=True)

    name: str
    """The file stem: what ``load_case`` and ``magentic-health run`` accept."""
    case_id: str
    description: str
    request: str
    path: Path


def default_cases_dir() -> Path:
    """The checkout's ``cases/`` folder (beside the package)."""
    return Path(__file__).resolve().parents[2] / "cases"


def _case_files(cases_dir: Path | None) -> list[Path]:
    folder = cases_dir if cases_dir is not None else default_cases_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in CASE_FILE_SUFFIXES)


def sample_case_names(cases_dir: Path | None = None) -> list[str]:
    """The names of the sample cases, sorted (without reading the files)."""
    return [p.stem for p in _case_files(cases_dir)]


def list_sample_cases(cases_dir: Path | None = None) -> list[SampleCase]:
    """Every sample case file, read and validated, sorted by name."""
    samples = []
    for path in _case_files(cases_dir):
        case_file = read_case_file(path)
        spec = case_file.spec
        samples.append(
            SampleCase(
                name=path.stem,
                case_id=spec.case_id or case_file.default_case_id(),
                description=spec.description or "",
                request=spec.request or DEFAULT_REQUEST,
                path=path,
            )
        )
    return samples


def find_sample_case(name: str, *, cases_dir: Path | None = None) -> Path | None:
    """The case file of the sample called ``name``, or None."""
    for path in _case_files(cases_dir):
        if path.stem == name:
            return path
    return None
