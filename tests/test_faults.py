"""Faults, each with a REAL process: the Chroma server stopped and restarted under a running Assistant, an ingest
writing to the shared server while questions are answered from it, a damaged manifest or another model's collection
at start-up, a full or read-only data dir during ingest (a tmpfs mounted by the test), an LLM server that hangs."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from conftest import SPEECH, VENV_BIN, FakeHashEmbeddings, SilentServer

pytestmark = pytest.mark.real

QUESTION = "Quelle ville préside la commission « Villes innovantes, intelligentes et responsables » ?"


# --------------------------------------------------------------------------- helpers shared with the other files


def cli_env(settings, **extra: str) -> dict[str, str]:
    """The environment of an `aimf` subprocess that uses these settings (and nothing from the caller's AIMF_*)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMF_")}
    env.update(
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False", GRADIO_ANALYTICS_ENABLED="False",
        AIMF_DATA_DIR=str(settings.data_dir), AIMF_CORPUS_DIR=str(settings.corpus_dir),
        AIMF_EMBEDDING_MODEL=settings.embedding_model, AIMF_COLLECTION=settings.collection,
        AIMF_CHUNK_SIZE=str(settings.chunk_size), AIMF_CHUNK_OVERLAP=str(settings.chunk_overlap),
    )
    if settings.chroma_url:
        env["AIMF_CHROMA_URL"] = settings.chroma_url
    env.update(extra)
    return env


def aimf(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "aimf"), *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def city_doc(i: int) -> str:
    """A small document about one invented city, with facts no other document states."""
    city = f"Kelvora-{i}"
    return (
        f"Fiche projet de la ville de {city}\n\n"
        f"La municipalité de {city} a numérisé son état civil en {2000 + i % 25}. "
        f"Les habitants de {city} paient les taxes locales par téléphone mobile depuis le lancement du guichet unique. "
        f"Le conseil municipal de {city} publie son budget en données ouvertes chaque trimestre.\n"
    )


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under root -> sha256 of its bytes (the proof that nothing was rewritten). Chroma's own database is
    compared by content, less the row embedded Chroma adds to its ``acquire_write`` table each time it opens."""
    import sqlite3

    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name.endswith(".lock"):
            continue
        if p.name == "chroma.sqlite3":
            db = sqlite3.connect(f"{p.as_uri()}?mode=ro", uri=True)
            try:
                data = "\n".join(line for line in db.iterdump() if "acquire_write" not in line).encode()
            finally:
                db.close()
        else:
            data = p.read_bytes()
        out[str(p.relative_to(root))] = hashlib.sha256(data).hexdigest()
    return out


def fresh_store(settings):
    """The collection through a client of its own (server mode: another connection than the Assistant's)."""
    from rag.embeddings import model_identity
    from rag.store import Store

    return Store.open(settings, model_identity(settings))


def citation_key(answer) -> list[tuple]:
    return [(c.chunk_id, c.source, c.start, c.end, c.quote) for c in answer.citations]


# --------------------------------------------------------------------------- 1. Chroma server stopped, then back


def test_chroma_server_stopped_then_back_without_restarting_the_assistant(make_settings, chroma_server):
    from ingest.pipeline import Ingestor
    from rag.assistant import Assistant
    from rag.store import HTTP_TIMEOUT, IndexUnavailableError

    settings = make_settings(chroma_url=chroma_server.url, collection=f"faults-{uuid.uuid4().hex[:8]}")
    shutil.copy(SPEECH, settings.corpus_dir / SPEECH.name)
    assert Ingestor(settings).run().added == 1
    assistant = Assistant(settings)
    before = assistant.answer(QUESTION)
    assert not before.abstained and "Nantes" in before.text and before.citations

    chroma_server.stop()
    try:
        for _ in range(2):  # the first failure drops the cached connection; the second one reconnects and fails too
            start = time.monotonic()
            with pytest.raises(IndexUnavailableError) as info:
                assistant.answer(QUESTION)
            # a refused connection, not a wait for the store's read timeout (a guard against hanging, not a speed
            # measure: the machine may be loaded)
            assert time.monotonic() - start < HTTP_TIMEOUT, "a stopped server must fail fast, not hang"
            message = str(info.value)
            assert message.startswith("Index indisponible : ") and chroma_server.url in message
            assert "Traceback" not in message
    finally:
        chroma_server.start()  # same port, same folder

    after = assistant.answer(QUESTION)  # the same Assistant object: no restart
    assert not after.abstained
    assert citation_key(after) == citation_key(before)


def test_silent_chroma_server_fails_within_the_timeout(make_settings, monkeypatch):
    """A server that accepts connections and never answers: bounded by the store's HTTP timeouts, not forever."""
    import rag.store as store
    from rag.store import IndexUnavailableError

    default_read_timeout = store.HTTP_TIMEOUT
    monkeypatch.setattr(store, "HTTP_TIMEOUT", 1.0)
    monkeypatch.setattr(store, "CONNECT_TIMEOUT", 1.0)
    with SilentServer() as server:
        settings = make_settings(chroma_url=server.root)
        start = time.monotonic()
        with pytest.raises(IndexUnavailableError) as info:
            store.Store.open(settings, "modele")
        elapsed = time.monotonic() - start
        # it waited for the 1 s timeout it was given, and gave up long before the default one (30 s) would have ended
        assert 1.0 <= elapsed < default_read_timeout, f"took {elapsed:.1f} s"
        assert server.root in str(info.value)


# --------------------------------------------------------------------------- 2. ingest while answering


def test_ingest_into_the_shared_server_while_another_process_answers(make_settings, chroma_server, tmp_path):
    from ingest.pipeline import Ingestor
    from rag.assistant import Assistant

    settings = make_settings(chroma_url=chroma_server.url, collection=f"shared-{uuid.uuid4().hex[:8]}")
    shutil.copy(SPEECH, settings.corpus_dir / SPEECH.name)
    Ingestor(settings).run()
    n_new = 30
    for i in range(n_new):
        (settings.corpus_dir / f"ville-{i:02d}.txt").write_text(city_doc(i), encoding="utf-8")

    assistant = Assistant(settings)
    store = fresh_store(settings)
    questions = [QUESTION, "Qui modère les tables rondes ?"] + [
        f"En quelle année la municipalité de Kelvora-{i} a-t-elle numérisé son état civil ?" for i in range(0, n_new, 3)
    ]
    proc = subprocess.Popen([str(VENV_BIN / "aimf"), "ingest", "--json", "--quiet"], env=cli_env(settings),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answers, errors, cited = 0, [], set()
    try:
        i = 0
        deadline = time.monotonic() + 150
        while proc.poll() is None and time.monotonic() < deadline:
            q = questions[i % len(questions)]
            i += 1
            try:
                answer = assistant.answer(q)
            except Exception as exc:  # noqa: BLE001 - any error is a failure, reported below
                errors.append(f"{q}: {type(exc).__name__}: {exc}")
                continue
            answers += 1
            ids = [c.chunk_id for c in answer.citations]
            found = {d.id for d in store.get(ids=ids)} if ids else set()
            assert found == set(ids), f"citations of {q!r} name chunks absent from the collection: {set(ids) - found}"
            cited |= set(ids)
            time.sleep(0.2)  # two cores: leave the ingest room to progress
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert report["added"] == n_new and report["failed"] == 0
    assert not errors, errors
    assert answers >= 3, "the questions must overlap the ingest"
    # At the end too: every chunk ever cited is in the collection.
    assert {d.id for d in fresh_store(settings).get(ids=sorted(cited))} == cited
    late = assistant.answer("En quelle année la municipalité de Kelvora-7 a-t-elle numérisé son état civil ?")
    assert not late.abstained and "2007" in late.text
    assert {c.source for c in late.citations} == {"ville-07.txt"}


# --------------------------------------------------------------------------- 3. detected at start-up


def _fake_index(settings, model_id: str) -> None:
    """A small index with FAKE vectors, recorded as built by ``model_id`` (only the binding matters here)."""
    from ingest.pipeline import Ingestor

    shutil.copy(SPEECH, settings.corpus_dir / SPEECH.name)
    Ingestor(settings, embeddings=FakeHashEmbeddings(), model_id=model_id).run()
    _release_embedded(settings)


def _release_embedded(settings) -> None:
    """Close this process's embedded Chroma on settings.chroma_dir (others stay open), so its files can be compared,
    unmounted or opened by another process without this one's cached state."""
    from rag.store import _forget_embedded

    _forget_embedded(str(settings.chroma_dir))


@pytest.mark.parametrize("fault", ["other-model", "damaged-manifest"])
def test_startup_detects_and_overwrites_nothing(make_settings, fault, tmp_path):
    from rag.assistant import Assistant
    from rag.embeddings import model_identity
    from rag.store import IndexDamagedError, IndexMismatchError

    settings = make_settings()
    if fault == "other-model":
        _fake_index(settings, "un-autre-modele")
        expected = IndexMismatchError
    else:
        _fake_index(settings, model_identity(settings))
        settings.manifest_path.write_bytes(os.urandom(4096))
        expected = IndexDamagedError
    before = tree_digest(settings.data_dir)

    done = aimf(["ask", QUESTION], cli_env(settings), tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "aimf ingest --rebuild" in " ".join(done.stderr.split()) and "Traceback" not in done.stderr, done.stderr
    assert done.stdout == ""
    assert tree_digest(settings.data_dir) == before

    assistant = Assistant(settings, embeddings=FakeHashEmbeddings(), model_id=model_identity(settings))
    with pytest.raises(expected, match="aimf ingest --rebuild"):
        assistant.warm_up()  # what `aimf ui` does at start-up
    with pytest.raises(expected, match="aimf ingest --rebuild"):
        assistant.answer(QUESTION)
    _release_embedded(settings)
    assert tree_digest(settings.data_dir) == before


# --------------------------------------------------------------------------- 4. disk full, read-only data dir


class Tmpfs:
    """A small tmpfs mounted by the test as the data dir (root only); always unmounted."""

    def __init__(self, path: Path, size: str):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=755", "tmpfs", str(path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs in this sandbox: {done.stderr.strip() or done.returncode}")

    def remount(self, mode: str) -> None:
        """A file still open for writing makes a read-only remount fail ("busy"): a client just released may be
        waiting for the garbage collector or finishing a background write. Give it a few seconds."""
        for _ in range(20):
            gc.collect()
            done = subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], capture_output=True, text=True)
            if done.returncode == 0:
                return
            time.sleep(0.5)
        raise AssertionError(f"remount,{mode} failed: {done.stderr.strip()}")

    def fill(self) -> None:
        """Fill the file system to the last byte."""
        fd = os.open(self.path / "remplissage.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)  # unbuffered
        try:
            for block in (1 << 20, 1 << 12, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * block)
                except OSError:
                    pass
        finally:
            os.close(fd)
        assert shutil.disk_usage(self.path).free == 0

    def unfill(self) -> None:
        (self.path / "remplissage.bin").unlink(missing_ok=True)

    def umount(self) -> None:
        if subprocess.run(["umount", str(self.path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@pytest.fixture
def tmpfs_data(tmp_path) -> Iterator[Tmpfs]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    fs = Tmpfs(tmp_path / "data", "48m")
    try:
        yield fs
    finally:
        fs.umount()


def _storage_error_is_clear(done: subprocess.CompletedProcess, words: tuple[str, ...]) -> None:
    text = " ".join(done.stderr.split()).lower()
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert any(w in text for w in words), done.stderr


def test_disk_full_and_read_only_data_dir_during_ingest(make_settings, tmpfs_data, tmp_path):
    from ingest.pipeline import Ingestor
    from rag.assistant import Assistant
    from rag.store import IndexStorageError

    settings = make_settings(data_dir=tmpfs_data.path)
    shutil.copy(SPEECH, settings.corpus_dir / SPEECH.name)
    assert Ingestor(settings).run().added == 1
    for i in range(8):
        (settings.corpus_dir / f"ville-{i:02d}.txt").write_text(city_doc(i), encoding="utf-8")
    env = cli_env(settings)
    try:
        # Disk full: the ingest stops with a clear message; a process already serving questions (e.g. `aimf ui`)
        # keeps answering from the index that was there.
        running = Assistant(settings)
        assert not running.answer(QUESTION).abstained
        tmpfs_data.fill()
        full = aimf(["ingest", "--quiet"], env, tmp_path)
        _storage_error_is_clear(full, ("espace disque", "disque plein", "disk is full"))
        answer = running.answer(QUESTION)
        assert not answer.abstained and "Nantes" in answer.text
        tmpfs_data.unfill()
        _release_embedded(settings)  # a folder with files open for writing cannot be remounted read-only

        # Read-only data dir: the ingest stops with a clear message too. Embedded Chroma writes when it opens a
        # folder, so a new process cannot serve from a read-only one: it says so (what to check), without a trace.
        tmpfs_data.remount("ro")
        ro = aimf(["ingest", "--quiet"], env, tmp_path)
        _storage_error_is_clear(ro, ("lecture seule", "droits", "read-only", "readonly"))
        with pytest.raises(IndexStorageError, match="droits"):
            Assistant(settings, embeddings=running.embeddings).answer(QUESTION)
        tmpfs_data.remount("rw")

        # Nothing was damaged: the same process answers once the folder is writable again (no restart), and the
        # next ingest finishes the interrupted work.
        again = Assistant(settings, embeddings=running.embeddings).answer(QUESTION)
        assert not again.abstained and "Nantes" in again.text
        _release_embedded(settings)
        done = aimf(["ingest", "--json", "--quiet"], env, tmp_path)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["failed"] == 0 and report["added"] + report["unchanged"] == 9
    finally:
        _release_embedded(settings)


# --------------------------------------------------------------------------- 5. LLM server that hangs


def test_hanging_llm_server_falls_back_to_the_extractive_answer_in_time(bundled_index):
    from rag.answer import LLM_UNAVAILABLE_NOTICE
    from rag.assistant import Assistant

    settings, shared = bundled_index
    with SilentServer() as server:
        hanging = settings.model_copy(update={"llm_base_url": server.url, "llm_timeout": 2.0, "generator": "openai"})
        assistant = Assistant(hanging, embeddings=shared.embeddings, model_id=shared.model_id)
        start = time.monotonic()
        answer = assistant.answer(QUESTION)
        elapsed = time.monotonic() - start
        asked = len(server.held)
    # The model was asked once and waited for its 2 s timeout, not retried: one connection, and an answer long
    # before the server's silence (or the client's default timeout of 10 minutes) would have ended (a guard against
    # hanging, not a speed measure: the machine may be loaded).
    assert asked == 1
    assert 2.0 <= elapsed < 60, f"took {elapsed:.1f} s"
    assert LLM_UNAVAILABLE_NOTICE["fr"] in answer.notices
    assert answer.generator == "extractive" and not answer.abstained and "Nantes" in answer.text
    assert answer.citations
