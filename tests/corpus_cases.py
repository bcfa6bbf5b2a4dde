"""A corpus of the documents cities really have, each built to hold one known difficulty (reportlab for PDFs,
python-docx for DOCX): running header and footer, interleaved two-column lines, line-end hyphens, a ruled table
with a merged cell, a page that is only an image, headings, numbered lists, a non-UTF-8 file name, raw HTML in
Markdown, a truncated and a password-protected PDF.

``python tests/corpus_cases.py DIR`` writes it to DIR; tests call ``build(dir)``. The texts below are what the
tests check against.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HEADER = "Rapport annuel 2025 — Ville de Montclair"
FOOTER_DEPARTMENT = "Direction des affaires funéraires et du cimetière paysager"
REPORT_PAGES = 6

# Page 1: a paragraph whose lines end on hyphens, cut exactly there.
HYPHEN_LINES = [
    "La rénovation de l'école Saint-",
    "Exupéry a commencé en janvier. Les vingt-",
    "deux classes seront raccordées au réseau de chaleur, ce qui réduit l'impact sur l'environne-",
    "ment et la facture d'énergie de la commune.",
]
HYPHEN_TEXT = ("La rénovation de l'école Saint-Exupéry a commencé en janvier. Les vingt-deux classes seront raccordées "
               "au réseau de chaleur, ce qui réduit l'impact sur l'environnement et la facture d'énergie de la commune.")

# Page 3: two columns whose lines are written across both (left line, right line, next left line...).
LEFT_COLUMN = [
    "Le plan vélo prévoit quarante",
    "kilomètres de pistes cyclables",
    "protégées d'ici la fin du mandat,",
    "avec des parkings sécurisés près",
    "de chaque gare du territoire.",
]
RIGHT_COLUMN = [
    "La médiathèque centrale ouvrira",
    "le dimanche à partir de septembre",
    "grâce à une équipe renforcée de",
    "six agents et à un nouveau service",
    "de prêt de tablettes numériques.",
]
LEFT_TEXT = " ".join(LEFT_COLUMN)
RIGHT_TEXT = " ".join(RIGHT_COLUMN)

TABLE_CAPTION = "Tableau 2 : plantations d'arbres par quartier"
TABLE_HEADER = ["Quartier", "Arbres à planter", "Surface", "Coût"]
TABLE_ROWS = [
    ["Montclair", "450", "0,9 ha", "620 000 €"],
    ["Les Tanneurs", "310", "0,6 ha", "415 000 €"],
    ["Val-Fleuri", "275", "0,4 ha", "380 000 €"],
]
TABLE_TOTAL = "Total des plantations"  # spans the first three columns
TABLE_TOTAL_COST = "1 415 000 €"

LIST_STEPS = [
    "Diagnostic des besoins avec les habitants du quartier.",
    "Concertation publique sur les emplacements retenus.",
    "Plantation des jeunes arbres par les jardiniers municipaux au mois de novembre.",
    "Suivi de l'arrosage pendant les deux premiers étés.",
]

NON_UTF8_NAME = b"d\xe9lib\xe9ration-conseil.txt"  # a Latin-1 name, as copied from an old Windows share
NON_UTF8_TEXT = "Le conseil municipal a voté la gratuité des transports scolaires pour les collégiens de la commune."


def _canvas(path: Path, title: str):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    c.setTitle(title)
    return c, A4


def _running(c, page: int, width: float, height: float) -> None:
    c.setFont("Helvetica", 8)
    c.drawString(56, height - 40, HEADER)
    c.drawString(56, 30, FOOTER_DEPARTMENT)
    c.drawRightString(width - 56, 30, f"Page {page} sur {REPORT_PAGES}")


def _heading(c, text: str, y: float, size: int = 14) -> float:
    c.setFont("Helvetica-Bold", size)
    c.drawString(56, y, text)
    return y - size * 1.8


def _lines(c, lines: list[str], y: float, x: float = 56, size: int = 10) -> float:
    c.setFont("Helvetica", size)
    for line in lines:
        c.drawString(x, y, line)
        y -= size * 1.35
    return y - size * 0.8


def _wrap(text: str, width: int = 95) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width)


def build_report(path: Path) -> Path:
    """The 6-page annual report: header and footer on every page, a title left as the tool's default."""
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    c, (width, height) = _canvas(path, "untitled")
    # Page 1: title, a heading, the hyphenated paragraph.
    _running(c, 1, width, height)
    y = _heading(c, "Rapport annuel 2025", height - 100, size=20)
    y = _heading(c, "Réseaux et bâtiments", y)
    y = _lines(c, _wrap("La fibre optique dessert désormais toutes les écoles publiques de la ville ; les travaux "
                        "ont été menés par la régie municipale en dix-huit mois."), y)
    y = _lines(c, HYPHEN_LINES, y)
    c.showPage()
    # Page 2: a scanned annex (an image, no text).
    from PIL import Image

    image = Image.new("RGB", (200, 120), (120, 160, 200))
    from reportlab.lib.utils import ImageReader

    c.drawImage(ImageReader(image), 100, 300, width=400, height=240)
    c.showPage()
    # Page 3: two columns, lines written across both.
    _running(c, 3, width, height)
    y = _heading(c, "Mobilité et culture", height - 100)
    c.setFont("Helvetica", 10)
    for left, right in zip(LEFT_COLUMN, RIGHT_COLUMN):
        c.drawString(56, y, left)
        c.drawString(width / 2 + 12, y, right)
        y -= 13.5
    c.showPage()
    # Page 4: the ruled table, its caption above it, a total spanning three columns.
    _running(c, 4, width, height)
    y = _heading(c, "Espaces verts", height - 100)
    y = _lines(c, _wrap("Le programme de plantation de la ville se poursuit dans trois quartiers prioritaires."), y)
    c.setFont("Helvetica", 10)
    c.drawString(56, y, TABLE_CAPTION)
    data = [TABLE_HEADER] + TABLE_ROWS + [[TABLE_TOTAL, "", "", TABLE_TOTAL_COST]]
    table = Table(data, colWidths=[120, 110, 80, 100])
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("FONT", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("SPAN", (0, len(data) - 1), (2, len(data) - 1)), ("FONTSIZE", (0, 0), (-1, -1), 9),
    ]))
    _, h = table.wrapOn(c, width, height)
    table.drawOn(c, 56, y - 8 - h)
    c.showPage()
    # Pages 5 and 6: headings and plain text.
    for page, (heading, text) in enumerate([
        ("Finances", "Le budget d'investissement atteint 14,2 millions d'euros, dont 3,1 millions pour la voirie et "
                     "2,4 millions pour la rénovation énergétique des bâtiments communaux."),
        ("Démocratie locale", "Le budget participatif a reçu 212 projets déposés par les habitants ; 38 ont été "
                              "retenus après le vote en ligne ouvert à tous les résidents de plus de seize ans."),
    ], start=5):
        _running(c, page, width, height)
        y = _heading(c, heading, height - 100)
        _lines(c, _wrap(text), y)
        c.showPage()
    c.save()
    return path


