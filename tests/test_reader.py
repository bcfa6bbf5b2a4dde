"""The span reader: its training data (near-miss questions, article halves), span decoding, and the shipped weights."""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from evals.reader_data import (Article, NearMissMaker, Question, eval_cases, load_squad_articles, question_examples,
                               split_articles)
from rag.reader import Span, Window, best_scores, best_spans

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


def _squad(tmp_path: Path, offset_error: int = 0) -> Path:
    def article(i: int) -> dict:
        ctx = f"Première phrase de l'article {i}. La ville de Ville{i} compte {100 + i} habitants. Fin du paragraphe."
        start = ctx.index(str(100 + i)) + offset_error
        qa = {"question": f"Combien d'habitants compte Ville{i} ?", "id": f"q{i}",
              "answers": [{"text": str(100 + i), "answer_start": start}]}
        return {"title": f"Article_{i}", "paragraphs": [{"context": ctx, "qas": [qa]},
                                                          {"context": "Un autre paragraphe. Sans réponse.", "qas": []}]}

    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"version": "1", "data": [article(i) for i in range(5)]}), encoding="utf-8")
    return path


def test_answer_is_located_by_its_text_even_when_its_offset_is_one_off(tmp_path):
    for error in (0, 1, -1):
        articles = load_squad_articles(_squad(tmp_path, error))
        q = articles[3].questions[0]
        assert articles[3].title == "Article 3"
        text = articles[3].paragraphs[q.paragraph]
        assert text[q.start : q.start + 3] == "103"


def test_halves_split_articles_and_never_share_one(tmp_path):
    articles = load_squad_articles(_squad(tmp_path))
    train, test = split_articles(articles, "even")
    assert [a.title for a in train] == ["Article 0", "Article 2", "Article 4"]
    assert [a.title for a in test] == ["Article 1", "Article 3"]
    train_odd, test_odd = split_articles(articles, "odd")
    assert [a.title for a in train_odd] == [a.title for a in test]
    assert split_articles(articles, "all") == (articles, [])


def test_examples_are_the_answer_another_paragraph_without_it_and_a_near_miss():
    article = Article("Dakar", ["Le marché de Dakar a ouvert en 2012. Il compte 300 étals.",
                                "La ville a planté des arbres en 2012.",  # holds the answer text: never a "no answer"
                                "La ville a planté 500 arbres."])
    text = article.paragraphs[0]
    q = Question("En quelle année le marché de Dakar a-t-il ouvert ?", 0, text.index("2012"), ["2012"])
    maker = NearMissMaker.from_texts(CORPUS)
    for seed in range(10):
        examples = question_examples(article, q, random.Random(seed), maker)
        answered = [e for e in examples if e.start is not None]
        assert len(answered) == 1 and answered[0].text[answered[0].start :].startswith("2012")
        others = [e for e in examples if e.start is None and e.question == q.text]
        assert [e.text for e in others] == ["La ville a planté 500 arbres."]
        near = [e for e in examples if e.question != q.text]
        assert len(near) == 1 and near[0].start is None and near[0].text == text


def test_eval_reads_the_question_paragraph_first_then_two_others_of_its_article():
    article = Article("T", ["Alpha. Beta.", "Gamma.", "Delta un. Delta deux ici. Delta trois.", "Epsilon."])
    article.questions = [Question("Quoi ?", 2, article.paragraphs[2].index("ici"), ["ici"])]
    (case,) = eval_cases([article], seed=0, maker=None)
    assert [t for _, t in case.passages] == ["Delta un. Delta deux ici. Delta trois.", "Epsilon.", "Alpha. Beta."]
    a, b = case.sentence
    assert case.passages[0][1][a:b] == "Delta deux ici."


# ---------------------------------------------------------------------------------------------- span decoding


def _window(n_tokens: int, passage: int = 0, body_start: int = 3) -> Window:
    offsets = [(4 * k, 4 * k + 3) for k in range(n_tokens)]  # token k is characters 4k..4k+3 of "aaa bbb ccc …"
    return Window([0] * (body_start + n_tokens + 1), body_start, offsets, passage)


def _text(n_tokens: int) -> str:
    return " ".join(chr(ord("a") + k) * 3 for k in range(n_tokens))


