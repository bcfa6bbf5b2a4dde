"""PDF page layout from words with positions (pdfminer.six, see ``ingest.pdf_words``; pdfplumber's table finder for
ruled tables; both MIT): columns and reading order, headings from font size and weight, running headers and
footers, tables, pages without a text layer.

Reading order: words are grouped into lines by their vertical position; a gutter is an x position, in the middle
half of the page, where at least three lines have a wide gap and that no word of those lines crosses. Lines split
there are read column by column (the left parts, then the right parts) until a line crosses the gutter, so a page
whose lines were written across both columns reads the same as one written column after column.
"""

from __future__ import annotations

import logging
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ingest.document import Block, LoadError, table_block
from ingest.hyphenation import Vocabulary, join_lines
from ingest.tables import clean_cell, looks_like_caption, row_sentences

MARGIN_BAND = 0.12  # share of the page height at the top and at the bottom where running lines live
_PAGE_NUMBER = re.compile(
    r"^(?:[-–—]\s*)?(?:page|p\.)?\s*\d{1,4}\s*(?:(?:sur|/|of|de)\s*\d{1,4})?(?:\s*[-–—])?$", re.IGNORECASE
)
_PAGE_WORDS = re.compile(r"\s*[-–—|·•]?\s*\b(?:page|p\.)\s*#(?:\s*(?:sur|/|of|de)\s*#)?\s*[-–—|·•]?\s*", re.IGNORECASE)
_PAGE_IN_LINE = re.compile(r"\b(page|p\.)\s*\d+(?:(\s*(?:sur|/|of|de)\s*)\d+)?", re.IGNORECASE)
_LIST_MARK = re.compile(r"^(?:\d{1,3}[.)]|[a-zA-Z][.)]|[•●▪◦‣∙·*–-])\s")
_SENTENCE_END = re.compile(r"[.!?:;»…)]$")
_BOLD = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
# Titles that PDF producers write when the author gave none.
_DEFAULT_TITLES = re.compile(
    r"^(?:untitled.*|sans titre.*|document\d*|titre|title|microsoft word\b.*|\(anonymous\)|anonymous|"
    r"diapositive \d+|slide \d+|presentation\d*|présentation\d*|.*\.(?:docx?|odt|pdf|rtf|txt|indd|tex))$",
    re.IGNORECASE,
)


@dataclass
class Line:
    top: float
    bottom: float
    x0: float
    x1: float
    text: str
    size: float
    bold: bool
    page: int
    stream: int = 0  # lines of one stream (a column run, or full-width lines) follow each other vertically
    table: tuple[str, list[str]] | None = None  # (caption, rows) when this "line" stands for a table
    words: list[dict] = field(default_factory=list, repr=False)
    row: bool = False  # a row of a borderless table (see _mark_cells)


@dataclass
class PdfLayout:
    blocks: list[Block]
    pages: int
    title: str
    dropped: list[str] = field(default_factory=list)
    pages_without_text: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds_per_page: float = 0.0


def meaningful_title(title: str | None) -> str:
    title = (title or "").strip()
    return "" if not title or _DEFAULT_TITLES.match(title) else title


