"""Training and evaluation data for the sentence reader (rag/reader.py).

From a SQuAD-format file (PIAF): each question's answer sentence (the one holding the answer's start) is a
positive; other sentences of its paragraph and of other paragraphs of the same article are negatives. A near-miss
question, made by swapping an entity, a year or an amount of the question for another one found elsewhere in the
corpus (and absent from the article), paired with the true answer sentence, is a negative too: the reader must
learn that a sentence about Dakar does not answer a question about Abidjan. Gold JSONL questions add their
evidence sentences from the corpus documents. Articles are split by the parity of their index, so evaluation
never sees an article trained on.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rag.reader import context_of
from rag.text import fold, normalize_for_match, split_sentences


@dataclass(frozen=True)
class Pair:
    question: str
    context: str
    sentence: str
    label: int  # 1: the sentence answers the question


@dataclass
class Question:
    text: str
    paragraph: int
    sentence: int  # index of the answer sentence in its paragraph
    answers: list[str]


@dataclass
class Article:
    title: str
    paragraphs: list[list[str]]  # sentences of each paragraph
    questions: list[Question] = field(default_factory=list)

    def context(self, p: int, s: int) -> str:
        return context_of(self.title, None, self.paragraphs[p][s - 1] if s else None)

    def items(self, p: int) -> list[tuple[str, str]]:
        return [(self.context(p, s), sent) for s, sent in enumerate(self.paragraphs[p])]

    @property
    def text(self) -> str:
        return " ".join(" ".join(p) for p in self.paragraphs)


def load_squad_articles(path: Path) -> list[Article]:
    """Articles with sentence-split paragraphs; a question's answer sentence is located by its answer offset."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    articles = []
    for raw in data["data"]:
        article = Article(str(raw.get("title", "")).replace("_", " "), [])
        for para in raw.get("paragraphs", []):
            ctx = para["context"]
            spans = split_sentences(ctx)
            p = len(article.paragraphs)
            article.paragraphs.append([ctx[a:b] for a, b in spans])
            for qa in para.get("qas", []):
                answers = [a for a in qa.get("answers", []) if a.get("text")]
                if not answers or not spans:
                    continue
                start = int(answers[0]["answer_start"])
                s = next((i for i, (a, b) in enumerate(spans) if start < b), len(spans) - 1)
                article.questions.append(Question(qa["question"].strip(), p, s, [a["text"] for a in answers]))
        articles.append(article)
    return articles


def split_articles(articles: list[Article], half: str) -> tuple[list[Article], list[Article]]:
    """(train, test): ``even`` trains on articles 0, 2, 4… and tests on the odd ones; ``odd`` the reverse;
    ``all`` trains on every article and tests on none."""
    if half == "all":
        return list(articles), []
    keep = 0 if half == "even" else 1
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


# ---------------------------------------------------------------------------------------------- pairs


def question_pairs(article: Article, q: Question, rng: random.Random, maker: NearMissMaker | None,
                   same_paragraph: int = 2, other_paragraphs: int = 2) -> list[Pair]:
    """One positive, a few negatives from the same paragraph and from the article's other paragraphs, and the
    near-miss question with the answer sentence."""
    p, s = q.paragraph, q.sentence
    answer = article.paragraphs[p][s]
    pairs = [Pair(q.text, article.context(p, s), answer, 1)]
    same = [i for i in range(len(article.paragraphs[p])) if i != s]
    for i in rng.sample(same, min(same_paragraph, len(same))):
        pairs.append(Pair(q.text, article.context(p, i), article.paragraphs[p][i], 0))
    others = [(j, i) for j, para in enumerate(article.paragraphs) if j != p for i in range(len(para))]
    for j, i in rng.sample(others, min(other_paragraphs, len(others))):
        pairs.append(Pair(q.text, article.context(j, i), article.paragraphs[j][i], 0))
    if maker is not None:
        near = maker.make(q.text, article.text, rng)
        if near:
            pairs.append(Pair(near, article.context(p, s), answer, 0))
    return pairs


