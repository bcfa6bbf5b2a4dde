"""Sentence vectors stored with each chunk.

Ingest embeds every sentence of a chunk besides the chunk itself and stores the vectors in the chunk's own metadata
(float16, base64): they are written, replaced, re-homed and deleted with the chunk, so they can never fall out of
step with it, in an embedded index as in a Chroma server. Retrieval uses them as a second stage (a chunk is as
close to the question as its closest sentence) and the extractive writer reuses them instead of embedding the
sentences of every retrieved passage again.
"""

from __future__ import annotations

import base64
import re

import numpy as np

from rag.text import split_sentences

META_KEY = "sentence_vectors"
LIST_ITEM = re.compile(r"^\s*(?:[-•*–]|\d+[.)])\s+")
# A table row as ingest writes it: "first cell — column : value ; column : value".
TABLE_ROW = re.compile(r"^[^\n]{1,150}? — [^:;\n]{1,80} : [^\n]*")


def sentence_key(text: str) -> str:
    """What is embedded for a sentence: without its list bullet (also the key of cached vectors)."""
    return LIST_ITEM.sub("", text)


def sentence_keys(chunk_text: str) -> list[str]:
    """The embedded text of each sentence of a chunk, in order."""
    return [sentence_key(chunk_text[a:b]) for a, b in split_sentences(chunk_text)]


def encode(vectors: np.ndarray | list[list[float]]) -> str:
    """float16 halves the size; cosine similarities move by less than 1e-3."""
    matrix = np.asarray(vectors, dtype=np.float16)
    return f"{matrix.shape[1] if matrix.ndim == 2 and len(matrix) else 0}:" + base64.b64encode(matrix.tobytes()).decode()


def decode(blob: str | None, dtype=np.float32) -> np.ndarray | None:
    """The (sentences x dimensions) matrix, or None when the chunk has none (index built without them)."""
    if not blob or ":" not in blob:
        return None
    dim, data = blob.split(":", 1)
    try:
        matrix = np.frombuffer(base64.b64decode(data), dtype=np.float16)
        return matrix.reshape(-1, int(dim)).astype(dtype, copy=False) if int(dim) else None
    except (ValueError, TypeError):
        return None  # damaged value: the chunk is still usable without its sentence vectors


def strip(meta: dict | None) -> dict:
    """Metadata as callers see it: without the vectors (large and of no use outside retrieval)."""
    meta = dict(meta or {})
    meta.pop(META_KEY, None)
    return meta
