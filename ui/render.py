"""Turn answers into what the page shows, inert by construction.

Everything here comes from documents or from a model, so nothing of it may act as markup: HTML is escaped in every
string we build, and the chat text (rendered as Markdown by the Chatbot) is escaped too, with the Markdown syntax
that would load or link something (images, links, autolinks) broken up. The only markup left is ours: the citation
markers and the cards. Pure functions, no Gradio import, so they are unit-tested directly.
"""

from __future__ import annotations

import html
import re
from typing import Any

from ui.i18n import LABELS, LANGS, t

MARKER = re.compile(r"\[(\d+)\]")
EXCERPT_CONTEXT = 180  # characters of passage shown around the quote on a card


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def inert_markdown(text: str) -> str:
    """Text shown literally by a Markdown renderer: no HTML, no image, no link, no autolink, no math."""
    text = text.replace("\\", "\\\\")
    text = html.escape(text, quote=False)
    # Brackets and parentheses escaped: no [link](…), ![image](…) or reference can form.
    text = text.replace("[", "\\[").replace("]", "\\]")
    # GFM turns bare URLs and www. names into links; an entity in the scheme separator stops it, and shows the same.
    text = re.sub(r"(?i)([a-z][a-z0-9+.-]*):(?=//)", r"\1&#58;", text)
    text = re.sub(r"(?i)\bwww\.", "www&#46;", text)
    return text.replace("$", "&#36;")


def chat_text(text: str, turn: int) -> str:
    """An answer for the Chatbot: inert text with each [n] marker as a clickable chip (class names carry turn and n,
    because the Chatbot's sanitiser keeps classes but drops data- attributes)."""
    out = []
    for i, part in enumerate(MARKER.split(text)):
        if i % 2:
            n = int(part)
            out.append(f'<sup class="aimf-marker aimf-m-{turn}-{n}" title="Source {n}">&#91;{n}&#93;</sup>')
        else:
            out.append(inert_markdown(part))
    return "".join(out)


def _fmt_score(score: float, lang: str) -> str:
    value = f"{score:.2f}"
    return value.replace(".", ",") if lang == "fr" else value


def _fmt_percent(value: float, lang: str) -> str:
    return f"{round(value * 100)}\u202f%" if lang == "fr" else f"{round(value * 100)}%"


def quote_span(passage: str, quote: str, start: int | None, end: int | None) -> tuple[int, int] | None:
    """Where the quote sits in its passage: the given offsets when they match, else a search; None if absent."""
    if start is not None and end is not None and 0 <= start < end <= len(passage) and passage[start:end] == quote:
        return start, end
    if quote:
        found = passage.find(quote)
        if found >= 0:
            return found, found + len(quote)
    return None


_BULLET = re.compile(r"^\s*(?:[-*•–]|\d+[.)])\s+")


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", MARKER.sub(" ", text)).strip()


def quoted_spans(passage: str, span: tuple[int, int] | None, answer: str) -> list[tuple[int, int]]:
    """The parts of the quote span to highlight: one span per passage sentence the answer quotes word for word, so
    that text lying between two quoted sentences is not marked; the whole span when the answer quotes none of them
    verbatim (a written answer, whose quote is the one supporting sentence)."""
    if span is None:
        return []
    from rag.text import split_sentences

    a, b = span
    said = _squash(answer)
    inside = [(max(a, s), min(b, e)) for s, e in split_sentences(passage) if s < b and e > a]
    quoted = [(s, e) for s, e in inside if _squash(_BULLET.sub("", passage[s:e])) and
              _squash(_BULLET.sub("", passage[s:e])) in said]
    if not quoted:
        return [span]
    merged: list[tuple[int, int]] = []
    for s, e in quoted:  # neighbours separated by blanks only read as one highlight
        if merged and not passage[merged[-1][1]:s].strip():
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def highlighted(passage: str, span: tuple[int, int] | list[tuple[int, int]] | None, context: int | None = None) -> str:
    """The passage (or `context` characters around the quote) escaped, with each quoted span in its own <mark>."""
    spans = [span] if isinstance(span, tuple) else list(span or [])
    if not spans:
        if context is not None and len(passage) > 2 * context:
            return esc(passage[: 2 * context].rstrip()) + "…"
        return esc(passage)
    spans.sort()
    a, b = spans[0][0], spans[-1][1]
    before, after = passage[:a], passage[b:]
    if context is not None:
        if len(before) > context:
            cut = before[-context:]
            before = "…" + cut[cut.find(" ") + 1:] if " " in cut else "…" + cut
        if len(after) > context:
            cut = after[:context]
            after = (cut[: cut.rfind(" ")] if " " in cut else cut) + "…"
    middle, pos = [], a
    for s, e in spans:
        middle.append(f"{esc(passage[pos:s])}<mark>{esc(passage[s:e])}</mark>")
        pos = e
    return f"{esc(before)}{''.join(middle)}{esc(after)}"


