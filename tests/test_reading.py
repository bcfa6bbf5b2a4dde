"""Reading what was asked: constraints a sentence must meet, "not for this one but for that one", one sentence per
part, and the short answer first. Made-up sentences only, no model (pure functions)."""

from __future__ import annotations

import math

import pytest

from rag.answer import Passage
from rag.generators.extractive import ExtractiveGenerator, _asks, _short_answer
from rag.text import tokens
from rag.question import constraints, context_text, frame, holds, normalize_typography


def passage(text: str, title: str = "", n: int = 1, source: str = "") -> Passage:
    return Passage(chunk_id=f"c{n}", source=source or f"doc{n}.md", title=title, text=text, lang="fr")


def compose(question: str, *passages: Passage):
    return ExtractiveGenerator().compose(question, list(passages), "en" if question.startswith(("What", "How", "Who", "When", "In")) else "fr")


# --- the question's constraints ---------------------------------------------------------------------------------
def test_names_and_years_are_constraints_question_words_and_ordinals_are_not() -> None:
    found = {(c.text, c.kind) for c in constraints("Quel montant la Ville de Lille a-t-elle reçu en 2021 sous Louis XIVe ?")}
    assert ("Lille", "name") in found and ("2021", "year") in found and ("Ville", "name") in found
    assert not any(t in {"Quel", "XIVe"} for t, _ in found)
    # a Roman-numeral test must not take ordinary capitalised words for ordinals
    assert {"Lille", "Ville"} <= {c.text for c in constraints("Et Lille, Ville d'art ?")}


def test_across_languages_only_lone_names_years_and_acronyms_count() -> None:
    found = {c.text for c in constraints("How much did the European Union give AIMF in 2019 for projects in Dakar?", names=False)}
    assert found == {"AIMF", "Dakar", "2019"}


def test_two_subjects_joined_by_and_are_alternatives() -> None:
    f = frame("Quel budget pour Dakar et pour Abidjan ?")
    assert {c.text for c in f.alternatives} == {"Dakar", "Abidjan"} and not f.constraints


def test_a_constraint_holds_in_another_spelling_but_not_in_another_name() -> None:
    ctx = context_text("Les villes du Cameroun ont reçu 2 millions d'euros.")
    assert holds(constraints("What did the cities of Cameroon receive?")[0], ctx)
    assert not holds(constraints("Qu'ont reçu les villes du Sénégal ?")[0], ctx)


def test_a_quoted_title_is_one_constraint_with_all_its_words() -> None:
    question = "Qui préside la commission « Villes durables et solidaires » ?"
    title = next(c for c in constraints(question) if c.kind == "title")
    assert holds(title, context_text("La commission Villes solidaires et durables est présidée par Rabat."))
    # another commission whose title shares its capitalised first word is not the one asked about
    assert not holds(title, context_text("La commission « Villes numériques » est présidée par Rabat."))
    other = passage("La commission « Villes numériques » est présidée par la Ville de Rabat.", title="Commissions")
    assert compose(question, other) is None
    # across languages a title is translated: not required word for word
    assert not any(c.kind == "title" for c in constraints('Who chairs the "Sustainable Cities" commission?', names=False))


def test_a_name_holds_in_the_singular_or_the_plural_but_not_in_another_word() -> None:
    states = next(c for c in constraints("Qu'est-ce qui distingue le Togo des autres États de la région ?") if c.text == "États")
    assert holds(states, context_text("C'est le seul État de la région à financer le programme."))
    assert not holds(states, context_text("C'est la seule Étape du programme."))


def test_an_amount_is_asked_only_when_the_money_word_is_what_the_question_asks() -> None:
    p = passage("Le Togo contribue au financement depuis 2018. C'est le seul État de la région à le faire directement.",
                title="Financements")
    composed = compose("Qu'est-ce qui distingue le Togo des autres États dans le financement de l'association ?", p)
    assert composed is not None and not composed.abstain and "seul État" in composed.text
    # asked for the amount, the same passage holds none: no answer
    assert compose("Quel est le montant du financement du Togo ?", p) is None
    assert [n for n, _ in _asks("What was the association's total budget for 2020?")[0][1]] == ["money"]


def test_an_ordinal_holds_in_words_and_a_hyphenated_name_in_a_near_spelling() -> None:
    (eighth,) = constraints("Quel est le premier élément de la 8e colonne ?")
    assert holds(eighth, context_text("La huitième colonne commence par l'oganesson."))
    assert not holds(eighth, context_text("La septième colonne commence par le fluor."))
    (place,) = constraints("Quand a eu lieu le débarquement à Siri-Ferruch ?")
    assert holds(place, context_text("Le débarquement eut lieu le 14 juin 1830 à Sidi-Ferruch."))
    assert holds(next(iter(constraints("Où est la gare de Mitry-Claye ?"))), context_text("entre Paris et Mitry - Claye"))
    assert not holds(place, context_text("Le débarquement eut lieu à Alger."))


def test_typography_is_normalised_once() -> None:
    assert normalize_typography("l’AIMF\u00a0: ﬁnancement") == "l'AIMF : financement"


# --- answering only what was asked about ------------------------------------------------------------------------
PARALLEL = passage(
    "Le programme a mobilisé 1,2 million d'euros pour les villes du Sénégal. "
    "Au Mali, il a financé la réhabilitation de trois marchés.", title="Programme d'appui aux marchés")


def test_the_parallel_sentence_about_another_country_is_not_the_answer() -> None:
    composed = compose("Quel montant a été mobilisé pour les villes de Côte d'Ivoire ?", PARALLEL)
    assert composed is not None and composed.abstain
    assert "pas pour Côte" in composed.text and "Sénégal" in composed.text and "[1]" in composed.text


def test_the_right_country_is_answered_with_its_amount_first() -> None:
    composed = compose("Quel montant a été mobilisé pour les villes du Sénégal ?", PARALLEL)
    assert composed is not None and not composed.abstain
    assert composed.text.startswith("**1,2 million d'euros**") and "Sénégal. [1]" in composed.text


