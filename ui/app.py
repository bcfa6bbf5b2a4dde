"""The chat page: ``build_app(assistant, settings)`` returns the Gradio Blocks; ``Handlers`` holds its event handlers.

A thin skin over ``rag.assistant.Assistant``: it streams what the assistant writes, shows the citations it returns,
records feedback and forwards uploads to the ingest pipeline. No retrieval or prompt logic lives here.

Per-session state (``gr.State``) keeps one record per answered turn (question, answer text, citations, further
reading, writer): the history sent back to the assistant, the sources panel and the feedback rows are built from it.
"""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import Any, Iterator

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from rag.answer import Answer  # noqa: E402
from rag.assistant import Assistant, QuestionError  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.store import IndexMismatchError, IndexMissingError, IndexUnavailableError  # noqa: E402
from ui import render  # noqa: E402
from ui.assets import CSS, SOURCES_JS, theme  # noqa: E402
from ui.documents import UploadError, accept_upload, document_rows, ingest_upload, supported_types  # noqa: E402
from ui.feedback import FeedbackStore  # noqa: E402
from ui.i18n import DEFAULT_LANG, norm_lang, t  # noqa: E402

log = logging.getLogger("aimf.ui")

# Questions the bundled speech answers (and one it does not, to show an honest abstention).
EXAMPLES = [
    "Quelle ville préside la commission « Villes innovantes, intelligentes et responsables » ?",
    "Quels projets pilotes l'AIMF soutient-elle ?",
    "Quel projet est mené à Cotonou ?",
    "Qui modère les tables rondes ?",
    "Quel est le budget du Pôle numérique de Cotonou ?",
]
WRITERS = ("extractive", "llamacpp", "openai")


def new_state() -> dict[str, Any]:
    # turns: one record per answer; feedback: turn -> feedback row id; shown: the turn the sources panel shows
    return {"turns": [], "feedback": {}, "shown": None}


def answer_record(answer: Answer, msg_index: int) -> dict[str, Any]:
    """What the page keeps of an answer (JSON-safe; also the hidden JSON output API clients read)."""
    return {
        "question": answer.question,
        "standalone_question": answer.standalone_question,
        "text": answer.text,
        "abstained": answer.abstained,
        "citations": [c.model_dump() for c in answer.citations],
        "further": [p.model_dump(exclude={"rank_score"}) for p in answer.further],
        "notices": list(answer.notices),
        "generator": answer.generator,
        "lang": answer.lang,
        "timings": answer.timings.model_dump(),
        "msg_index": msg_index,
    }


def where_filter(sources: list[str] | None) -> dict | None:
    sources = [s for s in (sources or []) if s]
    if not sources:
        return None
    return {"source": sources[0]} if len(sources) == 1 else {"source": {"$in": sources}}


DOC_COLUMNS = ("col_title", "col_kind", "col_pages", "col_chunks", "col_date", "col_source")


def docs_frame(rows: list[list[Any]], lang: str):
    """The documents table with headers in the interface language (a Dataframe's headers follow its value)."""
    import pandas as pd

    return pd.DataFrame([[str(v) for v in r] for r in rows], columns=[t(c, lang) for c in DOC_COLUMNS])


def writer_choices(status: dict[str, str | None], lang: str) -> list[tuple[str, str]]:
    choices = []
    for name in WRITERS:
        if name not in status:
            continue
        label = t(f"writer_{name}", lang)
        if status[name]:
            label += f" — {t('unavailable', lang)} : {status[name]}" if lang == "fr" else \
                f" — {t('unavailable', lang)}: {status[name]}"
        choices.append((label, name))
    return choices


