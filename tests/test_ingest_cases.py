"""The documents cities really have (tests/corpus_cases.py builds them): what the loaders extract from each
difficult case. No embedding model here; tests/test_ingest_cases_real.py asks the questions with the real one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import corpus_cases as cc
from ingest.chunking import chunk_document
from ingest.document import LoadError
from ingest.hyphenation import Vocabulary, join_lines, keep_hyphen
from ingest.loaders import load
from ingest.pipeline import Ingestor, embedding_text


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return cc.build(tmp_path_factory.mktemp("cases") / "corpus")


@pytest.fixture(scope="module")
def report_doc(corpus):
    return load(corpus["report"])


def row_sentence(row: list[str]) -> str:
    h = cc.TABLE_HEADER
    return f"{row[0]} — {h[1].lower()} : {row[1]} ; {h[2].lower()} : {row[2]} ; {h[3].lower()} : {row[3]}."


# --------------------------------------------------------------------------- running headers and footers


def test_running_header_and_footer_are_left_out_and_kept_as_metadata(report_doc):
    assert cc.HEADER not in report_doc.text
    assert cc.FOOTER_DEPARTMENT not in report_doc.text
    assert not re.search(r"Page \d sur \d", report_doc.text)
    assert cc.HEADER in report_doc.dropped
    assert any(cc.FOOTER_DEPARTMENT in d for d in report_doc.dropped)
    # The PDF's properties hold the tool's default "untitled": the running header names the report instead.
    assert report_doc.title == cc.HEADER


def test_page_numbers_stay_exact(report_doc):
    chunks = chunk_document(report_doc, "r.pdf", "s", chunk_size=300, chunk_overlap=50)
    page_of = lambda needle: next(c.metadata["page"] for c in chunks if needle in c.page_content)  # noqa: E731
    assert report_doc.pages == cc.REPORT_PAGES
    assert page_of("Saint-Exupéry") == 1
    assert page_of(cc.LEFT_COLUMN[0]) == 3
    assert page_of("Montclair —") == 4
    assert page_of("212 projets") == 6


# --------------------------------------------------------------------------- reading order, hyphens, headings


def test_interleaved_two_columns_read_column_by_column(report_doc):
    assert cc.LEFT_TEXT in report_doc.text
    assert cc.RIGHT_TEXT in report_doc.text
    assert report_doc.text.index(cc.LEFT_TEXT) < report_doc.text.index(cc.RIGHT_TEXT)


def test_line_end_hyphens_removed_only_inside_cut_words(report_doc):
    assert cc.HYPHEN_TEXT in report_doc.text  # Saint-Exupéry and vingt-deux keep theirs; environnement is mended


def test_hyphen_rules():
    vocab = Vocabulary(["La concertation a eu lieu.", "Le porte-parole de la mairie."])
    assert not keep_hyphen("concer", "tation", vocab)  # a word of the document
    assert not keep_hyphen("environne", "ment", vocab)  # a word of the French word list
    assert keep_hyphen("Saint", "Exupéry", vocab)  # a capital after the break: a name
    assert keep_hyphen("vingt", "deux", vocab)  # two words each standing alone
    assert keep_hyphen("porte", "parole", vocab)  # the document writes the compound with its hyphen
    assert join_lines(["Le porte-", "parole a parlé de concer-", "tation."], vocab) == "Le porte-parole a parlé de concertation."
    assert join_lines(["Le bilan 2019-", "2023 et la suite -", "enfin."], vocab) == "Le bilan 2019-2023 et la suite - enfin."


def test_headings_become_sections_and_no_heading_is_a_passage_alone(report_doc):
    chunks = chunk_document(report_doc, "r.pdf", "s", chunk_size=300, chunk_overlap=50)
    headings = {h for _, h in report_doc.headings}
    assert {"Réseaux et bâtiments", "Mobilité et culture", "Espaces verts", "Finances"} <= headings
    assert all(c.page_content.strip() not in headings for c in chunks)
    section_of = {c.page_content: c.metadata["section"] for c in chunks}
    assert next(s for t, s in section_of.items() if cc.LEFT_COLUMN[0] in t) == "Mobilité et culture"
    assert next(s for t, s in section_of.items() if "212 projets" in t) == "Démocratie locale"
    # A heading is not glued to the sentence after it.
    assert "Finances\n\nLe budget" in report_doc.text


# --------------------------------------------------------------------------- tables


@pytest.mark.parametrize("kind", ["report", "docx", "html"])
def test_tables_are_written_row_by_row_with_column_names(corpus, kind):
    doc = load(corpus[kind])
    for row in cc.TABLE_ROWS:
        assert row_sentence(row) in doc.text
    # The merged "total" cell is written once, with the column it belongs to.
    assert doc.text.count(cc.TABLE_TOTAL) == 1
    assert f"{cc.TABLE_TOTAL} — coût : {cc.TABLE_TOTAL_COST}." in doc.text
    (table,) = doc.tables
    assert table.caption == cc.TABLE_CAPTION


def test_tables_are_chunked_by_rows_with_their_caption(report_doc):
    chunks = chunk_document(report_doc, "r.pdf", "s", chunk_size=160, chunk_overlap=40)
    table_chunks = [c for c in chunks if c.metadata.get("table")]
    rows = {row_sentence(r) for r in cc.TABLE_ROWS} | {f"{cc.TABLE_TOTAL} — coût : {cc.TABLE_TOTAL_COST}."}
    assert len(table_chunks) >= 2
    for c in table_chunks:
        assert c.metadata["table"] == cc.TABLE_CAPTION
        assert set(c.page_content.split("\n")) <= rows | {cc.TABLE_CAPTION}  # whole rows only
        assert cc.TABLE_CAPTION in embedding_text(c)  # the caption goes with every part
        assert report_doc.text[c.metadata["start"] : c.metadata["end"]] == c.page_content
    assert {line for c in table_chunks for line in c.page_content.split("\n")} >= rows


# --------------------------------------------------------------------------- lists, markup, pages without text


def test_docx_numbered_list_keeps_its_numbers(corpus):
    doc = load(corpus["docx"])
    for n, step in enumerate(cc.LIST_STEPS, start=1):
        assert f"{n}. {step}" in doc.text


def test_raw_html_is_stripped_from_markdown(corpus):
    doc = load(corpus["markdown"])
    assert "script" not in doc.text and "alert" not in doc.text and "<" not in doc.text and "\\" not in doc.text
    assert "Les chalets accueillent quarante exposants venus de la région." in doc.text


def test_image_only_page_is_reported_and_marked_in_the_text(report_doc):
    assert report_doc.pages_without_text == [2]
    assert any(w.startswith("page 2 : aucune couche texte") for w in report_doc.warnings)
    start, end = report_doc.page_starts[1], report_doc.page_starts[2]
    assert "aucune couche texte" in report_doc.text[start:end]


def test_scanned_truncated_and_encrypted_pdfs_are_clear_errors(corpus):
    with pytest.raises(LoadError, match="aucune couche texte.*OCR"):
        load(corpus["scan"])
    with pytest.raises(LoadError, match="PDF illisible ou endommagé"):
        load(corpus["truncated"])
    with pytest.raises(LoadError, match="chiffré"):
        load(corpus["encrypted"])


# --------------------------------------------------------------------------- the whole corpus through the pipeline


def test_pipeline_indexes_every_name_and_does_not_retry_unchanged_failures(corpus, make_settings, fake_embeddings):
    import shutil

    settings = make_settings(sentence_vectors=False)
    shutil.rmtree(settings.corpus_dir)
    shutil.copytree(corpus["report"].parent, settings.corpus_dir)
    run = lambda **kw: Ingestor(settings, embeddings=fake_embeddings, model_id="fake").run(**kw)  # noqa: E731
    first = run()
    escaped = cc.NON_UTF8_NAME.decode("utf-8", "backslashreplace")
    failed = {e["file"] for e in first.errors}
    assert failed == {"annexe-scannee.pdf", "compte-rendu-tronque.pdf", "compte-rendu-chiffre.pdf"}
    assert first.added == 5
    from ingest.manifest import Manifest

    m = Manifest(settings.manifest_path)
    try:
        assert escaped in {d.source for d in m.documents()}
        assert m.all_notes()["rapport-annuel-2025.pdf"]["pages_without_text"] == [2]
    finally:
        m.close()
    # Warnings name their file.
    assert {"file": "rapport-annuel-2025.pdf", "message": next(
        w for w in load(corpus["report"]).warnings if w.startswith("page 2"))} in first.warnings
    again = run()
    assert (again.failed, again.unchanged) == (0, 5)
    assert {f["file"] for f in again.not_retried} == failed
    assert run(retry_failed=True).failed == 3


def test_documents_tab_shows_pages_without_text(corpus, make_settings, fake_embeddings):
    from ui.documents import document_rows

    settings = make_settings(sentence_vectors=False)
    Ingestor(settings, embeddings=fake_embeddings, model_id="fake").run([corpus["report"]])
    rows = document_rows([{"source": "rapport-annuel-2025.pdf", "title": "Rapport", "kind": "pdf", "pages": 6,
                           "chunks": 9}], settings.manifest_path)
    assert "page 2 : aucune couche texte" in rows[0][0]


def test_library_warnings_are_reported_with_the_file_name(corpus, make_settings, fake_embeddings, monkeypatch, capsys):
    """pdfminer's log warnings ("EOF marker not found"…) and Python warnings raised while reading go into the
    report under the file's name, never bare on the terminal."""
    import logging
    import warnings as pywarnings

    import ingest.pdf_words as pdf_words

    real = pdf_words.read_words

    def noisy(path):
        logging.getLogger("pdfminer.pdfparser").warning("EOF marker not found")
        pywarnings.warn("xref table damaged, rebuilt")
        return real(path)

    monkeypatch.setattr(pdf_words, "read_words", noisy)
    settings = make_settings(sentence_vectors=False)
    report = Ingestor(settings, embeddings=fake_embeddings, model_id="fake").run([corpus["report"]])
    assert report.failed == 0
    assert {"file": "rapport-annuel-2025.pdf", "message": "lecture du PDF : EOF marker not found"} in report.warnings
    assert {"file": "rapport-annuel-2025.pdf", "message": "xref table damaged, rebuilt"} in report.warnings
    assert "EOF marker" not in capsys.readouterr().err


