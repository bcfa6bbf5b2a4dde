"""Follow-up questions made standalone before retrieval.

"Et à Tunis ?" after "Quel projet l'AIMF soutient-elle à Cotonou ?" becomes "Quel projet l'AIMF soutient-elle à
Tunis ?"; "Qui la préside ?" after a question about the commission borrows that question's subject. A question
that already stands alone is returned unchanged. An LLM rewrite (when one is configured) goes through
``llm_rewrite``; the rules below are the deterministic fallback.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

from rag.question import QUOTED_TITLE
from rag.text import fold, tokens

_CONTINUATION = re.compile(r"^\s*(et|mais|puis|ensuite|aussi|and|but|what about|how about|also)\b[\s,]*", re.I)
# Words that refer to something named earlier wherever they stand: subject and stressed pronouns, possessives,
# demonstratives.
_PRONOUN = re.compile(
    r"\b(il|elle|ils|elles|lui|leur|leurs|son|sa|ses|celui-ci|celle-ci|ceux-ci|celles-ci|celui|celle|"
    r"ce projet|cette ville|cette commission|ce document|ce réseau|"
    r"he|she|it|they|them|his|her|its|their|this|that|these|those)\b", re.I,
)
# le / la / les / l' / en / y are object pronouns only before the verb ("Qui la préside ?", "Qu'en pense-t-il ?",
# "Qui y participe ?"); elsewhere they are articles and prepositions ("Quel est le rôle de …", "… en Asie").
_CLITIC = re.compile(
    r"^\s*(?:qui|que|qu['’]|comment|pourquoi|combien|où|quand|est-ce\s+qu['’]\w*)\s*(?:ne\s+|n['’])?"
    r"(?:le|la|les|l['’]|en|y)\b", re.I,
)
# Impersonal "il": "il y a", "y a-t-il", "s'agit-il", "faut-il" refer to nothing earlier.
_IMPERSONAL = re.compile(r"\bil y a(?:vait)?\b|\by a-t-il\b|\b(?:s['’]agit|faut|reste)-(?:t-)?il\b", re.I)
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
    if len(content) <= 3 and (_PRONOUN.search(_IMPERSONAL.sub(" ", _strip_question_word(q))) or _CLITIC.match(q)):
        return True
    return len(content) <= 1 and not _PROPER.search(q)  # "Qui est Vallier ?" stands alone


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
        if _QUESTION_START.match(rest) and not needs_context(rest):
            # "Et quel projet est mené à Cotonou ?" is a whole question once its "Et" is dropped
            return f"{rest[:1].upper()}{rest[1:]} ?"
        new_names = _PROPER.findall(rest)
        # a capitalised word inside a quoted title is part of the title, not a name to swap
        old_names = _PROPER.findall(QUOTED_TITLE.sub(" ", last))
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
        previous = history_questions(history)
        try:
            rewritten = llm_rewrite(question, previous)
        except Exception:  # an unavailable model must not block the question
            rewritten = None
        if rewritten and acceptable_rewrite(rewritten.strip(), question, previous):
            return rewritten.strip()
    return rule_rewrite(question, history)


def acceptable_rewrite(rewritten: str, question: str, previous: list[str]) -> bool:
    """Whether a model's rewrite can replace the follow-up: it stands alone, keeps the names and numbers the
    follow-up adds ("Et à Tunis ?" -> must still say Tunis), and is not merely an earlier question repeated."""
    if not rewritten or needs_context(rewritten):
        return False
    if fold(rewritten).strip(" ?") in {fold(q).strip(" ?") for q in previous}:
        return False
    kept = fold(rewritten)
    added = _PROPER.findall(question) + re.findall(r"\d+", question)
    return all(fold(a) in kept for a in added)
