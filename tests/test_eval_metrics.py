"""The suite's metric functions on hand-made cases whose values are worked out by hand (no model, no index)."""

from __future__ import annotations

import pytest

from evals import metrics as M
from evals.runner import diagnose, score, summarise
from rag.answer import Answer, Citation, Passage

PASSAGE = "Dès 2013, l'AIMF s'est dotée d'une **Commission** présidée par la Ville de **Nantes**."
OTHER = "À Cotonou, la construction du Pôle numérique des services municipaux, une première au Bénin."


# --- retrieval ----------------------------------------------------------------------------------------------
def test_evidence_matching_ignores_case_whitespace_and_markdown_emphasis() -> None:
    hits = M.evidence_hits(["présidée   par la ville\nde Nantes.", OTHER], ["Présidée par la **Ville de Nantes**"])
    assert hits == [{0}, set()]
    # and the other way round: emphasis in the passage, none in the evidence
    assert M.evidence_hits([PASSAGE], ["d'une Commission présidée"]) == [{0}]
    assert M.evidence_hits([PASSAGE], ["__Commission__ présidée par la Ville"]) == [{0}]


def test_recall_and_mrr_at_k() -> None:
    hits = [set(), {0}, set(), {1}]
    assert M.recall_at_k(hits, 2, 1) == 0.0
    assert M.recall_at_k(hits, 2, 2) == 0.5
    assert M.recall_at_k(hits, 2, 5) == 1.0
    assert M.mrr_at_k(hits, 2, 10) == 0.5
    assert M.mrr_at_k([set(), set(), {0}], 1, 10) == pytest.approx(1 / 3)
    assert M.mrr_at_k([set()] * 3, 1, 10) == 0.0
    assert M.mrr_at_k([set()] * 10 + [{0}], 1, 10) == 0.0  # rank 11 is outside MRR@10
    # no evidence (unanswerable): not applicable rather than 0 or 1
    assert M.recall_at_k(hits, 0, 5) is None and M.mrr_at_k(hits, 0) is None
    assert M.recall_at_k([], 1, 5) == 0.0  # nothing retrieved


# --- citations ----------------------------------------------------------------------------------------------
def test_citation_precision_and_recall() -> None:
    assert M.citation_precision([{0}, set()]) == 0.5
    assert M.citation_precision([{0}, {1}]) == 1.0
    assert M.citation_recall([{0}, {0}], 2) == 0.5
    assert M.citation_recall([{0}, {1}], 2) == 1.0


def test_citations_are_judged_on_the_quote_not_the_passage() -> None:
    evidence = ["présidée par la Ville de **Nantes**"]
    passage = "Dès 2013, l'AIMF s'est dotée d'une Commission présidée par la Ville de Nantes. Elle se réunit à Paris."
    right, wrong = "l'AIMF s'est dotée d'une Commission présidée par la Ville de Nantes.", "Elle se réunit à Paris."
    assert M.evidence_hits([passage], evidence) == [{0}]  # the passage holds it either way
    assert M.quote_hits([right, wrong], evidence) == [{0}, set()]
    hits = M.quote_hits([wrong], evidence)
    assert M.citation_precision(hits) == 0.0 and M.citation_recall(hits, 1) == 0.0
    assert M.quote_holds_evidence(hits) == 0.0 and M.quote_holds_evidence(M.quote_hits([right], evidence)) == 1.0
    assert M.quote_holds_evidence([]) is None
    # a paraphrased quote holds the evidence when it has all its content words...
    assert M.quote_hits(["La Ville de Nantes a présidée, dès 2013, la Commission."], evidence) == [{0}]
    # ...but not when it denies them
    assert M.quote_hits(["La Commission n'est pas présidée par la Ville de Nantes."], ["présidée par Nantes"]) == [set()]


def test_no_citations() -> None:
    assert M.citation_precision([]) is None  # undefined, not perfect
    assert M.citation_recall([], 2) == 0.0  # nothing cited: no evidence covered
    assert M.citation_recall([], 0) is None


# --- answer text --------------------------------------------------------------------------------------------
def test_answer_containment() -> None:
    assert M.answer_containment("Dès 2013, la commission est présidée par la Ville de Nantes. [1]", "Nantes") == 1.0
    assert M.answer_containment("présidée par la ville de **NANTES** [1]", "la Ville de Nantes") == 1.0
    assert M.answer_containment("Cotonou, une première au Benin [1]", "au Bénin") == 1.0  # accents ignored
    assert M.answer_containment("La commission est présidée par Paris.", "Nantes") == 0.0


