"""The sentence reader: its training data (near-miss questions, article halves) and the shipped weights."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from evals.reader_data import (Article, NearMissMaker, Question, eval_cases, load_squad_articles, question_pairs,
                               split_articles)

CORPUS = [
    "Le maire de Dakar a inauguré le marché en 2012. Le projet a coûté 450 millions de francs.",
    "À Abidjan, la mairie a ouvert trois écoles en 2019. La Banque mondiale a financé 30 kilomètres de routes.",
    "Lyon accueille le congrès des villes depuis 1998.",
]


def test_near_miss_swaps_a_year_for_one_found_elsewhere_and_absent_from_the_article():
    maker = NearMissMaker.from_texts(CORPUS)
    article = "Le maire de Dakar a inauguré le marché en 2012."
    for seed in range(20):
        near = maker.make("Quel marché a été inauguré en 2012 ?", article, random.Random(seed))
        assert near is not None and near != "Quel marché a été inauguré en 2012 ?"
        swapped = near.removeprefix("Quel marché a été inauguré en ").removesuffix(" ?")
        assert swapped in {"2019", "1998"}  # a year of the corpus, never the article's own


def test_near_miss_swaps_an_entity_for_another_entity():
    maker = NearMissMaker.from_texts(CORPUS)
    for seed in range(20):
        near = maker.make("Combien d'écoles la mairie d'Abidjan a-t-elle ouvertes ?", CORPUS[1], random.Random(seed))
        assert near is not None
        assert "Abidjan" not in near
        assert any(name in near for name in ("Dakar", "Lyon", "Banque mondiale"))


def test_near_miss_is_none_without_anything_to_swap_or_anything_to_swap_in():
    maker = NearMissMaker.from_texts(CORPUS)
    assert maker.make("qu'est-ce qui a été ouvert ?", CORPUS[1], random.Random(0)) is None
    only_own = NearMissMaker.from_texts(["Le marché de Dakar date de 2012."])
    assert only_own.make("Quel marché date de 2012 ?", "Le marché de Dakar date de 2012.", random.Random(0)) is None


def test_near_miss_keeps_the_question_word_at_the_start():
    maker = NearMissMaker.from_texts(CORPUS)
    near = maker.make("Quand Lyon accueille-t-elle le congrès ?", CORPUS[2], random.Random(3))
    assert near is not None and near.startswith("Quand ") and "Lyon" not in near


def _squad(tmp_path: Path) -> Path:
    def article(i: int) -> dict:
        ctx = f"Première phrase de l'article {i}. La ville de Ville{i} compte {100 + i} habitants. Fin du paragraphe."
        start = ctx.index(str(100 + i))
        qa = {"question": f"Combien d'habitants compte Ville{i} ?", "id": f"q{i}",
              "answers": [{"text": str(100 + i), "answer_start": start}]}
        return {"title": f"Article_{i}", "paragraphs": [{"context": ctx, "qas": [qa]},
                                                          {"context": "Un autre paragraphe. Sans réponse.", "qas": []}]}

    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"version": "1", "data": [article(i) for i in range(5)]}), encoding="utf-8")
    return path


def test_answer_sentence_is_the_one_holding_the_answer_start(tmp_path):
    articles = load_squad_articles(_squad(tmp_path))
    q = articles[3].questions[0]
    assert articles[3].title == "Article 3"
    assert articles[3].paragraphs[q.paragraph][q.sentence] == "La ville de Ville3 compte 103 habitants."


def test_halves_split_articles_and_never_share_one(tmp_path):
    articles = load_squad_articles(_squad(tmp_path))
    train, test = split_articles(articles, "even")
    assert [a.title for a in train] == ["Article 0", "Article 2", "Article 4"]
    assert [a.title for a in test] == ["Article 1", "Article 3"]
    train_odd, test_odd = split_articles(articles, "odd")
    assert [a.title for a in train_odd] == [a.title for a in test]
    assert split_articles(articles, "all") == (articles, [])


def test_pairs_have_one_positive_and_a_near_miss_labelled_unanswered():
    article = Article("Dakar", [["Le marché de Dakar a ouvert en 2012.", "Il compte 300 étals.", "Le maire l'a visité."],
                                ["La ville a planté des arbres.", "Ils sont 500."]])
    q = Question("En quelle année le marché de Dakar a-t-il ouvert ?", 0, 0, ["2012"])
    maker = NearMissMaker.from_texts(CORPUS)
    pairs = question_pairs(article, q, random.Random(1), maker)
    assert [p.label for p in pairs].count(1) == 1
    positive = next(p for p in pairs if p.label == 1)
    assert positive.sentence == "Le marché de Dakar a ouvert en 2012." and positive.context == "Dakar"
    near = [p for p in pairs if p.question != q.text]
    assert len(near) == 1 and near[0].label == 0 and near[0].sentence == positive.sentence
    assert all(p.sentence != positive.sentence for p in pairs if p.label == 0 and p.question == q.text)
    second = next(p for p in pairs if p.sentence == "Il compte 300 étals.") if any(
        p.sentence == "Il compte 300 étals." for p in pairs) else None
    if second is not None:  # the context of a sentence is the title and the sentence before it
        assert second.context == "Dakar. Le marché de Dakar a ouvert en 2012."


def test_eval_candidates_are_three_paragraphs_of_the_same_article(tmp_path):
    article = Article("T", [["a0.", "a1."], ["b0."], ["c0.", "c1.", "c2."], ["d0."]])
    article.questions = [Question("Quoi ?", 2, 1, ["x"])]
    (case,) = eval_cases([article], seed=0, maker=None)
    assert [s for _, s in case.items] == ["c0.", "c1.", "c2.", "d0.", "a0.", "a1."]
    assert case.items[case.answer][1] == "c1." and case.paragraph == slice(0, 3)


# ---------------------------------------------------------------------------------------------- the shipped reader


@pytest.fixture(scope="module")
def shipped_reader(e5_model_dir):
    from rag.reader import MODEL_DIR, Reader

    if not (MODEL_DIR / "card.json").is_file():
        pytest.fail("no reader shipped in rag/models/reader (run `aimf train reader`)")
    return e5_model_dir, Reader.open(e5_model_dir)


@pytest.mark.real
@pytest.mark.parametrize("question, good, bad", [
    ("Combien d'habitants compte la commune de Porto-Novo ?",
     "Selon le dernier recensement, Porto-Novo compte environ 264 000 habitants.",
     "Porto-Novo est connue pour son musée ethnographique et ses maisons afro-brésiliennes."),
    ("En quelle année la bibliothèque municipale de Saint-Louis a-t-elle été rénovée ?",
     "La bibliothèque municipale de Saint-Louis a été entièrement rénovée en 2017 grâce à un financement de la ville.",
     "La bibliothèque municipale de Saint-Louis prête des livres aux écoles du quartier."),
    ("Qui préside l'association des maires du Cameroun ?",
     "L'association des maires du Cameroun est présidée par Augustin Tamba depuis sa création.",
     "L'association des maires du Cameroun réunit ses membres chaque année à Yaoundé."),
])
def test_shipped_reader_ranks_the_answering_sentence_first(shipped_reader, question, good, bad):
    _, reader = shipped_reader
    title = "Rapport annuel des villes"
    scores = reader.score(question, [(title, bad), (title, good)])
    assert scores.shape == (2,) and 0 <= scores.min() and scores.max() <= 1
    assert scores[1] > scores[0]


@pytest.mark.real
def test_shipped_reader_tells_a_passage_that_answers_from_one_about_another_city(shipped_reader):
    _, reader = shipped_reader
    passage = ("Le programme d'assainissement a été lancé en 2019. La ville de Dakar y a consacré 12 millions d'euros. "
               "Les travaux se poursuivent dans trois quartiers.")
    answered = reader.support("Combien la ville de Dakar a-t-elle consacré au programme d'assainissement ?", passage,
                              title="Assainissement")
    other = reader.support("Combien la ville de Niamey a-t-elle consacré au programme d'assainissement ?", passage,
                           title="Assainissement")
    assert answered > other


@pytest.mark.real
def test_reader_bound_to_another_base_model_is_refused_clearly(shipped_reader, tmp_path, caplog):
    from rag.reader import CARD_NAME, MODEL_DIR, WEIGHTS_NAME, Reader, ReaderError

    model, _ = shipped_reader
    folder = tmp_path / "reader"
    folder.mkdir()
    shutil.copy(MODEL_DIR / WEIGHTS_NAME, folder / WEIGHTS_NAME)
    card = json.loads((MODEL_DIR / CARD_NAME).read_text(encoding="utf-8"))
    card["base_model"]["weights_sha256"] = "0" * 64
    (folder / CARD_NAME).write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ReaderError, match="autre modèle de base"):
        Reader.open(model, folder)


def test_reader_off_or_absent_is_none_with_the_reason_logged(tmp_path, monkeypatch, caplog):
    import rag.reader as reader_mod
    from rag.settings import Settings

    assert reader_mod.Reader.load(Settings(_env_file=None, reader="off")) is None
    monkeypatch.setattr(reader_mod, "MODEL_DIR", tmp_path / "nothing")
    monkeypatch.setattr("rag.embeddings.resolve_model_path", lambda settings: str(tmp_path))
    with caplog.at_level("WARNING", logger="rag.reader"):
        assert reader_mod.Reader.load(Settings(_env_file=None, data_dir=tmp_path)) is None
    assert "aucun lecteur entraîné" in caplog.text


def test_rank_loss_rewards_the_answer_first_and_ignores_groups_without_one():
    import torch

    from evals.train_reader import _rank_loss

    labels = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0])  # a question of three candidates, then a near-miss alone, ...
    sizes = [3, 1, 1]
    first = _rank_loss(torch.tensor([3.0, 0.0, 0.0, 5.0, -5.0]), labels, sizes)
    last = _rank_loss(torch.tensor([-3.0, 0.0, 0.0, 5.0, -5.0]), labels, sizes)
    assert first < last
    # Only the three-candidate group counts: -log softmax of its answer.
    assert torch.isclose(first, -torch.log_softmax(torch.tensor([3.0, 0.0, 0.0]), 0)[0])
    assert _rank_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0]), [2]) == 0
