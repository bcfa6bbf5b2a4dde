"""`aimf bench retrieval --hnsw 10000,100000`: how close Chroma's HNSW index comes to the exact scan, at what query
latency, and what holding the exact index in memory costs one process.

The vectors are SYNTHETIC, built to sit in multilingual-e5's narrow cosine band (pairwise cosines 0.82-0.86, which
is what makes an approximate graph miss): one shared direction plus random noise in every dimension; questions are
drawn the same way, so that their nearest passages are near-ties (cosine about 0.87 for the first five, 0.84 for
a typical passage). This is the hard case: with topic directions added (passages that cluster), Chroma's defaults
already found the exact top 5. Each chunk also carries 5 sentence vectors (float16, as ingest stores them) and 800
characters of text, so that the memory measured is the memory of a real index of that size. For each size:

- recall@5 of Chroma's index against the exact scan (share of the exact top 5 that Chroma's top 5 holds), with the
  configured HNSW parameters (settings ``hnsw_*``) and with other values of ef_search (the one parameter that can
  change after creation; a process sees the new value only when it opens the index, so each is measured in a fresh
  subprocess); at the smallest size, also a collection built with Chroma's defaults;
- query latency (k=5) of Chroma's index and of the exact scan in memory, p50/p95;
- resident memory of one process that loaded the retriever's in-memory indexes (fresh subprocesses): with the exact
  dense index; without it (``exact_max_chunks`` 0; the HNSW graph then lives in the Chroma server); and without it
  after one query of embedded Chroma (which loads the HNSW graph into the process).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DIM = 384
SHARED = 0.84  # share of the shared direction in each vector's squared norm; the rest is noise
SENTENCES = 5
QUESTIONS = 200
K = 5
CHROMA_DEFAULTS = {"ef_search": 100, "ef_construction": 100, "max_neighbors": 16}
WORDS = ("ville commune maire projet numérique données citoyens service public réseau eau assainissement "
         "coopération budget formation jeunesse santé école transport énergie solaire déchets recyclage marché "
         "agriculture urbaine quartier habitat cartographie état civil fiscalité locale gouvernance partenariat "
         "association francophone intelligence artificielle plateforme ouverte accès internet inclusion femmes "
         "développement durable climat résilience inondation patrimoine culture tourisme sécurité éclairage").split()


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def synthetic(n: int, seed: int = 0, payload: bool = True) -> tuple[np.ndarray, np.ndarray, list[str], list]:
    """(chunk vectors, question vectors, chunk texts, sentence-vector blobs), float32 and L2-normalised. Without
    ``payload``, short texts and no sentence vectors (the same vectors and questions)."""
    from rag.sentences import encode

    rng = np.random.default_rng(seed)
    shared = _unit(rng.standard_normal(DIM))

    def draw(m: int) -> np.ndarray:
        noise = _unit(rng.standard_normal((m, DIM)))
        return _unit(np.sqrt(SHARED) * shared + np.sqrt(1 - SHARED) * noise).astype(np.float32)

    vectors, questions = draw(n), draw(QUESTIONS)
    if not payload:
        return vectors, questions, [f"Passage {i}." for i in range(n)], [None] * n
    texts, blobs = [], []
    for i in range(n):
        words = rng.choice(WORDS, 110)
        texts.append(f"Passage {i}. " + " ".join(words)[:800])
        sentences = _unit(vectors[i] + 0.3 * _unit(rng.standard_normal((SENTENCES, DIM))))
        blobs.append(encode(sentences))
    return vectors, questions, texts, blobs


def band(vectors: np.ndarray, seed: int = 1) -> dict[str, float]:
    """Pairwise cosines of random pairs: the band the vectors sit in."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(vectors), (2, 5000))
    cos = np.einsum("ij,ij->i", vectors[a], vectors[b])[a != b]
    return {"p01": round(float(np.percentile(cos, 1)), 3), "p50": round(float(np.median(cos)), 3),
            "p99": round(float(np.percentile(cos, 99)), 3)}


