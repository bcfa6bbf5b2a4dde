"""The HTTP API (`aimf serve`) with REAL clients: the official `openai` client, LangChain's `ChatOpenAI`, and raw HTTP
for what clients hide (status codes, headers). The server is uvicorn on a free loopback port in a thread of this
process, over the real e5 model and an embedded Chroma index of the bundled speech in a scratch data folder."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import threading
import time

import httpx
import pytest

from conftest import SPEECH, VENV_BIN, free_port, index_speech, norm, speech_text

pytestmark = pytest.mark.real

USER_KEY = "cle-utilisateur-de-test-0123456789"
ADMIN_KEY = "cle-admin-de-test-9876543210"
QUESTION = "Quelle ville préside la commission « Villes innovantes, intelligentes et responsables » ?"
MARKER = re.compile(r"\[(\d+)\]")


class Server:
    def __init__(self, app, port: int):
        import uvicorn

        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def api(tmp_path_factory, e5_model_dir):
    """(server, settings, assistant): `aimf serve`'s app over the bundled speech, with user and admin keys."""
    from ui.api import create_app

    settings, assistant = index_speech(tmp_path_factory.mktemp("api"), e5_model_dir, collection="api-test",
                                       api_keys=USER_KEY, api_admin_keys=ADMIN_KEY, api_max_body_kb=16,
                                       max_question_chars=500, ui_max_upload_mb=1.0)
    server = Server(create_app(assistant, settings), free_port())
    server.start()
    yield server, settings, assistant
    server.stop()


def client(api, key: str = USER_KEY):
    from openai import OpenAI

    return OpenAI(base_url=f"{api[0].url}/v1", api_key=key, max_retries=0, timeout=120)


def check_citations(text: str, citations: list[dict], corpus_text: str) -> None:
    """Markers and citations match one to one, and every quote is in the document."""
    assert citations, text
    assert {int(n) for n in MARKER.findall(text)} == {c["n"] for c in citations}
    for c in citations:
        assert norm(c["quote"]) in norm(corpus_text)


# --------------------------------------------------------------------------------------------------- OpenAI client


def test_openai_client_reads_answer_and_citations(api):
    oa = client(api)
    resp = oa.chat.completions.create(model="aimf-extractive", messages=[{"role": "user", "content": QUESTION}])
    text = resp.choices[0].message.content
    assert "Nantes" in text  # the speech: « Commission … présidée par la Ville de Nantes »
    extra = resp.model_extra
    assert extra["abstained"] is False
    check_citations(text, extra["citations"], speech_text())
    assert all(c["source"] == SPEECH.name for c in extra["citations"])


def test_openai_client_streams_the_same_answer_and_ends_with_citations(api):
    oa = client(api)
    plain = oa.chat.completions.create(model="aimf-extractive", messages=[{"role": "user", "content": QUESTION}])
    chunks = list(oa.chat.completions.create(model="aimf-extractive", stream=True,
                                             messages=[{"role": "user", "content": QUESTION}]))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 3  # streamed in pieces, not one block
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert streamed == plain.choices[0].message.content == last.model_extra["text"]
    assert last.model_extra["citations"] == plain.model_extra["citations"]
    assert last.model_extra["abstained"] is False
    assert all("citations" not in (c.model_extra or {}) for c in chunks[:-1])


def test_openai_client_gets_abstention_flag(api):
    resp = client(api).chat.completions.create(
        model="aimf-extractive", messages=[{"role": "user", "content": "Quel est le prix du ticket de métro à Oslo en 1950 ?"}])
    assert resp.model_extra["abstained"] is True
    assert resp.model_extra["citations"] == []
    assert MARKER.search(resp.choices[0].message.content) is None


def test_models_lists_the_usable_writers(api):
    ids = [m.id for m in client(api).models.list().data]
    assert "aimf-extractive" in ids
    assert "aimf-llamacpp" not in ids  # no GGUF configured here
    assert "aimf-openai" not in ids  # no LLM server configured here


def test_unknown_or_unusable_model_is_an_openai_error(api):
    import openai

    with pytest.raises(openai.NotFoundError) as err:
        client(api).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    assert err.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as err:
        client(api).chat.completions.create(model="aimf-openai", messages=[{"role": "user", "content": QUESTION}])
    assert "AIMF_LLM_BASE_URL" in err.value.body["message"]


# --------------------------------------------------------------------------------------------------- LangChain


