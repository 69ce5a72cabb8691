"""Recall of the tools against what a clinician reading each shared dataset expects.

The expectations (``tests/expectations/*.yaml``, format and matching rules in the README there)
were written from the source documents. Each tool runs through its ``SPEC`` with a realistic
upstream (the ``patient_status`` output for the tools that depend on it); recall per tool and
dataset must be at least ``MIN_RECALL``, and every quote a tool returns must occur verbatim in the
document it cites.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from _quotes import assert_quotes_in_documents, evidence_in_data

from magentic_health.case import Case, load_case
from magentic_health.tools import ToolContext, ToolOutput, get_tool

MIN_RECALL = 0.9
EXPECTATIONS = Path(__file__).parent / "expectations"
FILES = sorted(p.name for p in EXPECTATIONS.glob("*.yaml"))
TOOLS = (
    "patient_status",
    "patient_timeline",
    "radiology",
    "search_notes",
    "clinical_trials",
    "clinical_guidelines",
)
Fact = dict[str, Any]


@cache
def _expectations(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXPECTATIONS / name).read_text(encoding="utf-8"))
    return loaded


@cache
def _case(data_dir: Path, dataset: str) -> Case:
    return load_case(data_dir / dataset)


@cache
def _status(data_dir: Path, dataset: str) -> ToolOutput:
    case = _case(data_dir, dataset)
    ctx = ToolContext(case=case, instruction=case.request, data_dir=data_dir)
    return get_tool("patient_status").run(ctx)


def _run(data_dir: Path, dataset: str, tool: str, instruction: str | None = None) -> ToolOutput:
    """The tool's output on the dataset, with the patient status as upstream."""
    if tool == "patient_status":
        return _status(data_dir, dataset)
    case = _case(data_dir, dataset)
    ctx = ToolContext(
        case=case,
        instruction=instruction or case.request,
        data_dir=data_dir,
        upstream={"patient_status": _status(data_dir, dataset)},
    )
    return get_tool(tool).run(ctx)


def _norm(text: object) -> str:
    return " ".join(str(text).lower().split())


def _has_all(text: str, keywords: list[Any]) -> bool:
    flat = _norm(text)
    return all(_norm(k) in flat for k in keywords)


def _quotes(evidence: list[dict[str, Any]]) -> str:
    return " ".join(e["quote"] for e in evidence)


def _near(actual: str | None, wanted: str, tolerance: int) -> bool:
    """``actual`` is ``wanted`` (a ``YYYY-MM`` month matches any day of it) within the
    tolerance in days."""
    if not actual:
        return False
    if len(wanted) == 7:
        return actual.startswith(wanted)
    if len(actual) != 10:
        return False
    return abs((date.fromisoformat(actual) - date.fromisoformat(wanted)).days) <= tolerance


# --- patient_status -----------------------------------------------------------------------


def _status_match(fact: Fact, out: ToolOutput) -> bool:
    data, field = out.data, fact["field"]
    if field == "biomarker":
        return any(
            _norm(m["name"]) == _norm(fact["name"]) and _norm(fact["value"]) in _norm(m["result"])
            for m in data["biomarkers"]
        )
    if field == "treatment":
        return any(_treatment_match(fact, t) for t in data["treatments"])
    if field in ("conflict", "gap"):
        texts = data["conflicts"] if field == "conflict" else out.gaps
        return any(_has_all(t, fact["keywords"]) for t in texts)
    value = data.get(field)
    if isinstance(value, dict):
        value = value["value"]
    if value is None:
        return False
    if field in ("stage_tnm", "stage_group", "age", "sex"):
        return _norm(value).replace(" ", "") == _norm(fact["value"]).replace(" ", "")
    return _norm(fact["value"]) in _norm(value)


def _treatment_match(fact: Fact, line: dict[str, Any]) -> bool:
    if not _has_all(line["value"], fact["keywords"]):
        return False
    tolerance = fact.get("tolerance_days", 0)
    if "start" in fact and not _near(line["date"], str(fact["start"]), tolerance):
        return False
    return "end" not in fact or f"to {fact['end']}" in line["value"]


# --- patient_timeline ---------------------------------------------------------------------


def _timeline_match(fact: Fact, out: ToolOutput) -> bool:
    wanted, tolerance = str(fact["date"]), fact.get("tolerance_days", 0)
    for event in out.data["events"]:
        if event["category"] != fact["category"]:
            continue
        dates = [event["date"], event["end_date"], *event["other_dates"]]
        if not any(_near(d, wanted, tolerance) for d in dates):
            continue
        if "end_date" in fact and event["end_date"] != str(fact["end_date"]):
            continue
        if fact.get("planned") and not event["planned"]:
            continue
        if _has_all(event["summary"] + " " + _quotes(event["evidence"]), fact["keywords"]):
            return True
    return False


# --- radiology ----------------------------------------------------------------------------


def _study_text(study: dict[str, Any]) -> str:
    parts = [study["description"]]
    parts += [f["text"] + " " + f["evidence"]["quote"] for f in study["findings"]]
    parts += [f["evidence"]["quote"] for f in study["also_reported"]]
    if study["comparison"]:
        parts.append(study["comparison"]["text"])
    parts += [f"{c['lesion']} {c['current']} {c['prior']}" for c in study["changes"]]
    return " ".join(parts)


