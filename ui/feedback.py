"""Thumbs up / down and comments left under answers, kept in SQLite in the data dir (``settings.feedback_path``).

Each row keeps what an evaluator needs to turn it into a test question: the question, the answer, its citations
(JSON), the writer, and when. One connection per call, so the store is safe from the server's worker threads.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
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


class FeedbackStore:
    def __init__(self, path: Path):
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(self.path), timeout=30)
        db.row_factory = sqlite3.Row
        db.executescript(SCHEMA)
        return db

    def record(self, vote: str, record: dict[str, Any], comment: str = "") -> int:
        """Store a vote about one answer (``record``: the turn the UI keeps); returns the row id."""
        if vote not in VOTES:
            raise ValueError(f"vote must be one of {sorted(VOTES)}")
        now = _now()
        citations = [
            {k: c.get(k) for k in ("n", "source", "title", "page", "quote", "start", "end", "score", "relevance", "chunk_id")}
            for c in record.get("citations") or []
        ]
        with closing(self._connect()) as db, db:
            cur = db.execute(
                "INSERT INTO feedback (created_at, updated_at, vote, comment, question, standalone_question, answer,"
                " abstained, citations, generator, lang) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (now, now, vote, comment.strip(), record.get("question", ""), record.get("standalone_question", ""),
                 record.get("text", ""), int(bool(record.get("abstained"))), json.dumps(citations, ensure_ascii=False),
                 record.get("generator", ""), record.get("lang", "")),
            )
            return int(cur.lastrowid)

    def update(self, row_id: int, vote: str | None = None, comment: str | None = None) -> bool:
        if vote is not None and vote not in VOTES:
            raise ValueError(f"vote must be one of {sorted(VOTES)}")
        with closing(self._connect()) as db, db:
            cur = db.execute(
                "UPDATE feedback SET vote=COALESCE(?, vote), comment=COALESCE(?, comment), updated_at=? WHERE id=?",
                (vote, comment.strip() if comment is not None else None, _now(), row_id),
            )
            return cur.rowcount == 1

    def delete(self, row_id: int) -> None:
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM feedback WHERE id=?", (row_id,))

    def rows(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with closing(self._connect()) as db:
            out = []
            for row in db.execute(f"SELECT {', '.join(COLUMNS)} FROM feedback ORDER BY id"):
                item = dict(row)
                item["abstained"] = bool(item["abstained"])
                item["citations"] = json.loads(item["citations"] or "[]")
                out.append(item)
            return out


def export_lines(rows: list[dict[str, Any]], fmt: str) -> Iterator[str]:
    """JSON lines (citations as a list) or CSV (citations as a JSON string), header first."""
    if fmt == "jsonl":
        for row in rows:
            yield json.dumps(row, ensure_ascii=False) + "\n"
        return
    if fmt != "csv":
        raise ValueError("format must be jsonl or csv")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow({**row, "citations": json.dumps(row["citations"], ensure_ascii=False)})
        yield buffer.getvalue()