def citation_spans(c: dict, answer: str) -> tuple[str, list[tuple[int, int]]]:
    """(passage, spans to highlight) of one citation of an answer."""
    passage = c.get("passage") or c.get("quote", "")
    given = [(int(a), int(b)) for a, b in c.get("quote_spans") or [] if 0 <= int(a) < int(b) <= len(passage)]
    if given:  # a written answer: the spans that support its sentences, as checked
        merged: list[tuple[int, int]] = []
        for a, b in sorted(given):
            if merged and not passage[merged[-1][1]:a].strip():
                merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
            else:
                merged.append((a, b))
        return passage, merged
    if not c.get("quote"):  # nothing in the passage supports what cites it: nothing is highlighted
        return passage, []
    span = quote_span(passage, c.get("quote", ""), c.get("quote_start"), c.get("quote_end"))
    return passage, quoted_spans(passage, span, answer)


def _meta_line(item: dict, lang: str) -> str:
    parts = []
    if item.get("page"):
        parts.append(f"{t('page', lang)} {esc(item['page'])}")
    # The estimated relevance (a probability); answers recorded before it existed only have the cosine.
    estimated = item.get("relevance") is not None
    score = float(item["relevance"] if estimated else item.get("score") or 0.0)
    width = max(0, min(100, round(score * 100)))
    label, help_text = (t("relevance", lang), t("relevance_help", lang)) if estimated else (t("similarity", lang),) * 2
    value = _fmt_percent(score, lang) if estimated else _fmt_score(score, lang)
    parts.append(
        f'<span class="aimf-score" title="{esc(help_text)}">{esc(label)} {value}'
        f'<span class="aimf-meter"><span style="width:{width}%"></span></span></span>'
    )
    return " · ".join(parts)


def _card(turn: int, kind: str, idx: int, number: str, item: dict, body: str, lang: str, selected: bool) -> str:
    title = item.get("title") or item.get("source") or ""
    cls = "aimf-card aimf-selected" if selected else "aimf-card"
    return (
        f'<div class="{cls}" role="button" tabindex="0" data-turn="{turn}" data-kind="{kind}" data-idx="{idx}" '
        f'title="{esc(t("show_context", lang))}">'
        f'<div class="aimf-card-head"><span class="aimf-num">{esc(number)}</span>'
        f'<span class="aimf-card-title">{esc(title)}</span></div>'
        f'<div class="aimf-card-meta">{_meta_line(item, lang)}</div>'
        f'<blockquote class="aimf-excerpt">{body}</blockquote>'
        f'<div class="aimf-card-more">{esc(t("show_context", lang))} →</div></div>'
    )


def sources_html(record: dict | None, turn: int | None, lang: str, selected: tuple[str, int] | None = None) -> str:
    """The sources panel for one answer: a card per citation, or the abstention notice and further reading."""
    if not record or turn is None:
        return f'<div class="aimf-sources aimf-empty"><p>{esc(t("sources_empty", lang))}</p></div>'
    parts = ['<div class="aimf-sources">']
    for notice in record.get("notices") or []:
        parts.append(f'<div class="aimf-notice">{esc(notice)}</div>')
    if record.get("abstained"):
        parts.append(
            f'<div class="aimf-abstain"><strong>{esc(t("abstained_title", lang))}</strong>'
            f'<p>{esc(t("abstained_body", lang))}</p></div>'
        )
    for i, c in enumerate(record.get("citations") or []):
        passage, spans = citation_spans(c, record.get("text", ""))
        body = highlighted(passage, spans, EXCERPT_CONTEXT)
        parts.append(_card(turn, "c", i, str(c.get("n", i + 1)), c, body, lang, selected == ("c", i)))
    further = record.get("further") or []
    if further:
        heading = t("further", lang) if record.get("abstained") else t("also_retrieved", lang)
        cards = [
            _card(turn, "f", i, "+", p, highlighted(p.get("text", ""), None, EXCERPT_CONTEXT), lang, selected == ("f", i))
            for i, p in enumerate(further)
        ]
        if record.get("abstained"):
            parts.append(f'<h4 class="aimf-further">{esc(heading)}</h4>' + "".join(cards))
        else:
            parts.append(f'<details class="aimf-further"><summary>{esc(heading)} ({len(cards)})</summary>{"".join(cards)}</details>')
    if record.get("generator"):
        parts.append(f'<div class="aimf-writer">{esc(writer_line(record["generator"], lang))}</div>')
    parts.append("</div>")
    return "".join(parts)


