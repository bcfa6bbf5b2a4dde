"""The chat's pieces without a server: safe rendering, handlers (with a FAKE assistant), feedback store and export,
upload checks, and the command's refusal to open a public address without accounts."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rag.answer import Answer, Citation, Passage

ROOT = Path(__file__).resolve().parents[1]
AIMF = Path(sys.executable).parent / "aimf"
ENV = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}


# --- a FAKE assistant: scripted answers, the real validation ----------------------------------------------------
class FakeAssistant:
    """FAKE: streams a scripted answer (or raises a scripted error); validation is the real one."""

    def __init__(self, settings, script=None):
        self.settings = settings
        self.script = script or (lambda question, history: default_answer(question))
        self.resets = 0
        self.calls: list[dict] = []

    def validate(self, question):
        from rag.assistant import Assistant

        return Assistant.validate(self, question)

    def answer_stream(self, question, history=None, generator=None, k=None, where=None, verbose=False):
        self.calls.append({"question": question, "history": history, "generator": generator, "k": k, "where": where})
        answer = self.script(question, history)
        if isinstance(answer, Exception):
            raise answer
        for word in answer.text.split(" "):
            yield word + " "
        yield answer

    def generator_status(self):
        return {"extractive": None, "llamacpp": "AIMF_LLM_MODEL_PATH non défini", "openai": "AIMF_LLM_BASE_URL non défini"}

    def documents(self):
        return [{"source": "a.txt", "title": "Doc A", "kind": "txt", "pages": 0, "chunks": 3, "indexed_at": ""}]

    def reset(self):
        self.resets += 1


PASSAGE = "Avant. Dès 2013, la commission est présidée par la Ville de Nantes. Après."
QUOTE = "Dès 2013, la commission est présidée par la Ville de Nantes."


def default_answer(question: str) -> Answer:
    start = PASSAGE.index(QUOTE)
    return Answer(
        text=f"{QUOTE} [1]", question=question, standalone_question=question,
        citations=[Citation(n=1, source="a.txt", title="Doc A", quote=QUOTE, start=100, end=100 + len(QUOTE), score=0.8,
                            passage=PASSAGE, quote_start=start, quote_end=start + len(QUOTE), chunk_id="c1")],
        further=[Passage(chunk_id="c2", source="a.txt", title="Doc A", text="Autre passage.", score=0.5)],
    )


@pytest.fixture
def ui_settings(tmp_path):
    from rag.settings import Settings

    return Settings(_env_file=None, data_dir=tmp_path / "data", corpus_dir=tmp_path / "corpus", ui_allow_upload=True)


def drain(gen):
    return list(gen)


# --- rendering ------------------------------------------------------------------------------------------------
def test_inert_markdown_breaks_html_images_links_and_math():
    from ui.render import inert_markdown

    out = inert_markdown('<script>alert(1)</script> <img src=x onerror="a()"> ![p](http://evil.example/p.png) '
                         '[clic](https://evil.example) www.evil.example 5 $ \\*')
    assert "<" not in out and ">" not in out  # every tag escaped
    assert not re.search(r"(?<!\\)[\[\]]", out)  # every bracket escaped: no image nor link syntax can form
    assert "http://" not in out and "https://" not in out and "www." not in out  # no autolink
    assert "$" not in out


def test_chat_text_turns_markers_into_chips_and_escapes_the_rest():
    from ui.render import chat_text

    out = chat_text("Nantes <b>x</b> [1] et [12].", turn=3)
    assert 'class="aimf-marker aimf-m-3-1"' in out and 'aimf-m-3-12' in out
    assert "&lt;b&gt;" in out and "<b>" not in out


def test_sources_panel_escapes_titles_and_highlights_the_quote():
    from ui.handlers import answer_record
    from ui.render import context_html, sources_html

    answer = default_answer("q")
    answer.citations[0].title = '<img src=x onerror="alert(1)">Doc'
    record = answer_record(answer, msg_index=1)
    html = sources_html(record, 0, "fr")
    assert "<img" not in html and "&lt;img" in html
    assert f"<mark>{QUOTE}</mark>" in html
    assert "similarité 0,80" in html and 'data-turn="0"' in html  # no estimate recorded: the cosine, named as such
    assert "Également retrouvé" in html
    answer.citations[0].relevance = 0.93
    html = sources_html(answer_record(answer, msg_index=1), 0, "fr")
    assert "pertinence estimée 93\u202f%" in html and 'style="width:93%"' in html
    assert "estimated relevance 93%" in sources_html(answer_record(answer, msg_index=1), 0, "en")
    ctx = context_html(record, "c", 0, "en")
    assert "Passage in context" in ctx and f"<mark>{QUOTE}</mark>" in ctx and "Avant." in ctx


def test_abstention_panel_lists_further_reading():
    from ui.render import sources_html

    record = {"abstained": True, "citations": [], "further": [{"title": "Doc B", "text": "<b>proche</b>", "score": 0.4}]}
    html = sources_html(record, 0, "fr")
    assert "Pas de réponse dans les documents" in html and "Pour aller plus loin" in html
    assert "&lt;b&gt;proche" in html and "<b>" not in html


def test_quote_span_falls_back_to_search():
    from ui.render import quote_span

    assert quote_span("abc def", "def", 0, 1) == (4, 7)
    assert quote_span("abc", "zzz", None, None) is None


# --- handlers with the FAKE assistant ---------------------------------------------------------------------------
def test_respond_streams_then_records_the_answer(ui_settings):
    from ui.handlers import Handlers

    fake = FakeAssistant(ui_settings)
    h = Handlers(fake, ui_settings)
    outs = drain(h.respond("Qui préside ?", [], None, "llamacpp", 4, ["a.txt"], "fr"))
    assert len(outs) >= 3  # placeholder, pieces, final
    chat, state, sources, _q, _ctx, _status, record = outs[-1]
    assert chat[-1]["role"] == "assistant" and "aimf-m-0-1" in chat[-1]["content"]
    assert record["citations"][0]["quote"] == QUOTE and state["turns"][0]["msg_index"] == 1
    assert "aimf-card" in sources
    # an unavailable writer is not used; the filter becomes a where clause
    assert fake.calls[0]["generator"] == "extractive" and fake.calls[0]["where"] == {"source": "a.txt"}
    # the follow-up gets the plain history (answer text, not the page's markup)
    drain(h.respond("Et ensuite ?", chat, state, "extractive", 5, [], "fr"))
    assert fake.calls[1]["history"] == [{"role": "user", "content": "Qui préside ?"},
                                       {"role": "assistant", "content": f"{QUOTE} [1]"}]


@pytest.mark.filterwarnings("ignore::UserWarning")  # gr.Warning outside a request is a Python warning
def test_question_error_is_a_french_message_and_keeps_the_chat(ui_settings):
    from ui.handlers import Handlers

    h = Handlers(FakeAssistant(ui_settings), ui_settings)
    outs = drain(h.respond("   ", [{"role": "user", "content": "x"}], None, "extractive", 5, [], "fr"))
    assert len(outs) == 1
    chat, _state, *_rest = outs[0]
    assert chat == [{"role": "user", "content": "x"}]
    assert "La question est vide" in outs[0][5]
    outs = drain(h.respond("x" * (ui_settings.max_question_chars + 1), [], None, "extractive", 5, [], "fr"))
    assert "trop longue" in outs[0][5]


def test_index_outage_resets_the_connection_and_says_so_in_french(ui_settings):
    from rag.store import IndexUnavailableError
    from ui.handlers import Handlers

    fake = FakeAssistant(ui_settings, script=lambda q, h: IndexUnavailableError("Index indisponible : refused"))
    h = Handlers(fake, ui_settings)
    chat = drain(h.respond("Qui préside ?", [], None, "extractive", 5, [], "fr"))[-1][0]
    assert fake.resets == 1
    assert "momentanément indisponible" in chat[-1]["content"] and "Traceback" not in chat[-1]["content"]


def test_unexpected_error_shows_no_stack_trace(ui_settings):
    from ui.handlers import Handlers

    h = Handlers(FakeAssistant(ui_settings, script=lambda q, h: KeyError("secret internals")), ui_settings)
    outs = drain(h.respond("Qui préside ?", [], None, "extractive", 5, [], "en"))
    text = outs[-1][0][-1]["content"]
    assert "unexpected error" in text and "secret internals" not in text


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_writer_choices_show_unavailable_reasons(ui_settings):
    from ui.handlers import Handlers, writer_choices

    fake = FakeAssistant(ui_settings)
    choices = dict((v, label) for label, v in writer_choices(fake.generator_status(), "fr"))
    assert "indisponible" in choices["llamacpp"] and "AIMF_LLM_MODEL_PATH" in choices["llamacpp"]
    assert "indisponible" not in choices["extractive"]
    h = Handlers(fake, ui_settings)
    assert h.check_writer("openai", "fr") == "extractive"


# --- feedback ---------------------------------------------------------------------------------------------------
def test_feedback_store_and_export_command(tmp_path, ui_settings):
    from ui.handlers import Handlers

    h = Handlers(FakeAssistant(ui_settings), ui_settings)
    state = drain(h.respond("Qui préside ?", [], None, "extractive", 5, [], "fr"))[-1][1]
    state, message, _ = h.send_feedback("down", "Il manque la date", None, state, "fr")
    assert "enregistré" in message
    state, _, _ = h.send_feedback("up", "Finalement très bien", 0, state, "fr")  # same answer: the row is updated
    rows = h.feedback.rows()
    assert len(rows) == 1
    row = rows[0]
    assert row["vote"] == "up" and row["comment"] == "Finalement très bien" and row["question"] == "Qui préside ?"
    assert row["citations"][0]["quote"] == QUOTE and row["generator"] == "extractive" and row["created_at"]

    env = {**ENV, "AIMF_DATA_DIR": str(ui_settings.data_dir)}
    out_jsonl, out_csv = tmp_path / "fb.jsonl", tmp_path / "fb.csv"
    for fmt, out in (("jsonl", out_jsonl), ("csv", out_csv)):
        proc = subprocess.run([str(AIMF), "feedback", "export", "--format", fmt, "--out", str(out)], env=env,
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    exported = [json.loads(line) for line in out_jsonl.read_text(encoding="utf-8").splitlines()]
    assert exported[0]["comment"] == "Finalement très bien" and exported[0]["citations"][0]["quote"] == QUOTE
    with out_csv.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["vote"] == "up" and json.loads(rows[0]["citations"])[0]["n"] == 1


# --- uploads ------------------------------------------------------------------------------------------------------
def test_upload_checks_type_size_and_name(tmp_path):
    from ui.documents import UploadError, accept_upload

    corpus = tmp_path / "corpus"
    exe = tmp_path / "virus.exe"
    exe.write_bytes(b"MZ")
    with pytest.raises(UploadError, match="Format non pris en charge"):
        accept_upload(exe, exe.name, corpus, 1, "fr")
    big = tmp_path / "gros.txt"
    big.write_bytes(b"a" * (2 * 1024 * 1024))
    with pytest.raises(UploadError, match="trop volumineux"):
        accept_upload(big, big.name, corpus, 1, "fr")
    ok = tmp_path / "note.txt"
    ok.write_text("Bonjour.", encoding="utf-8")
    first = accept_upload(ok, "../../.cachée note.TXT", corpus, 1, "fr")
    second = accept_upload(ok, "../../.cachée note.TXT", corpus, 1, "fr")
    assert first.parent == second.parent == corpus / "uploads"
    assert not first.name.startswith(".") and first.suffix == ".txt" and first != second


# --- the command ------------------------------------------------------------------------------------------------
def test_refuses_a_public_address_without_accounts(tmp_path):
    env = {k: v for k, v in ENV.items() if k != "AIMF_UI_AUTH"}
    env["AIMF_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.run([str(AIMF), "ui", "--host", "0.0.0.0", "--port", "7999"], env=env, capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2
    assert "0.0.0.0" in proc.stderr and 'AIMF_UI_AUTH="' in proc.stderr and "--no-auth" in proc.stderr
    env["AIMF_UI_AUTH"] = "sans-mot-de-passe"
    proc = subprocess.run([str(AIMF), "ui", "--host", "0.0.0.0"], env=env, capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert proc.returncode == 2 and "mal formé" in proc.stderr


def test_auth_pairs_and_loopback():
    from ui.cli import AuthError, is_loopback, parse_auth

    assert parse_auth("marie:a:b, paul:x") == [("marie", "a:b"), ("paul", "x")]
    assert parse_auth(None) == []
    with pytest.raises(AuthError):
        parse_auth("marie")
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_command_modules_import_nothing_heavy():
    code = ("import sys, ui.cli, ui.feedback_cli, ui.bench_ui; "
            "heavy = [m for m in ('gradio', 'torch', 'sentence_transformers', 'chromadb') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