def test_best_span_is_the_best_start_end_pair_minus_the_no_answer_logits():
    w = _window(5)
    logits = np.zeros((len(w.ids), 2), np.float32)
    logits[0] = [1.0, 1.0]  # "no answer": 2
    logits[3 + 1, 0], logits[3 + 2, 1] = 4.0, 3.0  # start on token 1, end on token 2
    logits[3 + 4, 0] = 6.0  # a better start, but no end after it scores as well as token 2's
    (span,) = best_spans([logits], [w], [_text(5)])
    assert span == Span(0, 4, 11, "bbb ccc", 4.0 + 3.0 - 2.0)


def test_best_span_never_ends_before_it_starts_and_stays_inside_within():
    w = _window(5)
    logits = np.zeros((len(w.ids), 2), np.float32)
    logits[3 + 3, 0], logits[3 + 1, 1] = 9.0, 9.0  # start on token 3, end on token 1: not a span
    logits[3 + 0, 0] = 2.0
    (span,) = best_spans([logits], [w], [_text(5)])
    assert (span.text, span.score) == ("aaa bbb", 11.0)  # start 0 (2) + end 1 (9), not start 3 + end 1 (18)
    (inside,) = best_spans([logits], [w], [_text(5)], within=[(8, 19)])  # only "ccc ddd eee"
    assert (inside.text, inside.score) == ("ddd", 9.0)
    assert best_spans([logits], [w], [_text(5)], within=[(100, 120)]) == [None]


def test_best_scores_are_the_scores_of_the_best_span_inside_each_piece():
    w, other = _window(6), _window(6, passage=1)
    logits = np.random.default_rng(3).normal(size=(len(w.ids), 2)).astype(np.float32)
    quiet = np.zeros((len(other.ids), 2), np.float32)
    pieces = [(0, 0, 7), (0, 8, 23), (0, 100, 120), (1, 0, 11), (2, 0, 5)]  # the last two: unread or absent passages
    scores = best_scores([logits, quiet], [w, other], [_text(6), _text(6)], pieces[:4] + [(0, 4, 7)])
    for (p, lo, hi), score in zip([(0, 0, 7), (0, 8, 23), (0, 4, 7)], [scores[0], scores[1], scores[4]]):
        (span,) = best_spans([logits], [w], [_text(6)], within=[(lo, hi)])
        assert score == pytest.approx(span.score)
    assert scores[2] is None  # no token inside
    assert scores[3] == pytest.approx(0.0)  # passage 1 read: every span scores as "no answer"
    assert best_scores([logits], [w], [_text(6)], pieces[4:]) == [None]


def test_best_span_keeps_the_better_window_of_a_passage_and_one_span_per_passage():
    a, b, c = _window(3, 0), _window(3, 0), _window(3, 1)
    la, lb, lc = (np.zeros((len(w.ids), 2), np.float32) for w in (a, b, c))
    la[3, :] = 1.0
    lb[4, :] = 5.0
    lc[5, :] = 2.0
    spans = best_spans([la, lb, lc], [a, b, c], [_text(3), _text(3)])
    assert [s.text for s in spans] == ["bbb", "ccc"]
    assert spans[0].score == pytest.approx(10.0)


def test_a_span_is_chosen_away_from_the_question_words_but_keeps_the_model_score():
    text = "grise plus claire que le noir"
    offsets = [(0, 5), (6, 10), (11, 17), (18, 21), (22, 24), (25, 29)]
    w = Window([0] * (3 + len(offsets) + 1), 3, offsets, 0)
    logits = np.zeros((len(w.ids), 2), np.float32)
    logits[3 + 0, 0] = 5.0  # starts on "grise"
    logits[3 + 5, 1] = 4.0  # ends best on "noir", a word of the question
    logits[3 + 0, 1] = 3.0  # ends second best on "grise"
    (plain,) = best_spans([logits], [w], [text])
    assert plain.text == text
    (chosen,) = best_spans([logits], [w], [text], question_words=frozenset({"noir"}))
    assert (chosen.text, chosen.score) == ("grise", 8.0)  # 5 + 3: the model's own score, no cost in it


