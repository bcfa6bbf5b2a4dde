"""Structure-aware chunking: sections (headings) and pages first, then paragraphs, lines, sentences, clauses, words.

Never cuts inside a word, and every chunk keeps ``start``/``end`` offsets such that ``text[start:end]`` is the
chunk's text exactly.
"""

from __future__ import annotations

import bisect
import hashlib

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.document import LoadedDocument, TableSpan
from rag.lang import detect_lang

# Paragraphs, lines, then sentence ends (French spacing puts a space before ? ! ; :), then clauses, then words.
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "… ", " ; ", "; ", " : ", ", ", " "]


def chunk_id(source: str, position: int, text: str) -> str:
    digest = hashlib.sha256(f"{source}\x00{position}\x00{text}".encode()).hexdigest()
    return digest[:32]


def make_splitter(chunk_size: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=min(chunk_overlap, chunk_size // 2),
        separators=SEPARATORS,
        keep_separator="end",
        strip_whitespace=True,
        add_start_index=True,
    )


def chunk_document(
    doc: LoadedDocument, source: str, doc_sha256: str, chunk_size: int, chunk_overlap: int
) -> list[Document]:
    splitter = make_splitter(chunk_size, chunk_overlap)
    text = doc.text
    # Sections, pages and tables all bound chunks: a chunk sits under one heading and on one page, so its `section`
    # and `page` hold for every word of it; a table is chunked on its own, by rows.
    tables = {_table_start(t): t for t in doc.tables}
    cuts = {off for off, _ in doc.headings} | set(doc.page_starts or []) | set(tables) | {t.end for t in doc.tables}
    bounds = [0] + sorted(off for off in cuts if 0 < off < len(text)) + [len(text)]
    heading_at = dict(doc.headings)
    doc_lang = detect_lang(text[:5000])
    chunks: list[Document] = []
    segments = list(zip(bounds, bounds[1:]))
    page_cuts = set(doc.page_starts or [])
    carried: int | None = None  # start of a heading that goes with the segment below it
    for n, (own_start, sec_end) in enumerate(segments):
        section = heading_at.get(own_start) or _previous_heading(doc, own_start)
        if sec_start_is_lone_heading(text, own_start, sec_end, heading_at) and n + 1 < len(segments):
            # A heading alone is no passage: it opens the passage below it, or, across a page break, it is only
            # that passage's `section` (a passage stays on one page).
            next_start = segments[n + 1][0]
            carried = (carried if carried is not None else own_start) if next_start not in page_cuts else None
            continue
        sec_start = carried if carried is not None else own_start
        carried = None
        segment = text[sec_start:sec_end]
        table = tables.get(own_start)
        pieces = _table_pieces(segment, chunk_size) if table else _located(splitter.split_text(segment), segment, chunk_overlap)
        for local, piece in pieces:
            start = sec_start + local
            end = start + len(piece)
            position = len(chunks)
            lang = detect_lang(piece, default=doc_lang)
            metadata = {
                "source": source,
                "title": doc.title,
                "page": _page_at(doc, start),
                "section": section or "",
                "start": start,
                "end": end,
                "lang": lang,
                "doc_sha256": doc_sha256,
                "position": position,
                "kind": doc.kind,
            }
            if table is not None and table.caption:
                metadata["table"] = table.caption  # repeated with every part of the table (see embedding_text)
            chunks.append(Document(id=chunk_id(source, position, piece), page_content=piece, metadata=metadata))
    return chunks


def sec_start_is_lone_heading(text: str, start: int, end: int, heading_at: dict[int, str]) -> bool:
    return start in heading_at and text[start:end].strip() == heading_at[start]


def _table_start(table: TableSpan) -> int:
    return table.start - (len(table.caption) + 1 if table.caption else 0)


def _located(pieces: list[str], segment: str, chunk_overlap: int) -> list[tuple[int, str]]:
    """Each piece with its offset in the segment, found by us: robust to the splitter's overlap bookkeeping."""
    out = []
    cursor = 0
    for piece in pieces:
        local = segment.find(piece, max(0, cursor - chunk_overlap - len(piece)))
        if local < 0:
            local = segment.find(piece)
        out.append((local, piece))
        cursor = local + len(piece)
    return out


def _table_pieces(segment: str, chunk_size: int) -> list[tuple[int, str]]:
    """A table's rows grouped up to the chunk size, never cut inside a row (a row longer than a chunk is one chunk
    by itself); no overlap, since every row already carries its column names."""
    out: list[tuple[int, str]] = []
    start = end = None
    offset = 0
    for line in segment.split("\n"):
        line_start, line_end = offset, offset + len(line)
        offset = line_end + 1
        if not line.strip():
            continue
        if start is not None and line_end - start > chunk_size:
            out.append((start, segment[start:end]))
            start = None
        if start is None:
            start = line_start
        end = line_end
    if start is not None:
        out.append((start, segment[start:end]))
    return [(s, p) for s, p in out if p.strip()]


def _previous_heading(doc: LoadedDocument, offset: int) -> str | None:
    before = [h for off, h in doc.headings if off <= offset]
    return before[-1] if before else None


def _page_at(doc: LoadedDocument, offset: int) -> int | None:
    if not doc.page_starts:
        return None
    return max(1, bisect.bisect_right(doc.page_starts, offset))
