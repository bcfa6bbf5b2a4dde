"""`aimf bench retrieval --dataset FILE.json`: recall@1/5/10, MRR@10 and latency of each retrieval method on a
SQuAD-format file, its paragraphs indexed into their own collection.

`aimf bench retrieval --hnsw 10000,100000`: recall and latency of Chroma's HNSW index against the exact scan, and the
memory the exact in-memory index costs, on synthetic vectors (evals/bench_hnsw.py).

A question is found at rank r when a chunk cut from its gold paragraph first appears at rank r (a paragraph split
into several chunks counts once)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

METHODS = ["dense", "lexical", "hybrid", "hybrid_scores", "hybrid_rerank"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", type=Path, help="fichier au format SQuAD (ex. piaf-dev.json)")
    p.add_argument("--hnsw", metavar="TAILLES",
                   help="au lieu d'un jeu de questions : rappel et latence de l'index HNSW de Chroma contre la recherche "
                        "exacte, et mémoire de l'index exact, sur des vecteurs synthétiques (ex. 10000,100000)")
    p.add_argument("--hnsw-ef", metavar="VALEURS", help="avec --hnsw : mesurer aussi ces valeurs de ef_search (ex. 800,1600)")
    p.add_argument("--hnsw-no-memory", action="store_true", help="avec --hnsw : sans la mesure de mémoire (plus rapide)")
    p.add_argument("--out", type=Path, help="fichier JSON du rapport (sinon affiché)")
    p.add_argument("--limit", type=int, help="ne poser que les N premières questions")
    p.add_argument("--distractors", type=int, default=0,
                   help="ajouter N documents leurres (phrases d'autres paragraphes recombinées) pour mesurer à grande échelle")
    p.add_argument("--methods", default=",".join(METHODS), help="méthodes à comparer, séparées par des virgules")


def run(args: argparse.Namespace) -> int:
    from rag.settings import get_settings

    if args.hnsw:
        try:
            sizes = [int(x) for x in args.hnsw.split(",") if x.strip()]
        except ValueError:
            sizes = []
        if not sizes or min(sizes) < 100 or max(sizes) > 2_000_000:
            print("Erreur : --hnsw attend des tailles entre 100 et 2000000, séparées par des virgules.")
            return 2
        from evals.bench_hnsw import bench as bench_hnsw

        try:
            efs = [int(x) for x in (args.hnsw_ef or "").split(",") if x.strip()]
        except ValueError:
            print("Erreur : --hnsw-ef attend des entiers séparés par des virgules.")
            return 2
        return _write(bench_hnsw(get_settings(), sizes, efs, memory=not args.hnsw_no_memory), args.out)
    if args.dataset is None:
        print("Erreur : --dataset (fichier SQuAD) ou --hnsw (tailles) est requis.")
        return 2
    if not args.dataset.exists():
        print(f"Erreur : fichier introuvable : {args.dataset}")
        return 2
    report = bench(get_settings(), args.dataset, [m for m in args.methods.split(",") if m], args.limit, args.distractors)
    return _write(report, args.out)


def _write(report: dict, out: Path | None) -> int:
    text = json.dumps(report, ensure_ascii=False, indent=2)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        print(f"Rapport écrit : {out}")
    print(text)
    return 0


def rank_of_gold(sources: list[str], gold: str) -> int | None:
    seen: list[str] = []
    for s in sources:
        if s not in seen:
            seen.append(s)
        if s == gold:
            return len(seen)
    return None


def summarise(ranks: list[int | None], latencies: list[float]) -> dict[str, float]:
    import numpy as np

    n = len(ranks) or 1
    lat = np.asarray(latencies or [0.0])
    return {
        "recall_at_1": round(sum(r is not None and r <= 1 for r in ranks) / n, 4),
        "recall_at_5": round(sum(r is not None and r <= 5 for r in ranks) / n, 4),
        "recall_at_10": round(sum(r is not None and r <= 10 for r in ranks) / n, 4),
        "mrr_at_10": round(sum(1.0 / r for r in ranks if r is not None and r <= 10) / n, 4),
        "latency_p50_ms": round(float(np.percentile(lat, 50)), 2),
        "latency_p95_ms": round(float(np.percentile(lat, 95)), 2),
    }


def article_of(source: str) -> int:
    return int(source.split("-", 1)[0])


def add_distractors(corpus_dir: Path, contexts: list[str], n: int) -> None:
    """n documents made of sentences drawn from random paragraphs of the given (held-apart) articles."""
    import random

    from rag.text import split_sentences

    rng = random.Random(0)
    sentences = [c[a:b] for c in contexts for a, b in split_sentences(c)]
    folder = corpus_dir / "zz-distractors"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        path = folder / f"{i:05d}.md"
        text = f"# Leurre {i}\n\n" + " ".join(rng.sample(sentences, k=6)) + "\n"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def bench(settings, dataset: Path, methods: list[str], limit: int | None = None, distractors: int = 0) -> dict:
    from rich.progress import track

    from evals.squad import index_squad
    from rag.embeddings import compute_dtype, load_embeddings
    from rag.retrieval import HybridRetriever
    from rag.store import Store

    embeddings = load_embeddings(settings)
    sq, questions, report = index_squad(settings, dataset, embeddings=embeddings)
    if distractors:
        from ingest.pipeline import Ingestor
        from evals.squad import load_squad

        # Distractors reuse sentences of even-numbered articles; only questions on odd-numbered articles are asked,
        # so no distractor contains a gold sentence.
        paragraphs = load_squad(dataset)[0]
        add_distractors(sq.corpus_dir, [c for src, (_, c) in paragraphs.items() if article_of(src) % 2 == 0], distractors)
        report = Ingestor(sq, embeddings=embeddings).run()
        questions = [q for q in questions if article_of(q.source) % 2 == 1]
    questions = questions[:limit] if limit else questions
    store = Store.open(sq, settings.embedding_model)
    retriever = HybridRetriever(store=store, embeddings=embeddings, k=10, fetch_k=settings.fetch_k,
                                exact_max_chunks=settings.exact_search_max_chunks)
    retriever.lexical()
    # Query vectors are computed once and shared: the methods differ only after embedding, which is timed apart.
    t0 = time.perf_counter()
    vectors = [embeddings.embed_query(q.question) for q in questions]
    embed_ms = (time.perf_counter() - t0) * 1000 / max(1, len(questions))
    out: dict = {}
    for method in methods:
        ranks, latencies = [], []
        for q, vec in track(list(zip(questions, vectors)), description=f"{method:>14}", transient=True):
            t = time.perf_counter()
            docs = retriever.search(q.question, k=10, method=method, query_vector=vec)
            latencies.append((time.perf_counter() - t) * 1000 + (0 if method == "lexical" else embed_ms))
            ranks.append(rank_of_gold([d.metadata.get("source", "") for d in docs], q.source))
        out[method] = summarise(ranks, latencies)
    out.update(
        default=HybridRetriever.model_fields["method"].default,
        n_questions=len(questions),
        n_chunks=store.count(),
        embedding_model=settings.embedding_model,
        embedding_dtype=compute_dtype(settings),
        query_embedding_ms=round(embed_ms, 2),
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        dataset=str(dataset),
        index_seconds=report.seconds,
    )
    return out
