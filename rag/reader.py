"""A sentence reader: the probability that a sentence answers a question, from a cross-encoder trained here.

The bundled multilingual-e5-small reads the question and the sentence together (``query: question`` then
``passage: title. previous sentence`` then the sentence), and a linear head over two mean poolings (all tokens,
and the candidate sentence's own tokens) gives a logit. Only what training changed ships with the project:
the top encoder layers and the head, float16 safetensors in ``rag/models/reader/``, with a JSON card that binds
them to the base model's weights (sha256). On another base model the top layers would read vectors they were
never trained on: loading refuses, clearly. ``aimf train reader`` rebuilds the files (evals/train_reader.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.settings import Settings

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parent / "models" / "reader"
WEIGHTS_NAME = "reader.safetensors"
CARD_NAME = "card.json"
FORMAT = "aimf-reader-1"
MAX_LEN = 128
# Token budgets inside MAX_LEN: the question and the candidate sentence are kept whole up to these; the context
# (title, previous sentence) gets what remains, its end (the sentence just before) kept first.
QUESTION_TOKENS = 40
SENTENCE_TOKENS = 90


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
class Encoded:
    ids: list[int]
    sentence_start: int  # the candidate sentence's tokens are ids[sentence_start:sentence_end]
    sentence_end: int


class PairEncoder:
    """Token ids of (question, context, sentence) triples: <s> q </s> context </s> sentence </s>."""

    def __init__(self, tokenizer_file: str | Path, max_len: int = MAX_LEN) -> None:
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(tokenizer_file))
        self.bos, self.eos = self.tok.token_to_id("<s>"), self.tok.token_to_id("</s>")
        self.pad = self.tok.token_to_id("<pad>")
        self.max_len = max_len

    def _ids(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tok.encode_batch(texts, add_special_tokens=False)]

    def encode(self, question: str, items: list[tuple[str, str]]) -> list[Encoded]:
        (q,) = self._ids(["query: " + question])
        q = q[:QUESTION_TOKENS]
        contexts = self._ids(["passage: " + (c or "") for c, _ in items])
        sentences = self._ids([s for _, s in items])
        out = []
        for ctx, sent in zip(contexts, sentences):
            sent = sent[:SENTENCE_TOKENS] or [self.tok.token_to_id("<unk>")]
            room = max(0, self.max_len - 4 - len(q) - len(sent))
            # Keep "passage:" and the title's first tokens, then the end of the previous sentence.
            if len(ctx) > room:
                head = room // 3
                ctx = ctx[:head] + ctx[len(ctx) - (room - head):] if room > head else ctx[:room]
            ids = [self.bos, *q, self.eos, *ctx, self.eos]
            start = len(ids)
            ids += [*sent, self.eos]
            out.append(Encoded(ids, start, start + len(sent)))
        return out

    def batch(self, encoded: list[Encoded]) -> dict[str, "torch.Tensor"]:
        import torch

        width = max(len(e.ids) for e in encoded)
        ids = torch.full((len(encoded), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        sent = torch.zeros((len(encoded), width), dtype=torch.float32)
        for i, e in enumerate(encoded):
            ids[i, : len(e.ids)] = torch.tensor(e.ids)
            mask[i, : len(e.ids)] = 1
            sent[i, e.sentence_start : e.sentence_end] = 1.0
        return {"input_ids": ids, "attention_mask": mask, "sentence_mask": sent}


def make_network(model_path: str | Path):
    """The base encoder with a fresh head (torch imported only when a reader is actually used)."""
    import torch
    from torch import nn
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()

    class ReaderNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(model_path), local_files_only=True, add_pooling_layer=False)
            hidden = self.encoder.config.hidden_size
            self.head = nn.Linear(2 * hidden, 1)

        def forward(self, input_ids, attention_mask, sentence_mask):
            states = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(states.dtype)
            s = sentence_mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * m).sum(1) / m.sum(1).clamp(min=1)
            own = (states * s).sum(1) / s.sum(1).clamp(min=1)
            return self.head(torch.cat([pooled, own], dim=-1)).squeeze(-1)

    return ReaderNet()


def trained_names(net, layers: int) -> list[str]:
    """Parameter names of the top ``layers`` encoder layers and of the head: what training changes and ships."""
    n = net.encoder.config.num_hidden_layers
    prefixes = tuple(f"encoder.encoder.layer.{i}." for i in range(n - layers, n)) + ("head.",)
    return [name for name, _ in net.named_parameters() if name.startswith(prefixes)]


def read_card(folder: Path = MODEL_DIR) -> dict[str, Any]:
    path = folder / CARD_NAME
    if not path.is_file() or not (folder / WEIGHTS_NAME).is_file():
        raise ReaderError(f"aucun lecteur entraîné dans {folder} (lancez « aimf train reader »)")
    card = json.loads(path.read_text(encoding="utf-8"))
    if card.get("format") != FORMAT:
        raise ReaderError(f"{path} : format {card.get('format')!r} inconnu (attendu {FORMAT!r})")
    return card


class Reader:
    """Scores (context, sentence) pairs for a question. Thread-safe; batches of one question's candidates."""

    _cache: dict[tuple, "Reader"] = {}
    _cache_lock = threading.Lock()

    def __init__(self, net, encoder: PairEncoder, card: dict[str, Any], batch_size: int = 32, bf16: bool = True) -> None:
        # bfloat16 matrix products (autocast; weights stay float32): as for the embeddings, about 2x faster on CPUs
        # with bf16 instructions, for score changes far below the gaps between sentences.
        self.net, self.encoder, self.card, self.batch_size, self.bf16 = net, encoder, card, batch_size, bf16
        self._lock = threading.Lock()

    @classmethod
    def open(cls, model_path: str | Path, folder: Path = MODEL_DIR, bf16: bool = True) -> "Reader":
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
        trained = load_file(str(folder / WEIGHTS_NAME))
        names = set(trained_names(net, int(card["layers_trained"])))
        if set(trained) != names:
            raise ReaderError(f"{folder / WEIGHTS_NAME} ne contient pas les couches annoncées par sa carte")
        params = dict(net.named_parameters())
        with torch.no_grad():
            for name, value in trained.items():
                params[name].copy_(value.to(torch.float32))
        net.eval()
        encoder = PairEncoder(Path(model_path) / "tokenizer.json", int(card.get("max_len", MAX_LEN)))
        return cls(net, encoder, card, bf16=bf16)

    @classmethod
    def load(cls, settings: Settings) -> "Reader | None":
        """The shipped reader for these settings, loaded once per process; None (with the reason logged) when the
        setting turns it off, when it is absent or when it was trained on another base model."""
        if settings.reader == "off":
            return None
        from rag.embeddings import resolve_model_path

        try:
            model_path = resolve_model_path(settings)
            folder = MODEL_DIR
            bf16 = settings.embedding_dtype == "bfloat16"
            key = (model_path, str(folder), bf16)
            with cls._cache_lock:
                if key not in cls._cache:
                    cls._cache[key] = cls.open(model_path, folder, bf16=bf16)
                return cls._cache[key]
        except ReaderError as exc:
            log.warning("lecteur entraîné non utilisé : %s", exc)
            return None

    def score(self, question: str, items: list[tuple[str, str]]) -> np.ndarray:
        """For each (context, sentence), the probability that the sentence answers the question."""
        import torch

        if not items:
            return np.zeros(0, dtype=np.float32)
        encoded = self.encoder.encode(question, items)
        # Similar lengths batched together: padding is the main waste on short sentences.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids))
        logits = np.zeros(len(encoded), dtype=np.float32)
        with self._lock, torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            for k in range(0, len(order), self.batch_size):
                idx = order[k : k + self.batch_size]
                logits[idx] = self.net(**self.encoder.batch([encoded[i] for i in idx])).float().numpy()
        return 1.0 / (1.0 + np.exp(-logits))

    def support(self, question: str, passage: str, title: str = "") -> float:
        """Whether the passage answers the question (or supports the claim): its best sentence's probability."""
        from rag.text import split_sentences

        sentences = [passage[a:b] for a, b in split_sentences(passage)]
        items = [(context_of(title, None, sentences[i - 1] if i else None), s) for i, s in enumerate(sentences)]
        return float(self.score(question, items).max()) if items else 0.0


def context_of(title: str, heading: str | None, previous: str | None) -> str:
    """The context given with a sentence: its document's title and heading, then the sentence before it."""
    head = " — ".join(p for p in (title, heading) if p)
    return f"{head}. {previous}" if previous else head
