"""Observability with REAL components: the per-question log line (in process, and as JSON lines from `aimf ask`),
privacy of question text, `aimf ask --verbose` with a real OpenAI-compatible LLM server (llama-cpp-python serving
SmolLM2, with an API key and a model alias), and `aimf doctor` on a healthy and on broken setups."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from conftest import SPEECH, FakeHashEmbeddings, free_port, stop_process
from test_faults import aimf, cli_env

pytestmark = pytest.mark.real

QUESTION = "Quel projet est mené à Cotonou ?"
UNANSWERABLE = "Quel est le budget du Pôle numérique de Cotonou ?"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def question_log():
    logger = logging.getLogger("aimf.questions")
    handler, level = Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _assistant(bundled_index, **update):
    from rag.assistant import Assistant

    settings, shared = bundled_index
    return Assistant(settings.model_copy(update=update), embeddings=shared.embeddings, model_id=shared.model_id)


# --------------------------------------------------------------------------- the log line


def test_one_line_per_question_without_text(bundled_index, question_log):
    from rag.observability import JsonFormatter

    assistant = _assistant(bundled_index)
    answered, abstained = assistant.answer(QUESTION), assistant.answer(UNANSWERABLE)
    assert len(question_log) == 2
    for record, answer in zip(question_log, (answered, abstained)):
        data = record.data
        assert data["event"] == "question" and data["generator"] == "extractive" and data["error"] is None
        assert data["abstained"] is answer.abstained
        assert [r["id"] for r in data["retrieved"]] == [p.chunk_id for p in answer.retrieved]
        assert all(isinstance(r["score"], float) for r in data["retrieved"])
        assert data["cited"] == [c.chunk_id for c in answer.citations]
        assert set(data["timings_ms"]) == {"retrieve", "generate", "total"} and data["timings_ms"]["total"] > 0
        line = JsonFormatter().format(record)
        assert json.loads(line)["event"] == "question"
        # Privacy: neither the question nor any document text is in the line.
        assert "Cotonou" not in line and "question" not in data and "answer" not in data
        assert all(p.text[:40] not in line for p in answer.retrieved)
        assert "Cotonou" not in record.getMessage()
    assert question_log[1].data["abstained"] is True and question_log[1].data["cited"] == []


def test_question_text_only_when_allowed(bundled_index, question_log, monkeypatch):
    from rag.settings import Settings

    monkeypatch.setenv("AIMF_LOG_TEXT", "true")
    assert Settings(_env_file=None).log_text is True
    assistant = _assistant(bundled_index, log_text=True)
    answer = assistant.answer(QUESTION)
    assert question_log[-1].data["question"] == QUESTION and question_log[-1].data["answer"] == answer.text


def test_a_failed_question_is_logged_with_its_error(bundled_index, question_log):
    from rag.store import IndexUnavailableError

    dead = f"http://127.0.0.1:{free_port()}"
    assistant = _assistant(bundled_index, chroma_url=dead)
    with pytest.raises(IndexUnavailableError):
        assistant.answer(QUESTION)
    data = question_log[-1].data
    assert data["error"].startswith("IndexUnavailableError") and dead in data["error"]
    assert data["timings_ms"] is None and data["retrieved"] == []


def test_log_json_setting_gives_json_lines(bundled_index, monkeypatch):
    import io

    from rag.observability import configure_logging
    from rag.settings import Settings

    monkeypatch.setenv("AIMF_LOG_JSON", "true")
    settings = Settings(_env_file=None)
    assert settings.log_json is True
    root = logging.getLogger("aimf")
    saved = root.handlers[:], root.level, root.propagate
    try:
        configure_logging(settings)
        stream = io.StringIO()
        root.handlers[0].setStream(stream)
        _assistant(bundled_index).answer(QUESTION)
    finally:
        root.handlers[:], root.level, root.propagate = saved
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["event"] for e in lines if "event" in e] == ["question"]


# --------------------------------------------------------------------------- verbose, with a real LLM server

from conftest import smollm2_gguf as _gguf  # noqa: E402




@pytest.fixture(scope="module")
def llm_server(tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server with SmolLM2, an API key and a model alias (as vLLM or Ollama
    would be deployed): yields (base_url, model, key)."""
    gguf = _gguf()
    if importlib.util.find_spec("llama_cpp") is None or gguf is None:
        yield None  # the log checks still run, with the extractive writer
        return
    port, key, alias = free_port(), "cle-de-test", "smollm2-test"
    log = tmp_path_factory.mktemp("llm") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
             "--n_ctx", "2048", "--api_key", key, "--model_alias", alias],
            stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        import httpx

        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text()[-1500:]}")
            try:
                if httpx.get(f"{base}/models", headers={"Authorization": f"Bearer {key}"}, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server not ready: {log.read_text()[-1500:]}")
            time.sleep(0.3)
        yield base, alias, key
    finally:
        stop_process(proc, 10)


def test_ask_verbose_and_log_json(bundled_index, llm_server, tmp_path):
    """`aimf ask --verbose --log-json` in a subprocess: the standalone question, the passages with their scores and
    the exact prompt on stdout; stderr is JSON lines only, one per question, without the question's text. The LLM is
    a real OpenAI-compatible server, configured by every setting of the writer as a deployment would."""
    settings, _ = bundled_index
    extra = {"AIMF_K": "3"}
    if llm_server:
        base, model, key = llm_server
        extra.update(AIMF_GENERATOR="openai", AIMF_LLM_BASE_URL=base, AIMF_LLM_MODEL=model, AIMF_LLM_API_KEY=key,
                     AIMF_LLM_TIMEOUT="120", AIMF_LLM_MAX_TOKENS="16")
    done = aimf(["ask", "--verbose", "--log-json", QUESTION], cli_env(settings, **extra), tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"Question autonome : {QUESTION}" in " ".join(out.split())
    passages = [line for line in out.splitlines() if "passage " in line and "· cosinus " in line]
    assert len(passages) == 3
    assert len(re.findall(r"pertinence estimée \d+ %", " ".join(out.split()))) == 3

    events = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]  # every line is JSON
    questions = [e for e in events if e.get("event") == "question"]
    assert len(questions) == 1
    q = questions[0]
    assert q["logger"] == "aimf.questions" and q["error"] is None and q["timings_ms"]["total"] > 0
    assert len(q["retrieved"]) == 3 and all(set(r) == {"id", "score"} for r in q["retrieved"])
    assert "Cotonou" not in done.stderr  # neither the question nor the passages are in the log
    if llm_server:
        # The writer that wrote: SmolLM2 may cite no passage, and the extractive answer then replaces its text.
        fell_back = "ne citait aucun passage" in " ".join(out.split())
        assert q["generator"] == ("extractive" if fell_back else "openai")
        assert "Prompt envoyé au modèle" in out and "Cotonou" in out.split("Prompt envoyé au modèle", 1)[1]
        # The server was reached with the key (a wrong key is refused with HTTP 401: notice and fallback).
        assert "indisponible" not in out, out


# --------------------------------------------------------------------------- aimf doctor


def _doctor(monkeypatch, capsys, settings, json_out: bool = False) -> tuple[int, str]:
    import argparse

    import rag.settings
    from rag.doctor import run

    monkeypatch.setattr(rag.settings, "get_settings", lambda: settings)
    code = run(argparse.Namespace(json=json_out))
    return code, capsys.readouterr().out


def test_doctor_healthy_setup(bundled_index, monkeypatch, capsys, tmp_path):
    settings, _ = bundled_index
    code, out = _doctor(monkeypatch, capsys, settings, json_out=True)
    report = json.loads(out)
    checks = {c["id"]: c for c in report["checks"]}
    assert code == 0 and report["ok"] is True
    assert set(checks) == {"python", "packages", "embeddings", "index", "manifest", "llm", "reader", "data_dir", "corpus"}
    assert all(c["ok"] for c in checks.values()), [c for c in checks.values() if not c["ok"]]
    assert checks["embeddings"]["data"]["dim"] == 384
    assert checks["index"]["data"]["count"] > 0 and checks["corpus"]["data"]["added"] == 0
    code, out = _doctor(monkeypatch, capsys, settings)
    assert code == 0 and out.count("✓") == 9 and "✗" not in out
    # The command is wired in the dispatcher (light: no model loaded for --help).
    helped = aimf(["doctor", "--help"], cli_env(settings), tmp_path, timeout=60)
    assert helped.returncode == 0 and "--json" in helped.stdout


def test_doctor_other_model_and_unreachable_server(make_settings, monkeypatch, capsys):
    from ingest.pipeline import Ingestor

    settings = make_settings()
    shutil.copy(SPEECH, settings.corpus_dir / SPEECH.name)
    Ingestor(settings, embeddings=FakeHashEmbeddings(), model_id="un-autre-modele").run()  # FAKE vectors

    code, out = _doctor(monkeypatch, capsys, settings)
    assert code == 1
    line = next(line for line in out.splitlines() if "Index Chroma" in line)
    assert line.startswith("✗") and "un-autre-modele" in line
    assert "aimf ingest --rebuild" in out
    assert out.count("✓") >= 5  # the other checks still ran

    dead = f"http://127.0.0.1:{free_port()}"
    code, out = _doctor(monkeypatch, capsys, settings.model_copy(update={"chroma_url": dead}))
    assert code == 1
    line = next(line for line in out.splitlines() if "Index Chroma" in line)
    assert line.startswith("✗") and dead in line and "chroma run --path" in out
    code, out = _doctor(monkeypatch, capsys, settings.model_copy(update={"chroma_url": dead}), json_out=True)
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    assert [c["id"] for c in report["checks"] if not c["ok"] and c["essential"]] == ["index"]


def test_doctor_reports_corpus_drift(make_settings):
    from ingest.pipeline import Ingestor
    from rag.doctor import corpus_drift

    settings = make_settings()
    corpus = settings.corpus_dir
    for name in ("a.txt", "b.md", "c.txt", "d.txt"):
        (corpus / name).write_text(f"Document {name} : la ville numérise ses services.\n", encoding="utf-8")
    (corpus / "README.md").write_text("Déposez vos fichiers ici.\n", encoding="utf-8")
    Ingestor(settings, embeddings=FakeHashEmbeddings(), model_id="modele").run()  # FAKE vectors: only the manifest

    assert corpus_drift(corpus, settings.manifest_path)["unchanged"] == ["a.txt", "b.md", "c.txt", "d.txt"]
    (corpus / "a.txt").write_text("Document a.txt : contenu modifié.\n", encoding="utf-8")  # changed
    stat = (corpus / "b.md").stat()
    os.utime(corpus / "b.md", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched, same content
    (corpus / "c.txt").unlink()  # removed
    (corpus / "sous-dossier").mkdir()
    (corpus / "sous-dossier" / "e.txt").write_text("Nouveau.\n", encoding="utf-8")  # added
    (corpus / "f.xyz").write_text("format ignoré\n", encoding="utf-8")  # not indexed by aimf ingest: no drift
    drift = corpus_drift(corpus, settings.manifest_path)
    assert drift == {"added": ["sous-dossier/e.txt"], "changed": ["a.txt"], "removed": ["c.txt"],
                     "unchanged": ["b.md", "d.txt"]}
