"""Keyword search over the case's documents: BM25 ranking, one verbatim snippet per hit.

A query word that names an oncology drug also finds its other names (brand and generic:
"Keytruda" finds "pembrolizumab"), since notes and orders use either.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from magentic_health.case import Case, Document
from magentic_health.reply import Evidence, Finding
from magentic_health.tools._base import ToolContext, ToolOutput, ToolSpec
from magentic_health.tools._bm25 import BM25, tokenize
from magentic_health.tools._text import window
from magentic_health.tools._vocab import drug_aliases

__all__ = ["SPEC", "NoteHit", "query_terms", "search_notes"]

SNIPPET = 240
# Words of an instruction that say what to do rather than what to look for.
_INSTRUCTION_WORDS_TEXT = (
    "please find search look show list give tell me us all any about regarding patient "
    "patients note notes record records document documents mention mentions mentioned what "
    "when where which how does did do summarize summarise summary review prepare check"
)
_INSTRUCTION_WORDS = frozenset(_INSTRUCTION_WORDS_TEXT.split())


class NoteHit(BaseModel):
    """One matching document: where it is, how well it matched, and a verbatim snippet."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    date: str | None
    type: str
    score: float
    terms: tuple[str, ...]
    """The query terms the document contains."""
    snippet: str
    """A slice of the document text around the rarest matched term."""


def query_terms(text: str) -> list[str]:
    """The search terms of a free-text instruction: its tokens without stopwords and without
    instruction words ("find", "notes", "patient")."""
    return [t for t in dict.fromkeys(tokenize(text)) if t not in _INSTRUCTION_WORDS]


def _term_pattern(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", re.IGNORECASE)


def _snippet(doc: Document, terms: list[str]) -> str:
    """The text around the first occurrence of the first of ``terms`` found."""
    for term in terms:
        match = _term_pattern(term).search(doc.text)
        if match:
            return window(doc.text, 0, len(doc.text), match.start(), limit=SNIPPET)
    return window(doc.text, 0, len(doc.text), 0, limit=SNIPPET)


def _with_drug_names(terms: list[str]) -> list[str]:
    """The terms, each drug name followed by the drug's other names."""
    out = [t for term in terms for t in (term, *tokenize(" ".join(drug_aliases(term))))]
    return list(dict.fromkeys(out))


def search_notes(case: Case, query: str, *, limit: int = 5) -> list[NoteHit]:
    """The documents best matching ``query`` (case-insensitive, BM25), at most ``limit``."""
    terms = _with_drug_names(query_terms(query) or list(dict.fromkeys(tokenize(query))))
    docs = [doc for doc in case.documents if doc.text.strip()]
    if not terms or not docs or limit <= 0:
        return []
    index = BM25([doc.text for doc in docs])
    query_text = " ".join(terms)
    hits: list[NoteHit] = []
    for position, score in index.rank(query_text)[:limit]:
        doc = docs[position]
        present = set(tokenize(doc.text))
        matched = sorted((t for t in terms if t in present), key=lambda t: -index.idf(t))
        hits.append(
            NoteHit(
                doc_id=doc.id,
                date=doc.date,
                type=doc.type,
                score=round(score, 4),
                terms=tuple(matched),
                snippet=_snippet(doc, matched),
            )
        )
    return hits


def _run(ctx: ToolContext) -> ToolOutput:
    terms = query_terms(ctx.instruction)
    if not terms:
        return ToolOutput(
            text="## Note search\n\nThe instruction names no search terms.",
            gaps=(f"no search terms in the instruction {ctx.instruction[:80]!r}",),
        )
    hits = search_notes(ctx.case, " ".join(terms))
    lines = [f"## Note search: {' '.join(terms)}", ""]
    lines += [
        f"- {h.date or 'undated'} {h.type} [{h.doc_id}] ({', '.join(h.terms)}): “{h.snippet}”"
        for h in hits
    ]
    findings = tuple(
        Finding(
            claim=f"{h.type} ({h.date or 'undated'}) mentions {', '.join(h.terms)}",
            evidence=(Evidence(doc_id=h.doc_id, quote=h.snippet),),
        )
        for h in hits
    )
    gaps = () if hits else (f"no document mentions {' '.join(terms)!r}",)
    return ToolOutput(
        text="\n".join(lines) if hits else f"## Note search: {' '.join(terms)}\n\nNo matches.",
        findings=findings,
        gaps=gaps,
        data={"query": terms, "hits": [h.model_dump(mode="json") for h in hits]},
    )


SPEC = ToolSpec(
    name="search_notes",
    description=(
        "Keyword search (BM25) over the case's notes, reports and FHIR resources; returns the "
        "best matching documents with a verbatim snippet around the match."
    ),
    run=_run,
)