def test_a_constraint_may_be_met_by_the_title_or_the_previous_sentence() -> None:
    p = passage("La Ville de Kigali a signé l'accord en 2019. Elle y consacre 500 000 euros par an.", title="Kigali")
    composed = compose("Combien d'euros Kigali consacre-t-elle à l'accord chaque année ?", p)
    assert composed is not None and not composed.abstain and "**500 000 euros**" in composed.text


def test_a_sentence_that_only_names_the_person_does_not_give_the_post() -> None:
    p = passage("Marie Ndiaye a ouvert la séance. La séance a duré deux heures.", title="Compte rendu")
    assert compose("Quelle est la fonction de Marie Ndiaye ?", p) is None
    q = passage("Marie Ndiaye, secrétaire permanente de l'association, a ouvert la séance.", title="Compte rendu")
    composed = compose("Quelle est la fonction de Marie Ndiaye ?", q)
    assert composed is not None and composed.text.startswith("**secrétaire permanente de l'association**")


def test_a_year_the_documents_do_not_cover_is_said_so() -> None:
    p = passage("L'assemblée générale de 2022 s'est tenue à Kigali.", title="Assemblées générales")
    composed = compose("Où s'est tenue l'assemblée générale de 2024 ?", p)
    assert composed is not None and composed.abstain and "2022" in composed.text and "2024" in composed.text


# --- one cited sentence per part --------------------------------------------------------------------------------
def test_two_subjects_each_get_their_sentence_from_their_own_passage() -> None:
    dakar = passage("À Dakar, le projet de marché couvert a coûté 800 000 euros.", title="Dakar", n=1)
    abidjan = passage("À Abidjan, la rénovation de la gare routière a coûté 2 millions d'euros.", title="Abidjan", n=2)
    composed = compose("Combien ont coûté les projets à Dakar et à Abidjan ?", dakar, abidjan)
    assert composed is not None and not composed.abstain
    assert "800 000 euros" in composed.text and "2 millions d'euros" in composed.text
    assert "[1]" in composed.text and "[2]" in composed.text


def test_one_subject_missing_is_said_the_other_answered() -> None:
    dakar = passage("À Dakar, le projet de marché couvert a coûté 800 000 euros.", title="Dakar")
    composed = compose("Combien ont coûté les projets à Dakar et à Tunis ?", dakar)
    assert composed is not None and "800 000 euros" in composed.text and "pour Tunis" in composed.text


def compose_with_idf(question: str, *passages: Passage):
    """The writer with made-up word specificities (a FAKE idf: "Lomé" and "maire" are the question's most specific
    words), as the assistant computes them over its index."""
    specific = {"lom": 4.0, "mair": 3.0, "bibliothequ": 2.5}
    return ExtractiveGenerator(idf=lambda t: specific.get(t, 1.0)).compose(question, list(passages), "fr")


BRIDGE_DELEGATION = passage("La délégation du Niger comprenait Awa Diallo, maire de Zinder, et Moussa Ali, maire de "
                            "Tahoua.", title="Congrès de Lomé (2019)", n=1)
BRIDGE_QUESTION = "Quel maire, présent à Lomé en 2019, a vu sa ville obtenir une bibliothèque en mars 2023 ?"


def test_a_subject_named_by_what_another_document_says_of_it_is_answered_through_the_name_both_hold() -> None:
    library = passage("Le Bureau a financé la construction d'une bibliothèque pour la ville de Tahoua.",
                      title="Réunion du Bureau de mars 2023", n=2)
    composed = compose_with_idf(BRIDGE_QUESTION, BRIDGE_DELEGATION, library)
    assert composed is not None and not composed.abstain
    assert composed.text.startswith("**Moussa Ali**") and "[1]" in composed.text and "[2]" in composed.text


def test_no_bridge_without_a_name_the_two_sentences_share() -> None:
    library = passage("Le Bureau a financé la construction d'une bibliothèque pour la ville d'Agadez.",
                      title="Réunion du Bureau de mars 2023", n=2)
    composed = compose_with_idf(BRIDGE_QUESTION, BRIDGE_DELEGATION, library)
    assert composed is None or composed.abstain


def test_a_name_most_passages_hold_is_no_bridge() -> None:
    library = passage("Au Niger, le Bureau a financé la construction d'une bibliothèque pour la ville d'Agadez.",
                      title="Réunion du Bureau de mars 2023", n=2)
    niger = passage("Le Niger compte plusieurs villes membres.", title="Membres", n=3)
    composed = compose_with_idf(BRIDGE_QUESTION, BRIDGE_DELEGATION, library, niger)
    assert composed is None or composed.abstain


def test_two_asks_are_two_parts() -> None:
    assert len(_asks("Qui a signé l'accord et en quelle année ?")) == 2
    assert len(_asks("Qui est le maire de Dakar ?")) == 1  # a person and a doer: one ask
    assert [kinds[0][0] for _, kinds in _asks("En quelle année et dans quelle ville l'association a-t-elle été fondée ?")] \
        == ["year", "place"]
    p = passage("L'accord a été signé par Anne Martin, présidente du réseau. La cérémonie a eu lieu en 2018 à Paris.",
                title="Accord de coopération")
    composed = compose("Qui a signé l'accord et en quelle année ?", p)
    assert composed is not None and "Anne Martin" in composed.text and "2018" in composed.text


# --- the short answer -----------------------------------------------------------------------------------------
def test_short_answer_takes_the_span_the_question_does_not_hold() -> None:
    from rag.generators.extractive import ANSWER_TYPES

    def wanted(q):
        return [(n, p) for n, cue, p in ANSWER_TYPES if cue.search(q)]

    q = "En quelle année Dakar a-t-elle rejoint le réseau ?"
    assert _short_answer(wanted(q), "Fondé en 1979, le réseau accueille Dakar en 1982.", q) == "1982"
    q = "Qui est le maire de Dakar ?"
    assert _short_answer(wanted(q), "Le maire de Dakar, Barthélémy Dias, a reçu la délégation.", q) == "Barthélémy Dias"
    q = "Combien de villes participent au programme ?"
    assert _short_answer(wanted(q), "Au total, 12 villes participent au programme depuis 2020.", q).startswith("12")


