"""File -> normalised text with its structure (title, headings, page starts).

Every loader returns blocks (headings and paragraphs, each with a page number where the format has pages);
``assemble`` joins them into one text and records the character offset of every heading and page, so a chunk's
``start``/``end`` point back into exactly the text that was indexed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

SUPPORTED = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx"}


class LoadError(Exception):
    """The file cannot be indexed; the message is for the user (in French)."""


class UnsupportedFormat(LoadError):
    pass


@dataclass
class Block:
    text: str
    heading: bool = False
    page: int | None = None


@dataclass
class LoadedDocument:
    text: str
    title: str
    kind: str
    headings: list[tuple[int, str]] = field(default_factory=list)  # (offset, heading text)
    page_starts: list[int] | None = None  # page n starts at page_starts[n - 1]
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int | None:
        return len(self.page_starts) if self.page_starts is not None else None


_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"\*\*|__|(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")


def clean_inline(text: str) -> str:
    """NFC, Markdown emphasis/links/images reduced to their words, spaces collapsed; line breaks kept."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = _IMAGE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _EMPHASIS.sub(lambda m: m.group(1) or "", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def assemble(blocks: list[Block], title: str, kind: str, paged: bool = False) -> LoadedDocument:
    parts: list[str] = []
    headings: list[tuple[int, str]] = []
    page_starts: list[int] = []
    offset = 0
    blocks = _mend_broken_paragraphs(blocks)
    for block in blocks:
        text = clean_inline(block.text)
        if not text:
            continue
        if parts:
            offset += 2  # the "\n\n" joining blocks
        if paged and block.page is not None:
            while len(page_starts) < block.page:
                page_starts.append(offset)
        if block.heading:
            headings.append((offset, text))
        parts.append(text)
        offset += len(text)
    text = "\n\n".join(parts)
    if not text.strip():
        raise LoadError("aucun texte extractible (fichier vide ?)")
    return LoadedDocument(
        text=text, title=clean_inline(title).replace("\n", " ") or "", kind=kind,
        headings=headings, page_starts=page_starts if paged else None,
    )


def _mend_broken_paragraphs(blocks: list[Block]) -> list[Block]:
    """Join a paragraph cut mid-sentence (ends on a letter, next starts lower-case), as copy-paste and PDFs leave."""
    out: list[Block] = []
    for block in blocks:
        prev = out[-1] if out else None
        text = block.text.strip()
        if (prev and not prev.heading and not block.heading and text and text[0].islower()
                and prev.text.rstrip()[-1:].isalpha() and prev.page == block.page):
            out[-1] = Block(prev.text.rstrip() + " " + text, page=prev.page)
        else:
            out.append(block)
    return out


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


def _markdown_blocks(text: str) -> tuple[list[Block], str]:
    blocks: list[Block] = []
    title = ""
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(Block("\n".join(paragraph)))
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


def _load_text(path: Path, kind: str) -> LoadedDocument:
    text, encoding = read_text(path)
    blocks, title = _markdown_blocks(text)
    if not title and blocks:
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
    blocks, heading = _markdown_blocks(markdown or "")
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


# --- PDF ---------------------------------------------------------------------------------------------------------


def _load_pdf(path: Path) -> LoadedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("PDF chiffré (protégé par un mot de passe) : fournissez une version non protégée")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or ""
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(f"PDF illisible ou endommagé ({exc})") from exc
    except Exception as exc:  # pypdf raises assorted errors on damaged files
        if "encrypt" in str(exc).lower() or "crypt" in type(exc).__name__.lower():
            raise LoadError("PDF chiffré : fournissez une version non protégée") from exc
        raise LoadError(f"PDF illisible ou endommagé ({exc})") from exc
    if not any(p.strip() for p in pages):
        raise LoadError(
            f"le PDF ({len(pages)} page(s)) ne contient aucune couche texte (document numérisé ?) : "
            "passez-le d'abord dans un outil de reconnaissance de caractères (OCR)"
        )
    blocks = []
    for number, page_text in enumerate(pages, start=1):
        paragraphs = re.split(r"\n\s*\n", page_text)
        for para in paragraphs:
            # Lines of one paragraph are joined; words hyphenated at a line end are mended.
            joined = re.sub(r"(\w)-\n(\w)", r"\1\2", para)
            joined = re.sub(r"\s*\n\s*", " ", joined)
            blocks.append(Block(joined, page=number))
        if not page_text.strip():
            blocks.append(Block("", page=number))
    if not title:
        first = next((clean_inline(b.text) for b in blocks if clean_inline(b.text)), "")
        title = first if len(first) <= 120 else ""
    doc = assemble(blocks, title, "pdf", paged=True)
    while len(doc.page_starts) < len(pages):  # trailing empty pages
        doc.page_starts.append(len(doc.text))
    return doc


# --- DOCX --------------------------------------------------------------------------------------------------------


def _load_docx(path: Path) -> LoadedDocument:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise LoadError(f"fichier Word illisible ou endommagé ({exc})") from exc
    except Exception as exc:  # zipfile.BadZipFile and friends
        raise LoadError(f"fichier Word illisible ou endommagé ({exc})") from exc
    from docx.table import Table

    blocks: list[Block] = []
    title = (document.core_properties.title or "").strip()
    # Paragraphs and tables in document order, so a table sits under the heading it follows.
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                blocks.append(Block(" | ".join(cell.text.strip() for cell in row.cells)))
            continue
        style = (item.style.name if item.style is not None else "") or ""
        is_heading = style.lower().startswith(("heading", "titre", "title"))
        if is_heading and not title:
            title = item.text.strip()
        blocks.append(Block(item.text, heading=is_heading))
    return assemble(blocks, title, "docx")


_LOADERS = {
    "txt": lambda p: _load_text(p, "txt"),
    "md": lambda p: _load_text(p, "md"),
    "html": _load_html,
    "pdf": _load_pdf,
    "docx": _load_docx,
}
