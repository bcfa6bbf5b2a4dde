"""What every loader returns: blocks (headings, paragraphs, tables, each with a page where the format has pages),
assembled into one normalised text with the character offset of every heading, table and page, so a chunk's
``start``/``end`` point back into exactly the text that was indexed."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field


class LoadError(Exception):
    """The file cannot be indexed; the message is for the user (in French)."""


class UnsupportedFormat(LoadError):
    pass


@dataclass
class Block:
    text: str
    heading: bool = False
    page: int | None = None
    table: str | None = None  # a table's caption ("" when it has none); None: not a table
    rows: list[str] | None = None  # a table's rows as sentences (for `aimf inspect`)


@dataclass
class TableSpan:
    start: int  # offset of the table's first row (after its caption)
    end: int
    caption: str
    page: int | None = None
    rows: list[str] = field(default_factory=list)


@dataclass
class LoadedDocument:
    text: str
    title: str
    kind: str
    headings: list[tuple[int, str]] = field(default_factory=list)  # (offset, heading text)
    page_starts: list[int] | None = None  # page n starts at page_starts[n - 1]
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)
    tables: list[TableSpan] = field(default_factory=list)
    # Running headers and footers left out of the text (PDF), once each, with page numbers as "#".
    dropped: list[str] = field(default_factory=list)
    pages_without_text: list[int] = field(default_factory=list)

    @property
    def pages(self) -> int | None:
        return len(self.page_starts) if self.page_starts is not None else None


_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"\*\*|__|(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")


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
    tables: list[TableSpan] = []
    page_starts: list[int] = []
    offset = 0
    blocks = _mend_broken_paragraphs(blocks)
    for block in blocks:
        text = block.text if block.table is not None else clean_inline(block.text)
        if not text:
            continue
        if parts:
            offset += 2  # the "\n\n" joining blocks
        if paged and block.page is not None:
            while len(page_starts) < block.page:
                page_starts.append(offset)
        if block.heading:
            headings.append((offset, text))
        if block.table is not None:
            lead = len(block.table) + 1 if block.table else 0
            tables.append(TableSpan(offset + lead, offset + len(text), block.table, block.page, list(block.rows or [])))
        parts.append(text)
        offset += len(text)
    text = "\n\n".join(parts)
    if not text.strip():
        raise LoadError("aucun texte extractible (fichier vide ?)")
    return LoadedDocument(
        text=text, title=" ".join(clean_inline(title).split()), kind=kind,
        headings=headings, page_starts=page_starts if paged else None, tables=tables,
    )


def table_block(caption: str, rows: list[str], page: int | None = None) -> Block | None:
    """A table as one block: its caption line, then one line per row (already written as sentences)."""
    caption = clean_inline(caption).replace("\n", " ")
    rows = [r for r in (clean_inline(r).replace("\n", " ") for r in rows) if r]
    if not rows:
        return None
    return Block("\n".join(([caption] if caption else []) + rows), page=page, table=caption, rows=rows)


def _mend_broken_paragraphs(blocks: list[Block]) -> list[Block]:
    """Join a paragraph cut mid-sentence (ends on a letter, next starts lower-case), as copy-paste and PDFs leave."""
    out: list[Block] = []
    for block in blocks:
        prev = out[-1] if out else None
        text = block.text.strip()
        if (prev and not prev.heading and not block.heading and prev.table is None and block.table is None
                and text and text[0].islower() and prev.text.rstrip()[-1:].isalpha() and prev.page == block.page):
            out[-1] = Block(prev.text.rstrip() + " " + text, page=prev.page)
        else:
            out.append(block)
    return out
