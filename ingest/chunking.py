"""Structure-aware chunking: sections (headings) and pages first, then paragraphs, lines, sentences, clauses, words.

Never cuts inside a word, and every chunk keeps ``start``/``end`` offsets such that ``text[start:end]`` is the
chunk's text exactly.
"""

from __future__ import annotations

import bisect
import hashlib

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.loaders import LoadedDocument
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
    # Sections and pages both bound chunks: a chunk sits under one heading and on one page, so its `section` and
    # `page` hold for every word of it.
    cuts = {off for off, _ in doc.headings} | set(doc.page_starts or [])
    bounds = [0] + sorted(off for off in cuts if 0 < off < len(text)) + [len(text)]
    heading_at = dict(doc.headings)
    doc_lang = detect_lang(text[:5000])
    chunks: list[Document] = []
    for sec_start, sec_end in zip(bounds, bounds[1:]):
        section = heading_at.get(sec_start) or _previous_heading(doc, sec_start)
        segment = text[sec_start:sec_end]
        cursor = 0
        for piece in splitter.split_text(segment):
            # Locate each piece ourselves: robust to the splitter's overlap bookkeeping.
            local = segment.find(piece, max(0, cursor - chunk_overlap - len(piece)))
            if local < 0:
                local = segment.find(piece)
            start = sec_start + local
            end = start + len(piece)
            cursor = local + len(piece)
            position = len(chunks)
            lang = detect_lang(piece, default=doc_lang)
            chunks.append(
                Document(
                    id=chunk_id(source, position, piece),
                    page_content=piece,
                    metadata={
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
                    },
                )
            )
    return chunks


def _previous_heading(doc: LoadedDocument, offset: int) -> str | None:
    before = [h for off, h in doc.headings if off <= offset]
    return before[-1] if before else None


def _page_at(doc: LoadedDocument, offset: int) -> int | None:
    if not doc.page_starts:
        return None
    return max(1, bisect.bisect_right(doc.page_starts, offset))