def fill(data_dir: Path, settings, n: int, hnsw: dict[str, int] | None = None,
         payload: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    """A collection of n synthetic chunks in ``data_dir``; returns (vectors, questions, seconds to fill)."""
    from langchain_core.documents import Document

    from rag.sentences import META_KEY
    from rag.store import Store

    vectors, questions, texts, blobs = synthetic(n, payload=payload)
    names = {"ef_search": "hnsw_search_ef", "ef_construction": "hnsw_construction_ef", "max_neighbors": "hnsw_m"}
    local = settings.model_copy(update={"data_dir": data_dir, "collection": "hnsw-bench",
                                        **{names[k]: v for k, v in (hnsw or {}).items()}})
    store = Store.open(local, "synthetic", create=True)
    t0 = time.perf_counter()
    step = 2000
    for i in range(0, n, step):
        docs = [Document(id=f"c{j}", page_content=texts[j],
                         metadata={"source": f"doc-{j // 20}.md", "title": f"Document {j // 20}",
                                   **({META_KEY: blobs[j]} if blobs[j] else {})})
                for j in range(i, min(n, i + step))]
        store.upsert(docs, vectors[i:i + step].tolist())
    return vectors, questions, time.perf_counter() - t0


def percentiles(ms: list[float]) -> dict[str, float]:
    return {"p50": round(float(np.percentile(ms, 50)), 2), "p95": round(float(np.percentile(ms, 95)), 2)}


def recall(store, vectors: np.ndarray, questions: np.ndarray) -> dict[str, Any]:
    """Chroma's top k against the exact top k, and both latencies."""
    from langchain_core.documents import Document

    from rag.dense import DenseIndex

    exact = DenseIndex([Document(id=f"c{i}", page_content="") for i in range(len(vectors))], vectors)
    store.search(questions[0].tolist(), K)  # loads the index from disk: not a query's cost
    hits, chroma_ms, exact_ms = [], [], []
    for q in questions:
        t = time.perf_counter()
        truth = {d.id for d, _ in exact.search(q, K)}
        exact_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        got = {d.id for d, _ in store.search(q.tolist(), K)}
        chroma_ms.append((time.perf_counter() - t) * 1000)
        hits.append(len(truth & got) / K)
    return {"recall_at_5": round(float(np.mean(hits)), 4), "chroma_ms": percentiles(chroma_ms),
            "exact_scan_ms": percentiles(exact_ms)}


def set_search_ef(data_dir: Path, settings, ef: int) -> None:
    from rag.store import Store

    store = Store.open(settings.model_copy(update={"data_dir": data_dir, "collection": "hnsw-bench"}), "synthetic")
    store.collection().modify(configuration={"hnsw": {"ef_search": ef}})


def recall_probe(data_dir: str, n: int) -> dict[str, Any]:
    """In this (fresh) process, which reads the collection's current ef_search: recall and latencies."""
    from rag.settings import Settings
    from rag.store import Store

    vectors, questions, _, _ = synthetic(n, payload=False)
    store = Store.open(Settings(_env_file=None, data_dir=Path(data_dir), collection="hnsw-bench"), "synthetic")
    ef = store.collection().configuration_json["hnsw"]["ef_search"]
    return {"ef_search": ef, **recall(store, vectors, questions)}


def _probe(*args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "evals.bench_hnsw", *args], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1], env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(proc.stdout.strip().splitlines()[-1])


def memory_probe(data_dir: str, mode: str) -> dict[str, float]:
    """In this (fresh) process: open the collection, load the retriever's in-memory indexes ("exact": with the dense
    matrix and a search in it; "chroma": without; "chroma_query": without, then one query of embedded Chroma)."""
    from rag.retrieval import HybridRetriever
    from rag.settings import Settings
    from rag.store import Store

    settings = Settings(_env_file=None, data_dir=Path(data_dir), collection="hnsw-bench")
    store = Store.open(settings, "synthetic")
    before = rss_mb()
    retriever = HybridRetriever(store=store, embeddings=None, exact_max_chunks=10**9 if mode == "exact" else 0)
    retriever.lexical()
    if mode != "chroma":
        retriever.dense_search(_unit(np.ones(DIM, np.float32)).tolist(), K)
    return {"rss_before_indexes_mb": before, "rss_mb": rss_mb()}


