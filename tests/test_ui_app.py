"""The chat for real: the app launched in this process on a free port, over a fresh index of the bundled speech made
with the real embedding model, driven through gradio_client (API) and through Debian's Chromium (playwright)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Gradio's queue trips pandas 3 deprecation notices on every event: not ours, and they drown the report.
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

from conftest import SPEECH, index_speech  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
AIMF = Path(sys.executable).parent / "aimf"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
OUTSIDE = "198.51.100.7"  # TEST-NET-2: never a real host; any request to it is a leak
PLANTED = f"""# <script>window.aimfPwned = 'titre'</script>Fiche du marché flottant de Ganvié

Le marché flottant de Ganvié accueille les pirogues des pêcheurs chaque samedi matin. <script>window.aimfPwned = 1; alert('script')</script>

Les pêcheurs de Ganvié vendent le poisson fumé <img src=x onerror="window.aimfPwned = 2; alert('img')"> depuis leurs pirogues.

Photo du marché de Ganvié : ![photo](http://{OUTSIDE}/ganvie.png) et plan sur http://{OUTSIDE}/plan <img src="http://{OUTSIDE}/pixel.png">.
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def speech_text() -> str:
    from ingest.loaders import load

    return load(SPEECH).text


def launch(app) -> str:
    port = free_port()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def served(tmp_path_factory, e5_model_dir):
    """The real app over its own index (uploads on, so the planted document goes through the real pipeline)."""
    from ui.app import build_app

    root = tmp_path_factory.mktemp("ui-app")
    settings, assistant = index_speech(root, e5_model_dir, ui_allow_upload=True, ui_max_upload_mb=1)
    assistant.warm_up()
    app = build_app(assistant, settings)
    url = launch(app)
    yield {"url": url, "settings": settings, "assistant": assistant, "app": app, "root": root}
    app.close()


@pytest.fixture
def client(served):
    from gradio_client import Client

    return Client(served["url"], verbose=False)


def ask(client, question: str, chat: list | None = None):
    """One question through the API, streamed: (every output, the final output)."""
    job = client.submit(question, chat or [], "extractive", 5, [], "fr", api_name="/ask")
    outputs = list(job)
    return outputs, job.result()


def bot_text(chat: list) -> str:
    content = chat[-1]["content"]
    return "".join(p.get("text", "") for p in content) if isinstance(content, list) else str(content)


# --- API ------------------------------------------------------------------------------------------------------
@pytest.mark.real
def test_answer_streams_with_a_citation_from_the_speech(client):
    outputs, final = ask(client, "Quelle ville préside la commission ?")
    chat, sources, record = final[0], final[1], final[-1]
    assert len(outputs) >= 3, "the answer should arrive in several pieces"
    assert not record["abstained"] and record["citations"]
    speech = norm(speech_text())
    for c in record["citations"]:
        assert norm(c["quote"]) in speech
        assert c["source"] == SPEECH.name and 0 <= c["score"] <= 1
    assert "Nantes" in record["text"]
    assert "aimf-m-0-1" in bot_text(chat)  # the [1] marker, clickable
    assert "aimf-card" in sources and "<mark>" in sources


@pytest.mark.real
@pytest.mark.parametrize("question", [
    "Quel est le budget du Pôle numérique de Cotonou ?",
    "Quel projet est mené à Dakar ?",  # a city the speech never names
])
def test_abstention_lists_further_reading(client, question):
    _, final = ask(client, question)
    record, sources = final[-1], final[1]
    assert record["abstained"] and not record["citations"]
    assert "ne permettent pas de répondre" in bot_text(final[0])
    assert "Pas de réponse dans les documents" in sources and "Pour aller plus loin" in sources
    assert record["further"]


@pytest.mark.real
def test_follow_up_uses_the_history(client):
    _, first = ask(client, "Quel projet est mené à Cotonou ?")
    assert "Cotonou" in first[-1]["citations"][0]["quote"]
    _, second = ask(client, "Et à Tunis ?", first[0])
    record = second[-1]
    assert not record["abstained"]
    assert "Tunis" in record["standalone_question"]
    assert any("Tunis" in c["quote"] and "Fabrique de la Ville" in c["quote"] for c in record["citations"])
    assert "aimf-m-1-1" in bot_text(second[0])  # the second turn's markers


@pytest.mark.real
def test_empty_question_is_refused_in_french(client):
    final = client.predict("   ", [], "extractive", 5, [], "fr", api_name="/ask")
    assert final[0] == [] and "La question est vide" in final[-2]  # (chat, sources, question box, status, answer)


@pytest.mark.real
def test_feedback_is_recorded_and_exported(client, served, tmp_path):
    from ui.feedback import FeedbackStore

    question = "Qui modère les tables rondes ?"
    _, final = ask(client, question)
    status = client.predict("down", "Il manque le nom de la deuxième table ronde", None, "fr", api_name="/feedback")
    assert "enregistré" in status[0]
    rows = [r for r in FeedbackStore(served["settings"].feedback_path).rows() if r["question"] == question]
    assert len(rows) == 1
    row = rows[0]
    assert row["vote"] == "down" and row["comment"].startswith("Il manque")
    assert row["answer"] == final[-1]["text"] and row["generator"] == "extractive" and row["created_at"]
    assert [c["quote"] for c in row["citations"]] == [c["quote"] for c in final[-1]["citations"]]
    out = tmp_path / "avis.jsonl"
    env = {**os.environ, "AIMF_DATA_DIR": str(served["settings"].data_dir)}
    proc = subprocess.run([str(AIMF), "feedback", "export", "--format", "jsonl", "--out", str(out)], env=env,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    exported = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert any(e["question"] == question and e["vote"] == "down" for e in exported)


@pytest.mark.real
def test_documents_tab_lists_the_speech(client):
    table, _filter, summary = client.predict("fr", api_name="/documents")
    rows = table["data"]
    assert any(r[-1] == SPEECH.name and "Discours d'ouverture" in r[0] and int(r[3]) >= 1 for r in rows)
    assert "document(s)" in summary


# --- the browser --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tempfile.mkdtemp(prefix="aimf-chromium-")
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), headless=True,
                                                   args=CHROMIUM_ARGS, locale="fr-FR",
                                                   viewport={"width": 1400, "height": 1000})
        yield ctx
        ctx.close()
    shutil.rmtree(profile, ignore_errors=True)


