"""Is each sentence of a generated answer supported by the passages it cites?

A sentence is supported when, in the passages its markers point to:
- every number (and date) it states is found, by value ("3 millions" = "3 000 000", "deux" = "2");
- every name it states is found (capitalised words inside the sentence, acronyms anywhere);
- at least ``MIN_WORD_SHARE`` of its content words are found (stems, or a long shared prefix: "construit" /
  "construisons"): a paraphrase changes a word or two, a sentence that adds a fact brings its own words;
- its polarity agrees: a word the sentence negates ("ne … pas", "sans", "aucun", "non", "not", "no", "never")
  is not affirmed by the passage, and a word the passage negates is not affirmed by the sentence.
A sentence without a marker is not supported. Passage sentences that address the model ("ignorez les instructions",
"répondez « … »") are instructions planted in a document, never evidence.

Across languages (an English answer over French passages) words cannot be compared: only numbers and names are, and
a sentence holding neither cannot be checked. The trained reader, where it exists (``rag/reader.py``), can vouch
for a sentence whose words the lexical test could not find (paraphrase, other language); it never overrides a
number, a name or a negation that contradicts the passage.

Unsupported sentences are marked (``SentenceCheck.supported``) or removed (``AIMF_UNSUPPORTED``). The quote shown for a
citation is the set of passage sentences that support the sentences citing it, or nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from rag.answer import Citation, Passage, QuoteSpan, SentenceCheck
from rag.citations import MARKER, markers_in, tidy
from rag.lang import detect_lang
from rag.text import NUMBER_WORDS, STOP_WORDS, fold, split_sentences, tokens

log = logging.getLogger(__name__)

# Share of a sentence's content words that must be found in its cited passages: two in three lets a paraphrase
# change a verb's form or add a connective, and fails a sentence whose main words the passages never use.
MIN_WORD_SHARE = 0.67
# Words shared by long prefixes count as the same word when the prefix holds 3/4 of the shorter one (and 6+ letters).
MIN_PREFIX = 6
PREFIX_SHARE = 0.75
MAX_SPANS = 4  # passage sentences shown as the support of one answer sentence
NUMBER_CONTEXT = 2  # words or names a passage sentence must share with the claim for its numbers to count

# A reader's support score: (claim, passage text) -> probability the passage supports the claim.
Scorer = Callable[[str, str], float]

# Words about the sources rather than about the subject: "Selon le passage 2, …", "Le document indique que …".
META_WORDS = {tokens(w)[0] for w in """selon apres passage passages document documents texte extrait source sources
    indique indiquent mentionne mentionnent precise precisent explique expliquent affirme affirment souligne
    soulignent evoque rappelle note according passage text states mentions says notes explains indicates""".split()
              if tokens(w)}

# --- negation --------------------------------------------------------------------------------------------------
NE = {"ne", "n'"}
NE_CLOSERS = {"pas", "plus", "jamais", "rien", "personne", "aucun", "aucune", "guere", "point", "nullement", "ni"}
STANDALONE = {"sans", "aucun", "aucune", "nul", "nulle", "non", "jamais", "not", "no", "never", "none", "without",
              "nor", "neither", "cannot"}
NOT_NEGATION = {("non", "seulement"), ("sans", "doute"), ("not", "only"), ("no", "doubt")}
NEGATION_REACH = 3  # content words a negation governs after its cue

# --- numbers ---------------------------------------------------------------------------------------------------
_NUMBER = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:[ \u00a0\u202f.,]\d{3})+(?![\d])|\d+(?:[.,]\d+)?)"
    r"(?:\s*(mille|milliers?|millions?|milliards?|thousand|million|billion|mds?|md|k|m)\b)?",
    re.I,
)
_SCALE = {"mille": 1e3, "millier": 1e3, "milliers": 1e3, "thousand": 1e3, "k": 1e3, "million": 1e6, "millions": 1e6,
          "m": 1e6, "milliard": 1e9, "milliards": 1e9, "billion": 1e9, "md": 1e9, "mds": 1e9}
_NUMBER_WORD = re.compile(r"\b(" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")(?:-(\w+))?\b", re.I)

# --- instructions planted in documents -------------------------------------------------------------------------
_INSTRUCTION = re.compile(
    r"\b(?:ignore[rsz]?|oublie[rsz]?|disregard|forget)\b.{0,40}?\b(?:instructions?|consignes?|regles?|rules?|"
    r"prompt|precedent\w*|previous|above|ci-dessus)\b"
    r"|\b(?:reponds|repondez|repondre|ecris|ecrivez|answer|respond|reply|write)\b\s*(?:[:«\"“]|"
    r"(?:\w+\s+){0,2}(?:que|that|only|uniquement|seulement)\b)"
    r"|\b(?:tu es|vous etes|you are)\s+(?:maintenant|desormais|now)\b|<\|?(?:system|im_start)",
    re.I,
)


# ---------------------------------------------------------------------------------------------------------------
# What a text states


@dataclass
class _Facts:
    """What a piece of text states, in comparable form."""

    words: list[tuple[str, str, bool]]  # (stem, folded word, negated) for each content word
    numbers: list[tuple[str, frozenset[float]]]  # (as written, the values it may mean)
    names: list[str]  # as written

    @property
    def values(self) -> set[float]:
        return {v for _, vs in self.numbers for v in vs}


def _number_values(text: str) -> list[tuple[str, frozenset[float]]]:
    out: list[tuple[str, frozenset[float]]] = []
    for m in _NUMBER.finditer(text):
        raw, scale = m.group(1), m.group(2)
        values: set[float] = set()
        if re.fullmatch(r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+", raw):
            values.add(float(re.sub(r"\D", "", raw)))
        elif re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", raw):  # "1,500" / "1.500": thousands, or a decimal
            values.add(float(re.sub(r"\D", "", raw)))
            if raw.count(",") + raw.count(".") == 1:
                values.add(float(raw.replace(",", ".")))
        else:
            values.add(float(raw.replace(",", ".")))
        if scale:  # "3 millions" is also 3,000,000; the bare value stays ("3 M€" may be written "3")
            values |= {v * _SCALE[scale.lower()] for v in values}
        out.append((m.group(0).strip(), frozenset(round(v, 6) for v in values)))
    for m in _NUMBER_WORD.finditer(fold(text)):
        value = NUMBER_WORDS[m.group(1)]
        unit = _UNITS.get(m.group(2) or "", 0)
        if m.group(2) and not unit and m.group(2) != "et":
            continue  # "dix-huitième", "cent-jours": not a plain number
        out.append((m.group(0), frozenset({float(value + unit)})))
    return out


_UNITS = {"un": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8, "neuf": 9,
          "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "seven": 7, "eight": 8, "nine": 9}

_WORDS = re.compile(r"[^\W\d_]+'|[^\W_]+")


def _word_list(text: str) -> list[str]:
    text = re.sub(r"n['’]t\b", " not", text.replace("’", "'"), flags=re.I)
    return _WORDS.findall(fold(text))


def _content(words: list[str]) -> list[tuple[int, str, str]]:
    """(position, stem, word) of the content words: not stop words, numbers or words about the sources."""
    out = []
    for i, w in enumerate(words):
        if w.endswith("'") or w.isdigit() or w in NUMBER_WORDS or w in NE_CLOSERS or w in STANDALONE:
            continue
        stems = tokens(w)
        if stems and stems[0] not in META_WORDS:
            out.append((i, stems[0], w))
    return out


def _negated_positions(words: list[str]) -> set[int]:
    """Positions of the words a negation governs."""
    negated: set[int] = set()
    content_at = {i for i, _, _ in _content(words)}

    def govern(after: int) -> None:
        count = 0
        for j in range(after + 1, len(words)):
            if j in content_at:
                negated.add(j)
                count += 1
                if count == NEGATION_REACH:
                    return

    i = 0
    while i < len(words):
        w = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w in NE:
            # "ne … pas": the verb between them and what follows; "ne … que" (only) is no negation.
            for j in range(i + 1, min(i + 7, len(words))):
                if words[j] == "que":
                    break
                if words[j] in NE_CLOSERS:
                    negated.update(k for k in range(i + 1, j) if k in content_at)
                    govern(j)
                    i = j
                    break
        elif w in STANDALONE and (w, nxt) not in NOT_NEGATION:
            govern(i)
        i += 1
    return negated


# Capitalised only because they open a sentence: connectives, quantifiers, pronouns (adverbs in -ment/-ly too).
_OPENERS = set("""actuellement aujourd apres avant cependant certains certaines chaque concernant depuis desormais
    durant egalement enfin ensemble ensuite grace malgre neanmoins notamment outre parmi pendant plusieurs pourtant
    puis quelques selon toutefois voici voila oui non both each many several some these those they he she we our his
    her however also yes currently today according in during after before since""".split())


def _names(text: str) -> list[str]:
    """Proper names: capitalised words (the first word too, unless a common sentence opener) and acronyms."""
    words = re.findall(r"[^\W\d_][\w'’-]*", text)
    out = []
    for i, w in enumerate(words):
        bare = re.sub(r"^(?:[ldjmnst]|qu)['’]", "", w, flags=re.I)
        bare = re.sub(r"['’]s$", "", bare).strip("-")
        folded = fold(bare)
        if len(bare) < 2 or folded in STOP_WORDS or folded in NUMBER_WORDS or folded in STANDALONE | NE_CLOSERS:
            continue
        acronym = bare.isupper() and len(bare) > 1
        opener = i == 0 and (folded in _OPENERS or folded in META_WORDS or folded.endswith(("ment", "ly")))
        if acronym or (bare[:1].isupper() and not opener):
            out.append(bare)
    return out


def facts(text: str) -> _Facts:
    words = _word_list(text)
    negated = _negated_positions(words)
    return _Facts(
        words=[(stem, w, i in negated) for i, stem, w in _content(words)],
        numbers=_number_values(text),
        names=_names(text),
    )


def _same_word(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Same stem, or a long shared prefix ("construit" / "construisons")."""
    if a[0] == b[0]:
        return True
    shorter = min(len(a[1]), len(b[1]))
    n = 0
    while n < shorter and a[1][n] == b[1][n]:
        n += 1
    return n >= MIN_PREFIX and n >= PREFIX_SHARE * shorter


