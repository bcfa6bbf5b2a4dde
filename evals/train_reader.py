"""`aimf train reader`: fine-tune the sentence reader (rag/reader.py) and measure it against the baselines.

Trains the top layers of the bundled e5-small and a linear head as a cross-encoder on PIAF (one half of the
articles by default, the other half measured) and the gold JSONL files of the dev half, with near-miss questions
(evals/reader_data.py). Measures, on the held-out articles, the answer sentence's top-1 among the sentences of
three paragraphs of its article (word overlap, e5 cosine and the reader) and the AUC of telling a real question
from its near-miss (best sentence of the paragraph). Writes the trained layers and head (float16 safetensors)
and a card with the base model's identity, seed, data sha256 and figures; the figures go to bench-results too.
Same seed, data and steps give the same weights and figures (`--max-steps` repeats a run cut by `--max-minutes`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np

from rag.reader import (CARD_NAME, FORMAT, MAX_LEN, MODEL_DIR, WEIGHTS_NAME, PairEncoder, Reader, base_identity,
                        make_network, trained_names)

PIAF = Path("/work/shared/data/piaf/piaf-dev.json")
GOLD_DEV = ["evals/datasets/aimf-gold.jsonl", "evals/datasets/groups/instances.jsonl", "evals/datasets/groups/cooperation.jsonl"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=["reader"], help="ce qu'il faut entraîner")
    p.add_argument("--squad", type=Path, default=Path(os.environ.get("AIMF_PIAF", PIAF)), help="fichier SQuAD (PIAF)")
    p.add_argument("--gold", type=Path, nargs="*", default=[Path(g) for g in GOLD_DEV],
                   help="jeux JSONL de la moitié dev (les absents sont ignorés)")
    p.add_argument("--half", choices=["even", "odd", "all"], default="even",
                   help="articles d'entraînement (les autres sont mesurés ; all : aucun n'est mesuré)")
    p.add_argument("--layers", type=int, default=4, help="couches du haut entraînées")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4, help="taux des couches entraînées")
    p.add_argument("--lr-head", type=float, default=1e-3)
    p.add_argument("--rank-weight", type=float, default=1.0, help="poids de la perte de classement par question")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--max-len", type=int, default=MAX_LEN)
    p.add_argument("--max-minutes", type=float, default=None, help="arrête l'entraînement après ce temps")
    p.add_argument("--max-steps", type=int, default=None, help="arrête après n pas (même calendrier de taux)")
    p.add_argument("--limit-questions", type=int, default=None, help="essai rapide : n premières questions d'entraînement")
    p.add_argument("--eval-limit", type=int, default=None, help="au plus n questions mesurées (sous-ensemble fixe)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=MODEL_DIR, help="dossier du lecteur livré")
    p.add_argument("--no-save", action="store_true", help="mesurer seulement")
    p.add_argument("--results", type=Path, default=Path("bench-results/reader.json"))
    p.add_argument("--label", default=None, help="nom de la configuration dans le fichier de résultats")


def _sha256(paths: list[Path]) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from evals.reader_data import (NearMissMaker, corpus_sentences, eval_cases, gold_pairs, load_squad_articles,
                                   split_articles, training_pairs)
    from rag.embeddings import resolve_model_path
    from rag.settings import get_settings

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    settings = get_settings()
    model_path = resolve_model_path(settings)

    # ---- data
    articles = load_squad_articles(args.squad)
    train_articles, test_articles = split_articles(articles, args.half)
    gold = [g for g in args.gold if g.is_file()]
    sentences = corpus_sentences(settings.corpus_dir) if gold else []
    maker = NearMissMaker.from_texts([a.text for a in articles] + [s.sentence for s in sentences])
    if args.limit_questions:
        budget = args.limit_questions
        for a in train_articles:
            a.questions, budget = a.questions[: max(budget, 0)], budget - len(a.questions)
    pairs = training_pairs(train_articles, args.seed, maker)
    extra, gold_used = gold_pairs(gold, sentences, args.seed, maker) if gold else ([], 0)
    pairs += extra
    corpus_digest = hashlib.sha256(
        "\n".join(f"{s.source}\t{s.context}\t{s.sentence}" for s in sentences).encode("utf-8")).hexdigest()
    files = _sha256([args.squad, *gold])
    data_sha = hashlib.sha256(json.dumps([files, corpus_digest, args.half, args.limit_questions]).encode()).hexdigest()
    cases = eval_cases(test_articles, args.seed, maker)
    if args.eval_limit and len(cases) > args.eval_limit:
        step = len(cases) / args.eval_limit
        cases = [cases[int(i * step)] for i in range(args.eval_limit)]
    print(f"données : {len(pairs)} paires ({sum(p.label for p in pairs)} positives, "
          f"{sum(1 for p in pairs if p.label == 0)} négatives dont quasi-questions), {gold_used} questions gold, "
          f"{len(cases)} questions mesurées ; sha256 {data_sha[:16]}")

    # ---- model
    net = make_network(model_path)
    encoder = PairEncoder(Path(model_path) / "tokenizer.json", args.max_len)
    names = set(trained_names(net, args.layers))
    for name, param in net.named_parameters():
        param.requires_grad = name in names
    figures: dict[str, object] = {}
    if cases:
        figures["baselines"] = baselines(net, encoder, cases)
        print("références :", json.dumps(figures["baselines"]))

    # ---- training
    encoded = [(encoder.encode(p.question, [(p.context, p.sentence)])[0], p.label) for p in pairs]
    # A question's pairs follow each other: they form its group, kept in one batch so that the loss can also ask
    # for its answer sentence to come first among them (a ranking signal that the per-pair loss lacks).
    groups: list[list[int]] = []
    for i, p in enumerate(pairs):
        if not groups or pairs[groups[-1][0]].question != p.question:
            groups.append([])
        groups[-1].append(i)
    rng = random.Random(args.seed)
    batches: list[list[list[int]]] = []
    for _ in range(math.ceil(args.epochs)):
        order = list(range(len(groups)))
        rng.shuffle(order)
        # Sorted within windows: similar lengths together, little padding, the order still random.
        window = 150
        for k in range(0, len(order), window):
            chunk = sorted(order[k : k + window], key=lambda g: max(len(encoded[i][0].ids) for i in groups[g]))
            part: list[list[list[int]]] = [[]]
            for g in chunk:
                if sum(map(len, part[-1])) >= args.batch:
                    part.append([])
                part[-1].append(groups[g])
            rng.shuffle(part)
            batches += part
    total = int(len(batches) * args.epochs / math.ceil(args.epochs)) if args.epochs else 0
    head = [p for n, p in net.named_parameters() if n in names and n.startswith("head.")]
    body = [p for n, p in net.named_parameters() if n in names and not n.startswith("head.")]
    opt = torch.optim.AdamW([{"params": body, "lr": args.lr}, {"params": head, "lr": args.lr_head}], weight_decay=0.01)
    warm = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    net.train()
    started, done, running = time.perf_counter(), 0, 0.0
    bar = tqdm(total=total, desc="entraînement", unit="pas")
    for step in range(total):
        if args.max_steps is not None and step >= args.max_steps:
            break
        if args.max_minutes is not None and time.perf_counter() - started > 60 * args.max_minutes:
            bar.write(f"temps écoulé : arrêt après {step} pas (refaire ce résultat : --max-steps {step})")
            break
        idx = [i for g in batches[step] for i in g]
        inputs = encoder.batch([encoded[i][0] for i in idx])
        labels = torch.tensor([float(encoded[i][1]) for i in idx])
        logits = net(**inputs)
        loss = loss_fn(logits, labels) + args.rank_weight * _rank_loss(logits, labels, [len(g) for g in batches[step]])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        done = step + 1
        running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
        bar.set_postfix(perte=f"{running:.3f}")
        bar.update()
    bar.close()
    train_seconds = time.perf_counter() - started
    net.eval()
    # What ships is float16: measure that, not the float32 weights.
    params = dict(net.named_parameters())
    shipped = {n: params[n].detach().to(torch.float16).contiguous() for n in sorted(names)}
    with torch.no_grad():
        for n, v in shipped.items():
            params[n].copy_(v.float())

    card = {
        "format": FORMAT,
        "base_model": {"name": settings.embedding_model, "weights_sha256": base_identity(model_path)},
        "layers_trained": args.layers,
        "max_len": args.max_len,
        "seed": args.seed,
        "data": {"sha256": data_sha, "files": files, "corpus_sentences_sha256": corpus_digest,
                 "train_articles": args.half, "pairs": len(pairs), "gold_questions": gold_used,
                 "limit_questions": args.limit_questions},
        "training": {"epochs": args.epochs, "batch": args.batch, "lr_layers": args.lr, "lr_head": args.lr_head,
                     "rank_weight": args.rank_weight,
                     "steps": done, "steps_planned": total, "seconds": round(train_seconds, 1),
                     "threads": args.threads},
    }
    if cases:
        t0 = time.perf_counter()
        reader = Reader(net, encoder, card, bf16=settings.embedding_dtype == "bfloat16")
        figures["reader"] = measure(reader, cases)
        figures["reader"]["seconds_per_sentence"] = round((time.perf_counter() - t0) / figures["reader"]["pairs"], 4)
        figures["measured_on"] = {"articles": "odd" if args.half == "even" else "even", "questions": len(cases)}
        print("lecteur :", json.dumps(figures["reader"]))
    card["figures"] = figures
    if not args.no_save:
        from safetensors.torch import save_file

        args.out.mkdir(parents=True, exist_ok=True)
        save_file(shipped, str(args.out / WEIGHTS_NAME), metadata={"format": FORMAT})
        (args.out / CARD_NAME).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        size = (args.out / WEIGHTS_NAME).stat().st_size
        print(f"écrit : {args.out / WEIGHTS_NAME} ({size / 1e6:.1f} Mo) et {CARD_NAME}")
    label = args.label or f"half={args.half},layers={args.layers},epochs={args.epochs},steps={done}"
    _record(args.results, label, card)
    print(f"entraînement : {done} pas en {train_seconds / 60:.1f} min ; résultats dans {args.results} ({label})")
    return 0


def _rank_loss(logits, labels, sizes: list[int]):
    """Softmax over each question's candidates: -log of the share of its answer sentence(s)."""
    import torch

    terms = []
    for g, y in zip(torch.split(logits, sizes), torch.split(labels, sizes)):
        if 0 < y.sum() < len(y):
            terms.append(torch.logsumexp(g, 0) - torch.logsumexp(g[y > 0], 0))
    return torch.stack(terms).mean() if terms else logits.sum() * 0


