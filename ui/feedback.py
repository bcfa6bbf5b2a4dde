"""Thumbs up / down and comments left under answers, kept in SQLite in the data dir (``settings.feedback_path``).

Each row keeps what an evaluator needs to turn it into a test question: the question, the answer, its citations
(JSON), the writer, and when. Whatever ``AIMF_LOG_TEXT`` says (it is about logs), feedback stores the question text:
that is its purpose, and the README says so. Rows older than the retention (``AIMF_FEEDBACK_RETENTION_DAYS``) are
deleted each time the store is written or read. One connection per call, so the store is safe from the server's
worker threads.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    vote TEXT NOT NULL,              -- 'up' or 'down'
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    standalone_question TEXT NOT NULL DEFAULT '',
    answer TEXT NOT NULL,
    abstained INTEGER NOT NULL DEFAULT 0,
    citations TEXT NOT NULL DEFAULT '[]',
    generator TEXT NOT NULL DEFAULT '',
    lang TEXT NOT NULL DEFAULT ''
);
"""
COLUMNS = ["id", "created_at", "updated_at", "vote", "comment", "question", "standalone_question", "answer",
           "abstained", "citations", "generator", "lang"]
VOTES = {"up", "down"}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): the export prefixes it with
# an apostrophe, which spreadsheets show as text, and ``evals.feedback`` removes again when it reads the CSV back.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CommentTooLong(ValueError):
    """A comment beyond the configured length; the UI says so instead of cutting it."""


class FeedbackStore:
    def __init__(self, path: Path, retention_days: int = 0, max_comment_chars: int | None = None):
        self.path = Path(path)
        self.retention_days = retention_days  # 0: rows are kept until deleted
        self.max_comment_chars = max_comment_chars

    @classmethod
    def from_settings(cls, settings) -> "FeedbackStore":
        return cls(settings.feedback_path, settings.feedback_retention_days, settings.feedback_max_comment_chars)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(self.path), timeout=30)
        db.row_factory = sqlite3.Row
        db.executescript(SCHEMA)
        return db

    def _comment(self, comment: str) -> str:
        comment = comment.strip()
        if self.max_comment_chars is not None and len(comment) > self.max_comment_chars:
            raise CommentTooLong(f"{len(comment)} > {self.max_comment_chars}")
        return comment

    def purge(self) -> int:
        """Delete rows last changed before the retention period; returns how many."""
        if not self.retention_days or not self.path.exists():
            return 0
        cutoff = (datetime.now(timezone.utc) - timedelta(days=self.retention_days)).isoformat(timespec="seconds")
        with closing(self._connect()) as db, db:
            return db.execute("DELETE FROM feedback WHERE updated_at < ?", (cutoff,)).rowcount

    def record(self, vote: str, record: dict[str, Any], comment: str = "") -> int:
        """Store a vote about one answer (``record``: the turn the UI keeps); returns the row id."""
        if vote not in VOTES:
            raise ValueError(f"vote must be one of {sorted(VOTES)}")
        comment = self._comment(comment)
        self.purge()
        now = _now()
        citations = [
            {k: c.get(k) for k in ("n", "source", "title", "page", "quote", "start", "end", "score", "relevance", "chunk_id")}
            for c in record.get("citations") or []
        ]
        with closing(self._connect()) as db, db:
            cur = db.execute(
                "INSERT INTO feedback (created_at, updated_at, vote, comment, question, standalone_question, answer,"
                " abstained, citations, generator, lang) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (now, now, vote, comment, record.get("question", ""), record.get("standalone_question", ""),
                 record.get("text", ""), int(bool(record.get("abstained"))), json.dumps(citations, ensure_ascii=False),
                 record.get("generator", ""), record.get("lang", "")),
            )
            return int(cur.lastrowid)

    def update(self, row_id: int, vote: str | None = None, comment: str | None = None) -> bool:
        if vote is not None and vote not in VOTES:
            raise ValueError(f"vote must be one of {sorted(VOTES)}")
        comment = self._comment(comment) if comment is not None else None
        with closing(self._connect()) as db, db:
            cur = db.execute(
                "UPDATE feedback SET vote=COALESCE(?, vote), comment=COALESCE(?, comment), updated_at=? WHERE id=?",
                (vote, comment, _now(), row_id),
            )
            return cur.rowcount == 1

    def delete(self, row_id: int) -> None:
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM feedback WHERE id=?", (row_id,))

    def rows(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        self.purge()
        with closing(self._connect()) as db:
            out = []
            for row in db.execute(f"SELECT {', '.join(COLUMNS)} FROM feedback ORDER BY id"):
                item = dict(row)
                item["abstained"] = bool(item["abstained"])
                item["citations"] = json.loads(item["citations"] or "[]")
                out.append(item)
            return out


def csv_cell(value: Any) -> Any:
    """A value a spreadsheet shows as text: a string that starts like a formula gets a leading apostrophe (and one
    that starts with an apostrophe gets another, so that reading back is exact)."""
    return "'" + value if isinstance(value, str) and value.startswith((*FORMULA_START, "'")) else value


def export_lines(rows: list[dict[str, Any]], fmt: str) -> Iterator[str]:
    """JSON lines (citations as a list) or CSV (citations as a JSON string, formula-like cells neutralised), header
    first."""
    if fmt == "jsonl":
        for row in rows:
            yield json.dumps(row, ensure_ascii=False) + "\n"
        return
    if fmt != "csv":
        raise ValueError("format must be jsonl or csv")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")  # RFC 4180: cells holding CR are quoted
    writer.writeheader()
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        cells = {**row, "citations": json.dumps(row["citations"], ensure_ascii=False)}
        writer.writerow({k: csv_cell(v) for k, v in cells.items()})
        yield buffer.getvalue()