def test_a_span_is_made_of_whole_words():
    text = "vers la fin des années 1950 au plus tard"
    # the model's tokens cut "1950" in two: "19" (22-24) and "50" (24-26)
    offsets = [(0, 4), (5, 7), (8, 11), (12, 15), (16, 22), (22, 24), (24, 26), (27, 29)]
    w = Window([0] * (3 + len(offsets) + 1), 3, offsets, 0)
    logits = np.zeros((len(w.ids), 2), np.float32)
    logits[3 + 6, :] = 5.0  # start and end on "50"
    (span,) = best_spans([logits], [w], [text])
    assert span.text == "1950"


# ---------------------------------------------------------------------------------------------- the shipped reader


def test_a_passage_is_cut_into_the_same_windows_whether_read_alone_or_beside_a_longer_one(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    from rag.reader import SpanEncoder

    words = ["<s>", "</s>", "<pad>", "<unk>", "query", "passage", ":", "court", "long", "mot", "titre", "q"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.enable_padding(pad_id=2, pad_token="<pad>")  # as the bundled tokenizer ships: pads a batch to its longest
    tok.save(str(tmp_path / "tokenizer.json"))
    encoder = SpanEncoder(tmp_path / "tokenizer.json")
    short, longer = ("titre", "court mot"), ("titre long titre long", " ".join(["mot"] * 400))
    alone = encoder.windows("q", [short])
    beside = [w for w in encoder.windows("q", [short, longer]) if w.passage == 0]
    assert [(w.ids, w.offsets) for w in beside] == [(w.ids, w.offsets) for w in alone]
    assert 2 not in beside[0].ids  # no "<pad>" read as a word


class FakeWindowReader:
    """A FAKE reader for the reading cache: cuts a passage into overlapping windows of 4 words (2 shared) and gives
    each token made-up logits from its word and the question; counts the windows it runs."""

    def __init__(self) -> None:
        self.run = 0

    def windows(self, question, passages):
        out = []
        for p, (_, text) in enumerate(passages):
            words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
            for start in range(0, max(1, len(words) - 2), 2):
                offsets = words[start : start + 4]
                out.append(Window([hash((question, text, start))] + [0] * (len(offsets) + 3), 3, offsets, p))
        return out

    def logits(self, windows):
        self.run += len(windows)
        return [np.random.default_rng(abs(w.ids[0]) % 2**32).normal(size=(len(w.ids), 2)).astype(np.float32)
                for w in windows]


def test_reading_cache_reads_only_the_windows_over_the_ranges_asked_and_gives_what_a_full_reading_gives():
    from rag.reader import Reading, ReadingCache

    text = " ".join(f"mot{k}" for k in range(30))  # 14 windows of 4 words
    pieces = [(0, text.index("mot5"), text.index("mot8") + 4), (0, text.index("mot21"), text.index("mot22") + 5)]
    fake = FakeWindowReader()
    windows = fake.windows("q", [("t", text)])
    full = Reading(windows, fake.logits(windows), [text])
    fake.run, cache = 0, ReadingCache()
    part = cache.reading(fake, "q", [("t", text)], [[(lo, hi) for _, lo, hi in pieces]])
    assert 0 < fake.run < len(windows) and len(part.windows) == fake.run
    assert part.scores(pieces) == full.scores(pieces)
    assert part.spans([pieces[0][1:]]) == full.spans([pieces[0][1:]])
    before = fake.run
    whole = cache.reading(fake, "q", [("t", text)])  # the rest of the passage: only the windows not read yet
    assert fake.run == len(windows) and fake.run - before == len(windows) - before
    assert whole.spans() == full.spans()
    again = cache.reading(fake, "q", [("t", text)], [[(lo, hi) for _, lo, hi in pieces]])
    assert fake.run == len(windows) and len(again.windows) == len(part.windows)  # nothing read twice, same windows
    cache.reading(fake, "another question", [("t", text)], [[pieces[0][1:]]])
    assert fake.run > len(windows)  # readings belong to one question


@pytest.fixture(scope="module")
def shipped_reader(e5_model_dir):
    from rag.reader import MODEL_DIR, Reader

    if not (MODEL_DIR / "card.json").is_file():
        pytest.fail("no reader shipped in rag/models/reader (run `aimf train reader`)")
    return e5_model_dir, Reader.open(e5_model_dir)


@pytest.mark.real
@pytest.mark.parametrize("question, passage, answer", [
    ("Combien d'habitants compte la commune de Porto-Novo ?",
     "Porto-Novo est connue pour son musée ethnographique. Selon le dernier recensement, la commune compte environ "
     "264 000 habitants. Elle est la capitale du Bénin.", "264 000"),
    ("En quelle année la bibliothèque municipale de Saint-Louis a-t-elle été rénovée ?",
     "La bibliothèque municipale de Saint-Louis prête des livres aux écoles. Elle a été entièrement rénovée en 2017 "
     "grâce à un financement de la ville.", "2017"),
    ("Qui préside l'association des maires du Cameroun ?",
     "L'association des maires du Cameroun réunit ses membres chaque année à Yaoundé. Elle est présidée par "
     "Augustin Tamba depuis sa création.", "Augustin Tamba"),
])
def test_shipped_reader_finds_the_short_answer_in_a_passage_it_never_saw(shipped_reader, question, passage, answer):
    _, reader = shipped_reader
    (span,) = reader.read(question, [("Rapport annuel des villes", passage)])
    # It points at the answer (a word in common, not three times as long); exact match is not asked of a small reader.
    assert span is not None and set(span.text.split()) & set(answer.split()) and len(span.text) <= 3 * len(answer)
    assert passage[span.start : span.end] == span.text


@pytest.mark.real
def test_shipped_reader_prefers_the_passage_that_answers_and_doubts_a_question_about_another_city(shipped_reader):
    _, reader = shipped_reader
    passage = ("Le programme d'assainissement a été lancé en 2019. La ville de Dakar y a consacré 12 millions d'euros. "
               "Les travaux se poursuivent dans trois quartiers.")
    unrelated = "Le marché central a été reconstruit après l'incendie. Il accueille 800 commerçants."
    spans = reader.read("Combien la ville de Dakar a-t-elle consacré au programme d'assainissement ?",
                        [("Marchés", unrelated), ("Assainissement", passage)])
    assert "12 millions" in spans[1].text and spans[1].score > spans[0].score
    asked = reader.support("Combien la ville de Dakar a-t-elle consacré au programme d'assainissement ?", passage,
                           title="Assainissement")
    other = reader.support("Combien la ville de Niamey a-t-elle consacré au programme d'assainissement ?", passage,
                           title="Assainissement")
    assert asked > other


@pytest.mark.real
def test_long_passage_is_read_in_overlapping_windows_and_the_answer_found_at_its_end(shipped_reader):
    _, reader = shipped_reader
    filler = " ".join(f"La séance numéro {i} a porté sur les marchés et la voirie du quartier." for i in range(40))
    passage = filler + " Le budget de l'éclairage public a été fixé à 3,5 millions d'euros en 2021."
    windows = reader.encoder.windows("Quel budget pour l'éclairage public ?", [("Conseil", passage)])
    assert len(windows) > 1 and all(len(w.ids) <= reader.encoder.max_len for w in windows)
    assert windows[1].offsets[0][0] < windows[0].offsets[-1][1]  # they overlap
    (span,) = reader.read("Quel budget a été fixé pour l'éclairage public ?", [("Conseil", passage)])
    assert "3,5 millions" in span.text


@pytest.mark.real
def test_reading_a_sentence_of_a_long_passage_reads_its_windows_only_and_scores_it_as_the_whole_reading(shipped_reader):
    from rag.reader import ReadingCache

    _, reader = shipped_reader
    filler = " ".join(f"La séance numéro {i} a porté sur les marchés et la voirie du quartier." for i in range(40))
    sentence = "Le budget de l'éclairage public a été fixé à 3,5 millions d'euros en 2021."
    passage = filler + " " + sentence
    question, lo = "Quel budget a été fixé pour l'éclairage public ?", passage.index(sentence)
    piece = [(0, lo, len(passage))]
    partial = ReadingCache().reading(reader, question, [("Conseil", passage)], [[(lo, len(passage))]])
    whole = reader.reading(question, [("Conseil", passage)])
    assert len(partial.windows) < len(whole.windows)
    assert partial.scores(piece) == pytest.approx(whole.scores(piece), abs=1e-4)
    assert partial.spans([(lo, len(passage))])[0].text == whole.spans([(lo, len(passage))])[0].text


@pytest.mark.real
def test_reader_bound_to_another_base_model_is_refused_clearly(shipped_reader, tmp_path):
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


@pytest.mark.parametrize("native, setting, expected", [
    (False, "auto", "float32"), (True, "auto", "bfloat16"),
    (False, "bfloat16", "bfloat16"), (True, "float32", "float32"),
])
def test_compute_type_is_bf16_only_where_the_cpu_has_it_unless_set(tmp_path, monkeypatch, native, setting, expected):
    """bf16 emulated on a CPU without its instructions was 5 to 6x slower than float32: ``auto`` follows the CPU
    (here a fake CPU), an explicit setting wins, and the reader's autocast follows the same choice."""
    import rag.embeddings
    import rag.reader as reader_mod
    from rag.settings import Settings

    monkeypatch.setattr(rag.embeddings, "native_bf16", lambda: native)
    settings = Settings(_env_file=None, data_dir=tmp_path, embedding_dtype=setting)
    assert rag.embeddings.compute_dtype(settings) == expected
    opened = {}
    monkeypatch.setattr(rag.embeddings, "resolve_model_path", lambda s: str(tmp_path / "e5"))
    monkeypatch.setattr(reader_mod.Reader, "open", classmethod(lambda cls, path, folder, bf16: opened.setdefault("bf16", bf16)))
    monkeypatch.setattr(reader_mod.Reader, "_cache", {})
    reader_mod.Reader.load(settings)
    assert opened == {"bf16": expected == "bfloat16"}


def test_answer_tokens_cover_exactly_the_answer_characters():
    from evals.train_reader import answer_tokens

    w = _window(5)
    assert answer_tokens(w, 4, 11) == (3 + 1, 3 + 2)  # "bbb ccc"
    assert answer_tokens(w, 16, 19) == (3 + 4, 3 + 4)  # "eee"
    short = Window(w.ids, w.body_start, w.offsets[:2], 0)  # a window that stops before the answer's end
    assert answer_tokens(short, 4, 11) is None


def test_int8_weights_are_the_float16_ones_to_a_small_rounding_and_half_the_size():
    import torch

    from rag.reader import pack, unpack

    torch.manual_seed(0)
    weights = {"layer.dense.weight": torch.randn(64, 32), "layer.dense.bias": torch.randn(64)}
    small = pack(weights, "int8")
    assert small["layer.dense.weight"].dtype == torch.int8 and small["layer.dense.bias"].dtype == torch.float16
    back = unpack(small, "int8")
    assert set(back) == set(weights)  # the scales are no weights of their own
    error = (back["layer.dense.weight"] - weights["layer.dense.weight"]).abs().max()
    assert error <= weights["layer.dense.weight"].abs().max() / 127  # half a step of the row's scale, at most
    half = pack(weights, "float16")
    assert torch.equal(unpack(half)["layer.dense.weight"], weights["layer.dense.weight"].half().float())
    size = lambda packed: sum(t.numel() * t.element_size() for t in packed.values())  # noqa: E731
    assert size(small) < 0.6 * size(half)
    # converting a float16 file gives what training writes from the float32 weights
    assert all(torch.equal(pack(half, "int8")[k], small[k]) for k in small)
    with pytest.raises(ValueError):
        pack(weights, "int4")


@pytest.mark.real
@pytest.mark.parametrize("dtype", ["float16", "int8"])
def test_train_reader_writes_weights_and_a_card_that_load_back(tmp_path, e5_model_dir, monkeypatch, dtype):
    """`aimf train reader` end to end on a tiny SQuAD file: two steps, then the written reader loads and reads."""
    import argparse

    from evals import train_reader
    from rag.reader import CARD_NAME, Reader

    monkeypatch.setattr("rag.embeddings.resolve_model_path", lambda settings: str(e5_model_dir))
    parser = argparse.ArgumentParser()
    train_reader.add_arguments(parser)
    out = tmp_path / "reader"
    args = parser.parse_args(["reader", "--squad", str(_squad(tmp_path)), "--max-steps", "2", "--batch", "4",
                              "--out", str(out), "--results", str(tmp_path / "results.json"), "--weights-dtype", dtype])
    assert train_reader.run(args) == 0
    card = json.loads((out / CARD_NAME).read_text(encoding="utf-8"))
    assert card["weights_dtype"] == dtype
    assert card["training"]["steps"] == 2 and card["seed"] == 13 and len(card["data"]["sha256"]) == 64
    assert card["figures"]["reader"]["near_miss_questions"] >= 0 and "word_overlap" in card["figures"]["baselines"]
    reader = Reader.open(e5_model_dir, out)
    (span,) = reader.read("Combien d'habitants compte Ville1 ?", [("Ville1", "La ville de Ville1 compte 101 habitants.")])
    assert span is not None and span.text in "La ville de Ville1 compte 101 habitants."
    assert json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))


