"""What every answer writer implements. The chain around it (retrieval, citation checks, abstention) is shared."""

from __future__ import annotations

import re
import unicodedata
from typing import Iterator, Protocol

from rag.answer import Passage

# What an LLM writer must output, alone, when the passages do not answer: the chain turns it into an abstention.
NOT_FOUND_TOKEN = "NON_TROUVÉ"

# The token as models write it: any case, with or without its accent, "_" or a space, wrapped in emphasis or quotes.
_TOKEN = r"[*_«\"'`“]*\s*NON[_ ]TROUV[EÉ]\b\s*[*_»\"'`”]*"
_OPENING = re.compile(r"^[\s*_«\"'`“>:-]*NON[_ ]TROUV", re.IGNORECASE)
_INSIDE = re.compile(rf"\s*{_TOKEN}\s*[.!]?", re.IGNORECASE)
_SPELLINGS = ("non_trouve", "non trouve")


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def says_not_found(text: str) -> bool:
    """The answer is the not-found token: the whole answer or its opening. Inside an otherwise cited answer the
    token is noise (see ``strip_not_found``), not an abstention."""
    return _OPENING.match(_fold(text)) is not None


def strip_not_found(text: str) -> str:
    """The text without the not-found token wherever it appears."""
    return _INSIDE.sub(" ", text)


class NotFoundFilter:
    """Removes the not-found token from streamed text as ``strip_not_found`` does from the whole, holding back an
    end of the text that may still become the token ("NON", "NON_TR")."""

    def __init__(self) -> None:
        self.buffer = ""

    def feed(self, piece: str) -> str:
        self.buffer += piece
        hold = len(self.buffer)
        for k in range(min(len(self.buffer), 16), 0, -1):
            tail = self.buffer[-k:]
            starts_word = k == len(self.buffer) or not self.buffer[-k - 1].isalnum()
            bare = _fold(tail).lstrip("*_«\"'`“ ")
            # a token begun, or complete but maybe followed by its closing emphasis or quote
            maybe = any(s.startswith(bare) or (bare.startswith(s) and not bare[len(s):].strip("*_»\"'`” "))
                        for s in _SPELLINGS)
            if starts_word and maybe and tail.strip():
                hold = len(self.buffer) - k
                break
        ready, self.buffer = self.buffer[:hold], self.buffer[hold:]
        return strip_not_found(ready) if _INSIDE.search(ready) else ready

    def flush(self) -> str:
        out, self.buffer = strip_not_found(self.buffer), ""
        return out


class GeneratorUnavailable(RuntimeError):
    """The writer cannot run (model file missing, server down, timeout): the chain falls back to extractive."""


class Generator(Protocol):
    name: str

    def stream(self, question: str, passages: list[Passage], lang: str) -> Iterator[str]:
        """Yield the answer's text in pieces. Claims carry markers [n] where n is the 1-based index of the passage
        in ``passages``. Yield only ``NOT_FOUND_TOKEN`` when the passages do not answer."""
        ...
