"""`aimf eval fit-cross-lingual`: refit the constants used when a question and a passage are in different languages,
on gold sets that are not the test half (``--split dev`` by default; a test-half file is refused).

PIAF, which the same-language relevance model is fitted on (`aimf eval fit-relevance`), has no English question,
so these three constants come from the bundled gold sets' dev groups, asked against the whole indexed corpus:

- ``CROSS_LINGUAL_GAP`` (rag/relevance.py): how much lower a question's cosine to its answer passage is when the two
  are in different languages. Measured on the answerable questions whose retrieved passages hold their evidence:
  the mean passage and closest-sentence cosines of same-language pairs minus those of cross-language pairs, the two
  differences weighted as the relevance model weighs the two cosines. Different questions on each side (no
  translated pairs exist here): the standard error says how far to trust it.
- ``COS_ONLY_WEIGHT``, ``COS_ONLY_BIAS`` (rag/relevance.py): the logistic model of a cross-language question's best
  shifted cosine (cosine + gap), answered (answerable question, whole index) against not answerable (unanswerable
  questions, and answerable ones asked without the documents holding their evidence). Cross-validated on halves.
- ``CROSS_LINGUAL_SURE`` (rag/generators/extractive.py): the sentence cosine above which a sentence is taken to be
  about a question with which it shares no word. Chosen as the threshold with the best F1 at telling the sentences
  holding the evidence from the other sentences of the retrieved passages, over cross-language pairs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", type=Path, nargs="+", action="extend",
                   help="jeu(x) de questions JSONL (par défaut : la moitié dev, evals/datasets/splits.json)")
    p.add_argument("--out", type=Path, default=None, help="fichier JSON où écrire les constantes et les mesures")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import track

    from evals.dataset import GoldSetError
    from evals.runner import _ingest_corpus, _warm
    from evals.splits import load_questions, resolve, test_files
    from rag.settings import get_settings
    from rag.store import IndexMissingError

    err = Console(stderr=True)
    try:
        paths = resolve(args.dataset or [], None if args.dataset else "dev")
        frozen = [str(p) for p in paths if p.resolve() in test_files()]
        if frozen:
            raise GoldSetError(f"moitié test (figée) : on n'y ajuste rien ({', '.join(frozen)})")
        questions, _ = load_questions(paths)
    except GoldSetError as exc:
        err.print(f"[red]Erreur :[/] {exc}")
        return 2
    settings = get_settings()
    try:
        assistant = _warm(settings, None)
    except IndexMissingError:
        _ingest_corpus(settings, err)
        assistant = _warm(settings, None)
    questions = [q for q in questions if not q.review]
    observations = [observe(assistant, q) for q in track(questions, description="Questions posées…", console=err)]
    result = fit(observations)
    result.update(datasets=[str(p) for p in paths], questions=len(questions),
                  index_chunks=len(assistant.retriever.lexical().docs))
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


def observe(assistant, q) -> dict:
    """What one question yields: per retrieved passage its relevance features, language pairing and evidence;
    for an answerable question, the same without the documents that hold its evidence, and its sentences' cosines."""
    from evals import metrics as M
    from rag.assistant import to_passage
    from rag.lang import detect_lang
    from rag.sentences import sentence_key
    from rag.text import split_sentences

    lang = detect_lang(q.question)
    vector = assistant.embeddings.embed_query(q.question)
    k = assistant.settings.k

    def passages(where: dict | None) -> list[dict]:
        docs = assistant.retriever.search(q.question, k=k, where=where, query_vector=vector)
        out = []
        for p in map(to_passage, docs):
            cross = lang != (p.lang or detect_lang(p.text))
            hits = M.evidence_hits([p.text], q.evidence)[0] if q.answerable else set()
            out.append({"features": assistant.relevance_features(q.question, p, vector), "cross": cross,
                        "evidence": bool(hits), "passage": p})
        return out

    full = passages(None)
    obs = {"id": q.id, "answerable": q.answerable, "full": full, "without": [], "sentences": []}
    if not q.answerable:
        return obs
    holding = sorted({d.metadata.get("source") for d in assistant.retriever.lexical().docs
                      if M.evidence_hits([d.page_content], q.evidence)[0]})
    obs["without"] = passages({"source": {"$nin": holding}} if holding else None)
    qv = np.asarray(vector, dtype=np.float32)
    for item in full:
        if not item["cross"]:
            continue
        p = item["passage"]
        spans = split_sentences(p.text)
        if not spans:
            continue
        texts = [p.text[a:b] for a, b in spans]
        cosines = assistant.sentence_vectors([sentence_key(t) for t in texts]) @ qv
        held = M.quote_hits(texts, q.evidence)
        for text, cos, h in zip(texts, cosines, held):
            inside = any(M.norm(text) in M.norm(e) for e in q.evidence)  # a sentence of a longer evidence string
            obs["sentences"].append((float(cos), bool(h) or inside))
    for item in full + obs["without"]:
        item.pop("passage")
    return obs


