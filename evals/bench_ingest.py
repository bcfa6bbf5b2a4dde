"""`aimf bench ingest`: the whole pipeline's chunks/s against the raw ``encode`` throughput of the same model on the
same texts (the chunks, and their sentences when sentence vectors are on: their ratio is the pipeline's overhead),
the time of a re-run on an unchanged corpus, and the PDF page-layout analysis time per page (words with positions,
columns, headings, running lines, tables) on the corpus's PDFs."""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

from evals.dataset import PIAF as DEFAULT_DATASET


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--docs", type=int, default=1000, help="nombre de documents synthétiques (défaut 1000)")
    p.add_argument("--dataset", type=Path, default=None,
                   help="fichier SQuAD dont les paragraphes servent de textes (défaut : PIAF si présent, sinon corpus/)")
    p.add_argument("--out", type=Path, default=Path("bench-results/ingest.json"), help="rapport JSON")
    p.add_argument("--pdf", type=Path, nargs="*", default=None, metavar="PDF",
                   help="PDF (ou dossiers) dont mesurer la lecture de mise en page (défaut : les PDF du corpus)")
    p.add_argument("--pdf-only", action="store_true", help="ne mesurer que la lecture des PDF")


def pdf_layout_timing(paths: list[Path], repeats: int = 3) -> dict:
    """Milliseconds per page to read each PDF's layout (best of ``repeats``: the machine is shared), wall clock and
    processor time (the reading is single-threaded: on a quiet machine both agree; under load, processor time is
    what the reading itself costs)."""
    from ingest.pdf_layout import read_pdf

    files = sorted({f for p in paths for f in ([p] if p.is_file() else p.rglob("*.pdf")) if f.suffix.lower() == ".pdf"})
    per_file = []
    for f in files:
        best, best_cpu, pages = None, None, 0
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                pages = read_pdf(f).pages
            except Exception:
                break
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            best = elapsed if best is None else min(best, elapsed)
            best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
        if best is not None and pages:
            per_file.append({"file": f.name, "pages": pages, "ms_per_page": round(1000 * best / pages, 1),
                             "cpu_ms_per_page": round(1000 * best_cpu / pages, 1)})
    total_pages = sum(x["pages"] for x in per_file)
    total_ms = sum(x["pages"] * x["ms_per_page"] for x in per_file)
    total_cpu = sum(x["pages"] * x["cpu_ms_per_page"] for x in per_file)
    return {
        "pdf_files": len(per_file), "pdf_pages": total_pages,
        "pdf_layout_ms_per_page": round(total_ms / total_pages, 1) if total_pages else None,
        "pdf_layout_cpu_ms_per_page": round(total_cpu / total_pages, 1) if total_pages else None,
        "pdf_layout_max_ms_per_page": max((x["ms_per_page"] for x in per_file), default=None),
        "pdf_files_detail": per_file,
    }


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
    from rag.embeddings import compute_dtype, load_embeddings, prefixes, sentence_transformer
    from rag.settings import get_settings
    from rag.store import Store

    base = get_settings()
    pdf = pdf_layout_timing(args.pdf or [base.corpus_dir])
    if getattr(args, "pdf_only", False):
        return _write(args.out, pdf)
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
        "embedding_dtype": compute_dtype(settings),
        "batch_size": settings.embedding_batch_size,
        "chunk_size": settings.chunk_size,
        **pdf,
    }
    return _write(args.out, result)


def _write(out: Path, result: dict) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"Rapport écrit : {out}")
    return 0