def test_doctor_reports_a_missing_reader_with_the_command_that_rebuilds_it(tmp_path, monkeypatch):
    import rag.reader as reader_mod
    from rag.doctor import check_reader
    from rag.settings import Settings

    assert check_reader(Settings(_env_file=None, reader="off"), {}).ok
    monkeypatch.setattr(reader_mod, "MODEL_DIR", tmp_path / "nothing")
    monkeypatch.setattr("rag.embeddings.resolve_model_path", lambda settings: str(tmp_path))
    check = check_reader(Settings(_env_file=None, data_dir=tmp_path), {})
    assert not check.ok and not check.essential and "aimf train reader" in check.fix


def test_a_reader_folder_can_be_named_and_a_folder_without_a_card_is_refused(tmp_path):
    from pydantic import ValidationError

    from rag.reader import CARD_NAME, MODEL_DIR, reader_folder
    from rag.settings import Settings

    assert reader_folder(Settings(_env_file=None)) == MODEL_DIR
    (tmp_path / CARD_NAME).write_text("{}", encoding="utf-8")
    assert reader_folder(Settings(_env_file=None, reader=str(tmp_path))) == tmp_path
    with pytest.raises(ValidationError, match="dossier d'un lecteur entraîné"):
        Settings(_env_file=None, reader=str(tmp_path / "nothing"))


