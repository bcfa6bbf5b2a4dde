"""File -> normalised text with its structure (title, headings, tables, page starts): one loader per format.

Every loader returns blocks (see ``ingest.document``); ``assemble`` joins them into one text and records the
character offset of every heading, table and page. PDF layout lives in ``ingest.pdf_layout``, DOCX in
``ingest.docx_loader``, tables in ``ingest.tables``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingest.document import (  # noqa: F401  (re-exported: the loaders' public names)
    Block, LoadError, LoadedDocument, TableSpan, UnsupportedFormat, assemble, clean_inline, table_block,
)
from ingest.tables import best_match, html_tables, looks_like_caption, pipe_table_rows, row_sentences
from rag.settings import CORPUS_FORMATS

SUPPORTED = CORPUS_FORMATS  # suffix -> loader (rag/settings.py: `aimf doctor` reads the same list)

_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
def load(path: Path) -> LoadedDocument:
    kind = SUPPORTED.get(path.suffix.lower())
    if kind is None:
        raise UnsupportedFormat(f"format non pris en charge ({path.suffix or 'sans extension'})")
    if path.stat().st_size == 0:
        raise LoadError("fichier vide")
    doc = _LOADERS[kind](path)
    if not doc.title:
        doc.title = _title_from_name(path)
    return doc


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name


# --- plain text and Markdown -------------------------------------------------------------------------------------


# Non-ASCII characters of Western European (above all French) text: what a Latin-1 or Windows-1252 decoding of a
# French file yields. A file in another single-byte encoding (Cyrillic, Central European...) decoded that way gives
# mostly other characters, or a far larger share of non-ASCII letters.
_WESTERN = frozenset(
    "àâäáãçéèêëîïíìôöóòõùûüúÿœæñßøåÀÂÄÁÃÇÉÈÊËÎÏÍÌÔÖÓÒÕÙÛÜÚŸŒÆÑØÅ«»‘’‚“”„–—…€°ºª§²³¹·•×÷±£¥¢©®™†‡‰¿¡¨´¸¯¬¦µ¶¼½¾"
    "\u00a0\u00ad"
)


def _western_text(text: str) -> bool:
    """True when a Latin-1/Windows-1252 decoding reads like Western European prose rather than mojibake."""
    high = [c for c in text if ord(c) > 127]
    if not high:
        return True
    if sum(c in _WESTERN for c in high) < 0.97 * len(high):
        return False
    letters = sum(c.isalpha() for c in text)
    high_letters = sum(c.isalpha() for c in high)
    return high_letters <= 0.3 * max(letters, 1)


def read_text(path: Path) -> tuple[str, str]:
    """Decode a text file: UTF-8 first; then Windows-1252 / Latin-1 (by far the most common legacy encodings of
    French text; charset detectors often mistake them for Central European ones, which garbles the accents); then
    whatever charset-normalizer detects. A non-UTF-8 encoding is returned so the caller can name it."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    c1 = any(0x80 <= b <= 0x9F for b in raw)  # Windows-1252's extra characters (’ œ … € « »-like quotes)
    for encoding in ("cp1252", "latin-1") if c1 else ("latin-1",):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _western_text(text):
            return text, encoding
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise LoadError("encodage du texte non reconnu (ni UTF-8 ni un encodage courant) : convertissez-le en UTF-8")
    return str(best), best.encoding


_ENCODING_NAMES = {"cp1252": "Windows-1252 (cp1252)", "latin-1": "Latin-1 (ISO-8859-1)"}


def _markdown_blocks(text: str, html_grids: list | None = None) -> tuple[list[Block], str]:
    """Blocks of a Markdown text: headings, paragraphs, pipe tables (written row by row with their column names;
    ``html_grids``: the page's own tables, preferred to trafilatura's rendering of them, which loses spans and
    captions)."""
    blocks: list[Block] = []
    title = ""
    paragraph: list[str] = []

    def flush() -> None:
        if not paragraph:
            return
        grid = pipe_table_rows([l for l in paragraph if l.strip()])
        if grid is None:
            blocks.append(Block("\n".join(paragraph)))
        else:
            caption = ""
            match = best_match(grid, html_grids or [])
            if match is not None:
                caption, grid = match
            if not caption and blocks and not blocks[-1].heading and blocks[-1].table is None \
                    and looks_like_caption(clean_inline(blocks[-1].text)):
                caption = clean_inline(blocks.pop().text)
            block = table_block(caption, row_sentences(grid))
            if block is not None:
                blocks.append(block)
        paragraph.clear()

    for line in text.replace("\r\n", "\n").split("\n"):
        m = _MD_HEADING.match(line)
        if m:
            flush()
            blocks.append(Block(m.group(2), heading=True))
            title = title or m.group(2)
        elif not line.strip():
            flush()
        else:
            paragraph.append(line)
    flush()
    return blocks, title


