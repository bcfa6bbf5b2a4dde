"""Lexical retrieval over the same chunks as the dense index: BM25 on French-aware tokens.

Scoring is bm25s's (a sparse matrix: one product per question instead of a loop over every chunk). The IDF that
other parts weigh words with (question coverage, the relevance estimate fitted on it) keeps Okapi's formula:
log((N - n + 0.5) / (n + 0.5)), with negative values raised to a quarter of the average, as rank-bm25 computes it.
"""

from __future__ import annotations

import math
from collections import Counter

import bm25s
import numpy as np
from langchain_core.documents import Document

from rag.text import tokens


def matches(meta: dict, where: dict | None) -> bool:
    """Evaluate the subset of Chroma's ``where`` syntax the assistant uses ($and, $or, $eq, $ne, $in, $nin)."""
    if not where:
        return True
    for key, cond in where.items():
        if key == "$and":
            if not all(matches(meta, c) for c in cond):
                return False
            continue
        if key == "$or":
            if not any(matches(meta, c) for c in cond):
                return False
            continue
        value = meta.get(key)
        if isinstance(cond, dict):
            for op, arg in cond.items():
                ok = {
                    "$eq": lambda: value == arg,
                    "$ne": lambda: value != arg,
                    "$in": lambda: value in arg,
                    "$nin": lambda: value not in arg,
                    "$gt": lambda: value is not None and value > arg,
                    "$gte": lambda: value is not None and value >= arg,
                    "$lt": lambda: value is not None and value < arg,
                    "$lte": lambda: value is not None and value <= arg,
                }.get(op, lambda: False)()
                if not ok:
                    return False
        elif value != cond:
            return False
    return True


class LexicalIndex:
    """Built once from the collection's chunks and rebuilt when the collection changes, never per question."""

    def __init__(self, docs: list[Document]):
        self.docs = docs
        corpus = [tokens(f"{d.metadata.get('title', '')} {d.page_content}") for d in docs]
        frequencies = Counter(t for toks in corpus for t in set(toks))
        self.vocabulary: set[str] = set(frequencies)
        self._idf = okapi_idf(frequencies, len(corpus))
        self.bm25: bm25s.BM25 | None = None
        if self.vocabulary:
            self.bm25 = bm25s.BM25(k1=1.5, b=0.75)
            self.bm25.index(corpus, show_progress=False)
        self.position = {d.id: i for i, d in enumerate(docs)}

    def idf(self, term: str) -> float | None:
        """IDF of a (normalised) term; None for a word the corpus never uses."""
        return self._idf.get(term)

    def __len__(self) -> int:
        return len(self.docs)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk (zeros when no query word is in the vocabulary)."""
        q = [t for t in tokens(query) if t in self.vocabulary]
        if not q or self.bm25 is None:
            return np.zeros(len(self.docs))
        return self.bm25.get_scores(q).astype(np.float64)

    def search(self, query: str, k: int, where: dict | None = None,
               scores: np.ndarray | None = None) -> list[tuple[Document, float]]:
        scores = self.scores(query) if scores is None else scores
        order = np.argsort(-scores)
        out: list[tuple[Document, float]] = []
        for i in order:
            if scores[i] <= 0 or len(out) >= k:
                break
            if matches(self.docs[i].metadata, where):
                out.append((self.docs[i], float(scores[i])))
        return out


def okapi_idf(frequencies: Counter, n_docs: int, epsilon: float = 0.25) -> dict[str, float]:
    idf = {t: math.log(n_docs - n + 0.5) - math.log(n + 0.5) for t, n in frequencies.items()}
    floor = epsilon * (sum(idf.values()) / len(idf)) if idf else 0.0
    return {t: (v if v >= 0 else floor) for t, v in idf.items()}
