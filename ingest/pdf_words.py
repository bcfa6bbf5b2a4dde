"""Words with positions and fonts, straight from pdfminer.six (MIT): the character boxes pdfminer computes anyway,
grouped into words the way pdfplumber does (same line, no gap), without building pdfplumber's per-character
dictionaries, which cost two thirds of the reading time. pdfplumber's table finder is used only on pages that
draw enough lines to hold a ruled table."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

X_TOLERANCE = 1.5  # a gap wider than this (points) between two characters starts a new word
Y_TOLERANCE = 2.0  # characters whose tops differ by less sit on one line
MIN_RULES = 4  # drawn lines or rectangles a page needs before its tables are searched


@dataclass
class PageWords:
    number: int
    width: float
    height: float
    words: list[dict] = field(default_factory=list)  # text, x0, x1, top, bottom, size, fontname
    images: int = 0
    rules: int = 0  # drawn lines and rectangles


def read_words(path: Path) -> tuple[str, list[PageWords]]:
    """(title from the document's properties, the pages). pdfminer's exceptions pass through."""
    from pdfminer.converter import PDFLayoutAnalyzer
    from pdfminer.layout import LTChar, LTCurve, LTFigure, LTImage
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser
    from pdfminer.pdftypes import resolve1

    pages: list[PageWords] = []

    class _Collector(PDFLayoutAnalyzer):
        def receive_layout(self, ltpage) -> None:
            x0, y0, x1, y1 = ltpage.bbox
            page = PageWords(len(pages) + 1, x1 - x0, y1 - y0)
            chars = []
            for obj in _walk(ltpage, LTFigure):
                if isinstance(obj, LTChar):
                    text = obj.get_text()
                    if text.strip():
                        chars.append((y1 - obj.y1, obj.x0, obj.x1, y1 - obj.y0, text, obj.size, obj.fontname))
                    else:
                        chars.append((y1 - obj.y1, obj.x0, obj.x1, y1 - obj.y0, " ", obj.size, obj.fontname))
                elif isinstance(obj, LTImage):
                    page.images += 1
                elif isinstance(obj, LTCurve):  # LTLine and LTRect are curves too
                    page.rules += 1
            page.words = _words(chars)
            pages.append(page)

    with open(path, "rb") as f:
        parser = PDFParser(f)
        document = PDFDocument(parser, password="")
        title = ""
        for info in document.info or []:
            value = resolve1(info.get("Title")) if isinstance(info, dict) else None
            if value:
                title = _decode(value)
                break
        manager = PDFResourceManager(caching=True)
        device = _Collector(manager, pageno=1, laparams=None)
        interpreter = PDFPageInterpreter(manager, device)
        for pdf_page in PDFPage.create_pages(document):
            interpreter.process_page(pdf_page)
    return title, pages


def _walk(container, figure_type) -> Iterator:
    for obj in container:
        if isinstance(obj, figure_type):
            yield from _walk(obj, figure_type)
        else:
            yield obj


def _decode(value) -> str:
    if isinstance(value, bytes):
        if value.startswith((b"\xfe\xff", b"\xff\xfe")):
            return value.decode("utf-16", "replace")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("latin-1")
    return str(value)


def _words(chars: list[tuple]) -> list[dict]:
    """Characters -> words: lines by top (within Y_TOLERANCE), left to right, cut at spaces, gaps and font changes."""
    if not chars:
        return []
    chars.sort(key=lambda c: c[0])
    lines: list[list[tuple]] = [[chars[0]]]
    line_top = chars[0][0]
    for c in chars[1:]:
        if c[0] - line_top <= Y_TOLERANCE:
            lines[-1].append(c)
        else:
            lines.append([c])
            line_top = c[0]
    words: list[dict] = []
    for line in lines:
        line.sort(key=lambda c: c[1])
        current: list[tuple] = []
        for c in line:
            if c[4] == " ":
                _flush(current, words)
                continue
            if current:
                last = current[-1]
                if c[1] - last[2] > X_TOLERANCE or c[5] != last[5] or c[6] != last[6]:
                    _flush(current, words)
            current.append(c)
        _flush(current, words)
    return words


def _flush(current: list[tuple], words: list[dict]) -> None:
    if not current:
        return
    words.append({
        "text": "".join(c[4] for c in current),
        "x0": current[0][1], "x1": max(c[2] for c in current),
        "top": min(c[0] for c in current), "bottom": max(c[3] for c in current),
        "size": current[0][5], "fontname": current[0][6],
    })
    current.clear()