def training_pairs(articles: list[Article], seed: int, maker: NearMissMaker | None) -> list[Pair]:
    rng = random.Random(seed)
    return [pair for a in articles for q in a.questions for pair in question_pairs(a, q, rng, maker)]


@dataclass
class EvalCase:
    """A question, its candidates (sentences of its paragraph and of up to two other paragraphs of the same
    article), the answer's index among them, the paragraph's slice, and a near-miss question (or None)."""

    question: str
    items: list[tuple[str, str]]
    answer: int
    paragraph: slice
    near_miss: str | None


def eval_cases(articles: list[Article], seed: int, maker: NearMissMaker | None) -> list[EvalCase]:
    rng = random.Random(seed + 1)
    cases = []
    for a in articles:
        n = len(a.paragraphs)
        for q in a.questions:
            chosen = [q.paragraph] + [(q.paragraph + k) % n for k in (1, 2) if n > k]
            items: list[tuple[str, str]] = []
            answer, para = -1, slice(0, 0)
            for p in chosen:
                if p == q.paragraph:
                    answer, para = len(items) + q.sentence, slice(len(items), len(items) + len(a.paragraphs[p]))
                items += a.items(p)
            near = maker.make(q.text, a.text, rng) if maker is not None else None
            cases.append(EvalCase(q.text, items, answer, para, near))
    return cases


# ---------------------------------------------------------------------------------------------- gold questions


@dataclass
class CorpusSentence:
    source: str
    context: str
    sentence: str


def corpus_sentences(corpus_dir: Path) -> list[CorpusSentence]:
    """Every sentence of the corpus documents, with its context (title, heading, previous sentence)."""
    from ingest.chunking import _previous_heading
    from ingest.loaders import SUPPORTED, LoadError, load

    out: list[CorpusSentence] = []
    root = Path(corpus_dir)
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if (not path.is_file() or path.suffix.lower() not in SUPPORTED or rel.as_posix().lower() == "readme.md"
                or any(part.startswith((".", "_")) for part in rel.parts)):
            continue
        try:
            doc = load(path)
        except (LoadError, OSError, ValueError, ImportError):
            continue  # unreadable here: its gold questions are skipped (counted in the figures)
        prev = None
        for a, b in split_sentences(doc.text):
            sentence = doc.text[a:b]
            out.append(CorpusSentence(rel.as_posix(), context_of(doc.title, _previous_heading(doc, a), prev), sentence))
            prev = sentence
    return out


def gold_pairs(paths: list[Path], sentences: list[CorpusSentence], seed: int, maker: NearMissMaker | None,
               negatives: int = 4) -> tuple[list[Pair], int]:
    """Pairs from gold JSONL files (answerable questions whose evidence is found in a corpus sentence): each
    evidence sentence is a positive, other sentences of the same document negatives, plus the near-miss question.
    Returns (pairs, questions used)."""
    from evals.dataset import load_jsonl

    rng = random.Random(seed + 2)
    folded = [normalize_for_match(s.sentence) for s in sentences]
    pairs: list[Pair] = []
    used = 0
    for path in paths:
        for g in load_jsonl(path):
            if not g.answerable or g.review:
                continue
            ev = [normalize_for_match(e) for e in g.evidence]
            hits = [i for i, f in enumerate(folded)
                    if any(e in f or (len(f) > 30 and f in e) for e in ev)
                    and (g.source is None or sentences[i].source == g.source)]
            if not hits:
                continue
            used += 1
            docs = {sentences[i].source for i in hits}
            for i in hits:
                pairs.append(Pair(g.question, sentences[i].context, sentences[i].sentence, 1))
            pool = [i for i, s in enumerate(sentences) if s.source in docs and i not in hits]
            for i in rng.sample(pool, min(negatives, len(pool))):
                pairs.append(Pair(g.question, sentences[i].context, sentences[i].sentence, 0))
            if maker is not None:
                text = " ".join(s.sentence for s in sentences if s.source in docs)
                near = maker.make(g.question, text, rng)
                if near:
                    pairs.append(Pair(near, sentences[hits[0]].context, sentences[hits[0]].sentence, 0))
    return pairs, used
