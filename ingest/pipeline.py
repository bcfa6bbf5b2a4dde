"""The ingest run: files -> documents -> chunks -> embeddings -> Chroma, guided by the manifest so that a re-run only
touches what changed, and every document is indexed whole or not at all."""

from __future__ import annotations

import fcntl
import hashlib
import sqlite3
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from langchain_core.documents import Document

from ingest.chunking import chunk_document
from ingest.loaders import LoadError, UnsupportedFormat, load
from ingest.manifest import DocumentRow, FailureRow, Manifest, ManifestError, PathRow, now_iso, storable
from rag.sentences import META_KEY as SENTENCE_META_KEY
from rag.sentences import encode as encode_sentence_vectors
from rag.sentences import sentence_keys
from rag.settings import CORPUS_IGNORED_NAMES, Settings
from rag.store import Store, binding, describe_location, make_client

IGNORED_NAMES = CORPUS_IGNORED_NAMES  # the folder's own notes (rag/settings.py)

TOO_BIG = "fichier trop volumineux"
EMBED_GROUP = 256  # chunks embedded together: big enough to keep the model's batches full across small files


def ingest_fingerprint() -> str:
    """What decides the chunks written for a file besides its bytes and the collection's own settings (model, chunk
    size: a mismatch there is an error, see rag/store.py): the code that reads, cuts and splits documents into
    sentences (this package, rag/text.py, rag/sentences.py). A manifest records it; a run under another fingerprint
    writes every file again (an upgrade that reads PDFs better re-reads the PDFs already indexed)."""
    import rag.sentences
    import rag.text

    digest = hashlib.sha256()
    code = sorted(Path(__file__).parent.glob("*.py")) + [Path(rag.text.__file__), Path(rag.sentences.__file__)]
    for path in code:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class UsageError(Exception):
    """Bad command-line input (exit status 2)."""


class IngestAborted(RuntimeError):
    """The run cannot go on (storage full or read-only, index unreachable); what was committed stays usable."""


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    skipped_files: list[dict[str, str]] = field(default_factory=list)
    # Files that failed before and have not changed since: not read again (``retry_failed`` forces it).
    not_retried: list[dict[str, str]] = field(default_factory=list)
    chunks_written: int = 0
    chunks_total: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Pending:
    path: Path
    source: str
    sha256: str
    size: int
    mtime_ns: int
    previous: PathRow | None
    title: str = ""
    kind: str = ""
    pages: int | None = None
    chunks: list[Document] = field(default_factory=list)
    notes: dict = field(default_factory=dict)
    vectors: list[list[float]] = field(default_factory=list)
    # Other paths with the same content found in the same run: recorded once this one is committed.
    aliases: list[tuple[PathRow, PathRow | None]] = field(default_factory=list)


def embedding_text(doc: Document) -> str:
    """What gets embedded for a chunk: its title (and a table's caption, for every part of the table) gives the
    model the context a lone paragraph lacks."""
    text = doc.page_content
    caption = doc.metadata.get("table") or ""
    if caption and caption not in text:
        text = f"{caption}\n{text}"
    title = doc.metadata.get("title") or ""
    return f"{title}\n{text}" if title and title not in text else text


def chunk_sentences(chunks: list[Document], with_sentences: bool) -> list[list[str]]:
    """The sentences to embed for each chunk (none when sentence vectors are off)."""
    return [sentence_keys(c.page_content) if with_sentences else [] for c in chunks]


def embedding_texts(chunks: list[Document], sentences: list[list[str]]) -> list[str]:
    """The chunks' texts, then every sentence of every chunk: one call to the model keeps its batches full and lets
    it group texts of similar length."""
    return [embedding_text(c) for c in chunks] + [key for keys in sentences for key in keys]


def attach_sentence_vectors(chunks: list[Document], sentences: list[list[str]], vectors: list[list[float]]) -> list[list[float]]:
    """Store each chunk's sentence vectors (those after the chunk vectors) in its metadata; return the chunk vectors."""
    offset = len(chunks)
    for c, keys in zip(chunks, sentences):
        if keys:
            c.metadata[SENTENCE_META_KEY] = encode_sentence_vectors(vectors[offset : offset + len(keys)])
        offset += len(keys)
    return vectors[: len(chunks)]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextmanager
