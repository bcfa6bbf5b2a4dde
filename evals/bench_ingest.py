"""`aimf bench ingest`: the whole pipeline's chunks/s against the raw ``encode`` throughput of the same model on the
same texts (the chunks, and their sentences when sentence vectors are on: their ratio is the pipeline's overhead),
and the time of a re-run on an unchanged corpus."""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

DEFAULT_DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "piaf" / "piaf-dev.json"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--docs", type=int, default=1000, help="nombre de documents synthétiques (défaut 1000)")
    p.add_argument("--dataset", type=Path, default=None,
                   help="fichier SQuAD dont les paragraphes servent de textes (défaut : PIAF si présent, sinon corpus/)")
    p.add_argument("--out", type=Path, default=Path("bench-results/ingest.json"), help="rapport JSON")


def paragraphs(dataset: Path | None, corpus_dir: Path) -> list[str]:
    if dataset is None and DEFAULT_DATASET.exists():
        dataset = DEFAULT_DATASET
    if dataset is not None:
        from evals.squad import load_squad

        return [context for _, context in load_squad(dataset)[0].values()]
    from ingest.loaders import load

    texts = []
    for path in sorted(corpus_dir.rglob("*")):
        try:
            texts += [p for p in load(path).text.split("\n\n") if len(p) > 200]
        except Exception:
            continue
    return texts


def make_corpus(texts: list[str], n: int, folder: Path) -> None:
    """n distinct documents of two or three paragraphs each (so that no two files share content)."""
    rng = random.Random(0)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for i in range(n):
        body = "\n\n".join(rng.sample(texts, k=min(len(texts), rng.choice([1, 2, 3]))))
        (folder / f"doc-{i:05d}.md").write_text(f"# Document {i}\n\n{body}\n", encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    from ingest.pipeline import Ingestor, chunk_sentences, embedding_texts
    from rag.embeddings import load_embeddings, prefixes, sentence_transformer
    from rag.settings import get_settings
    from rag.store import Store

    base = get_settings()
    texts = paragraphs(args.dataset, base.corpus_dir)
    if not texts:
        print("Erreur : aucun texte pour construire le corpus de mesure.")
        return 2
    work = base.data_dir / "bench-ingest"
    settings = base.model_copy(update={"corpus_dir": work / "corpus", "collection": "bench-ingest"})
    make_corpus(texts, args.docs, settings.corpus_dir)
    embeddings = load_embeddings(settings)  # loaded before timing: a server keeps it loaded
    embeddings.embed_documents(["échauffement"])
    # Fresh collection and manifest, then the timed run.
    store = Store.open(settings, settings.embedding_model, create=True)
    store.drop()
    settings.manifest_path.unlink(missing_ok=True)
    t0 = time.perf_counter()
    report = Ingestor(settings, embeddings=embeddings).run()
    pipeline_s = time.perf_counter() - t0
    chunks = Store.open(settings, settings.embedding_model).all_documents()
    model = sentence_transformer(embeddings)
    inputs = embedding_texts(chunks, chunk_sentences(chunks, settings.sentence_vectors))
    t1 = time.perf_counter()
    model.encode(inputs, prompt=prefixes(settings)[1] or None, batch_size=settings.embedding_batch_size,
                 normalize_embeddings=True)
    encode_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    rerun = Ingestor(settings, embeddings=embeddings).run()
    rerun_s = time.perf_counter() - t2
    result = {
        "documents": report.added,
        "chunks": len(chunks),
        "sentence_vectors": settings.sentence_vectors,
        "texts_embedded": len(inputs),
        "pipeline_seconds": round(pipeline_s, 3),
        "pipeline_chunks_per_s": round(len(chunks) / pipeline_s, 2),
        "encode_seconds": round(encode_s, 3),
        "encode_chunks_per_s": round(len(chunks) / encode_s, 2),
        "pipeline_vs_encode": round(encode_s / pipeline_s, 3),
        "embed_seconds_in_pipeline": round(report.embed_seconds, 3),
        "rerun_unchanged_seconds": round(rerun_s, 3),
        "rerun_unchanged": rerun.unchanged,
        "rerun_chunks_written": rerun.chunks_written,
        "embedding_model": settings.embedding_model,
        "embedding_dtype": settings.embedding_dtype,
        "batch_size": settings.embedding_batch_size,
        "chunk_size": settings.chunk_size,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"Rapport écrit : {args.out}")
    return 0