# Raw HTML in Markdown is markup, not content: elements whose content is code go whole, other tags go and leave their
# text; "\<script\>" (tags escaped so that a renderer shows them) likewise.
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HTML_CODE = re.compile(
    r"\\?<(script|style|iframe|object|embed|noscript|template|svg)\b[^>]*?\\?>.*?\\?<\\?/\1\s*\\?>",
    re.DOTALL | re.IGNORECASE,
)
_HTML_TAG = re.compile(r"\\?</?[a-zA-Z][a-zA-Z0-9:-]*(?:\s[^<>\n]*?)?\s*/?\\?>")


def strip_html(markdown: str) -> str:
    markdown = _HTML_COMMENT.sub("", markdown)
    markdown = _HTML_CODE.sub("", markdown)
    return _HTML_TAG.sub("", markdown)


def _load_text(path: Path, kind: str) -> LoadedDocument:
    text, encoding = read_text(path)
    if kind == "md":
        text = strip_html(text)
    blocks, title = _markdown_blocks(text)
    if not title and blocks and blocks[0].table is None:
        # A short first line without closing punctuation reads as the document's title.
        first = clean_inline(blocks[0].text)
        if first and "\n" not in first and len(first) <= 200 and not re.search(r"[.;:,!?]$", first):
            blocks[0].heading = True
            title = first
    doc = assemble(blocks, title, kind)
    doc.encoding = encoding
    if encoding != "utf-8":
        doc.warnings.append(f"encodage détecté : {_ENCODING_NAMES.get(encoding, encoding)} (converti en UTF-8)")
    return doc


# --- HTML --------------------------------------------------------------------------------------------------------


def _load_html(path: Path) -> LoadedDocument:
    import lxml.html
    import trafilatura

    html, _ = read_text(path)
    # lxml refuses a decoded string that still carries an XML encoding declaration (XHTML files).
    html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html)
    tree = lxml.html.fromstring(html) if html.strip() else None
    page_title = (tree.findtext(".//title") or "").strip() if tree is not None else ""
    markdown = trafilatura.extract(
        html, output_format="markdown", include_comments=False, include_tables=True, include_images=False,
        include_links=False, favor_recall=True,
    )
    if not markdown and tree is not None:
        # Very small pages fall below trafilatura's thresholds: take the visible text ourselves.
        for bad in tree.xpath("//script|//style|//noscript|//template"):
            bad.drop_tree()
        markdown = "\n\n".join(
            el.text_content() for el in tree.xpath("//h1|//h2|//h3|//h4|//p|//li|//td|//pre|//blockquote")
        ) or tree.text_content()
    blocks, heading = _markdown_blocks(markdown or "", html_tables(tree) if tree is not None else [])
    if tree is not None:
        # trafilatura often renders headings as plain paragraphs: the page's own <h1>..<h6> say which they are.
        heading_texts = {
            " ".join(h.text_content().split()) for h in tree.xpath("//h1|//h2|//h3|//h4|//h5|//h6")
        } - {""}
        for block in blocks:
            if not block.heading and " ".join(clean_inline(block.text).split()) in heading_texts:
                block.heading = True
                heading = heading or clean_inline(block.text)
    return assemble(blocks, page_title or heading, "html")


# --- PDF and DOCX ------------------------------------------------------------------------------------------------


def _load_pdf(path: Path) -> LoadedDocument:
    from ingest.pdf_layout import read_pdf

    layout = read_pdf(path)
    doc = assemble(layout.blocks, layout.title, "pdf", paged=True)
    while len(doc.page_starts) < layout.pages:  # trailing pages without any block
        doc.page_starts.append(len(doc.text))
    doc.dropped = layout.dropped
    doc.pages_without_text = layout.pages_without_text
    doc.warnings.extend(layout.warnings)
    return doc


def _load_docx(path: Path) -> LoadedDocument:
    from ingest.docx_loader import load_docx

    return load_docx(path)


_LOADERS = {
    "txt": lambda p: _load_text(p, "txt"),
    "md": lambda p: _load_text(p, "md"),
    "html": _load_html,
    "pdf": _load_pdf,
    "docx": _load_docx,
}