def is_instruction(text: str) -> bool:
    """Whether a passage sentence addresses the model (an instruction planted in a document)."""
    return bool(_INSTRUCTION.search(fold(text)))


# ---------------------------------------------------------------------------------------------------------------
# Passage sentences as evidence


@dataclass
class _Span:
    n: int  # citation number
    start: int
    end: int
    text: str
    facts: _Facts
    folded: str  # for name search


@lru_cache(maxsize=4096)
def _passage_spans(text: str) -> tuple[tuple[int, int, str, _Facts, str], ...]:
    out = []
    for a, b in split_sentences(text):
        sentence = text[a:b]
        if is_instruction(sentence):
            continue
        out.append((a, b, sentence, facts(sentence), " " + fold(sentence).replace("-", " ") + " "))
    return tuple(out)


def _spans(n: int, passage: Passage) -> list[_Span]:
    spans = [_Span(n, a, b, t, f, folded) for a, b, t, f, folded in _passage_spans(passage.text)]
    if passage.title and not is_instruction(passage.title):
        # the title names the subject (a name the sentence uses may be there only); it is never quoted
        spans.append(_Span(n, -1, -1, passage.title, facts(passage.title), " " + fold(passage.title).replace("-", " ") + " "))
    return spans


def _name_in(name: str, folded: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(fold(name).replace('-', ' '))}(?!\w)", folded) is not None


