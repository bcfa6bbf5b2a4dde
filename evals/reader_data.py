"""Training and evaluation data for the span reader (rag/reader.py), from a SQuAD-format file (PIAF).

Each question gives three examples: its paragraph with the answer's characters (a span to find); another paragraph
of the same article that does not hold the answer text (no answer); and a near-miss question, made by swapping an
entity, a year or an amount of the question for another one found elsewhere in the file (and absent from the
article), with the question's own paragraph (no answer): the reader must learn that a paragraph about Dakar does
not answer a question about Abidjan. Articles are split by the parity of their index, so that measuring never
sees an article trained on.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from evals.squad import PARITY
from rag.text import fold, normalize_for_match, split_sentences


@dataclass
class Question:
    text: str
    paragraph: int
    start: int  # the first answer's character offset in its paragraph
    answers: list[str]


@dataclass
class Article:
    title: str
    paragraphs: list[str]
    questions: list[Question] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.paragraphs)


def load_squad_articles(path: Path) -> list[Article]:
    """Articles, their paragraphs and questions; an answer is located by its text near its offset (a few offsets
    of the dataset are one character off)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    articles = []
    for raw in data["data"]:
        article = Article(str(raw.get("title", "")).replace("_", " "), [])
        for para in raw.get("paragraphs", []):
            ctx = para["context"]
            p = len(article.paragraphs)
            article.paragraphs.append(ctx)
            for qa in para.get("qas", []):
                answers = [a for a in qa.get("answers", []) if a.get("text")]
                if not answers:
                    continue
                text, start = answers[0]["text"], int(answers[0]["answer_start"])
                found = [m.start() for m in re.finditer(re.escape(text), ctx)]
                if not found:
                    continue
                start = min(found, key=lambda i: abs(i - start))
                article.questions.append(Question(qa["question"].strip(), p, start, [a["text"] for a in answers]))
        articles.append(article)
    return articles


def split_articles(articles: list[Article], half: str) -> tuple[list[Article], list[Article]]:
    """(train, test): ``even`` trains on articles 0, 2, 4… and tests on the odd ones; ``odd`` the reverse;
    ``all`` trains on every article and tests on none."""
    if half == "all":
        return list(articles), []
    keep = PARITY[half]
    return ([a for i, a in enumerate(articles) if i % 2 == keep], [a for i, a in enumerate(articles) if i % 2 != keep])


# ---------------------------------------------------------------------------------------------- near-miss questions

_YEAR = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})\b")
_AMOUNT = re.compile(r"\b\d+(?:[ \u00a0\u202f.,]\d+)*\b")
_CAP = r"[A-ZÀ-ÖØ-Þ][\w'’\-]+"
_ENTITY = re.compile(rf"\b{_CAP}(?:\s+(?:(?:de|du|des|d'|la|le|les|et)\s+)?{_CAP})*")
# Capitalised words that are not names: question words and sentence openers.
_NOT_NAMES = {
    fold(w) for w in """Qui Que Quoi Quel Quelle Quels Quelles Quand Comment Pourquoi Combien Où Dans Pour Par En Le La Les
    Un Une Des Du De Au Aux Selon Après Avant Lors Est Sont Il Elle Ils Elles Ce Cette Ces On Depuis Quelle
    What Who Which When Where How Why The""".split()
}


def _entities(text: str) -> list[tuple[int, int]]:
    """Spans of capitalised names; a sentence's first word and question words are not names ("Quand Lyon…")."""
    out = []
    for m in _ENTITY.finditer(text):
        start = m.start()
        for word in re.finditer(r"\S+", m.group(0)):
            w = word.group(0)
            if start + word.start() == 0 or fold(w) in _NOT_NAMES or not w[0].isupper():
                start = m.start() + word.end()
                continue
            break
        while start < m.end() and text[start].isspace():
            start += 1
        if m.end() - start >= 3 and text[start].isupper():
            out.append((start, m.end()))
    return out


