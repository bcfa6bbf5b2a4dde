"""Lexical retrieval over the same chunks as the dense index: BM25 on French-aware tokens (rank-bm25)."""

from __future__ import annotations

import numpy as np
from langchain_core.documents import Document
from rank_bm25 import BM25Okapi

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
        self.vocabulary: set[str] = set()
        corpus = []
        for d in docs:
            toks = tokens(f"{d.metadata.get('title', '')} {d.page_content}")
            corpus.append(toks)
            self.vocabulary.update(toks)
        self.bm25 = BM25Okapi(corpus) if corpus else None
        self.position = {d.id: i for i, d in enumerate(docs)}

    def __len__(self) -> int:
        return len(self.docs)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk (zeros when no query word is in the vocabulary)."""
        q = [t for t in tokens(query) if t in self.vocabulary]
        if not q or self.bm25 is None:
            return np.zeros(len(self.docs))
        return self.bm25.get_scores(q)

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