def rss_mb() -> float:
    text = Path("/proc/self/status").read_text()
    return round(int(re.search(r"^VmRSS:\s+(\d+) kB", text, re.M).group(1)) / 1024, 1)


def measure_memory(data_dir: Path) -> dict[str, Any]:
    out = {}
    names = {"exact": "with_exact_index", "chroma": "without_exact_index",
             "chroma_query": "without_exact_index_embedded_hnsw_loaded"}
    for mode, name in names.items():
        out[name] = _probe("memory", str(data_dir), mode)
    out["exact_index_extra_mb"] = round(out["with_exact_index"]["rss_mb"] - out["without_exact_index"]["rss_mb"], 1)
    out["embedded_hnsw_extra_mb"] = round(out[names["chroma_query"]]["rss_mb"] - out["without_exact_index"]["rss_mb"], 1)
    return out


def bench(settings, sizes: list[int], ef_values: list[int] | None = None, memory: bool = True,
          workdir: Path | None = None) -> dict[str, Any]:
    from rag.store import Store, hnsw_configuration

    configured = {k: v for k, v in hnsw_configuration(settings).items() if k != "space"}
    report: dict[str, Any] = {
        "vectors": "synthetiques, dans la bande cosinus étroite d'e5 (voir evals/bench_hnsw.py)",
        "hnsw": configured, "questions": QUESTIONS, "k": K, "sizes": {},
    }
    with tempfile.TemporaryDirectory(prefix="aimf-hnsw-", dir=workdir) as tmp:
        for n in sizes:
            row: dict[str, Any] = {}
            data_dir = Path(tmp) / f"n{n}"
            vectors, questions, seconds = fill(data_dir, settings, n, payload=memory)
            row["pairwise_cosine"] = band(vectors)
            row["fill_seconds"] = round(seconds, 1)
            row["configured"] = _probe("recall", str(data_dir), str(n))
            others = [ef for ef in (ef_values or []) if ef != configured["ef_search"]]
            if others:
                row["by_ef_search"] = {}
                for ef in others:
                    set_search_ef(data_dir, settings, ef)
                    row["by_ef_search"][str(ef)] = _probe("recall", str(data_dir), str(n))
                set_search_ef(data_dir, settings, configured["ef_search"])
            if memory:
                row["memory"] = measure_memory(data_dir)
                row["memory"]["exact_index_extra_kb_per_chunk"] = round(row["memory"]["exact_index_extra_mb"] * 1024 / n, 2)
            if n == min(sizes):
                dflt_dir = Path(tmp) / f"n{n}-defaults"
                vectors, questions, _ = fill(dflt_dir, settings, n, CHROMA_DEFAULTS, payload=memory)
                dflt = Store.open(settings.model_copy(update={"data_dir": dflt_dir, "collection": "hnsw-bench"}),
                                  "synthetic")
                row["chroma_defaults"] = {**recall(dflt, vectors, questions), "hnsw": CHROMA_DEFAULTS}
                del dflt
            report["sizes"][str(n)] = row
            print(json.dumps({n: row}, ensure_ascii=False), file=sys.stderr, flush=True)
    report["cpu_count"] = os.cpu_count()
    report["time"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return report


if __name__ == "__main__":  # the probes, each run in a fresh process
    if sys.argv[1] == "memory":
        print(json.dumps(memory_probe(sys.argv[2], sys.argv[3])))
    else:
        print(json.dumps(recall_probe(sys.argv[2], int(sys.argv[3]))))