# ---------------------------------------------------------------------------------------------------------------
# One sentence


@dataclass
class _Verdict:
    supported: bool
    reason: str = ""
    detail: str = ""
    missing: list[str] | None = None
    spans: list[_Span] | None = None
    score: float | None = None


_DETAILS = {
    "no_citation": "aucune source citée",
    "number": "nombre absent des passages cités",
    "name": "nom absent des passages cités",
    "words": "les passages cités ne disent pas cela",
    "negation": "la phrase contredit le passage cité (négation)",
    "cross_lingual": "phrase dans une autre langue que le passage, sans nom ni nombre à vérifier",
}


def check_sentence(claim: str, cited: list[tuple[int, Passage]], lang: str, scorer: Scorer | None = None,
                   floor: float = 0.5) -> _Verdict:
    """Whether the passages cited support ``claim`` (its text without markers)."""
    if not cited:
        return _Verdict(False, "no_citation", _DETAILS["no_citation"])
    wanted = facts(claim)
    if not (wanted.words or wanted.numbers or wanted.names):
        return _Verdict(False, "words", _DETAILS["words"], [])
    spans = [s for n, p in cited for s in _spans(n, p)]
    cross = all((p.lang or detect_lang(p.text)) != lang for _, p in cited)

    # A number counts only where the passage speaks of the same thing: in a sentence sharing words with the claim
    # ("en 1778" elsewhere in the passage does not support "Fin 1778, Howe…" when the passage says 1777 there).
    context = min(NUMBER_CONTEXT, len(wanted.names) if cross else len(wanted.words) + len(wanted.names))

    def covers(span: _Span) -> tuple[set[int], set[int], set[int]]:
        names = {i for i, name in enumerate(wanted.names) if _name_in(name, span.folded)
                 or (cross and any(_same_word((fold(name), fold(name)), (w, w)) for _, w, _ in span.facts.words))}
        words = set() if cross else {
            i for i, (stem, w, _) in enumerate(wanted.words)
            if any(_same_word((stem, w), (s2, w2)) for s2, w2, _ in span.facts.words)
        }
        nums = {i for i, (_, vs) in enumerate(wanted.numbers) if vs & span.facts.values} \
            if len(names) + len(words) >= context else set()
        return nums, names, words

    # Greedy cover: the passage sentence that holds most of the claim, then those adding what is still missing.
    covered = [covers(s) for s in spans]
    chosen: list[int] = []
    got: tuple[set[int], set[int], set[int]] = (set(), set(), set())
    while len(chosen) < MAX_SPANS:
        def gain(k: int) -> int:
            return sum(2 * len(c - g) if t < 2 else len(c - g) for t, (c, g) in enumerate(zip(covered[k], got)))

        best = max((k for k in range(len(spans)) if k not in chosen), key=gain, default=None)
        if best is None or gain(best) == 0:
            break
        chosen.append(best)
        got = tuple(a | b for a, b in zip(got, covered[best]))  # type: ignore[assignment]
    nums, names, words = got
    chosen_spans = [spans[k] for k in chosen]

    missing_numbers = [raw for i, (raw, _) in enumerate(wanted.numbers) if i not in nums]
    if missing_numbers:
        return _Verdict(False, "number", _DETAILS["number"], missing_numbers)
    missing_names = [n for i, n in enumerate(wanted.names) if i not in names]
    score = None
    if cross:  # across languages, names of several words are translated ("European Union"): lone ones must match
        missing_names = [n for n in missing_names if _lone(n, claim)]
    if missing_names:
        return _Verdict(False, "name", _DETAILS["name"], missing_names)
    if cross:
        if not nums and not names:
            verdict = _Verdict(False, "cross_lingual", _DETAILS["cross_lingual"])
        else:
            verdict = _Verdict(True, spans=chosen_spans)
    else:
        missing_words = [w for i, (_, w, _) in enumerate(wanted.words) if i not in words]
        share = len(words) / len(wanted.words) if wanted.words else 1.0
        if share < MIN_WORD_SHARE:
            verdict = _Verdict(False, "words", _DETAILS["words"], missing_words)
        elif contradiction := _negation_mismatch(wanted, chosen_spans):
            return _Verdict(False, "negation", _DETAILS["negation"], contradiction)
        else:
            verdict = _Verdict(True, spans=chosen_spans)
    if not verdict.supported and scorer is not None:
        # The trained reader vouches for a paraphrase or another language the word test could not follow.
        candidates = chosen_spans or spans
        try:
            score = max((scorer(claim, s.text) for s in candidates), default=0.0)
        except Exception as exc:  # noqa: BLE001 - a failing reader leaves the lexical verdict
            log.warning("reader support score failed: %s", exc)
        else:
            verdict.score = round(float(score), 4)
            if score >= floor:
                best = max(candidates, key=lambda s: scorer(claim, s.text)) if candidates else None
                verdict = _Verdict(True, spans=chosen_spans or ([best] if best else []), score=verdict.score)
    return verdict