def test_answer_containment_key_terms() -> None:
    answer = "Les défis sont techniques, humains et organisationnels [1]."
    assert M.answer_containment(answer, "technical, human and organisational challenges",
                                ["technical|techniques", "human|humains", "organisational|organisationnels"]) == 1.0
    assert M.answer_containment("Les défis sont techniques [1].", "x", ["techniques", "humains"]) == 0.0
    assert M.key_terms_found("Les défis sont techniques [1].", "x", ["techniques", "humains"]) == (1, 2)
    # whole words only: "six" is not in "sixième"
    assert M.answer_containment("la sixième ville", "six", ["six"]) == 0.0
    assert M.answer_containment("Six villes et provinces", "six") == 1.0
    # a multi-word key term counts when its stemmed words are all present, even in another order
    assert M.term_found("chartes territoriales de la donnée", "les chartes de la donnée territoriales")
    # without key terms, every content word of the reference must be there
    assert M.answer_containment("le Maire adjoint de Nantes présentera", "le Maire adjoint de Nantes") == 1.0
    assert M.answer_containment("le Maire de Nantes", "le Maire adjoint de Nantes") == 0.0


def test_empty_answer() -> None:
    assert M.answer_containment("", "Nantes") == 0.0
    assert M.content_word_f1("", "Nantes") == 0.0
    assert M.exact_match("", ["Nantes"]) == 0.0 and M.squad_f1("", ["Nantes"]) == 0.0
    assert M.faithfulness("", {1: PASSAGE}) == (None, [])  # nothing claimed: excluded, not perfect
    assert M.answer_containment("Nantes", "") is None  # no reference: not applicable


def test_content_word_f1() -> None:
    # answer tokens (stemmed): preside, vill, nant ; reference: nant -> P 1/3, R 1, F1 0.5
    assert M.content_word_f1("présidée par la Ville de Nantes [1]", "Nantes") == pytest.approx(0.5)
    assert M.content_word_f1("Nantes", "Nantes") == 1.0
    assert M.content_word_f1("Cotonou", "Nantes") == 0.0


# --- SQuAD exact match and F1 ---------------------------------------------------------------------------------
def test_squad_normalisation_removes_french_and_english_articles_and_elisions() -> None:
    assert M.squad_normalize("L'Hôtel de Ville, « la » mairie !") == "hôtel de ville mairie"
    assert M.squad_normalize("de la ville d'Abidjan et de l'eau") == "ville abidjan et eau"
    assert M.squad_normalize("Les villes, des maires, du Bénin, une AIMF, un pôle") == "villes maires bénin aimf pôle"
    assert M.squad_normalize("The city of a mayor, an association") == "city of mayor association"
    assert M.squad_normalize("Éducation") != M.squad_normalize("education")  # accents are kept, as in SQuAD


def test_exact_match_and_f1_on_the_leading_bold_span_else_the_whole_answer() -> None:
    refs = ["la Ville de Nantes", "Nantes"]
    # the answer opens with a bold span: only the span is measured, the quoted sentence after it is not
    opened = "**La Ville de Nantes** — Dès 2013, la Commission est présidée par la Ville de Nantes. [1]"
    assert M.answer_span(opened) == "La Ville de Nantes"
    assert M.exact_match(opened, refs) == 1.0 and M.squad_f1(opened, refs) == 1.0
    # no leading span: the whole answer, markers and emphasis removed
    whole = "Dès 2013, la Commission est présidée par la Ville de **Nantes**. [1]"
    assert M.answer_span(whole) == "Dès 2013, la Commission est présidée par la Ville de Nantes."
    assert M.exact_match(whole, refs) == 0.0
    # normalised: "dès 2013 commission est présidée par ville de nantes" (9 tokens) against "ville de nantes" (3):
    # P 3/9, R 1 -> F1 0.5 ; against "nantes": P 1/9, R 1 -> F1 0.2 ; the best is kept
    assert M.squad_f1(whole, refs) == pytest.approx(0.5)
    # the best reference counts (PIAF/SQuAD: several annotators)
    assert M.exact_match("**Nantes** [1]", refs) == 1.0
    # "ville de nantes et cotonou" against "nantes": P 1/5, R 1
    assert M.squad_f1("**Ville de Nantes et Cotonou** [1]", ["Nantes"]) == pytest.approx(2 * 0.2 / 1.2)


