"""The Chroma collection: embedded (``PersistentClient``) or a server (``HttpClient``), bound to one embedding model
and one chunking configuration."""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import numpy as np
from langchain_core.documents import Document

from rag.sentences import META_KEY, decode, strip
from rag.settings import Settings

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

# Bumped when chunk boundaries or metadata change meaning: a collection built by another version is rebuilt.
CHUNKER_VERSION = "2"  # 2: chunks no longer span a page break
REBUILD_HINT = "Relancez l'indexation complète : aimf ingest --rebuild"


class IndexMismatchError(RuntimeError):
    """The collection was built with another embedding model or chunking configuration."""


class IndexUnavailableError(RuntimeError):
    """Chroma (usually the server) cannot be reached."""


class IndexMissingError(RuntimeError):
    """No collection yet: nothing has been indexed."""


class IndexStorageError(IndexUnavailableError):
    """The embedded index's folder cannot be opened for writing (disk full, read-only, no rights): a subclass of
    ``IndexUnavailableError``, with a message that says what to check instead of "cannot reach"."""


class IndexDamagedError(IndexMismatchError):
    """The index's manifest is unreadable: the index must be rebuilt (a subclass, so callers that handle a mismatch
    handle this too)."""


# Chroma's HTTP client waits forever by default (httpx timeout=None): a server that accepts connections and never
# answers would hang every question. Seconds; module constants so that tests can shorten them.
CONNECT_TIMEOUT = 3.0
HTTP_TIMEOUT = 30.0  # per read/write: an upsert of 1,000 chunks or a page of 5,000 takes a few seconds at most
SQLITE_MAGIC = b"SQLite format 3\x00"


def binding(settings: Settings, model_id: str) -> dict[str, Any]:
    """What a collection records about how it was built; every key must match to reuse it."""
    return {
        "embedding_model": model_id,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "chunker_version": CHUNKER_VERSION,
    }


def describe_location(settings: Settings) -> str:
    return settings.chroma_url or str(settings.chroma_dir)


def unavailable(location: str, exc: BaseException) -> IndexUnavailableError:
    """The one message for "Chroma cannot be reached", naming where it was looked for."""
    detail = str(exc).strip() or type(exc).__name__
    return IndexUnavailableError(f"Index indisponible : impossible de joindre Chroma à {location} ({detail}).")


def make_client(settings: Settings):
    """A Chroma client for these settings; raises ``IndexUnavailableError`` when the server is down."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if settings.chroma_url:
            url = urlparse(settings.chroma_url if "//" in settings.chroma_url else f"http://{settings.chroma_url}")
            host, ssl = url.hostname or "127.0.0.1", url.scheme == "https"
            port = url.port or (443 if ssl else 8000)
            # Bounded probe first: building the client already talks to the server, with no timeout at all.
            _probe(f"{'https' if ssl else 'http'}://{host}:{port}")
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings)
            _bound_timeouts(client)
            client.heartbeat()
            return client
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
    except Exception as exc:  # chromadb raises several unrelated types for "cannot connect"
        if not settings.chroma_url:
            _forget_embedded(str(settings.chroma_dir))
        if not settings.chroma_url and is_storage_error(exc):
            # Embedded Chroma writes to its folder when it opens: a full or read-only disk stops it there.
            raise IndexStorageError(
                f"Index inaccessible : Chroma ne peut pas écrire dans {settings.chroma_dir} ({exc}). Vérifiez "
                f"l'espace disque libre et les droits d'écriture sur {settings.data_dir} (dossier de données "
                "AIMF_DATA_DIR) ; l'index n'a pas été modifié."
            ) from exc
        raise unavailable(describe_location(settings), exc) from exc


def _forget_embedded(path: str) -> None:
    """Chroma caches one System per folder and keeps it even when it failed to start (disk full, read-only): every
    later client in this process would get the broken one. Drop it, so the next question opens the folder afresh."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        system = SharedSystemClient._identifier_to_system.pop(path, None)
        SharedSystemClient._identifier_to_refcount.pop(path, None)
        if system is not None:
            try:
                system.stop()
            except Exception:  # noqa: BLE001 - it never started
                pass
    except Exception:  # noqa: BLE001 - chromadb internals moved: nothing to forget
        pass


def is_storage_error(exc: BaseException) -> bool:
    """Disk full, read-only file system or missing rights, from the OS, SQLite or Chroma's own messages."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return any(s in text for s in ("disk is full", "no space left", "readonly database", "read-only file system",
                                   "permission denied", "quota exceeded"))


def _probe(base: str) -> None:
    import httpx

    try:
        httpx.get(f"{base}/api/v2/heartbeat", timeout=httpx.Timeout(HTTP_TIMEOUT, connect=CONNECT_TIMEOUT)).raise_for_status()
    except httpx.TimeoutException as exc:
        raise TimeoutError("le serveur ne répond pas (délai dépassé)") from exc
    except httpx.ConnectError as exc:
        raise ConnectionError("connexion refusée") from exc


def _bound_timeouts(client) -> None:
    """Give Chroma's HTTP session (shared by every client of this URL in the process) finite timeouts."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(HTTP_TIMEOUT, connect=CONNECT_TIMEOUT)