class Handlers:
    """The page's event handlers, separate from the layout so they can be called (and tested) directly."""

    def __init__(self, assistant: Assistant, settings: Settings, feedback: FeedbackStore | None = None):
        self.assistant = assistant
        self.settings = settings
        self.feedback = feedback or FeedbackStore(settings.feedback_path)
        self.status = assistant.generator_status()

    # --- chat ---------------------------------------------------------------------------------------------------
    def respond(self, question: str, chat: list | None, state: dict | None, writer: str | None, k: float | None,
                doc_filter: list[str] | None, lang: str | None) -> Iterator[tuple]:
        """Stream one answer. Yields (chat, state, sources, question box, context box, status, answer JSON)."""
        lang = norm_lang(lang)
        state = copy.deepcopy(state) if state else new_state()
        chat = list(chat or [])
        try:
            question = self.assistant.validate(question)
        except QuestionError as exc:
            gr.Warning(str(exc))
            yield chat, state, gr.skip(), gr.skip(), gr.skip(), render.esc(str(exc)), gr.skip()
            return
        turn = len(state["turns"])
        history = [m for r in state["turns"] for m in ({"role": "user", "content": r["question"]},
                                                       {"role": "assistant", "content": r["text"]})]
        chat += [{"role": "user", "content": render.inert_markdown(question)},
                 {"role": "assistant", "content": f"*{t('searching', lang)}*"}]
        hide = gr.update(visible=False)
        yield chat, state, render.searching_html(lang), "", hide, "", None
        name = writer if writer in self.status and self.status[writer] is None else "extractive"
        text, final = "", None
        try:
            for piece in self.assistant.answer_stream(question, history=history, generator=name,
                                                      k=int(k) if k else None, where=where_filter(doc_filter)):
                if isinstance(piece, Answer):
                    final = piece
                elif piece:
                    text += piece
                    chat[-1] = {"role": "assistant", "content": render.chat_text(text, turn)}
                    yield chat, state, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except IndexUnavailableError:
            log.warning("index unavailable", exc_info=True)
            self.assistant.reset()  # the next question reconnects
            yield from self._failed(chat, state, t("error_index", lang), lang)
            return
        except (IndexMissingError, IndexMismatchError, QuestionError) as exc:
            yield from self._failed(chat, state, str(exc), lang)
            return
        except Exception:
            log.exception("answer failed")
            yield from self._failed(chat, state, t("error_unexpected", lang), lang)
            return
        if final is None:  # cannot happen with the assistant's contract; never leave a spinner behind
            yield from self._failed(chat, state, t("error_unexpected", lang), lang)
            return
        record = answer_record(final, msg_index=len(chat) - 1)
        state["turns"].append(record)
        state["shown"] = turn
        chat[-1] = {"role": "assistant", "content": render.chat_text(final.text, turn)}
        yield chat, state, render.sources_html(record, turn, lang), gr.skip(), gr.skip(), "", record

    def _failed(self, chat: list, state: dict, message: str, lang: str) -> Iterator[tuple]:
        chat[-1] = {"role": "assistant", "content": "⚠️ " + render.inert_markdown(message)}
        state["shown"] = None
        yield chat, state, render.sources_html(None, None, lang), gr.skip(), gr.skip(), render.esc(message), None

    def respond_example(self, sample: list | str, *rest) -> Iterator[tuple]:
        question = sample[0] if isinstance(sample, (list, tuple)) else sample
        yield from self.respond(question, *rest)

    def new_chat(self, lang: str | None) -> tuple:
        return ([], new_state(), render.sources_html(None, None, norm_lang(lang)), "", gr.update(visible=False), "",
                None, gr.update(visible=False), "")

    def show_passage(self, state: dict | None, lang: str | None, evt: gr.EventData) -> tuple:
        """A card or a marker was clicked: that answer's sources, the card selected, and the passage in context."""
        lang = norm_lang(lang)
        state = state or new_state()
        data = getattr(evt, "_data", None) or {}
        try:
            turn, kind, idx = int(data.get("turn")), str(data.get("kind")), int(data.get("idx"))
            record = state["turns"][turn]
        except (TypeError, ValueError, IndexError):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        if kind == "n":  # a marker: its number -> the citation's position
            kind, idx = "c", next((i for i, c in enumerate(record["citations"]) if c.get("n") == idx), -1)
        body = render.context_html(record, kind, idx, lang)
        if not body:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        state = {**state, "shown": turn}
        return state, render.sources_html(record, turn, lang, selected=(kind, idx)), body, gr.update(visible=True)

    def close_passage(self, state: dict | None, lang: str | None) -> tuple:
        state = state or new_state()
        turn = state.get("shown")
        record = state["turns"][turn] if turn is not None and turn < len(state["turns"]) else None
        return render.sources_html(record, turn, norm_lang(lang)), gr.update(visible=False)

    # --- feedback -----------------------------------------------------------------------------------------------
    def on_like(self, state: dict | None, lang: str | None, like: gr.LikeData) -> tuple:
        """A thumb under an answer: recorded at once; the comment box opens for that answer."""
        lang = norm_lang(lang)
        state = copy.deepcopy(state) if state else new_state()
        index = like.index[0] if isinstance(like.index, (list, tuple)) else like.index
        turn = next((i for i, r in enumerate(state["turns"]) if r["msg_index"] == index), None)
        if turn is None:
            return state, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        vote = {True: "up", False: "down"}.get(like.liked) if isinstance(like.liked, bool) else None
        row = state["feedback"].get(str(turn))
        if vote is None:  # the thumb was clicked again: the vote is withdrawn
            if row:
                self.feedback.delete(row)
                state["feedback"].pop(str(turn), None)
            return state, gr.update(visible=False), gr.skip(), gr.skip(), t("feedback_removed", lang)
        if row:
            self.feedback.update(row, vote=vote)
        else:
            state["feedback"][str(turn)] = self.feedback.record(vote, state["turns"][turn])
        return state, gr.update(visible=True), vote, turn, t("feedback_saved", lang)

    def send_feedback(self, vote: str | None, comment: str | None, turn: float | None, state: dict | None,
                      lang: str | None) -> tuple:
        """Vote and optional comment about one answer (the last one when ``turn`` is empty). API: ``/feedback``."""
        lang = norm_lang(lang)
        state = copy.deepcopy(state) if state else new_state()
        if not state["turns"]:
            return state, t("feedback_nothing", lang), gr.skip()
        turn = int(turn) if turn is not None and 0 <= int(turn) < len(state["turns"]) else len(state["turns"]) - 1
        vote = vote if vote in ("up", "down") else "up"
        row = state["feedback"].get(str(turn))
        if row and self.feedback.update(row, vote=vote, comment=comment or ""):
            pass
        else:
            state["feedback"][str(turn)] = self.feedback.record(vote, state["turns"][turn], comment or "")
        return state, t("feedback_saved", lang), ""

    # --- settings -----------------------------------------------------------------------------------------------
    def check_writer(self, writer: str, lang: str | None):
        reason = self.status.get(writer)
        if reason:
            gr.Warning(t("writer_refused", norm_lang(lang), reason=reason))
            return "extractive"
        return gr.skip()

    # --- documents ----------------------------------------------------------------------------------------------
    def documents(self, lang: str | None) -> tuple:
        """Table rows, the document filter's choices, and a one-line summary (or the index's error)."""
        lang = norm_lang(lang)
        try:
            docs = self.assistant.documents()
        except IndexUnavailableError:
            self.assistant.reset()
            return docs_frame([], lang), gr.update(choices=[]), t("error_index", lang)
        except (IndexMissingError, IndexMismatchError) as exc:
            return docs_frame([], lang), gr.update(choices=[]), render.esc(str(exc))
        rows = document_rows(docs, self.settings.manifest_path)
        choices = [(d.get("title") or d["source"], d["source"]) for d in docs]
        summary = t("docs_count", lang, n=len(docs), c=sum(d.get("chunks", 0) for d in docs))
        return docs_frame(rows, lang), gr.update(choices=choices), summary

    def upload(self, file: str | None, lang: str | None) -> tuple:
        lang = norm_lang(lang)
        if not self.settings.ui_allow_upload:
            return (t("upload_disabled", lang), *self.documents(lang), None)
        if not file:
            return (t("upload_none", lang), gr.skip(), gr.skip(), gr.skip(), gr.skip())
        path = Path(file)
        try:
            dest = accept_upload(path, path.name, self.settings.corpus_dir, self.settings.ui_max_upload_mb, lang)
        except UploadError as exc:
            return ("⚠️ " + render.esc(str(exc)), gr.skip(), gr.skip(), gr.skip(), None)
        ok, message = ingest_upload(dest, self.settings, self.assistant, lang)
        return (("✅ " if ok else "⚠️ ") + render.esc(message), *self.documents(lang), None)