def test_a_wrong_span_drops_exact_match_and_f1() -> None:
    refs = ["la Ville de Nantes"]
    assert M.exact_match("**Ville de Nantes** [1]", refs) == 1.0 and M.squad_f1("**Ville de Nantes** [1]", refs) == 1.0
    # a near span (one word off) loses exact match and part of F1; a wrong one loses both
    near = M.squad_f1("**la Ville de Nantes Métropole** [1]", refs)
    assert M.exact_match("**la Ville de Nantes Métropole** [1]", refs) == 0.0 and 0.0 < near < 1.0
    assert M.exact_match("**Cotonou** [1]", refs) == 0.0 and M.squad_f1("**Cotonou** [1]", refs) == 0.0
    # the right words later in the answer do not rescue a wrong leading span
    assert M.squad_f1("**Cotonou** — présidée par la Ville de Nantes [1]", refs) == 0.0


# --- faithfulness -------------------------------------------------------------------------------------------
def test_faithfulness_verbatim_and_token_support() -> None:
    cited = {1: PASSAGE, 2: OTHER}
    verbatim = "Dès 2013, l'AIMF s'est dotée d'une Commission présidée par la Ville de Nantes. [1]"
    assert M.faithfulness(verbatim, cited)[0] == 1.0
    # emphasis in the passage does not break the verbatim match
    score, details = M.faithfulness("Commission présidée par la Ville de Nantes [1].", cited)
    assert score == 1.0 and details[0].how == "verbatim"
    # a claim the cited passage does not hold: 1 of 2 sentences supported
    half = verbatim + " Le budget du pôle est de 3 millions d'euros. [2]"
    score, details = M.faithfulness(half, cited)
    assert score == 0.5 and [d.supported for d in details] == [True, False]
    # not verbatim: 4 of 5 content words (vill, nant, commiss, 2013; not cotonou) in the cited passage = 80 %
    score, details = M.faithfulness("La Ville de Nantes et la Commission de 2013 à Cotonou [1].", {1: PASSAGE})
    assert score == 1.0 and details[0].how == "tokens 0.80"
    score, details = M.faithfulness("La Ville de Nantes à Cotonou et au Bénin [1].", {1: PASSAGE})
    assert score == 0.0 and details[0].how == "tokens 0.50"
    # ...but the same words are supported when the sentence also cites the passage that holds the rest
    assert M.faithfulness("La Ville de Nantes à Cotonou et au Bénin [1][2].", cited)[0] == 1.0


def test_a_negated_sentence_is_not_supported_by_an_affirmative_passage() -> None:
    cited = {1: PASSAGE}
    assert M.faithfulness("La Commission est présidée par la Ville de Nantes depuis 2013. [1]", cited)[0] == 1.0
    for negated in ("La Commission n'est pas présidée par la Ville de Nantes depuis 2013. [1]",
                    "Aucune Commission présidée par la Ville de Nantes depuis 2013. [1]",
                    "Depuis 2013, la Commission est présidée sans la Ville de Nantes. [1]"):
        score, details = M.faithfulness(negated, cited)
        assert score == 0.0 and not details[0].supported, negated
    english = {1: "Since 2013 the Commission has been chaired by the City of Nantes."}
    assert M.faithfulness("The Commission has been chaired by the City of Nantes since 2013. [1]", english)[0] == 1.0
    for negated in ("The Commission has never been chaired by the City of Nantes since 2013. [1]",
                    "The Commission has not been chaired by the City of Nantes since 2013. [1]",
                    "The Commission hasn't been chaired by the City of Nantes since 2013. [1]"):
        assert M.faithfulness(negated, english)[0] == 0.0, negated
    # and the reverse: an affirmative claim against the passage sentence that denies it
    denied = {1: "La Ville de Nantes ne préside pas la Commission depuis 2013. Elle accueille le secrétariat."}
    score, details = M.faithfulness("La Ville de Nantes préside la Commission depuis 2013. [1]", denied)
    assert score == 0.0 and details[0].how.startswith("negation only in")
    # the negation words themselves stay out of retrieval's tokens (unchanged), but count here
    assert "pas" not in M.tokens("n'est pas présidée") and {"ne", "pas"} <= set(M.claim_tokens("n'est pas présidée"))


