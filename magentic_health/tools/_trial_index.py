"""The local trial records: ``trials/random_trials.json`` (oncotrialLLM: an NCT id and one text
of brief summary plus eligibility criteria) and ClinicalTrials.gov API v2 study records
(``NCT*.json`` in ``trials/`` or ``mcode/``, read by ``_trial_study``, as live studies are).

Every record is cut into clauses (summary sentences, inclusion and exclusion criteria) that
are verbatim slices of the record's text, so a quoted criterion occurs in the record by
construction. Parsed once per data directory and re-read when a file changes; live records
are merged into a copy of the index for one call (``with_records``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from magentic_health.errors import InputError
from magentic_health.tools._markers import names_in
from magentic_health.tools._text import clip
from magentic_health.tools._trial_study import Study, StudyError, parse_study, protocol_only

Section = Literal["summary", "inclusion", "exclusion"]

_DOCUMENT = re.compile(r"(?s)^(?P<summary>.*?)\n ;(?P<desc>NA|\n )?;\n(?P<criteria>.*)$")
_HEADING = re.compile(
    r"(?i)^(?:key\s+|general\s+|sub-protocol\s+)?(inclusion|exclusion)\b(?:\s+crit\w*)?[^.]{0,60}$"
)
_BULLET = re.compile(r"^(?:-{1,2}|[*•]|\d{1,2}[.)]|[a-z][.)]|\(\w{1,3}\))\s+")
_SENTENCE_END = re.compile(r"[.!?]\s+(?=[A-Z(])")
"""A sentence's closing mark and the space after it (the mark stays with the sentence)."""
NEGATION = re.compile(r"(?i)\b(?:exclud\w*|not eligible|ineligible|except\w*|other than)\b")
_NEGATION_HINTS = ("exclud", "eligible", "except", "other than")
"""Each alternative of NEGATION contains one of these: most clauses need no regex."""
_STATUS = re.compile(r"(?i)\b(not yet recruiting|recruiting)\b")


@dataclass(frozen=True)
class Clause:
    """A summary sentence or one criterion: a verbatim slice of the record's text.

    What the matcher asks of every clause on every call (the biomarker names it mentions,
    whether it excludes) is worked out on first use and kept, so building the index is only
    parsing and later calls are attribute look-ups."""

    text: str
    section: Section

    @cached_property
    def names(self) -> frozenset[str]:
        """The biomarker names the clause mentions."""
        return names_in(self.text)

    @cached_property
    def negated(self) -> bool:
        """The clause itself excludes ("... are excluded", "except ...", "not eligible")."""
        low = self.text.lower()
        return any(h in low for h in _NEGATION_HINTS) and NEGATION.search(self.text) is not None


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

    @cached_property
    def admitting(self) -> tuple[Clause, ...]:
        """Summary sentences and inclusion criteria that do not themselves exclude anyone."""
        return tuple(c for c in self.clauses if c.section != "exclusion" and not c.negated)


@dataclass(frozen=True)
class TrialIndex:
    """All records, sorted by NCT id."""

    records: tuple[TrialRecord, ...]
    build_seconds: float


def with_records(index: TrialIndex, records: Iterable[TrialRecord]) -> TrialIndex:
    """The index with ``records`` added; a record replaces the one with the same NCT id (live
    records take precedence over stale local copies)."""
    merged = {r.nct_id: r for r in index.records}
    merged.update((r.nct_id, r) for r in records)
    return TrialIndex(tuple(merged[k] for k in sorted(merged)), index.build_seconds)


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
    """A study file in the data directory: an API v2 record, of which only the protocol
    section is parsed."""
    try:
        raw = protocol_only(path.read_text(encoding="utf-8"))
        study = parse_study(raw)
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{str(path)!r}: not readable JSON ({exc})") from exc
    except StudyError as exc:
        raise InputError(f"{str(path)!r}: not a ClinicalTrials.gov API v2 study ({exc})") from exc
    return study_record(study, source=f"{path.parent.name}/{path.name}")


def study_record(study: Study, *, source: str) -> TrialRecord:
    """A trial record from an API v2 study, wherever it came from (``source`` says where)."""
    protocol = study.protocol_section
    ident, eligibility = protocol.identification_module, protocol.eligibility_module
    summary = protocol.description_module.brief_summary
    document = f"{summary}\n\n{eligibility.eligibility_criteria}"
    clauses = _sentences(document, 0, len(summary)) + _criteria(
        document, len(summary) + 2, len(document)
    )
    return TrialRecord(
        nct_id=ident.nct_id,
        title=f"{ident.brief_title} ({ident.acronym})" if ident.acronym else ident.brief_title,
        status=protocol.status_module.overall_status,
        source=source,
        document=document,
        clauses=tuple(clauses),
        conditions=protocol.conditions_module.conditions,
        sex=eligibility.sex,
        minimum_age=eligibility.minimum_age,
        maximum_age=eligibility.maximum_age,
    )


def _sentences(text: str, start: int, end: int, section: Section = "summary") -> list[Clause]:
    """The sentences of ``text[start:end]`` as verbatim slices."""
    cuts = [start]
    for match in _SENTENCE_END.finditer(text, start, end):
        cuts += [match.start() + 1, match.end()]
    cuts.append(end)
    pieces = (text[a:b].strip() for a, b in zip(cuts[::2], cuts[1::2], strict=True))
    return [Clause(piece, section) for piece in pieces if piece]


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
        # every heading names inclusion or exclusion: a substring test spares the regexes
        heading = (
            _HEADING.match(_BULLET.sub("", body).strip(" *")) if "clusion" in body.lower() else None
        )
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
    return [clause for a, b, kind in items for clause in _sentences(text, a, b, kind)]
