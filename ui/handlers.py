"""The chat page's event handlers, apart from the layout so they can be called (and tested) directly.

Per-session state (``gr.State``) keeps one record per answered turn (question, answer text, citations, further
reading, writer): the history sent back to the assistant, the sources panel and the feedback rows are built from it.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from rag.answer import Answer  # noqa: E402
from rag.assistant import Assistant, QuestionError, StreamReset  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.store import IndexMismatchError, IndexMissingError, IndexUnavailableError  # noqa: E402
from ui import render  # noqa: E402
from ui.documents import UploadError, accept_upload, document_rows, ingest_upload  # noqa: E402
from ui.feedback import CommentTooLong, FeedbackStore  # noqa: E402
from ui.i18n import human_reason, norm_lang, t  # noqa: E402

log = logging.getLogger("aimf.ui")

# Questions the bundled speech answers (and one it does not, to show an honest abstention).
EXAMPLES = [
    "Quelle ville préside la commission « Villes innovantes » ?",
    "Quels projets pilotes l'AIMF soutient-elle ?",
    "Quel projet est mené à Cotonou ?",
    "Qui modère les tables rondes ?",
    "Quel est le budget du Pôle numérique de Cotonou ?",
]
WRITERS = ("extractive", "llamacpp", "openai")


def new_state() -> dict[str, Any]:
    # turns: one record per answer; feedback: turn -> feedback row id; votes: turn -> vote; shown: the turn the
    # sources panel shows; conv: this conversation's id (a new conversation gets a new one); fb_msg: the feedback
    # box's last message (key, values), so that it follows the interface language
    return {"turns": [], "feedback": {}, "votes": {}, "shown": None, "conv": uuid.uuid4().hex, "fb_msg": None}


def _citation_langs(answer: Answer) -> list[str]:
    """Each citation's passage language, from the retrieved passages' metadata (guessed from the quote otherwise)."""
    from rag.lang import detect_lang

    known = {p.chunk_id: p.lang for p in answer.retrieved if p.lang}
    return [known.get(c.chunk_id) or detect_lang(c.passage or c.quote) for c in answer.citations]


def answer_record(answer: Answer, msg_index: int) -> dict[str, Any]:
    """What the page keeps of an answer (JSON-safe; also the hidden JSON output API clients read)."""
    return {
        "question": answer.question,
        "standalone_question": answer.standalone_question,
        "text": answer.text,
        "abstained": answer.abstained,
        "citations": [{**c.model_dump(), "lang": lang} for c, lang in zip(answer.citations, _citation_langs(answer))],
        "further": [p.model_dump(exclude={"rank_score"}) for p in answer.further],
        "notices": list(answer.notices),
        "sentences": [s.model_dump() for s in getattr(answer, "sentences", None) or []],
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
            reason = human_reason(status[name], lang)
            label += f" — {t('unavailable', lang)} : {reason}" if lang == "fr" else f" — {t('unavailable', lang)}: {reason}"
        choices.append((label, name))
    return choices


class _Session:
    """One browser session's conversation as last written by the server. Two questions sent a few milliseconds apart
    both start from the chat the page held before either was answered: the second waits for the first (one answer
    at a time per session) and continues from what the first wrote, instead of overwriting it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.chat: list | None = None
        self.state: dict | None = None

    def latest(self, chat: list, state: dict) -> tuple[list, dict]:
        # The page sends the chat it showed when the question left (perhaps a placeholder where an answer now
        # stands), while gr.State is read on the server when the answer starts: within one conversation, what the
        # server wrote last is the conversation.
        saved = self.state
        if saved is None or saved.get("conv") != state.get("conv") or len(saved["turns"]) < len(state["turns"]):
            return chat, state
        merged = copy.deepcopy(saved)
        for key in ("feedback", "votes"):  # votes cast on the page meanwhile are kept
            merged[key] = {**merged.get(key, {}), **state.get(key, {})}
        return copy.deepcopy(self.chat or []), merged

    def save(self, chat: list, state: dict) -> None:
        self.chat, self.state = copy.deepcopy(chat), copy.deepcopy(state)