def test_markdown_pipe_table_keeps_equal_neighbour_cells(tmp_path):
    path = tmp_path / "services.md"
    path.write_text("# Services\n\n| Ville | Wifi public | État civil en ligne |\n|---|---|---|\n| Dakar | Oui | Oui |\n"
                    "| Hué | Non | Oui |\n", encoding="utf-8")
    doc = load(path)
    assert "Dakar — wifi public : Oui ; état civil en ligne : Oui." in doc.text
    assert "Hué — wifi public : Non ; état civil en ligne : Oui." in doc.text


def test_pdf_merged_cells_across_rows_and_columns(tmp_path):
    """A cell spanning two rows holds for both (as in DOCX and HTML); one spanning two columns is written once."""
    from reportlab.lib import colors
    from reportlab.pdfgen import canvas
    from reportlab.platypus import Table, TableStyle

    path = tmp_path / "programmes.pdf"
    c = canvas.Canvas(str(path))
    data = [["Ville", "Programme", "Budget"], ["Dakar", "Eau", "100"], ["Thiès", "", "200"], ["Hué", "Santé", "300"],
            ["Total", "", "600"]]
    table = Table(data, colWidths=[100, 100, 80])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("SPAN", (1, 1), (1, 2)),
                               ("SPAN", (0, 4), (1, 4))]))
    table.wrapOn(c, 500, 800)
    table.drawOn(c, 60, 600)
    c.drawString(60, 750, "Les programmes financés en 2025 par la ville.")
    c.save()
    text = load(path).text
    assert "Dakar — programme : Eau ; budget : 100." in text
    assert "Thiès — programme : Eau ; budget : 200." in text
    assert "Total — budget : 600." in text and text.count("Total") == 1


def test_pdf_borderless_table_is_read_row_by_row_not_as_columns(tmp_path):
    """Two groups of short cells far apart are a table without rules, not two text columns."""
    from reportlab.pdfgen import canvas

    path = tmp_path / "chiffres.pdf"
    c = canvas.Canvas(str(path))
    c.setFont("Helvetica", 10)
    y = 750
    rows = [("Dates", "9 et 10 décembre 2020"), ("Délégations", "130"), ("Pays représentés", "33"),
            ("Subventions votées", "plus d'1 million d'euros")]
    for label, value in rows:
        c.drawString(60, y, label)
        c.drawString(300, y, value)
        y -= 14
    c.drawString(60, y - 20, "Le congrès a installé le numérique parmi les priorités de l'association.")
    c.save()
    text = load(path).text
    for label, value in rows:
        assert f"{label} : {value}" in text
