"""Answers on the bundled speech with the extractive writer: the real model, real Chroma, the public entry point."""

from __future__ import annotations

import re

import pytest

from conftest import norm, speech_text
from rag.answer import ABSTAIN_MESSAGES
from rag.citations import markers_in

pytestmark = pytest.mark.real

# (question, a fact the answer must state, a fragment of the passage the citation must quote)
ANSWERABLE = [
    ("Qui prononce le discours d'ouverture ?", "Frédéric Vallier", "Frédéric Vallier"),
    ("Quelle ville préside la commission « Villes innovantes, intelligentes et responsables » ?", "Nantes", "présidée par la Ville de Nantes"),
    ("En quelle année l'AIMF s'est-elle dotée de la commission Villes innovantes ?", "2013", "Dès 2013"),
    ("Depuis quand existe le partenariat stratégique avec l'Union européenne ?", "2015", "depuis 2015"),
    ("Que construit-on à Cotonou ?", "Pôle numérique des services", "Cotonou"),
    ("Quel projet est mené à Phnom Penh ?", "Feuille de Route Ville Intelligente", "Phnom Penh"),
    ("Qui exposera le projet de Tunis ?", "Karim Ouerdani", "Fabrique de la Ville"),
    ("Quel réseau régional de l'AIMF s'est saisi de la thématique des villes intelligentes ?", "RVASE", "RVASE"),
    ("Quelle ville est le moteur de l'ASEAN Smart City Network ?", "Singapour", "Singapour comme moteur"),
    ("Qui modère les tables rondes ?", "Nicolas Mainetti", "modérer les deux tables rondes"),
    ("Combien de villes et provinces partageront leurs expériences ?", "Six villes", "Six villes et provinces"),
    ("Sur quel sujet la Commission travaille-t-elle à partir de 2025 ?", "intelligence artificielle", "entame en 2025"),
    ("Quel guide la commission a-t-elle contribué à élaborer ?", "chartes territoriales de la donnée", "guide sur les chartes"),
    ("Quels projets pilotes ont vu le jour grâce au Fonds de Coopération ?", "Cotonou", "projets pilotes"),
    ("Which city chairs the AIMF commission on innovative cities?", "Nantes", "présidée par la Ville de Nantes"),
    ("What is being built in Cotonou?", "Pôle numérique", "Cotonou"),
    ("Who is the Secretary General of the Association of Cities of Vietnam?", "NGO Hai", "NGO Hai"),
    ("What is Nicolas Mainetti's role?", "Directeur régional", "Nicolas Mainetti"),
]

UNANSWERABLE = [
    "Quel est le budget du Pôle numérique de Cotonou ?",
    "Que fait l'AIMF à Dakar ?",
    "Quel est le nom du maire de Nantes ?",
    "Combien d'habitants compte Phnom Penh ?",
    "En quelle année le Smart City Hub a-t-il été inauguré ?",
    "What is the budget of the Smart City Hub?",
    "Quelle est la capitale du Japon ?",
]


@pytest.fixture(scope="module")
def assistant(speech_index):
    return speech_index[1]


@pytest.mark.parametrize("question,fact,passage_fragment", ANSWERABLE, ids=[q[:40] for q, _, _ in ANSWERABLE])
def test_answers_with_fact_and_exact_citation(assistant, question, fact, passage_fragment):
    answer = assistant.answer(question)
    assert not answer.abstained, answer.text
    assert norm(fact) in norm(answer.text)
    assert answer.citations, "an answer must cite"
    text = speech_text()
    for c in answer.citations:
        # The quote is exact: the indexed text holds it at the citation's offsets.
        assert text[c.start : c.end] == c.quote
        assert c.source == "discours-ouverture-villes-intelligentes.txt"
        assert c.passage[c.quote_start : c.quote_end] == c.quote
    quoted = " ".join(norm(c.quote) for c in answer.citations)
    assert norm(passage_fragment) in quoted
    # Every marker resolves to exactly one citation, and every citation is used.
    used = set(markers_in(answer.text))
    assert used == {c.n for c in answer.citations}
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))


