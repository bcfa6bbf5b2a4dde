"""`aimf eval fit-relevance`: refit the relevance model (rag/relevance.py) on a SQuAD-format file.

Each sampled question is asked twice: against the full index (its article is there: it should be answered) and
against the index without its article (it should not). For every retrieved passage three features are read: its
cosine, its IDF-weighted coverage of the question, and the cosine of its sentence closest to the question. A
question's score is the best passage's, as at answer time, so the weights are fitted on that maximum (a logistic
model of the max over passages, by direct minimisation of the log-loss). Cross-validated on two halves of the
sample; the rates at several floors say what a floor would cost (answerable questions refused) and buy (questions
without their article answered anyway).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

FEATURES = ("cosine", "coverage", "sentence_cosine")
FLOORS = (0.1, 0.2, 0.3)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_fit_arguments(p)
    p.add_argument("--questions", type=int, default=400, help="questions tirées au hasard (400 par défaut)")


def add_fit_arguments(p: argparse.ArgumentParser) -> None:
    """What every fit on a SQuAD file takes: the file, the sampling seed, where to write the result."""
    p.add_argument("--dataset", type=Path, required=True, help="fichier au format SQuAD (ex. PIAF)")
    p.add_argument("--seed", type=int, default=1, help="graine du tirage (1 par défaut)")
    p.add_argument("--out", type=Path, default=None, help="fichier JSON où écrire les poids et les mesures")


def not_squad(path: Path, console) -> bool:
    """Says so, and returns True, when the file is not a SQuAD file."""
    from evals.dataset import is_squad

    if path.is_file() and is_squad(path):
        return False
    console.print(f"[red]Erreur :[/] {path} n'est pas un fichier au format SQuAD.")
    return True


def report(result: dict, out: Path | None) -> None:
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if out:
        out.write_text(text + "\n", encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from evals.squad import index_squad
    from rag.assistant import Assistant
    from rag.settings import get_settings

    err = Console(stderr=True)
    if not_squad(args.dataset, err):
        return 2
    if args.questions < 20:
        err.print("[red]Erreur :[/] --questions doit valoir au moins 20.")
        return 2
    settings, questions, _ = index_squad(get_settings(), args.dataset)
    assistant = Assistant(settings)
    sample = random.Random(args.seed).sample(questions, min(args.questions, len(questions)))
    with_article, without = [], []
    for q, vector, found, other in with_and_without(assistant, args.dataset, sample, err):
        with_article.append(np.array([assistant.relevance_features(q.question, p, vector) for p in found] or [(0.0,) * 3]))
        without.append(np.array([assistant.relevance_features(q.question, p, vector) for p in other] or [(0.0,) * 3]))
    result = fit_and_check(with_article, without)
    result.update(dataset=str(args.dataset), questions=len(sample), seed=args.seed, features=list(FEATURES))
    report(result, args.out)
    return 0


def with_and_without(assistant, dataset: Path, sample: list, console):
    """Each question of the sample with its query vector and the passages retrieved for it against the full index
    (its article is there: it should be answered) and against the index without its article (it should not)."""
    from rich.progress import track

    from evals.squad import load_squad
    from rag.assistant import to_passage

    paragraphs, _ = load_squad(dataset)
    k = assistant.settings.k
    for q in track(sample, description="Questions posées avec et sans leur article…", console=console):
        article = q.source.split("/")[0]
        own = sorted(s for s in paragraphs if s.startswith(article + "/"))
        vector = assistant.embeddings.embed_query(q.question)
        found = assistant.retriever.search(q.question, k=k, query_vector=vector)
        other = assistant.retriever.search(q.question, k=k, where={"source": {"$nin": own}}, query_vector=vector)
        yield q, vector, [to_passage(d) for d in found], [to_passage(d) for d in other]


def cross_validated(positives: list[np.ndarray], negatives: list[np.ndarray]) -> tuple[np.ndarray, list[float]]:
    """Weights fitted on everything, and the AUC on each half with weights fitted on the other."""
    from sklearn.metrics import roc_auc_score

    groups = positives + negatives
    y = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
    half = np.r_[np.arange(len(positives)) % 2, np.arange(len(negatives)) % 2]
    aucs = []
    for k in (0, 1):
        train, test = np.flatnonzero(half != k), np.flatnonzero(half == k)
        w = fit_max_logistic([groups[i] for i in train], y[train])
        aucs.append(float(roc_auc_score(y[test], best_scores(w, [groups[i] for i in test]))))
    return fit_max_logistic(groups, y), aucs


def fit_and_check(with_article: list[np.ndarray], without: list[np.ndarray]) -> dict:
    """Weights fitted on everything; AUC measured on each half with weights fitted on the other."""
    groups = with_article + without
    w, aucs = cross_validated(with_article, without)
    from scipy.special import expit

    p = expit(best_scores(w, groups))
    n = len(with_article)
    return {
        "weights": dict(zip(FEATURES, np.round(w[:-1], 2).tolist())), "bias": round(float(w[-1]), 2),
        "cv_auc": [round(a, 3) for a in aucs],
        "floors": {str(t): {"answered_with_article": round(float((p[:n] >= t).mean()), 3),
                            "answered_without_article": round(float((p[n:] >= t).mean()), 3)} for t in FLOORS},
    }


def best_scores(w: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    return np.array([float((g @ w[:-1] + w[-1]).max()) for g in groups])


def fit_max_logistic(groups: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """Weights and bias minimising the log-loss of max over each group's rows of (x . w + b)."""
    from scipy.optimize import minimize

    def loss(w: np.ndarray) -> float:
        z = best_scores(w, groups)
        return float(np.mean(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)))

    start = np.r_[np.full(groups[0].shape[1], 10.0), -10.0 * groups[0].shape[1]]
    return minimize(loss, start, method="Nelder-Mead", options={"maxiter": 20000, "xatol": 1e-4, "fatol": 1e-7}).x
