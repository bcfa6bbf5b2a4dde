"""What every answer writer implements. The chain around it (retrieval, citation checks, abstention) is shared."""

from __future__ import annotations

from typing import Iterator, Protocol

from rag.answer import Passage

# What an LLM writer must output, alone, when the passages do not answer: the chain turns it into an abstention.
NOT_FOUND_TOKEN = "NON_TROUVÉ"


class GeneratorUnavailable(RuntimeError):
    """The writer cannot run (model file missing, server down, timeout): the chain falls back to extractive."""


class Generator(Protocol):
    name: str

    def stream(self, question: str, passages: list[Passage], lang: str) -> Iterator[str]:
        """Yield the answer's text in pieces. Claims carry markers [n] where n is the 1-based index of the passage
        in ``passages``. Yield only ``NOT_FOUND_TOKEN`` when the passages do not answer."""
        ...
