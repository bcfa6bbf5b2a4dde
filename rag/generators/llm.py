"""LLM answer writers: a local GGUF through llama-cpp-python, and any OpenAI-compatible server.

Both send the shared prompt (``rag.generators.prompt``) through LangChain chat models and stream text pieces.
Every failure (missing model, server down, timeout, HTTP error, before or during the stream) becomes
``GeneratorUnavailable`` so the chain can fall back to the extractive writer with a notice.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

from rag.answer import Passage
from rag.generators.base import Generator, GeneratorUnavailable
from rag.generators.prompt import build_messages
from rag.settings import Settings

log = logging.getLogger(__name__)

# OMP_WAIT_POLICY=PASSIVE (set in rag/__init__.py, before torch or llama.cpp loads) keeps llama.cpp usable on
# shared cores: with spinning OpenMP threads SmolLM2 was 3-20 times slower.

LLM_WRITERS = ("llamacpp", "openai")
PROBE_TIMEOUT = 2.0  # seconds for the availability probe of an OpenAI-compatible server
PROBE_TTL = 5.0  # seconds a probe result is reused: the UI may ask on every message
GGUF_MAGIC = b"GGUF"


# ---------------------------------------------------------------------------------------------------------------
# Shared streaming loop


def _text(chunk: Any) -> str:
    content = getattr(chunk, "content", "")
    return content if isinstance(content, str) else getattr(chunk, "text", "") or ""


def _relay(chunks: Iterator[Any], deadline: float, who: str) -> Iterator[str]:
    """Yield the text of LangChain chunks; stop with GeneratorUnavailable past ``deadline``.

    Client timeouts only bound each read: a server trickling tokens forever would not trip them, hence the wall
    clock. The chunk iterator is closed on every exit so the model stops generating / the connection is released.
    """
    try:
        for chunk in chunks:
            if piece := _text(chunk):
                yield piece
            if time.monotonic() > deadline:
                raise GeneratorUnavailable(f"{who} : délai dépassé (AIMF_LLM_TIMEOUT)")
    except GeneratorUnavailable:
        raise
    except Exception as exc:  # any client/model failure means "fall back", never a crash in the chat
        log.warning("%s a échoué : %s", who, exc, exc_info=log.isEnabledFor(logging.DEBUG))
        raise GeneratorUnavailable(f"{who} : {_describe(exc)}") from exc
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()


def _describe(exc: BaseException) -> str:
    import openai

    if isinstance(exc, openai.APITimeoutError):  # a subclass of APIConnectionError: test it first
        return "délai dépassé (AIMF_LLM_TIMEOUT)"
    if isinstance(exc, openai.APIConnectionError):
        return "injoignable"
    if isinstance(exc, openai.NotFoundError):  # vLLM, Ollama: the model name is unknown to the server
        return "réponse HTTP 404 (modèle introuvable ? vérifiez AIMF_LLM_MODEL avec aimf doctor)"
    if isinstance(exc, openai.APIStatusError):
        return f"réponse HTTP {exc.status_code}"
    return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------------------------------------------
# llama.cpp (local GGUF)


class _LoadedModel:
    """One ChatLlamaCpp and the lock that serialises it (a llama.cpp context is not thread-safe)."""

    def __init__(self, chat: Any) -> None:
        self.chat = chat
        self.lock = threading.Lock()


_models: dict[tuple[str, int], _LoadedModel] = {}
_models_lock = threading.Lock()


def _gguf_problem(path: Path | None) -> str | None:
    """French reason why ``path`` cannot be a GGUF model, or None."""
    if path is None:
        return "AIMF_LLM_MODEL_PATH non défini"
    if not path.is_file():
        return f"AIMF_LLM_MODEL_PATH : fichier introuvable ({path})"
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        return f"AIMF_LLM_MODEL_PATH : fichier illisible ({path} : {exc})"
    if magic != GGUF_MAGIC:
        # Checked before llama.cpp parses it: a clear French reason instead of a long English load error.
        return f"AIMF_LLM_MODEL_PATH : {path} n'est pas un fichier GGUF"
    return None


def _llamacpp_problem(settings: Settings) -> str | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python n'est pas installé (pip install 'aimf-assistant[llm]')"
    return _gguf_problem(settings.llm_model_path)


def _load_model(path: Path, n_ctx: int) -> _LoadedModel:
    """Load the GGUF once per process, path and context size."""
    key = (str(path.resolve()), n_ctx)
    with _models_lock:
        if key in _models:
            return _models[key]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # langchain-community's sunset notice
            from langchain_community.chat_models import ChatLlamaCpp
        try:
            chat = ChatLlamaCpp(
                model_path=key[0],
                n_ctx=n_ctx,
                n_threads=2,  # the target machines have 2 cores, shared
                n_batch=512,  # the wrapper's default (8) makes prompt processing several times slower
                verbose=False,
            )
        except Exception as exc:  # llama.cpp's reason is in English and long: log it, keep the notice short
            log.warning("chargement de %s impossible : %s", path, exc)
            raise GeneratorUnavailable(f"AIMF_LLM_MODEL_PATH : impossible de charger le modèle {path}") from exc
        _models[key] = loaded = _LoadedModel(chat)
        return loaded


class LlamaCppGenerator:
    """Answers with a local GGUF instruct model (llama-cpp-python through LangChain's ChatLlamaCpp)."""

    name = "llamacpp"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def load(self) -> None:
        """Load the model now (else it loads on the first question). Raises GeneratorUnavailable."""
        self._model()

    def _model(self) -> _LoadedModel:
        if problem := _llamacpp_problem(self.settings):
            raise GeneratorUnavailable(problem)
        assert self.settings.llm_model_path is not None
        return _load_model(self.settings.llm_model_path, self.settings.llm_n_ctx)

    def stream(self, question: str, passages: list[Passage], lang: str) -> Iterator[str]:
        model = self._model()
        messages = build_messages(question, passages, lang, settings=self.settings)
        yield from self._stream_messages(model, messages, self.settings.llm_max_tokens)

    def complete(self, messages: list[Any], max_tokens: int) -> str:
        """The whole reply to ``messages`` (short tasks such as rewriting a follow-up question), with the same
        settings, lock and deadline as answers. Raises GeneratorUnavailable."""
        return "".join(self._stream_messages(self._model(), messages, max_tokens))

    def _stream_messages(self, model: _LoadedModel, messages: list[Any], max_tokens: int) -> Iterator[str]:
        timeout = self.settings.llm_timeout
        # Bounded wait: two interleaved streams in one thread would otherwise deadlock.
        if not model.lock.acquire(timeout=timeout):
            raise GeneratorUnavailable("modèle local occupé : délai dépassé (AIMF_LLM_TIMEOUT)")
        try:
            # Generation is bounded by max_tokens; the wall-clock deadline also covers a very slow machine.
            # Both are passed on every call: ChatLlamaCpp's own defaults (256 tokens, temperature 0.8) never apply.
            chunks = model.chat.stream(messages, max_tokens=max_tokens, temperature=self.settings.llm_temperature)
            yield from _relay(chunks, time.monotonic() + timeout, "modèle local")
        finally:
            model.lock.release()


# ---------------------------------------------------------------------------------------------------------------
# OpenAI-compatible server


def _base_url(settings: Settings) -> str | None:
    return settings.llm_base_url.rstrip("/") if settings.llm_base_url else None


_probes: dict[tuple[str, str], tuple[float, str | None, tuple[str, ...]]] = {}
SHOWN_MODELS = 8  # model names listed in a message


def _probe(base_url: str, api_key: str) -> tuple[str | None, tuple[str, ...]]:
    """GET {base_url}/models through the OpenAI SDK with a short timeout: (reason it failed or None, the model
    names the server serves). Cached PROBE_TTL seconds."""
    key = (base_url, api_key)
    now = time.monotonic()
    if key in _probes and now - _probes[key][0] < PROBE_TTL:
        return _probes[key][1], _probes[key][2]
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=PROBE_TIMEOUT, max_retries=0)
    models: tuple[str, ...] = ()
    try:
        models = tuple(m.id for m in client.models.list())
        reason = None
    except openai.APIStatusError as exc:
        reason = f"serveur {base_url} : GET /models a répondu HTTP {exc.status_code}"
    except Exception:
        reason = f"serveur injoignable à {base_url}"
    finally:
        client.close()
    _probes[key] = (time.monotonic(), reason, models)
    return reason, models


