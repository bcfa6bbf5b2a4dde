"""Build the corpus's PDF and DOCX documents from their Markdown sources, byte for byte reproducibly.

Each ``corpus/_sources/<name>.md`` starts with front matter between ``---`` lines::

    output: rapport-activite-2023.pdf      # or .docx; written to corpus/<output>
    title: Rapport d'activité 2023 de l'AIMF
    header: AIMF — Rapport d'activité 2023  # running header (PDF)
    footer: Association Internationale des Maires Francophones   # running footer (PDF); "Page N sur M" is added
    two_columns: [2]                        # 1-based pages laid out in two columns (PDF)

then a Markdown body: ``#``/``##``/``###`` headings, paragraphs, ``1.`` numbered lists, ``-`` bullets, pipe tables
(``| a | b |`` followed by a ``|---|`` line; the first row is the header) and ``<!-- pagebreak -->`` (PDF: new
page; DOCX: ignored). ``**bold**`` and ``*italic*`` are kept. The title is printed first unless the body opens with
a ``#`` heading.

Usage: ``python scripts/build_corpus.py [source.md ...]`` (all sources when none is given).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "corpus" / "_sources"
OUT_DIR = ROOT / "corpus"
# Fixed dates make a rebuild give the same bytes (DOCX core properties and zip entries).
FIXED_DATE = dt.datetime(2026, 12, 6, 0, 0, 0, tzinfo=dt.timezone.utc)
ZIP_DATE = (2026, 12, 6, 0, 0, 0)


# ---------------------------------------------------------------------------------------------- parsing
@dataclass
class Block:
    kind: str  # heading, para, olist, ulist, table, pagebreak
    level: int = 0
    text: str = ""
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Source:
    path: Path
    meta: dict
    blocks: list[Block]

    @property
    def output(self) -> str:
        return str(self.meta["output"])

    @property
    def title(self) -> str:
        return str(self.meta.get("title", ""))


_OL = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_UL = re.compile(r"^\s*[-*]\s+(.*)$")
_HEAD = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SEP = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def _meta_value(raw: str):
    raw = raw.split(" #", 1)[0].strip() if not raw.strip().startswith(("'", '"')) else raw.strip()
    if raw.startswith("[") and raw.endswith("]"):
        return [int(x) for x in re.findall(r"\d+", raw)]
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return raw


def parse_front_matter(text: str) -> tuple[dict, str]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ValueError("front matter missing (the file must start with a '---' line)")
    meta: dict = {}
    for i, line in enumerate(lines[1:], 1):
        if line.strip() == "---":
            return meta, "\n".join(lines[i + 1:])
        if line.strip() and ":" in line:
            key, value = line.split(":", 1)
            meta[key.strip()] = _meta_value(value)
    raise ValueError("front matter not closed by a '---' line")


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [c.strip() for c in line.split("|")]


def parse_body(body: str) -> list[Block]:
    blocks: list[Block] = []
    para: list[str] = []
    lines = body.splitlines()

    def flush() -> None:
        if para:
            blocks.append(Block("para", text=" ".join(p.strip() for p in para)))
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            flush()
        elif stripped.lower().replace(" ", "") == "<!--pagebreak-->":
            flush()
            blocks.append(Block("pagebreak"))
        elif m := _HEAD.match(stripped):
            flush()
            blocks.append(Block("heading", level=len(m.group(1)), text=m.group(2)))
        elif stripped.startswith("|") and i + 1 < len(lines) and _SEP.match(lines[i + 1].strip()):
            flush()
            rows = [_cells(stripped)]
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            blocks.append(Block("table", rows=rows))
            continue
        elif (m := _OL.match(line)) or (m := _UL.match(line)):
            flush()
            kind = "olist" if _OL.match(line) else "ulist"
            if not blocks or blocks[-1].kind != kind or blocks[-1].text == "closed":
                blocks.append(Block(kind))
            blocks[-1].items.append(m.group(1).strip())
            # a continuation line (indented, not a new item) belongs to the item
            while i + 1 < len(lines) and lines[i + 1].startswith("  ") and lines[i + 1].strip() \
                    and not _OL.match(lines[i + 1]) and not _UL.match(lines[i + 1]):
                i += 1
                blocks[-1].items[-1] += " " + lines[i].strip()
        else:
            if blocks and blocks[-1].kind in ("olist", "ulist") and not para:
                blocks[-1].text = "closed"
            para.append(line)
        if not stripped and blocks and blocks[-1].kind in ("olist", "ulist"):
            # a blank line ends the list only if what follows is not another item of the same kind
            nxt = next((x for x in lines[i + 1:] if x.strip()), "")
            same = (_OL.match(nxt) and blocks[-1].kind == "olist") or (_UL.match(nxt) and blocks[-1].kind == "ulist")
            if not same:
                blocks[-1].text = "closed"
        i += 1
    flush()
    return blocks


def load_source(path: Path) -> Source:
    meta, body = parse_front_matter(path.read_text(encoding="utf-8"))
    if "output" not in meta:
        raise ValueError(f"{path}: 'output' missing from the front matter")
    return Source(path, meta, parse_body(body))


def _inline_pdf(text: str) -> str:
    """Markdown emphasis to reportlab's mini-markup (text escaped first)."""
    text = escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<i>\1</i>", text)
    return text