@pytest.mark.parametrize("question", UNANSWERABLE, ids=[q[:40] for q in UNANSWERABLE])
def test_abstains_when_the_documents_do_not_say(assistant, question):
    answer = assistant.answer(question)
    assert answer.abstained, f"should abstain, answered: {answer.text}"
    assert answer.text == ABSTAIN_MESSAGES[answer.lang]
    assert answer.citations == []
    assert not markers_in(answer.text)


def test_extractive_answer_adds_no_words(assistant):
    """Apart from markers, list dashes and the bold of the short answer, every word of an extractive answer comes
    from the cited quotes."""
    for question, _, _ in ANSWERABLE:
        answer = assistant.answer(question)
        body = re.sub(r"\[\d+\]|\*\*", " ", answer.text)
        # words split at elisions too: a short answer may start inside "d'une" ("une Feuille de route …")
        source_words = set(re.findall(r"[\w-]+", norm(" ".join(c.quote for c in answer.citations))))
        extra = [w for w in re.findall(r"[\w-]+", norm(body)) if w not in source_words and w != "-"]
        assert not extra, f"{question}: words not in the sources: {extra}"


def test_relevance_shown_is_low_for_passages_that_do_not_answer(assistant):
    """An unrelated question's passages still have a high cosine; their estimated relevance is under the floor."""
    answer = assistant.answer("Quelle est la capitale du Japon ?")
    assert answer.abstained and answer.further
    assert all(p.score > 0.7 for p in answer.further), [p.score for p in answer.further]  # e5's narrow band
    assert all(p.relevance is not None and p.relevance < assistant.settings.min_relevance for p in answer.further)
    cited = assistant.answer(ANSWERABLE[0][0])
    assert cited.citations and max(c.relevance for c in cited.citations) >= assistant.settings.min_relevance


def test_answer_language_follows_question(assistant):
    assert assistant.answer("Quelle est la capitale du Japon ?").text == ABSTAIN_MESSAGES["fr"]
    assert assistant.answer("What is the capital of Japan?").text == ABSTAIN_MESSAGES["en"]


def test_abstention_offers_closest_passages(assistant):
    answer = assistant.answer("Quel est le budget du Pôle numérique de Cotonou ?")
    assert answer.abstained and answer.further
    assert any("Cotonou" in p.text for p in answer.further)


def test_filter_by_source(assistant):
    answer = assistant.answer("Que construit-on à Cotonou ?", where={"source": "inexistant.txt"})
    assert answer.abstained and not answer.retrieved


def test_streaming_yields_pieces_then_answer(assistant):
    from rag.answer import Answer

    pieces = list(assistant.answer_stream("Que construit-on à Cotonou ?"))
    assert isinstance(pieces[-1], Answer)
    streamed = "".join(p for p in pieces[:-1] if isinstance(p, str))
    assert len(pieces) > 3 and norm(streamed) == norm(pieces[-1].text)


@pytest.mark.parametrize("question", ["", "   \n\t "])
def test_empty_question_is_refused(assistant, question):
    from rag.assistant import QuestionError

    with pytest.raises(QuestionError, match="vide"):
        assistant.answer(question)


def test_too_long_question_is_refused(assistant):
    from rag.assistant import QuestionError

    with pytest.raises(QuestionError, match="trop longue"):
        assistant.answer("Pourquoi ? " * 300)


def test_json_timings_and_fields(assistant):
    answer = assistant.answer("Que construit-on à Cotonou ?")
    data = answer.model_dump()
    assert {"text", "citations", "abstained", "timings"} <= data.keys()
    assert data["timings"]["total"] >= data["timings"]["retrieve"] > 0
    assert {"n", "source", "title", "page", "quote", "start", "end", "score"} <= data["citations"][0].keys()


def _cli_env(settings) -> dict:
    import os

    return {**os.environ, "AIMF_DATA_DIR": str(settings.data_dir), "AIMF_CORPUS_DIR": str(settings.corpus_dir),
            "AIMF_EMBEDDING_MODEL": settings.embedding_model, "AIMF_COLLECTION": settings.collection}


