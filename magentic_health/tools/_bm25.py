"""Okapi BM25 ranking over a fixed list of texts (the guideline passages).

Small on purpose: a tokenizer, document frequencies built once, and a scorer. Deterministic:
ties keep document order.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_TOKEN = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "been", "by", "for", "from", "has", "have",
        "in", "into", "is", "it", "its", "of", "on", "or", "that", "the", "their", "this", "to",
        "was", "were", "which", "with", "who", "whom", "will", "not", "no", "than", "such",
        "these", "those", "may", "can", "also", "other", "after", "before", "during",
    }
)  # fmt: skip


def tokenize(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens without stopwords and single characters."""
    return [t for t in _TOKEN.findall(text.lower()) if len(t) > 1 and t not in _STOPWORDS]


class BM25:
    """A BM25 index over ``texts``; ``k1`` and ``b`` are the usual Okapi parameters."""

    def __init__(self, texts: Sequence[str], *, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._tf = [Counter(tokenize(t)) for t in texts]
        self._len = [sum(tf.values()) for tf in self._tf]
        self._avg = (sum(self._len) / len(self._len)) if self._len else 0.0
        df: Counter[str] = Counter()
        for tf in self._tf:
            df.update(tf.keys())
        n = len(self._tf)
        self._idf = {term: math.log(1 + (n - f + 0.5) / (f + 0.5)) for term, f in df.items()}

    def idf(self, term: str) -> float:
        """Inverse document frequency of a token (0 for a token no document has)."""
        return self._idf.get(term, 0.0)

    def __len__(self) -> int:
        return len(self._tf)

    def score(self, query: str, index: int) -> float:
        """BM25 score of document ``index`` for ``query`` (repeated query terms count once)."""
        tf = self._tf[index]
        norm = self.k1 * (1 - self.b + self.b * self._len[index] / (self._avg or 1.0))
        total = 0.0
        for term in dict.fromkeys(tokenize(query)):
            f = tf.get(term, 0)
            if f:
                total += self._idf[term] * f * (self.k1 + 1) / (f + norm)
        return total

    def rank(self, query: str, *, among: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """(document index, score) for documents with a positive score, best first."""
        candidates = range(len(self._tf)) if among is None else among
        scored = [(i, self.score(query, i)) for i in candidates]
        hits = [(i, s) for i, s in scored if s > 0]
        hits.sort(key=lambda pair: (-pair[1], pair[0]))
        return hits