def test_faithfulness_without_citations() -> None:
    score, details = M.faithfulness("La commission est présidée par la Ville de Nantes.", {})
    assert score == 0.0 and details[0].how == "no citation"
    # a marker that resolves to no citation supports nothing either
    assert M.faithfulness("La Ville de Nantes [3].", {1: PASSAGE})[0] == 0.0


def test_marker_covers_the_text_since_the_previous_marker() -> None:
    text = "Intro ici. Parmi eux : [1]\n- À Cotonou, un pôle [2][1]\n- Et Tunis ensuite"
    assert M.answer_sentences(text) == [
        ("Intro ici.", [1]), ("Parmi eux :", [1]), ("À Cotonou, un pôle", [2, 1]), ("Et Tunis ensuite", []),
    ]
    # the extractive writer puts the marker after the final period
    assert M.answer_sentences("A est vrai. [1] B est faux. [2]") == [("A est vrai.", [1]), ("B est faux.", [2])]


# --- abstention, latency, energy ----------------------------------------------------------------------------
def test_abstention_precision_recall() -> None:
    # (abstained, answerable)
    pairs = [(True, False), (True, True), (False, False), (False, True), (True, False)]
    p, r = M.abstention_scores(pairs)
    assert p == pytest.approx(2 / 3) and r == pytest.approx(2 / 3)
    assert M.abstention_scores([(False, True), (False, False)]) == (None, 0.0)  # never abstains
    assert M.abstention_scores([(True, True), (False, True)]) == (0.0, None)  # no unanswerable question


def test_percentiles() -> None:
    assert M.percentile([4, 1, 3, 2], 50) == 2.5
    assert M.percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert M.percentile([7.0], 95) == 7.0
    assert M.percentile([], 50) is None


def test_energy_and_carbon() -> None:
    assert M.energy_wh(3600, 10) == pytest.approx(10.0)
    assert M.energy_wh(1.8, 20) == pytest.approx(0.01)
    assert M.co2e_g(10.0, 500) == pytest.approx(5.0)


# --- per-question scoring (runner.score) on hand-made answers -------------------------------------------------
CONFIG = {"energy": {"watts_per_core": 10.0, "grid_g_co2e_per_kwh": 400.0}, "targets": {}}


def _gold(**kw):
    from evals.dataset import GoldQuestion

    base = dict(id="q1", lang="fr", question="Quelle ville préside la commission ?", answer="Nantes",
                evidence=["présidée par la Ville de **Nantes**"], type="where", answerable=True)
    return GoldQuestion(**(base | kw))


def _passage(cid: str, text: str) -> Passage:
    return Passage(chunk_id=cid, source="discours.txt", text=text)


def _citation(n: int, p: Passage) -> Citation:
    return Citation(n=n, source=p.source, quote=p.text, start=0, end=len(p.text), score=0.9, chunk_id=p.chunk_id,
                    passage=p.text)


def test_score_abstention_on_an_answerable_question() -> None:
    ranking = [_passage("a", OTHER), _passage("b", PASSAGE)]
    answer = Answer(text="Les documents disponibles ne permettent pas de répondre à cette question.",
                    abstained=True, retrieved=ranking)
    r = score(_gold(), answer, ranking, CONFIG)
    m = r["metrics"]
    assert m["recall_at_5"] == 1.0 and m["mrr_at_10"] == 0.5  # retrieval did its job
    assert m["answer_containment"] == 0.0 and m["content_word_f1"] == 0.0 and m["citation_recall"] == 0.0
    assert m["exact_match"] == 0.0 and m["squad_f1"] == 0.0 and m["quote_holds_evidence"] is None
    assert m["citation_precision"] is None and m["faithfulness"] is None
    assert r["failures"] == ["wrong abstention: answerable question abstained"]


