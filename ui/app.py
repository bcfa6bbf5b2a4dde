"""The chat page: ``build_app(assistant, settings)`` returns the Gradio Blocks, wired to ``ui.handlers.Handlers``.

A thin skin over ``rag.assistant.Assistant``: it streams what the assistant writes, shows the citations it returns,
records feedback and forwards uploads to the ingest pipeline. No retrieval or prompt logic lives here.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from rag.assistant import Assistant  # noqa: E402
from rag.settings import Settings  # noqa: E402
from ui import render  # noqa: E402
from ui.assets import CSS, SOURCES_JS, head_script, theme  # noqa: E402
from ui.documents import supported_types  # noqa: E402
from ui.feedback import FeedbackStore  # noqa: E402
from ui.handlers import EXAMPLES, Handlers, docs_frame, new_state, writer_choices  # noqa: E402
from ui.i18n import DEFAULT_LANG, norm_lang, t  # noqa: E402


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
            tr(gr.HTML(header(lang0), padding=False), value=header)
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
                            # no copy buttons: they would copy the page's markup (escaped text, marker tags)
                            buttons=[], autoscroll=True,
                        ), placeholder=lambda lg: t("chat_placeholder", lg))
                        with gr.Row(equal_height=True):
                            question = tr(gr.Textbox(
                                label=t("question_label", lang0), show_label=False, elem_id="aimf-question",
                                placeholder=t("question_placeholder", lang0), lines=1, max_lines=6, scale=6,
                                # No cut in the box: a pasted question is kept whole, the counter under it says when
                                # it passes AIMF_MAX_QUESTION_CHARS, and the refusal quotes its real length.
                                autofocus=True, max_length=None,
                            ), placeholder=lambda lg: t("question_placeholder", lg))
                            send = tr(gr.Button(t("send", lang0), variant="primary", scale=1, min_width=110,
                                                elem_id="aimf-send"), value=lambda lg: t("send", lg))
                        status = gr.Markdown("", elem_id="aimf-status")
                        with gr.Column(visible=False, elem_id="aimf-feedback") as fb_box:
                            tr(gr.Markdown(t("feedback_thanks", lang0)), value=lambda lg: t("feedback_thanks", lg))
                            with gr.Row(equal_height=True):
                                fb_comment = tr(gr.Textbox(label=t("comment_label", lang0), show_label=False,
                                                           placeholder=t("comment_placeholder", lang0), scale=5,
                                                           elem_id="aimf-comment"),
                                                placeholder=lambda lg: t("comment_placeholder", lg))
                                fb_send = tr(gr.Button(t("send_comment", lang0), scale=1, min_width=150, size="sm"),
                                             value=lambda lg: t("send_comment", lg))
                            fb_status = gr.Markdown("", elem_id="aimf-feedback-status")
                            stored = (lambda lg: t("feedback_stored", lg, days=settings.feedback_retention_days)) \
                                if settings.feedback_retention_days else (lambda lg: t("feedback_stored_forever", lg))
                            tr(gr.Markdown(stored(lang0), elem_classes=["aimf-fine-print"]), value=stored)
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
                        tr(gr.Markdown(f"### {t('sources', lang0)}"),
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
                tr(gr.Markdown(t("docs_intro", lang0)), value=lambda lg: t("docs_intro", lg))
                # Shares of the width on a computer; on a phone (where a share of 390 px left 27 px for "Pages",
                # written a letter per line) the style sheet gives each column its own width and the table scrolls.
                docs_table = gr.Dataframe(value=docs_frame([], lang0), interactive=False, wrap=True, elem_id="aimf-docs",
                                          column_widths=["34%", "7%", "7%", "9%", "15%", "28%"])
                with gr.Row():
                    docs_summary = gr.Markdown("")
                    refresh = tr(gr.Button(t("docs_refresh", lang0), size="sm", scale=0, min_width=120),
                                 value=lambda lg: t("docs_refresh", lg))
                if settings.ui_allow_upload:
                    types = supported_types()
                    upload_help = lambda lg: t("upload_help", lg, types=", ".join(types), mb=settings.upload_limit_mb)  # noqa: E731
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
        # Everything that runs the model shares one concurrency group: at most ui_concurrency at once, others queue.
        # Every question sent is answered, in order: a second one sent while the first is answered is queued (Gradio
        # drops it by default), and the handlers answer one question at a time per session.
        model = {"concurrency_id": "model", "concurrency_limit": settings.ui_concurrency, "trigger_mode": "multiple"}
        # The box is emptied in the page as the question leaves (the server emptying it later erased a second
        # question typed meanwhile); a refused question is put back by the server.
        empty_box = ("(...args) => { const a = document.querySelector('#aimf-question textarea');"
                     " if (a) { a.value = ''; a.dispatchEvent(new Event('input', {bubbles: true})); } return args; }")
        asking = [
            question.submit(h.respond, ask_inputs, ask_outputs, api_name="ask", show_progress="hidden", js=empty_box,
                            **model),
            send.click(h.respond, ask_inputs, ask_outputs, api_visibility="private", show_progress="hidden",
                       js=empty_box, **model),
            examples.click(h.respond_example, [examples, *ask_inputs[1:]], ask_outputs, api_visibility="private",
                           show_progress="hidden", **model),
        ]
        reset_outputs = [chatbot, state, sources, question, ctx_box, status, answer_json, fb_box, fb_status]
        # A new conversation stops an answer still being written (it would land in the cleared chat).
        new_chat.click(h.new_chat, [lang], reset_outputs, api_name="new_chat", concurrency_limit=None,
                       show_progress="hidden", cancels=asking)
        # The Chatbot's own bin icon must forget the conversation too, not only hide it.
        chatbot.clear(h.new_chat, [lang], reset_outputs, api_visibility="private", concurrency_limit=None,
                      show_progress="hidden", cancels=asking)
        sources.click(h.show_passage, [state, lang], [state, sources, ctx_html, ctx_box], api_visibility="private",
                      concurrency_limit=None, show_progress="hidden")
        ctx_close.click(h.close_passage, [state, lang], [sources, ctx_box], api_visibility="private",
                        concurrency_limit=None, show_progress="hidden")
        chatbot.like(h.on_like, [state, lang], [state, fb_box, fb_vote, fb_turn, fb_status, fb_comment],
                     api_visibility="private", concurrency_limit=None, show_progress="hidden")
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
            upload_btn.click(h.upload, [upload_file, lang], [upload_status, *docs_outputs, upload_file], api_name="upload",
                             concurrency_id="model", concurrency_limit=settings.ui_concurrency)

        def relabel(lg: str, st: dict | None, table) -> list:
            lg = norm_lang(lg)
            st = st or new_state()
            shown = st.get("shown")
            record = st["turns"][shown] if shown is not None and shown < len(st["turns"]) else None
            updates = [gr.update(**{p: f(lg) for p, f in props.items()}) for _, props in labelled]
            rows = table.values.tolist() if hasattr(table, "values") else []
            said = st.get("fb_msg")  # the feedback box's last message, said again in the new language
            return [*updates, render.sources_html(record, shown if record else None, lg), gr.update(visible=False),
                    docs_frame(rows, lg), t(said[0], lg, **said[1]) if said else gr.skip()]

        lang.change(relabel, [lang, state, docs_table],
                    [c for c, _ in labelled] + [sources, ctx_box, docs_table, fb_status],
                    api_visibility="private", concurrency_limit=None, show_progress="hidden")
        # Gradio's own words (drop zone, thumbs and bin tooltips) follow the browser's language: the page's script
        # sets them to the interface language.
        lang.change(None, [lang], None, js="(lg) => { window.__aimfSetLang && window.__aimfSetLang(lg); return []; }",
                    api_visibility="private", queue=False)

    app.queue(default_concurrency_limit=settings.ui_concurrency)
    app.launch_defaults = {
        "theme": theme(),
        "css": CSS + _writer_css(h.status),
        "footer_links": [],
        "head": head_script(settings.max_question_chars),
        "max_file_size": int(settings.upload_limit_mb * 1024 * 1024),  # Gradio refuses bigger uploads itself
        "show_error": False,
    }
    app.handlers = h  # for callers that want to reach the handlers (tests, benches)
    return app