def ingest_lock(settings: Settings) -> Iterator[None]:
    """One ingest at a time per collection and data dir (a second run waits)."""
    lock_path = settings.data_dir / f"ingest-{settings.collection}.lock"
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        handle = lock_path.open("a")  # "a": never truncates, works on an existing lock file
    except OSError as exc:  # read-only file system, no rights, disk full: nothing written, say what to check
        raise IngestAborted(_storage_message(exc, settings)) from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Ingestor:
    def __init__(
        self,
        settings: Settings,
        embeddings=None,
        model_id: str | None = None,
        on_progress: Callable[[str, int, int], None] | None = None,
    ):
        from rag.embeddings import model_identity

        self.settings = settings
        self._embeddings = embeddings
        self.model_id = model_id or model_identity(settings)
        self.on_progress = on_progress or (lambda stage, done, total: None)

    @property
    def embeddings(self):
        """Loaded on first use: a re-run with nothing new to embed never pays for the model."""
        if self._embeddings is None:
            from rag.embeddings import load_embeddings

            self._embeddings = load_embeddings(self.settings)
        return self._embeddings

    # --- entry point ----------------------------------------------------------------------------------------
    def run(self, paths: list[Path] | None = None, rebuild: bool = False, retry_failed: bool = False) -> IngestReport:
        started = time.perf_counter()
        roots = [Path(p) for p in paths] if paths else [self.settings.corpus_dir]
        missing = [str(p) for p in roots if not p.exists()]
        if missing:
            raise UsageError("chemin introuvable : " + ", ".join(missing))
        report = IngestReport()
        self.retry_failed = retry_failed
        with ingest_lock(self.settings):
            if rebuild:
                # Neither the old collection (maybe built with another model, which is why one rebuilds) nor the
                # old manifest (maybe damaged) is opened: both are thrown away.
                store = Store(
                    make_client(self.settings), self.settings.collection, binding(self.settings, self.model_id),
                    location=describe_location(self.settings),
                )
                self.settings.manifest_path.unlink(missing_ok=True)
                for suffix in ("-wal", "-shm"):
                    Path(str(self.settings.manifest_path) + suffix).unlink(missing_ok=True)
                store.drop()
            store = Store.open(self.settings, self.model_id, create=True)
            manifest = Manifest(self.settings.manifest_path)
            try:
                sweep = self._bind(manifest, store)
                self._reconcile(manifest, store)
                files = self._scan(roots, report)
                seen = {storable(str(f.resolve())) for f, _ in files}
                todo = self._plan(files, manifest, store, report)
                self._index(todo, manifest, store, report)
                self._remove_missing(roots, seen, manifest, store, report)
                if sweep:
                    self._sweep_orphans(manifest, store)
                report.chunks_total = manifest.chunk_total()
            finally:
                manifest.close()
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    # --- steps ----------------------------------------------------------------------------------------------
    def _bind(self, manifest: Manifest, store: Store) -> bool:
        """Tie the manifest to the collection it describes. When the collection is another one (Chroma server
        switched on or off, collection deleted or rebuilt elsewhere), the manifest's record is void: forget it, so
        every file is indexed again, and return True so chunks the manifest does not know are swept at the end."""
        collection_id = str(store.collection().id)
        recorded = manifest.get_meta("collection_id")
        stale = recorded is not None and recorded != collection_id
        if recorded is None and manifest.documents() and store.count() == 0:
            stale = True  # a manifest from before the binding existed, describing an empty collection
        # Chunks written by other reading or splitting code than this one's: the files are unchanged, but what they
        # were cut into is not what this version would write, so all are written again.
        fingerprint = ingest_fingerprint()
        if manifest.get_meta("ingest_fingerprint") != fingerprint and manifest.documents():
            stale = True
        if stale:
            manifest.reset()  # its meta too
        manifest.set_meta("collection_id", collection_id)
        manifest.set_meta("ingest_fingerprint", fingerprint)
        return stale

    def _sweep_orphans(self, manifest: Manifest, store: Store) -> None:
        live = {cid for d in manifest.documents() for cid in d.chunk_ids}
        store.delete([i for i in store.ids() if i not in live])

    def _reconcile(self, manifest: Manifest, store: Store) -> None:
        """Finish what an interrupted run left: half-written documents and documents no path refers to."""
        live = {cid for d in manifest.documents() for cid in d.chunk_ids}
        for sha, ids in manifest.pending():
            store.delete([i for i in ids if i not in live])
            manifest.clear_pending(sha)
        referenced = {p.sha256 for p in manifest.paths()}
        for doc in manifest.documents():
            if doc.sha256 not in referenced:
                self._drop_document(doc, manifest, store)

    def _scan(self, roots: list[Path], report: IngestReport) -> list[tuple[Path, str]]:
        files: list[tuple[Path, str]] = []
        for root in roots:
            if root.is_file():
                files.append((root, self._source_for(root, root.parent)))
                continue
            for path in sorted(root.rglob("*")):
                rel = path.relative_to(root)
                if any(part.startswith((".", "_")) for part in rel.parts) or not path.is_file():
                    continue
                if path.name.lower() in IGNORED_NAMES or path.name.startswith("~$"):
                    continue  # the folder's own README; Word/Excel lock files of documents open in an editor
                files.append((path, self._source_for(path, root)))
        return files

    def _source_for(self, path: Path, root: Path) -> str:
        corpus = self.settings.corpus_dir.resolve()
        resolved = path.resolve()
        if resolved.is_relative_to(corpus):
            return storable(resolved.relative_to(corpus).as_posix())
        return storable(resolved.relative_to(root.resolve()).as_posix())

    def _plan(self, files: list[tuple[Path, str]], manifest: Manifest, store: Store, report: IngestReport) -> list[_Pending]:
        from ingest.loaders import SUPPORTED

        todo: list[_Pending] = []
        planned: dict[str, _Pending] = {}
        limit = int(self.settings.max_file_mb * 1024 * 1024)
        for path, source in files:
            key = storable(str(path.resolve()))
            if path.suffix.lower() not in SUPPORTED:
                report.skipped += 1
                report.skipped_files.append({"file": source, "reason": f"format non pris en charge ({path.suffix or 'sans extension'})"})
                continue
            try:
                stat = path.stat()
                failed = manifest.failure(key)
                # A file refused for its size is read again once the size limit lets it through.
                size_ok = failed is not None and failed.message.startswith(TOO_BIG) and stat.st_size <= limit
                if (failed and failed.size == stat.st_size and failed.mtime_ns == stat.st_mtime_ns and not size_ok
                        and not self.retry_failed):
                    report.not_retried.append({"file": source, "message": failed.message})
                    continue
                if stat.st_size > limit:
                    self._fail(report, source, f"{TOO_BIG} ({stat.st_size / 1e6:.1f} Mo > {self.settings.max_file_mb:g} Mo, réglage AIMF_MAX_FILE_MB)",
                               manifest, FailureRow(key, source, stat.st_size, stat.st_mtime_ns, "", ""))
                    continue
                previous = manifest.path_row(key)
                if previous and previous.size == stat.st_size and previous.mtime_ns == stat.st_mtime_ns and manifest.document(previous.sha256):
                    report.unchanged += 1
                    continue
                sha = sha256_file(path)
            except OSError as exc:  # unreadable (rights), vanished since the scan: this file fails, not the run
                self._fail(report, source, f"lecture impossible ({exc.strerror or exc})")
                continue
            row = PathRow(key, source, sha, stat.st_size, stat.st_mtime_ns)
            if previous and previous.sha256 == sha and manifest.document(sha):
                manifest.put_path(row)  # touched, not changed
                report.unchanged += 1
                continue
            existing = manifest.document(sha)
            if existing is not None:
                # Same content already indexed under another path: record this path, embed nothing.
                manifest.put_path(row)
                self._count_alias(report, source, existing.source, previous)
                if previous:
                    self._release(previous.sha256, manifest, store, old_path=previous)
                continue
            if sha in planned:
                # Same content as a file met earlier in this run: indexed once, this path recorded with it.
                planned[sha].aliases.append((row, previous))
                continue
            item = _Pending(path, source, sha, stat.st_size, stat.st_mtime_ns, previous)
            planned[sha] = item
            todo.append(item)
        return todo

    @staticmethod
    def _count_alias(report: IngestReport, source: str, original: str, previous: PathRow | None) -> None:
        if previous is not None:
            report.updated += 1
        else:
            report.added += 1
        report.warnings.append({"file": source, "message": f"contenu identique à {original} (indexé une seule fois)"})

    def _index(self, todo: list[_Pending], manifest: Manifest, store: Store, report: IngestReport) -> None:
        done = 0
        self.on_progress("files", 0, len(todo))
        group: list[_Pending] = []
        group_chunks = 0
        for item in todo:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    doc = load(item.path)
            except UnsupportedFormat as exc:
                for source in [item.source] + [a.source for a, _ in item.aliases]:
                    report.skipped += 1
                    report.skipped_files.append({"file": source, "reason": str(exc)})
                done += 1
                continue
            except LoadError as exc:
                self._fail_item(report, manifest, item, str(exc))
                done += 1
                continue
            except Exception as exc:  # a loader bug must not stop the other files
                self._fail_item(report, manifest, item, f"erreur inattendue à la lecture : {type(exc).__name__}: {exc}")
                done += 1
                continue
            # Libraries' own warnings ("EOF marker not found"…) are reported with the file they are about.
            doc.warnings.extend(m for m in dict.fromkeys(str(w.message) for w in caught) if m not in doc.warnings)
            for w in doc.warnings:
                report.warnings.append({"file": item.source, "message": w})
            item.title, item.kind, item.pages = doc.title, doc.kind, doc.pages
            item.notes = {k: v for k, v in (("warnings", doc.warnings), ("dropped", doc.dropped),
                                            ("pages_without_text", doc.pages_without_text)) if v}
            item.chunks = chunk_document(doc, item.source, item.sha256, self.settings.chunk_size, self.settings.chunk_overlap)
            group.append(item)
            group_chunks += len(item.chunks)
            if group_chunks >= EMBED_GROUP:
                done = self._flush(group, manifest, store, report, done, len(todo))
                group, group_chunks = [], 0
        if group:
            done = self._flush(group, manifest, store, report, done, len(todo))
        self.on_progress("files", len(todo), len(todo))

    def _flush(self, group: list[_Pending], manifest: Manifest, store: Store, report: IngestReport, done: int, total: int) -> int:
        chunks = [c for item in group for c in item.chunks]
        t0 = time.perf_counter()
        sentences = chunk_sentences(chunks, self.settings.sentence_vectors)
        vectors = attach_sentence_vectors(chunks, sentences, self._embed(embedding_texts(chunks, sentences)))
        report.embed_seconds += time.perf_counter() - t0
        offset = 0
        for item in group:
            item.vectors = vectors[offset : offset + len(item.chunks)]
            offset += len(item.chunks)
        self._commit(group, manifest, store, report)
        done += len(group)
        self.on_progress("files", done, total)
        return done

    def _embed(self, texts: list[str]) -> list[list[float]]:
        """Texts go to the model shortest first, so each batch holds texts of similar length (little padding:
        chunks and their sentences differ tenfold); vectors come back in the callers' order."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float]] = [[] for _ in texts]
        step = self.settings.embedding_batch_size * 4
        for i in range(0, len(order), step):
            part = order[i : i + step]
            for j, vector in zip(part, self.embeddings.embed_documents([texts[j] for j in part])):
                out[j] = vector
            self.on_progress("chunks", min(i + step, len(texts)), len(texts))
        return out

    def _commit(self, group: list[_Pending], manifest: Manifest, store: Store, report: IngestReport) -> None:
        """One Chroma write for the whole group (each call costs ~25 ms on its own), each document still whole
        or absent: its chunk ids are logged as pending first, and the next run removes what was not committed."""
        try:
            for item in group:
                manifest.begin_document(item.sha256, [c.id for c in item.chunks])
            store.upsert([c for item in group for c in item.chunks], [v for item in group for v in item.vectors])
            for item in group:
                manifest.commit_document(
                    DocumentRow(item.sha256, item.source, item.title, item.kind, item.pages, [c.id for c in item.chunks],
                                item.size, now_iso()),
                    PathRow(storable(str(item.path.resolve())), item.source, item.sha256, item.size, item.mtime_ns),
                    item.notes,
                )
        except (OSError, sqlite3.OperationalError) as exc:
            raise IngestAborted(_storage_message(exc, self.settings)) from exc
        except Exception as exc:
            if _storage_problem(exc):
                raise IngestAborted(_storage_message(exc, self.settings)) from exc
            raise
        for item in group:
            self._committed(item, manifest, store, report)

    def _committed(self, item: _Pending, manifest: Manifest, store: Store, report: IngestReport) -> None:
        """Count the document and let go of what it replaces."""
        ids = [c.id for c in item.chunks]
        report.chunks_written += len(ids)
        if item.previous is not None:
            report.updated += 1
            self._release(item.previous.sha256, manifest, store, keep=set(ids), old_path=item.previous)
        else:
            report.added += 1
        for alias, previous in item.aliases:
            manifest.put_path(alias)
            self._count_alias(report, alias.source, item.source, previous)
            if previous is not None:
                self._release(previous.sha256, manifest, store, keep=set(ids), old_path=previous)

    def _release(
        self, sha256: str, manifest: Manifest, store: Store, keep: set[str] | None = None, old_path: PathRow | None = None
    ) -> None:
        """A path no longer holds this content: forget the content when no path refers to it any more, else make
        sure its chunks name a path that still holds it."""
        doc = manifest.document(sha256)
        if doc is None:
            return
        holders = [p for p in manifest.paths() if p.sha256 == sha256]
        if not holders:
            self._drop_document(doc, manifest, store, keep or set())
        elif old_path is not None and doc.source == old_path.source and all(p.source != doc.source for p in holders):
            self._rehome(doc, holders[0].source, manifest, store)

    @staticmethod
    def _rehome(doc: DocumentRow, source: str, manifest: Manifest, store: Store) -> None:
        """Point a document's chunks at another path holding the same content (the one they named is gone)."""
        for i in range(0, len(doc.chunk_ids), 1000):
            part = doc.chunk_ids[i : i + 1000]
            store.collection().update(ids=part, metadatas=[{"source": source}] * len(part))
        manifest.set_source(doc.sha256, source)

    def _drop_document(self, doc: DocumentRow, manifest: Manifest, store: Store, keep: set[str] | None = None) -> None:
        live = {cid for d in manifest.documents() if d.sha256 != doc.sha256 for cid in d.chunk_ids} | (keep or set())
        store.delete([i for i in doc.chunk_ids if i not in live])
        manifest.forget_document(doc.sha256)

    def _remove_missing(self, roots: list[Path], seen: set[str], manifest: Manifest, store: Store, report: IngestReport) -> None:
        dirs = [Path(storable(str(r.resolve()))) for r in roots if r.is_dir()]
        for row in manifest.failures():
            if row.path not in seen and any(Path(row.path).is_relative_to(d) for d in dirs):
                manifest.forget_failure(row.path)
        for row in manifest.paths():
            if row.path in seen or not any(Path(row.path).is_relative_to(d) for d in dirs):
                continue
            manifest.forget_path(row.path)
            self._release(row.sha256, manifest, store, old_path=row)
            report.removed += 1

    def _fail_item(self, report: IngestReport, manifest: Manifest, item: _Pending, message: str) -> None:
        self._fail(report, item.source, message, manifest,
                   FailureRow(storable(str(item.path.resolve())), item.source, item.size, item.mtime_ns, "", ""))
        for alias, _ in item.aliases:
            self._fail(report, alias.source, message, manifest,
                       FailureRow(alias.path, alias.source, alias.size, alias.mtime_ns, "", ""))

    @staticmethod
    def _fail(report: IngestReport, source: str, message: str, manifest: Manifest | None = None,
              row: FailureRow | None = None) -> None:
        """Count the failure; with ``row``, remember it, so the unchanged file is not read again on the next run."""
        report.failed += 1
        report.errors.append({"file": source, "message": message})
        if manifest is not None and row is not None:
            manifest.put_failure(FailureRow(row.path, row.source, row.size, row.mtime_ns, message, now_iso()))


def _storage_problem(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(s in text for s in ("disk", "space", "read-only", "readonly", "no space", "permission"))


def _storage_message(exc: Exception, settings: Settings) -> str:
    return (
        f"Écriture impossible dans l'index ({exc}). Vérifiez l'espace disque et les droits sur "
        f"{settings.data_dir} ; l'index existant reste utilisable et la prochaine indexation reprendra le travail."
    )


__all__ = ["Ingestor", "IngestReport", "UsageError", "IngestAborted", "ManifestError", "embedding_text", "sha256_file"]