class _Collect(logging.Handler):
    """pdfminer's and pypdf's warnings, kept for the report (with the file's name) instead of printed bare."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().strip()
        if message and message not in self.messages:
            self.messages.append(message)


def _quiet_loggers(handler: _Collect) -> list[tuple[logging.Logger, bool, list]]:
    saved = []
    for name in ("pdfminer", "pypdf", "pdfplumber"):
        log = logging.getLogger(name)
        saved.append((log, log.propagate, list(log.handlers)))
        log.handlers = [handler]
        log.propagate = False
    return saved


def read_pdf(path: Path) -> PdfLayout:
    import time

    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psexceptions import PSEOF

    from ingest.pdf_words import MIN_RULES, read_words

    handler = _Collect()
    saved = _quiet_loggers(handler)
    started = time.perf_counter()
    try:
        try:
            info_title, raw = read_words(path)
            ruled = [p.number for p in raw if p.rules >= MIN_RULES]
            tables = _find_tables(path, ruled) if ruled else {}
            pages = [_read_page(p, tables.get(p.number, [])) for p in raw]
        except LoadError:
            raise
        except Exception as exc:  # pdfminer raises assorted errors on damaged files; pdfplumber wraps them
            inner = exc.args[0] if type(exc).__name__ == "PdfminerException" and exc.args else exc
            if isinstance(inner, (PDFPasswordIncorrect, PDFEncryptionError)) or "crypt" in type(inner).__name__.lower():
                raise LoadError("PDF chiffré (protégé par un mot de passe) : fournissez une version non protégée") from exc
            if isinstance(inner, PSEOF):
                detail = "fin de fichier inattendue : fichier tronqué ou incomplet ?"
            elif isinstance(inner, PDFSyntaxError):
                detail = str(inner)
            else:
                detail = f"{type(inner).__name__}: {inner}"
            raise LoadError(f"PDF illisible ou endommagé ({detail.strip(': ')})") from exc
    finally:
        for log, propagate, handlers in saved:
            log.handlers, log.propagate = handlers, propagate
    elapsed = time.perf_counter() - started
    if not pages:
        raise LoadError("PDF sans aucune page")
    layout = _lay_out(pages, info_title)
    layout.seconds_per_page = elapsed / len(pages)
    layout.warnings = [f"lecture du PDF : {m}" for m in handler.messages] + layout.warnings
    return layout


@dataclass
class _Page:
    number: int
    width: float
    height: float
    lines: list[Line]  # text lines, tables as one line each, top to bottom
    images: int


def _read_page(page, tables: list[tuple[tuple, list[list[str | None]]]]) -> _Page:
    words = [w for w in page.words if not any(_inside(w, box) for box, _ in tables)]
    lines = _group_lines(words, page.number)
    for (x0, top, x1, bottom), rows in tables:
        sentences = row_sentences(rows)
        if sentences:
            lines.append(Line(top, bottom, x0, x1, "", 0.0, False, page.number, table=("", sentences)))
    lines.sort(key=lambda l: (l.top, l.x0))
    return _Page(page.number, page.width, page.height, lines, page.images)


def _find_tables(path: Path, numbers: list[int]) -> dict[int, list]:
    """Ruled tables (cells drawn with lines or rectangles) of the given pages, by pdfplumber's table finder: the
    costliest step, so only pages that draw enough lines are searched."""
    import pdfplumber

    out: dict[int, list] = {}
    with pdfplumber.open(str(path)) as pdf:
        for n in numbers:
            found = []
            for t in pdf.pages[n - 1].find_tables():
                if len(t.rows) >= 2 and max(len(r.cells) for r in t.rows) >= 2:
                    found.append((t.bbox, _table_rows(t)))
            out[n] = found
    return out


def _inside(word: dict, bbox: tuple) -> bool:
    x0, top, x1, bottom = bbox
    cx, cy = (word["x0"] + word["x1"]) / 2, (word["top"] + word["bottom"]) / 2
    return x0 <= cx <= x1 and top <= cy <= bottom


def _table_rows(table) -> list[list[str | None]]:
    """The grid. pdfplumber gives None for grid places covered by a merged cell: one spanning columns comes once in
    its row; one spanning rows holds for each row it covers (as in DOCX and HTML tables)."""
    texts = table.extract()
    rows: list[list[str | None]] = []
    above: dict[int, tuple[tuple, str | None]] = {}  # column -> (cell box, text) of the last real cell
    for row, cells in zip(table.rows, texts):
        middle = (row.bbox[1] + row.bbox[3]) / 2
        out: list[str | None] = []
        for j, (box, text) in enumerate(zip(row.cells, cells)):
            if box is not None:
                above[j] = (box, clean_cell(text))
                out.append(clean_cell(text))
            elif j in above and above[j][0][1] <= middle <= above[j][0][3]:
                out.append(above[j][1])  # a cell from a row above reaches down into this one
            else:
                out.append(None)
        rows.append(out)
    return rows


def _group_lines(words: list[dict], page: int) -> list[Line]:
    words = sorted(words, key=lambda w: (round(w["top"], 1), w["x0"]))
    groups: list[list[dict]] = []
    for w in words:
        if groups:
            g = groups[-1]
            tol = 0.5 * min(w["size"], g[0]["size"])
            if abs(w["top"] - g[0]["top"]) <= tol or abs(w["bottom"] - g[0]["bottom"]) <= tol:
                g.append(w)
                continue
        groups.append([w])
    return [_line(sorted(g, key=lambda w: w["x0"]), page) for g in groups]


def _line(words: list[dict], page: int) -> Line:
    weights = Counter()
    bold_chars = 0
    for w in words:
        weights[round(w["size"] * 2) / 2] += len(w["text"])
        if _BOLD.search(w.get("fontname", "")):
            bold_chars += len(w["text"])
    total = sum(weights.values()) or 1
    return Line(
        top=min(w["top"] for w in words), bottom=max(w["bottom"] for w in words),
        x0=words[0]["x0"], x1=max(w["x1"] for w in words),
        text=" ".join(w["text"] for w in words), size=weights.most_common(1)[0][0],
        bold=bold_chars >= 0.9 * total, page=page, words=words,
    ) if words else Line(0, 0, 0, 0, "", 0, False, page)


# --- running headers and footers ------------------------------------------------------------------------------


def _running_key(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def _margin(line: Line, page: _Page) -> str | None:
    if line.bottom <= page.height * MARGIN_BAND:
        return "top"
    if line.top >= page.height * (1 - MARGIN_BAND):
        return "bottom"
    return None


def _running_lines(pages: list[_Page]) -> set[tuple[int, int]]:
    """(page, line index) of lines repeated at the same place on most pages, and of page numbers in the margins."""
    where: dict[tuple[str, str], list[tuple[int, int, float]]] = defaultdict(list)
    drop: set[tuple[int, int]] = set()
    for p, page in enumerate(pages):
        for i, line in enumerate(page.lines):
            band = _margin(line, page) if line.table is None else None
            if band is None:
                continue
            if _PAGE_NUMBER.match(line.text.strip()):
                drop.add((p, i))
                continue
            where[(_running_key(line.text), band)].append((p, i, line.top if band == "top" else page.height - line.bottom))
    need = max(2, (len(pages) + 1) // 2)
    for places in where.values():
        if len({p for p, _, _ in places}) < need:
            continue
        median = statistics.median(pos for _, _, pos in places)
        same = [(p, i) for p, i, pos in places if abs(pos - median) <= 6]
        if len({p for p, _ in same}) >= need:
            drop.update(same)
    return drop


# --- columns and reading order --------------------------------------------------------------------------------


def _gutter(lines: list[Line], width: float, words_of: dict[int, list[tuple[float, float]]]) -> float | None:
    """The x position of a column gutter, or None for a single-column page."""
    if len(lines) < 3:
        return None
    step = 2.0
    bins = int(width / step) + 1
    gaps = [0] * bins
    cross = [0] * bins
    for k, line in enumerate(lines):
        spans = words_of[k]
        wide = max(10.0, 1.2 * line.size)
        for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
            if b0 - a1 >= wide:
                for b in range(int(a1 / step) + 1, int(b0 / step)):
                    gaps[b] += 1
        for a0, a1 in spans:
            for b in range(int(a0 / step) + 1, min(bins, int(a1 / step) + 1)):
                cross[b] += 1
    lo, hi = int(0.3 * width / step), int(0.7 * width / step)
    best = max(range(lo, hi + 1), key=lambda b: (gaps[b] - cross[b], -abs(b - bins / 2)), default=None)
    if best is None or gaps[best] < 3 or gaps[best] <= cross[best] or gaps[best] < 0.2 * len(lines):
        return None
    # The middle of the run of bins as good as the best one: the centre of the gutter.
    left = right = best
    while left - 1 >= lo and gaps[left - 1] >= gaps[best] and cross[left - 1] <= cross[best]:
        left -= 1
    while right + 1 <= hi and gaps[right + 1] >= gaps[best] and cross[right + 1] <= cross[best]:
        right += 1
    return (left + right + 1) / 2 * step


def _reading_order(page: _Page, body: list[Line], spans: dict[int, list[tuple[float, float]]]) -> list[Line]:
    """The page's lines in reading order, each with the stream it belongs to."""
    text_lines = [l for l in body if l.table is None]
    gutter = _gutter(text_lines, page.width, {k: spans[id(l)] for k, l in enumerate(text_lines)})
    if gutter is not None and not _prose_on_both_sides(text_lines, spans, gutter):
        gutter = None  # a borderless table (short labels and figures): read row by row, not as columns
    if gutter is None:
        for l in body:
            l.stream = 0
            if l.table is None:
                _mark_cells(l)
        return body
    out: list[Line] = []
    left: list[Line] = []
    right: list[Line] = []
    stream = 0

    def flush() -> None:
        nonlocal stream
        for part in (left, right):
            if part:
                stream += 1
                for l in part:
                    l.stream = stream
                out.extend(part)
                part.clear()

    for line in body:
        words = spans.get(id(line), [(line.x0, line.x1)])
        if any(a0 < gutter < a1 for a0, a1 in words):
            flush()
            stream += 1
            line.stream = stream
            out.append(line)
            continue
        lw = [(a0, a1) for a0, a1 in words if a1 <= gutter]
        rw = [(a0, a1) for a0, a1 in words if a0 >= gutter]
        if lw and rw:
            l_part, r_part = _split_line(line, gutter)
            left.append(l_part)
            right.append(r_part)
        elif lw:
            left.append(line)
        else:
            right.append(line)
    flush()
    return out