# --- a figure combined from two parts ---------------------------------------------------------------------------
def test_a_difference_between_two_years_is_computed_from_their_figures() -> None:
    p = passage("L'apport de la Région est passé de 300 000 € en 2016 à 700 000 € en 2021.", title="Financements")
    composed = compose("De combien l'apport de la Région a-t-il progressé entre 2016 et 2021 ?", p)
    assert composed is not None and composed.text.startswith("**400 000 €** (700 000 € − 300 000 €)")


def test_a_difference_between_two_periods_takes_each_periods_figure() -> None:
    p = passage("Nombre de chantiers ouverts — période 2010-2014 : 41 ; période 2015-2019 : 58.", title="Bilan")
    composed = compose("De combien le nombre de chantiers a-t-il augmenté entre la période 2010-2014 et la période "
                       "2015-2019 ?", p)
    assert composed is not None and composed.text.startswith("**17** (58 − 41)")


def test_a_total_over_two_meetings_adds_their_counts() -> None:
    tunis = passage("À Tunis, en novembre 2022, le Bureau a soutenu 14 projets de villes.", title="Bureau de Tunis", n=1)
    hue = passage("À Hué, en avril 2025, le Bureau a soutenu 10 projets de villes.", title="Bureau de Hué", n=2)
    composed = compose("Combien de projets le Bureau a-t-il soutenus au total à Tunis et à Hué ?", tunis, hue)
    assert composed is not None and composed.text.startswith("**24 projets**")
    assert "[1]" in composed.text and "[2]" in composed.text


def test_a_difference_with_one_figure_missing_gives_no_figure_and_says_which_is_missing() -> None:
    # 2016 is named (in the passage's history), but no figure is given for it: 700 000 € alone answers nothing
    p = passage("Le programme est né en 2016. En 2021, l'apport de la Région a atteint 700 000 €.", title="Financements")
    composed = compose("De combien l'apport de la Région a-t-il progressé entre 2016 et 2021 ?", p)
    assert composed is not None and composed.abstain and not composed.text.startswith("**")
    assert "pas cette information pour 2016" in composed.text and "700 000 €. [1]" in composed.text
    tunis = passage("À Tunis, en novembre 2022, le Bureau a soutenu 14 projets de villes.", title="Bureau de Tunis")
    total = compose("Combien de projets le Bureau a-t-il soutenus au total à Tunis et à Hué ?", tunis)
    assert total is not None and total.abstain and "14 projets de villes. [1]" in total.text


def test_two_figures_known_by_what_they_are_are_each_read_by_their_own_words() -> None:
    # no two names or dates of one kind tell the figures apart: each is found by its own description
    region = passage("Le budget total du programme atteint 12 millions d'euros. Pour 2022-2025, la subvention de la "
                     "Région Est s'élève à 3,8 millions d'euros.", title="Financements", n=1)
    horizon = passage("La fondation Horizon apporte 870 000 euros au projet Lumière. Le projet emploie 40 personnes.",
                      title="Projet Lumière", n=2)
    composed = compose("De combien la subvention de la Région Est dépasse-t-elle l'apport de la fondation Horizon ?",
                       region, horizon)
    assert composed is not None
    assert composed.text.startswith("**2,93 millions d'euros** (3,8 millions d'euros − 870 000 euros)")
    assert "[1]" in composed.text and "[2]" in composed.text and "12 millions" not in composed.text


def test_the_years_between_two_events_are_counted_from_their_dates() -> None:
    garden = passage("Le jardin Alpha a été créé en septembre 2009 par la commune.", title="Jardin Alpha", n=1)
    museum = passage("Le musée Beta a ouvert ses portes en octobre 2025, après quatre ans de travaux.", title="Musée Beta",
                     n=2)
    composed = compose("Combien d'années séparent la création du jardin Alpha et l'ouverture du musée Beta ?",
                       garden, museum)
    assert composed is not None and composed.text.startswith("**16 ans** (octobre 2025 − septembre 2009)")
    from rag.generators.extractive import _combine

    assert _combine("-", ["2015-2018", "octobre 2025"], ["fr", "fr"], years=True) is None  # no one year to count from


def test_figures_told_apart_only_by_dates_are_left_to_the_dates() -> None:
    from rag.question import compared, parts

    question = "De combien la subvention européenne dépasse-t-elle l'apport du FFEM ?"
    assert compared(question) == ["la subvention européenne", "l'apport du FFEM"]
    assert parts(question) == compared(question)  # each figure is also searched for on its own
    assert compared("Quel écart entre les fonds propres et l'investissement induit ?") == \
        ["Quel écart les fonds propres", "Quel écart l'investissement induit"]
    # one subject at two dates, or two periods of one thing: the question's dates tell the figures apart
    assert compared("De combien l'apport de la Région a-t-il progressé entre 2016 et 2021 ?") == []
    assert compared("De combien le nombre de chantiers a-t-il augmenté entre la période 2010-2014 et la période "
                    "2015-2019 ?") == []
    # "entre … et …" without a total or a difference asked for is no comparison
    assert compared("Quel accord a été signé entre Dakar et Paris ?") == []


def test_a_sentence_opening_on_a_pronoun_answers_for_the_one_before_it_and_is_quoted_with_it() -> None:
    p = passage("Le budget de la Ville Nord pour 2019 a été voté en novembre 2018 par le conseil. Il s'élevait à "
                "7 200 000 euros.\n\nLe conseil a aussi acheté deux bus pour 500 000 euros.", title="Conseils")
    composed = compose("Quel était le montant du budget de la Ville Nord en 2019 ?", p)
    assert composed is not None and composed.text.startswith("**7 200 000 euros**")
    assert "a été voté en novembre 2018" in composed.text  # what "Il" stands for is quoted with it


