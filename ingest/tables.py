"""Tables written as sentences a reader can answer from: one line per row, each cell with its column name
("Montclair — arbres à planter : 450 ; surface : 0,9 ha ; coût : 620 000 €").

Every format (PDF, DOCX, HTML, Markdown pipe tables) reduces its table to a grid of rows; ``None`` marks a cell
covered by the cell to its left (a horizontal merge), so a merged cell is written once in its row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SPACES = re.compile(r"\s+")
_NUMERIC = re.compile(r"^[\s\d.,%€$£+\-–−/()]*$")


@dataclass
class Table:
    rows: list[list[str | None]]
    caption: str = ""
    sentences: list[str] = field(default_factory=list)


_CAPTION = re.compile(r"^(?:tableau|table|tab\.)\s*\S*\s*[:.–—-]", re.IGNORECASE)


def looks_like_caption(text: str) -> bool:
    """A short line that names the table below it ("Tableau 2 : plantations par quartier")."""
    text = text.strip()
    return 0 < len(text) <= 200 and "\n" not in text and bool(_CAPTION.match(text))


def clean_cell(text: str | None) -> str | None:
    if text is None:
        return None
    return _SPACES.sub(" ", text.replace("\u00ad", "")).strip()


def _is_header(row: list[str | None]) -> bool:
    """A first row of labels: every filled cell holds words, not figures."""
    cells = [c for c in row if c]
    return len(cells) >= 2 and all(not _NUMERIC.match(c) for c in cells)


def _label(name: str) -> str:
    """A column name inside a sentence: lower-case first letter, unless it is an acronym ("PIB", "CO2")."""
    if len(name) > 1 and name[0].isupper() and not name[1].isupper():
        return name[0].lower() + name[1:]
    return name


def row_sentences(rows: list[list[str | None]]) -> list[str]:
    """One sentence per data row. With a header row: "first cell — column : value ; column : value"; without:
    the cells joined by " ; ". Empty rows and empty cells are left out; a header row is not written by itself."""
    rows = [[clean_cell(c) for c in row] for row in rows]
    rows = [r for r in rows if any(r)]
    if not rows:
        return []
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    header: list[str | None] | None = rows[0] if len(rows) > 1 and _is_header(rows[0]) else None
    body = rows[1:] if header else rows
    out = []
    for row in body:
        cells = [(i, c) for i, c in enumerate(row) if c]
        if not cells:
            continue
        if header is None or width == 1:
            out.append(_finish(" ; ".join(c for _, c in cells)))
            continue
        parts: list[str] = []
        lead = ""
        for i, c in cells:
            name = header[i] if i < len(header) else None
            if i == 0 and not lead:
                lead = c  # the row's label ("Montclair"): said once, first
                continue
            parts.append(f"{_label(name)} : {c}" if name and name != c else c)
        if lead and parts:
            out.append(_finish(f"{lead} — " + " ; ".join(parts)))
        else:
            out.append(_finish(lead or " ; ".join(parts)))
    return out


def _finish(sentence: str) -> str:
    """End each row like a sentence, so sentence splitters and readers see one row as one statement."""
    return sentence if sentence[-1:] in ".!?…:" else sentence + "."


def table_text(table: Table) -> str:
    """The table as text: its caption (when it has one), then one line per row."""
    table.sentences = row_sentences(table.rows)
    lines = ([table.caption] if table.caption else []) + table.sentences
    return "\n".join(lines)


# --- Markdown pipe tables (Markdown files, and HTML pages, which trafilatura renders as Markdown) ---------------

_PIPE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_PIPE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def split_pipe_row(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [c.replace("\\|", "|").strip() for c in re.split(r"(?<!\\)\|", inner)]


def pipe_table_rows(lines: list[str]) -> list[list[str | None]] | None:
    """The grid of a Markdown pipe table (header, rule line, rows), or None when the lines are not one."""
    if len(lines) < 2 or not all(_PIPE_ROW.match(l) or _PIPE_RULE.match(l) for l in lines):
        return None
    if not _PIPE_RULE.match(lines[1]):
        return None
    rows: list[list[str | None]] = []
    for line in [lines[0]] + lines[2:]:
        if _PIPE_RULE.match(line):
            continue
        rows.append(list(split_pipe_row(line)))
    return rows


# --- HTML tables (cells spanning columns or rows resolved into a grid) -----------------------------------------


def html_tables(tree) -> list[tuple[str, list[list[str | None]]]]:
    """(caption, grid) of every table of an lxml tree. A cell spanning columns comes once (``None`` for the columns
    it covers); a cell spanning rows is that value in each row it covers."""
    out = []
    for table in tree.iter("table"):
        caption_el = table.find("caption")
        caption = " ".join(caption_el.text_content().split()) if caption_el is not None else ""
        grid: list[list[str | None]] = []
        carry: dict[int, tuple[int, str]] = {}  # column -> (rows left, value) for rowspans
        for tr in table.iter("tr"):
            if tr.getparent() is not None and _owner_table(tr) is not table:
                continue  # a nested table's rows belong to it
            row: list[str | None] = []
            col = 0
            for cell in tr:
                if cell.tag not in ("td", "th"):
                    continue
                col = _carry_down(carry, row, col)
                text = " ".join(cell.text_content().split())
                span = _int(cell.get("colspan"))
                down = _int(cell.get("rowspan"))
                row.append(text)
                row.extend([None] * (span - 1))
                if down > 1:
                    for c in range(col, col + span):
                        carry[c] = (down - 1, text if c == col else None)
                col += span
            _carry_down(carry, row, col)
            if any(row):
                grid.append(row)
        if grid:
            out.append((caption, grid))
    return out


def _owner_table(el):
    el = el.getparent()
    while el is not None and el.tag != "table":
        el = el.getparent()
    return el


def _int(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 100))
    except ValueError:
        return 1


def best_match(pipe_rows: list[list[str | None]], candidates: list[tuple[str, list[list[str | None]]]]):
    """The parsed HTML table that a Markdown rendering of it came from (most shared cell texts), or None."""
    cells = {c for r in pipe_rows for c in r if c}
    best, score = None, 0
    for candidate in candidates:
        theirs = {c for r in candidate[1] for c in r if c}
        shared = len(cells & theirs)
        if shared > score:
            best, score = candidate, shared
    return best if best is not None and score >= max(1, len(cells) // 2) else None


def _carry_down(carry: dict[int, tuple[int, str | None]], row: list[str | None], col: int) -> int:
    """Fill the row, from column ``col``, with the cells of rows above that span down into it; the next free column."""
    while col in carry:
        left, value = carry[col]
        row.append(value)
        carry[col] = (left - 1, value)
        if left - 1 <= 0:
            del carry[col]
        col += 1
    return col
