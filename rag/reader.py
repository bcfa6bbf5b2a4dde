"""A span reader: the words of a passage that answer a question, or "no answer", from a model trained here.

The bundled multilingual-e5-small reads the question and a passage together (``<s> query: question </s>
passage: title : text </s>``, long passages in overlapping windows), and a linear head gives each token a start and
an end logit. As in SQuAD 2.0 readers, the first token stands for "no answer": a span's score is its start + end
logits minus the first token's, so a score below zero means the reader would rather not answer from this passage.
Only what training changed ships with the project: the top encoder layers and the head, int8 or float16 safetensors in
``rag/models/reader/``, with a JSON card that binds them to the base model's weights (sha256). On another base
model the top layers would read vectors they were never trained on: loading refuses, clearly.
``aimf train reader`` (evals/train_reader.py) trains it: on PIAF first, then on the project's dev questions put to
the indexed corpus (``--gold dev --init``); ``make reader`` rebuilds the shipped files with both stages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.settings import Settings
from rag.text import tokens

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parent / "models" / "reader"
WEIGHTS_NAME = "reader.safetensors"
CARD_NAME = "card.json"
FORMAT = "aimf-span-reader-1"
MAX_LEN = 192  # tokens per window: a step takes ~1.4 s instead of ~1.7 s at 320; longer passages get overlapping windows
QUESTION_TOKENS = 48
TITLE_TOKENS = 24
# Windows of a long passage overlap by this many tokens, so that an answer cut by one window is whole in the next.
STRIDE = 64
# Longest answer, in tokens: SQuAD-style answers are a few words; a whole clause is not a short answer.
MAX_ANSWER_TOKENS = 24
# A question and passages in one language are decided by rag/relevance.answerable (relevance and the reader's best
# span score in one fitted model). Across languages, where that model was not fitted, the reader only rescues: where
# the relevance estimate would decline, it answers when its best span scores at least this (logits minus "no
# answer"). Refit for the reader trained on PIAF and the gold dev half (its scores sit lower): PIAF dev odd articles,
# reader trained on the even ones, wrongful abstentions 78 at 4, 74 at 3, 68 at 2; 400 PIAF questions put to the
# association's corpus (none answerable there) are answered 44 times at 2, 3 or 4, and 44 times without any reader.
RELEVANCE_FLOOR = 2.0
RELEVANCE_PASSAGES = 3
# An answer is what the question does not already say ("Quelle est la couleur de peau du rhinocéros ?": "grise",
# not "grise, plus claire que celle du rhinocéros noir"): when choosing a span, each of its tokens that belongs to a
# word of the question costs this much (logits). Its score stays the model's own. Fit on PIAF dev (readings cross-
# validated by article halves): span EM 0.137 -> 0.149 at 3 (0.147 at 10, 0.140 at 1).
QUESTION_WORD_COST = 3.0
# Passages whose windows are kept per question: the relevance check's three, the writer's, two-part questions' own.
READINGS_KEPT = 16
_WORD = re.compile(r"\w+")
_TRIM = " \t\n\u00a0,;:.!?()[]«»\"'’"


def reader_folder(settings: Settings) -> Path:
    """The reader these settings use: the shipped one (``auto``), or the folder ``AIMF_READER`` names."""
    return MODEL_DIR if settings.reader in ("auto", "off") else Path(settings.reader)


class ReaderError(RuntimeError):
    """The shipped reader cannot be used (missing files, or bound to another base model)."""


def base_identity(model_path: str | Path) -> str:
    """sha256 of the base model's weights: the bundled build records it in its marker; otherwise it is computed."""
    folder = Path(model_path)
    try:
        marker = json.loads((folder / "BUILD_COMPLETE.json").read_text(encoding="utf-8"))
        digest = marker["files"]["model.safetensors"]["sha256"]
        if isinstance(digest, str) and len(digest) == 64:
            return digest
    except (OSError, ValueError, KeyError, TypeError):
        pass
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise ReaderError(f"modèle de base sans poids safetensors lisibles : {folder}")
    h = hashlib.sha256()
    with weights.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Window:
    """One model input: token ids, and for the passage's tokens their character span in the passage text."""

    ids: list[int]
    body_start: int  # ids[body_start:body_start + len(offsets)] are passage tokens
    offsets: list[tuple[int, int]]
    passage: int  # index of the passage among those read together