def test_a_sentence_opening_on_a_pronoun_is_about_what_the_sentence_before_it_names() -> None:
    p = passage("En 2016, le Bureau a tenu une réunion intermédiaire à Paris pour préparer l'Assemblée. Le Bureau est "
                "revenu à Tunis en novembre 2022. Il y a soutenu 14 projets de villes.", title="Réunions du Bureau")
    composed = compose("Combien de projets le Bureau a-t-il soutenus à Paris en 2016 ?", p)
    assert composed is not None and composed.abstain
    assert composed.text.startswith("Les documents donnent cette information pour Tunis, pas pour Paris")
    assert "revenu à Tunis" in composed.text  # the sentence "Il" refers back to is quoted with it


def test_a_name_in_a_run_set_against_another_after_the_same_word_is_another_subject() -> None:
    # "la Ville Sud" is to "la Ville Nord" what "les villes du Sénégal" are to "les villes du Cameroun"
    p = passage("La Ville Sud a voté un budget de 9 millions d'euros pour 2019.\n\nLa Ville Nord a voté le sien en "
                "novembre 2018.", title="Conseils")
    composed = compose("Quel était le montant du budget de la Ville Nord en 2019 ?", p)
    assert composed is not None and composed.abstain and composed.text.startswith(
        "Les documents donnent cette information pour Sud, pas pour Nord")


def test_figures_in_millions_stay_in_millions_and_mixed_scales_are_converted() -> None:
    from rag.generators.extractive import _combine

    assert _combine("-", ["3,7 millions d'euros", "1 million d'euros"], ["fr", "fr"]).startswith("**2,7 millions d'euros**")
    assert _combine("-", ["3,8 M€", "870 000 €"], ["fr", "fr"]).startswith("**2,93 millions €**")
    assert _combine("+", ["394,875 CHF", "5,125 CHF"], ["en", "en"]).startswith("**400 000 CHF**")
    assert _combine("-", ["7,7 millions d'euros", "7 200 000 euros"], ["fr", "fr"]).startswith("**0,5 million d'euros**")
    assert _combine("-", ["700 000 d'euros", "300 000 €"], ["fr", "fr"]).startswith("**400 000 euros**")
    assert _combine(None, ["1", "2"], ["fr", "fr"]) is None


# --- the trained reader's place in the writer (a FAKE reader: made-up spans and scores, no model) ------------------
def fake_reading(texts: list[str], found: dict[int, tuple[str, float]]):
    """A rag.reader.Reading of made-up logits (a FAKE reader's output): each passage is one window whose tokens are
    its words; the words given for a passage score exactly ``score`` (start + end minus "no answer"), any other span
    far below."""
    import re

    import numpy as np

    from rag.reader import Reading, Window

    windows, logits = [], []
    for p, text in enumerate(texts):
        offsets = [m.span() for m in re.finditer(r"\S+", text)]
        window = Window([0] * (len(offsets) + 4), 3, offsets, p)
        values = np.full((len(window.ids), 2), -50.0, np.float32)
        values[0] = 0.0  # "no answer"
        if p in found:
            words, score = found[p]
            start = text.index(words)
            first = next(k for k, (a, _) in enumerate(offsets) if a >= start)
            last = max(k for k, (a, _) in enumerate(offsets) if a < start + len(words))
            values[3 + first, 0] = values[3 + last, 1] = score / 2
        windows.append(window)
        logits.append(values)
    return Reading(windows, logits, texts)


def fake_reader(found: dict[int, tuple[str, float]]):
    # one window a passage: the windows over any range asked for are the whole reading
    return lambda question, pairs, within=None: fake_reading([text for _, text in pairs], found)


MARKET = passage("Le marché central de Kindia a été reconstruit après l'incendie. Les commerçants y sont revenus en "
                 "mars. Il accueille désormais près de 800 étals couverts.", title="Marché central de Kindia")


def test_a_list_item_quoted_for_a_question_asking_for_several_things_comes_with_the_whole_list(monkeypatch) -> None:
    from rag.generators import extractive as E

    monkeypatch.setattr(E, "SPAN_FLOOR", 0.0)
    text = ("En mars 2017, la Ville Alpha et la fondation Beta ont signé un partenariat de quatre ans. L'accord prévoyait "
            "quinze projets pilotes. Ils couvraient trois domaines :\n\n- la planification familiale ;\n- "
            "l'assainissement des quartiers ;\n- la préparation aux urgences.\n\nCette phase a pris fin en 2021.")
    question = "Sur quels thèmes portait le partenariat signé en 2017 par la Ville Alpha ?"
    reader = fake_reader({0: ("la planification familiale", 3.0)})  # the reader points to one item
    composed = ExtractiveGenerator(reader=reader).compose(question, [passage(text, title="Partenariats")], "fr")
    assert composed is not None and "la planification familiale" in composed.text
    assert "l'assainissement des quartiers" in composed.text and "la préparation aux urgences" in composed.text
    assert "Ils couvraient trois domaines :" in composed.text


def test_the_reader_span_inside_the_quoted_sentence_opens_the_answer_in_bold(monkeypatch) -> None:
    from rag.generators import extractive as E

    monkeypatch.setattr(E, "SPAN_FLOOR", 0.0)
    question = "Qu'est-ce qui a été reconstruit après l'incendie à Kindia ?"
    sure = ExtractiveGenerator(reader=fake_reader({0: ("Le marché central", 3.0)})).compose(question, [MARKET], "fr")
    assert sure.text.startswith("**Le marché central**") and "[1]" in sure.text
    unsure = ExtractiveGenerator(reader=fake_reader({0: ("Le marché central", -3.0)})).compose(question, [MARKET], "fr")
    assert not unsure.text.startswith("**") and "reconstruit" in unsure.text