def writer_line(generator: str, lang: str) -> str:
    """Who wrote the answer, in plain words."""
    key = f"written_{generator}"
    return t(key, lang) if key in LABELS else t("written_other", lang, name=generator)


def lang_note(record: dict) -> str:
    """One line in the question's language when every cited passage is in another language ("Answer quoted from
    French documents"); "" otherwise."""
    asked = record.get("lang") or ""
    langs = {c.get("lang") for c in record.get("citations") or []}
    if asked not in LANGS or len(langs) != 1:
        return ""
    (doc_lang,) = langs
    if doc_lang not in LANGS or doc_lang == asked:
        return ""
    key = "lang_note_quoted" if record.get("generator") == "extractive" else "lang_note_based"
    return t(key, asked, doc_lang=t(f"lang_name_{doc_lang}", asked))


def _badge(sentence: dict, lang: str) -> str:
    why = sentence.get("detail") or t("unsupported_help", lang)
    return f' <span class="aimf-unsupported" title="{esc(why)}">⚠ {esc(t("unsupported", lang))}</span>'


def answer_html(record: dict, turn: int) -> str:
    """The answer as the chat shows it: its text with clickable markers, a visible badge after each sentence the cited
    passages do not support (written answers), and the language note under it."""
    note = lang_note(record)
    text, lang = record.get("text", ""), record.get("lang") or "fr"
    flagged = sorted((s for s in record.get("sentences") or []
                      if not s.get("supported", True) and not s.get("removed") and 0 <= s.get("start", -1) < s.get("end", -1) <= len(text)),
                     key=lambda s: s["start"])
    parts, pos = [], 0
    for s in flagged:
        if s["start"] < pos:
            continue
        parts.append(chat_text(text[pos:s["end"]], turn) + _badge(s, lang))
        pos = s["end"]
    parts.append(chat_text(text[pos:], turn))
    body = "".join(parts)
    return body + (f'\n\n<em class="aimf-lang-note">{esc(note)}</em>' if note else "")


def searching_html(lang: str) -> str:
    return f'<div class="aimf-sources aimf-empty"><p class="aimf-pulse">{esc(t("searching", lang))}</p></div>'


def passage_offsets(record: dict, kind: str, idx: int) -> tuple[str, int, int] | None:
    """(source, start, end) of a passage shown in the panel, as offsets into its document's text."""
    items = record.get("citations" if kind == "c" else "further") or []
    if not 0 <= idx < len(items):
        return None
    item = items[idx]
    if kind == "c":
        passage = item.get("passage") or item.get("quote", "")
        start = int(item.get("start") or 0) - int(item.get("quote_start") or 0)
        return item.get("source", ""), max(0, start), max(0, start) + len(passage)
    return item.get("source", ""), int(item.get("start") or 0), int(item.get("start") or 0) + len(item.get("text", ""))


def context_html(record: dict, kind: str, idx: int, lang: str, around: tuple[str, str] = ("", "")) -> str:
    """One passage whole, the quote highlighted, with the document's text around it (``around``: before, after)
    shown subdued, and where it comes from (file, page, section, offsets)."""
    items = record.get("citations" if kind == "c" else "further") or []
    if not 0 <= idx < len(items):
        return ""
    item = items[idx]
    if kind == "c":
        passage, span = citation_spans(item, record.get("text", ""))
        number = f"[{item.get('n', idx + 1)}] "
    else:
        passage, span, number = item.get("text", ""), None, ""
    before, after = around
    before = f'<span class="aimf-around">…{esc(before)}</span>\n' if before.strip() else ""
    after = f'\n<span class="aimf-around">{esc(after)}…</span>' if after.strip() else ""
    meta = [f"{esc(t('file', lang))} : {esc(item.get('source', ''))}" if lang == "fr"
            else f"{esc(t('file', lang))}: {esc(item.get('source', ''))}"]
    if item.get("page"):
        meta.append(f"{esc(t('page', lang))} {esc(item['page'])}")
    if item.get("section") and item.get("section") != item.get("title"):
        meta.append(f"{esc(t('section', lang))} : {esc(item['section'])}" if lang == "fr"
                    else f"{esc(t('section', lang))}: {esc(item['section'])}")
    if item.get("end"):
        meta.append(f"{esc(t('chars', lang))} {esc(item.get('start', 0))}–{esc(item['end'])}")
    return (
        f'<div class="aimf-context"><div class="aimf-context-head">{esc(t("context_title", lang))}</div>'
        f'<div class="aimf-context-title">{esc(number)}{esc(item.get("title") or item.get("source", ""))}</div>'
        f'<div class="aimf-context-meta">{" · ".join(meta)}</div>'
        f'<div class="aimf-context-text">{before}<span class="aimf-passage">{highlighted(passage, span)}</span>{after}'
        f'</div></div>'
    )
