"""Citation checking, shared by every answer writer.

A writer's text refers to passages with markers [n] (n = the passage's 1-based position in the list it was
given). Here markers are validated (those matching no passage are removed and reported), renumbered in order of
first use, and each cited passage gets the exact sentence(s) supporting the claim as its quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.answer import Citation, Passage
from rag.text import split_sentences, tokens

# [1]  [1, 2]  [1,2]  [1;2]  [1-2] ; also full-width (［1］), lenticular (【1】) or doubled brackets small models emit.
_OPEN, _CLOSE = r"\[【［", r"\]】］"  # character-class contents
MARKER = re.compile(rf"\s?[{_OPEN}]{{1,2}}\s*(\d+(?:\s*[,;–-]\s*\d+)*)\s*[{_CLOSE}]{{1,2}}")
# A marker cut off at the very end of the text (a writer stopped by max_tokens): "… Nantes [1" or "… [".
TRUNCATED = re.compile(rf"\s?[{_OPEN}]{{1,2}}\s*(\d+(?:\s*[,;–-]\s*\d*)*)?[\s,;–-]*$")
# The end of a streamed buffer that may still become (or extend) a marker: hold it until the next piece.
PENDING = re.compile(rf"\s*(?:[{_OPEN}]{{1,2}}\s*(?:\d+(?:\s*[,;–-]\s*\d*)*)?\s*[{_CLOSE}]?)?$")


# Bracketed numbers that are part of a document ("[2]" footnotes, "[2019]"): the same shape as a marker.
_IN_DOCUMENT = re.compile(rf"[{_OPEN}]{{1,2}}\s*\d+(?:\s*[,;–-]\s*\d+)*\s*[{_CLOSE}]{{1,2}}")
_TO_PARENS = str.maketrans({c: "(" for c in "[【［"} | {c: ")" for c in "]】］"})


def neutralise_markers(text: str) -> str:
    """A document's own bracketed numbers in parentheses ("[2]" -> "(2)"), so they never read as citations: in
    passages (hence in extractive answers) and in the prompt. Same length, so every offset still holds."""
    return _IN_DOCUMENT.sub(lambda m: m.group(0).translate(_TO_PARENS), text)


@dataclass
class Checked:
    text: str
    citations: list[Citation]
    removed_markers: list[int]
    cited: dict[int, int] = field(default_factory=dict)  # citation number -> passage index (0-based)


def _expand(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group):
        if re.search(r"[–-]", part):
            a, b = (int(x) for x in re.split(r"\s*[–-]\s*", part)[:2])
            out += list(range(a, b + 1)) if 0 < b - a < 10 else [a, b]
        elif part:
            out.append(int(part))
    return out


class MarkerNumbering:
    """Passage markers -> citation numbers, in order of first use. One instance sees the text from start to end;
    ``check_citations`` and the streaming renumberer both go through it, so they always agree."""

    def __init__(self, n_passages: int) -> None:
        self.n_passages = n_passages
        self.renumber: dict[int, int] = {}  # passage index (0-based) -> citation number
        self.removed: list[int] = []  # marker numbers that match no passage

    def replace(self, m: re.Match) -> tuple[str, list[int]]:
        """The text replacing marker match ``m`` (renumbered, or "" when it cites nothing valid), and the passage
        indexes this marker cites for the first time."""
        numbers: list[int] = []
        first: list[int] = []
        for n in _expand(m.group(1)):
            if 1 <= n <= self.n_passages:
                idx = n - 1
                if idx not in self.renumber:
                    self.renumber[idx] = len(self.renumber) + 1
                    first.append(idx)
                if self.renumber[idx] not in numbers:
                    numbers.append(self.renumber[idx])
            else:
                self.removed.append(n)
        return (" " + "".join(f"[{n}]" for n in numbers) if numbers else ""), first

    def sub(self, text: str) -> str:
        return MARKER.sub(lambda m: self.replace(m)[0], text)

    def drop_truncated(self, text: str) -> str:
        """Remove a marker cut off at the end of the text, reporting the numbers it held."""
        m = TRUNCATED.search(text)
        if not m:
            return text
        self.removed += [int(d) for d in re.findall(r"\d+", m.group(0))]
        return text[: m.start()]


def check_citations(
    text: str, passages: list[Passage], quotes: dict[int, tuple[int, int]] | None = None
) -> Checked:
    """Validate and renumber markers; ``quotes`` may give, per passage index (0-based), the quote's span inside
    the passage (the extractive writer knows it). Otherwise the quote is the passage sentence that best matches
    the claim the marker closes."""
    numbering = MarkerNumbering(len(passages))
    text = numbering.drop_truncated(text)
    claim_for: dict[int, str] = {}
    pieces: list[str] = []
    last = 0
    for m in MARKER.finditer(text):
        pieces.append(text[last : m.start()])
        last = m.end()
        replacement, first = numbering.replace(m)
        for idx in first:
            claim_for[idx] = _claim_before(text, m.start())
        pieces.append(replacement)
    pieces.append(text[last:])
    clean = tidy("".join(pieces))
    citations = []
    for idx, n in sorted(numbering.renumber.items(), key=lambda kv: kv[1]):
        p = passages[idx]
        qs, qe = (quotes or {}).get(idx) or best_sentence(p.text, claim_for.get(idx, "")) or (0, 0)
        citations.append(
            Citation(
                n=n, source=p.source, title=p.title, page=p.page, quote=p.text[qs:qe], start=p.start + qs,
                end=p.start + qe, score=round(p.score, 4), relevance=p.relevance, chunk_id=p.chunk_id, section=p.section,
                passage=p.text, quote_start=qs, quote_end=qe,
            )
        )
    return Checked(clean, citations, numbering.removed, {n: idx for idx, n in numbering.renumber.items()})


def best_sentence(passage: str, claim: str) -> tuple[int, int] | None:
    """Span of the passage sentence sharing the most (stemmed) words with the claim; None when none shares any
    (a quote that shares no word with the claim would show as evidence what is not)."""
    spans = split_sentences(passage) or [(0, len(passage))]
    want = set(tokens(claim))
    best = max(spans, key=lambda s: (len(want & set(tokens(passage[s[0] : s[1]]))), -s[0]))
    return best if want & set(tokens(passage[best[0] : best[1]])) else None


def _claim_before(text: str, pos: int) -> str:
    """The sentence a marker closes: text from the previous sentence end (or marker) to the marker."""
    head = MARKER.sub(" ", text[:pos])
    parts = re.split(r"(?<=[.!?])\s+|\n", head)
    return parts[-1] if parts[-1].strip() else (parts[-2] if len(parts) > 1 else "")


def tidy(text: str) -> str:
    text = re.sub(r"[ \t]+([.,;:!?])", lambda m: m.group(1) if m.group(1) in ".," else " " + m.group(1), text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"\[\s*\]", "", text)
    return text.strip()


def markers_in(text: str) -> list[int]:
    return [n for m in MARKER.finditer(text) for n in _expand(m.group(1))]
