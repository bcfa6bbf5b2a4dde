"""Text helpers shared by ingest, retrieval and answers: normalisation for matching, French-aware tokens."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_ELISION = re.compile(r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu)['’]", re.IGNORECASE)
_TOKEN = re.compile(r"\w+", re.UNICODE)
_EMPHASIS = re.compile(r"\*\*|__")

# Short French and English stop words: dropped from the lexical index and from query terms.
STOP_WORDS = frozenset(
    """
    a au aux avec ce ces cet cette dans de des du elle elles en et eux il ils je la le les leur leurs lui ma mais me
    meme mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une
    vos votre vous y ete etre est sont etait ont avait fait faire peut plus tres tout tous toute toutes aussi ainsi
    comme si sans sous entre vers chez donc car ni or quel quelle quels quelles quoi comment pourquoi combien quand
    ou dont lors depuis cela ceci celui celle ceux celles the of and to in is are was were be for on with as by at
    from that this which who what how why when where it its an or not do does did has have had their there
    """.split()
)


def fold(text: str) -> str:
    """Lower-case and strip accents: "Élaboration" -> "elaboration"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("œ", "oe").replace("æ", "ae")


def normalize_for_match(text: str) -> str:
    """Case-insensitive, whitespace-collapsed, emphasis-free form used to match evidence and quotes."""
    text = _EMPHASIS.sub("", unicodedata.normalize("NFC", text)).replace("’", "'")
    return re.sub(r"\s+", " ", text).strip().lower()


@lru_cache(maxsize=2)
def _stemmer(lang: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("french" if lang == "fr" else "english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    # The French Snowball stemmer is light enough for English plurals too; folding runs before it
    # so accents never split a stem ("numérique" / "numerique").
    return _stemmer("fr").stemWord(word)


def tokens(text: str, keep_stop_words: bool = False) -> list[str]:
    """French-aware lexical tokens: elisions removed, case and accents folded, stop words dropped, stemmed."""
    text = _ELISION.sub(" ", text.replace("’", "'"))
    words = _TOKEN.findall(fold(text))
    return [_stem(w) for w in words if keep_stop_words or (w not in STOP_WORDS and len(w) > 1) or w.isdigit()]


# Abbreviations after which a period does not end a sentence.
_ABBREV = r"(?<!\bM\.)(?<!\bMM\.)(?<!\bMme\.)(?<!\bMlle\.)(?<!\bDr\.)(?<!\bPr\.)(?<!\bSt\.)(?<!\bp\.)(?<!\bpp\.)(?<!\bex\.)(?<!\betc\.)(?<!\bcf\.)(?<!\bMr\.)(?<!\bMrs\.)(?<!\bNo\.)(?<!\bn°\.)(?<!\bvol\.)(?<!\bart\.)(?<!\bav\.)(?<!\bMe\.)(?<!\bMgr\.)(?<!\bSte\.)"
_SENTENCE_END = re.compile(_ABBREV + r"(?<=[.!?…])[»”\"')\]]*\s+(?=[«“\"(\[]?[A-ZÀ-ÖØ-Þ0-9])|\n+")


_LIST_NUMBER = re.compile(r"\s*\d{1,3}[.)]")
_LIST_LINE = re.compile(r"\s*(?:\d{1,3}[.)]|[-•*–])\s|.*[:;,]\s*$")


def _numbered_item(text: str, at: int) -> bool:
    """Whether ``at`` ends the number of an item of a list ("4." in "…;\n4. Haganis et …"): the number alone on its
    line so far, and the line before introducing a list or being an item itself. A numbered heading after a
    paragraph ("2. Le Bureau de Tunis") stays a line of its own."""
    line_start = text.rfind("\n", 0, at) + 1
    if not _LIST_NUMBER.fullmatch(text, line_start, at):
        return False
    before = text[:line_start].rstrip().rsplit("\n", 1)[-1]
    return bool(before) and bool(_LIST_LINE.match(before))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in ``text``; line breaks end a sentence too (list items, headings)."""
    # The same retrieved passages are split several times per question (sentence vectors, the writer, relevance).
    return list(_sentence_spans(text))


@lru_cache(maxsize=4096)
def _sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if not m.group(0).startswith("\n") and _numbered_item(text, m.start()):
            continue  # "4. Haganis et …": the number of a list item, not a sentence
        _append_span(text, start, m.start() if m.group(0).startswith("\n") else m.end(), spans)
        start = m.end()
    _append_span(text, start, len(text), spans)
    return tuple(spans)


def _append_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


# Numbers written in words (folded), French and English, with their values.
NUMBER_WORDS = {
    "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8, "neuf": 9, "dix": 10, "onze": 11,
    "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15, "seize": 16, "vingt": 20, "trente": 30, "quarante": 40,
    "cinquante": 50, "soixante": 60, "cent": 100, "cents": 100,
    "two": 2, "three": 3, "four": 4, "five": 5, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
    "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
}
# Ordinals in words (folded), French and English: "la 8e colonne" is "la huitième colonne".
ORDINAL_WORDS: dict[int, tuple[str, ...]] = {
    1: ("premier", "premiere", "first"), 2: ("deuxieme", "second", "seconde"), 3: ("troisieme", "third"),
    4: ("quatrieme", "fourth"), 5: ("cinquieme", "fifth"), 6: ("sixieme", "sixth"), 7: ("septieme", "seventh"),
    8: ("huitieme", "eighth"), 9: ("neuvieme", "ninth"), 10: ("dixieme", "tenth"), 11: ("onzieme", "eleventh"),
    12: ("douzieme", "twelfth"), 13: ("treizieme", "thirteenth"), 14: ("quatorzieme", "fourteenth"),
    15: ("quinzieme", "fifteenth"), 16: ("seizieme", "sixteenth"), 20: ("vingtieme", "twentieth"),
    30: ("trentieme", "thirtieth"), 40: ("quarantieme", "fortieth"), 50: ("cinquantieme", "fiftieth"),
    100: ("centieme", "hundredth"),
}
STREAM_WORDS = 6  # words per streamed piece of a written answer: each piece costs a UI a re-render


def stream_pieces(text: str, words: int = STREAM_WORDS) -> list[str]:
    """An already written answer cut into pieces of a few words, for a streaming display."""
    parts = re.findall(r"\S+\s*", text)
    return ["".join(parts[i : i + words]) for i in range(0, len(parts), words)]