@pytest.mark.real
def test_train_reader_learns_gold_questions_from_the_real_index_with_their_near_misses(tmp_path, bundled_index,
                                                                                       monkeypatch):
    """`aimf train reader --gold FILE --gold-near-miss`: the gold questions are put to the REAL retriever over the
    bundled corpus; the answerable one gives its passage with the answer, and a near-miss made from the corpus."""
    import argparse

    from evals import train_reader
    from rag.reader import CARD_NAME

    settings, _ = bundled_index
    monkeypatch.setattr("rag.settings.get_settings", lambda: settings)
    gold = tmp_path / "gold.jsonl"
    rows = [{"id": "a", "lang": "fr", "question": "Quel montant de subventions le Bureau a-t-il accordé lors de sa "
             "réunion du 9 octobre 2015 ?", "answer": "Plus de 2 millions d'euros",
             "evidence": ["le Bureau a accordé plus de 2 millions d'euros de subventions"], "type": "number",
             "answerable": True, "key_terms": ["2 millions"]},
            {"id": "b", "lang": "fr", "question": "Quel est le budget du Pôle numérique des services municipaux de "
             "Cotonou ?", "answer": "", "evidence": [], "type": "number", "answerable": False}]
    gold.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    parser = argparse.ArgumentParser()
    train_reader.add_arguments(parser)
    cards = {}
    for flag in ("--gold-near-miss", "--no-gold-near-miss"):
        out = tmp_path / flag
        args = parser.parse_args(["reader", "--squad", str(_squad(tmp_path)), "--max-steps", "1", "--batch", "4",
                                  "--layers", "2", "--gold", str(gold), flag, "--out", str(out),
                                  "--results", str(tmp_path / "results.json")])
        assert train_reader.run(args) == 0
        cards[flag] = json.loads((out / CARD_NAME).read_text(encoding="utf-8"))["data"]
    with_near, without = cards["--gold-near-miss"], cards["--no-gold-near-miss"]
    assert with_near["gold_near_miss"] and not without["gold_near_miss"]
    # placed answer + a retrieved passage without it + the unanswerable's two passages (+ one near-miss)
    assert without["gold_examples"] == 4 and with_near["gold_examples"] == 5
    assert with_near["sha256"] != without["sha256"]