def served_models(settings: Settings) -> tuple[str, ...]:
    """The model names the configured OpenAI-compatible server lists (empty when unknown or unreachable)."""
    base_url = _base_url(settings)
    return _probe(base_url, settings.llm_api_key)[1] if base_url else ()


def _model_problem(name: str, base_url: str, models: tuple[str, ...]) -> str | None:
    """French reason why the server does not serve ``name``, or None. A server that lists no model is not
    contradicted: some accept any name."""
    if not models or name in models:
        return None
    shown = ", ".join(models[:SHOWN_MODELS]) + (" …" if len(models) > SHOWN_MODELS else "")
    return (f"le modèle « {name} » n'existe pas sur le serveur {base_url} (AIMF_LLM_MODEL) ; "
            f"modèles servis : {shown}")


class OpenAIGenerator:
    """Answers through any OpenAI-compatible chat server (vLLM, Ollama, llama.cpp's server, a hosted API)."""

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._chat: Any = None

    def _model(self) -> Any:
        if self._chat is None:
            base_url = _base_url(self.settings)
            if base_url is None:
                raise GeneratorUnavailable("AIMF_LLM_BASE_URL non défini")
            from langchain_openai import ChatOpenAI

            self._chat = ChatOpenAI(
                base_url=base_url,
                model=self.settings.llm_model,
                api_key=self.settings.llm_api_key,
                timeout=self.settings.llm_timeout,  # per connect/read: a silent server fails within it
                max_retries=0,  # a retry would double the wait before the fallback
                streaming=True,
                temperature=self.settings.llm_temperature,
                # ChatOpenAI sends `max_completion_tokens`, which llama.cpp's Python server (and other
                # compatible servers) ignore, generating until the context is full: send the classic field.
                extra_body={"max_tokens": self.settings.llm_max_tokens},
            )
        return self._chat

    def stream(self, question: str, passages: list[Passage], lang: str) -> Iterator[str]:
        messages = build_messages(question, passages, lang, settings=self.settings)
        yield from self._stream_messages(messages, self.settings.llm_max_tokens)

    def complete(self, messages: list[Any], max_tokens: int) -> str:
        """The whole reply to ``messages`` (short tasks such as rewriting a follow-up question), with the same
        settings and deadline as answers. Raises GeneratorUnavailable."""
        return "".join(self._stream_messages(messages, max_tokens))

    def _stream_messages(self, messages: list[Any], max_tokens: int) -> Iterator[str]:
        chat = self._model()
        deadline = time.monotonic() + self.settings.llm_timeout
        # The classic field again (see _model): a per-call extra_body replaces the default one.
        chunks = chat.stream(messages, extra_body={"max_tokens": max_tokens})
        yield from _relay(chunks, deadline, f"serveur LLM à {_base_url(self.settings)}")