class Watch:
    """Everything a page does that it must not: dialogs, requests to other hosts."""

    def __init__(self, page):
        self.dialogs: list[str] = []
        self.outside: list[str] = []
        page.on("dialog", self._dialog)
        page.on("request", self._request)

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _request(self, request):
        host = urlparse(request.url).hostname
        if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in ("127.0.0.1", "localhost"):
            self.outside.append(request.url)


@pytest.fixture
def page(browser):
    page = browser.new_page()
    page.set_default_timeout(60_000)
    yield page
    page.close()


def like_button(page):
    return page.locator("#aimf-chat button[aria-label=\"J'aime\"], #aimf-chat button[aria-label='Like']").last


@pytest.mark.real
@pytest.mark.browser
def test_browser_example_question_sources_and_thumbs_up(page, served, tmp_path):
    from ui.feedback import FeedbackStore

    watch = Watch(page)
    page.goto(served["url"])
    page.locator("#aimf-examples").get_by_text("Quel projet est mené à Cotonou ?").click()
    marker = page.locator("#aimf-chat .aimf-marker").first
    marker.wait_for()
    assert marker.inner_text().strip() == "[1]"
    card = page.locator("#aimf-sources .aimf-card").first
    card.wait_for()
    assert card.locator(".aimf-num").inner_text().strip() == "1"
    assert "Discours d'ouverture" in card.locator(".aimf-card-title").inner_text()
    marked = " ".join(card.locator("mark").all_inner_texts())
    assert "Cotonou" in marked and "Phnom Penh" not in marked  # the list items between the quoted ones: not marked
    assert re.search(r"pertinence estimée \d+\u202f%", card.inner_text()), card.inner_text()

    card.click()
    context = page.locator("#aimf-context .aimf-context")
    context.wait_for()
    assert "Cotonou" in " ".join(context.locator("mark").all_inner_texts())
    assert "Phnom Penh" in context.inner_text()  # the passage around the quote
    page.locator("#aimf-context-close").click()
    context.wait_for(state="hidden")
    marker.click()  # a marker in the answer opens the same passage
    context.wait_for()

    like_button(page).click()
    page.locator("#aimf-feedback").wait_for()
    page.locator("#aimf-comment textarea").fill("Réponse claire")
    page.locator("#aimf-feedback button").get_by_text("Envoyer le commentaire").click()
    page.locator("#aimf-feedback").get_by_text("votre commentaire est enregistré").wait_for()
    # Wait (bounded) for the comment to reach the store.
    rows: list = []
    for _ in range(50):
        rows = [r for r in FeedbackStore(served["settings"].feedback_path).rows() if r["question"] == "Quel projet est mené à Cotonou ?"]
        if rows and rows[-1]["comment"]:
            break
        page.wait_for_timeout(200)
    assert rows and rows[-1]["vote"] == "up" and rows[-1]["comment"] == "Réponse claire"

    page.screenshot(path=str(tmp_path / "chat-sources.png"), full_page=True)

    page.locator("#aimf-lang").get_by_text("English").click()  # the interface switches, the conversation stays
    page.locator("#aimf-send").get_by_text("Send").wait_for()
    # Components re-render one after another: wait (bounded) for each, rather than race them.
    page.get_by_role("tab", name="Chat").wait_for(timeout=15000)
    assert page.get_by_role("tab", name="Chat").count() == 1
    page.locator("#aimf-sources").get_by_text(re.compile(r"estimated relevance \d+%")).first.wait_for(timeout=15000)
    assert page.locator("#aimf-chat .aimf-marker").count() >= 1
    assert not watch.dialogs and not watch.outside, (watch.dialogs, watch.outside)


