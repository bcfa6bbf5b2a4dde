"""Training examples for the span reader from the project's own question sets (gold JSONL groups).

PIAF teaches the reader Wikipedia; these teach it the association's documents: amounts, dates, posts, programme
names, and above all questions the documents do NOT answer although a passage about the same thing is retrieved
(the real near-misses, which swapped names only imitate). Each question is put to the real retriever over the
indexed corpus (one search for the whole question; the assistant also searches each part of a two-part question):
- answerable: the retrieved passage that holds an evidence phrase, with the answer's characters in it (the
  reference itself when the passage holds it, else its key terms inside the evidence); plus one retrieved passage
  holding neither (no answer);
- unanswerable: its two best retrieved passages, each with no answer;
- optionally, for each answerable question, a near-miss made from it (an entity, a year or an amount swapped for
  another one of the corpus that the answering passage never mentions) with that passage: no answer. These are
  the association's own near-misses ("… à Hué en 2019" read against the passage about Hué in 2025).
A question whose answer cannot be placed in a passage gives no example (counted, not guessed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from evals.dataset import GoldQuestion
from evals.reader_data import Example

# Longest answer placed by its key terms, in characters: a few words, as a reader's answer (rag.reader).
MAX_ANSWER_CHARS = 120
NEGATIVES_PER_UNANSWERABLE = 2

Search = Callable[[str], list[tuple[str, str]]]  # question -> retrieved (title, text), best first
NearMiss = Callable[[str, str], str | None]  # (question, passage it must not be answered from) -> near-miss or None


def phrase_pattern(phrase: str) -> re.Pattern:
    """The phrase found whatever its case, spacing (non-breaking spaces too) and apostrophes."""
    words = ["".join("['’]" if ch in "'’" else re.escape(ch) for ch in w) for w in phrase.split()]
    return re.compile(r"[\s\u00a0\u202f]+".join(words), re.IGNORECASE)


def find(phrase: str, text: str) -> tuple[int, int] | None:
    m = phrase_pattern(phrase).search(text) if phrase.strip() else None
    return (m.start(), m.end()) if m else None


def answer_span(q: GoldQuestion, text: str) -> tuple[int, int] | None:
    """Where the passage answers the question: the reference itself, else the key terms inside an evidence phrase
    (from the first to the last, when that is short), else the first key term there; None when it does not."""
    regions = [r for r in (find(e, text) for e in q.evidence) if r]
    if not regions:
        return None
    if len(q.answer) <= MAX_ANSWER_CHARS:
        # the reference inside an evidence phrase ("… se trouve à Paris"), else anywhere in the passage
        inside = next(((lo + m[0], lo + m[1]) for lo, hi in regions if (m := find(q.answer, text[lo:hi]))), None)
        whole = inside or find(q.answer, text)
        if whole:
            return whole
    for lo, hi in regions:
        # "Vingt|20": a key term's alternatives, the first one found counts
        found = sorted(m for m in (next(filter(None, (find(alt, text[lo:hi]) for alt in k.split("|"))), None)
                                   for k in q.key_terms) if m)
        if not found:
            continue
        a, b = found[0][0], max(end for _, end in found)
        if b - a > MAX_ANSWER_CHARS:
            a, b = found[0]
        return lo + a, lo + b
    return None


@dataclass
class GoldStats:
    questions: int = 0
    placed: int = 0  # answerable questions whose answer was placed in a retrieved passage
    unplaced: int = 0
    unanswerable: int = 0
    near_misses: int = 0


def gold_examples(questions: Iterable[GoldQuestion], search: Search, stats: GoldStats | None = None,
                  near_miss: NearMiss | None = None) -> list[Example]:
    stats = stats if stats is not None else GoldStats()
    out: list[Example] = []
    for q in questions:
        stats.questions += 1
        passages = search(q.question)
        if not q.answerable:
            stats.unanswerable += 1
            out += [Example(q.question, title, text, None, None) for title, text in passages[:NEGATIVES_PER_UNANSWERABLE]]
            continue
        placed = next(((title, text, span) for title, text in passages if (span := answer_span(q, text))), None)
        if placed is None:
            stats.unplaced += 1
            continue
        stats.placed += 1
        title, text, (a, b) = placed
        out.append(Example(q.question, title, text, a, text[a:b]))
        near = near_miss(q.question, f"{title} {text}") if near_miss else None
        if near:
            stats.near_misses += 1
            out.append(Example(near, title, text, None, None))
        marks = [m for m in (q.answer, *q.evidence, *(alt for k in q.key_terms for alt in k.split("|"))) if m.strip()]
        other = next(((t, x) for t, x in passages if not any(find(m, x) for m in marks)), None)
        if other is not None:
            out.append(Example(q.question, other[0], other[1], None, None))
    return out