class Handlers:
    """The page's event handlers, separate from the layout so they can be called (and tested) directly."""

    MAX_SESSIONS = 2000  # conversations remembered for the double-send case (least recently used dropped)

    def __init__(self, assistant: Assistant, settings: Settings, feedback: FeedbackStore | None = None):
        self.assistant = assistant
        self.settings = settings
        self.feedback = feedback or FeedbackStore.from_settings(settings)
        self.status = assistant.generator_status()
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._sessions_lock = threading.Lock()

    def _session(self, request: gr.Request | None) -> _Session:
        key = getattr(request, "session_hash", None) or ""
        with self._sessions_lock:
            session = self._sessions.pop(key, None) or _Session()
            self._sessions[key] = session
            while len(self._sessions) > self.MAX_SESSIONS:
                self._sessions.popitem(last=False)
            return session

    # --- chat ---------------------------------------------------------------------------------------------------
    def respond(self, question: str, chat: list | None, state: dict | None, writer: str | None, k: float | None,
                doc_filter: list[str] | None, lang: str | None, request: gr.Request = None) -> Iterator[tuple]:
        """Stream one answer. Yields (chat, state, sources, question box, context box, status, answer JSON)."""
        session = self._session(request)
        with session.lock:  # released when the answer ends, fails or is cancelled (the generator is closed)
            chat, state = session.latest(list(chat or []), copy.deepcopy(state) if state else new_state())
            for out in self._respond(question, chat, state, writer, k, doc_filter, norm_lang(lang)):
                yield out
            session.save(chat, state)  # _respond updates both in place

    def _respond(self, question: str, chat: list, state: dict, writer: str | None, k: float | None,
                 doc_filter: list[str] | None, lang: str) -> Iterator[tuple]:
        asked = question
        try:
            question = self.assistant.validate(question)
        except QuestionError as exc:
            gr.Warning(str(exc))
            # the page emptied the box when the question left: it is put back, to be shortened
            yield chat, state, gr.skip(), asked or "", gr.skip(), render.inert_markdown(str(exc)), gr.skip()
            return
        turn = len(state["turns"])
        history = [m for r in state["turns"] for m in ({"role": "user", "content": r["question"]},
                                                       {"role": "assistant", "content": r["text"]})]
        chat += [{"role": "user", "content": render.inert_markdown(question)},
                 {"role": "assistant", "content": f"*{t('searching', lang)}*"}]
        hide = gr.update(visible=False)
        yield chat, state, render.searching_html(lang), gr.skip(), hide, "", None
        name = writer if writer in self.status and self.status[writer] is None else "extractive"
        text, final = "", None
        try:
            for piece in self.assistant.answer_stream(question, history=history, generator=name,
                                                      k=int(k) if k else None, where=where_filter(doc_filter)):
                if isinstance(piece, Answer):
                    final = piece
                elif isinstance(piece, StreamReset):  # the writer withdrew what it had streamed
                    text = ""
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
        chat[-1] = {"role": "assistant", "content": render.answer_html(record, turn)}
        yield chat, state, render.sources_html(record, turn, lang), gr.skip(), gr.skip(), "", record

    def _failed(self, chat: list, state: dict, message: str, lang: str) -> Iterator[tuple]:
        chat[-1] = {"role": "assistant", "content": "⚠️ " + render.inert_markdown(message)}
        state["shown"] = None
        yield chat, state, render.sources_html(None, None, lang), gr.skip(), gr.skip(), render.inert_markdown(message), None

    def respond_example(self, sample: list | str, chat, state, writer, k, doc_filter, lang,
                        request: gr.Request = None) -> Iterator[tuple]:
        question = sample[0] if isinstance(sample, (list, tuple)) else sample
        yield from self.respond(question, chat, state, writer, k, doc_filter, lang, request)

    def new_chat(self, lang: str | None, request: gr.Request = None) -> tuple:
        state = new_state()
        self._session(request).save([], state)
        return ([], state, render.sources_html(None, None, norm_lang(lang)), "", gr.update(visible=False), "",
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
        body = render.context_html(record, kind, idx, lang, self._around(record, kind, idx))
        if not body:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        state = {**state, "shown": turn}
        return state, render.sources_html(record, turn, lang, selected=(kind, idx)), body, gr.update(visible=True)

    def _around(self, record: dict, kind: str, idx: int) -> tuple[str, str]:
        """The document's text before and after the passage, read from the index; nothing when it cannot be read
        (the passage alone is still worth showing)."""
        where = render.passage_offsets(record, kind, idx)
        if not where or not where[0]:
            return "", ""
        try:
            return self.assistant.surroundings(*where)
        except Exception:  # index unreachable, or a document re-indexed since the answer
            log.warning("text around %s unavailable", where[0], exc_info=True)
            return "", ""

    def close_passage(self, state: dict | None, lang: str | None) -> tuple:
        state = state or new_state()
        turn = state.get("shown")
        record = state["turns"][turn] if turn is not None and turn < len(state["turns"]) else None
        return render.sources_html(record, turn, norm_lang(lang)), gr.update(visible=False)

    # --- feedback -----------------------------------------------------------------------------------------------
    @staticmethod
    def _said(state: dict, key: str, lang: str, **values) -> str:
        state["fb_msg"] = [key, values]
        return t(key, lang, **values)

    def on_like(self, state: dict | None, lang: str | None, like: gr.LikeData) -> tuple:
        """A thumb under an answer: recorded at once; the comment box opens for that answer. Turning a vote round
        drops the comment written for the other vote (a complaint does not stay attached to a thumbs-up)."""
        lang = norm_lang(lang)
        state = copy.deepcopy(state) if state else new_state()
        state.setdefault("votes", {})
        index = like.index[0] if isinstance(like.index, (list, tuple)) else like.index
        turn = next((i for i, r in enumerate(state["turns"]) if r["msg_index"] == index), None)
        if turn is None:
            return state, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        vote = {True: "up", False: "down"}.get(like.liked) if isinstance(like.liked, bool) else None
        row = state["feedback"].get(str(turn))
        previous = state["votes"].get(str(turn))
        if vote is None:  # the thumb was clicked again: the vote is withdrawn
            if row:
                self.feedback.delete(row)
                state["feedback"].pop(str(turn), None)
            state["votes"].pop(str(turn), None)
            return (state, gr.update(visible=False), gr.skip(), gr.skip(), self._said(state, "feedback_removed", lang),
                    "")
        turned = previous is not None and previous != vote
        if row:
            self.feedback.update(row, vote=vote, comment="" if turned else None)
        else:
            state["feedback"][str(turn)] = self.feedback.record(vote, state["turns"][turn])
        state["votes"][str(turn)] = vote
        return (state, gr.update(visible=True), vote, turn, self._said(state, "feedback_saved", lang),
                "" if turned else gr.skip())

    def send_feedback(self, vote: str | None, comment: str | None, turn: float | None, state: dict | None,
                      lang: str | None) -> tuple:
        """Vote and optional comment about one answer (the last one when ``turn`` is empty). API: ``/feedback``."""
        lang = norm_lang(lang)
        state = copy.deepcopy(state) if state else new_state()
        state.setdefault("votes", {})
        if not state["turns"]:
            return state, t("feedback_nothing", lang), gr.skip()
        turn = int(turn) if turn is not None and 0 <= int(turn) < len(state["turns"]) else len(state["turns"]) - 1
        vote = vote if vote in ("up", "down") else "up"
        comment = (comment or "").strip()
        limit = self.settings.feedback_max_comment_chars
        if len(comment) > limit:  # said, not cut: the comment stays in the box to be shortened
            return state, self._said(state, "comment_too_long", lang, n=len(comment), max=limit), gr.skip()
        row = state["feedback"].get(str(turn))
        try:
            if not (row and self.feedback.update(row, vote=vote, comment=comment)):
                state["feedback"][str(turn)] = self.feedback.record(vote, state["turns"][turn], comment)
        except CommentTooLong:  # a store configured with a lower limit than the settings
            return state, self._said(state, "comment_too_long", lang, n=len(comment), max=limit), gr.skip()
        state["votes"][str(turn)] = vote
        return state, self._said(state, "comment_saved" if comment else "feedback_saved", lang), ""

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
            return docs_frame([], lang), gr.update(choices=[]), render.inert_markdown(str(exc))
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
            dest = accept_upload(path, path.name, self.settings.corpus_dir, self.settings.upload_limit_mb, lang)
        except UploadError as exc:
            return ("⚠️ " + render.inert_markdown(str(exc)), gr.skip(), gr.skip(), gr.skip(), None)
        ok, message = ingest_upload(dest, self.settings, self.assistant, lang)
        return (("✅ " if ok else "⚠️ ") + render.inert_markdown(message), *self.documents(lang), None)