def _candidates(question: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of each year, amount and name of the text."""
    years = [("year", *m.span()) for m in _YEAR.finditer(question)]
    taken = {(a, b) for _, a, b in years}
    amounts = [("amount", *m.span()) for m in _AMOUNT.finditer(question) if m.span() not in taken]
    return years + amounts + [("entity", a, b) for a, b in _entities(question)]


@dataclass
class NearMissMaker:
    """Swaps one entity, year or amount of a question for another of the same kind found in the corpus."""

    pools: dict[str, list[str]]

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "NearMissMaker":
        pools: dict[str, set[str]] = {"year": set(), "amount": set(), "entity": set()}
        for text in texts:
            for sent_a, sent_b in split_sentences(text):
                sentence = text[sent_a:sent_b]
                for kind, a, b in _candidates(sentence):
                    pools[kind].add(sentence[a:b])
        # Sorted: the pools, hence the questions made, do not depend on set iteration order.
        return cls({k: sorted(v) for k, v in pools.items()})

    def make(self, question: str, forbidden: str, rng: random.Random) -> str | None:
        """A question like ``question`` about something that ``forbidden`` (the article) never mentions, or None."""
        found = _candidates(question)
        if not found:
            return None
        kind, start, end = found[rng.randrange(len(found))]
        pool = self.pools.get(kind) or []
        banned = normalize_for_match(forbidden)
        original = normalize_for_match(question[start:end])
        for _ in range(20):
            if not pool:
                return None
            other = pool[rng.randrange(len(pool))]
            o = normalize_for_match(other)
            if o != original and o not in banned and original not in o:
                return question[:start] + other + question[end:]
        return None


# ---------------------------------------------------------------------------------------------- examples


@dataclass(frozen=True)
class Example:
    question: str
    title: str
    text: str
    start: int | None  # the answer's characters in text; None: the text does not answer the question
    answer: str | None


def question_examples(article: Article, q: Question, rng: random.Random, maker: NearMissMaker | None) -> list[Example]:
    """The question with its paragraph, with another paragraph of the article (no answer), and its near-miss with
    its paragraph (no answer)."""
    own = article.paragraphs[q.paragraph]
    out = [Example(q.text, article.title, own, q.start, q.answers[0])]
    answers = [normalize_for_match(a) for a in q.answers]
    others = [i for i, para in enumerate(article.paragraphs)
              if i != q.paragraph and not any(a in normalize_for_match(para) for a in answers)]
    if others:
        out.append(Example(q.text, article.title, article.paragraphs[rng.choice(others)], None, None))
    if maker is not None:
        near = maker.make(q.text, article.text, rng)
        if near:
            out.append(Example(near, article.title, own, None, None))
    return out


def training_examples(articles: list[Article], seed: int, maker: NearMissMaker | None) -> list[Example]:
    rng = random.Random(seed)
    return [e for a in articles for q in a.questions for e in question_examples(a, q, rng, maker)]


@dataclass
class EvalCase:
    """A question read with its paragraph first then up to two other paragraphs of the same article; its answers,
    the answer sentence's characters in its paragraph, and a near-miss question (or None)."""

    question: str
    passages: list[tuple[str, str]]
    answers: list[str]
    sentence: tuple[int, int]
    near_miss: str | None

    def sentences(self) -> list[tuple[int, int, int]]:
        """(passage, start, end) of every sentence of the passages: the candidates of a sentence ranker."""
        return [(p, a, b) for p, (_, text) in enumerate(self.passages) for a, b in split_sentences(text)]


def eval_cases(articles: list[Article], seed: int, maker: NearMissMaker | None) -> list[EvalCase]:
    rng = random.Random(seed + 1)
    cases = []
    for a in articles:
        n = len(a.paragraphs)
        for q in a.questions:
            chosen = [q.paragraph] + [(q.paragraph + k) % n for k in (1, 2) if n > k]
            own = a.paragraphs[q.paragraph]
            sentence = next(((s, e) for s, e in split_sentences(own) if q.start < e), (0, len(own)))
            near = maker.make(q.text, a.text, rng) if maker is not None else None
            cases.append(EvalCase(q.text, [(a.title, a.paragraphs[p]) for p in chosen], q.answers, sentence, near))
    return cases