def build_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = "Note sur le plan arbres"
    d.add_heading("Plan arbres 2026", level=1)
    d.add_paragraph("Cette note présente le calendrier et le budget du plan de plantation voté par le conseil.")
    d.add_heading("Étapes du projet", level=2)
    for step in LIST_STEPS:
        d.add_paragraph(step, style="List Number")
    d.add_heading("Budget par quartier", level=2)
    d.add_paragraph(TABLE_CAPTION)
    table = d.add_table(rows=1 + len(TABLE_ROWS) + 1, cols=4)
    for r, row in enumerate([TABLE_HEADER] + TABLE_ROWS):
        for col, value in enumerate(row):
            table.cell(r, col).text = value
    last = len(TABLE_ROWS) + 1
    merged = table.cell(last, 0).merge(table.cell(last, 2))
    merged.text = TABLE_TOTAL
    table.cell(last, 3).text = TABLE_TOTAL_COST
    d.save(str(path))
    return path


def build_html(path: Path) -> Path:
    rows = "".join(f"<tr>{''.join(f'<td>{v}</td>' for v in row)}</tr>" for row in TABLE_ROWS)
    path.write_text(
        "<html><head><title>Plantations : le bilan</title></head><body><article><h1>Plantations : le bilan</h1>"
        "<p>La ville publie le bilan des plantations de l'année dans chaque quartier prioritaire de la commune.</p>"
        f"<table><caption>{TABLE_CAPTION}</caption><tr>{''.join(f'<th>{h}</th>' for h in TABLE_HEADER)}</tr>{rows}"
        f"<tr><td colspan=\"3\">{TABLE_TOTAL}</td><td>{TABLE_TOTAL_COST}</td></tr></table>"
        "<p>Les prochaines plantations auront lieu à l'automne, après la concertation avec les habitants.</p>"
        "</article></body></html>",
        encoding="utf-8",
    )
    return path


def build_markdown_with_markup(path: Path) -> Path:
    path.write_text(
        "# Note d'information\n\n"
        "Le marché de Noël ouvre le 1er décembre sur la place de l'Hôtel-de-Ville.\n\n"
        "<script>alert('piège')</script>\n\n"
        "Les chalets \\<b\\>accueillent\\</b\\> quarante exposants <span class=\"x\">venus de la région</span>.\n",
        encoding="utf-8",
    )
    return path


def build_broken_pdfs(folder: Path) -> tuple[Path, Path]:
    from pypdf import PdfWriter

    plain = folder / "_clair.pdf"
    c, (width, height) = _canvas(plain, "Compte rendu")
    _lines(c, ["Compte rendu confidentiel de la commission des finances."], height - 100)
    c.save()
    data = plain.read_bytes()
    truncated = folder / "compte-rendu-tronque.pdf"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    writer = PdfWriter(clone_from=str(plain))
    writer.encrypt("secret")
    encrypted = folder / "compte-rendu-chiffre.pdf"
    writer.write(str(encrypted))
    plain.unlink()
    return truncated, encrypted


def build_scan(path: Path) -> Path:
    from PIL import Image
    from reportlab.lib.utils import ImageReader

    c, _ = _canvas(path, "Scan")
    c.drawImage(ImageReader(Image.new("RGB", (100, 140), (200, 200, 200))), 50, 50, width=500, height=700)
    c.showPage()
    c.save()
    return path


def build_non_utf8_name(folder: Path) -> Path:
    path = Path(os.fsdecode(os.path.join(os.fsencode(folder), NON_UTF8_NAME)))
    path.write_text("Délibération du conseil\n\n" + NON_UTF8_TEXT + "\n", encoding="utf-8")
    return path


def build(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    truncated, encrypted = build_broken_pdfs(folder)
    return {
        "report": build_report(folder / "rapport-annuel-2025.pdf"),
        "docx": build_docx(folder / "note-plan-arbres.docx"),
        "html": build_html(folder / "actualite-plantations.html"),
        "markdown": build_markdown_with_markup(folder / "note-marche.md"),
        "scan": build_scan(folder / "annexe-scannee.pdf"),
        "non_utf8": build_non_utf8_name(folder),
        "truncated": truncated,
        "encrypted": encrypted,
    }


if __name__ == "__main__":
    for name, p in build(Path(sys.argv[1] if len(sys.argv) > 1 else "cas-difficiles")).items():
        print(f"{name}: {p}")