def _lone(name: str, text: str) -> bool:
    """Whether ``name`` stands alone in ``text`` (not part of a run of capitalised words)."""
    words = re.findall(r"[\w'’-]+", text)
    for i, w in enumerate(words):
        if name in w:
            return not any(0 <= j < len(words) and words[j][:1].isupper() and j != 0 for j in (i - 1, i + 1))
    return True


def _negation_mismatch(claim: _Facts, spans: list[_Span]) -> list[str]:
    """Words the claim negates and the passage affirms, or the reverse."""
    found = [(stem, w, neg) for s in spans for stem, w, neg in s.facts.words]
    out = []
    for stem, word, negated in claim.words:
        flags = {neg for s2, w2, neg in found if _same_word((stem, word), (s2, w2))}
        if flags and negated not in flags:
            out.append(word)
    return out


# ---------------------------------------------------------------------------------------------------------------
# A whole answer


_LEADING_MARKERS = re.compile(r"(?:\s*\[\d+\])+")


def answer_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of an answer; markers written after a sentence's full stop stay with that sentence."""
    out: list[tuple[int, int]] = []
    for a, b in split_sentences(text):
        m = _LEADING_MARKERS.match(text, a)
        if m and m.end() > a and out:
            out[-1] = (out[-1][0], m.end())
            a = m.end()
            while a < b and text[a].isspace():
                a += 1
            if a >= b:
                continue
        out.append((a, b))
    return out