def test_a_reader_span_outside_the_best_sentence_comes_with_its_own_sentence_quoted(monkeypatch) -> None:
    from rag.generators import extractive as E

    monkeypatch.setattr(E, "SPAN_FLOOR", 0.0)
    question = "Qu'est-ce qui a été reconstruit après l'incendie à Kindia ?"
    composed = ExtractiveGenerator(reader=fake_reader({0: ("800 étals", 3.0)})).compose(question, [MARKET], "fr")
    # the short answer is never shown without the sentence that says it, cited
    assert composed.text.startswith("**800 étals**")
    assert "Il accueille désormais près de 800 étals couverts. [1]" in composed.text
    assert "reconstruit après l'incendie" in composed.text  # the best sentence stays
    unsure = ExtractiveGenerator(reader=fake_reader({0: ("800 étals", -3.0)})).compose(question, [MARKET], "fr")
    assert not unsure.text.startswith("**") and "800 étals" not in unsure.text.split("[1]")[0][:40]


def test_the_reader_span_inside_a_sentence_raises_it_above_sentences_that_only_share_words() -> None:
    question = "Qu'est-ce que le marché central de Kindia a retrouvé après l'incendie ?"
    plain = ExtractiveGenerator()._score(question, [MARKET], None)
    assert plain[0].text.startswith("Le marché central de Kindia")  # the most words of the question
    generator = ExtractiveGenerator(reader=fake_reader({0: ("Les commerçants", 6.0)}))
    ranked = generator._rank_by_reader(question, generator._score(question, [MARKET], None), [MARKET])
    assert ranked[0].text.startswith("Les commerçants y sont revenus")
    assert ranked[0].score == pytest.approx(next(s.score for s in plain if s.text == ranked[0].text))  # rank only
    doubtful = ExtractiveGenerator(reader=fake_reader({0: ("Les commerçants", -20.0)}))
    assert doubtful._rank_by_reader(question, doubtful._score(question, [MARKET], None), [MARKET])[0].text \
        == plain[0].text


def test_a_line_introducing_a_list_is_ranked_by_the_span_in_its_items() -> None:
    from rag.generators import extractive as E

    listing = passage("Le programme finance trois chantiers :\n- la réfection des toitures ;\n- un puits ;\n"
                      "- des latrines.\nLa mairie de Kindia en assure le suivi.", title="Programme de Kindia")
    question = "Quels chantiers le programme de Kindia finance-t-il ?"
    generator = ExtractiveGenerator(reader=fake_reader({0: ("un puits", 6.0)}))
    ranked = generator._rank_by_reader(question, generator._score(question, [listing], None), [listing])
    intro = next(s for s in ranked if s.text.startswith("Le programme finance"))
    assert intro.read == pytest.approx(1 / (1 + math.exp(-6.0 / E.READER_RANK_SCALE)) * E.READER_RANK_WEIGHT)


def test_a_sentence_in_another_language_is_scored_by_meaning_not_by_the_words_it_cannot_share() -> None:
    import numpy as np

    english = Passage(chunk_id="c1", source="report-en.md", title="Congress report", lang="en",
                      text="The congress in Tunis was devoted to the digital city and its opening speech.")
    french = Passage(chunk_id="c2", source="discours.md", title="Discours", lang="fr",
                     text="Discours d'ouverture de M. Frédéric Vallier, délégué général.")
    closest = {"Discours d'ouverture de M. Frédéric Vallier, délégué général.": [1.0, 0.0]}

    def fake_vectors(keys):  # FAKE sentence vectors: the French sentence is the one closest to the question
        return np.array([closest.get(k, [0.6, 0.8]) for k in keys], dtype=np.float32)

    question = "Who is giving the opening speech?"
    ranked = ExtractiveGenerator(fake_vectors)._score(question, [english, french], np.array([1.0, 0.0], np.float32))
    assert ranked[0].passage == 1 and ranked[0].foreign
    assert ranked[0].lex == 0.0  # it shares no word with the question: its meaning carries it


def test_of_several_typed_values_in_the_sentence_the_reader_points_to_one(monkeypatch) -> None:
    from rag.generators import extractive as E

    monkeypatch.setattr(E, "SPAN_FLOOR", 0.0)
    health = passage("La santé passe de 10 % des projets à 16 % d'une phase à l'autre.", title="Bilan du Fonds")
    question = "Quelle part des projets du Fonds concerne la santé ?"
    assert compose(question, health).text.startswith("**10 %**")  # nearest to the question's words
    sure = ExtractiveGenerator(reader=fake_reader({0: ("16 %", 3.0)})).compose(question, [health], "fr")
    assert sure.text.startswith("**16 %**")
    unsure = ExtractiveGenerator(reader=fake_reader({0: ("16 %", -3.0)})).compose(question, [health], "fr")
    assert unsure.text.startswith("**10 %**")


def test_a_typed_answer_in_other_words_than_the_question_is_given_when_the_reader_would_answer_there() -> None:
    market = passage("Le marché central de Kindia a été reconstruit après l'incendie. Près de 800 marchands y "
                     "travaillent désormais.", title="Kindia")
    question = "Combien de vendeurs exercent au marché reconstruit de Kindia ?"  # "vendeurs" for "marchands"
    assert compose(question, market) is None  # the number's sentence lacks the question's most specific words
    sure = ExtractiveGenerator(reader=fake_reader({0: ("800", 3.0)})).compose(question, [market], "fr")
    assert sure.text.startswith("**800**") and "800 marchands" in sure.text
    assert ExtractiveGenerator(reader=fake_reader({0: ("800", -3.0)})).compose(question, [market], "fr") is None


class FakeReader:
    """Stands in for rag.reader.Reader: every passage read gets the same made-up span; counts its readings."""

    def __init__(self, words: str, score: float):
        self.words, self.score, self.calls = words, score, 0
        self._made: dict[int, tuple] = {}  # id(window) -> (window, its made-up logits)

    def windows(self, question, pairs):
        made = fake_reading([t for _, t in pairs], {i: (self.words, self.score) for i, (_, t) in enumerate(pairs)
                                                    if self.words in t})
        self._made |= {id(w): (w, lg) for w, lg in zip(made.windows, made.logits)}
        return made.windows

    def logits(self, windows):
        self.calls += 1
        return [self._made[id(w)][1] for w in windows]