def _runs(text: str) -> list[tuple[str, bool, bool]]:
    """(text, bold, italic) runs for DOCX."""
    out = []
    for part in re.split(r"(\*\*.+?\*\*|(?<![\w*])\*(?!\s).+?(?<!\s)\*(?![\w*]))", text):
        if not part:
            continue
        if part.startswith("**") and part.endswith("**") and len(part) > 4:
            out.append((part[2:-2], True, False))
        elif part.startswith("*") and part.endswith("*") and len(part) > 2:
            out.append((part[1:-1], False, True))
        else:
            out.append((part, False, False))
    return out


def _opens_with_title(src: Source) -> bool:
    first = next((b for b in src.blocks if b.kind != "pagebreak"), None)
    return first is not None and first.kind == "heading" and first.level == 1


# ---------------------------------------------------------------------------------------------- PDF
def build_pdf(src: Source, out: Path) -> None:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_JUSTIFY
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.pdfgen import canvas as rl_canvas
    from reportlab.platypus import (BaseDocTemplate, Frame, ListFlowable, ListItem, PageBreak, PageTemplate,
                                    Paragraph, Spacer, Table, TableStyle)

    header = str(src.meta.get("header", src.title))
    footer = str(src.meta.get("footer", "Association Internationale des Maires Francophones"))
    two_columns = set(src.meta.get("two_columns") or [])
    width, height = A4
    margin = 2 * cm

    class NumberedCanvas(rl_canvas.Canvas):
        """Keeps each page until the end, so the footer can say 'Page N sur M'."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            super().save()

        def _decorate(self, total: int) -> None:
            self.saveState()
            self.setStrokeColor(colors.HexColor("#1f4e79"))
            self.setLineWidth(0.6)
            self.setFont("Helvetica", 8.5)
            self.drawString(margin, height - 1.3 * cm, header)
            self.line(margin, height - 1.45 * cm, width - margin, height - 1.45 * cm)
            self.line(margin, 1.55 * cm, width - margin, 1.55 * cm)
            self.drawString(margin, 1.1 * cm, footer)
            self.drawRightString(width - margin, 1.1 * cm, f"Page {self._pageNumber} sur {total}")
            self.restoreState()

    class Doc(BaseDocTemplate):
        def handle_pageBegin(self):  # noqa: N802
            # The template is chosen by the number of the page about to start.
            self.pageTemplate = self._by_id["two" if self.page + 1 in two_columns else "one"]
            super().handle_pageBegin()

    doc = Doc(str(out), pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=2.2 * cm,
              bottomMargin=2.2 * cm, title=src.title, author="AIMF", subject=src.title, creator="AIMF",
              producer="AIMF", invariant=1)
    fw, fh = doc.width, doc.height
    gap = 0.8 * cm
    one = PageTemplate("one", [Frame(margin, doc.bottomMargin, fw, fh, id="body")])
    two = PageTemplate("two", [Frame(margin, doc.bottomMargin, (fw - gap) / 2, fh, id="left"),
                               Frame(margin + (fw + gap) / 2, doc.bottomMargin, (fw - gap) / 2, fh, id="right")])
    doc.addPageTemplates([one, two])
    doc._by_id = {"one": one, "two": two}

    ss = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=ss["BodyText"], fontName="Helvetica", fontSize=10, leading=13.5,
                          alignment=TA_JUSTIFY, spaceAfter=6)
    cell = ParagraphStyle("cell", parent=body, fontSize=9, leading=11.5, alignment=0, spaceAfter=0)
    head_cell = ParagraphStyle("headcell", parent=cell, fontName="Helvetica-Bold", textColor=colors.white)
    headings = {
        0: ParagraphStyle("t", parent=body, fontName="Helvetica-Bold", fontSize=18, leading=22, spaceAfter=12,
                          alignment=0, textColor=colors.HexColor("#1f4e79")),
        1: ParagraphStyle("h1", parent=body, fontName="Helvetica-Bold", fontSize=15, leading=19, spaceBefore=8,
                          spaceAfter=8, alignment=0, textColor=colors.HexColor("#1f4e79")),
        2: ParagraphStyle("h2", parent=body, fontName="Helvetica-Bold", fontSize=12.5, leading=16, spaceBefore=6,
                          spaceAfter=5, alignment=0),
        3: ParagraphStyle("h3", parent=body, fontName="Helvetica-Bold", fontSize=11, leading=14, spaceBefore=4,
                          spaceAfter=4, alignment=0),
    }

    story = []
    if src.title and not _opens_with_title(src):
        story.append(Paragraph(_inline_pdf(src.title), headings[0]))
    for b in src.blocks:
        if b.kind == "pagebreak":
            story.append(PageBreak())
        elif b.kind == "heading":
            story.append(Paragraph(_inline_pdf(b.text), headings[0 if b.level == 1 and not story else
                                                                min(b.level, 3)]))
        elif b.kind == "para":
            story.append(Paragraph(_inline_pdf(b.text), body))
        elif b.kind in ("olist", "ulist"):
            items = [ListItem(Paragraph(_inline_pdf(t), body), leftIndent=16) for t in b.items]
            if b.kind == "olist":
                story.append(ListFlowable(items, bulletType="1", start="1", bulletFormat="%s.", leftIndent=16,
                                          bulletFontName="Helvetica", bulletFontSize=10))
            else:  # a bullet Helvetica can draw (the default one comes from a symbol font)
                story.append(ListFlowable(items, bulletType="bullet", start="\u2013", leftIndent=16,
                                          bulletFontName="Helvetica", bulletFontSize=10))
        elif b.kind == "table":
            ncols = max(len(r) for r in b.rows)
            rows = [r + [""] * (ncols - len(r)) for r in b.rows]
            data = [[Paragraph(_inline_pdf(c), head_cell if i == 0 else cell) for c in r] for i, r in enumerate(rows)]
            t = Table(data, repeatRows=1, hAlign="LEFT", colWidths=[fw / ncols] * ncols)
            t.setStyle(TableStyle([
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1f4e79")),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#8a9bb0")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#eef2f7")]),
            ]))
            story += [t, Spacer(1, 8)]
    doc.build(story, canvasmaker=NumberedCanvas)


# ---------------------------------------------------------------------------------------------- DOCX
def _mark_header_row(row) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)


def _add_runs(paragraph, text: str) -> None:
    for t, bold, italic in _runs(text):
        run = paragraph.add_run(t)
        run.bold = bold or None
        run.italic = italic or None


def build_docx(src: Source, out: Path) -> None:
    from docx import Document

    doc = Document()
    cp = doc.core_properties
    cp.title = src.title
    cp.author = "AIMF"
    cp.last_modified_by = "AIMF"
    cp.created = FIXED_DATE
    cp.modified = FIXED_DATE
    cp.last_printed = FIXED_DATE
    cp.revision = 1
    cp.language = "fr-FR"
    if src.title and not _opens_with_title(src):
        doc.add_heading(src.title, level=0)
    first_heading = True
    for b in src.blocks:
        if b.kind == "heading":
            level = 0 if (b.level == 1 and first_heading and _opens_with_title(src)) else min(b.level, 4)
            first_heading = False
            doc.add_heading(b.text.replace("**", ""), level=level)
        elif b.kind == "para":
            _add_runs(doc.add_paragraph(), b.text)
        elif b.kind in ("olist", "ulist"):
            style = "List Number" if b.kind == "olist" else "List Bullet"
            for item in b.items:
                _add_runs(doc.add_paragraph(style=style), item)
        elif b.kind == "table":
            ncols = max(len(r) for r in b.rows)
            table = doc.add_table(rows=0, cols=ncols)
            table.style = "Table Grid"
            for i, r in enumerate(b.rows):
                row = table.add_row()
                for j in range(ncols):
                    p = row.cells[j].paragraphs[0]
                    text = r[j] if j < len(r) else ""
                    if i == 0:
                        p.add_run(text.replace("**", "")).bold = True
                    else:
                        _add_runs(p, text)
                if i == 0:
                    _mark_header_row(row)
            doc.add_paragraph()
    buf = io.BytesIO()
    doc.save(buf)
    out.write_bytes(_fixed_zip(buf.getvalue()))


def _fixed_zip(data: bytes) -> bytes:
    """The same archive with fixed entry dates (python-docx stamps each entry with the current time)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


# ---------------------------------------------------------------------------------------------- main
def build(path: Path) -> Path:
    src = load_source(path)
    out = OUT_DIR / src.output
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".pdf":
        build_pdf(src, out)
    elif suffix == ".docx":
        build_docx(src, out)
    else:
        raise ValueError(f"{path}: output must end in .pdf or .docx, not {suffix!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build corpus PDF/DOCX documents from corpus/_sources/*.md")
    parser.add_argument("sources", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.sources or sorted(SOURCES.glob("*.md"))
    failed = 0
    for path in paths:
        try:
            out = build(path)
            print(f"{path.name} -> {out}")
        except Exception as exc:  # one broken source must not stop the others
            failed += 1
            print(f"{path.name}: ERREUR {exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