def test_langchain_chatopenai_gets_the_assistants_answer(api):
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_openai import ChatOpenAI

    from rag.assistant import Assistant

    server, settings, served = api
    # Another Assistant over the same index: what `aimf ask` would answer.
    direct = Assistant(settings, embeddings=served.embeddings, model_id=served.model_id)
    llm = ChatOpenAI(base_url=f"{server.url}/v1", api_key=USER_KEY, model="aimf-extractive", max_retries=0)
    first = direct.answer(QUESTION)
    assert llm.invoke(QUESTION).content == first.text
    # A follow-up: the earlier messages drive the rewrite, as in the chat.
    follow = "Et quel projet est mené à Cotonou ?"
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": first.text}]
    expected = direct.answer(follow, history=history)
    got = llm.invoke([HumanMessage(QUESTION), AIMessage(first.text), HumanMessage(follow)])
    assert got.content == expected.text
    assert not expected.abstained


# --------------------------------------------------------------------------------------------------- search


def test_search_returns_scored_passages_with_the_source_filter(api):
    server, settings, _ = api
    headers = {"Authorization": f"Bearer {USER_KEY}"}
    r = httpx.post(f"{server.url}/v1/search", json={"query": QUESTION, "k": 3}, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert 1 <= len(data) <= 3
    for p in data:
        assert p["source"] == SPEECH.name and norm(p["text"]) in norm(speech_text())
        assert 0 <= p["relevance"] <= 1 and -1 <= p["score"] <= 1
    assert max(p["relevance"] for p in data) > settings.min_relevance
    r = httpx.post(f"{server.url}/v1/search", json={"query": QUESTION, "sources": ["absent.pdf"]}, headers=headers,
                   timeout=60)
    assert r.status_code == 200 and r.json()["data"] == []


# --------------------------------------------------------------------------------------------------- keys and limits


def test_wrong_or_missing_key_is_401_and_leaks_nothing(api):
    import openai

    server = api[0]
    with pytest.raises(openai.AuthenticationError):
        client(api, key="mauvaise-cle").chat.completions.create(model="aimf-extractive",
                                                                 messages=[{"role": "user", "content": QUESTION}])
    bodies = []
    for headers in ({"Authorization": "Bearer mauvaise-cle"}, {}, {"Authorization": f"Basic {USER_KEY}"}):
        r = httpx.post(f"{server.url}/v1/search", json={"query": QUESTION}, headers=headers, timeout=30)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        bodies.append(r.json())
    assert bodies[0] == bodies[1] == bodies[2]  # the same answer whatever was sent
    assert bodies[0]["error"]["type"] == "authentication_error"
    text = str(bodies[0])
    assert "mauvaise" not in text and USER_KEY not in text and ADMIN_KEY not in text
    # The load balancer's health check needs no key.
    assert httpx.get(f"{server.url}/healthz", timeout=30).json()["status"] == "ok"


def test_documents_need_the_admin_key(api):
    server = api[0]
    r = httpx.get(f"{server.url}/v1/documents", headers={"Authorization": f"Bearer {USER_KEY}"}, timeout=30)
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    r = httpx.get(f"{server.url}/v1/documents", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
    assert r.status_code == 200
    assert [d["source"] for d in r.json()["data"]] == [SPEECH.name]


def test_oversized_body_and_question_get_413(api):
    import openai

    server, settings, _ = api
    headers = {"Authorization": f"Bearer {USER_KEY}"}
    history = [{"role": "user", "content": "Bonjour " * 400}, {"role": "assistant", "content": "Oui " * 5000}]
    r = httpx.post(f"{server.url}/v1/chat/completions", headers=headers, timeout=30,
                   json={"model": "aimf-extractive", "messages": history + [{"role": "user", "content": QUESTION}]})
    assert r.status_code == 413
    assert "trop volumineuse" in r.json()["error"]["message"] and "Ko" in r.json()["error"]["message"]
    # Streamed without a length (chunked): refused too.
    r = httpx.post(f"{server.url}/v1/search", headers={**headers, "Content-Type": "application/json"}, timeout=30,
                   content=iter([b'{"query": "', b"x" * 20000, b'"}']))
    assert r.status_code == 413
    # A question over the limit in a small body: the assistant's own message, as a 413 the client shows.
    with pytest.raises(openai.APIStatusError) as err:
        client(api).chat.completions.create(model="aimf-extractive",
                                            messages=[{"role": "user", "content": "Pourquoi ? " * 80}])
    assert err.value.status_code == 413
    assert f"maximum {settings.max_question_chars}" in err.value.body["message"]


# --------------------------------------------------------------------------------------------------- documents


def upload(url: str, name: str, text: str, key: str = ADMIN_KEY) -> httpx.Response:
    return httpx.post(f"{url}/v1/documents", headers={"Authorization": f"Bearer {key}"}, timeout=300,
                      files={"file": (name, text.encode("utf-8"), "text/markdown")})


def ask(url: str, question: str) -> dict:
    r = httpx.post(f"{url}/v1/chat/completions", headers={"Authorization": f"Bearer {USER_KEY}"}, timeout=120,
                   json={"model": "aimf-extractive", "messages": [{"role": "user", "content": question}]})
    assert r.status_code == 200, r.text
    return r.json()


NOTE = (
    "# Note sur la bibliothèque numérique de Tombouctou\n\n"
    "La bibliothèque numérique de Tombouctou a numérisé 41 000 manuscrits anciens en 2024.\n\n"
    "Le projet est financé par le fonds de coopération de l'AIMF et conduit par la mairie de Tombouctou.\n"
)
NOTE_QUESTION = "Combien de manuscrits la bibliothèque numérique de Tombouctou a-t-elle numérisés ?"


def test_upload_is_answerable_at_once_and_delete_removes_it(api):
    server, settings, _ = api
    r = upload(server.url, "note-tombouctou.md", NOTE)
    assert r.status_code == 201, r.text
    source = r.json()["source"]
    assert source.startswith("uploads/") and (settings.corpus_dir / source).is_file()
    answer = ask(server.url, NOTE_QUESTION)
    assert "41 000" in answer["choices"][0]["message"]["content"]
    assert {c["source"] for c in answer["citations"]} == {source}

    r = httpx.delete(f"{server.url}/v1/documents/{source}", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=300)
    assert r.status_code == 200, r.text
    assert not (settings.corpus_dir / source).exists()
    listed = httpx.get(f"{server.url}/v1/documents", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30).json()
    assert source not in [d["source"] for d in listed["data"]]
    after = ask(server.url, NOTE_QUESTION)
    assert source not in {c["source"] for c in after["citations"]}
    r = httpx.delete(f"{server.url}/v1/documents/{source}", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
    assert r.status_code == 404 and r.json()["error"]["code"] == "document_not_found"


def test_upload_refusals(api):
    server, settings, _ = api
    assert upload(server.url, "note.md", NOTE, key=USER_KEY).status_code == 403
    r = upload(server.url, "script.exe", "MZ")
    assert r.status_code == 400 and ".exe" in r.json()["error"]["message"]
    r = upload(server.url, "gros.md", "x" * int(1.2 * 1024 * 1024))
    assert r.status_code == 413 and "Mo" in r.json()["error"]["message"]
    assert not list((settings.corpus_dir / "uploads").glob("script*")) + list((settings.corpus_dir / "uploads").glob("gros*"))
    r = httpx.delete(f"{server.url}/v1/documents/..%2F..%2Fetc%2Fpasswd", headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                     timeout=30)
    assert r.status_code == 404


def test_server_keeps_answering_while_a_document_is_indexed(api):
    """The upload's indexing waits on the ingest lock, held here: questions asked meanwhile are answered, and the
    document answers once the lock is released."""
    server, settings, _ = api
    text = NOTE.replace("Tombouctou", "Chinguetti").replace("41 000", "7 300")
    result: dict = {}

    def send() -> None:
        result["response"] = upload(server.url, "note-chinguetti.md", text)

    lock = (settings.data_dir / f"ingest-{settings.collection}.lock").open("a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    worker = threading.Thread(target=send)
    try:
        worker.start()
        dest = settings.corpus_dir / "uploads" / "note-chinguetti.md"
        deadline = time.monotonic() + 60
        while not dest.exists() and time.monotonic() < deadline:  # the upload was received and waits to be indexed
            time.sleep(0.05)
        assert dest.exists()
        for _ in range(2):
            answer = ask(server.url, QUESTION)
            assert not answer["abstained"] and answer["citations"]
        health = httpx.get(f"{server.url}/healthz", timeout=30)
        assert health.status_code == 200
        assert worker.is_alive() and "response" not in result  # still waiting: the answers did not wait for it
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
        worker.join(300)
    assert result["response"].status_code == 201, result["response"].text
    answer = ask(server.url, NOTE_QUESTION.replace("Tombouctou", "Chinguetti"))
    assert "7 300" in answer["choices"][0]["message"]["content"]


# --------------------------------------------------------------------------------------------------- the command


def test_serve_refuses_a_public_address_without_keys(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMF_")}
    env.update(AIMF_DATA_DIR=str(tmp_path), AIMF_API_KEYS="", AIMF_API_ADMIN_KEYS="")
    out = subprocess.run([str(VENV_BIN / "aimf"), "serve", "--host", "0.0.0.0", "--port", str(free_port())],
                         capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert out.returncode == 2
    assert "AIMF_API_KEYS" in out.stderr and "Refus" in out.stderr


def test_keys_module_rules():
    """Unit: key parsing and roles (no server)."""
    from ui.api import Keys, parse_keys

    keys = Keys(parse_keys(" a1 , ,b2"), parse_keys("adm"))
    assert parse_keys(" a1 , ,b2") == ["a1", "b2"]
    assert keys.role("Bearer a1") == keys.role("bearer b2") == "user"
    assert keys.role("Bearer adm") == "admin"
    assert keys.role("Bearer a") is None and keys.role("a1") is None and keys.role(None) is None
    assert not Keys([], []).required and Keys([], ["x"]).required


def test_load_bench_drives_the_api(api):
    """`aimf bench load --api`: concurrent users with their conversations, every answer checked (markers resolve)."""
    from ui.bench_load import BUILTIN_QUESTIONS, bench_api

    server = api[0]
    report = bench_api([server.url, server.url], users=3, questions_per_user=2, questions=BUILTIN_QUESTIONS,
                       max_seconds=300, timeout=120, key=USER_KEY)
    assert report["errors"] == 0, report["error_samples"]
    assert report["answers"] == 6 and report["invalid_citations"] == 0
    assert len(report["servers"]) == 2 and report["servers"][0]["pid"] == os.getpid()  # this process serves
    bad = bench_api([server.url], users=1, questions_per_user=1, questions=BUILTIN_QUESTIONS, max_seconds=60,
                    timeout=60, key="mauvaise-cle")
    assert bad["errors"] == 1 and "401" in bad["error_samples"][0]


def test_two_serve_processes_share_one_chroma_server(tmp_path, e5_model_dir, chroma_server):
    """The command itself, twice, as behind a load balancer: two `aimf serve` processes over one REAL Chroma server
    answer alike with no session; a document uploaded through one is answered by the other."""
    import uuid

    from openai import OpenAI

    from conftest import stop_process, wait_http
    from ingest.pipeline import Ingestor
    from rag.settings import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SPEECH, corpus / SPEECH.name)
    collection = f"serve-{uuid.uuid4().hex[:8]}"
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", corpus_dir=corpus, embedding_model=str(e5_model_dir),
                        chroma_url=chroma_server.url, collection=collection)
    assert Ingestor(settings).run().added == 1
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMF_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
               AIMF_DATA_DIR=str(settings.data_dir), AIMF_CORPUS_DIR=str(corpus), AIMF_EMBEDDING_MODEL=str(e5_model_dir),
               AIMF_CHROMA_URL=chroma_server.url, AIMF_COLLECTION=collection, AIMF_API_KEYS=USER_KEY,
               AIMF_API_ADMIN_KEYS=ADMIN_KEY)
    procs, urls = [], []
    try:
        for _ in range(2):
            port = free_port()
            procs.append(subprocess.Popen([str(VENV_BIN / "aimf"), "serve", "--port", str(port)], env=env, cwd=tmp_path,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(urls, procs):
            wait_http(f"{url}/healthz", timeout=180, proc=proc)
        texts = []
        for url in urls:
            oa = OpenAI(base_url=f"{url}/v1", api_key=USER_KEY, max_retries=0, timeout=120)
            r = oa.chat.completions.create(model="aimf-extractive", messages=[{"role": "user", "content": QUESTION}])
            check_citations(r.choices[0].message.content, r.model_extra["citations"], speech_text())
            texts.append(r.choices[0].message.content)
        assert texts[0] == texts[1]
        assert upload(urls[0], "note-tombouctou.md", NOTE).status_code == 201
        answer = ask(urls[1], NOTE_QUESTION)
        assert "41 000" in answer["choices"][0]["message"]["content"]
    finally:
        for proc in procs:
            stop_process(proc, 15)