def _mark_cells(line: Line) -> None:
    """A line whose words stand in groups far apart is a row of a borderless table: its groups are written
    "label : value" (two groups) or separated by " ; ", and the row stays a line of its own."""
    wide = max(10.0, 1.2 * line.size)
    groups: list[list[str]] = []
    last_x1 = None
    for w in line.words:
        if last_x1 is None or w["x0"] - last_x1 >= wide:
            groups.append([])
        groups[-1].append(w["text"])
        last_x1 = w["x1"]
    if len(groups) >= 2:
        cells = [" ".join(g) for g in groups]
        line.text = " : ".join(cells) if len(cells) == 2 else " ; ".join(cells)
        line.row = True


MIN_COLUMN_WORDS = 4  # a line of a text column holds a few words at least; a table's cells often one or two


def _prose_on_both_sides(lines: list[Line], spans: dict[int, list[tuple[float, float]]], gutter: float) -> bool:
    left, right = [], []
    for line in lines:
        words = spans.get(id(line), [])
        n_left = sum(1 for a0, a1 in words if a1 <= gutter)
        n_right = sum(1 for a0, a1 in words if a0 >= gutter)
        if n_left and n_right and n_left + n_right == len(words):
            left.append(n_left)
            right.append(n_right)
    return bool(left) and min(statistics.median(left), statistics.median(right)) >= MIN_COLUMN_WORDS


