"""End to end: a handful of gold questions through the real model, embedded Chroma and ``Assistant.answer``,
producing every file; twice, to check the numbers repeat; then compare and gate on those real runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evals.dataset import load_jsonl
from evals.runner import SUMMARY_KEYS, evaluate, load_config
from test_eval_tools import fake_openai  # noqa: F401  (the FAKE OpenAI-compatible server fixture)

pytestmark = pytest.mark.real

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "evals" / "datasets" / "aimf-gold.jsonl"
# a who, a list, an English question, a city the speech never names, a role it never fills
IDS = ["fr-09", "fr-15", "en-05", "un-04", "un-07"]
QUALITY = ["recall_at_5", "mrr_at_10", "citation_precision", "citation_recall", "quote_holds_evidence",
           "answer_containment", "exact_match", "squad_f1", "content_word_f1", "faithfulness", "abstention_precision",
           "abstention_recall"]


def _questions():
    by_id = {q.id: q for q in load_jsonl(GOLD)}
    return [by_id[i] for i in IDS]


@pytest.fixture(scope="module")
def runs(bundled_index, tmp_path_factory):
    settings, assistant = bundled_index
    out = tmp_path_factory.mktemp("eval-runs")
    summaries = [evaluate(settings, _questions(), out / label, label=label, dataset=GOLD, assistant=assistant,
                          progress=False) for label in ("first", "second")]
    return out / "first", out / "second", summaries, assistant


def _records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "results.jsonl").read_text(encoding="utf-8").splitlines()]


def test_run_writes_every_file_with_the_summary_keys(runs) -> None:
    first, _, (summary, _), _ = runs
    for name in ("results.jsonl", "summary.json", "report.md", "report.html", "metrics.png", "latency.png"):
        assert (first / name).is_file(), name
    on_disk = json.loads((first / "summary.json").read_text(encoding="utf-8"))
    assert set(SUMMARY_KEYS) <= set(on_disk)
    assert on_disk["n"] == len(IDS) and on_disk["n_unanswerable"] == 2
    for key in QUALITY:
        assert on_disk[key] is None or 0 <= on_disk[key] <= 1, key
    assert on_disk["latency_p50_ms"] > 0 and on_disk["latency_p95_ms"] >= on_disk["latency_p50_ms"]
    assert on_disk["energy_wh"] > 0 and on_disk["co2e_g"] == pytest.approx(
        on_disk["energy_wh"] / 1000 * load_config()["energy"]["grid_g_co2e_per_kwh"], rel=1e-3, abs=1e-5)
    config = on_disk["config"]
    assert config["generator"] == "extractive" and config["k"] == 5 and config["embedding_model"]
    assert on_disk["notices"] == []  # every evidence string was found in the index
    # the extractive writer quotes: faithfulness does not apply, and the summary says so
    assert on_disk["faithfulness"] is None and "not applicable" in on_disk["faithfulness_note"]
    assert set(on_disk["by_type"]) == {q.type for q in _questions()}
    assert config["index"]["chunks"] == len(settings_index_docs(runs)) and config["index"]["documents"] >= 1

    records = _records(first)
    assert [r["id"] for r in records] == IDS
    for r in records:
        assert {"answer", "citations", "retrieved", "metrics", "timings", "cpu_s", "failures"} <= set(r)
        assert r["retrieved"] and len(r["ranking"]) >= len(r["retrieved"])
    for r in records:  # an unanswerable question answered is diagnosed as such, and only then
        if not r["answerable"]:
            assert r["abstained"] != ("missed abstention: unanswerable question answered" in r["failures"]), r["id"]
    nantes = records[IDS.index("fr-09")]
    assert nantes["metrics"]["recall_at_5"] == 1.0 and nantes["citations"]

    md = (first / "report.md").read_text(encoding="utf-8")
    for section in ("## Résumé", "## Définitions", "## Par langue", "## Par type de question", "Questions en échec",
                    "Pires réponses", "![Latence](latency.png)", "faithfulness (test de soutien, rédacteurs LLM)",
                    "exact_match et squad_f1 (SQuAD)", "| faithfulness | — |", "sans objet : not applicable"):
        assert section in md, section
    assert "cible (jeu de référence, extractif)" in md and config["dataset_kind"] == "gold"
    page = (first / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2 and "<script" not in page


def settings_index_docs(runs) -> list:
    return runs[3].retriever.lexical().docs


def test_same_run_gives_the_same_numbers(runs) -> None:
    first, second, (a, b), _ = runs
    assert {k: a[k] for k in QUALITY} == {k: b[k] for k in QUALITY}
    assert [r["metrics"] for r in _records(first)] == [r["metrics"] for r in _records(second)]
    assert [r["answer"] for r in _records(first)] == [r["answer"] for r in _records(second)]


def test_compare_two_real_runs(runs, tmp_path: Path) -> None:
    from evals.compare import compare, write_files

    first, second, _, _ = runs
    result = compare([first, second], resamples=300)
    assert result["n_common"] == len(IDS) and result["changed"] == []
    for name in QUALITY:
        d = result["metrics"][name]["deltas"][0]
        assert d["delta"] in (0, None) and not d["significant"], name
    md, page = write_files(result, tmp_path)
    assert "answer_containment" in md.read_text(encoding="utf-8") and page.is_file()


def test_gate_on_a_real_summary(runs, tmp_path: Path) -> None:
    from aimf.cli import main

    first, _, (summary, _), _ = runs
    floors = tmp_path / "floors.json"
    floors.write_text(json.dumps({"floors": {"recall_at_5": summary["recall_at_5"]}}))
    assert main(["eval", "gate", "--summary", str(first / "summary.json"), "--floors", str(floors)]) == 0
    floors.write_text(json.dumps({"floors": {"recall_at_5": 1.01}}))
    assert main(["eval", "gate", "--summary", str(first / "summary.json"), "--floors", str(floors)]) == 1


def test_unreachable_judge_is_skipped_with_a_notice(bundled_index, tmp_path: Path) -> None:
    from conftest import free_port

    settings, assistant = bundled_index
    settings = settings.model_copy(update={"judge_base_url": f"http://127.0.0.1:{free_port()}/v1"})
    summary = evaluate(settings, _questions()[:1], tmp_path / "judged", label="judged", dataset=GOLD,
                       assistant=assistant, judge="openai", progress=False)
    assert any("Juge LLM ignoré" in n for n in summary["notices"])
    assert "judge_faithfulness" not in summary and summary["answer_containment"] is not None
    assert "Juge LLM ignoré" in (tmp_path / "judged" / "report.md").read_text(encoding="utf-8")


def test_judge_adds_scores_next_to_the_deterministic_ones(bundled_index, tmp_path: Path, fake_openai) -> None:
    settings, assistant = bundled_index
    settings = settings.model_copy(update={"judge_base_url": fake_openai, "judge_model": "fake-judge"})
    summary = evaluate(settings, _questions()[:2], tmp_path / "judged", label="judged", dataset=GOLD,
                       assistant=assistant, judge="openai", progress=False)
    assert summary["judge_faithfulness"] == 0.75 and summary["judge_relevance"] == 1.0 and summary["judge_n"] == 2
    assert summary["quote_holds_evidence"] is not None  # the deterministic metrics are still there
    report = (tmp_path / "judged" / "report.md").read_text(encoding="utf-8")
    assert "judge_faithfulness (juge LLM)" in report and f"Juge LLM : openai (fake-judge @ {fake_openai})" in report


def test_eval_run_command(bundled_index, tmp_path: Path) -> None:
    """`aimf eval run` as CI calls it (a fresh process, the index built by the fixture)."""
    settings, _ = bundled_index
    env = {**os.environ, "AIMF_DATA_DIR": str(settings.data_dir), "AIMF_EMBEDDING_MODEL": settings.embedding_model,
           "HF_HUB_OFFLINE": "1"}
    out = tmp_path / "cli-run"
    # a folder of two gold sets (one question of the bundled set, then the bundled set): several files in one run
    sets = tmp_path / "sets"
    sets.mkdir()
    lines = GOLD.read_text(encoding="utf-8").splitlines()
    (sets / "a-extra.jsonl").write_text(next(line for line in lines if '"un-04"' in line) + "\n", encoding="utf-8")
    (sets / "b-gold.jsonl").write_text(GOLD.read_text(encoding="utf-8"), encoding="utf-8")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "aimf"), "eval", "run", "--dataset", str(sets), "--limit", "3",
         "--out", str(out), "--label", "cli"],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "recall_at_5" in proc.stdout and "Évaluation" in proc.stderr  # table, progress bar
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["n"] == 3 and summary["config"]["label"] == "cli"
    assert summary["by_group"]["a-extra"]["n"] == 1 and summary["by_group"]["b-gold"]["n"] == 2
    ids = [json.loads(line)["id"] for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert ids == ["a-extra/un-04", "b-gold/fr-01", "b-gold/fr-02"]
    bad = subprocess.run([str(Path(sys.executable).parent / "aimf"), "eval", "run", "--dataset",
                          str(tmp_path / "none.jsonl")], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "introuvable" in bad.stderr


def test_a_gold_set_run_indexes_a_missing_corpus_and_says_when_the_index_is_too_small(e5_model_dir, tmp_path: Path) -> None:
    """A fresh clone has no index: the run indexes the corpus folder first. Two documents make a tiny index, where
    recall@5 measures almost nothing: the run says so."""
    from rag.settings import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "nantes.md").write_text("# Commission\n\nDès 2013, la Commission est présidée par la Ville de Nantes.\n",
                                      encoding="utf-8")
    (corpus / "cotonou.md").write_text("# Cotonou\n\nÀ Cotonou, un pôle numérique des services municipaux.\n",
                                       encoding="utf-8")
    gold = tmp_path / "g.jsonl"
    gold.write_text(json.dumps({"id": "q1", "lang": "fr", "question": "Quelle ville préside la Commission ?",
                                "answer": "Nantes", "evidence": ["présidée par la Ville de Nantes"], "type": "where",
                                "answerable": True}) + "\n", encoding="utf-8")
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", corpus_dir=corpus,
                        embedding_model=str(e5_model_dir))
    summary = evaluate(settings, load_jsonl(gold), tmp_path / "run", label="fresh", dataset=gold, progress=False)
    assert summary["config"]["index"] == {"chunks": 2, "documents": 2}
    assert any("recall@5 n'y mesure presque rien" in n for n in summary["notices"])
    assert summary["recall_at_5"] == 1.0 and summary["n"] == 1


def test_off_topic_command_counts_every_answer_to_a_question_on_another_subject(bundled_index, tmp_path: Path) -> None:
    """`aimf eval off-topic` through the real assistant: a question the corpus never touches must be declined; one
    it does answer (here, about the speech, slipped in) is counted and written out."""
    settings, _ = bundled_index
    env = {**os.environ, "AIMF_DATA_DIR": str(settings.data_dir), "AIMF_EMBEDDING_MODEL": settings.embedding_model,
           "HF_HUB_OFFLINE": "1"}
    asked = ["Qui a écrit Les Misérables ?", "Quelle est la capitale de l'Australie ?",
             "Qui prononce ce discours d'ouverture ?"]
    questions = tmp_path / "ailleurs.jsonl"
    questions.write_text("".join(json.dumps({"id": f"q{i}", "lang": "fr", "question": q, "answerable": False}) + "\n"
                                 for i, q in enumerate(asked)), encoding="utf-8")
    out = tmp_path / "off-topic.json"
    aimf = str(Path(sys.executable).parent / "aimf")
    proc = subprocess.run([aimf, "eval", "off-topic", "--questions", str(questions), "--limit", "10", "--out", str(out),
                           "--quiet"], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    answered = [a["question"] for a in result["answered_questions"]]
    assert result["asked"] == 3 and result["answered"] == len(answered)
    assert "Qui prononce ce discours d'ouverture ?" in answered  # the speech's own question is answered
    assert "Qui a écrit Les Misérables ?" not in answered  # a name no document holds
    assert f"{len(answered)}/3" in proc.stdout
    bad = subprocess.run([aimf, "eval", "off-topic", "--questions", str(questions), "--limit", "0"], env=env,
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert bad.returncode != 0 and "--limit" in bad.stderr


def test_near_miss_command_asks_each_answerable_question_with_a_value_swapped(bundled_index, tmp_path: Path) -> None:
    """`aimf eval near-miss` through the real assistant and index: each answerable question whose evidence a document
    holds is asked once with a name or year swapped for another of the corpus; unanswerable ones are not asked."""
    settings, _ = bundled_index
    env = {**os.environ, "AIMF_DATA_DIR": str(settings.data_dir), "AIMF_EMBEDDING_MODEL": settings.embedding_model,
           "HF_HUB_OFFLINE": "1"}
    rows = [{"id": "a", "lang": "fr", "answer": "2013", "evidence": ["Dès 2013, l'AIMF s'est dotée"],
             "question": "En quelle année l'AIMF s'est-elle dotée de la commission « Villes innovantes, intelligentes "
                         "et responsables » ?"},
            {"id": "b", "lang": "fr", "question": "Qui est le maire de Phnom Penh ?", "answerable": False}]
    questions = tmp_path / "jeu.jsonl"
    questions.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "near-miss.json"
    aimf = str(Path(sys.executable).parent / "aimf")
    proc = subprocess.run([aimf, "eval", "near-miss", "--dataset", str(questions), "--out", str(out), "--quiet"],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["asked"] == 1 and result["answered"] == len(result["answered_questions"])
    assert f"{result['answered']}/1" in proc.stdout
    for a in result["answered_questions"]:
        assert a["original"] == rows[0]["question"] and a["question"] != a["original"]