def test_cli_ask_json_and_errors(speech_index):
    import json
    import subprocess
    import sys

    settings, _ = speech_index
    env = _cli_env(settings)
    aimf = [sys.executable, "-m", "aimf.cli"]
    done = subprocess.run([*aimf, "ask", "Quelle ville préside la commission ?", "--json"], env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert "Nantes" in data["text"] and data["citations"][0]["quote"] and data["timings"]["total"] > 0
    human = subprocess.run([*aimf, "ask", "Que construit-on à Cotonou ?"], env=env, capture_output=True, text=True, timeout=180)
    assert human.returncode == 0 and "Sources" in human.stdout and "[1]" in human.stdout
    empty = subprocess.run([*aimf, "ask", "   "], env=env, capture_output=True, text=True, timeout=60)
    assert empty.returncode == 2 and "vide" in empty.stderr
    long = subprocess.run([*aimf, "ask", "x" * 2500], env=env, capture_output=True, text=True, timeout=180)
    assert long.returncode == 2 and "trop longue" in long.stderr


def test_text_around_a_quoted_passage_comes_from_the_document(assistant):
    """Read back from the real index: what precedes and follows a cited passage is the speech's own text."""
    answer = assistant.answer("Quelle ville préside la commission « Villes innovantes, intelligentes et responsables » ?")
    c = answer.citations[0]
    before, after = assistant.surroundings(c.source, c.start, c.end, chars=300)
    speech = norm(speech_text())
    assert before.strip() and norm(before).split()[-1] in speech and norm(before + " " + c.quote)[-200:] in speech
    assert not after.strip() or norm(c.quote + " " + after)[:200] in speech


def test_what_two_documents_both_describe_is_answered_from_both(bundled_index):
    """The whole bundled corpus (real model, real Chroma): the cities expected at one seminar (one document) and the
    city that co-organised another (a second document); the shared name comes first, each statement cited."""
    _, assistant = bundled_index
    answer = assistant.answer("Parmi les villes attendues au séminaire de capitalisation de Yaoundé fin 2021, "
                              "laquelle a coorganisé le séminaire final de l'AIVF ?")
    assert not answer.abstained
    assert answer.text.startswith("**Phnom Penh**")
    sources = {c.source for c in answer.citations}
    assert len(sources) == 2, sources
    assert all("Phnom Penh" in c.quote for c in answer.citations)


def test_an_english_question_is_answered_from_the_french_sentence_that_says_it(bundled_index):
    """The whole bundled corpus (real model, real reader, real Chroma): English documents share the question's words
    on other subjects; the French sentence that answers is scored by its meaning and ranked by the trained reader."""
    _, assistant = bundled_index
    answer = assistant.answer("In which city is the municipal digital services hub being built?")
    assert not answer.abstained
    quoted = " ".join(c.quote for c in answer.citations)
    assert "Cotonou" in quoted and "Pôle numérique" in quoted


def test_a_mayor_named_by_what_two_documents_say_is_found_through_the_city_both_name(bundled_index):
    """The whole bundled corpus (real model, real reader, real Chroma): one document lists the mayors at the 2021
    congress, another says which city got a cultural grant in May 2024; the answer is the mayor of that city, with
    both sentences cited."""
    _assert_answered_from_two_documents(
        bundled_index, "Quel maire du Bénin, venu au congrès de Kigali en 2021, a vu sa ville recevoir en mai 2024 un "
                       "financement pour un projet culturel ?", "**Christian Houétchénou**")


def test_a_difference_between_two_figures_known_by_their_own_words_is_computed_from_two_documents(bundled_index):
    """The whole bundled corpus (real model, real reader, real Chroma): the European grant is given in the note on
    financial partners, the FFEM's contribution in the English FEDACAM sheet; each figure is searched for and read by
    its own description, and the difference comes first, both sentences cited."""
    _assert_answered_from_two_documents(
        bundled_index, "Quel écart y a-t-il entre la subvention de l'Union européenne pour 2022-2025 et la contribution "
                       "du FFEM à la phase 3 de FEDACAM ?", "**2,93 millions €**")


def _assert_answered_from_two_documents(bundled_index, question: str, lead: str) -> None:
    _, assistant = bundled_index
    answer = assistant.answer(question)
    assert not answer.abstained
    assert answer.text.startswith(lead)
    assert len({c.source for c in answer.citations}) >= 2
