"""What two statements both describe ("Parmi les villes attendues à Yaoundé, laquelle a coorganisé le séminaire ?",
"Which city both pays a grant and started the partnership?"): the names that the sentences best matching each
statement hold in common. Each statement is read on its own, often in its own document; the answer is the shared
name, with one cited sentence for each statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from rag.question import MONTHS, NOT_NAMES
from rag.text import fold, tokens

# A run of capitalised words, an elided article left out ("l'Agence" -> "Agence"): "Phnom Penh", "Adour-Garonne".
_NAME_RUN = re.compile(r"(?<![\w'’-])(?:[dlDL]['’])?([A-ZÀ-Ý][\wÀ-ÿ'’-]*(?:[ \t]+[A-ZÀ-Ý][\wÀ-ÿ'’-]*)*)")
_WORD = re.compile(r"[\wÀ-ÿ'’-]+")
_CALENDAR = {m for names in MONTHS for m in names}
_OF = re.compile(r"\s+(?:de|du|des|d['’]|of)\b", re.I)
# A statement's sentences: the best one and those scoring at least this share of it, a few at most.
SIDE_RATIO = 0.5
SIDE_SENTENCES = 5
KIND_WINDOW = 80  # characters before a name where the word saying its kind is looked for


class Scored(Protocol):
    passage: int
    unit: str
    score: float


@dataclass
class SharedName:
    name: str
    sentences: list[Scored]  # the best sentence of each statement that holds the name
    score: float


def folded_words(text: str) -> str:
    """The text's words folded, space-separated and space-bounded: a name's folded words occur in it as a whole."""
    return " " + " ".join(fold(w) for w in _WORD.findall(text)) + " "


def candidate_names(text: str, lower_words: set[str], question_terms: set[str]) -> list[str]:
    """The proper names of a text: runs of capitalised words none of which the passages also write in lower case
    (a sentence's first "Le", a common noun like "Ville"), that the question does not name itself, nor months, nor
    titles ("M.", "Mr"); a lone word heading a "… de X" is the title of X ("la Région de Nouakchott")."""
    out = []
    for m in _NAME_RUN.finditer(text):
        words = m.group(1).split()
        while words and (fold(words[0]) in lower_words or fold(words[0]) in _CALENDAR or fold(words[0]) in NOT_NAMES
                         or not tokens(words[0])):  # a sentence's first word: "Par", "Le"
            words = words[1:]
        name = " ".join(words).strip("'’-")
        if len(name) < 3 or any(fold(w) in lower_words or fold(w) in _CALENDAR for w in words):
            continue
        if len(words) == 1 and _OF.match(text, m.end()):
            continue
        if set(tokens(name)) & question_terms:
            continue
        out.append(name)
    return list(dict.fromkeys(out))


def side(sentences: list[Scored], ratio: float = SIDE_RATIO, most: int = SIDE_SENTENCES) -> list[Scored]:
    """The sentences that match one statement: the best one and those scoring ``ratio`` of it, best first."""
    ranked = [s for s in sentences if s.score > 0]
    if not ranked:
        return []
    return [s for s in ranked[:most] if s.score >= ratio * ranked[0].score]


def _of_kind(name: str, sentences: list[Scored], kind_terms: set[str]) -> bool:
    """Whether a sentence introduces the name with a word of the kind asked for ("l'Agence de l'eau Adour-Garonne",
    "les villes … : Phnom Penh") in the few words before it."""
    for s in sentences:
        at = fold(s.unit).find(fold(name))
        if at >= 0 and kind_terms & set(tokens(s.unit[max(0, at - KIND_WINDOW):at])):
            return True
    return False


def shared_names(sides: list[list[Scored]], lower_words: set[str], question_terms: set[str],
                 kind_terms: set[str] = frozenset()) -> list[SharedName]:
    """The names held by a sentence of each of the two sides, the two sentences from two passages (a passage matching
    both statements names many things, none of which is what the two share), best first (the sum of the two
    sentences' scores; one introduced as the ``kind_terms`` say first). Several names are one answer only when the
    best one's two sentences hold them all ("lesquelles" of one list are in the other list)."""
    if len(sides) != 2 or not all(sides):
        return []
    folded = [[folded_words(s.unit) for s in ss] for ss in sides]
    names = [n for ss in sides for s in ss for n in candidate_names(s.unit, lower_words, question_terms)]
    found: dict[str, SharedName] = {}
    for name in dict.fromkeys(names):
        key = folded_words(name)
        pairs = [(a.score + b.score, [a, b])
                 for a, fa in zip(sides[0], folded[0]) if key in fa
                 for b, fb in zip(sides[1], folded[1]) if key in fb and b.passage != a.passage]
        if pairs and fold(name) not in found:
            score, holders = max(pairs, key=lambda p: p[0])
            found[fold(name)] = SharedName(name, holders, score)
    # a name inside a longer shared one ("Baillet" in "Pierre Baillet") is the same thing
    kept = [n for n in found.values()
            if not any(o is not n and folded_words(n.name) in folded_words(o.name) for o in found.values())]
    if not kept:
        return []
    # a name introduced as the kind of thing asked for ("Agences de l'eau") comes before one that is not
    best = max(kept, key=lambda n: (_of_kind(n.name, n.sentences, kind_terms), n.score))
    pair = [folded_words(s.unit) for s in best.sentences]
    together = [SharedName(n.name, best.sentences, n.score) for n in kept
                if n is not best and all(folded_words(n.name) in f for f in pair)]
    return [best] + sorted(together, key=lambda n: n.score, reverse=True)


def lower_case_words(texts: list[str]) -> set[str]:
    """Words the texts write in lower case somewhere (folded): common words, whatever their case elsewhere."""
    return {fold(w) for t in texts for w in _WORD.findall(t) if w[:1].islower()}