def _split_line(line: Line, gutter: float) -> tuple[Line, Line]:
    lw = [w for w in line.words if w["x1"] <= gutter]
    rw = [w for w in line.words if w["x0"] >= gutter]
    return _line(lw, line.page), _line(rw, line.page)


# --- paragraphs and headings ----------------------------------------------------------------------------------


def _lay_out(pages: list[_Page], info_title: str) -> PdfLayout:
    drop = _running_lines(pages)
    dropped: list[str] = []
    body_sizes: Counter = Counter()
    ordered: list[list[Line]] = []
    without_text: list[int] = []
    for p, page in enumerate(pages):
        body = []
        for i, line in enumerate(page.lines):
            if (p, i) in drop:
                shown = _PAGE_IN_LINE.sub(lambda m: f"{m.group(1)} #" + (f"{m.group(2)}#" if m.group(2) else ""), line.text)
                shown = re.sub(r"\d+", "#", shown) if _PAGE_NUMBER.match(line.text.strip()) else shown
                key = _running_key(line.text)
                if all(_running_key(d) != key for d in dropped):
                    dropped.append(shown)
                continue
            body.append(line)
            if line.table is None:
                body_sizes[line.size] += len(line.text)
        if page.images and not any(l.text or l.table for l in page.lines):
            without_text.append(page.number)  # a picture and no text: a scan; a blank page is no loss
        spans = {id(l): [(w["x0"], w["x1"]) for w in l.words] or [(l.x0, l.x1)] for l in body}
        ordered.append(_reading_order(page, body, spans))
    if all(not lines for lines in ordered):
        raise LoadError(
            f"le PDF ({len(pages)} page(s)) ne contient aucune couche texte (document numérisé ?) : "
            "passez-le d'abord dans un outil de reconnaissance de caractères (OCR)"
        )
    body_size = body_sizes.most_common(1)[0][0] if body_sizes else 10.0
    vocab = Vocabulary([l.text for lines in ordered for l in lines if l.table is None])
    blocks: list[Block] = []
    for page, lines in zip(pages, ordered):
        if page.number in without_text:
            blocks.append(Block(f"[Page {page.number} : aucune couche texte, contenu non lu (image sans texte, "
                                f"reconnaissance de caractères nécessaire)]", page=page.number))
            continue
        blocks.extend(_paragraphs(lines, body_size, vocab, page.number))
    title = meaningful_title(info_title)
    if not title:
        title = _title_from_running(dropped) or next((b.text for b in blocks if b.heading), "")
    if not title:
        first = next((b.text for b in blocks if b.table is None), "")
        title = first if len(first) <= 120 else ""
    warnings = [f"page {n} : aucune couche texte (page image non lue ; une reconnaissance de caractères (OCR) est "
                f"nécessaire)" for n in without_text]
    return PdfLayout(blocks, len(pages), title, dropped, without_text, warnings)