@dataclass(frozen=True)
class Span:
    passage: int
    start: int  # characters in the passage text
    end: int
    text: str
    score: float  # span logits minus the "no answer" logits: below zero, the reader would rather not answer


class SpanEncoder:
    """Windows of (question, title, passage) for the reader."""

    def __init__(self, tokenizer_file: str | Path, max_len: int = MAX_LEN) -> None:
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(tokenizer_file))
        # The bundled tokenizer pads a batch to its longest text: a short passage read beside a longer one would get
        # "<pad>" tokens as title and text, read by the model as words (training cuts windows one passage at a time).
        self.tok.no_padding()
        self.tok.no_truncation()
        self.bos, self.eos = self.tok.token_to_id("<s>"), self.tok.token_to_id("</s>")
        self.pad = self.tok.token_to_id("<pad>")
        self.max_len = max_len

    def windows(self, question: str, passages: list[tuple[str, str]]) -> list[Window]:
        """Every window of every (title, text) passage; a passage longer than one window gets several."""
        q = self.tok.encode("query: " + question, add_special_tokens=False).ids[:QUESTION_TOKENS]
        heads = self.tok.encode_batch(["passage: " + (t or "").strip() + " :" for t, _ in passages],
                                      add_special_tokens=False)
        bodies = self.tok.encode_batch([text for _, text in passages], add_special_tokens=False)
        out: list[Window] = []
        for p, (head, body) in enumerate(zip(heads, bodies)):
            prefix = [self.bos, *q, self.eos, *head.ids[:TITLE_TOKENS]]
            room = max(16, self.max_len - len(prefix) - 1)
            ids, offsets = body.ids, body.offsets
            start = 0
            while True:
                part = slice(start, min(len(ids), start + room))
                out.append(Window([*prefix, *ids[part], self.eos], len(prefix), list(offsets[part]), p))
                if part.stop >= len(ids):
                    break
                start = max(part.stop - STRIDE, part.start + 1)  # always forward, even in a window narrower than STRIDE
        return out

    def batch(self, windows: list[Window]) -> dict[str, "torch.Tensor"]:
        import torch

        width = max(len(w.ids) for w in windows)
        ids = torch.full((len(windows), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(windows), width), dtype=torch.long)
        for i, w in enumerate(windows):
            ids[i, : len(w.ids)] = torch.tensor(w.ids)
            mask[i, : len(w.ids)] = 1
        return {"input_ids": ids, "attention_mask": mask}


def make_network(model_path: str | Path):
    """The base encoder with a fresh start/end head (torch imported only when a reader is actually used)."""
    import torch
    from torch import nn
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()

    class ReaderNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(model_path), local_files_only=True, add_pooling_layer=False)
            self.head = nn.Linear(self.encoder.config.hidden_size, 2)

        def forward(self, input_ids, attention_mask):
            states = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            return self.head(states)  # (batch, tokens, 2): start and end logits

    return ReaderNet()


def trained_names(net, layers: int) -> list[str]:
    """Parameter names of the top ``layers`` encoder layers and of the head: what training changes and ships."""
    n = net.encoder.config.num_hidden_layers
    prefixes = tuple(f"encoder.encoder.layer.{i}." for i in range(n - layers, n)) + ("head.",)
    return [name for name, _ in net.named_parameters() if name.startswith(prefixes)]


WEIGHT_DTYPES = ("float16", "int8")
_SCALE = ".int8_scale"


