"""The language guess that picks the answer's language (no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.lang import detect_lang

GOLD = Path(__file__).resolve().parents[1] / "evals" / "datasets" / "aimf-gold.jsonl"


@pytest.mark.parametrize(
    "question,lang",
    [
        ("Qui a écrit The Spirit and the Flesh ?", "fr"),  # an English title inside a French question
        ("Quel est le rôle du Smart City Hub ?", "fr"),
        ("What is the Fonds de Coopération?", "en"),  # a French name inside an English question
        ("Which city chairs the commission Villes innovantes?", "en"),
        ("Et à Tunis ?", "fr"),
        ("And in Tunis?", "en"),
        ("Cotonou", "fr"),  # nothing to go by: French first
    ],
)
def test_the_question_word_decides_over_a_quoted_title(question: str, lang: str) -> None:
    assert detect_lang(question) == lang


def test_every_gold_question_is_recognised_in_its_language() -> None:
    for line in GOLD.read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        assert detect_lang(q["question"]) == q["lang"], q["question"]