def fit(observations: list[dict]) -> dict:
    from evals.fit_relevance import cross_validated
    from rag import relevance as R

    # 1. The gap: cosines of the best evidence passage, same language against cross-language.
    same, cross = [], []
    for o in observations:
        held = [p for p in o["full"] if p["evidence"]]
        if held:
            best = max(held, key=lambda p: p["features"][0])
            (cross if best["cross"] else same).append((best["features"][0], best["features"][2]))
    if len(same) < 5 or len(cross) < 5:
        raise SystemExit(f"trop peu de paires pour mesurer l'écart (même langue {len(same)}, autre langue {len(cross)})")
    s, c = np.array(same), np.array(cross)
    d_cos, d_sent = s.mean(0) - c.mean(0)
    se = np.sqrt(s.var(0, ddof=1) / len(s) + c.var(0, ddof=1) / len(c))
    w_cos, w_sent = R.COS_WEIGHT, R.SENTENCE_WEIGHT
    gap = float((w_cos * d_cos + w_sent * d_sent) / (w_cos + w_sent))

    # 2. The cosine-only model of a cross-language question: its best shifted cosine, answered or not.
    def best_cross(items: list[dict]) -> np.ndarray | None:
        cos = [p["features"][0] + gap for p in items if p["cross"]]
        return np.array([[max(cos)]]) if cos else None

    positives = [g for o in observations if o["answerable"] for g in [best_cross(o["full"])] if g is not None]
    negatives = [g for o in observations for g in [best_cross(o["without"] if o["answerable"] else o["full"])]
                 if g is not None]
    w, aucs = cross_validated(positives, negatives)
    aucs = [round(a, 3) for a in aucs]

    # 3. The sentence cosine a cross-language sentence must reach to count as being about the question.
    sentences = [x for o in observations for x in o["sentences"]]
    sure = best_f1_threshold(sentences)
    return {
        "cross_lingual_gap": round(gap, 3),
        "gap_detail": {"same_language": len(same), "cross_language": len(cross),
                       "passage_cosine_gap": round(float(d_cos), 4), "sentence_cosine_gap": round(float(d_sent), 4),
                       "standard_errors": [round(float(x), 4) for x in se]},
        "cos_only_weight": round(float(w[0]), 2), "cos_only_bias": round(float(w[1]), 2),
        "cos_only_detail": {"answered": len(positives), "not_answerable": len(negatives), "cv_auc": aucs},
        "cross_lingual_sure": sure,
    }


def best_f1_threshold(sentences: list[tuple[float, bool]]) -> dict:
    """The cosine threshold with the best F1 at keeping evidence sentences (ties: the higher threshold), with its
    precision and recall."""
    if not any(ok for _, ok in sentences):
        return {"threshold": None, "sentences": len(sentences), "evidence_sentences": 0}
    cos = np.array([c for c, _ in sentences])
    ok = np.array([o for _, o in sentences])
    best = None
    for t in np.unique(np.round(cos, 3)):
        kept = cos >= t
        tp = int((kept & ok).sum())
        if not tp:
            continue
        p, r = tp / int(kept.sum()), tp / int(ok.sum())
        f1 = 2 * p * r / (p + r)
        if best is None or f1 >= best[0]:
            best = (f1, float(t), p, r)
    f1, t, p, r = best
    return {"threshold": round(t, 3), "f1": round(f1, 3), "precision": round(p, 3), "recall": round(r, 3),
            "sentences": len(sentences), "evidence_sentences": int(ok.sum())}
