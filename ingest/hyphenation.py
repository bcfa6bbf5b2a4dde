"""Line-end hyphens: removed only when they cut a word, kept when they belong to it.

"environne-\\nment" becomes "environnement" (the joined word is a word of the document or of a French word list and
the hyphenated form is not); "Saint-\\nExupéry" and "vingt-\\ndeux" keep their hyphen (a capital after the break, or
two words that each stand alone, or the hyphenated form used elsewhere in the document).
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from functools import lru_cache

_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*", re.UNICODE)
_TAIL = re.compile(r"([^\W\d_]+)-$", re.UNICODE)
_HEAD = re.compile(r"^([^\W\d_]+)", re.UNICODE)


@lru_cache(maxsize=1)
def french_words() -> frozenset[str]:
    """The French word list that ships with pyspellchecker (MIT), or nothing when it is not installed."""
    try:
        from importlib.resources import files

        data = files("spellchecker").joinpath("resources/fr.json.gz").read_bytes()
    except Exception:  # package absent or laid out differently: the document's own words still decide
        return frozenset()
    return frozenset(json.loads(gzip.decompress(data)))


class Vocabulary:
    """The words of one document (lower-cased), and the hyphenated compounds it writes inside a line."""

    def __init__(self, lines: list[str]):
        self.words: Counter[str] = Counter()
        self.compounds: set[str] = set()
        for line in lines:
            body = line[:-1] if line.endswith("-") else line
            for token in _WORD.findall(body):
                low = token.lower()
                if "-" in low:
                    self.compounds.add(low)
                    self.words.update(low.split("-"))
                else:
                    self.words[low] += 1

    def known(self, word: str) -> bool:
        low = word.lower()
        return low in self.words or low in french_words()


def keep_hyphen(first: str, second: str, vocab: Vocabulary) -> bool:
    """Decide for "first-" at a line end followed by "second" at the next line's start."""
    if f"{first}-{second}".lower() in vocab.compounds:
        return True
    if vocab.known(first + second):
        return False
    if second[:1].isupper():
        return True  # proper names and titles: Saint-Exupéry, Jean-Pierre; a cut word never resumes with a capital
    if vocab.known(first) and vocab.known(second) and len(second) > 1:
        return True  # vingt-deux, porte-parole: two words each standing alone
    return False


def join_lines(lines: list[str], vocab: Vocabulary) -> str:
    """Join the lines of one paragraph with spaces, mending words cut at a line end."""
    out = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if not out:
            out = line
            continue
        tail = _TAIL.search(out)
        head = _HEAD.match(line)
        if out.endswith("-") and out[-2:-1].isdigit() and line[:1].isdigit():
            out += line  # a range cut after its hyphen: "2019-" + "2023"
        elif tail and head and not out.endswith(" -"):
            if keep_hyphen(tail.group(1), head.group(1), vocab):
                out += line
            else:
                out = out[:-1] + line
        else:
            out += " " + line
    return out