@pytest.mark.real
@pytest.mark.browser
def test_browser_planted_document_renders_inert(page, served, tmp_path):
    watch = Watch(page)
    planted = tmp_path / "fiche-ganvie.md"
    planted.write_text(PLANTED, encoding="utf-8")
    page.goto(served["url"])
    page.get_by_role("tab", name="Documents").click()
    page.locator("#aimf-upload input[type=file]").set_input_files(str(planted))
    page.get_by_role("button", name="Indexer le document").click()
    page.locator("#aimf-upload-status").get_by_text("est indexé").wait_for()
    page.wait_for_function("document.querySelector('#aimf-docs').innerText.includes('marché flottant de Ganvié')")
    assert "window.aimfPwned" not in page.locator("#aimf-docs").inner_text()  # raw HTML stripped at ingest

    page.get_by_role("tab", name="Discussion").click()
    page.locator("#aimf-question textarea").fill("Que vendent les pêcheurs de Ganvié ?")
    page.locator("#aimf-question textarea").press("Enter")
    page.locator("#aimf-sources .aimf-card").first.wait_for()
    assert "Ganvié" in page.locator("#aimf-chat .message.bot, #aimf-chat [data-testid=bot]").last.inner_text()
    page.locator("#aimf-sources .aimf-card").first.click()
    page.locator("#aimf-context .aimf-context").wait_for()
    page.wait_for_timeout(500)

    sources = page.locator("#aimf-sources").inner_text() + page.locator("#aimf-context").inner_text()
    assert "Ganvié" in sources and "onerror" not in sources  # markup is no content: stripped at ingest
    for area in ("#aimf-chat", "#aimf-sources", "#aimf-context", "#aimf-docs"):
        assert page.locator(f"{area} script, {area} img").count() == 0, area
        assert page.locator(f"{area} a[href*='{OUTSIDE}']").count() == 0, area
    assert page.evaluate("window.aimfPwned === undefined")
    page.screenshot(path=str(tmp_path / "planted-document.png"), full_page=True)
    assert not watch.dialogs and not watch.outside, (watch.dialogs, watch.outside)


