"""Follow-up questions made standalone before retrieval.

"Et à Tunis ?" after "Quel projet l'AIMF soutient-elle à Cotonou ?" becomes "Quel projet l'AIMF soutient-elle à
Tunis ?"; "Qui la préside ?" after a question about the commission borrows that question's subject. A question
that already stands alone is returned unchanged. An LLM rewrite (when one is configured) goes through
``llm_rewrite``; the rules below are the deterministic fallback.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

from rag.text import tokens

_CONTINUATION = re.compile(r"^\s*(et|mais|puis|ensuite|aussi|and|but|what about|how about|also)\b[\s,]*", re.I)
_PRONOUN = re.compile(
    r"\b(il|elle|ils|elles|le|la|les|lui|leur|leurs|son|sa|ses|celui-ci|celle-ci|ceux-ci|celui|celle|"
    r"ce projet|cette ville|cette commission|ce document|ce réseau|y|en|"
    r"he|she|it|they|them|his|her|its|their|this|that|these|those)\b", re.I,
)
_QUESTION_START = re.compile(
    r"^\s*(qui|que|quoi|quel|quelle|quels|quelles|comment|pourquoi|combien|où|quand|est-ce|who|what|which|how|why|"
    r"when|where|is|are|does|do|did)\b", re.I,
)
_PROPER = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-ZÀ-ÖØ-Þ][\w'’-]+(?:\s+[A-ZÀ-ÖØ-Þ][\w'’-]+)*)")


def history_questions(history: Iterable) -> list[str]:
    """User turns from a history in messages format ({role, content}) or as (user, assistant) pairs."""
    out: list[str] = []
    for turn in history or []:
        if isinstance(turn, dict):
            if turn.get("role") == "user":
                out.append(_content_text(turn.get("content")))
        elif isinstance(turn, (list, tuple)) and turn:
            out.append(_content_text(turn[0]))
    return [q for q in out if q.strip()]


def _content_text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # Gradio's list of parts
        return " ".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return str(content or "")


def needs_context(question: str) -> bool:
    q = question.strip()
    content = tokens(q)
    if _CONTINUATION.match(q):
        return True
    if len(content) <= 3 and _PRONOUN.search(_strip_question_word(q)):
        return True
    return len(content) <= 1


def _strip_question_word(q: str) -> str:
    return _QUESTION_START.sub("", q, count=1)


def rule_rewrite(question: str, history: Iterable) -> str:
    previous = history_questions(history)
    if not previous or not needs_context(question):
        return question
    last = previous[-1].strip()
    m = _CONTINUATION.match(question)
    if m:
        rest = question[m.end():].strip().rstrip(" ?").strip()
        new_names = _PROPER.findall(rest)
        old_names = _PROPER.findall(last)
        if new_names and old_names:
            # Same question about another place or person: swap the last named entity.
            return _replace_last(last, old_names[-1], new_names[-1])
        return f"{last.rstrip(' ?')} — {rest} ?"
    return f"{question.rstrip(' ?')} ({last.rstrip(' ?')}) ?"


def _replace_last(text: str, old: str, new: str) -> str:
    i = text.rfind(old)
    return text[:i] + new + text[i + len(old):]


def rewrite(question: str, history: Iterable | None, llm_rewrite: Callable[[str, list[str]], str | None] | None = None) -> str:
    history = list(history or [])
    if not history or not needs_context(question):
        return question
    if llm_rewrite is not None:
        try:
            rewritten = llm_rewrite(question, history_questions(history))
            if rewritten and rewritten.strip():
                return rewritten.strip()
        except Exception:  # an unavailable model must not block the question
            pass
    return rule_rewrite(question, history)
