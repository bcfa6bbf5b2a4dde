"""The manifest: which file (path, size, mtime) holds which content (sha256) and which chunk ids that content
was written as. SQLite, one file per collection, in the data dir.

``pending`` is an intent log: chunk ids are recorded there before they are written to Chroma and removed when the
document is committed, so chunks of a document interrupted half-way are found and deleted on the next run.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from rag.store import REBUILD_HINT

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    sha256 TEXT PRIMARY KEY, source TEXT NOT NULL, title TEXT, kind TEXT, pages INTEGER,
    chunk_ids TEXT NOT NULL, size INTEGER, indexed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS paths (
    path TEXT PRIMARY KEY, source TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER, mtime_ns INTEGER
);
CREATE TABLE IF NOT EXISTS pending (sha256 TEXT PRIMARY KEY, chunk_ids TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notes (sha256 TEXT PRIMARY KEY, notes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS failures (
    path TEXT PRIMARY KEY, source TEXT NOT NULL, size INTEGER, mtime_ns INTEGER, message TEXT NOT NULL,
    failed_at TEXT NOT NULL
);
"""


class ManifestError(RuntimeError):
    pass


def storable(name: str) -> str:
    """A file name as text SQLite and Chroma accept. Names that are not valid UTF-8 reach Python with lone
    surrogates (one per undecodable byte); their bytes are written as \\xNN escapes, one name for one file."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class FailureRow:
    path: str
    source: str
    size: int
    mtime_ns: int
    message: str
    failed_at: str


@dataclass(frozen=True)
class DocumentRow:
    sha256: str
    source: str
    title: str
    kind: str
    pages: int | None
    chunk_ids: list[str]
    size: int
    indexed_at: str


@dataclass(frozen=True)
class PathRow:
    path: str
    source: str
    sha256: str
    size: int
    mtime_ns: int


class Manifest:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
            # A damaged page deep in the file only shows when it is read: check them all now (milliseconds for
            # thousands of documents) rather than fail half-way through a run with a raw SQLite error.
            problems = [r[0] for r in self.db.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(problems))
            self.db.execute("SELECT count(*) FROM documents").fetchone()
        except sqlite3.DatabaseError as exc:
            if getattr(self, "db", None) is not None:
                self.db.close()
            damaged = not isinstance(exc, sqlite3.OperationalError) or any(
                s in str(exc) for s in ("malformed", "not a database")
            )
            if damaged:
                raise ManifestError(f"Manifeste d'indexation endommagé ({path} : {exc}). {REBUILD_HINT}") from exc
            # Locked, read-only, disk full: the manifest is fine, rebuilding would not help.
            raise ManifestError(
                f"Manifeste d'indexation inaccessible ({path} : {exc}). Vérifiez l'espace disque et les droits "
                f"d'écriture sur {path.parent} ; s'il est verrouillé, une autre indexation est peut-être en cours."
            ) from exc

    def close(self) -> None:
        self.db.close()

    # --- meta -------------------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # --- reads ------------------------------------------------------------------------------------------------
    def path_row(self, path: str) -> PathRow | None:
        row = self.db.execute("SELECT path, source, sha256, size, mtime_ns FROM paths WHERE path=?", (path,)).fetchone()
        return PathRow(*row) if row else None

    def paths(self) -> list[PathRow]:
        return [PathRow(*r) for r in self.db.execute("SELECT path, source, sha256, size, mtime_ns FROM paths")]

    def document(self, sha256: str) -> DocumentRow | None:
        row = self.db.execute(
            "SELECT sha256, source, title, kind, pages, chunk_ids, size, indexed_at FROM documents WHERE sha256=?",
            (sha256,),
        ).fetchone()
        return _doc(row) if row else None

    def documents(self) -> list[DocumentRow]:
        rows = self.db.execute(
            "SELECT sha256, source, title, kind, pages, chunk_ids, size, indexed_at FROM documents ORDER BY source"
        )
        return [_doc(r) for r in rows]

    def sources_of(self, sha256: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT source FROM paths WHERE sha256=? ORDER BY source", (sha256,))]

    def chunk_total(self) -> int:
        return sum(len(d.chunk_ids) for d in self.documents())

    def notes(self, sha256: str) -> dict:
        row = self.db.execute("SELECT notes FROM notes WHERE sha256=?", (sha256,)).fetchone()
        return json.loads(row[0]) if row else {}

    def all_notes(self) -> dict[str, dict]:
        """source -> notes (warnings, dropped running headers and footers, pages without text)."""
        rows = self.db.execute("SELECT d.source, n.notes FROM notes n JOIN documents d ON d.sha256 = n.sha256")
        return {source: json.loads(notes) for source, notes in rows}

    def failure(self, path: str) -> FailureRow | None:
        row = self.db.execute(
            "SELECT path, source, size, mtime_ns, message, failed_at FROM failures WHERE path=?", (path,)
        ).fetchone()
        return FailureRow(*row) if row else None

    def failures(self) -> list[FailureRow]:
        return [FailureRow(*r) for r in self.db.execute(
            "SELECT path, source, size, mtime_ns, message, failed_at FROM failures ORDER BY source")]

    def pending(self) -> list[tuple[str, list[str]]]:
        return [(s, json.loads(ids)) for s, ids in self.db.execute("SELECT sha256, chunk_ids FROM pending")]

    # --- writes -----------------------------------------------------------------------------------------------
    def begin_document(self, sha256: str, chunk_ids: list[str]) -> None:
        self.db.execute("INSERT OR REPLACE INTO pending VALUES (?, ?)", (sha256, json.dumps(chunk_ids)))

    def put_failure(self, row: FailureRow) -> None:
        self.db.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?, ?)",
                        (row.path, row.source, row.size, row.mtime_ns, row.message, row.failed_at))

    def forget_failure(self, path: str) -> None:
        self.db.execute("DELETE FROM failures WHERE path=?", (path,))

    def commit_document(self, row: DocumentRow, path: PathRow, notes: dict | None = None) -> None:
        with self._tx():
            if notes:
                self.db.execute("INSERT OR REPLACE INTO notes VALUES (?, ?)", (row.sha256, json.dumps(notes, ensure_ascii=False)))
            else:
                self.db.execute("DELETE FROM notes WHERE sha256=?", (row.sha256,))
            self.db.execute("DELETE FROM failures WHERE path=?", (path.path,))
            self.db.execute(
                "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (row.sha256, row.source, row.title, row.kind, row.pages, json.dumps(row.chunk_ids), row.size,
                 row.indexed_at),
            )
            self._put_path(path)
            self.db.execute("DELETE FROM pending WHERE sha256=?", (row.sha256,))

    def put_path(self, path: PathRow) -> None:
        self._put_path(path)

    def forget_path(self, path: str) -> None:
        self.db.execute("DELETE FROM paths WHERE path=?", (path,))

    def forget_document(self, sha256: str) -> None:
        with self._tx():
            self.db.execute("DELETE FROM documents WHERE sha256=?", (sha256,))
            self.db.execute("DELETE FROM pending WHERE sha256=?", (sha256,))
            self.db.execute("DELETE FROM notes WHERE sha256=?", (sha256,))

    def set_source(self, sha256: str, source: str) -> None:
        self.db.execute("UPDATE documents SET source=? WHERE sha256=?", (source, sha256))

    def reset(self) -> None:
        """Forget every document and path (the collection they described is not the one in use)."""
        with self._tx():
            for table in ("documents", "paths", "pending", "meta", "notes", "failures"):
                self.db.execute(f"DELETE FROM {table}")

    def clear_pending(self, sha256: str) -> None:
        self.db.execute("DELETE FROM pending WHERE sha256=?", (sha256,))

    def _put_path(self, p: PathRow) -> None:
        self.db.execute("INSERT OR REPLACE INTO paths VALUES (?, ?, ?, ?, ?)", (p.path, p.source, p.sha256, p.size, p.mtime_ns))

    def _tx(self):
        db = self.db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *_):
                db.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Tx()


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _doc(row: tuple) -> DocumentRow:
    sha, source, title, kind, pages, ids, size, at = row
    return DocumentRow(sha, source, title or "", kind or "", pages, json.loads(ids), size or 0, at)