def pack(params: dict[str, "torch.Tensor"], dtype: str = "float16") -> dict[str, "torch.Tensor"]:
    """The trained weights as they ship. float16; or int8 (half the size, so that more layers fit the budget):
    each matrix row scaled to [-127, 127] from its float16 values, its scale kept beside it (``name.int8_scale``),
    vectors (biases, norms) in float16. Going through float16 first makes a file converted from a float16 one
    identical to the one training would write."""
    import torch

    if dtype not in WEIGHT_DTYPES:
        raise ValueError(f"type de poids inconnu : {dtype!r} (attendu : {', '.join(WEIGHT_DTYPES)})")
    out: dict[str, torch.Tensor] = {}
    for name in sorted(params):
        half = params[name].detach().to(torch.float16).contiguous()
        if dtype == "float16" or half.dim() != 2:
            out[name] = half
            continue
        scale = (half.float().abs().amax(dim=1) / 127.0).clamp(min=1e-12).to(torch.float16)
        out[name] = torch.round(half.float() / scale.float()[:, None]).clamp(-127, 127).to(torch.int8).contiguous()
        out[name + _SCALE] = scale.contiguous()
    return out


def unpack(stored: dict[str, "torch.Tensor"], dtype: str = "float16") -> dict[str, "torch.Tensor"]:
    """float32 weights from what ``pack`` wrote."""
    import torch

    if dtype not in WEIGHT_DTYPES:
        raise ReaderError(f"type de poids inconnu dans la carte du lecteur : {dtype!r}")
    out = {}
    for name, value in stored.items():
        if name.endswith(_SCALE):
            continue
        scale = stored.get(name + _SCALE)
        out[name] = value.float() * scale.float()[:, None] if scale is not None else value.float()
    return out


def _question_word_chars(text: str, question_words: frozenset[str]) -> np.ndarray:
    """For each character of ``text``: whether it belongs to a word whose stem the question holds."""
    mask = np.zeros(len(text) + 1, dtype=bool)
    for m in _WORD.finditer(text):
        if question_words.intersection(tokens(m.group())):
            mask[m.start() : m.end()] = True
    return mask


def _whole_words(text: str, lo: int, hi: int) -> tuple[int, int]:
    """The span widened to whole words ("1950", not the "50" of its second token), then trimmed of punctuation."""
    while 0 < lo < len(text) and text[lo - 1].isalnum() and text[lo].isalnum():
        lo -= 1
    while 0 < hi < len(text) and text[hi].isalnum() and text[hi - 1].isalnum():
        hi += 1
    while lo < hi and text[lo] in _TRIM:
        lo += 1
    while hi > lo and text[hi - 1] in _TRIM:
        hi -= 1
    return lo, hi


