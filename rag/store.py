"""The Chroma collection: embedded (``PersistentClient``) or a server (``HttpClient``), bound to one embedding model
and one chunking configuration."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from langchain_core.documents import Document

from rag.settings import Settings

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

# Bumped when chunk boundaries or metadata change meaning: a collection built by another version is rebuilt.
CHUNKER_VERSION = "1"
REBUILD_HINT = "Relancez l'indexation complète : aimf ingest --rebuild"


class IndexMismatchError(RuntimeError):
    """The collection was built with another embedding model or chunking configuration."""


class IndexUnavailableError(RuntimeError):
    """Chroma (usually the server) cannot be reached."""


class IndexMissingError(RuntimeError):
    """No collection yet: nothing has been indexed."""


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


def make_client(settings: Settings):
    """A Chroma client for these settings; raises ``IndexUnavailableError`` when the server is down."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if settings.chroma_url:
            url = urlparse(settings.chroma_url if "//" in settings.chroma_url else f"http://{settings.chroma_url}")
            client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            client.heartbeat()
            return client
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
    except Exception as exc:  # chromadb raises several unrelated types for "cannot connect"
        raise IndexUnavailableError(
            f"Index indisponible : impossible de joindre Chroma à {describe_location(settings)} ({exc})."
        ) from exc


@dataclass
class Store:
    """One collection. Vectors are computed by the caller, so Chroma never needs an embedding function."""

    client: Any
    name: str
    expected: dict[str, Any]
    _collection: Any = None

    @classmethod
    def open(cls, settings: Settings, model_id: str, create: bool = False) -> "Store":
        store = cls(make_client(settings), settings.collection, binding(settings, model_id))
        store.collection(create=create)
        return store

    def collection(self, create: bool = False):
        if self._collection is not None:
            return self._collection
        try:
            col = self.client.get_collection(self.name)
        except Exception as exc:
            if _is_connection_error(exc):
                raise IndexUnavailableError(f"Index indisponible : {exc}") from exc
            if not create:
                raise IndexMissingError(
                    f"Aucun index « {self.name} » : lancez d'abord l'indexation (aimf ingest)."
                ) from exc
            col = self.client.create_collection(
                self.name, metadata={"hnsw:space": "cosine", **self.expected}, embedding_function=None
            )
        check_binding(self.name, col.metadata or {}, self.expected)
        self._collection = col
        return col

    def drop(self) -> None:
        try:
            self.client.delete_collection(self.name)
        except Exception as exc:
            if _is_connection_error(exc):
                raise IndexUnavailableError(f"Index indisponible : {exc}") from exc
        self._collection = None

    def upsert(self, docs: list[Document], vectors: list[list[float]]) -> None:
        col = self.collection()
        step = max(1, min(self.client.get_max_batch_size(), 1000))
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
            (Document(id=i, page_content=t, metadata=m or {}), 1.0 - float(d))
            for i, t, m, d in zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0])
        ]

    def get(self, ids: list[str] | None = None, where: dict | None = None) -> list[Document]:
        res = self.collection().get(ids=ids, where=where or None, include=["documents", "metadatas"])
        return [
            Document(id=i, page_content=t, metadata=m or {})
            for i, t, m in zip(res["ids"], res["documents"], res["metadatas"])
        ]

    def all_documents(self, page: int = 5000) -> list[Document]:
        """Every chunk, paged so a large collection never goes in one request."""
        out: list[Document] = []
        col = self.collection()
        offset = 0
        while True:
            res = col.get(limit=page, offset=offset, include=["documents", "metadatas"])
            out += [
                Document(id=i, page_content=t, metadata=m or {})
                for i, t, m in zip(res["ids"], res["documents"], res["metadatas"])
            ]
            if len(res["ids"]) < page:
                return out
            offset += page


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


def _is_connection_error(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(s in text for s in ("connect", "timeout", "timed out", "refused", "unreachable", "network"))
