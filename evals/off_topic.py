"""`aimf eval off-topic`: questions about other subjects put to the indexed corpus; every answer is a false one.

The gold sets' unanswerable questions are near-misses (the right city, another year). This measures the other
half of honesty: questions the documents do not touch at all, taken from another question set (PIAF's Wikipedia
questions by default, or any SQuAD / JSONL file), asked as a user would, through the whole assistant. The share
answered is the figure; the answered questions are written out to be read.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from evals.dataset import PIAF


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--questions", type=Path, default=PIAF,
                   help="questions sur d'autres sujets (fichier SQuAD ou JSONL ; par défaut PIAF dev)")
    p.add_argument("--limit", type=int, default=400, help="nombre de questions posées (tirées au hasard)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=Path("eval-runs/off-topic.json"), help="fichier JSON des résultats")
    p.add_argument("--quiet", action="store_true", help="pas de barre de progression")


@dataclass
class Unanswered:
    asked: int = 0
    answered: list[dict] = field(default_factory=list)  # {"question", "answer"} of each question answered

    @property
    def share(self) -> float:
        return len(self.answered) / self.asked if self.asked else 0.0


def ask_unanswerable(assistant, questions: list[str], progress=None) -> Unanswered:
    """Each question (one the documents do not answer) through the assistant: an answer that is not an abstention
    counts against it."""
    result = Unanswered()
    for q in progress(questions) if progress else questions:
        answer = assistant.answer(q)
        result.asked += 1
        if not answer.abstained:
            result.answered.append({"question": q, "answer": answer.text})
    return result


def run(args: argparse.Namespace) -> int:
    from rich.progress import track

    from evals.dataset import GoldSetError, load_dataset
    from rag.assistant import Assistant
    from rag.store import IndexMissingError

    if args.limit < 1:
        raise SystemExit("--limit doit valoir au moins 1")
    try:
        questions = [q.question for q in load_dataset(args.questions)]
    except (OSError, GoldSetError) as exc:
        raise SystemExit(f"questions illisibles : {args.questions} ({exc})") from None
    random.Random(args.seed).shuffle(questions)
    questions = questions[: args.limit]
    assistant = Assistant()
    try:
        assistant.warm_up()
    except IndexMissingError as exc:
        raise SystemExit(str(exc)) from None
    progress = None if args.quiet else (lambda qs: track(qs, description="questions hors sujet"))
    result = ask_unanswerable(assistant, questions, progress)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = {"questions": str(args.questions), "seed": args.seed, "asked": result.asked,
               "answered": len(result.answered), "share_answered": round(result.share, 4),
               "answered_questions": result.answered}
    args.out.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"questions hors sujet répondues : {len(result.answered)}/{result.asked} ({result.share:.1%}) ; "
          f"détail : {args.out}")
    return 0
