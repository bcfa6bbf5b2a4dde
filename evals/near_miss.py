"""`aimf eval near-miss`: the gold set's answerable questions, each with one name, year or amount swapped for another
of the corpus that the documents holding its answer never mention, asked through the whole assistant.

The gold sets hold a few dozen unanswerable questions written by hand; this makes one near-miss for every answerable
question (the right subject, another city or year: what users get wrong and what a writer that matches words is
fooled by), so that declining can be measured on many more questions. The swapped value may still be answered by
another document (another year of the same series): the share answered is an upper bound of wrong answers, and the
answered questions are written out to be read. Near-misses are made as the trained reader's are (same maker).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--split", choices=["dev", "test"], default="dev",
                   help="les questions d'une moitié (par défaut : dev ; test se relève une fois par livraison)")
    p.add_argument("--dataset", type=Path, nargs="+", default=[],
                   help="jeu(x) de questions JSONL à la place de la moitié")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=Path("eval-runs/near-miss.json"), help="fichier JSON des résultats")
    p.add_argument("--quiet", action="store_true", help="pas de barre de progression")


def answer_documents(evidence: list[str], documents: dict[str, str]) -> list[str]:
    """The documents (source -> text) that hold one of the evidence strings."""
    return _holding(evidence, _folded(documents))


def _folded(documents: dict[str, str]) -> dict[str, str]:
    from rag.text import normalize_for_match

    return {src: normalize_for_match(text) for src, text in documents.items()}


def _holding(evidence: list[str], folded: dict[str, str]) -> list[str]:
    from rag.text import normalize_for_match

    wanted = [normalize_for_match(e) for e in evidence if e.strip()]
    return [src for src, text in folded.items() if any(w in text for w in wanted)]


def make_near_misses(questions, documents: dict[str, str], seed: int) -> list[tuple[str, str]]:
    """(question, its near-miss) for each answerable question whose answer's documents are found and for which a
    swap exists; the swapped value is one of the corpus that none of those documents mentions."""
    from evals.reader_data import NearMissMaker

    maker = NearMissMaker.from_texts(documents.values())
    rng = random.Random(seed)
    folded = _folded(documents)  # once, not for every question
    out = []
    for q in questions:
        sources = _holding(q.evidence, folded) if q.answerable else []
        if not sources:
            continue
        near = maker.make(q.question, "\n".join(documents[s] for s in sources), rng)
        if near:
            out.append((q.question, near))
    return out


def corpus_documents(store) -> dict[str, str]:
    """source -> the text of its chunks (overlaps repeated: only searched for words)."""
    docs, _, _ = store.all_with_vectors(vectors=False)
    out: dict[str, list[str]] = {}
    for d in docs:
        out.setdefault(d.metadata.get("source", ""), []).append(d.page_content)
    return {src: "\n".join(parts) for src, parts in sorted(out.items())}


def run(args: argparse.Namespace) -> int:
    from rich.progress import track

    from evals.dataset import GoldSetError
    from evals.off_topic import ask_unanswerable
    from evals.splits import load_questions, resolve
    from rag.assistant import Assistant
    from rag.store import IndexMissingError

    try:
        paths = resolve(args.dataset, None if args.dataset else args.split)
        questions, _ = load_questions(paths)
    except (OSError, GoldSetError) as exc:
        raise SystemExit(f"questions illisibles : {exc}") from None
    assistant = Assistant()
    try:
        assistant.warm_up()
    except IndexMissingError as exc:
        raise SystemExit(str(exc)) from None
    pairs = make_near_misses(questions, corpus_documents(assistant.retriever.store), args.seed)
    if not pairs:
        raise SystemExit("aucune quasi-question : les preuves des questions ne sont dans aucun document indexé")
    progress = None if args.quiet else (lambda qs: track(qs, description="quasi-questions"))
    result = ask_unanswerable(assistant, [near for _, near in pairs], progress)
    original = {near: q for q, near in pairs}
    answered = [{"original": original[a["question"]], **a} for a in result.answered]
    summary = {"questions": [str(p) for p in paths], "seed": args.seed, "asked": result.asked,
               "answered": len(answered), "share_answered": round(result.share, 4), "answered_questions": answered}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"quasi-questions répondues : {len(answered)}/{result.asked} ({result.share:.1%}) ; détail : {args.out}")
    return 0
