"""`aimf eval fit-answerable`: refit the answerability model (rag/relevance.answerable) on a SQuAD-format file.

Each question of the chosen articles is asked twice, as `aimf eval fit-relevance` asks it: against the full index
(its article is there: it should be answered) and against the index without its article (it should not); and, with
`--near-misses`, its near-miss, a name, year or amount swapped for another one of the file that its article never
mentions (evals/reader_data.NearMissMaker), asked against the full index: its subject's passages are found, and
still they do not answer it (the relevance alone cannot tell; the reader must). Two features per question, as at
answer time: the logit of its best passage's relevance, and the best span score the
trained reader finds in its best passages. A logistic model of the two is fitted, cross-validated by article halves
(each half scored with weights fitted on the other), and the answered rates at several floors are set beside those
of the relevance alone and of the rule "relevance at the floor, or a reader span of score RELEVANCE_FLOOR".

The reader must not have seen the questions it reads: `--even-reader`, trained on the even articles (`aimf train
reader --half even`, then `--gold dev --init` as for the shipped one), reads the odd articles' questions;
`--odd-reader` (`--half odd`) the even ones'. With both, every question is asked.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

FLOORS = (0.1, 0.2, 0.3)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from evals.fit_relevance import add_fit_arguments

    add_fit_arguments(p)
    p.add_argument("--even-reader", type=Path, default=None,
                   help="lecteur entraîné sur les articles pairs (aimf train reader --half even) : il lit les questions "
                        "des articles impairs")
    p.add_argument("--odd-reader", type=Path, default=None,
                   help="lecteur entraîné sur les articles impairs (--half odd) : il lit les questions des articles pairs")
    p.add_argument("--questions", type=int, default=0, help="questions tirées au hasard (0, par défaut : toutes)")
    p.add_argument("--near-misses", action=argparse.BooleanOptionalAction, default=False,
                   help="poser aussi la quasi-question de chaque question (un nom, une année ou un montant échangé) "
                        "à l'index complet : elle ne doit pas avoir de réponse")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from evals.fit_relevance import not_squad, report, with_and_without
    from evals.squad import article_index, index_squad
    from rag.assistant import Assistant, to_passage
    from rag.embeddings import computes_in_bf16, resolve_model_path
    from rag.reader import RELEVANCE_PASSAGES, Reader, ReaderError
    from rag.settings import get_settings

    err = Console(stderr=True)
    if not_squad(args.dataset, err):
        return 2
    settings = get_settings()
    folders = {1: args.even_reader, 0: args.odd_reader}  # article parity -> the reader that never saw it
    if not any(folders.values()):
        err.print("[red]Erreur :[/] donnez --even-reader, --odd-reader ou les deux.")
        return 2
    readers = {}
    for parity, folder in folders.items():
        if folder is None:
            continue
        try:
            readers[parity] = Reader.open(resolve_model_path(settings), folder, bf16=computes_in_bf16(settings))
        except (ReaderError, OSError) as exc:
            err.print(f"[red]Erreur :[/] lecteur inutilisable ({folder}) : {exc}")
            return 2
    settings, questions, _ = index_squad(settings, args.dataset)
    chosen = [q for q in questions if article_index(q.source) % 2 in readers]
    sample = random.Random(args.seed).sample(chosen, min(args.questions or len(chosen), len(chosen)))
    if len(sample) < 20:
        err.print(f"[red]Erreur :[/] {len(sample)} questions : il en faut au moins 20.")
        return 2
    assistant = Assistant(settings)

    def features(question: str, vector, passages, reader) -> tuple[float, float | None]:
        if not passages:
            return 0.0, None
        best = max(assistant.relevance(question, p, vector) for p in passages)
        span = reader.reading(question, [(p.title, p.text) for p in passages[:RELEVANCE_PASSAGES]]).best()
        return best, span.score if span is not None else None

    near_miss = _near_miss_maker(args.dataset, args.seed) if args.near_misses else None
    rows, groups, kinds = [], [], []
    for q, vector, found, other in with_and_without(assistant, args.dataset, sample, err):
        reader = readers[article_index(q.source) % 2]
        asked = [(*features(q.question, vector, found, reader), 1, "with_article"),
                 (*features(q.question, vector, other, reader), 0, "without_article")]
        near = near_miss(q) if near_miss else None
        if near:
            near_vector = assistant.embeddings.embed_query(near)
            near_found = assistant.retriever.search(near, k=settings.k, query_vector=near_vector)
            asked.append((*features(near, near_vector, [to_passage(d) for d in near_found], reader), 0, "near_miss"))
        rows += [row[:3] for row in asked]
        kinds += [row[3] for row in asked]
        groups += [article_index(q.source) // 2 % 2] * len(asked)
    result = fit_and_check(rows, np.array(groups), kinds)
    result.update(dataset=str(args.dataset), even_reader=str(args.even_reader or ""), odd_reader=str(args.odd_reader or ""),
                  questions=len(sample), seed=args.seed, near_misses=kinds.count("near_miss"),
                  rows=[[kind, round(rel, 6), None if score is None else round(score, 4), label, int(group)]
                        for (rel, score, label), kind, group in zip(rows, kinds, groups)])
    report(result, args.out)
    return 0


def _near_miss_maker(dataset: Path, seed: int):
    """question -> its near-miss (or None): a name, year or amount swapped for one of the file its article never
    mentions, made as the reader's training makes them (same pools: the articles' texts)."""
    from evals.reader_data import NearMissMaker, load_squad_articles
    from evals.squad import article_index

    articles = load_squad_articles(dataset)
    maker = NearMissMaker.from_texts(a.text for a in articles)
    rng = random.Random(seed)

    def near_miss(q) -> str | None:
        return maker.make(q.question, articles[article_index(q.source)].text, rng)

    return near_miss


def design(rows: list[tuple[float, float | None, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) of (best relevance, reader score or None, answerable) rows, as rag.relevance reads them."""
    from rag.relevance import answerable_features

    x = np.array([answerable_features(rel, score) for rel, score, _ in rows])
    return x, np.array([label for _, _, label in rows])


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(x, y)
    return model.coef_[0], float(model.intercept_[0])


def fit_and_check(rows: list[tuple[float, float | None, int]], groups: np.ndarray,
                  kinds: list[str] | None = None) -> dict:
    """Weights fitted on every row; answered rates at each floor for each kind of row (with its article, without
    it, near-miss), each group scored with weights fitted on the other, beside the relevance alone and the rescue
    rule."""
    from scipy.special import expit

    from rag.reader import RELEVANCE_FLOOR

    x, y = design(rows)
    kind_of = np.array(kinds or ["with_article" if label else "without_article" for label in y])
    held_out = np.zeros(len(y))
    for g in (0, 1):
        w, b = fit(x[groups != g], y[groups != g])
        held_out[groups == g] = expit(x[groups == g] @ w + b)
    w, b = fit(x, y)
    relevance = expit(x[:, 0])
    rates = {}
    for t in FLOORS:
        rule = (relevance >= t) | (x[:, 1] >= RELEVANCE_FLOOR)
        rates[str(t)] = {name: {f"answered_{kind}": round(float(a[kind_of == kind].mean()), 3)
                                for kind in dict.fromkeys(kind_of)}
                         for name, a in (("model", held_out >= t), ("relevance_alone", relevance >= t),
                                         ("relevance_or_reader", rule))}
    return {"weights": {"relevance_logit": round(float(w[0]), 4), "reader_score": round(float(w[1]), 4)},
            "bias": round(b, 4), "floors": rates}
