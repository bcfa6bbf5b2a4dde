"""ingest.loaders and ingest.chunking: every format on a small file made here, offsets, metadata, word boundaries,
encodings. No embedding model and no Chroma: these run in milliseconds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.chunking import chunk_document
from ingest.loaders import LoadError, UnsupportedFormat, load

META_KEYS = {"source", "title", "page", "section", "start", "end", "lang", "doc_sha256"}

FRENCH_PARAGRAPHS = [
    "La ville intelligente n'est pas d'abord une affaire de capteurs : c'est une manière de gouverner qui "
    "place l'habitant au centre. Les maires francophones l'ont rappelé à Montréal, à Dakar et à Hué.",
    "Chaque collectivité partage ses données ouvertes ; les services d'état civil, la gestion des déchets et "
    "l'éclairage public en bénéficient. Pourquoi attendre ? Les élus veulent des résultats concrets, mesurables "
    "et accessibles à tous les citoyens, y compris ceux qui n'ont pas d'accès à l'internet.",
    "L'Association internationale des maires francophones (AIMF) finance des projets pilotes : cadastre "
    "numérique, paiement mobile des taxes locales, plateformes de participation citoyenne… Les résultats sont "
    "évalués chaque année par une commission indépendante.",
]


def assert_chunks_well_formed(doc, chunks, source: str, sha: str) -> None:
    """The contract every chunk keeps: exact offsets, full metadata, boundaries on whitespace (never in a word)."""
    assert chunks, "no chunk produced"
    text = doc.text
    for c in chunks:
        m = c.metadata
        assert META_KEYS <= set(m), f"missing keys: {META_KEYS - set(m)}"
        assert text[m["start"] : m["end"]] == c.page_content
        assert m["source"] == source and m["doc_sha256"] == sha and m["title"] == doc.title
        assert m["lang"] in ("fr", "en")
        assert c.page_content == c.page_content.strip() and c.page_content
        # A chunk starts at the beginning of the text or right after whitespace, and ends at the end of the
        # text or right before whitespace: no word (not even "l'AIMF" or "d'état") is ever cut.
        assert m["start"] == 0 or text[m["start"] - 1].isspace(), repr(text[max(0, m["start"] - 15) : m["start"] + 15])
        assert m["end"] == len(text) or text[m["end"]].isspace(), repr(text[m["end"] - 15 : m["end"] + 15])
    # Nothing of the text is lost between chunks.
    covered = bytearray(len(text))
    for c in chunks:
        covered[c.metadata["start"] : c.metadata["end"]] = b"\x01" * (c.metadata["end"] - c.metadata["start"])
    lost = "".join(ch for ch, cov in zip(text, covered) if not cov and not ch.isspace())
    assert lost == ""


# --------------------------------------------------------------------------- plain text and Markdown


def test_txt_loader_title_from_first_line_and_offsets(tmp_path):
    body = "\n\n".join(FRENCH_PARAGRAPHS)
    path = tmp_path / "rapport-annuel.txt"
    path.write_text("Rapport annuel des villes numériques\n\n" + body + "\n", encoding="utf-8")
    doc = load(path)
    assert doc.kind == "txt" and doc.encoding == "utf-8" and doc.warnings == []
    assert doc.title == "Rapport annuel des villes numériques"
    assert doc.pages is None
    assert FRENCH_PARAGRAPHS[1] in doc.text
    chunks = chunk_document(doc, "rapport-annuel.txt", "sha-x", chunk_size=160, chunk_overlap=40)
    assert len(chunks) >= 4
    assert_chunks_well_formed(doc, chunks, "rapport-annuel.txt", "sha-x")
    assert all(c.metadata["page"] is None for c in chunks)
    assert all(c.metadata["lang"] == "fr" for c in chunks)


def test_txt_title_falls_back_to_file_name(tmp_path):
    path = tmp_path / "note_de-synthese.txt"
    path.write_text("Une phrase complète, qui se termine par un point.\n", encoding="utf-8")
    assert load(path).title == "Note de synthese"


def test_markdown_headings_become_sections_and_emphasis_is_removed(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text(
        "# Guide de la ville durable\n\n"
        "Un paragraphe **très important** sur la *mobilité* douce et les __mobilités__ partagées.\n\n"
        "## Eau et assainissement\n\n"
        "Les réseaux d'eau potable sont **rénovés** grâce au [fonds de coopération](https://example.org/fonds).\n\n"
        "## Énergie\n\n"
        "L'éclairage public passe aux LED ; la facture baisse de moitié.\n",
        encoding="utf-8",
    )
    doc = load(path)
    assert doc.kind == "md"
    assert doc.title == "Guide de la ville durable"
    assert "**" not in doc.text and "__" not in doc.text and "*" not in doc.text
    assert "très important" in doc.text and "fonds de coopération" in doc.text
    assert "https://" not in doc.text and "#" not in doc.text
    assert [h for _, h in doc.headings] == ["Guide de la ville durable", "Eau et assainissement", "Énergie"]
    chunks = chunk_document(doc, "guide.md", "sha-md", chunk_size=1000, chunk_overlap=100)
    assert_chunks_well_formed(doc, chunks, "guide.md", "sha-md")
    by_section = {c.metadata["section"]: c.page_content for c in chunks}
    assert set(by_section) == {"Guide de la ville durable", "Eau et assainissement", "Énergie"}
    assert "rénovés" in by_section["Eau et assainissement"]
    assert "LED" in by_section["Énergie"] and "LED" not in by_section["Eau et assainissement"]


# --------------------------------------------------------------------------- HTML


def test_html_title_from_title_tag_and_scripts_dropped(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>Villes connectées – AIMF</title>"
        "<script>var jeton = 'SCRIPTSECRET';</script><style>.x { color: STYLESECRET; }</style></head><body>"
        "<nav><a href='/'>Accueil</a></nav>"
        "<h1>Les villes connectées</h1>"
        f"<p>{FRENCH_PARAGRAPHS[0]}</p>"
        "<h2>Données ouvertes</h2>"
        f"<p>{FRENCH_PARAGRAPHS[1]}</p>"
        "<script>alert('SCRIPTALERT')</script><noscript>NOSCRIPTTEXT</noscript>"
        "</body></html>",
        encoding="utf-8",
    )
    doc = load(path)
    assert doc.kind == "html"
    assert doc.title == "Villes connectées – AIMF"
    for secret in ("SCRIPTSECRET", "STYLESECRET", "SCRIPTALERT", "<p>", "<script"):
        assert secret not in doc.text
    assert "données ouvertes" in doc.text.lower() and "habitant au centre" in doc.text
    chunks = chunk_document(doc, "page.html", "sha-h", chunk_size=1000, chunk_overlap=100)
    assert_chunks_well_formed(doc, chunks, "page.html", "sha-h")
    data_chunk = next(c for c in chunks if "services d'état civil" in c.page_content)
    assert data_chunk.metadata["section"] == "Données ouvertes"


def test_xhtml_with_xml_declaration(tmp_path):
    path = tmp_path / "fiche.html"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><head>'
        "<title>Fiche projet Dakar</title></head><body><h1>Projet</h1>"
        f"<p>{FRENCH_PARAGRAPHS[2]}</p></body></html>",
        encoding="utf-8",
    )
    doc = load(path)
    assert doc.title == "Fiche projet Dakar"
    assert "cadastre numérique" in doc.text and "<?xml" not in doc.text


# --------------------------------------------------------------------------- PDF


def make_pdf(path: Path, pages: list[list[str]], title: str | None = None) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    if title:
        c.setTitle(title)
    for lines in pages:
        c.setFont("Helvetica", 11)
        y = 800
        for line in lines:
            c.drawString(60, y, line)
            y -= 15
        c.showPage()
    c.save()
    return path


def test_pdf_pages_and_title_from_metadata(tmp_path):
    path = make_pdf(
        tmp_path / "rapport.pdf",
        [
            ["Première page : la gouvernance des données urbaines.", "Les maires partagent leurs expériences."],
            ["Deuxième page : les services publics en ligne.", "Les citoyens accèdent aux démarches à distance."],
        ],
        title="Rapport sur les villes numériques",
    )
    doc = load(path)
    assert doc.kind == "pdf" and doc.pages == 2
    assert doc.title == "Rapport sur les villes numériques"
    for size in (100, 1000):  # small chunks, and chunks big enough to hold both pages: never across a page break
        chunks = chunk_document(doc, "rapport.pdf", "sha-p", chunk_size=size, chunk_overlap=size // 5)
        assert_chunks_well_formed(doc, chunks, "rapport.pdf", "sha-p")
        assert {c.metadata["page"] for c in chunks} == {1, 2}
        for c in chunks:
            on_1 = "gouvernance" in c.page_content or "expériences" in c.page_content
            on_2 = "services publics" in c.page_content or "démarches" in c.page_content
            assert on_1 != on_2, c.page_content
            assert c.metadata["page"] == (1 if on_1 else 2), c.page_content


def test_pdf_page_numbers_survive_an_empty_first_page(tmp_path):
    path = make_pdf(tmp_path / "vide-puis-texte.pdf", [[], ["Le texte commence en page deux."]])
    doc = load(path)
    assert doc.pages == 2
    (chunk,) = chunk_document(doc, "x.pdf", "s", chunk_size=500, chunk_overlap=0)
    assert chunk.metadata["page"] == 2


def test_pdf_without_text_layer_says_so(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path))
    c.rect(100, 100, 300, 400, fill=1)
    c.showPage()
    c.save()
    with pytest.raises(LoadError, match="couche texte"):
        load(path)


def test_corrupt_and_encrypted_pdfs_are_clear_errors(tmp_path):
    import os

    from pypdf import PdfWriter

    bad = tmp_path / "corrompu.pdf"
    bad.write_bytes(os.urandom(4096))
    with pytest.raises(LoadError, match="PDF illisible ou endommagé"):
        load(bad)
    truncated = tmp_path / "tronque.pdf"
    good = make_pdf(tmp_path / "bon.pdf", [["Un texte."]]).read_bytes()
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(LoadError, match="PDF"):
        load(truncated)
    writer = PdfWriter(clone_from=str(make_pdf(tmp_path / "clair.pdf", [["Texte confidentiel de la mairie."]])))
    writer.encrypt("secret")
    encrypted = tmp_path / "chiffre.pdf"
    writer.write(str(encrypted))
    with pytest.raises(LoadError, match="chiffré"):
        load(encrypted)


# --------------------------------------------------------------------------- DOCX


def make_docx(path: Path, title: str | None = None) -> Path:
    import docx

    d = docx.Document()
    if title is not None:
        d.core_properties.title = title
    d.add_heading("Guide de la participation citoyenne", level=1)
    d.add_paragraph(FRENCH_PARAGRAPHS[0])
    d.add_heading("Budgets participatifs", level=2)
    d.add_paragraph(FRENCH_PARAGRAPHS[1])
    d.add_heading("Évaluation", level=2)
    d.add_paragraph(FRENCH_PARAGRAPHS[2])
    d.save(str(path))
    return path


def test_docx_headings_are_sections_and_title(tmp_path):
    doc = load(make_docx(tmp_path / "guide.docx", title=""))
    assert doc.kind == "docx"
    assert doc.title == "Guide de la participation citoyenne"  # no core title: the first heading
    assert [h for _, h in doc.headings] == [
        "Guide de la participation citoyenne", "Budgets participatifs", "Évaluation",
    ]
    chunks = chunk_document(doc, "guide.docx", "sha-d", chunk_size=150, chunk_overlap=30)
    assert_chunks_well_formed(doc, chunks, "guide.docx", "sha-d")
    for c in chunks:
        if "services d'état civil" in c.page_content:
            assert c.metadata["section"] == "Budgets participatifs"
        if "commission indépendante" in c.page_content:
            assert c.metadata["section"] == "Évaluation"
    assert {c.metadata["section"] for c in chunks} == {
        "Guide de la participation citoyenne", "Budgets participatifs", "Évaluation",
    }
    # A title in the document's properties wins over the first heading.
    assert load(make_docx(tmp_path / "g2.docx", title="Titre des propriétés")).title == "Titre des propriétés"


def test_docx_table_stays_under_its_heading(tmp_path):
    import docx

    d = docx.Document()
    d.add_heading("Budget 2024", level=1)
    table = d.add_table(rows=2, cols=2)
    for r, (k, v) in enumerate([("Voirie", "120 000 €"), ("Éclairage", "45 000 €")]):
        table.cell(r, 0).text, table.cell(r, 1).text = k, v
    d.add_heading("Calendrier", level=1)
    d.add_paragraph("Les travaux commencent au printemps et durent six mois.")
    d.save(str(tmp_path / "budget.docx"))
    doc = load(tmp_path / "budget.docx")
    chunks = chunk_document(doc, "budget.docx", "s", chunk_size=1000, chunk_overlap=0)
    assert_chunks_well_formed(doc, chunks, "budget.docx", "s")
    table_chunk = next(c for c in chunks if "Voirie ; 120 000 €." in c.page_content)
    assert table_chunk.metadata["section"] == "Budget 2024" and "printemps" not in table_chunk.page_content


def test_corrupt_docx_is_a_clear_error(tmp_path):
    path = tmp_path / "abime.docx"
    path.write_bytes(b"PK\x03\x04 ceci n'est pas un vrai fichier Word" * 20)
    with pytest.raises(LoadError, match="Word"):
        load(path)


# --------------------------------------------------------------------------- bad inputs at the loader level


def test_empty_and_blank_files(tmp_path):
    empty = tmp_path / "vide.txt"
    empty.write_bytes(b"")
    with pytest.raises(LoadError, match="vide"):
        load(empty)
    blank = tmp_path / "blanc.md"
    blank.write_text("  \n\n\t\n", encoding="utf-8")
    with pytest.raises(LoadError, match="vide|aucun texte"):
        load(blank)


def test_unsupported_extension(tmp_path):
    path = tmp_path / "tableur.xlsx"
    path.write_bytes(b"whatever")
    with pytest.raises(UnsupportedFormat, match=r"\.xlsx"):
        load(path)


LATIN1_TEXT = "Élus et maires réunis à Genève : la coopération décentralisée, c'est l'été, côté très « sûr ».\n"
CP1252_TEXT = "Les maires se réunissent — c’est l’été, l’œuvre commune à Genève… déjà « réussie ».\n"


@pytest.mark.parametrize(
    ("text", "encoding", "named"),
    [(LATIN1_TEXT, "latin-1", r"latin[-_ ]?1|iso[-_ ]?8859[-_ ]?1"), (CP1252_TEXT, "cp1252", r"cp[-_ ]?1252|windows[-_ ]?1252")],
    ids=["latin-1", "cp1252"],
)
def test_non_utf8_french_is_decoded_and_named(tmp_path, text, encoding, named):
    path = tmp_path / "ancien.txt"
    path.write_bytes((text * 3).encode(encoding))
    doc = load(path)
    assert doc.text == (text * 3).strip()
    assert doc.encoding is not None and re.search(named, doc.encoding, re.IGNORECASE)
    assert len(doc.warnings) == 1 and re.search(named, doc.warnings[0], re.IGNORECASE), doc.warnings


def test_other_legacy_encodings_are_not_forced_into_latin1(tmp_path):
    text = "Les maires se réunissent à Montréal pour parler de la ville numérique. " * 3
    path = tmp_path / "russe.txt"
    russian = "Мэры франкоязычных городов встречаются в Монреале, чтобы обсудить цифровой город. " * 3
    path.write_bytes(russian.encode("cp1251"))
    doc = load(path)
    assert doc.text == russian.strip() and "cp1251" in doc.warnings[0]
    path.write_bytes(text.encode("latin-1"))  # pure ASCII-compatible except the accents
    assert load(path).text == text.strip()


def test_utf8_with_bom_is_plain_utf8(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeff".encode() + LATIN1_TEXT.encode("utf-8"))
    doc = load(path)
    assert doc.warnings == [] and doc.text == LATIN1_TEXT.strip() and not doc.text.startswith("\ufeff")


# --------------------------------------------------------------------------- chunking


def long_french_text(n: int = 12) -> str:
    paras = []
    for i in range(n):
        p = FRENCH_PARAGRAPHS[i % len(FRENCH_PARAGRAPHS)]
        paras.append(f"Partie {i + 1}. " + p)
    return "Les villes numériques\n\n" + "\n\n".join(paras) + "\n"


@pytest.mark.parametrize(("size", "overlap"), [(100, 0), (120, 60), (200, 30), (400, 100), (1000, 150)])
def test_chunk_offsets_and_word_boundaries_on_french(tmp_path, size, overlap):
    path = tmp_path / "long.txt"
    path.write_text(long_french_text(), encoding="utf-8")
    doc = load(path)
    chunks = chunk_document(doc, "long.txt", "sha", chunk_size=size, chunk_overlap=overlap)
    assert_chunks_well_formed(doc, chunks, "long.txt", "sha")
    if size < 1000:
        assert len(chunks) >= len(doc.text) // size
    # No chunk exceeds the size unless it is a single unbreakable run (none in this text).
    assert max(len(c.page_content) for c in chunks) <= size
    # Positions run 0..n-1 and ids are unique.
    assert [c.metadata["position"] for c in chunks] == list(range(len(chunks)))
    assert len({c.id for c in chunks}) == len(chunks)


def test_chunk_ids_are_stable_and_depend_on_source(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(long_french_text(4), encoding="utf-8")
    doc = load(path)
    first = [c.id for c in chunk_document(doc, "a.txt", "s", 200, 20)]
    again = [c.id for c in chunk_document(load(path), "a.txt", "s", 200, 20)]
    other = [c.id for c in chunk_document(doc, "b.txt", "s", 200, 20)]
    assert first == again
    assert not set(first) & set(other)