def _is_lead_in(sentence: str, text: str, start: int, end: int) -> bool:
    """A line that states nothing by itself: one introducing a list ("Les projets sont :"), or a short heading
    alone on its line ("## Budget", "**Projets**") without a number."""
    bare = sentence.strip().strip("*_ ")
    if bare.endswith((":", "：")):
        return True
    alone = (start == 0 or text[start - 1] == "\n") and (end == len(text) or text[end] == "\n")
    heading = sentence.lstrip().startswith("#") or re.fullmatch(r"\s*(\*\*|__).+(\*\*|__)\s*", sentence) is not None
    return alone and heading and len(bare.split()) <= 8 and not re.search(r"\d", bare)


@dataclass
class Grounded:
    text: str
    citations: list[Citation]
    sentences: list[SentenceCheck]


def ground(text: str, passages: list[Passage], cited: dict[int, int], lang: str, mode: str = "mark",
           scorer: Scorer | None = None, floor: float = 0.5) -> Grounded:
    """Check every sentence of ``text`` (markers already renumbered: citation n is ``passages[cited[n]]``).

    ``mode`` "remove" drops unsupported sentences (and the citations only they used, renumbering the rest);
    "mark" keeps them, flagged. Citations get as quote the spans that support the sentences citing them."""
    checks: list[tuple[int, int, SentenceCheck, list[_Span]]] = []
    for a, b in answer_sentences(text):
        sentence = text[a:b]
        numbers = [n for n in dict.fromkeys(markers_in(sentence)) if n in cited]
        claim = tidy(MARKER.sub(" ", sentence))
        if not numbers and _is_lead_in(sentence, text, a, b):
            verdict = _Verdict(True, spans=[])
        else:
            verdict = check_sentence(claim, [(n, passages[cited[n]]) for n in numbers], lang, scorer, floor)
        spans = [s for s in (verdict.spans or []) if s.start >= 0] if verdict.supported else []
        check = SentenceCheck(
            text=sentence, start=a, end=b, markers=numbers, supported=verdict.supported, reason=verdict.reason,
            detail=verdict.detail + (f" : {', '.join(verdict.missing)}" if verdict.missing else ""),
            missing=verdict.missing or [], score=verdict.score,
            quotes=[QuoteSpan(n=s.n, start=s.start, end=s.end, text=s.text) for s in spans],
        )
        checks.append((a, b, check, spans))

    if mode == "remove" and any(not c.supported for _, _, c, _ in checks):
        removed = [c for _, _, c, _ in checks if not c.supported]
        kept_text = _cut(text, [(a, b) for a, b, c, _ in checks if not c.supported])
        order = list(dict.fromkeys(markers_in(kept_text)))
        renumber = {old: new for new, old in enumerate(order, start=1)}
        kept_text = re.sub(r"\[(\d+)\]", lambda m: f"[{renumber[int(m.group(1))]}]", kept_text)
        result = ground(kept_text, passages, {renumber[o]: cited[o] for o in order}, lang, "mark", scorer, floor)
        for c in removed:
            c.text = tidy(MARKER.sub(" ", c.text))
            c.start = c.end = -1
            c.markers, c.quotes, c.removed = [], [], True
        kept = iter(result.sentences)  # in the answer's order, removed ones where they stood
        result.sentences = [c if not c.supported else next(kept, c) for _, _, c, _ in checks] + list(kept)
        return result

    citations = []
    for n in sorted(cited):
        p = passages[cited[n]]
        found = sorted({(s.start, s.end) for _, _, _, spans in checks for s in spans if s.n == n})
        qs, qe = (found[0][0], found[-1][1]) if found else (0, 0)
        citations.append(Citation(
            n=n, source=p.source, title=p.title, page=p.page, quote=p.text[qs:qe], start=p.start + qs,
            end=p.start + qe, score=round(p.score, 4), relevance=p.relevance, chunk_id=p.chunk_id, section=p.section,
            passage=p.text, quote_start=qs, quote_end=qe, quote_spans=found,
        ))
    return Grounded(text, citations, [c for _, _, c, _ in checks])


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for a, b in sorted(spans):
        out.append(text[last:a])
        last = b
    out.append(text[last:])
    kept = "".join(out)
    kept = re.sub(r"[ \t]+\n", "\n", kept)
    kept = re.sub(r"\n{3,}", "\n\n", kept)
    return re.sub(r"[ \t]{2,}", " ", kept).strip()


def reader_scorer(settings) -> tuple[Scorer, float] | None:
    """The trained reader (``rag/reader.py``) as a support scorer, with its floor, or None.

    The hook: the reader is used once ``rag.reader.SUPPORT_FLOOR`` exists, the floor its owner calibrated for claim
    support (its ``Reader.support`` scores how well a passage answers a question; a claim is read the same way),
    and ``Reader.load(settings)`` gives a reader (shipped, enabled by AIMF_READER, trained on this base model)."""
    try:
        from rag import reader
    except ImportError:
        return None
    floor = getattr(reader, "SUPPORT_FLOOR", None)
    if floor is None:
        return None
    try:
        loaded = reader.Reader.load(settings)
    except Exception as exc:  # noqa: BLE001 - without the reader the lexical check still stands
        log.warning("trained reader unavailable for the support check: %s", exc)
        return None
    if loaded is None:
        return None
    return (lambda claim, passage: loaded.support(claim, passage)), float(floor)
