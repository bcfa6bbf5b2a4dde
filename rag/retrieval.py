"""Hybrid retrieval: dense (Chroma) + lexical (BM25), fused, behind LangChain's ``BaseRetriever`` interface.

Every returned chunk carries ``score`` (cosine similarity to the question, recomputed from the stored vector so
lexical-only hits get one too) and ``rank_score`` (the fused score that orders them).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Literal

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from rag.lexical import LexicalIndex
from rag.store import Store

Method = Literal["dense", "lexical", "hybrid", "hybrid_rerank"]
RRF_K = 60


def rrf(rankings: list[list[str]], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal rank fusion: robust to the two retrievers' incomparable score scales."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, cid in enumerate(ranking):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (k + rank + 1)
    return fused


class HybridRetriever(BaseRetriever):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Store
    embeddings: Any
    k: int = 5
    fetch_k: int = 30
    method: Method = "hybrid_rerank"
    # Weight of the cosine similarity against the normalised fused rank in the second stage.
    rerank_weight: float = 0.5
    refresh_seconds: float = 2.0

    _lexical: LexicalIndex | None = PrivateAttr(default=None)
    _lexical_count: int = PrivateAttr(default=-1)
    _checked_at: float = PrivateAttr(default=0.0)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    # --- the lexical index follows the collection ---------------------------------------------------------
    def lexical(self) -> LexicalIndex:
        now = time.monotonic()
        if self._lexical is not None and now - self._checked_at < self.refresh_seconds:
            return self._lexical
        with self._lock:
            count = self.store.count()
            self._checked_at = now
            if self._lexical is None or count != self._lexical_count:
                self._lexical = LexicalIndex(self.store.all_documents())
                self._lexical_count = count
            return self._lexical

    # --- retrieval ----------------------------------------------------------------------------------------
    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun | None = None, **kwargs: Any
    ) -> list[Document]:
        return self.search(query, k=kwargs.get("k"), where=kwargs.get("where"), method=kwargs.get("method"))

    def search(self, query: str, k: int | None = None, where: dict | None = None, method: Method | None = None,
               query_vector: list[float] | None = None) -> list[Document]:
        k = k or self.k
        method = method or self.method
        vector = query_vector if query_vector is not None else self.embeddings.embed_query(query)
        rankings: list[list[str]] = []
        if method != "lexical":
            rankings.append([d.id for d, _ in self.store.search(vector, self.fetch_k, where)])
        if method != "dense":
            rankings.append([d.id for d, _ in self.lexical().search(query, self.fetch_k, where)])
        fused = rrf(rankings)
        if not fused:
            return []
        candidates = sorted(fused, key=fused.get, reverse=True)[: max(k, self.fetch_k if method == "hybrid_rerank" else k)]
        docs = self._fetch_with_scores(candidates, vector)  # also drops ids deleted since the lexical index was built
        for d in docs:
            d.metadata["rank_score"] = fused[d.id]
        if method == "hybrid_rerank" and docs:
            best = max(fused[d.id] for d in docs)
            for d in docs:
                d.metadata["rank_score"] = (1 - self.rerank_weight) * fused[d.id] / best + self.rerank_weight * d.metadata["score"]
        docs.sort(key=lambda d: d.metadata["rank_score"], reverse=True)
        return docs[:k]

    def _fetch_with_scores(self, ids: list[str], vector: list[float]) -> list[Document]:
        res = self.store.collection().get(ids=ids, include=["documents", "metadatas", "embeddings"])
        q = np.asarray(vector, dtype=np.float32)
        out = []
        for cid, text, meta, emb in zip(res["ids"], res["documents"], res["metadatas"], res["embeddings"]):
            meta = dict(meta or {})
            meta["score"] = float(np.dot(np.asarray(emb, dtype=np.float32), q))
            out.append(Document(id=cid, page_content=text, metadata=meta))
        return out