def _record(path: Path, label: str, card: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    results[label] = {k: card[k] for k in ("base_model", "layers_trained", "seed", "data", "training", "figures")}
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _auc(pos: list[float], neg: list[float]) -> float | None:
    from sklearn.metrics import roc_auc_score

    if not pos or not neg:
        return None
    return round(float(roc_auc_score([1] * len(pos) + [0] * len(neg), pos + neg)), 4)


def _summary(cases, score_fn) -> dict:
    """Top-1 of the answer sentence and AUC of real vs near-miss question (best sentence of the paragraph)."""
    hits, real, near = 0, [], []
    for c in cases:
        scores = score_fn(c.question, c.items)
        hits += int(int(np.argmax(scores)) == c.answer)
        if c.near_miss:
            real.append(float(np.max(scores[c.paragraph])))
            near.append(float(np.max(score_fn(c.near_miss, c.items[c.paragraph]))))
    return {"top1": round(hits / len(cases), 4), "answerability_auc": _auc(real, near), "near_miss_questions": len(near)}


def measure(reader: Reader, cases) -> dict:
    from tqdm import tqdm

    pairs = sum(len(c.items) + (c.paragraph.stop - c.paragraph.start if c.near_miss else 0) for c in cases)
    out = _summary(tqdm(cases, desc="mesure", unit="q"), reader.score)
    out["pairs"] = pairs
    return out


def baselines(net, encoder: PairEncoder, cases) -> dict:
    """Word overlap (shared stems) and the base e5 cosine, on the same candidates."""
    import torch

    from rag.text import tokens

    def overlap(question: str, items) -> np.ndarray:
        q = set(tokens(question))
        return np.array([len(q & set(tokens(s))) for _, s in items], dtype=np.float32)

    texts = sorted({"query: " + c.question for c in cases} | {"query: " + c.near_miss for c in cases if c.near_miss}
                   | {"passage: " + s for c in cases for _, s in c.items})
    vectors: dict[str, np.ndarray] = {}
    net.eval()
    with torch.inference_mode():
        order = sorted(texts, key=len)
        for k in range(0, len(order), 64):
            chunk = order[k : k + 64]
            enc = encoder.tok.encode_batch(chunk)
            width = min(512, max(len(e.ids) for e in enc))
            ids = torch.full((len(chunk), width), encoder.pad, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for i, e in enumerate(enc):
                n = min(width, len(e.ids))
                ids[i, :n], mask[i, :n] = torch.tensor(e.ids[:n]), 1
            h = net.encoder(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
            m = mask.unsqueeze(-1).float()
            v = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1).numpy()
            vectors.update(zip(chunk, v))

    def cosine(question: str, items) -> np.ndarray:
        q = vectors["query: " + question]
        return np.array([float(vectors["passage: " + s] @ q) for _, s in items], dtype=np.float32)

    return {"word_overlap": _summary(cases, overlap), "e5_cosine": _summary(cases, cosine)}