def check_manifest(settings: Settings) -> None:
    """Raise ``IndexDamagedError`` when the index's manifest exists but is not a readable SQLite database. Reads
    only: nothing is created or changed (a missing manifest is fine: a UI on another machine than the ingest has
    none)."""
    import sqlite3

    path = settings.manifest_path
    if not path.exists():
        return
    problem = None
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
        if head and head != SQLITE_MAGIC:  # an empty file is an empty database: the next ingest fills it
            problem = "ce n'est pas une base SQLite"
        elif head:
            # Not mode=ro: a read-only connection to a WAL database leaves -wal/-shm files behind; a plain one that
            # only reads removes them on close, so the folder is left as it was.
            db = sqlite3.connect(str(path), timeout=30)
            try:
                db.execute("SELECT count(*) FROM documents").fetchone()
            finally:
                db.close()
    except sqlite3.OperationalError:
        return  # locked by a running ingest, a read-only data dir, tables not created yet: not a sign of damage
    except (sqlite3.DatabaseError, OSError) as exc:  # "file is not a database", "disk image is malformed"
        problem = str(exc)
    if problem:
        raise IndexDamagedError(f"Manifeste d'indexation endommagé ({path} : {problem}). {REBUILD_HINT}")


@dataclass
class Store:
    """One collection. Vectors are computed by the caller, so Chroma never needs an embedding function."""

    client: Any
    name: str
    expected: dict[str, Any]
    _collection: Any = None
    location: str = "Chroma"  # URL or folder, for error messages
    hnsw: dict[str, Any] | None = None  # Chroma's HNSW configuration for a collection created here

    @classmethod
    def open(cls, settings: Settings, model_id: str, create: bool = False) -> "Store":
        store = cls(make_client(settings), settings.collection, binding(settings, model_id),
                    location=describe_location(settings), hnsw=hnsw_configuration(settings))
        store.collection(create=create)
        return store

    def collection(self, create: bool = False):
        """The collection, behind a guard that turns connection failures into ``IndexUnavailableError``."""
        if self._collection is not None:
            return self._collection
        try:
            col = self.client.get_collection(self.name)
        except Exception as exc:
            if _is_connection_error(exc):
                raise unavailable(self.location, exc) from exc
            if not create:
                raise IndexMissingError(
                    f"Aucun index « {self.name} » : lancez d'abord l'indexation (aimf ingest)."
                ) from exc
            try:
                # Chroma 1.5 turns these metadata keys into the collection's HNSW configuration (its `configuration=`
                # argument does the same but records a "legacy" embedding function, warned about on every read).
                col = self.client.create_collection(
                    self.name, metadata={**hnsw_metadata(self.hnsw), **self.expected}, embedding_function=None
                )
            except Exception as exc2:
                if _is_connection_error(exc2):
                    raise unavailable(self.location, exc2) from exc2
                raise
        check_binding(self.name, col.metadata or {}, self.expected)
        if create and self.hnsw:
            _update_search_ef(col, self.hnsw["ef_search"])
        self._collection = _Guarded(col, self.location)
        return self._collection

    def drop(self) -> None:
        try:
            self.client.delete_collection(self.name)
        except Exception as exc:
            if _is_connection_error(exc):
                raise unavailable(self.location, exc) from exc
        self._collection = None

    def upsert(self, docs: list[Document], vectors: list[list[float]]) -> None:
        col = self.collection()
        try:
            max_batch = self.client.get_max_batch_size()
        except Exception as exc:
            if _is_connection_error(exc):
                raise unavailable(self.location, exc) from exc
            raise
        step = max(1, min(max_batch, 1000))
        for i in range(0, len(docs), step):
            part = docs[i : i + step]
            col.upsert(
                ids=[d.id for d in part],
                documents=[d.page_content for d in part],
                metadatas=[_clean_meta(d.metadata) for d in part],
                embeddings=vectors[i : i + step],
            )

    def delete(self, ids: list[str]) -> None:
        if ids:
            col = self.collection()
            step = 1000
            for i in range(0, len(ids), step):
                col.delete(ids=ids[i : i + step])

    def count(self) -> int:
        return self.collection().count()

    def search(self, vector: list[float], k: int, where: dict | None = None) -> list[tuple[Document, float]]:
        """Nearest chunks with cosine similarity (1 - cosine distance)."""
        res = self.collection().query(
            query_embeddings=[vector], n_results=k, where=where or None, include=["documents", "metadatas", "distances"]
        )
        return [
            (Document(id=i, page_content=t, metadata=strip(m)), 1.0 - float(d))
            for i, t, m, d in zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0])
        ]

    def get(self, ids: list[str] | None = None, where: dict | None = None) -> list[Document]:
        res = self.collection().get(ids=ids, where=where or None, include=["documents", "metadatas"])
        return [
            Document(id=i, page_content=t, metadata=strip(m))
            for i, t, m in zip(res["ids"], res["documents"], res["metadatas"])
        ]

    def ids(self, page: int = 5000) -> list[str]:
        """Every chunk id (no text, no vectors)."""
        return [i for res in self._pages([], page) for i in res["ids"]]

    def all_documents(self, page: int = 5000) -> list[Document]:
        """Every chunk."""
        return self.all_with_vectors(page, vectors=False)[0]

    def all_with_vectors(self, page: int = 5000, vectors: bool = True) -> tuple[list[Document], list, list]:
        """Every chunk and (optionally) its vector and its sentence vectors (a float16 matrix or None), in the same
        order."""
        docs: list[Document] = []
        out: list = []
        sentences: list = []
        for res in self._pages(["documents", "metadatas"] + (["embeddings"] if vectors else []), page):
            docs += [
                Document(id=i, page_content=t, metadata=strip(m))
                for i, t, m in zip(res["ids"], res["documents"], res["metadatas"])
            ]
            if vectors:
                out += list(res["embeddings"])
                sentences += [decode((m or {}).get(META_KEY), np.float16) for m in res["metadatas"]]
        return docs, out, sentences

    def _pages(self, include: list[str], page: int):
        """The collection in pages, so a large one never goes in one request."""
        col, offset = self.collection(), 0
        while True:
            res = col.get(limit=page, offset=offset, include=include)
            yield res
            if len(res["ids"]) < page:
                return
            offset += page