# ---------------------------------------------------------------------------------------------------------------
# Factory and availability


def available(settings: Settings, name: str) -> str | None:
    """None when writer ``name`` is configured and usable, else a short French reason (for the UI and CLI)."""
    if name == "extractive":
        return None
    if name == "llamacpp":
        return _llamacpp_problem(settings)
    if name == "openai":
        base_url = _base_url(settings)
        if base_url is None:
            return "AIMF_LLM_BASE_URL non défini"
        reason, models = _probe(base_url, settings.llm_api_key)
        return reason or _model_problem(settings.llm_model, base_url, models)
    return f"rédacteur inconnu : {name}"


def make_generator(settings: Settings, name: str) -> Generator:
    """The LLM writer called ``name`` ("llamacpp" or "openai"). Construction is cheap: nothing loads or connects
    until the first ``stream``."""
    if name == "llamacpp":
        return LlamaCppGenerator(settings)
    if name == "openai":
        return OpenAIGenerator(settings)
    raise ValueError(f"rédacteur LLM inconnu : {name!r} (attendu : {', '.join(LLM_WRITERS)})")


# ---------------------------------------------------------------------------------------------------------------
# Follow-up rewriting with the configured model

_REWRITE_SYSTEM = (
    "Tu reformules une question de suivi en une question autonome, compréhensible sans l'historique, "
    "dans la langue de la question de suivi. Réponds uniquement par la question reformulée, sur une ligne."
)


REWRITE_MAX_TOKENS = 64  # a standalone question is one short line
# What small models put before the question itself: "Question reformulée :", "- ", "1. ", quotes.
_REWRITE_NOISE = re.compile(
    r"^(?:\s*(?:[-*•]|\d+[.)])\s+|\s*(?:question|standalone question|reformulation)[^:：\n]{0,30}[:：]\s*)+", re.I
)


def rewrite_with_llm(generator: Generator, question: str, previous: list[str]) -> str | None:
    """A standalone version of ``question`` written by the writer's own model; None when its output is unusable
    (the caller then applies the deterministic rules). Raises GeneratorUnavailable when the model cannot run."""
    from langchain_core.messages import HumanMessage, SystemMessage

    history = "\n".join(f"- {q}" for q in previous[-3:])
    messages = [SystemMessage(_REWRITE_SYSTEM), HumanMessage(f"Questions précédentes :\n{history}\n\nQuestion de suivi : {question}")]
    settings: Settings = generator.settings  # type: ignore[attr-defined]
    text = generator.complete(messages, min(settings.llm_max_tokens, REWRITE_MAX_TOKENS)).strip()  # type: ignore[attr-defined]
    line = text.splitlines()[0] if text else ""
    line = _REWRITE_NOISE.sub("", line).strip().strip('"«»“” ').strip()
    too_long = len(line) > 3 * (len(question) + len(previous[-1] if previous else ""))
    return line if line and not too_long else None