def test_score_answer_without_citations_and_unanswerable() -> None:
    ranking = [_passage("b", PASSAGE)]
    r = score(_gold(), Answer(text="Nantes préside la commission.", retrieved=ranking, generator="openai"), ranking,
              CONFIG)
    assert r["metrics"]["answer_containment"] == 1.0 and r["metrics"]["faithfulness"] == 0.0
    assert "no citation" in r["failures"]
    # an unanswerable question answered anyway; its tempting evidence does not count for retrieval metrics
    gold = _gold(id="u1", answer="", answerable=False, question="Qui est le maire de Nantes ?")
    text = "Dès 2013, l'AIMF s'est dotée d'une Commission présidée par la Ville de Nantes. [1]"
    r = score(gold, Answer(text=text, citations=[_citation(1, ranking[0])], retrieved=ranking, generator="openai"),
              ranking, CONFIG)
    assert r["metrics"]["recall_at_5"] is None and r["metrics"]["citation_precision"] is None
    assert r["metrics"]["faithfulness"] == 1.0
    assert r["failures"] == ["missed abstention: unanswerable question answered"]


def test_score_cited_passage_without_evidence_and_summary() -> None:
    ranking = [_passage("a", OTHER), _passage("b", PASSAGE)]
    text = ("Dès 2013, l'AIMF s'est dotée d'une Commission présidée par la Ville de Nantes. [1] "
            "À Cotonou, la construction du Pôle numérique des services municipaux, une première au Bénin. [2]")
    answer = Answer(text=text, citations=[_citation(1, ranking[1]), _citation(2, ranking[0])], retrieved=ranking)
    r = score(_gold(), answer, ranking, CONFIG)
    assert r["metrics"]["citation_precision"] == 0.5 and r["metrics"]["citation_recall"] == 1.0
    assert r["failures"] == ["citation without evidence: [2]"]
    r.update(latency_ms=100.0, cpu_s=0.36, timings={})
    abstained = score(_gold(id="u", answer="", answerable=False), Answer(text="…", abstained=True), ranking, CONFIG)
    abstained.update(latency_ms=300.0, cpu_s=0.0, timings={})
    s = summarise([r, abstained], CONFIG)
    assert s["n"] == 2 and s["citation_precision"] == 0.5 and s["abstention_precision"] == 1.0
    assert s["abstention_recall"] == 1.0 and s["latency_p50_ms"] == 200.0
    assert s["energy_wh"] == pytest.approx(0.001) and s["co2e_g"] == pytest.approx(0.0004)


def test_report_counts_failures_by_cause_and_judges_a_squad_run_by_its_own_target() -> None:
    from evals.report import build
    from evals.render import to_markdown

    ranking = [_passage("a", OTHER), _passage("b", PASSAGE)]
    text = "À Cotonou, la construction du Pôle numérique des services municipaux, une première au Bénin. [1]"
    wrong = score(_gold(), Answer(text=text, citations=[_citation(1, ranking[0])], retrieved=ranking), ranking, CONFIG)
    refused = score(_gold(id="q2"), Answer(text="…", abstained=True, retrieved=ranking), ranking, CONFIG)
    records = []
    for r in (wrong, refused):
        r.update(latency_ms=100.0, cpu_s=0.1, timings={"retrieve": 40.0, "generate": 60.0}, lang="fr", type="factual")
        records.append(r)
    summary = summarise(records, CONFIG)
    summary["config"] = {"label": "t", "dataset": "piaf.json", "dataset_kind": "squad", "generator": "extractive",
                         "k": 5, "embedding_model": "e5", "embedding_dtype": "bf16", "started_at": "now",
                         "energy": CONFIG["energy"], "faithfulness_token_share": 0.8}
    config = {**CONFIG, "targets": {"squad": {"answer_containment": 0.75}, "gold": {"abstention_recall": 0.8}}}
    md = to_markdown(build(records, summary, config))
    assert "| cause | questions |" in md and "| wrong sentence | 1 |" in md and "| wrong abstention | 1 |" in md
    assert "| answer_containment | 0 | ≥ 0.75 | manquée |" in md and "abstention_recall | — | ≥" not in md


def test_diagnose_retrieval_miss_and_wrong_sentence() -> None:
    record = {"answerable": True, "abstained": False, "answer": "Cotonou [1]", "evidence": ["Ville de Nantes"],
              "key_terms_found": [0, 1], "citations": [{"n": 1, "has_evidence": False}], "sentences": [],
              "metrics": {"recall_at_5": 0.0, "answer_containment": 0.0, "citation_precision": 0.0,
                          "citation_recall": 0.0, "faithfulness": 1.0}}
    causes = diagnose(record)
    assert causes[0].startswith("retrieval miss") and causes[1].startswith("wrong sentence")