# --- what a model writes is inert too (a FAKE writer: an LLM could echo anything) ------------------------------------
@pytest.mark.browser
def test_browser_model_output_renders_inert(page, tmp_path):
    from rag.answer import Answer, Citation
    from rag.settings import Settings
    from test_ui_unit import FakeAssistant
    from ui.app import build_app

    text = (f"Voici ![carte](http://{OUTSIDE}/carte.png) et [le site](http://{OUTSIDE}/) ou "
            f"<img src=\"http://{OUTSIDE}/p.png\" onerror=\"window.aimfPwned=1\"> <script>window.aimfPwned=2</script> "
            f"<a href=\"javascript:alert(1)\">clic</a> www.{OUTSIDE}.example [1]")
    passage = f"Avant <iframe src=\"http://{OUTSIDE}/\"></iframe> {text} après"

    def script(question, history):
        start = passage.index(text)
        return Answer(text=text, question=question, standalone_question=question, citations=[
            Citation(n=1, source="piege.md", title=f"<img src=http://{OUTSIDE}/t.png>Titre", quote=text, start=0,
                     end=len(text), score=0.9, passage=passage, quote_start=start, quote_end=start + len(text))])

    settings = Settings(_env_file=None, data_dir=tmp_path / "data", corpus_dir=tmp_path / "corpus")
    app = build_app(FakeAssistant(settings, script=script), settings)
    url = launch(app)
    try:
        watch = Watch(page)
        page.goto(url)
        page.locator("#aimf-question textarea").fill("Montrez-moi la carte")
        page.locator("#aimf-question textarea").press("Enter")
        page.locator("#aimf-chat .aimf-marker").first.wait_for()
        page.locator("#aimf-sources .aimf-card").first.click()
        page.locator("#aimf-context .aimf-context").wait_for()
        page.wait_for_timeout(500)
        bot = page.locator("#aimf-chat .message.bot, #aimf-chat [data-testid=bot]").last
        assert "![carte]" in bot.inner_text() and "<script>" in bot.inner_text()
        for area in ("#aimf-chat", "#aimf-sources", "#aimf-context"):
            assert page.locator(f"{area} img, {area} script, {area} iframe").count() == 0, area
            assert page.locator(f"{area} a").count() == 0, area  # no link at all, remote or javascript:
        assert page.evaluate("window.aimfPwned === undefined")
        page.screenshot(path=str(tmp_path / "model-output.png"), full_page=True)
        assert not watch.dialogs and not watch.outside, (watch.dialogs, watch.outside)
    finally:
        app.close()


# --- what users hit, in the browser, over a FAKE assistant (scripted answers; the page is the real one) --------------
MARKET = "Le marché ouvre le samedi. Les pirogues arrivent à l'aube. Le poisson fumé se vend au quai."
BEFORE_MARKET, AFTER_MARKET = "Ganvié est une cité lacustre du Bénin.", "Les touristes visitent le village en barque."


def _fake_app(tmp_path, **overrides):
    import time

    from rag.answer import Answer, Citation
    from rag.settings import Settings
    from test_ui_unit import FakeAssistant, default_answer
    from ui.app import build_app

    def script(question, history):
        if question.startswith("Marché"):  # two sentences quoted from one passage, one between them not
            first, second = "Le marché ouvre le samedi.", "Le poisson fumé se vend au quai."
            return Answer(text=f"{first} {second} [1]", question=question, standalone_question=question, citations=[
                Citation(n=1, source="ganvie.md", title="Ganvié", quote=MARKET, start=len(BEFORE_MARKET) + 1,
                         end=len(BEFORE_MARKET) + 1 + len(MARKET), score=0.8, passage=MARKET, quote_start=0,
                         quote_end=len(MARKET))])
        if question.startswith("Lent"):  # an answer that takes a while: a second question is sent meanwhile
            time.sleep(1.5)
        answer = default_answer(question)
        answer.lang = "en" if question.startswith("Who") else "fr"
        return answer

    class PageFake(FakeAssistant):  # FAKE index: one document read back for the passage in context
        def surroundings(self, source, start, end, chars=600):
            from rag.context import around

            return around([(0, f"{BEFORE_MARKET} {MARKET} {AFTER_MARKET}")], start, end, chars)

    settings = Settings(_env_file=None, data_dir=tmp_path / "data", corpus_dir=tmp_path / "corpus", ui_allow_upload=True,
                        **overrides)
    app = build_app(PageFake(settings, script=script), settings)
    return app, launch(app)


