"""The "Documents" tab: what is indexed, and uploads that go through the same ingest pipeline as `aimf ingest`."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

from ui.i18n import t

UPLOAD_DIR = "uploads"  # under the corpus folder, so uploads are part of the corpus a later `aimf ingest` sees


class UploadError(ValueError):
    """An upload refused before ingest; the message is for the user."""


def supported_types() -> list[str]:
    from ingest.loaders import SUPPORTED

    return sorted(SUPPORTED)


def indexed_dates(manifest_path: Path) -> dict[str, str]:
    """source -> when it was indexed, read from the ingest manifest (read-only: the UI never writes it)."""
    if not manifest_path.exists():
        return {}
    try:
        with closing(sqlite3.connect(f"file:{manifest_path}?mode=ro", uri=True, timeout=5)) as db:
            return {s: d for s, d in db.execute("SELECT source, indexed_at FROM documents")}
    except sqlite3.Error:
        return {}


def document_notes(manifest_path: Path) -> dict[str, list[str]]:
    """source -> what the ingest could not read in it ("page 2 : aucune couche texte"), from the manifest."""
    if not manifest_path.exists():
        return {}
    try:
        with closing(sqlite3.connect(f"file:{manifest_path}?mode=ro", uri=True, timeout=5)) as db:
            rows = db.execute("SELECT d.source, n.notes FROM notes n JOIN documents d ON d.sha256 = n.sha256").fetchall()
    except sqlite3.Error:  # a manifest from before notes were kept: nothing to show
        return {}
    out = {}
    for source, notes in rows:
        try:
            out[source] = list(json.loads(notes).get("warnings", []))
        except (ValueError, AttributeError):
            continue
    return out


def _fmt_date(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return iso or ""


def document_rows(docs: list[dict[str, Any]], manifest_path: Path) -> list[list[Any]]:
    """Rows for the table: title, type, pages, passages, date indexed, file."""
    dates = indexed_dates(manifest_path)
    notes = document_notes(manifest_path)
    return [
        [(d.get("title") or d["source"]) + "".join(f" ⚠️ {w}" for w in notes.get(d["source"], [])),
         (d.get("kind") or "").upper(), d.get("pages") or "—", d.get("chunks", 0),
         _fmt_date(d.get("indexed_at") or dates.get(d["source"], "")), d["source"]]
        for d in docs
    ]


def safe_name(name: str) -> str:
    """A file name that cannot climb out of the upload folder nor hide (no leading dot or underscore)."""
    base = Path(name).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    stem = re.sub(r"[^\w.-]+", "-", stem, flags=re.UNICODE).strip(".-_") or "document"
    return f"{stem[:120]}{suffix}"


def accept_upload(path: str | Path, original_name: str, corpus_dir: Path, max_mb: float, lang: str) -> Path:
    """Check type and size, then copy the upload into ``corpus_dir/uploads/`` under a free name."""
    src = Path(path)
    suffix = Path(original_name).suffix.lower()
    types = supported_types()
    if suffix not in types:
        raise UploadError(t("upload_type", lang, ext=suffix or "?", types=", ".join(types)))
    size_mb = src.stat().st_size / (1024 * 1024)
    if size_mb > max_mb:
        raise UploadError(t("upload_size", lang, size=size_mb, mb=max_mb))
    folder = corpus_dir / UPLOAD_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = safe_name(original_name)
    with src.open("rb") as data:
        dest, out = _create_exclusive(folder, Path(name).stem, suffix)
        try:
            with out:
                shutil.copyfileobj(data, out)
        except BaseException:
            dest.unlink(missing_ok=True)  # ours: created above, no one else's
            raise
    return dest


def _create_exclusive(folder: Path, stem: str, suffix: str):
    """A new file under a free name, created atomically (O_EXCL): two uploads of the same name never share a file,
    so the one whose ingest fails removes only its own copy."""
    n = 1
    while True:
        dest = folder / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        try:
            return dest, dest.open("xb")
        except FileExistsError:
            n += 1


def ingest_upload(dest: Path, settings, assistant, lang: str) -> tuple[bool, str]:
    """Index one uploaded file with the shared model; a file that fails is removed again so that later runs of
    `aimf ingest` do not trip on it. Returns (ok, message)."""
    from ingest.pipeline import Ingestor

    name = dest.name
    try:
        report = Ingestor(settings, embeddings=assistant.embeddings, model_id=assistant.model_id).run([dest])
    except Exception as exc:  # storage full, index unreachable…: the pipeline's messages are in French already
        dest.unlink(missing_ok=True)
        return False, t("upload_failed", lang, name=name, reason=str(exc))
    if report.failed or report.skipped:
        dest.unlink(missing_ok=True)
        reasons = [e["message"] for e in report.errors] + [s["reason"] for s in report.skipped_files]
        return False, t("upload_failed", lang, name=name, reason="; ".join(reasons) or "?")
    assistant.reset()  # the lexical index is rebuilt on the next question, with the new document in it
    if report.chunks_written:
        return True, t("upload_ok", lang, name=name, chunks=report.chunks_written)
    return True, t("upload_same", lang, name=name)
