"""`aimf bench answer`: end-to-end latency of answers (extractive by default) through the public entry point,
after a warm-up pass, on the current index."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

GOLD = Path(__file__).resolve().parent / "datasets" / "aimf-gold.jsonl"
FALLBACK_QUESTIONS = [
    "Quelle ville préside la commission Villes innovantes, intelligentes et responsables ?",
    "Que construit-on à Cotonou ?",
    "Qui modère les tables rondes ?",
    "What is being built in Cotonou?",
    "Quel est le budget du Pôle numérique de Cotonou ?",
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", type=Path, default=None, help="jeu de questions JSONL (défaut : le jeu de référence)")
    p.add_argument("--generator", default="extractive")
    p.add_argument("--rounds", type=int, default=3, help="passages mesurés après l'échauffement")
    p.add_argument("--out", type=Path, default=Path("bench-results/answer.json"))


def questions(dataset: Path | None) -> list[str]:
    path = dataset or GOLD
    if path.exists():
        return [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return FALLBACK_QUESTIONS


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from rag.assistant import Assistant
    from rag.settings import get_settings

    assistant = Assistant(get_settings())
    qs = questions(args.dataset)
    for q in qs:  # warm-up: model, lexical index, sentence cache
        assistant.answer(q, generator=args.generator)
    totals, retrieve, generate = [], [], []
    for _ in range(args.rounds):
        for q in qs:
            t = time.perf_counter()
            a = assistant.answer(q, generator=args.generator)
            totals.append((time.perf_counter() - t) * 1000)
            retrieve.append(a.timings.retrieve)
            generate.append(a.timings.generate)
    pct = lambda xs, p: round(float(np.percentile(xs, p)), 2)  # noqa: E731
    result = {
        "generator": args.generator,
        "questions": len(qs),
        "rounds": args.rounds,
        "answer_p50_ms": pct(totals, 50),
        "answer_p95_ms": pct(totals, 95),
        "retrieve_p50_ms": pct(retrieve, 50),
        "generate_p50_ms": pct(generate, 50),
        "chunks": assistant.retriever.store.count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0