def _assistant_with(reader):
    import threading

    from rag.assistant import Assistant
    from rag.reader import ReadingCache
    from rag.settings import Settings

    assistant = Assistant.__new__(Assistant)  # no model, no index: only the reader's part of the relevance check
    assistant._lock, assistant._readings = threading.Lock(), ReadingCache()
    assistant.settings = Settings(min_relevance=0.2)
    assistant.__dict__["_reader"] = reader
    return assistant


def test_the_reader_decides_only_where_relevance_is_doubtful_and_reads_once() -> None:
    question = "Combien d'emplacements pour vendre trouve-t-on aujourd'hui ?"
    sure = FakeReader("près de 800 étals couverts", 10.0)
    assistant = _assistant_with(sure)
    assert assistant._answerable(question, [MARKET], 0.15, cross_lingual=False) >= 0.2
    assert assistant._answerable(question, [MARKET], 0.15, cross_lingual=False) >= 0.2 and sure.calls == 1
    doubtful = _assistant_with(FakeReader("près de 800 étals couverts", -10.0))
    assert doubtful._answerable(question, [MARKET], 0.15, cross_lingual=False) < 0.2
    assert _assistant_with(FakeReader("rien de tel", 10.0))._answerable(question, [MARKET], 0.15, False) < 0.2
    assert _assistant_with(None)._answerable(question, [MARKET], 0.15, cross_lingual=False) == 0.15
    clear = FakeReader("près de 800 étals couverts", -10.0)
    assert _assistant_with(clear)._answerable(question, [MARKET], 0.99, cross_lingual=False) == 0.99 and clear.calls == 0


def test_across_languages_the_reader_only_rescues_a_span_it_is_sure_of() -> None:
    from rag.reader import RELEVANCE_FLOOR

    question = "How many market stalls are there today?"
    sure = _assistant_with(FakeReader("près de 800 étals couverts", RELEVANCE_FLOOR + 1))
    assert sure._answerable(question, [MARKET], 0.1, cross_lingual=True) >= 0.2
    unsure = _assistant_with(FakeReader("près de 800 étals couverts", RELEVANCE_FLOOR - 1))
    assert unsure._answerable(question, [MARKET], 0.1, cross_lingual=True) == 0.1
    doubting = FakeReader("près de 800 étals couverts", -15.0)
    assert _assistant_with(doubting)._answerable(question, [MARKET], 0.3, cross_lingual=True) == 0.3
    assert doubting.calls == 0  # above the floor across languages: nothing to rescue, nothing read


# --- a question in two parts: each part searched on its own ---------------------------------------------------
def test_a_question_in_two_parts_gives_one_query_per_part_and_a_period_is_one_subject() -> None:
    from rag.question import parts

    assert parts("Quel montant à Hué en avril 2025, et combien à Tunis en octobre 2015 ?") == [
        "Quel montant à Hué en avril 2025,", "combien à Tunis en octobre 2015 ?"]
    first, second = parts("Dans quelles villes se sont tenus les congrès de 2021 et de 2024 ?")
    assert "2021" in first and "2024" not in first and "2024" in second and "2021" not in second
    first, second = parts("De combien les ressources de 2008 dépassaient-elles le budget de 2019 ?")
    assert "2019" not in first and "2008" not in second
    assert parts("Combien de projets ont été soutenus de 2019 à 2023 ?") == []  # one period
    assert parts("Quel est le budget 2022-2025 ?") == []
    assert parts("Qui a signé l'accord de Dakar et en quelle année ?") == []  # the second ask names nothing of its own
    assert parts("Qui est le maire de Dakar ?") == []


class FakeRetriever:
    """Stands in for the hybrid retriever: a fixed ranking per query, the same list for any other query."""

    def __init__(self, rankings: dict[str, list[str]], default: list[str]):
        self.rankings, self.default, self.queries = rankings, default, []

    def search(self, query, k=None, where=None, **_):
        from langchain_core.documents import Document

        self.queries.append(query)
        ids = self.rankings.get(query, self.default)[:k]
        return [Document(id=i, page_content=i) for i in ids]


def test_each_part_brings_its_best_passages_into_the_list_in_place_of_the_last_ones() -> None:
    import threading

    from rag.assistant import Assistant
    from rag.question import parts

    question = "Quel montant à Hué en avril 2025, et combien à Tunis en octobre 2015 ?"
    hue, tunis = parts(question)
    main = ["hue-1", "hue-2", "hue-3", "other-1", "other-2"]
    assistant = Assistant.__new__(Assistant)  # no model, no index: only the search for parts
    assistant._lock = threading.Lock()
    assistant._retriever = FakeRetriever({hue: ["hue-1", "hue-4"], tunis: ["tunis-1", "tunis-2"]}, main)
    docs = assistant.retriever.search(question, k=5)
    ids = [d.id for d in assistant._with_parts(question, docs, None)]
    # each part's two best passages are kept; the whole question's ranking fills the rest, in its order
    assert ids == ["hue-1", "hue-2", "tunis-1", "hue-4", "tunis-2"]
    assert len(assistant.retriever.queries) == 3
    one = "Qui est le maire de Dakar ?"
    assert assistant._with_parts(one, docs, None) == docs and len(assistant.retriever.queries) == 3  # not searched again


def test_names_the_passage_gave_earlier_count_for_the_sentence_that_says_what_was_asked() -> None:
    p = passage("En mars 2017, la ville de Tamara et la Fondation Orlov ont signé leur premier accord, pour quatre ans. "
                "L'accord prévoyait douze projets pilotes. Ils couvraient trois domaines : l'eau potable, l'éclairage "
                "public et la collecte des déchets.", title="Un premier accord")
    composed = compose("Sur quels domaines portait l'initiative de 2017 avec la Fondation Orlov ?", p)
    assert composed is not None and "l'eau potable" in composed.text


def test_a_supporting_line_that_introduces_a_list_is_quoted_with_its_items() -> None:
    p = passage("Le délégué s'est rendu à Kindia en mai 2025 pour une visite de deux jours. Il en a retenu plusieurs "
                "priorités pour la ville et ses quartiers :\n\n• l'eau potable ;\n\n• les routes rurales.\n\nLe rapport paraîtra en juin.", title="Mission")
    composed = compose("Qu'a retenu le délégué lors de sa visite à Kindia en mai 2025 ?", p)
    assert composed is not None and composed.text.startswith("Le délégué s'est rendu à Kindia")
    assert "ses quartiers :" in composed.text and "l'eau potable" in composed.text and "routes rurales" in composed.text


