"""The text around a passage, for a reader who opens it in context: read back from the neighbouring chunks of the
same document (chunks keep their character offsets into the extracted text, so the document is pieced together
from them without the source file)."""

from __future__ import annotations


def piece_together(chunks: list[tuple[int, str]], a: int, b: int) -> str:
    """The document's text between offsets ``a`` and ``b`` from (start offset, text) chunks, overlaps read once.
    The splitter dropped the whitespace between chunks: a gap reads as a space, a wider one as a line break."""
    out: list[str] = []
    pos = a
    for start, text in sorted(chunks):
        end = start + len(text)
        if end <= pos or start >= b:
            continue
        if start > pos:
            if out:
                out.append(" " if start - pos == 1 else "\n")
            pos = start
        piece = text[pos - start : min(b, end) - start]
        out.append(piece)
        pos += len(piece)
        if pos >= b:
            break
    return "".join(out)


def around(chunks: list[tuple[int, str]], start: int, end: int, chars: int = 600) -> tuple[str, str]:
    """(text before ``start``, text after ``end``), about ``chars`` each, cut at a word boundary."""
    before = piece_together(chunks, max(0, start - chars), start)
    after = piece_together(chunks, end, end + chars)
    if start - chars > 0 and " " in before:
        before = before[before.find(" ") + 1 :]
    if len(after) >= chars and " " in after:
        after = after[: after.rfind(" ")]
    return before, after

