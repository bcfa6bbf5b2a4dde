"""Gold questions turned into reader examples (evals/reader_gold.py), with a fake search over made-up passages."""

from __future__ import annotations

from evals.dataset import GoldQuestion
from evals.reader_gold import answer_span, find, gold_examples

SIEGE = "Une naissance à Québec en 1979. L’association a son siège à Paris, rue de Rivoli. Elle réunit des maires."
OTHER = "Le Bureau s'est réuni à Tunis le 18 novembre 2022 et a voté 14 projets."


def gq(question: str, answer: str = "", evidence=(), key_terms=(), answerable: bool = True) -> GoldQuestion:
    return GoldQuestion(id="x", lang="fr", question=question, answer=answer, evidence=list(evidence),
                        key_terms=list(key_terms), answerable=answerable)


def test_a_phrase_is_found_whatever_its_apostrophes_case_and_spaces() -> None:
    assert find("l'association a son  SIÈGE", SIEGE) == (SIEGE.index("L’association"), SIEGE.index(" à Paris"))
    assert find("Lyon", SIEGE) is None


def test_the_answer_is_the_reference_inside_the_evidence_else_its_key_terms_there() -> None:
    q = gq("Où est le siège ?", "à Paris", ["son siège à Paris"], ["Paris"])
    a, b = answer_span(q, SIEGE)
    assert SIEGE[a:b] == "à Paris"
    worded = gq("Where is the head office?", "In Paris, rue de Rivoli", ["son siège à Paris, rue de Rivoli"],
                ["Paris", "Rivoli"])
    a, b = answer_span(worded, SIEGE)
    assert SIEGE[a:b] == "Paris, rue de Rivoli"  # from the first key term to the last, inside the evidence
    alternatives = gq("Combien de projets ?", "Fourteen projects", ["a voté 14 projets"], ["fourteen|14"])
    a, b = answer_span(alternatives, OTHER)
    assert OTHER[a:b] == "14"
    assert answer_span(q, OTHER) is None  # no evidence in this passage: it does not answer


def test_gold_examples_place_answers_and_take_real_near_misses_from_the_search() -> None:
    passages = {"Où est le siège de l'AIMF ?": [("Réunion", OTHER), ("Histoire", SIEGE)],
                "Quel est le budget du siège ?": [("Histoire", SIEGE), ("Réunion", OTHER)],
                "Combien de villes ont voté ?": [("Réunion", OTHER)]}

    def fake_search(question: str):  # FAKE retriever: fixed passages per question
        return passages[question]

    questions = [gq("Où est le siège de l'AIMF ?", "à Paris", ["son siège à Paris"], ["Paris"]),
                 gq("Quel est le budget du siège ?", answerable=False),
                 gq("Combien de villes ont voté ?", "20 villes", ["vingt villes ont voté"], ["20|vingt"])]
    examples = gold_examples(questions, fake_search)
    placed = [e for e in examples if e.start is not None]
    assert [(e.question, e.answer, e.text[e.start:e.start + len(e.answer)]) for e in placed] == [
        ("Où est le siège de l'AIMF ?", "à Paris", "à Paris")]
    none = [(e.question, e.title) for e in examples if e.start is None]
    # the answerable question's other passage, then the unanswerable's two best passages; the last question's
    # answer is in no passage: no example at all
    assert none == [("Où est le siège de l'AIMF ?", "Réunion"), ("Quel est le budget du siège ?", "Histoire"),
                    ("Quel est le budget du siège ?", "Réunion")]


def test_a_near_miss_of_each_placed_question_is_read_against_its_answering_passage() -> None:
    import random

    from evals.reader_data import NearMissMaker
    from evals.reader_gold import GoldStats

    def fake_search(question: str):  # FAKE retriever: the same two passages for every question
        return [("Réunion", OTHER), ("Histoire", SIEGE)]

    # the corpus names Dakar and 2019 (never in the answering passage), Paris and 1979 (in it: never swapped in)
    maker = NearMissMaker.from_texts(["À Dakar en 2019, le Bureau a voté.", SIEGE])
    rng = random.Random(0)
    stats = GoldStats()
    questions = [gq("Où est le siège de l'AIMF en 1979 ?", "à Paris", ["son siège à Paris"], ["Paris"]),
                 gq("Quel est le budget du siège ?", answerable=False)]
    examples = gold_examples(questions, fake_search, stats, lambda q, passage: maker.make(q, passage, rng))
    near = [e for e in examples if e.start is None and e.question not in {q.question for q in questions}]
    assert stats.near_misses == len(near) == 1
    (e,) = near
    assert e.text == SIEGE and e.answer is None  # the passage that answers the real question, now with no answer
    # one thing of the question swapped for a name or year of the corpus that the passage never mentions
    swapped_in = [w for w in ("Dakar", "2019", "Bureau") if w in e.question]
    assert len(swapped_in) == 1 and swapped_in[0] not in SIEGE
    assert e.question.count("AIMF") + e.question.count("1979") == 1
    # without a near-miss maker, the same questions give no made-up question
    assert all(x.question in {q.question for q in questions} for x in gold_examples(questions, fake_search))
