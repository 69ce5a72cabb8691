"""The local trial records: ``trials/random_trials.json`` (oncotrialLLM: an NCT id and one text
of brief summary plus eligibility criteria) and ClinicalTrials.gov API v2 study records
(``NCT*.json`` in ``trials/`` or ``mcode/``).

Every record is cut into clauses (summary sentences, inclusion and exclusion criteria) that
are verbatim slices of the record's text, so a quoted criterion occurs in the record by
construction. Parsed once per data directory and re-read when a file changes.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from magentic_health.errors import InputError
from magentic_health.tools._markers import names_in
from magentic_health.tools._text import clip

Section = Literal["summary", "inclusion", "exclusion"]

_DOCUMENT = re.compile(r"(?s)^(?P<summary>.*?)\n ;(?P<desc>NA|\n )?;\n(?P<criteria>.*)$")
_HEADING = re.compile(
    r"(?i)^(?:key\s+|general\s+|sub-protocol\s+)?(inclusion|exclusion)\b(?:\s+crit\w*)?[^.]{0,60}$"
)
_BULLET = re.compile(r"^(?:-{1,2}|[*•]|\d{1,2}[.)]|[a-z][.)]|\(\w{1,3}\))\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
NEGATION = re.compile(r"(?i)\b(?:exclud\w*|not eligible|ineligible|except\w*|other than)\b")
_STATUS = re.compile(r"(?i)\b(not yet recruiting|recruiting)\b")


@dataclass(frozen=True)
class Clause:
    """A summary sentence or one criterion: a verbatim slice of the record's text, and the
    biomarker names it mentions (found once, when the index is built)."""

    text: str
    section: Section
    names: frozenset[str] = frozenset()
    lower: str = ""
    """The text lower-cased, for cheap substring tests before a regex runs."""
    negated: bool = False
    """The clause itself excludes ("... are excluded", "except ...", "not eligible")."""

    @classmethod
    def of(cls, text: str, section: Section) -> Clause:
        return cls(text, section, names_in(text), text.lower(), bool(NEGATION.search(text)))


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the matcher reads it."""

    nct_id: str
    title: str
    status: str
    """API v2 ``overallStatus``; for text records only what the summary says, else "unknown"."""
    source: str
    document: str
    clauses: tuple[Clause, ...]
    conditions: tuple[str, ...] = ()
    sex: str | None = None
    """API v2 ``eligibilityModule.sex`` ("ALL", "FEMALE", "MALE"); None for text records."""
    minimum_age: str | None = None
    maximum_age: str | None = None

    @property
    def url(self) -> str:
        return f"https://clinicaltrials.gov/study/{self.nct_id}"


@dataclass(frozen=True)
class TrialIndex:
    """All records, sorted by NCT id."""

    records: tuple[TrialRecord, ...]
    build_seconds: float


_cache: dict[Path, tuple[tuple[tuple[str, int, int], ...], TrialIndex]] = {}
_lock = threading.Lock()


def trial_index(data_dir: Path) -> TrialIndex:
    """The records under ``data_dir``, cached until one of their files changes."""
    root = data_dir.resolve()
    text_set = root / "trials" / "random_trials.json"
    api_files = sorted({*root.glob("trials/NCT*.json"), *root.glob("mcode/NCT*.json")})
    files = ([text_set] if text_set.is_file() else []) + api_files
    if not files:
        raise InputError(
            f"{str(root / 'trials')!r}: no trial records (random_trials.json or NCT*.json); "
            "run 'magentic-health data fetch' or pass --data-dir"
        )
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    with _lock:
        cached = _cache.get(root)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        started = time.perf_counter()
        records: dict[str, TrialRecord] = {}
        if text_set.is_file():
            for record in _text_records(text_set):
                records[record.nct_id] = record
        for path in api_files:
            record = _api_record(path)
            records[record.nct_id] = record  # the structured record wins over the text one
        index = TrialIndex(
            tuple(records[k] for k in sorted(records)), time.perf_counter() - started
        )
        _cache[root] = (stamp, index)
        return index


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{str(path)!r}: not readable JSON ({exc})") from exc


