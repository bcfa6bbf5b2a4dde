"""The bundled gold set (every evidence string is in the bundled corpus) and the dataset loaders' errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from evals.dataset import GoldSetError, is_squad, load_dataset, load_jsonl, write_jsonl
from rag.text import normalize_for_match

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "evals" / "datasets" / "aimf-gold.jsonl"
SPEECH = ROOT / "corpus" / "discours-ouverture-villes-intelligentes.txt"


def test_gold_set_size_languages_and_unanswerable() -> None:
    questions = load_jsonl(GOLD)
    assert len(questions) >= 40
    assert sum(q.lang == "en" for q in questions) >= 8
    assert sum(not q.answerable for q in questions) >= 10
    types = Counter(q.type for q in questions)
    for kind in ("factual", "list", "date", "who", "where", "paraphrase", "multi-hop"):
        assert types[kind] >= 1, kind
    assert not any(q.review for q in questions)


def test_every_evidence_string_occurs_in_the_bundled_corpus() -> None:
    """The speech's questions quote the speech; the two the grown corpus now answers quote its Markdown notes."""
    texts = [SPEECH, *sorted((ROOT / "corpus").glob("*.md"))]
    corpus = normalize_for_match("\n".join(p.read_text(encoding="utf-8") for p in texts))
    missing = [(q.id, e) for q in load_jsonl(GOLD) for e in q.evidence if normalize_for_match(e) not in corpus]
    assert missing == []


def test_gold_evidence_copied_from_markdown_matches_the_indexed_text() -> None:
    """The indexed text has the ** removed; evidence keeping them still matches it."""
    from ingest.loaders import load

    indexed = normalize_for_match(load(SPEECH).text)
    with_emphasis = [e for q in load_jsonl(GOLD) for e in q.evidence if "**" in e]
    assert len(with_emphasis) >= 5
    assert all(normalize_for_match(e) in indexed for e in with_emphasis)


def test_key_terms_occur_in_their_evidence() -> None:
    """A key term is what a correct answer must hold: for French terms, the evidence must hold it too
    (English alternatives such as "Singapore|Singapour" need one variant there)."""
    from evals.metrics import term_found

    for q in load_jsonl(GOLD):
        for term in q.key_terms:
            assert term_found(term, " ".join(q.evidence)), (q.id, term)


def _write(tmp_path: Path, lines: list) -> Path:
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n",
                    encoding="utf-8")
    return path


GOOD = {"id": "q1", "lang": "fr", "question": "Qui ?", "answer": "Nantes", "evidence": ["Nantes"], "type": "who",
        "answerable": True}


@pytest.mark.parametrize("bad, message", [
    ('{"id": "q2", "lang": "fr",', "JSON invalide"),
    ({**GOOD, "id": "q2", "lang": "de"}, "lang"),
    ({**GOOD, "id": "q2", "evidence": []}, "au moins une preuve"),
    ({**GOOD, "id": "q2", "answer": ""}, "réponse de référence"),
    ({**GOOD, "id": "q2", "evidense": ["x"]}, "evidense"),
    ({**GOOD, "id": "q2", "question": ""}, "question"),
    (GOOD, "déjà utilisé ligne 1"),
    ("[1, 2]", "objet JSON"),
])
def test_invalid_lines_are_reported_with_their_line(tmp_path: Path, bad, message: str) -> None:
    path = _write(tmp_path, [GOOD, bad])
    with pytest.raises(GoldSetError) as err:
        load_jsonl(path)
    assert f"{path}:2:" in str(err.value) and message in str(err.value)


def test_unanswerable_and_review_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, [GOOD, {"id": "u1", "lang": "en", "question": "Budget?", "answer": "", "evidence": [],
                                    "type": "number", "answerable": False},
                             {"id": "r1", "lang": "fr", "question": "À relire ?", "answerable": True, "review": True}])
    qs = load_dataset(path)
    assert [q.answerable for q in qs] == [True, False, True] and qs[2].review
    out = tmp_path / "copy.jsonl"
    write_jsonl(qs, out)
    assert load_jsonl(out) == qs


def test_empty_or_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GoldSetError, match="aucune question"):
        load_jsonl(_write(tmp_path, [""]))
    with pytest.raises(GoldSetError, match="introuvable"):
        load_dataset(tmp_path / "nope.jsonl")


def test_squad_files_become_gold_questions(tmp_path: Path) -> None:
    squad = {"version": "1", "data": [{"title": "Nantes_ville", "paragraphs": [{
        "context": "Nantes préside la commission depuis 2013.",
        "qas": [{"id": "s1", "question": "Quelle ville préside la commission ?",
                 "answers": [{"text": "Nantes", "answer_start": 0}, {"text": "Nantes", "answer_start": 0}]},
                {"id": "s2", "question": "Depuis quand ?", "answers": [{"text": "2013", "answer_start": 36}]}]}]}]}
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(squad), encoding="utf-8")
    assert is_squad(path) and not is_squad(GOLD)
    qs = load_dataset(path)
    assert [(q.id, q.answer, q.evidence, q.type) for q in qs] == [
        ("s1", "Nantes", ["Nantes"], "squad"), ("s2", "2013", ["2013"], "squad")]
    assert qs[0].source == "0000-nantes-ville/000.md" and qs[0].lang == "fr"
    # Its targets are the SQuAD ones (containment 0.75), not the gold set's abstention targets.
    from evals.runner import dataset_kind, load_config, targets_for

    squad_targets, title = targets_for(load_config(), dataset_kind(path))
    assert squad_targets == {"answer_containment": 0.75} and "PIAF" in title
    gold_targets, title = targets_for(load_config(), dataset_kind(GOLD))
    assert gold_targets["abstention_recall"] == 0.8 and gold_targets["answer_containment"] == 0.7
    assert "référence" in title


def test_piaf_dev_loads_when_present() -> None:
    piaf = ROOT.parent / "shared" / "data" / "piaf" / "piaf-dev.json"
    if not piaf.exists():
        pytest.skip("PIAF dev split not present")
    qs = load_dataset(piaf)
    assert len(qs) > 100 and all(q.evidence and q.source for q in qs)
