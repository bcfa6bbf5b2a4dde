"""Check a gold set against the index: every evidence string must be found in the text of an indexed chunk.

Usage: ``AIMF_DATA_DIR=<dir> python scripts/check_gold.py <gold.jsonl> [...]`` after ``aimf ingest`` into that dir.
Evidence and chunks are compared after ``rag.text.normalize_for_match`` (case, spacing, emphasis), which is how the
evaluation matches them. Exit status 1 if any evidence string is missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.dataset import load_jsonl  # noqa: E402
from rag.embeddings import model_identity  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.store import Store  # noqa: E402
from rag.text import normalize_for_match  # noqa: E402


def indexed_texts(settings: Settings) -> list[tuple[str, str]]:
    """(source, normalised chunk text) for every chunk of the collection."""
    store = Store.open(settings, model_identity(settings))
    return [(str(d.metadata.get("source", "")), normalize_for_match(d.page_content)) for d in store.all_documents()]


def missing_evidence(path: Path, chunks: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(question id, evidence) for each evidence string no chunk contains."""
    out = []
    for q in load_jsonl(path):
        for ev in q.evidence:
            needle = normalize_for_match(ev)
            if not any(needle in text for _, text in chunks):
                out.append((q.id, ev))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", type=Path)
    args = parser.parse_args(argv)
    settings = Settings()
    chunks = indexed_texts(settings)
    print(f"{len(chunks)} passages indexés dans {settings.data_dir}")
    bad = 0
    for path in args.datasets:
        missing = missing_evidence(path, chunks)
        total = sum(len(q.evidence) for q in load_jsonl(path))
        print(f"{path}: {total - len(missing)}/{total} preuves trouvées")
        for qid, ev in missing:
            print(f"  {qid}: introuvable : {ev!r}")
        bad += len(missing)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