def _text_records(path: Path) -> list[TrialRecord]:
    """Records of the oncotrialLLM set: ``{"trials": [{"id", "document"}]}``."""
    raw = _load_json(path)
    trials = raw.get("trials") if isinstance(raw, dict) else None
    if not isinstance(trials, list):
        raise InputError(f"{str(path)!r}: expected an object with a 'trials' list")
    out: list[TrialRecord] = []
    for n, item in enumerate(trials):
        nct, document = item.get("id"), item.get("document")
        if not isinstance(nct, str) or not isinstance(document, str):
            raise InputError(f"{str(path)!r}: trials[{n}] needs 'id' and 'document' strings")
        match = _DOCUMENT.match(document)
        if match is None:
            raise InputError(f"{str(path)!r}: trials[{n}] ({nct}): summary/criteria not found")
        summary = _sentences(document, match.start("summary"), match.end("summary"))
        criteria = _criteria(document, match.start("criteria"), match.end("criteria"))
        status = _STATUS.search(match.group("summary"))
        out.append(
            TrialRecord(
                nct_id=nct,
                title=clip(summary[0].text if summary else nct, 160),
                status=status.group(1).upper().replace(" ", "_") if status else "unknown",
                source=f"{path.parent.name}/{path.name}",
                document=document,
                clauses=tuple(summary + criteria),
            )
        )
    return out


def _api_record(path: Path) -> TrialRecord:
    """A ClinicalTrials.gov API v2 study: the protocol section's identification, status,
    conditions, description and eligibility modules."""
    raw = _load_json(path)
    try:
        protocol = raw["protocolSection"]
        ident = protocol["identificationModule"]
        nct, title = ident["nctId"], ident["briefTitle"]
        eligibility = protocol.get("eligibilityModule", {})
        summary = protocol.get("descriptionModule", {}).get("briefSummary", "")
        criteria = eligibility.get("eligibilityCriteria", "")
    except (KeyError, TypeError) as exc:
        raise InputError(
            f"{str(path)!r}: not a ClinicalTrials.gov API v2 study (missing {exc})"
        ) from exc
    acronym = ident.get("acronym")
    document = f"{summary}\n\n{criteria}"
    clauses = _sentences(document, 0, len(summary)) + _criteria(
        document, len(summary) + 2, len(document)
    )
    return TrialRecord(
        nct_id=nct,
        title=f"{title} ({acronym})" if acronym else title,
        status=protocol.get("statusModule", {}).get("overallStatus", "unknown"),
        source=f"{path.parent.name}/{path.name}",
        document=document,
        clauses=tuple(clauses),
        conditions=tuple(protocol.get("conditionsModule", {}).get("conditions", ())),
        sex=eligibility.get("sex"),
        minimum_age=eligibility.get("minimumAge"),
        maximum_age=eligibility.get("maximumAge"),
    )


def _sentences(text: str, start: int, end: int) -> list[Clause]:
    """The sentences of ``text[start:end]`` as verbatim slices (summary clauses)."""
    out: list[Clause] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        out.append(Clause.of(text[cursor : match.start()].strip(), "summary"))
        cursor = match.end()
    out.append(Clause.of(text[cursor:end].strip(), "summary"))
    return [c for c in out if c.text]


def _criteria(text: str, start: int, end: int) -> list[Clause]:
    """Criteria sentences with the section their heading gives them; items before any heading
    count as inclusion criteria. An item is a bullet and its wrapped continuation lines; a
    blank line, or a capitalised line after a finished sentence, starts a new one. Items are
    cut into sentences, so "Tumor has a G12C mutation. Note: prior KRAS therapy is
    excluded." admits on its first sentence and excludes on its second."""
    section: Section = "inclusion"
    items: list[tuple[int, int, Section]] = []
    open_item = False
    pos = start
    for line in text[start:end].splitlines(keepends=True):
        body = line.strip()
        offset = pos + line.find(body) if body else pos
        pos += len(line)
        if not body:
            open_item = False
            continue
        heading = _HEADING.match(_BULLET.sub("", body).strip(" *"))
        if heading:
            section = "exclusion" if heading.group(1).lower() == "exclusion" else "inclusion"
            open_item = False
            continue
        bullet = _BULLET.match(body)
        finished = open_item and text[items[-1][1] - 1] in ".:;" and body[0].isupper()
        if bullet or not open_item or finished:
            begin = offset + (bullet.end() if bullet else 0)
            items.append((begin, offset + len(body), section))
            open_item = True
        else:
            items[-1] = (items[-1][0], offset + len(body), items[-1][2])
    clauses: list[Clause] = []
    for a, b, kind in items:
        clauses.extend(
            Clause(c.text, kind, c.names, c.lower, c.negated) for c in _sentences(text, a, b)
        )
    return clauses