def _radiology_match(fact: Fact, out: ToolOutput) -> bool:
    if "image" in fact:
        return any(image["id"] == fact["image"] for image in out.data["images"])
    if "gap" in fact:
        return any(_has_all(g, fact["gap"]) for g in out.gaps)
    wanted, tolerance = str(fact["date"]), fact.get("tolerance_days", 0)
    for study in out.data["studies"]:
        dates = [study["date"], *study["other_dates"]]
        if study["modality"] != fact["modality"]:
            continue
        if any(_near(d, wanted, tolerance) for d in dates) and _has_all(
            _study_text(study), fact["keywords"]
        ):
            return True
    return False


# --- search_notes, clinical_trials, clinical_guidelines -------------------------------------


def _search_match(fact: Fact, out: ToolOutput, case: Case) -> bool:
    for hit in out.data.get("hits", []):
        doc = case.document(hit["doc_id"])
        if doc is None or ("doc" in fact and doc.id != fact["doc"]):
            continue
        if "type" in fact and doc.type != fact["type"]:
            continue
        if _has_all(doc.text, fact.get("keywords", [])):
            return True
    return False


def _trial_match(fact: Fact, out: ToolOutput) -> bool:
    return any(t.get("nct_id") == fact["nct_id"] for t in out.data.get("trials", []))


def _guideline_match(fact: Fact, out: ToolOutput) -> bool:
    return any(
        p["file"] == fact["file"] and _has_all(p["section"], fact["section_keywords"])
        for p in out.data.get("passages", [])
    )


# --- recall -------------------------------------------------------------------------------


def _describe(fact: Fact) -> str:
    shown = {k: v for k, v in fact.items() if k not in ("source", "why")}
    return json.dumps(shown, default=str)


def _recall(data_dir: Path, dataset: str, tool: str, facts: list[Fact]) -> list[str]:
    """The facts the tool misses, described."""
    case = _case(data_dir, dataset)
    matchers: dict[str, Callable[[Fact, ToolOutput], bool]] = {
        "patient_status": _status_match,
        "patient_timeline": _timeline_match,
        "radiology": _radiology_match,
        "clinical_trials": _trial_match,
        "clinical_guidelines": _guideline_match,
    }
    if tool == "search_notes":
        return [
            _describe(f)
            for f in facts
            if not _search_match(f, _run(data_dir, dataset, tool, f["query"]), case)
        ]
    out = _run(data_dir, dataset, tool)
    return [_describe(f) for f in facts if not matchers[tool](f, out)]


def _pairs() -> Iterator[tuple[str, str]]:
    for name in FILES:
        for tool in TOOLS:
            if _expectations(name).get(tool):
                yield name, tool


@pytest.mark.parametrize(("name", "tool"), list(_pairs()))
def test_recall(data_dir: Path, name: str, tool: str) -> None:
    spec = _expectations(name)
    facts: list[Fact] = spec[tool]
    misses = _recall(data_dir, spec["dataset"], tool, facts)
    recall = 1 - len(misses) / len(facts)
    assert recall >= MIN_RECALL, (
        f"{tool} on {spec['dataset']}: recall {recall:.2f} ({len(facts) - len(misses)}/"
        f"{len(facts)}); missed:\n" + "\n".join(misses)
    )


def test_every_dataset_has_expectations_for_the_patient_tools() -> None:
    assert len(FILES) == 6
    for name in FILES:
        spec = _expectations(name)
        for tool in ("patient_status", "patient_timeline", "radiology", "search_notes"):
            assert spec.get(tool), f"{name}: no {tool} expectations"


# --- the expectations cite the data, the tools cite the documents --------------------------


def _source_text(data_dir: Path, dataset: str, source: dict[str, Any]) -> str:
    if "doc" in source:
        doc = _case(data_dir, dataset).document(source["doc"])
        assert doc is not None, f"{dataset}: unknown document {source['doc']!r}"
        return doc.text
    path = data_dir / source["file"]
    if "trial" in source:
        records = json.loads(path.read_text(encoding="utf-8"))["trials"]
        text = next(r["document"] for r in records if r["id"] == source["trial"])
        return " ".join(text.split())
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", FILES)
def test_every_expectation_cites_its_source(data_dir: Path, name: str) -> None:
    spec = _expectations(name)
    checked = 0
    for tool in TOOLS:
        for fact in spec.get(tool, []):
            source = fact["source"]
            if "absent" in source:
                continue
            text = _source_text(data_dir, spec["dataset"], source)
            quote = source["quote"] if "trial" not in source else " ".join(source["quote"].split())
            assert quote in text, f"{name} {tool}: {quote!r} not in {source}"
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("tool", [*TOOLS[:4]])
def test_every_returned_quote_occurs_in_its_document(data_dir: Path, name: str, tool: str) -> None:
    spec = _expectations(name)
    case = _case(data_dir, spec["dataset"])
    query = spec["search_notes"][0]["query"] if tool == "search_notes" else None
    out = _run(data_dir, spec["dataset"], tool, query)
    evidence = [e for f in out.findings for e in f.evidence] + list(evidence_in_data(out.data))
    checked = assert_quotes_in_documents(case, evidence)
    assert checked > 0 or (not out.findings and out.gaps), "no quotes and no gap to say why"