def _title_from_running(dropped: list[str]) -> str:
    """A report's title printed in its running header ("Rapport annuel 2025 — Ville de Montclair · Page 3 sur 6")."""
    for line in dropped:
        text = _PAGE_WORDS.sub(" ", line).strip(" -–—|·•")
        text = re.sub(r"\s+#(?:\s*(?:sur|/)\s*#)?\s*$", "", text).strip(" -–—|·•")
        if sum(c.isalpha() for c in text) >= 8 and not _PAGE_NUMBER.match(text):
            return text
    return ""


def _is_heading(line: Line, body_size: float) -> bool:
    text = line.text.strip()
    if not text or len(text) > 150 or len(text.split()) > 16:
        return False
    if text[-1:] in ".,;" or not any(c.isalpha() for c in text):
        return False
    if line.size >= body_size * 1.15:
        return True  # numbered ones too ("2. Les règles d'intervention")
    return line.bold and line.size >= body_size * 0.95 and not _LIST_MARK.match(text)


def _paragraphs(lines: list[Line], body_size: float, vocab: Vocabulary, page: int) -> list[Block]:
    pitches = [b.top - a.top for a, b in zip(lines, lines[1:])
               if a.stream == b.stream and a.table is None and b.table is None and 0 < b.top - a.top < 3 * body_size]
    pitch = statistics.median(pitches) if pitches else body_size * 1.2
    blocks: list[Block] = []
    current: list[Line] = []
    current_heading = False

    lines_in_last = 0

    def flush() -> None:
        nonlocal lines_in_last
        if current:
            text = join_lines([l.text for l in current], vocab)
            blocks.append(Block(text, heading=current_heading, page=page))
            lines_in_last = len(current)
            current.clear()

    prev: Line | None = None
    for line in lines:
        if line.table is not None:
            flush()
            caption = ""
            if (blocks and not blocks[-1].heading and blocks[-1].table is None and prev is not None
                    and 0 <= line.top - prev.bottom <= 1.5 * pitch
                    and (looks_like_caption(blocks[-1].text) or (lines_in_last == 1 and len(blocks[-1].text) <= 120))):
                caption = blocks.pop().text  # the line right above a table names it
            block = table_block(caption, line.table[1], page)
            if block:
                blocks.append(block)
            prev = line
            continue
        heading = _is_heading(line, body_size)
        if heading and current_heading and current:
            # A heading wrapped on two lines: same size, set at its own (larger) line spacing.
            new = abs(line.size - current[-1].size) > 0.5 or line.top - prev.top > 1.6 * line.size or line.stream != prev.stream
        else:
            new = (
                not current
                or heading != current_heading
                or bool(_LIST_MARK.match(line.text))
                or looks_like_caption(line.text)
                or line.row or prev.row
                or (line.stream == prev.stream and line.top - prev.top > 1.35 * pitch)
                or (line.stream != prev.stream and (_SENTENCE_END.search(prev.text) or line.text[:1].isupper()))
            )
        if new:
            flush()
            current_heading = heading
        current.append(line)
        prev = line
    flush()
    return blocks