def _window_choices(lg: np.ndarray, w: Window, text: str, max_tokens: int, question_words: frozenset[str],
                    masks: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One window's span scores: (pair, choice, allowed, null) with pair[i, j] the start + end logits of tokens i..j,
    choice the same less the question-word cost, allowed start <= end within ``max_tokens``."""
    n = len(w.offsets)
    start = lg[w.body_start : w.body_start + n, 0]
    end = lg[w.body_start : w.body_start + n, 1]
    pair = start[:, None] + end[None, :]
    i, j = np.indices(pair.shape)
    allowed = (j >= i) & (j - i < max_tokens)
    choice = pair
    if question_words:
        if w.passage not in masks:
            masks[w.passage] = _question_word_chars(text, question_words)
        asked = np.concatenate([[0.0], np.cumsum([masks[w.passage][min(a, len(text))] for a, _ in w.offsets])])
        choice = pair - QUESTION_WORD_COST * (asked[j + 1] - asked[i])
    return pair, choice, allowed, float(lg[0, 0] + lg[0, 1])


def best_spans(logits: list[np.ndarray], windows: list[Window], texts: list[str],
               within: list[tuple[int, int] | None] | None = None,
               max_tokens: int = MAX_ANSWER_TOKENS, question_words: frozenset[str] = frozenset()) -> list[Span | None]:
    """The best span of each passage over its windows, from each window's (tokens, 2) logits: start <= end, both
    inside the passage (and inside ``within[p]``, characters of passage p, when given), at most ``max_tokens``
    long, of whole words; None for a passage without such a span. With ``question_words`` (stems), a span is chosen
    with ``QUESTION_WORD_COST`` taken off per token of a word the question holds; its score is the model's."""
    best: list[Span | None] = [None] * len(texts)
    masks: dict[int, np.ndarray] = {}
    for w, lg in zip(windows, logits):
        if not w.offsets:
            continue
        text = texts[w.passage]
        pair, choice, allowed, null = _window_choices(lg, w, text, max_tokens, question_words, masks)
        limit = within[w.passage] if within else None
        if limit is not None:
            inside = np.array([a >= limit[0] - 1 and b <= limit[1] + 1 for a, b in w.offsets])
            allowed &= inside[:, None] & inside[None, :]
        if not allowed.any():
            continue
        a, b = np.unravel_index(int(np.argmax(np.where(allowed, choice, -np.inf))), pair.shape)
        score = float(pair[a, b]) - null
        lo, hi = _whole_words(text, w.offsets[a][0], w.offsets[b][1])
        if hi <= lo:
            continue
        current = best[w.passage]
        if current is None or score > current.score:
            best[w.passage] = Span(w.passage, lo, hi, text[lo:hi], score)
    return best


def best_scores(logits: list[np.ndarray], windows: list[Window], texts: list[str],
                pieces: list[tuple[int, int, int]], max_tokens: int = MAX_ANSWER_TOKENS,
                question_words: frozenset[str] = frozenset()) -> list[float | None]:
    """For each (passage, start, end) piece of text, the score of the span ``best_spans`` would choose inside it
    (None when no window holds a span inside it). Each window's span scores are computed once for all pieces."""
    scores: list[float | None] = [None] * len(pieces)
    masks: dict[int, np.ndarray] = {}
    for w, lg in zip(windows, logits):
        mine = [k for k, (p, _, _) in enumerate(pieces) if p == w.passage]
        if not w.offsets or not mine:
            continue
        pair, choice, allowed, null = _window_choices(lg, w, texts[w.passage], max_tokens, question_words, masks)
        lows = np.array([a for a, _ in w.offsets])
        highs = np.array([b for _, b in w.offsets])
        for k in mine:
            _, lo, hi = pieces[k]
            inside = np.flatnonzero((lows >= lo - 1) & (highs <= hi + 1))
            if not inside.size:
                continue
            first, last = int(inside[0]), int(inside[-1]) + 1  # the tokens of a piece are consecutive
            sub = np.where(allowed[first:last, first:last], choice[first:last, first:last], -np.inf)
            a, b = np.unravel_index(int(np.argmax(sub)), sub.shape)
            if not np.isfinite(sub[a, b]):
                continue
            score = float(pair[first + a, first + b]) - null
            if scores[k] is None or score > scores[k]:
                scores[k] = score
    return scores


def covers(w: Window, ranges: list[tuple[int, int]]) -> bool:
    """Whether the window may hold a token inside one of these character ranges of its passage (counted as
    ``best_spans`` and ``best_scores`` count a token inside, one character of slack each side)."""
    return bool(w.offsets) and any(w.offsets[0][0] <= hi + 1 and w.offsets[-1][1] >= lo - 1 for lo, hi in ranges)


@dataclass
class Reading:
    """What the reader made of some passages for one question: each window's start/end logits."""

    windows: list[Window]
    logits: list[np.ndarray]
    texts: list[str]

    def spans(self, within: list[tuple[int, int] | None] | None = None,
              question_words: frozenset[str] = frozenset()) -> list[Span | None]:
        """The best span of each passage (inside ``within[p]``, characters of passage p, when given; chosen away
        from the question's own words when their stems are given)."""
        return best_spans(self.logits, self.windows, self.texts, within, question_words=question_words)

    def scores(self, pieces: list[tuple[int, int, int]], question_words: frozenset[str] = frozenset()) -> list[float | None]:
        """For each (passage, start, end) piece, the score of the reader's best span inside it (None: none)."""
        return best_scores(self.logits, self.windows, self.texts, pieces, question_words=question_words)

    def best(self) -> Span | None:
        return max((s for s in self.spans() if s is not None), key=lambda s: s.score, default=None)


@dataclass
class _PassageWindows:
    windows: list[Window]  # as the reader cut them, in order
    logits: dict[int, np.ndarray]  # window index -> logits, for the windows read so far


class ReadingCache:
    """The windows read for the last few passages, per question. The relevance check, the rank of sentences and the
    short answer each need some windows of the same passages (a long passage has several): each window is read once,
    and only when asked for. What a caller gets depends only on what it asks for (all the windows of a passage, or
    those over some of its character ranges), never on what was read before it."""

    def __init__(self, kept: int = READINGS_KEPT) -> None:
        self.kept = kept
        self._entries: OrderedDict[tuple, _PassageWindows] = OrderedDict()
        self._lock = threading.Lock()

    def reading(self, reader, question: str, passages: list[tuple[str, str]],
                within: list[list[tuple[int, int]] | None] | None = None) -> Reading:
        """``reader`` (``windows`` and ``logits`` as ``Reader`` has them) reading (title, text) passages for the
        question: every window of passage p, or with ``within[p]`` only those over these character ranges."""
        keys = [(question, title, text) for title, text in passages]
        with self._lock:
            entries = {k: self._entries[k] for k in keys if k in self._entries}
        new = [i for i, k in enumerate(keys) if k not in entries]
        if new:
            cut = reader.windows(question, [passages[i] for i in new])
            entries |= {keys[i]: _PassageWindows([w for w in cut if w.passage == j], {}) for j, i in enumerate(new)}
        wanted = [
            [i for i, w in enumerate(entries[k].windows) if within is None or within[p] is None or covers(w, within[p])]
            for p, k in enumerate(keys)
        ]
        todo = list(dict.fromkeys((k, i) for p, k in enumerate(keys) for i in wanted[p] if i not in entries[k].logits))
        if todo:
            for (k, i), values in zip(todo, reader.logits([entries[k].windows[i] for k, i in todo])):
                entries[k].logits[i] = values
        with self._lock:
            for k in keys:
                self._entries[k] = entries[k]
                self._entries.move_to_end(k)
            while len(self._entries) > self.kept:
                self._entries.popitem(last=False)
        chosen = [(p, entries[k], i) for p, k in enumerate(keys) for i in wanted[p]]
        return Reading([replace(e.windows[i], passage=p) for p, e, i in chosen], [e.logits[i] for _, e, i in chosen],
                       [text for _, text in passages])


def read_card(folder: Path = MODEL_DIR) -> dict[str, Any]:
    path = folder / CARD_NAME
    if not path.is_file() or not (folder / WEIGHTS_NAME).is_file():
        raise ReaderError(f"aucun lecteur entraîné dans {folder} (lancez « aimf train reader »)")
    card = json.loads(path.read_text(encoding="utf-8"))
    if card.get("format") != FORMAT:
        raise ReaderError(f"{path} : format {card.get('format')!r} inconnu (attendu {FORMAT!r})")
    return card


class Reader:
    """Reads passages for a question: the best answer span of each. Thread-safe."""

    _cache: dict[tuple, "Reader"] = {}
    _cache_lock = threading.Lock()

    def __init__(self, net, encoder: SpanEncoder, card: dict[str, Any], batch_size: int = 8, bf16: bool = False) -> None:
        # bfloat16 matrix products (autocast; weights stay float32) where the CPU has bf16 instructions: as for the
        # embeddings, about 2x faster there, for logit changes far below the gaps between spans (see compute_dtype).
        self.net, self.encoder, self.card, self.batch_size, self.bf16 = net, encoder, card, batch_size, bf16
        self._lock = threading.Lock()

    @classmethod
    def open(cls, model_path: str | Path, folder: Path = MODEL_DIR, bf16: bool = False) -> "Reader":
        """The reader in ``folder`` on the base model at ``model_path``; ``ReaderError`` when it cannot be used."""
        import torch
        from safetensors.torch import load_file

        card = read_card(folder)
        expected, actual = card["base_model"]["weights_sha256"], base_identity(model_path)
        if expected != actual:
            raise ReaderError(
                f"le lecteur de {folder} a été entraîné sur un autre modèle de base (poids sha256 {expected[:12]}…, "
                f"celui-ci : {actual[:12]}…) : relancez « aimf train reader » avec ce modèle, ou désactivez le "
                "lecteur (AIMF_READER=off)"
            )
        net = make_network(model_path)
        trained = unpack(load_file(str(folder / WEIGHTS_NAME)), card.get("weights_dtype", "float16"))
        names = set(trained_names(net, int(card["layers_trained"])))
        if set(trained) != names:
            raise ReaderError(f"{folder / WEIGHTS_NAME} ne contient pas les couches annoncées par sa carte")
        params = dict(net.named_parameters())
        with torch.no_grad():
            for name, value in trained.items():
                params[name].copy_(value.to(torch.float32))
        net.eval()
        encoder = SpanEncoder(Path(model_path) / "tokenizer.json", int(card.get("max_len", MAX_LEN)))
        return cls(net, encoder, card, bf16=bf16)

    @classmethod
    def load(cls, settings: Settings) -> "Reader | None":
        """The shipped reader for these settings, loaded once per process; None (with the reason logged) when the
        setting turns it off, when it is absent or when it was trained on another base model."""
        if settings.reader == "off":
            return None
        from rag.embeddings import computes_in_bf16, resolve_model_path

        try:
            model_path = resolve_model_path(settings)
            folder = reader_folder(settings)
            bf16 = computes_in_bf16(settings)
            key = (model_path, str(folder), bf16)
            with cls._cache_lock:
                if key not in cls._cache:
                    cls._cache[key] = cls.open(model_path, folder, bf16=bf16)
                return cls._cache[key]
        except (ReaderError, OSError, RuntimeError, ValueError) as exc:
            log.warning("lecteur entraîné non utilisé : %s", exc)
            return None

    def logits(self, windows: list[Window]) -> list[np.ndarray]:
        """(tokens, 2) start/end logits of each window."""
        import torch

        out: list[np.ndarray] = [np.zeros((0, 2), np.float32)] * len(windows)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].ids))
        with self._lock, torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            for k in range(0, len(order), self.batch_size):
                idx = order[k : k + self.batch_size]
                batch = self.encoder.batch([windows[i] for i in idx])
                values = self.net(**batch).float().numpy()
                for row, i in enumerate(idx):
                    out[i] = values[row, : len(windows[i].ids)]
        return out

    def windows(self, question: str, passages: list[tuple[str, str]]) -> list[Window]:
        """The windows of every (title, text) passage, cut for the question (no model run)."""
        return self.encoder.windows(question, passages) if passages else []

    def reading(self, question: str, passages: list[tuple[str, str]]) -> "Reading":
        """The passages (title, text) read once for the question: spans are then decoded from it at no cost."""
        windows = self.windows(question, passages)
        return Reading(windows, self.logits(windows), [text for _, text in passages])

    def read(self, question: str, passages: list[tuple[str, str]]) -> list[Span | None]:
        """For each (title, text) passage, its best answer span."""
        return self.reading(question, passages).spans()

    def support(self, question: str, passage: str, title: str = "") -> float:
        """Whether the passage answers the question: the logistic of its best span's score (0.5: undecided)."""
        (span,) = self.read(question, [(title, passage)])
        return 0.0 if span is None else float(1.0 / (1.0 + np.exp(-span.score)))
