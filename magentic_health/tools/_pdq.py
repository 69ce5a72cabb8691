"""The NCI PDQ guideline summaries (``<data dir>/guidelines/*.md``) as ranked passages.

Each summary is cut at its ``##``/``###``/``####`` headings into passages that keep their
heading path ("Treatment of Stage IV NSCLC > Targeted therapy"); deeper headings stay inside
their passage. Reference lists, "Current Clinical Trials" boilerplate, "Latest Updates" and
"About This PDQ Summary" are not ranked. Only ``title`` and ``url`` are read from the front
matter (the rest of it is known to be wrong). The index is built once per data directory and
rebuilt when a file changes.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from magentic_health.errors import InputError
from magentic_health.tools._bm25 import BM25
from magentic_health.tools._oncology import CancerType, cancer_types

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_CITATION = re.compile(r"\[\[[^\]]*\]\([^)]*\)\]")
_IMAGE = re.compile(r"\[Enlarge\]\([^)]*\)|!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)(?:\s+\"[^\"]*\")?\)")
_UNRANKED_SECTIONS = re.compile(
    r"^(?:Latest Updates|About This PDQ Summary)|References\b|^Current Clinical Trials$"
)


@dataclass(frozen=True)
class Summary:
    """One PDQ summary file: its title (without the "(PDQ®) - NCI" suffix), url, cancer type."""

    file: str
    title: str
    url: str
    cancer_types: tuple[CancerType, ...]


@dataclass(frozen=True)
class Passage:
    """A section of a summary: heading path, display text (the stored words, see
    ``_display_text``) and the text BM25 indexes (without citation markers)."""

    file: str
    section: str
    headings: tuple[str, ...]
    text: str
    index_text: str


@dataclass(frozen=True)
class GuidelineIndex:
    """All passages of all summaries in one BM25 index."""

    summaries: dict[str, Summary]
    passages: tuple[Passage, ...]
    bm25: BM25
    build_seconds: float


_cache: dict[Path, tuple[tuple[tuple[str, int, int], ...], GuidelineIndex]] = {}
_lock = threading.Lock()


def guideline_index(data_dir: Path) -> GuidelineIndex:
    """The index for ``data_dir/guidelines``, cached until a file there changes."""
    folder = (data_dir / "guidelines").resolve()
    files = sorted(folder.glob("*.md")) if folder.is_dir() else []
    if not files:
        raise InputError(
            f"{str(folder)!r}: no guideline summaries (*.md); "
            "run 'magentic-health data fetch' or pass --data-dir"
        )
    stamp = tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    with _lock:
        cached = _cache.get(folder)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        started = time.perf_counter()
        summaries: dict[str, Summary] = {}
        passages: list[Passage] = []
        for path in files:
            summary, body = _read_summary(path)
            summaries[summary.file] = summary
            passages.extend(_passages(summary, body))
        bm25 = BM25([p.index_text for p in passages])
        index = GuidelineIndex(summaries, tuple(passages), bm25, time.perf_counter() - started)
        _cache[folder] = (stamp, index)
        return index


def _read_summary(path: Path) -> tuple[Summary, list[str]]:
    """The front matter's title and url, and the body lines."""
    text = path.read_text(encoding="utf-8")
    match = re.match(r"(?s)^---\n(.*?)\n---\n(.*)$", text)
    if match is None:
        raise InputError(f"{str(path)!r}: no YAML front matter; expected a PDQ markdown file")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise InputError(f"{str(path)!r}: front matter is not valid YAML ({exc})") from exc
    title, url = (meta or {}).get("title"), (meta or {}).get("url")
    if not isinstance(title, str) or not isinstance(url, str):
        raise InputError(f"{str(path)!r}: front matter needs 'title' and 'url' strings")
    title = re.sub(r"\s*\(PDQ®\)\s*(?:-\s*NCI)?\s*$", "", title).strip()
    summary = Summary(path.name, title, url, cancer_types(title))
    return summary, match.group(2).splitlines()


def _passages(summary: Summary, lines: list[str]) -> list[Passage]:
    """Passages at ``##``-``####`` headings; deeper headings stay in the text."""
    out: list[Passage] = []
    path: list[str] = []
    body: list[str] = []
    skipping = True  # text before the first ## heading is the title block

    def close() -> None:
        if not skipping and path and "".join(body).strip():
            out.append(_passage(summary, tuple(path), body))

    for line in lines:
        heading = _HEADING.match(line)
        level = len(heading.group(1)) if heading else 0
        if heading and 2 <= level <= 4:
            close()
            body = []
            path = [*path[: level - 2], heading.group(2)]
            skipping = any(_UNRANKED_SECTIONS.search(h) for h in path)
        elif heading and level >= 5 and heading.group(2).strip() == "References":
            close()
            body, skipping = [], True
        elif not skipping:
            body.append(line)
    close()
    return out


def _passage(summary: Summary, headings: tuple[str, ...], body: list[str]) -> Passage:
    stored = _display_text("\n".join(body).strip())
    plain = _LINK.sub(r"\1", _CITATION.sub("", _IMAGE.sub("", "\n".join(body))))
    plain = plain.replace("*", "")
    section = " > ".join(h.replace("*", "") for h in headings)
    return Passage(summary.file, section, headings, stored, f"{section}\n{plain}")


def _display_text(text: str) -> str:
    """The stored words with markup that does not travel removed: image links (PDQ images are
    not public domain), link targets (relative to cancer.gov: "[stage IV](/types/...)" reads
    "stage IV", "[[57](#cit/section_12.57)]" reads "[57]"), and deeper heading marks (bold)."""
    text = _LINK.sub(r"\1", _IMAGE.sub("", text))
    return re.sub(r"(?m)^#{5,6}\s+(.*?)\s*$", r"**\1**", text)
