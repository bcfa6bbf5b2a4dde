"""Exact dense search: every chunk vector in memory, one matrix product per question.

Chroma's HNSW graph is approximate, and e5 vectors (all within a narrow cosine band) are its hard case. Built with
Chroma's defaults (ef_search 100, ef_construction 100, M 16), its top 5 held 0.71 of the exact top 5 on 10,000
synthetic vectors in that band, and on French QA with 11,751 chunks the gold paragraph for 34% of questions against
62% exact. That collection had been created with the defaults; the ef_search 400 tried afterwards most likely never
reached its graph (a changed ef_search reaches only a process that opens the index afterwards).

Created with the ``hnsw_*`` settings (ef_construction 200, M 32, ef_search 3200), it holds 1.0 of the exact top 5 at
10,000 synthetic chunks and 0.998 at 100,000 (33 ms a query there, against 15 ms for the exact scan).

So the exact scan is kept where it is cheap: up to ``exact_search_max_chunks`` (a setting, 50,000 by default), every
process holds the vectors, 3.7 to 5.4 KB a chunk with the float16 vectors of its sentences (measured: 36 MB at 10,000
chunks, 526 MB at 100,000, in each `aimf serve` or `aimf ui` process); a scan of 10,000 x 384 floats takes under
2 ms. Above, Chroma's index answers, and the memory stays in the Chroma server, once.
"""

from __future__ import annotations

import numpy as np
from langchain_core.documents import Document

from rag.lexical import matches


class DenseIndex:
    """Also holds each chunk's sentence vectors (float16), so the candidates of a search are scored without reading
    them back from Chroma (that read took about half of a search at 10,000 chunks)."""

    def __init__(self, docs: list[Document], vectors: np.ndarray, sentences: list[np.ndarray | None] | None = None):
        self.docs = docs
        matrix = np.asarray(vectors, dtype=np.float32)
        self.matrix = matrix.reshape(len(docs), -1) if docs else np.zeros((0, 0), np.float32)
        self.sentences = sentences if sentences is not None else [None] * len(docs)
        self.position = {d.id: i for i, d in enumerate(docs)}

    def __len__(self) -> int:
        return len(self.docs)

    def search(self, vector: list[float] | np.ndarray, k: int, where: dict | None = None) -> list[tuple[Document, float]]:
        """The k chunks most similar to the vector (cosine: the stored vectors are normalised), best first."""
        if not self.docs:
            return []
        scores = self.matrix @ np.asarray(vector, dtype=np.float32)
        if where:
            order = (i for i in np.argsort(-scores) if matches(self.docs[i].metadata, where))
        else:
            top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
            order = iter(top[np.argsort(-scores[top])])
        out: list[tuple[Document, float]] = []
        for i in order:
            out.append((self.docs[i], float(scores[i])))
            if len(out) >= k:
                break
        return out
