"""Load and the path past one machine, with REAL processes: `aimf ui` (a subprocess, with accounts and JSON logs) on an
index held by a real `chroma run` server, driven by `aimf bench load` (gradio_client, concurrent users); then the
Chroma server is stopped and restarted under the running UI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import SPEECH, VENV_BIN, free_port, speech_text, wait_http, stop_process

pytestmark = pytest.mark.real

AUTH = ("agent", "mot-de-passe-de-test")
QUESTION = "Quelle ville préside la commission « Villes innovantes, intelligentes et responsables » ?"


class UiProcess:
    def __init__(self, proc: subprocess.Popen, url: str, log: Path):
        self.proc, self.url, self.log = proc, url, log

    def log_lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()


@pytest.fixture(scope="module")
def ui(tmp_path_factory, e5_model_dir, chroma_server):
    """`aimf ui` on a free port, against the bundled speech indexed into the real Chroma server."""
    from ingest.pipeline import Ingestor
    from rag.settings import Settings

    root = tmp_path_factory.mktemp("load")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(SPEECH, corpus / SPEECH.name)
    settings = Settings(_env_file=None, data_dir=root / "data", corpus_dir=corpus, embedding_model=str(e5_model_dir),
                        chroma_url=chroma_server.url, collection=f"load-{uuid.uuid4().hex[:8]}")
    assert Ingestor(settings).run().added == 1
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMF_")}
    env.update(
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", ANONYMIZED_TELEMETRY="False",
        AIMF_DATA_DIR=str(settings.data_dir), AIMF_CORPUS_DIR=str(corpus), AIMF_EMBEDDING_MODEL=str(e5_model_dir),
        AIMF_CHROMA_URL=chroma_server.url, AIMF_COLLECTION=settings.collection,
        AIMF_UI_AUTH=f"{AUTH[0]}:{AUTH[1]}", AIMF_LOG_JSON="true", AIMF_UI_CONCURRENCY="2",
    )
    log = root / "ui.log"
    with log.open("w") as err:
        proc = subprocess.Popen([str(VENV_BIN / "aimf"), "ui", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=err)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/", timeout=180, proc=proc)
        yield UiProcess(proc, url, log)
    finally:
        stop_process(proc, 15)


def _bench_cli(argv: list[str]) -> int:
    from aimf.cli import build_parser
    from ui.bench_load import run

    return run(build_parser(only="bench").parse_args(["bench", "load", *argv]))


def test_four_users_three_questions_no_error_and_valid_citations(ui, tmp_path):
    out = tmp_path / "load.json"
    code = _bench_cli(["--url", ui.url, "--users", "4", "--questions", "3", "--auth", ":".join(AUTH),
                       "--out", str(out), "--max-seconds", "150"])
    report = json.loads(out.read_text(encoding="utf-8"))
    assert code == 0, report
    assert report["requests"] == 12 and report["answers"] == 12 and report["errors"] == 0, report["error_samples"]
    assert report["invalid_citations"] == 0
    assert report["answers"] - report["abstained"] >= 8  # one built-in question in eight is unanswerable
    assert report["latency_s"]["p50"] is not None and report["answers_per_second"] > 0
    assert report["ui_pid"] == ui.proc.pid
    assert report["peak_rss_mb"] and report["peak_rss_mb"] > 100

    # One log line per question, as JSON, without the question text (AIMF_LOG_TEXT is off).
    events = [json.loads(line) for line in ui.log_lines() if line.startswith("{")]
    questions = [e for e in events if e.get("event") == "question"]
    assert len(questions) >= 12, "the UI must log one line per question"
    assert all(e["error"] is None and e["retrieved"] and "question" not in e for e in questions)
    assert "Cotonou" not in ui.log.read_text(encoding="utf-8")


def test_quotes_resolve_in_the_document(ui):
    from gradio_client import Client

    client = Client(ui.url, auth=AUTH, verbose=False)
    record = client.predict(question=QUESTION, api_name="/ask")[-1]
    assert not record["abstained"] and "Nantes" in record["text"]
    text = speech_text()
    for c in record["citations"]:
        assert text[c["start"]:c["end"]] == c["quote"] and f"[{c['n']}]" in record["text"]


def test_the_api_needs_an_account(ui):
    from gradio_client import Client

    with pytest.raises(Exception):
        Client(ui.url, verbose=False).predict(question=QUESTION, api_name="/ask")
    with pytest.raises(Exception):
        Client(ui.url, auth=(AUTH[0], "mauvais"), verbose=False)


def test_chroma_server_stopped_under_the_running_ui(ui, chroma_server):
    """A clear message in the chat (no trace), then answers again once the server is back, without a UI restart."""
    from gradio_client import Client

    client = Client(ui.url, auth=AUTH, verbose=False)
    first = client.predict(question=QUESTION, api_name="/ask")[-1]
    assert first and not first["abstained"]
    chroma_server.stop()
    try:
        start = time.monotonic()
        chat, _sources, _box, status, record = client.predict(question=QUESTION, api_name="/ask")
        assert time.monotonic() - start < 60  # a refused connection, not a hang (a guard, not a speed measure)
        assert record is None
        shown = json.dumps(chat, ensure_ascii=False) + status
        assert "indisponible" in shown and "Traceback" not in shown and "Error" not in shown
    finally:
        chroma_server.start()
    again = client.predict(question=QUESTION, api_name="/ask")[-1]
    assert again and [c["quote"] for c in again["citations"]] == [c["quote"] for c in first["citations"]]


def test_bench_refuses_other_hosts_and_bad_bounds(tmp_path):
    assert _bench_cli(["--url", "http://192.0.2.10:7860", "--out", str(tmp_path / "x.json")]) == 2
    assert _bench_cli(["--url", "http://127.0.0.1:9", "--users", "500"]) == 2
    assert not (tmp_path / "x.json").exists()