def hnsw_configuration(settings: Settings) -> dict[str, Any]:
    """Chroma's HNSW parameters. Its defaults (ef_search 100, ef_construction 100, M 16) kept 0.71 of the exact top 5
    on vectors in e5's narrow cosine band (10k chunks); the settings' defaults keep 0.998 at 100k (rag/dense.py)."""
    return {"space": "cosine", "ef_search": settings.hnsw_search_ef, "ef_construction": settings.hnsw_construction_ef,
            "max_neighbors": settings.hnsw_m}


def hnsw_metadata(hnsw: dict[str, Any] | None) -> dict[str, Any]:
    hnsw = hnsw or {"space": "cosine"}
    names = {"space": "hnsw:space", "ef_search": "hnsw:search_ef", "ef_construction": "hnsw:construction_ef",
             "max_neighbors": "hnsw:M"}
    return {names[k]: v for k, v in hnsw.items()}


def _update_search_ef(col, ef_search: int) -> None:
    """ef_search is the one HNSW parameter Chroma lets change after creation: an index created with another value
    (or before it was set) takes the configured one at the next ingest, and a process reads it when it opens the index
    (measured: a process that already had it open kept searching with the old value). ef_construction and M need a
    rebuild."""
    try:
        current = ((col.configuration_json or {}).get("hnsw") or {}).get("ef_search")
        if current is not None and current != ef_search:
            col.modify(configuration={"hnsw": {"ef_search": ef_search}})
    except Exception as exc:  # noqa: BLE001 - an older server or another index type: searches still work
        if _is_connection_error(exc):
            raise


def check_binding(name: str, actual: dict[str, Any], expected: dict[str, Any]) -> None:
    diffs = {k: (actual.get(k), v) for k, v in expected.items() if str(actual.get(k)) != str(v)}
    if diffs:
        detail = ", ".join(f"{k}: index={a!r}, configuration={b!r}" for k, (a, b) in diffs.items())
        raise IndexMismatchError(
            f"L'index « {name} » a été construit avec un autre réglage ({detail}). {REBUILD_HINT}"
        )


def _clean_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Chroma takes only scalars: drop None, serialise lists."""
    out = {}
    for k, v in meta.items():
        if v is None:
            continue
        out[k] = json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
    return out


class _Guarded:
    """A Chroma collection whose calls turn connection failures (server stopped, restarting, silent) into
    ``IndexUnavailableError`` naming the server; every other error, and every attribute, passes through."""

    def __init__(self, collection: Any, location: str):
        self._col = collection
        self._location = location

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._col, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return value(*args, **kwargs)
            except Exception as exc:
                if _is_connection_error(exc):
                    raise unavailable(self._location, exc) from exc
                raise

        return call

    def __repr__(self) -> str:
        return f"<guarded {self._col!r}>"


def _is_connection_error(exc: BaseException) -> bool:
    try:
        import httpx

        if isinstance(exc, httpx.TransportError):  # connect/read/write errors and timeouts, protocol errors
            return True
    except ImportError:  # pragma: no cover
        pass
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    text = f"{type(exc).__name__} {exc}".lower()
    return any(s in text for s in ("connect", "timeout", "timed out", "refused", "unreachable", "network"))