class AimfBlocks(gr.Blocks):
    """Blocks that launch with the page's theme, style, upload limit and footer unless told otherwise (Gradio 6 takes
    these in ``launch()``), so ``build_app(...).launch()`` gives the finished page."""

    launch_defaults: dict[str, Any] = {}

    def launch(self, *args, **kwargs):
        for key, value in self.launch_defaults.items():
            kwargs.setdefault(key, value)
        return super().launch(*args, **kwargs)


def _writer_css(status: dict[str, str | None]) -> str:
    # Radio choices cannot be disabled one by one in Gradio: unavailable writers are greyed and made unclickable
    # here, and `check_writer` refuses them server-side anyway.
    return "\n".join(
        f'#aimf-writer label:has(input[value="{name}"]) {{ opacity: .5; pointer-events: none; }}'
        for name, reason in status.items() if reason
    )


def build_app(assistant: Assistant, settings: Settings, feedback: FeedbackStore | None = None) -> gr.Blocks:
    h = Handlers(assistant, settings, feedback)
    lang0 = DEFAULT_LANG
    default_writer = settings.generator if h.status.get(settings.generator) is None else "extractive"
    labelled: list[tuple[Any, dict[str, Any]]] = []  # component -> {property: function(lang) -> value}

    def tr(component, **props):
        labelled.append((component, props))
        return component

    def header(lang: str) -> str:
        return f'<div><h1>{render.esc(t("title", lang))}</h1><p>{render.esc(t("subtitle", lang))}</p></div>'

    with AimfBlocks(title=t("title", lang0), analytics_enabled=False) as app:
        state = gr.State(new_state())
        with gr.Row(elem_id="aimf-header", equal_height=True):
            title = tr(gr.HTML(header(lang0), padding=False), value=header)
            lang = tr(gr.Radio([("Français", "fr"), ("English", "en")], value=lang0, label=t("lang_switch", lang0),
                               elem_id="aimf-lang", scale=0, min_width=220),
                      label=lambda lg: t("lang_switch", lg))
        with gr.Tabs():
            with gr.Tab(t("tab_chat", lang0), id="chat") as tab_chat:
                tr(tab_chat, label=lambda lg: t("tab_chat", lg))
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=420):
                        chatbot = tr(gr.Chatbot(
                            label=t("chat_label", lang0), elem_id="aimf-chat", height=540, show_label=False,
                            placeholder=t("chat_placeholder", lang0), sanitize_html=True, render_markdown=True,
                            allow_tags=False, latex_delimiters=[], feedback_options=("Like", "Dislike"),
                            buttons=["copy"], autoscroll=True,
                        ), placeholder=lambda lg: t("chat_placeholder", lg))
                        with gr.Row(equal_height=True):
                            question = tr(gr.Textbox(
                                label=t("question_label", lang0), show_label=False, elem_id="aimf-question",
                                placeholder=t("question_placeholder", lang0), lines=1, max_lines=6, scale=6,
                                autofocus=True, max_length=settings.max_question_chars + 1000,
                            ), placeholder=lambda lg: t("question_placeholder", lg))
                            send = tr(gr.Button(t("send", lang0), variant="primary", scale=1, min_width=110,
                                                elem_id="aimf-send"), value=lambda lg: t("send", lg))
                        status = gr.Markdown("", elem_id="aimf-status")
                        with gr.Column(visible=False, elem_id="aimf-feedback") as fb_box:
                            fb_intro = tr(gr.Markdown(t("feedback_thanks", lang0)), value=lambda lg: t("feedback_thanks", lg))
                            with gr.Row(equal_height=True):
                                fb_comment = tr(gr.Textbox(label=t("comment_label", lang0), show_label=False,
                                                           placeholder=t("comment_placeholder", lang0), scale=5,
                                                           elem_id="aimf-comment"),
                                                placeholder=lambda lg: t("comment_placeholder", lg))
                                fb_send = tr(gr.Button(t("send_comment", lang0), scale=1, min_width=150, size="sm"),
                                             value=lambda lg: t("send_comment", lg))
                            fb_status = gr.Markdown("")
                            fb_vote = gr.Textbox(value="up", visible=False)
                            fb_turn = gr.Number(value=None, precision=0, visible=False)
                        with gr.Row():
                            new_chat = tr(gr.Button(t("new_chat", lang0), size="sm", variant="secondary", scale=0,
                                                    min_width=200, elem_id="aimf-new", icon=None),
                                          value=lambda lg: t("new_chat", lg))
                        examples = tr(gr.Dataset(components=[question], samples=[[q] for q in EXAMPLES],
                                                 label=t("examples", lang0), elem_id="aimf-examples", layout="gallery",
                                                 samples_per_page=len(EXAMPLES)),
                                      label=lambda lg: t("examples", lg))
                        with gr.Accordion(t("settings", lang0), open=False, elem_id="aimf-settings") as acc:
                            tr(acc, label=lambda lg: t("settings", lg))
                            writer = tr(gr.Radio(writer_choices(h.status, lang0), value=default_writer,
                                                 label=t("writer", lang0), info=t("writer_info", lang0),
                                                 elem_id="aimf-writer"),
                                        label=lambda lg: t("writer", lg), info=lambda lg: t("writer_info", lg),
                                        choices=lambda lg: writer_choices(h.status, lg))
                            k = tr(gr.Slider(1, 20, value=settings.k, step=1, label=t("k", lang0), elem_id="aimf-k"),
                                   label=lambda lg: t("k", lg))
                            doc_filter = tr(gr.Dropdown(choices=[], value=[], multiselect=True, label=t("doc_filter", lang0),
                                                        info=t("doc_filter_info", lang0), elem_id="aimf-doc-filter"),
                                            label=lambda lg: t("doc_filter", lg), info=lambda lg: t("doc_filter_info", lg))
                    with gr.Column(scale=2, min_width=320, elem_id="aimf-sources-col"):
                        sources_title = tr(gr.Markdown(f"### {t('sources', lang0)}"),
                                           value=lambda lg: f"### {t('sources', lg)}")
                        with gr.Column(visible=False, elem_id="aimf-context-box") as ctx_box:
                            ctx_html = gr.HTML("", elem_id="aimf-context", padding=False)
                            ctx_close = tr(gr.Button(t("close", lang0), size="sm", elem_id="aimf-context-close"),
                                           value=lambda lg: t("close", lg))
                        sources = gr.HTML(render.sources_html(None, None, lang0), js_on_load=SOURCES_JS,
                                          elem_id="aimf-sources", padding=False)
                        answer_json = gr.JSON(visible=False)
            with gr.Tab(t("tab_docs", lang0), id="docs") as tab_docs:
                tr(tab_docs, label=lambda lg: t("tab_docs", lg))
                docs_intro = tr(gr.Markdown(t("docs_intro", lang0)), value=lambda lg: t("docs_intro", lg))
                docs_table = gr.Dataframe(value=docs_frame([], lang0), interactive=False, wrap=True, elem_id="aimf-docs",
                                          column_widths=["34%", "7%", "7%", "9%", "15%", "28%"])
                with gr.Row():
                    docs_summary = gr.Markdown("")
                    refresh = tr(gr.Button(t("docs_refresh", lang0), size="sm", scale=0, min_width=120),
                                 value=lambda lg: t("docs_refresh", lg))
                if settings.ui_allow_upload:
                    types = supported_types()
                    upload_help = lambda lg: t("upload_help", lg, types=", ".join(types), mb=settings.ui_max_upload_mb)  # noqa: E731
                    upload_file = tr(gr.File(label=t("upload_label", lang0), file_types=types, file_count="single",
                                             type="filepath", elem_id="aimf-upload"),
                                     label=lambda lg: t("upload_label", lg))
                    tr(gr.Markdown(upload_help(lang0)), value=upload_help)
                    upload_btn = tr(gr.Button(t("upload_button", lang0), variant="primary"),
                                    value=lambda lg: t("upload_button", lg))
                    upload_status = gr.Markdown("", elem_id="aimf-upload-status")
                else:
                    tr(gr.Markdown(t("upload_disabled", lang0)), value=lambda lg: t("upload_disabled", lg))

        # --- events -------------------------------------------------------------------------------------------
        ask_inputs = [question, chatbot, state, writer, k, doc_filter, lang]
        ask_outputs = [chatbot, state, sources, question, ctx_box, status, answer_json]
        question.submit(h.respond, ask_inputs, ask_outputs, api_name="ask", show_progress="hidden")
        send.click(h.respond, ask_inputs, ask_outputs, api_visibility="private", show_progress="hidden")
        examples.click(h.respond_example, [examples, *ask_inputs[1:]], ask_outputs, api_visibility="private",
                       show_progress="hidden")
        reset_outputs = [chatbot, state, sources, question, ctx_box, status, answer_json, fb_box, fb_status]
        new_chat.click(h.new_chat, [lang], reset_outputs, api_name="new_chat", concurrency_limit=None,
                       show_progress="hidden")
        # The Chatbot's own bin icon must forget the conversation too, not only hide it.
        chatbot.clear(h.new_chat, [lang], reset_outputs, api_visibility="private", concurrency_limit=None,
                      show_progress="hidden")
        sources.click(h.show_passage, [state, lang], [state, sources, ctx_html, ctx_box], api_visibility="private",
                      concurrency_limit=None, show_progress="hidden")
        ctx_close.click(h.close_passage, [state, lang], [sources, ctx_box], api_visibility="private",
                        concurrency_limit=None, show_progress="hidden")
        chatbot.like(h.on_like, [state, lang], [state, fb_box, fb_vote, fb_turn, fb_status], api_visibility="private",
                     concurrency_limit=None, show_progress="hidden")
        fb_inputs = [fb_vote, fb_comment, fb_turn, state, lang]
        fb_send.click(h.send_feedback, fb_inputs, [state, fb_status, fb_comment], api_name="feedback",
                      concurrency_limit=None)
        fb_comment.submit(h.send_feedback, fb_inputs, [state, fb_status, fb_comment], api_visibility="private",
                          concurrency_limit=None)
        writer.input(h.check_writer, [writer, lang], [writer], api_visibility="private", concurrency_limit=None)
        docs_outputs = [docs_table, doc_filter, docs_summary]
        app.load(h.documents, [lang], docs_outputs, api_name="documents", concurrency_limit=None)
        refresh.click(h.documents, [lang], docs_outputs, api_visibility="private", concurrency_limit=None)
        if settings.ui_allow_upload:
            upload_btn.click(h.upload, [upload_file, lang], [upload_status, *docs_outputs, upload_file], api_name="upload")

        def relabel(lg: str, st: dict | None, table) -> list:
            lg = norm_lang(lg)
            st = st or new_state()
            shown = st.get("shown")
            record = st["turns"][shown] if shown is not None and shown < len(st["turns"]) else None
            updates = [gr.update(**{p: f(lg) for p, f in props.items()}) for _, props in labelled]
            rows = table.values.tolist() if hasattr(table, "values") else []
            return [*updates, render.sources_html(record, shown if record else None, lg), gr.update(visible=False),
                    docs_frame(rows, lg)]

        lang.change(relabel, [lang, state, docs_table], [c for c, _ in labelled] + [sources, ctx_box, docs_table],
                    api_visibility="private", concurrency_limit=None, show_progress="hidden")

    app.queue(default_concurrency_limit=settings.ui_concurrency)
    app.launch_defaults = {
        "theme": theme(),
        "css": CSS + _writer_css(h.status),
        "footer_links": [],
        "max_file_size": int(settings.ui_max_upload_mb * 1024 * 1024),  # Gradio refuses bigger uploads itself
        "show_error": False,
    }
    app.handlers = h  # for callers that want to reach the handlers (tests, benches)
    return app