def test_a_question_that_raises_is_scored_as_an_empty_answer_not_lost() -> None:
    from types import SimpleNamespace

    from evals.runner import run_question
    from rag.store import IndexUnavailableError

    class Broken:
        settings = SimpleNamespace(k=5, generator="extractive")
        retriever = SimpleNamespace(search=lambda query, k: [])

        def __init__(self, exc: Exception):
            self.exc = exc

        def answer(self, question: str):
            raise self.exc

    record = run_question(Broken(RuntimeError("boom")), _gold(), 10, CONFIG)
    assert record["error"] == "RuntimeError: boom" and record["failures"][0] == "error: RuntimeError: boom"
    assert record["metrics"]["answer_containment"] == 0.0 and record["metrics"]["recall_at_5"] == 0.0
    with pytest.raises(IndexUnavailableError):  # without the index the whole run stops, with its message
        run_question(Broken(IndexUnavailableError("Chroma injoignable")), _gold(), 10, CONFIG)


def test_score_quoting_the_right_passage_but_the_wrong_sentence() -> None:
    passage = _passage("b", "Elle se réunit chaque année à Paris. " + PASSAGE)
    ranking = [passage]
    wrong = Citation(n=1, source=passage.source, quote="Elle se réunit chaque année à Paris.", start=0, end=36,
                     score=0.9, chunk_id="b", passage=passage.text)
    right = wrong.model_copy(update={"quote": PASSAGE})
    outcomes = {}
    for name, citation in (("right", right), ("wrong", wrong)):
        answer = Answer(text=f"{citation.quote} [1]", citations=[citation], retrieved=ranking)
        outcomes[name] = score(_gold(), answer, ranking, CONFIG)
    good, bad = outcomes["right"], outcomes["wrong"]
    assert good["metrics"]["citation_precision"] == 1.0 and good["metrics"]["quote_holds_evidence"] == 1.0
    assert good["failures"] == []
    # the passage holds the evidence, the quoted sentence does not: every quote-based metric drops
    assert bad["metrics"]["citation_precision"] == 0.0 and bad["metrics"]["citation_recall"] == 0.0
    assert bad["metrics"]["quote_holds_evidence"] == 0.0 and bad["metrics"]["answer_containment"] == 0.0
    assert bad["citations"][0]["passage_has_evidence"] and not bad["citations"][0]["has_evidence"]
    assert "quote misses the evidence of its passage: [1]" in bad["failures"]


def test_extractive_answers_have_no_faithfulness_and_the_summary_says_why() -> None:
    ranking = [_passage("b", PASSAGE)]
    text = "**Nantes** — Dès 2013, l'AIMF s'est dotée d'une Commission présidée par la Ville de Nantes. [1]"
    records = []
    for generator, qtype in (("extractive", "where"), ("extractive", "who")):
        r = score(_gold(type=qtype, id=qtype), Answer(text=text, citations=[_citation(1, ranking[0])],
                                                      retrieved=ranking, generator=generator), ranking, CONFIG)
        r.update(latency_ms=10.0, cpu_s=0.01)
        records.append(r)
    assert all(r["metrics"]["faithfulness"] is None and r["sentences"] == [] for r in records)
    assert records[0]["span"] == "Nantes" and records[0]["metrics"]["exact_match"] == 1.0
    s = summarise(records, CONFIG)
    assert s["faithfulness"] is None and "not applicable" in s["faithfulness_note"]
    assert s["quote_holds_evidence"] == 1.0 and s["exact_match"] == 1.0
    assert set(s["by_type"]) == {"where", "who"} and s["by_type"]["who"]["n"] == 1
    assert s["by_type"]["who"]["answer_containment"] == 1.0 and "by_group" not in s
    assert set(M.QUESTION_METRICS) <= set(s["definitions"]) and "**span**" in s["definitions"]["exact_match"]
    # an LLM writer's answer gets the support test
    llm = score(_gold(), Answer(text=text, citations=[_citation(1, ranking[0])], retrieved=ranking, generator="openai"),
                ranking, CONFIG)
    assert llm["metrics"]["faithfulness"] == 1.0


def test_old_runs_are_read_under_the_new_metric_names() -> None:
    assert M.upgrade({"answer_f1": 0.4, "faithfulness": 1.0}) == {"content_word_f1": 0.4, "faithfulness": 1.0}
    assert M.upgrade({"content_word_f1": 0.5}) == {"content_word_f1": 0.5}