def test_a_which_question_without_a_bulleted_list_is_answered_with_the_sentence_that_goes_on() -> None:
    p = passage("La station de Kindia a été inaugurée en 2020 par le maire de la ville. Ses partenaires financiers sont "
                "l'agence de l'eau et le syndicat Sirap.\n\nLe chantier a duré deux ans.", title="Station de Kindia")
    composed = compose("Quels partenaires ont financé la station de Kindia inaugurée en 2020 ?", p)
    assert composed is not None and "syndicat Sirap" in composed.text


def test_a_reader_span_the_question_already_holds_is_no_short_answer() -> None:
    question = "Quelles sont les six villes qui partageront leurs expériences ?"
    p = passage("Six villes partageront avec nous leurs expériences et leurs projets.", title="Programme")
    composed = ExtractiveGenerator(reader=fake_reader({0: ("Six villes", 5.0)})).compose(question, [p], "fr")
    assert composed is not None and not composed.text.startswith("**")


def test_a_reader_span_of_stop_words_alone_is_no_short_answer() -> None:
    question = "Quelle longueur de conduites compte le réseau inauguré à Kindia ?"
    p = passage("Un nouveau réseau a été inauguré à Kindia en 2024.", title="Réseau de Kindia")
    composed = ExtractiveGenerator(reader=fake_reader({0: ("Un", 5.0)})).compose(question, [p], "fr")
    assert composed is not None and "inauguré à Kindia" in composed.text and not composed.text.startswith("**")
    named = ExtractiveGenerator(reader=fake_reader({0: ("Un nouveau réseau", 5.0)})).compose(question, [p], "fr")
    assert named.text.startswith("**Un nouveau réseau**")


# --- what two statements both describe -------------------------------------------------------------------------
def test_a_question_about_what_two_statements_share_gives_the_two_statements() -> None:
    from rag.question import asks_for_several, conjunct_kind, conjuncts, parts

    among = "Parmi les villes invitées au forum de Lomé, laquelle a signé la charte de Namur ?"
    assert conjuncts(among) == ["les villes invitées au forum de Lomé", "laquelle a signé la charte de Namur ?"]
    assert parts(among) == conjuncts(among)  # each statement is searched on its own
    assert conjunct_kind(among).startswith("les villes")
    both = "Which mayor both chaired the 2012 forum and signed the Namur charter?"
    assert conjuncts(both) == ["Which mayor chaired the 2012 forum", "Which mayor signed the Namur charter"]
    assert asks_for_several("Parmi les partenaires du fonds, lesquels financent l'eau ?")
    assert not asks_for_several(among)
    inside = "Quelle ville, parmi les villes invitées au forum de Lomé, a signé la charte de Namur ?"
    assert conjuncts(inside) == ["les villes invitées au forum de Lomé", "Quelle ville a signé la charte de Namur ?"]
    assert conjuncts("Qui a signé la charte de Namur ?") == []
    assert conjuncts("Parmi les villes invitées, combien ont signé ?") == []  # a count, not a thing described twice


def test_the_answer_is_the_name_both_statements_hold_each_from_its_own_passage() -> None:
    invited = passage("Le forum de Lomé a invité les villes suivantes : Kara, Sokodé, Dapaong et Atakpamé.",
                      title="Le forum de Lomé", n=1)
    charter = passage("La charte de Namur a été signée en 2019 par la Ville de Sokodé. Elle engage ses signataires.",
                      title="La charte de Namur", n=2)
    composed = compose("Parmi les villes invitées au forum de Lomé, laquelle a signé la charte de Namur ?",
                       invited, charter)
    assert composed.text.startswith("**Sokodé**")
    assert "[1]" in composed.text and "[2]" in composed.text  # one cited sentence per statement
    # names held by one passage only are not shared, whatever the passage says of both statements
    both_in_one = passage("Le forum de Lomé a invité Kara et Sokodé ; la charte de Namur a été signée par Kara.", n=1)
    other = passage("Le programme de Namur finance l'eau potable.", n=2)
    again = compose("Parmi les villes invitées au forum de Lomé, laquelle a signé la charte de Namur ?",
                    both_in_one, other)
    assert again is None or not again.text.startswith("**Kara**") and not again.text.startswith("**Sokodé**")
    # each statement's sentence must name what the statement names: the congress of 2015 is not the one of 1990
    congress = passage("Le congrès de 2015 s'est tenu à Sokodé, en présence de nombreux maires.", title="Congrès", n=2)
    other_year = compose("Parmi les villes invitées au forum de Lomé, laquelle a accueilli le congrès de 1990 ?",
                         invited, congress)
    assert other_year is None or "**Sokodé**" not in other_year.text
    same_year = compose("Parmi les villes invitées au forum de Lomé, laquelle a accueilli le congrès de 2015 ?",
                        invited, congress)
    assert same_year.text.startswith("**Sokodé**")


def test_several_shared_names_are_one_answer_when_the_same_two_sentences_hold_them() -> None:
    from rag.generators.shared_names import candidate_names, lower_case_words, shared_names

    class S:  # a scored sentence, as the writer makes them
        def __init__(self, passage: int, unit: str, score: float):
            self.passage, self.unit, self.text, self.score = passage, unit, unit, score

    agencies = S(0, "Les agences de l'eau (Adour-Garonne, Loire-Bretagne, Rhin-Meuse) soutiennent l'association.", 1.0)
    fund = S(1, "Par le fonds : la Ville de Bordeaux, l'Agence de l'eau Adour-Garonne, l'Agence de l'eau Rhin-Meuse.", 0.9)
    ceremony = S(2, "La cérémonie a réuni la présidente et le syndic de Bordeaux.", 0.95)
    lower = lower_case_words([s.unit for s in (agencies, fund, ceremony)])
    # "Ville" heads "Ville de Bordeaux": a title, not a name; "Agence" is written in lower case elsewhere
    assert candidate_names(fund.unit, lower, set()) == ["Bordeaux", "Adour-Garonne", "Rhin-Meuse"]
    found = shared_names([[agencies, ceremony], [fund]], lower, set(), {"agenc"})
    assert [n.name for n in found] == ["Adour-Garonne", "Rhin-Meuse"]
    assert all(n.sentences == [agencies, fund] for n in found)
    assert shared_names([[agencies], []], lower, set()) == []