@pytest.fixture(scope="module")
def fake_served(tmp_path_factory):
    app, url = _fake_app(tmp_path_factory.mktemp("ui-fake"), max_question_chars=2000, max_file_mb=50)
    yield url
    app.close()


def ask_in_page(page, question: str):
    box = page.locator("#aimf-question textarea")
    box.fill(question)
    box.press("Enter")


def bots(page):
    return page.locator("#aimf-chat .message.bot, #aimf-chat [data-testid=bot]")


def line_count(locator) -> int:
    """How many lines an element's text takes on screen."""
    return locator.evaluate("e => { const r = document.createRange(); r.selectNodeContents(e); "
                            "return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; }")


@pytest.mark.browser
def test_browser_phone_passage_view_opens_in_view_and_header_and_table_read(page, fake_served, tmp_path):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(fake_served)
    subtitle = page.locator("#aimf-header p")
    subtitle.wait_for()
    assert subtitle.bounding_box()["width"] > 250, subtitle.bounding_box()  # was a 70 px column, a word per line
    ask_in_page(page, "Qui préside ?")
    marker = page.locator("#aimf-chat .aimf-marker").first
    marker.wait_for()
    marker.scroll_into_view_if_needed()
    marker.click()
    view = page.locator("#aimf-context .aimf-context")
    view.wait_for()
    page.wait_for_timeout(300)
    box = page.locator("#aimf-context-box").bounding_box()
    assert box["y"] >= 0 and box["y"] + 40 < 844, box  # on screen where the tap was, not ~900 px below
    page.screenshot(path=str(tmp_path / "phone-passage.png"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("#aimf-context-close").click()
    page.get_by_role("tab", name="Documents").click()
    headers = page.locator("#aimf-docs th .header")
    headers.first.wait_for()
    page.wait_for_timeout(500)
    counts = [line_count(headers.nth(i)) for i in range(headers.count())]
    assert counts and all(n == 1 for n in counts), counts  # no header written a letter per line
    kind = page.locator("#aimf-docs [data-testid=cell-0-1] span.text").first  # "TXT": was a letter per line too
    assert kind.inner_text().strip() == "TXT" and line_count(kind) == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the table scrolls, not the page
    assert "50 Mo" in page.locator("#aimf-upload").locator("xpath=following::*[contains(., 'Taille maximale')][1]").inner_text()


@pytest.mark.browser
def test_browser_two_quoted_sentences_two_highlights_and_text_around(page, fake_served):
    page.goto(fake_served)
    ask_in_page(page, "Marché de Ganvié ?")
    card = page.locator("#aimf-sources .aimf-card").first
    card.wait_for()
    marks = card.locator("mark")
    assert marks.all_inner_texts() == ["Le marché ouvre le samedi.", "Le poisson fumé se vend au quai."]
    card.click()
    view = page.locator("#aimf-context .aimf-context")
    view.wait_for()
    assert view.locator("mark").count() == 2
    assert "pirogues" not in " ".join(view.locator("mark").all_inner_texts())  # nothing between them highlighted
    text = view.locator(".aimf-context-text").inner_text()
    assert BEFORE_MARKET in text and AFTER_MARKET in text  # the document around the passage
    assert text.index(BEFORE_MARKET) < text.index("Le marché") < text.index(AFTER_MARKET)


@pytest.mark.browser
def test_browser_two_questions_sent_50_ms_apart_both_stay(page, fake_served):
    page.goto(fake_served)
    ask_in_page(page, "Lent : qui préside ?")
    page.wait_for_timeout(50)
    ask_in_page(page, "Et depuis quand ?")
    page.wait_for_function("document.querySelector('#aimf-question textarea').value === ''")
    page.locator("#aimf-question textarea").fill("Une troisième, en cours d'écriture")
    page.wait_for_timeout(2500)  # the first answer arrives meanwhile: what is being typed stays
    assert page.locator("#aimf-question textarea").input_value() == "Une troisième, en cours d'écriture"
    try:
        page.locator("#aimf-chat .aimf-m-1-1").wait_for(timeout=30_000)  # the second turn's marker
    except Exception:
        raise AssertionError(page.locator("#aimf-chat").inner_text()) from None
    page.wait_for_timeout(500)
    users = page.locator("#aimf-chat .message.user, #aimf-chat [data-testid=user]").all_inner_texts()
    # both kept (answered one after the other, in the order the server took them up)
    assert sorted({u.strip() for u in users}) == ["Et depuis quand ?", "Lent : qui préside ?"], users
    assert page.locator("#aimf-chat .aimf-marker").count() == 2, page.locator("#aimf-chat").inner_text()  # two answers
    assert page.locator("#aimf-chat .aimf-m-0-1").count() == 1


@pytest.mark.browser
def test_browser_long_question_is_counted_not_cut(page, fake_served):
    page.goto(fake_served)
    question = "Quelle ville préside la commission ? " * 95  # about 3,500: over the setting and the old 3,000 cut
    n = len(question.strip())
    box = page.locator("#aimf-question textarea")
    box.fill(question)
    note = page.locator("#aimf-question .aimf-length")
    note.wait_for()
    digits = re.sub(r"\D", "", note.inner_text())
    assert digits == f"{n}2000", note.inner_text()  # the pasted length and the setting
    assert len(box.input_value()) == len(question)  # nothing cut
    box.press("Enter")
    page.locator("#aimf-status").get_by_text("trop longue").wait_for()
    status = page.locator("#aimf-status").inner_text()
    assert f"{n} caractères" in status and "maximum 2000" in status
    page.wait_for_function("document.querySelector('#aimf-question textarea').value.length > 0")
    assert box.input_value().strip() == question.strip()  # refused, and back in the box to be shortened


@pytest.mark.browser
def test_browser_labels_switch_language_everywhere(page, fake_served):
    page.goto(fake_served)
    ask_in_page(page, "Who chairs the commission?")
    page.locator("#aimf-chat .aimf-marker").first.wait_for()
    assert "Answer quoted from French documents." in bots(page).last.inner_text()
    like_button(page).click()
    status = page.locator("#aimf-feedback-status")
    status.get_by_text("votre avis est enregistré").wait_for()
    page.locator("#aimf-comment textarea").fill("Très clair")
    page.locator("#aimf-feedback button").get_by_text("Envoyer le commentaire").click()
    status.get_by_text("votre commentaire est enregistré").wait_for()  # the comment, confirmed as such
    assert page.locator("#aimf-chat button[aria-label=\"Je n'aime pas\"]").count() == 1

    page.locator("#aimf-lang").get_by_text("English").click()
    page.locator("#aimf-send").get_by_text("Send").wait_for()
    status.get_by_text("your comment is saved").wait_for(timeout=15000)
    page.locator("#aimf-chat button[aria-label='Dislike']").wait_for(timeout=15000)
    assert page.locator("#aimf-chat button[aria-label='Like']").count() == 1
    assert page.locator("#aimf-chat button[aria-label='Clear conversation']").count() == 1
    assert "Answer quoted word for word" in page.locator("#aimf-sources").inner_text()
    page.get_by_role("tab", name="Documents").click()
    page.locator("#aimf-upload").get_by_text("Drop the file here").wait_for(timeout=15000)
    assert "Déposez" not in page.locator("#aimf-upload").inner_text()
    page.locator("#aimf-lang").get_by_text("Français").click()
    page.locator("#aimf-upload").get_by_text("Déposez le fichier ici").wait_for(timeout=15000)
