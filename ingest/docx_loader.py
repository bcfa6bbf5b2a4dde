"""DOCX: paragraphs and tables in document order, headings from styles, list numbers as Word shows them, tables
written row by row with their column names (a merged cell once in its row)."""

from __future__ import annotations

from pathlib import Path

from ingest.document import Block, LoadError, LoadedDocument, assemble, clean_inline, table_block
from ingest.tables import looks_like_caption, row_sentences

_BULLETS = {"bullet": "•", "none": ""}


def load_docx(path: Path) -> LoadedDocument:
    import docx

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # PackageNotFoundError, zipfile.BadZipFile, KeyError on a damaged package
        raise LoadError(f"fichier Word illisible ou endommagé ({exc})") from exc
    from docx.table import Table

    numbers = _Numbering(document)
    blocks: list[Block] = []
    title = (document.core_properties.title or "").strip()
    # Paragraphs and tables in document order, so a table sits under the heading it follows.
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            caption = ""
            if blocks and not blocks[-1].heading and blocks[-1].table is None and looks_like_caption(blocks[-1].text):
                caption = blocks.pop().text
            block = table_block(caption, row_sentences(_grid(item)))
            if block is not None:
                blocks.append(block)
            continue
        style = (item.style.name if item.style is not None else "") or ""
        is_heading = style.lower().startswith(("heading", "titre", "title"))
        if is_heading and not title:
            title = item.text.strip()
        text = item.text
        if text.strip() and not is_heading:
            label = numbers.label(item)
            if label:
                text = f"{label} {text.strip()}"
        blocks.append(Block(text, heading=is_heading))
    return assemble(blocks, title, "docx")


def _grid(table) -> list[list[str | None]]:
    """The table's grid. python-docx repeats a merged cell in every grid column it covers: a cell spanning columns
    is written once (``None`` for the repeats); a cell spanning rows holds for each row it covers."""
    rows: list[list[str | None]] = []
    for row in table.rows:
        cells: list[str | None] = []
        previous = None
        for cell in row.cells:
            same = previous is not None and cell._tc is previous
            cells.append(None if same else clean_inline(cell.text).replace("\n", " "))
            previous = cell._tc
        rows.append(cells)
    return rows


class _Numbering:
    """List numbers as Word renders them ("1.", "2.", "a)", "•"): python-docx gives the paragraph's numbering
    reference (its own or its style's), not the number; counters run per list and level."""

    def __init__(self, document):
        from docx.oxml.ns import qn

        self.qn = qn
        self.levels: dict[str, dict[int, tuple[str, str, int]]] = {}
        self.counters: dict[str, list[int]] = {}
        try:
            root = document.part.numbering_part.element
        except (NotImplementedError, KeyError, AttributeError):
            return
        abstract = {}
        for a in root.findall(qn("w:abstractNum")):
            levels = {}
            for lvl in a.findall(qn("w:lvl")):
                fmt = lvl.find(qn("w:numFmt"))
                text = lvl.find(qn("w:lvlText"))
                start = lvl.find(qn("w:start"))
                levels[int(lvl.get(qn("w:ilvl"), "0"))] = (
                    fmt.get(qn("w:val")) if fmt is not None else "decimal",
                    text.get(qn("w:val")) if text is not None else "%1.",
                    int(start.get(qn("w:val"))) if start is not None else 1,
                )
            abstract[a.get(qn("w:abstractNumId"))] = levels
        for num in root.findall(qn("w:num")):
            ref = num.find(qn("w:abstractNumId"))
            if ref is not None:
                self.levels[num.get(qn("w:numId"))] = abstract.get(ref.get(qn("w:val")), {})

    def _reference(self, paragraph) -> tuple[str, int] | None:
        qn = self.qn
        sources = [paragraph._p.pPr]
        style = paragraph.style
        while style is not None:  # a list style ("List Number") carries the numbering for its paragraphs
            sources.append(style.element.pPr)
            style = style.base_style
        num_id, level = None, None
        for ppr in sources:
            if ppr is None:
                continue
            numpr = ppr.find(qn("w:numPr"))
            if numpr is None:
                continue
            nid = numpr.find(qn("w:numId"))
            ilvl = numpr.find(qn("w:ilvl"))
            if num_id is None and nid is not None:
                num_id = nid.get(qn("w:val"))
            if level is None and ilvl is not None:
                level = int(ilvl.get(qn("w:val")))
        if num_id is None or num_id == "0" or num_id not in self.levels:
            return None
        return num_id, level or 0

    def label(self, paragraph) -> str:
        ref = self._reference(paragraph)
        if ref is None:
            return ""
        num_id, level = ref
        levels = self.levels[num_id]
        fmt, pattern, _ = levels.get(level, ("decimal", f"%{level + 1}.", 1))
        if fmt in _BULLETS:
            return _BULLETS[fmt] or ""
        counters = self.counters.setdefault(num_id, [])
        while len(counters) <= level:
            counters.append(levels.get(len(counters), ("decimal", "", 1))[2] - 1)
        counters[level] += 1
        del counters[level + 1 :]
        out = pattern
        for i, value in enumerate(counters):
            out = out.replace(f"%{i + 1}", _format(value, levels.get(i, ("decimal", "", 1))[0]))
        return out.strip() or f"{counters[level]}."


def _format(value: int, fmt: str) -> str:
    if fmt == "lowerLetter":
        return chr(ord("a") + (value - 1) % 26)
    if fmt == "upperLetter":
        return chr(ord("A") + (value - 1) % 26)
    if fmt in ("lowerRoman", "upperRoman"):
        roman = _roman(value)
        return roman.lower() if fmt == "lowerRoman" else roman
    return str(value)


def _roman(n: int) -> str:
    out = ""
    for value, sym in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"),
                       (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out, n = out + sym, n - value
    return out
