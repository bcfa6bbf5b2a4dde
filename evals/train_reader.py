"""`aimf train reader`: fine-tune the span reader (rag/reader.py) and measure it against the baselines.

Trains the top layers of the bundled e5-small and a start/end head on PIAF (one half of the articles by default,
the other half measured; evals/reader_data.py). The frozen lower layers are run once per example and their output
kept, so that each step runs only the trained layers. Measures, on the held-out articles, each question read with
its paragraph and two other paragraphs of its article: SQuAD exact match and F1 of the best span, whether the best
span lies in the answer sentence (against word overlap and the base e5 cosine choosing a sentence), and the AUC of
telling a real question from its near-miss. Writes the trained layers and head (float16 or int8 safetensors) and a card
with the base model's identity, seed, data sha256 and figures; the figures go to bench-results too. Same seed, data
and steps give the same weights and figures (`--max-steps` repeats a run cut by `--max-minutes`).

`--gold dev` adds the project's own dev questions (evals/reader_gold.py: answers placed in the passages the corpus
index returns, unanswerable questions with their retrieved passages as real near-misses; the test half is refused),
and `--init DIR` continues from a trained reader: the shipped weights are PIAF first, then the gold dev half with
300 PIAF questions again (`make reader` runs both; the card records the first stage's weights and data).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np

from evals.dataset import PIAF  # beside the checkout, or AIMF_PIAF / --squad
from rag.reader import (CARD_NAME, FORMAT, MAX_LEN, MODEL_DIR, WEIGHT_DTYPES, WEIGHTS_NAME, Reader, SpanEncoder,
                        Window, base_identity, make_network, pack, trained_names, unpack)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=["reader"], help="ce qu'il faut entraîner")
    p.add_argument("--squad", type=Path, default=Path(os.environ.get("AIMF_PIAF", PIAF)), help="fichier SQuAD (PIAF)")
    p.add_argument("--half", choices=["even", "odd", "all"], default="even",
                   help="articles d'entraînement (les autres sont mesurés ; all : aucun n'est mesuré)")
    p.add_argument("--layers", type=int, default=8, help="couches du haut entraînées")
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4, help="taux des couches entraînées")
    p.add_argument("--lr-head", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--max-len", type=int, default=MAX_LEN)
    p.add_argument("--max-minutes", type=float, default=None, help="arrête l'entraînement après ce temps")
    p.add_argument("--max-steps", type=int, default=None, help="arrête après n pas (même calendrier de taux)")
    p.add_argument("--limit-questions", type=int, default=None, help="essai rapide : n premières questions d'entraînement")
    p.add_argument("--eval-limit", type=int, default=None, help="au plus n questions mesurées (sous-ensemble fixe)")
    p.add_argument("--gold", type=Path, nargs="+", default=[],
                   help="jeux de questions JSONL ajoutés à l'entraînement, ou « dev » pour la moitié dev "
                        "(evals/datasets/splits.json ; la moitié test est refusée) : réponses placées dans les "
                        "passages que l'index du corpus retrouve (lancez d'abord « aimf ingest »)")
    p.add_argument("--leave-out", metavar="GROUPE", default=None,
                   help="avec --gold dev : sans ce groupe de la moitié dev (validation croisée par groupe : le lecteur "
                        "est ensuite mesuré sur ce groupe, qu'il n'a pas vu)")
    p.add_argument("--gold-near-miss", action=argparse.BooleanOptionalAction, default=False,
                   help="avec --gold : une quasi-question par question à réponse (un nom, une année ou un montant "
                        "échangé pour un autre du corpus), lue avec le passage qui répond : pas de réponse")
    p.add_argument("--init", type=Path, default=None,
                   help="partir d'un lecteur déjà entraîné (dossier avec card.json) au lieu du modèle de base")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=MODEL_DIR, help="dossier du lecteur livré")
    p.add_argument("--no-save", action="store_true", help="mesurer seulement")
    p.add_argument("--weights-dtype", choices=WEIGHT_DTYPES, default="float16",
                   help="type des poids livrés (int8 : moitié de la taille, mêmes réponses à l'arrondi près)")
    p.add_argument("--results", type=Path, default=Path("bench-results/reader.json"))
    p.add_argument("--label", default=None, help="nom de la configuration dans le fichier de résultats")


def answer_tokens(window: Window, start: int, end: int) -> tuple[int, int] | None:
    """Token positions (in the window) of the answer's first and last characters, or None when the window does not
    hold the whole answer."""
    first = next((k for k, (a, b) in enumerate(window.offsets) if b > start), None)
    last = next((k for k in range(len(window.offsets) - 1, -1, -1) if window.offsets[k][0] < end), None)
    if first is None or last is None or last < first:
        return None
    if window.offsets[first][0] > start + 1 or window.offsets[last][1] < end:
        return None
    return window.body_start + first, window.body_start + last


def encode_examples(encoder: SpanEncoder, examples) -> list[tuple[Window, int, int]]:
    """(window, start token, end token) per usable example; a passage's first window is used for no-answer
    examples, the first window holding the whole answer for the others."""
    out = []
    for e in examples:
        windows = encoder.windows(e.question, [(e.title, e.text)])
        if e.start is None:
            out.append((windows[0], 0, 0))
            continue
        for w in windows:
            target = answer_tokens(w, e.start, e.start + len(e.answer))
            if target:
                out.append((w, *target))
                break
    return out


def _sha256(paths: list[Path]) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


class SplitEncoder:
    """The encoder cut in two: the frozen lower layers, run once per example, and the trained top layers."""

    def __init__(self, net, layers: int) -> None:
        self.net, self.bert = net, net.encoder
        self.cut = self.bert.config.num_hidden_layers - layers

    @staticmethod
    def _mask(mask):
        import torch

        # Additive (batch, 1, 1, tokens) mask: what the layers' attention adds to its scores for padding.
        return (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min

    def lower(self, input_ids, attention_mask):
        import torch

        h = self.bert.embeddings(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids))
        ext = self._mask(attention_mask)
        for layer in self.bert.encoder.layer[: self.cut]:
            h = layer(h, attention_mask=ext)
        return h

    def upper(self, hidden, attention_mask):
        ext = self._mask(attention_mask)
        for layer in self.bert.encoder.layer[self.cut :]:
            hidden = layer(hidden, attention_mask=ext)
        return self.net.head(hidden)


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from evals.reader_data import NearMissMaker, eval_cases, load_squad_articles, split_articles, training_examples
    from rag.embeddings import computes_in_bf16, resolve_model_path
    from rag.settings import get_settings

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    settings = get_settings()
    model_path = resolve_model_path(settings)

    # ---- data
    if not args.squad.is_file():
        raise SystemExit(f"fichier SQuAD introuvable : {args.squad} (--squad ou AIMF_PIAF)")
    articles = load_squad_articles(args.squad)
    train_articles, test_articles = split_articles(articles, args.half)
    maker = NearMissMaker.from_texts(a.text for a in articles)
    if args.limit_questions:
        budget = args.limit_questions
        for a in train_articles:
            a.questions, budget = a.questions[: max(budget, 0)], budget - len(a.questions)
    examples = training_examples(train_articles, args.seed, maker)
    gold_files = _gold_files(args.gold, args.leave_out)
    files = _sha256([args.squad, *gold_files])
    gold = _gold_examples(gold_files, settings, args.seed if args.gold_near_miss else None) if gold_files else []
    examples += gold
    # The gold examples depend on the index (corpus and retrieval): their own text is hashed, not only the files.
    gold_sha = hashlib.sha256(json.dumps([[e.question, e.title, e.text, e.start] for e in gold]).encode()).hexdigest()
    data_sha = hashlib.sha256(json.dumps([files, args.half, args.limit_questions]
                                         + ([gold_sha] if gold else [])).encode()).hexdigest()
    cases = eval_cases(test_articles, args.seed, maker)
    if args.eval_limit and len(cases) > args.eval_limit:
        step = len(cases) / args.eval_limit
        cases = [cases[int(i * step)] for i in range(args.eval_limit)]

    # ---- model
    net, parent = _start_from(model_path, args.init, args.layers) if args.init else (make_network(model_path), None)
    encoder = SpanEncoder(Path(model_path) / "tokenizer.json", args.max_len)
    encoded = encode_examples(encoder, examples)
    print(f"données : {len(examples)} exemples ({sum(e.start is not None for e in examples)} avec réponse), "
          f"{len(encoded)} utilisables, {len(cases)} questions mesurées ; sha256 {data_sha[:16]}")
    names = set(trained_names(net, args.layers))
    for name, param in net.named_parameters():
        param.requires_grad = name in names
    figures: dict[str, object] = {}
    if cases:
        # the e5 baseline is the base model's: a second stage's network already carries the first stage's layers
        figures["baselines"] = baselines(make_network(model_path) if args.init else net, encoder, cases)
        print("références :", json.dumps(figures["baselines"]))

    # ---- the frozen layers, once
    split = SplitEncoder(net, args.layers)
    net.eval()
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0].ids))
    lower: list = [None] * len(encoded)
    with torch.inference_mode():
        check = encoder.batch([encoded[i][0] for i in order[:4]])
        full = net(**check)
        cut = split.upper(split.lower(**check), check["attention_mask"])
        if not torch.allclose(full, cut, atol=1e-3):
            raise SystemExit("le découpage de l'encodeur ne reproduit pas le modèle entier (version de transformers ?)")
        for k in tqdm(range(0, len(order), 32), desc="couches figées", unit="lot"):
            idx = order[k : k + 32]
            batch = encoder.batch([encoded[i][0] for i in idx])
            hidden = split.lower(**batch)
            for row, i in enumerate(idx):
                lower[i] = hidden[row, : len(encoded[i][0].ids)].to(torch.bfloat16).clone()

    # ---- training
    rng = random.Random(args.seed)
    batches: list[list[int]] = []
    for _ in range(math.ceil(args.epochs)):
        shuffled = list(range(len(encoded)))
        rng.shuffle(shuffled)
        window = 200  # sorted within windows: similar lengths together, little padding, the order still random
        for k in range(0, len(shuffled), window):
            chunk = sorted(shuffled[k : k + window], key=lambda i: len(encoded[i][0].ids))
            part = [chunk[j : j + args.batch] for j in range(0, len(chunk), args.batch)]
            rng.shuffle(part)
            batches += part
    total = int(len(batches) * args.epochs / math.ceil(args.epochs)) if args.epochs else 0
    head = [p for n, p in net.named_parameters() if n in names and n.startswith("head.")]
    body = [p for n, p in net.named_parameters() if n in names and not n.startswith("head.")]
    opt = torch.optim.AdamW([{"params": body, "lr": args.lr}, {"params": head, "lr": args.lr_head}], weight_decay=0.01)
    warm = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    for layer in net.encoder.encoder.layer[split.cut :]:
        layer.train()
    net.head.train()
    started, done, running = time.perf_counter(), 0, 0.0
    bar = tqdm(total=total, desc="entraînement", unit="pas")
    for step in range(total):
        if args.max_steps is not None and step >= args.max_steps:
            break
        if args.max_minutes is not None and time.perf_counter() - started > 60 * args.max_minutes:
            bar.write(f"temps écoulé : arrêt après {step} pas (refaire ce résultat : --max-steps {step})")
            break
        idx = batches[step]
        width = max(len(encoded[i][0].ids) for i in idx)
        hidden = torch.zeros((len(idx), width, lower[idx[0]].shape[-1]))
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        allowed = torch.zeros((len(idx), width), dtype=torch.bool)
        for row, i in enumerate(idx):
            w = encoded[i][0]
            hidden[row, : len(w.ids)] = lower[i].float()
            mask[row, : len(w.ids)] = 1
            allowed[row, 0] = True
            allowed[row, w.body_start : w.body_start + len(w.offsets)] = True
        logits = split.upper(hidden, mask).masked_fill(~allowed.unsqueeze(-1), -1e4)
        starts = torch.tensor([encoded[i][1] for i in idx])
        ends = torch.tensor([encoded[i][2] for i in idx])
        loss = (torch.nn.functional.cross_entropy(logits[..., 0], starts)
                + torch.nn.functional.cross_entropy(logits[..., 1], ends)) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        done = step + 1
        running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
        bar.set_postfix(perte=f"{running:.3f}")
        bar.update()
    bar.close()
    del lower
    train_seconds = time.perf_counter() - started
    net.eval()
    # Measure what ships (float16 or int8), not the float32 weights.
    params = dict(net.named_parameters())
    shipped = pack({n: params[n] for n in names}, args.weights_dtype)
    with torch.no_grad():
        for n, v in unpack(shipped, args.weights_dtype).items():
            params[n].copy_(v)

    card = {
        "format": FORMAT,
        "base_model": {"name": settings.embedding_model, "weights_sha256": base_identity(model_path)},
        "layers_trained": args.layers,
        "weights_dtype": args.weights_dtype,
        "max_len": args.max_len,
        "seed": args.seed,
        "data": {"sha256": data_sha, "files": {Path(k).name: v for k, v in files.items()},
                 "train_articles": args.half, "examples": len(examples), "usable": len(encoded),
                 "limit_questions": args.limit_questions, "gold_examples": len(gold),
                 "gold_near_miss": bool(gold and args.gold_near_miss)},
        "training": {"epochs": args.epochs, "batch": args.batch, "lr_layers": args.lr, "lr_head": args.lr_head,
                     "steps": done, "steps_planned": total, "seconds": round(train_seconds, 1),
                     "threads": args.threads},
    }
    if cases:
        reader = Reader(net, encoder, card, bf16=computes_in_bf16(settings))
        figures["reader"] = measure(reader, cases)
        figures["measured_on"] = {"articles": "odd" if args.half == "even" else "even", "questions": len(cases)}
        print("lecteur :", json.dumps(figures["reader"]))
    card["figures"] = figures
    if parent:
        card["init"] = parent
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


def _gold_files(given: list[Path], leave_out: str | None = None) -> list[Path]:
    """The gold files to train on: "dev" stands for the dev half's groups (but ``leave_out``, a dev group); a file of
    the test half is refused (its figures are reported, never learnt from)."""
    from evals.splits import load_splits, split_files

    groups = load_splits()
    if leave_out is not None and groups.get(leave_out, {}).get("split") != "dev":
        raise SystemExit(f"--leave-out : « {leave_out} » n'est pas un groupe de la moitié dev "
                         f"({', '.join(g for g, v in groups.items() if v['split'] == 'dev')})")
    if leave_out is not None and "dev" not in map(str, given):
        raise SystemExit("--leave-out ne s'emploie qu'avec --gold dev")
    left = Path(groups[leave_out]["file"]).resolve() if leave_out else None
    dev = [f for f in split_files("dev") if f.resolve() != left]
    files = [f for g in given for f in (dev if str(g) == "dev" else [g])]
    frozen = {Path(g["file"]).resolve() for g in groups.values() if g["split"] == "test"}
    for f in files:
        if not f.is_file():
            raise SystemExit(f"jeu de questions introuvable : {f}")
        if f.resolve() in frozen:
            raise SystemExit(f"{f} appartient à la moitié test (figée) : on ne s'entraîne jamais dessus")
    return list(dict.fromkeys(files))


def _gold_examples(paths: list[Path], settings, near_miss_seed: int | None = None) -> list:
    """Examples from gold JSONL question sets, each question put to the retriever over the indexed corpus; with a
    seed, each answerable one also gives a near-miss whose swapped name, year or amount comes from the corpus."""
    from evals.dataset import load_dataset
    from evals.reader_data import NearMissMaker
    from evals.reader_gold import GoldStats, gold_examples
    from rag.assistant import Assistant, to_passage
    from rag.store import IndexMissingError

    assistant = Assistant(settings)
    try:
        empty = assistant.retriever.store.count() == 0
    except IndexMissingError as exc:
        raise SystemExit(f"{exc} (--gold lit les passages que l'index retrouve)") from None
    if empty:
        raise SystemExit(f"index vide dans {settings.data_dir} : lancez « aimf ingest » avant --gold")
    stats = GoldStats()

    def search(question: str) -> list[tuple[str, str]]:
        return [(p.title, p.text) for p in map(to_passage, assistant.retriever.search(question, k=settings.k))]

    near_miss = None
    if near_miss_seed is not None:
        maker = NearMissMaker.from_texts(d.page_content for d in assistant.retriever.store.all_documents())
        near_miss = functools.partial(maker.make, rng=random.Random(near_miss_seed))
    examples = gold_examples([q for path in paths for q in load_dataset(path)], search, stats, near_miss)
    print(f"questions de référence : {stats.questions} ({stats.placed} réponses placées, {stats.unplaced} non "
          f"placées, {stats.unanswerable} sans réponse, {stats.near_misses} quasi-questions) : "
          f"{len(examples)} exemples")
    return examples


def _start_from(model_path, folder: Path, layers: int):
    """The network of a trained reader (loaded and checked as the assistant loads it), to train further; and what
    it was, for the new card."""
    from rag.reader import ReaderError

    try:
        reader = Reader.open(model_path, folder, bf16=False)
    except ReaderError as exc:
        raise SystemExit(str(exc)) from None
    card = reader.card
    if int(card["layers_trained"]) != layers:
        raise SystemExit(f"{folder} : {card['layers_trained']} couches entraînées, --layers {layers} demandé")
    weights = (folder / WEIGHTS_NAME).read_bytes()
    return reader.net, {"weights_sha256": hashlib.sha256(weights).hexdigest(), "data": card.get("data"),
                        "training": card.get("training"), "seed": card.get("seed")}


def _record(path: Path, label: str, card: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    results[label] = {k: card[k] for k in ("base_model", "layers_trained", "seed", "data", "training", "figures",
                                           "init") if k in card}
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _auc(pos: list[float], neg: list[float]) -> float | None:
    from sklearn.metrics import roc_auc_score

    if not pos or not neg:
        return None
    return round(float(roc_auc_score([1] * len(pos) + [0] * len(neg), pos + neg)), 4)


def _in_answer_sentence(case, passage: int, start: int, end: int) -> bool:
    a, b = case.sentence
    return passage == 0 and start < b and end > a


def measure(reader: Reader, cases) -> dict:
    """The reader's best span over the case's passages: EM/F1, in the answer sentence or not; near-miss AUC."""
    from tqdm import tqdm

    from evals.metrics import exact_match, squad_f1

    em, f1, top1, real, near = [], [], [], [], []
    started = time.perf_counter()
    for c in tqdm(cases, desc="mesure", unit="q"):
        spans = reader.read(c.question, c.passages)
        best = max((s for s in spans if s is not None), key=lambda s: s.score, default=None)
        text = best.text if best else ""
        em.append(exact_match(text, c.answers) or 0.0)
        f1.append(squad_f1(text, c.answers) or 0.0)
        top1.append(best is not None and _in_answer_sentence(c, best.passage, best.start, best.end))
        if c.near_miss and spans[0] is not None:
            (other,) = reader.read(c.near_miss, c.passages[:1])
            if other is not None:
                real.append(spans[0].score)
                near.append(other.score)
    seconds = time.perf_counter() - started
    return {"exact_match": round(float(np.mean(em)), 4), "f1": round(float(np.mean(f1)), 4),
            "top1": round(float(np.mean(top1)), 4), "answerability_auc": _auc(real, near),
            "near_miss_questions": len(near), "seconds_per_question": round(seconds / max(1, len(cases)), 4)}


def baselines(net, encoder: SpanEncoder, cases) -> dict:
    """Word overlap (shared stems) and the base e5 cosine choosing a sentence among the same passages' sentences:
    top-1, the AUC of real vs near-miss (best sentence of the question's paragraph), and the SQuAD F1 of the chosen
    sentence taken whole as the answer."""
    import torch

    from evals.metrics import squad_f1
    from rag.text import tokens

    def sentences(c):
        return [(p, a, b, c.passages[p][1][a:b]) for p, a, b in c.sentences()]

    texts = sorted({"query: " + c.question for c in cases} | {"query: " + c.near_miss for c in cases if c.near_miss}
                   | {"passage: " + s for c in cases for *_, s in sentences(c)})
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

    def overlap(question: str, sents) -> np.ndarray:
        q = set(tokens(question))
        return np.array([len(q & set(tokens(s))) for *_, s in sents], dtype=np.float32)

    def cosine(question: str, sents) -> np.ndarray:
        q = vectors["query: " + question]
        return np.array([float(vectors["passage: " + s] @ q) for *_, s in sents], dtype=np.float32)

    out = {}
    for name, fn in (("word_overlap", overlap), ("e5_cosine", cosine)):
        top1, f1, real, near = [], [], [], []
        for c in cases:
            sents = sentences(c)
            scores = fn(c.question, sents)
            p, a, b, s = sents[int(np.argmax(scores))]
            top1.append(_in_answer_sentence(c, p, a, b))
            f1.append(squad_f1(s, c.answers) or 0.0)
            own = [x for x in sents if x[0] == 0]
            if c.near_miss and own:
                real.append(float(np.max(fn(c.question, own))))
                near.append(float(np.max(fn(c.near_miss, own))))
        out[name] = {"top1": round(float(np.mean(top1)), 4), "sentence_f1": round(float(np.mean(f1)), 4),
                     "answerability_auc": _auc(real, near), "near_miss_questions": len(near)}
    return out
