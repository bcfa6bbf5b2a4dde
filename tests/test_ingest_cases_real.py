"""The difficult documents (tests/corpus_cases.py) indexed with the real e5 model in a scratch data dir, then asked
about: each case must be answerable from what was extracted, and the CLI must report it as a user sees it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

import corpus_cases as cc

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, e5_model_dir):
    from ingest.pipeline import Ingestor
    from rag.assistant import Assistant
    from rag.settings import Settings

    root = tmp_path_factory.mktemp("cases-real")
    cc.build(root / "corpus")
    settings = Settings(_env_file=None, data_dir=root / "data", corpus_dir=root / "corpus",
                        embedding_model=str(e5_model_dir), collection="cases")
    report = Ingestor(settings).run()
    assert report.added == 5 and report.failed == 3, report.errors
    return settings, Assistant(settings)


def ask(assistant, question: str):
    answer = assistant.answer(question)
    quotes = " ".join(c.quote for c in answer.citations)
    return answer, quotes


def test_header_and_footer_never_in_a_passage(indexed):
    from rag.embeddings import model_identity
    from rag.store import Store

    settings, assistant = indexed
    passages = Store.open(settings, model_identity(settings)).all_documents()
    assert passages
    assert not [p for p in passages if cc.HEADER in p.page_content or cc.FOOTER_DEPARTMENT in p.page_content]
    # The department is named only in the footer: nothing indexed says what it does.
    answer, quotes = ask(assistant, "Quelles sont les missions de la direction des affaires funéraires et du cimetière paysager ?")
    assert answer.abstained, answer.text
    assert cc.FOOTER_DEPARTMENT not in quotes


def test_table_cell_question_gets_the_row(indexed):
    _, assistant = indexed
    answer, quotes = ask(assistant, "Combien d'arbres à planter sont prévus dans le quartier Montclair ?")
    assert not answer.abstained
    assert "450" in answer.text
    assert "Montclair — arbres à planter : 450" in quotes


def test_interleaved_two_column_page_reads_column_by_column(indexed):
    _, assistant = indexed
    answer, quotes = ask(assistant, "Combien de kilomètres de pistes cyclables protégées prévoit le plan vélo ?")
    assert not answer.abstained
    assert "quarante kilomètres de pistes cyclables protégées" in quotes
    assert "médiathèque" not in quotes  # the other column's words are not interleaved into the sentence


def test_saint_exupery_keeps_its_hyphen(indexed):
    _, assistant = indexed
    answer, quotes = ask(assistant, "Quelle école est en cours de rénovation ?")
    assert "Saint-Exupéry" in answer.text and "SaintExupéry" not in quotes


def test_third_list_step_is_answerable(indexed):
    _, assistant = indexed
    answer, quotes = ask(assistant, "Quelle est la troisième étape du plan arbres ?")
    assert not answer.abstained
    assert f"3. {cc.LIST_STEPS[2]}" in quotes or cc.LIST_STEPS[2] in answer.text


def test_non_utf8_file_name_is_indexed_and_cited(indexed):
    _, assistant = indexed
    answer, _ = ask(assistant, "Qu'a voté le conseil municipal pour les collégiens ?")
    assert not answer.abstained
    assert "gratuité des transports scolaires" in answer.text
    assert cc.NON_UTF8_NAME.decode("utf-8", "backslashreplace") in {c.source for c in answer.citations}


def test_cli_names_files_in_warnings_and_a_rerun_exits_zero(tmp_path, e5_model_dir):
    cc.build(tmp_path / "corpus")
    env = dict(os.environ, AIMF_DATA_DIR=str(tmp_path / "data"), AIMF_CORPUS_DIR=str(tmp_path / "corpus"),
               AIMF_EMBEDDING_MODEL=str(e5_model_dir), AIMF_SENTENCE_VECTORS="false")
    cmd = [sys.executable, "-m", "aimf.cli", "ingest", "--json"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 1, first.stderr
    report = json.loads(first.stdout)
    assert {"file": "rapport-annuel-2025.pdf", "message": next(
        w["message"] for w in report["warnings"] if w["message"].startswith("page 2 : aucune couche texte"))} in report["warnings"]
    assert {e["file"] for e in report["errors"]} == {"annexe-scannee.pdf", "compte-rendu-tronque.pdf", "compte-rendu-chiffre.pdf"}
    assert "EOF" not in first.stderr  # library noise goes into the report, with the file's name, not bare on stderr
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(json.loads(again.stdout)["not_retried"]) == 3
    inspect = subprocess.run([sys.executable, "-m", "aimf.cli", "inspect", str(tmp_path / "corpus" / "rapport-annuel-2025.pdf")],
                             env=env, capture_output=True, text=True, timeout=120)
    assert inspect.returncode == 0
    assert cc.HEADER in inspect.stdout and "Montclair — arbres à planter : 450" in inspect.stdout
    shutil.rmtree(tmp_path / "data", ignore_errors=True)