def test_a_numbered_list_item_is_one_sentence_and_its_number_no_figure() -> None:
    from rag.text import split_sentences

    text = "Partenaires :\n1. la Ville de Metz ;\n4. Haganis et la Régie de l'eau.\n\nFin du texte.\n\n2. Le Bureau de Tunis"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Partenaires :", "1. la Ville de Metz ;", "4. Haganis et la Régie de l'eau.", "Fin du texte.", "2.",
        "Le Bureau de Tunis"]  # a numbered heading after a paragraph stays a line of its own
    items = passage("Les projets :\n\n3. Le programme d'assainissement conduit avec la Fondation Gates.", n=1)
    assert compose("Combien de camions la Fondation Gates a-t-elle donnés ?", items) is None


def test_a_question_asking_for_a_value_is_declined_when_the_sentence_gives_none(monkeypatch) -> None:
    """The answer to "Dans quelle ville … ?" or "Combien … ?" is a place or a figure: a sentence about the subject
    that gives none (the reader finds no place in it, its only figure is the question's own) is no answer."""
    from rag.generators import extractive as E

    monkeypatch.setattr(E, "SPAN_FLOOR", 0.0)
    talk = passage("La conférence thématique sur les villes numériques est organisée avec le soutien de l'Union "
                   "européenne. Elle réunit des maires et des experts.", title="Conférence")
    question = "Dans quelle ville se tient la conférence thématique sur les villes numériques ?"
    # the FAKE reader finds no span it is sure of in the sentence
    assert ExtractiveGenerator(reader=fake_reader({0: ("Union européenne", -3.0)})).compose(question, [talk], "fr") \
        is None
    sure = ExtractiveGenerator(reader=fake_reader({0: ("l'Union européenne", 3.0)})).compose(question, [talk], "fr")
    assert sure is not None and sure.text.startswith("**") and "européenne**" in sure.text
    # nothing read (no reader): the place cannot be told, the sentence is quoted as before
    assert ExtractiveGenerator().compose(question, [talk], "fr") is not None
    budget = passage("Le Bureau a retenu 14 projets de villes en 2022. Ces 14 projets relèvent de l'eau et de "
                     "l'assainissement.", title="Programme 2022")
    assert compose("Combien d'habitants les 14 projets retenus en 2022 desservent-ils ?", budget) is None
    assert compose("Combien de projets le Bureau a-t-il retenus en 2022 ?", budget).text.startswith("**14 projets**")


def test_a_number_the_question_counts_by_is_a_constraint_held_in_digits_or_words() -> None:
    question = "Quel investissement représentent les 12 projets votés à Kindia ?"
    count = next(c for c in constraints(question) if c.kind == "count")
    assert (count.text, count.lead) == ("12", "projet")
    assert holds(count, context_text("Le Bureau a voté douze projets.")) and holds(count, context_text("12 projets"))
    assert not holds(count, context_text("Le Bureau a voté 112 projets, dont 12,5 % à Kindia."))
    big = next(c for c in constraints("Où vont les 457 300 euros ?") if c.kind == "count")
    assert holds(big, context_text("457\u202f300 euros")) and holds(big, context_text("457.300 euros"))
    # not a year, a day of a date nor a numbered part of a series
    kinds = {c.kind for c in constraints("Qu'a voté le Bureau le 24 mai 2024 pour la phase 3 ?")}
    kinds |= {c.kind for c in constraints("Quelle église a été construite au 20 ème siècle ?")}
    assert "count" not in kinds


def test_a_sentence_about_another_number_of_the_same_things_does_not_answer() -> None:
    p = passage("Le Bureau réuni à Kindia a attribué des subventions à 14 projets de villes. Ces projets représentent "
                "un investissement global de 9,2 millions d'euros.", title="Bureau de Kindia")
    asked = "Quel est le montant investi dans les {} projets votés à Kindia ?"
    composed = compose(asked.format(14), p)
    assert composed is not None and composed.text.startswith("**9,2 millions d'euros**")
    other = compose(asked.format(12), p)
    # "not for this one, but for that one": the sentence is cited, the answer counts as declined
    assert other is not None and other.abstain and other.text.startswith("Les documents donnent cette information pour 14, pas pour 12.")


def test_a_reader_span_without_the_shape_of_the_value_asked_for_is_no_answer() -> None:
    """"Dans quelle ville … ?" is not answered by "villes intelligentes"; a share by words without a figure."""
    text = ("J'introduis cette conférence thématique dédiée aux villes intelligentes et numériques, organisée avec le "
            "soutien de l'Union européenne.")
    p = passage(text, title="Conférence")
    question = "Dans quelle ville se tient cette conférence thématique ?"
    lowercase = ExtractiveGenerator(reader=fake_reader({0: ("villes intelligentes et numériques", 5.0)}))
    assert lowercase.compose(question, [p], "fr") is None
    named = passage(text + " Elle se tient à Kindia.", title="Conférence")
    composed = ExtractiveGenerator(reader=fake_reader({0: ("Kindia", 5.0)})).compose(question, [named], "fr")
    assert composed is not None and composed.text.startswith("**Kindia**")
    # kinds answered by words of any shape keep the reader's span: "Où … ?" by "à bord"
    ship = passage("Les marins dorment à bord du navire amarré à Kindia.", title="Port de Kindia")
    where = ExtractiveGenerator(reader=fake_reader({0: ("à bord", 5.0)})).compose(
        "Où dorment les marins du port de Kindia ?", [ship], "fr")
    assert where is not None and where.text.startswith("**à bord**")
