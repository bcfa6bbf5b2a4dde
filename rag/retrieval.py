"""Hybrid retrieval: dense (Chroma) + lexical (BM25), fused, behind LangChain's ``BaseRetriever`` interface.

Every returned chunk carries ``score`` (cosine similarity to the question, recomputed from the stored vector so
lexical-only hits get one too), ``sentence_score`` (cosine of its closest sentence, from the sentence vectors stored
with it; its ``score`` when it has none) and ``rank_score`` (the fused score that orders them).

Methods: ``dense``, ``lexical``, ``hybrid`` (reciprocal rank fusion), ``hybrid_scores`` (z-score fusion of
dense and lexical) and ``hybrid_rerank`` (the default: the same fusion with the closest-sentence score as a third,
equal signal; measured on French QA in the README).
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

from rag.dense import DenseIndex
from rag.lexical import LexicalIndex
from rag.sentences import META_KEY, decode, sentence_keys, strip
from rag.store import Store

Method = Literal["dense", "lexical", "hybrid", "hybrid_scores", "hybrid_rerank"]
SCORE_FUSION = ("hybrid_scores", "hybrid_rerank")
RRF_K = 60
# Weight of the dense side in score fusion; the two sides were about as strong alone on French QA (see README).
DENSE_WEIGHT = 0.5


def standardise(values: np.ndarray) -> np.ndarray:
    """z-scores over the candidates: unlike a min-max rescale, one outlying candidate does not squeeze the others
    together (measured on French QA: MRR@10 +0.002 on each half of the split, +0.003 at 11,751 chunks)."""
    spread = float(values.std()) if len(values) else 0.0
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


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
    # Receives (sentence texts, their stored vectors) of every fetched chunk: the extractive writer's cache.
    sentence_cache: Any = None
    dense_weight: float = DENSE_WEIGHT
    # How often the in-memory indexes check the collection's size: every search (~1 ms), so a document is found
    # as soon as it is indexed (dense search reads these indexes too).
    refresh_seconds: float = 0.0
    ids_refresh_seconds: float = 30.0  # how often it checks the ids themselves

    # Above this many chunks, dense search uses Chroma's HNSW index instead of an exact scan (see rag/dense.py).
    exact_max_chunks: int = 50_000

    _lexical: LexicalIndex | None = PrivateAttr(default=None)
    _dense: DenseIndex | None = PrivateAttr(default=None)
    _lexical_ids: frozenset = PrivateAttr(default=frozenset())
    _checked_at: float = PrivateAttr(default=0.0)
    _ids_checked_at: float = PrivateAttr(default=0.0)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    # --- the in-memory indexes (lexical, and dense up to exact_max_chunks) follow the collection ---------------------------------------------------------
    def lexical(self, fresh: bool = True) -> LexicalIndex:
        """The lexical index, brought up to date with the collection first unless ``fresh`` is False (callers that
        read it many times for one question: the search just before has refreshed it)."""
        now = time.monotonic()
        if self._lexical is not None and (not fresh or now - self._checked_at < self.refresh_seconds):
            return self._lexical
        with self._lock:
            self._checked_at = now
            count = self.store.count()
            stale = self._lexical is None or count != len(self._lexical)
            if not stale and now - self._ids_checked_at >= self.ids_refresh_seconds:
                # An edited document replaces its chunks and may keep their number: compare the ids too, less
                # often (listing 10,000 ids takes ~45 ms).
                stale = frozenset(self.store.ids()) != self._lexical_ids
                self._ids_checked_at = now
            if stale:
                exact = count <= self.exact_max_chunks
                docs, vectors, sentences = self.store.all_with_vectors(vectors=exact)
                self._lexical = LexicalIndex(docs)
                self._dense = DenseIndex(docs, np.asarray(vectors), sentences) if exact else None
                self._lexical_ids = frozenset(d.id for d in docs)
                self._ids_checked_at = now
            return self._lexical

    def dense_search(self, vector: list[float], k: int, where: dict | None = None) -> list[tuple[Document, float]]:
        """Exact scan of the vectors held in memory; Chroma's (approximate) index for a collection too large."""
        self.lexical()  # refreshes both indexes
        if self._dense is not None:
            return self._dense.search(vector, k, where)
        return self.store.search(vector, k, where)

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
        dense_hits = self.dense_search(vector, self.fetch_k, where) if method != "lexical" else []
        lexical = self.lexical(fresh=method == "lexical") if method != "dense" else None  # dense_search refreshed it
        bm25 = lexical.scores(query) if lexical is not None else None
        lexical_hits = lexical.search(query, self.fetch_k, where, scores=bm25) if lexical is not None else []
        if method in SCORE_FUSION:
            pool = list(dict.fromkeys([d.id for d, _ in dense_hits] + [d.id for d, _ in lexical_hits]))
        else:
            fused = rrf([[d.id for d, _ in hits] for hits in (dense_hits, lexical_hits) if hits])
            pool = sorted(fused, key=fused.get, reverse=True)
        if not pool:
            return []
        docs = self._fetch_with_scores(pool, vector)  # also drops ids deleted since the lexical index was built
        if method in SCORE_FUSION:
            # Score fusion: each side's scores standardised over the candidates, then mixed.
            cos = np.array([d.metadata["score"] for d in docs])
            lex = np.array([bm25[lexical.position[d.id]] if d.id in lexical.position else 0.0 for d in docs])
            mixed = self.dense_weight * standardise(cos) + (1 - self.dense_weight) * standardise(lex)
            if method == "hybrid_rerank":
                # Questions are usually answered by one sentence: a chunk is also as close as its closest one.
                # Equal weight to the three signals (not tuned).
                mixed = (2 * mixed + standardise(np.array([d.metadata["sentence_score"] for d in docs]))) / 3
            for d, m in zip(docs, mixed):
                d.metadata["rank_score"] = float(m)
        else:
            for d in docs:
                d.metadata["rank_score"] = fused[d.id]
        # Equal fused scores are common with RRF (first on one side only, on either side): the closer in meaning first.
        docs.sort(key=lambda d: (d.metadata["rank_score"], d.metadata["score"]), reverse=True)
        return docs[:k]

    def _fetch_with_scores(self, ids: list[str], vector: list[float]) -> list[Document]:
        """The candidates with their scores: from the in-memory index when it holds the vectors, else from Chroma
        (which also drops ids deleted since the lexical index was built)."""
        dense = self._dense
        if dense is not None:
            rows = [dense.position[cid] for cid in ids if cid in dense.position]
            found = [(dense.docs[i].id, dense.docs[i].page_content, dict(dense.docs[i].metadata), dense.matrix[i],
                      dense.sentences[i]) for i in rows]
        else:
            res = self.store.collection().get(ids=ids, include=["documents", "metadatas", "embeddings"])
            found = [(cid, text, strip(meta), emb, decode((meta or {}).get(META_KEY)))
                     for cid, text, meta, emb in zip(res["ids"], res["documents"], res["metadatas"], res["embeddings"])]
        q = np.asarray(vector, dtype=np.float32)
        out = []
        for cid, text, meta, emb, sentences in found:
            sentences = sentences.astype(np.float32) if sentences is not None else None
            meta["score"] = float(np.dot(np.asarray(emb, dtype=np.float32), q))
            meta["sentence_score"] = meta["score"]
            if sentences is not None and len(sentences):
                meta["sentence_score"] = float((sentences @ q).max())
                if self.sentence_cache is not None:
                    keys = sentence_keys(text)
                    if len(keys) == len(sentences):  # same splitting as at ingest (else the vectors are not used)
                        self.sentence_cache.put(keys, sentences)
            out.append(Document(id=cid, page_content=text, metadata=meta))
        return out
