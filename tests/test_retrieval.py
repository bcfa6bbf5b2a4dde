"""rag.retrieval (HybridRetriever), rag.lexical (LexicalIndex) and rag.sentences, with the FAKE embedder
(conftest.FakeHashEmbeddings) over small corpora ingested into a real embedded Chroma. The fake is deterministic, so
the rankings asserted here are exact; the real model's ranking quality is measured in evals/, not here."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from langchain_core.documents import Document

from conftest import FakeHashEmbeddings
from ingest.pipeline import Ingestor, embedding_text
from rag.generators.extractive import SentenceVectors
from rag.lexical import LexicalIndex, matches
from rag.retrieval import HybridRetriever
from rag.sentences import META_KEY, sentence_keys
from rag.settings import Settings
from rag.store import Store
from rag.text import tokens

METHODS = ("dense", "lexical", "hybrid", "hybrid_scores", "hybrid_rerank")
QUESTION = "compostage des déchets verts au jardin"
# One chunk per file (chunk_size=1000). compost.txt answers QUESTION in one sentence drowned among unrelated ones;
# collecte.txt shares fewer words with it, spread over its title and its one sentence: better as a whole chunk,
# worse sentence by sentence.
CORPUS = {
    "compost.txt": "Rapport annuel de la mairie\n\nLe marché central ouvre le samedi matin. Les écoles primaires "
    "reçoivent des tablettes. Le compostage des déchets verts se fait au jardin. La piscine municipale ferme en "
    "août. Le conseil vote le plan de circulation. Les bibliothèques prêtent des liseuses.",
    "collecte.txt": "Jardins et compost\n\nLes déchets verts sont collectés le lundi et le jeudi par camion benne.",
    "cadastre.txt": "Cadastre\n\nLe cadastre numérique sécurise les droits fonciers des familles.",
    "paiement.txt": "Paiement\n\nLe paiement mobile des taxes locales augmente les recettes de la commune.",
    "potager.md": "# Potager\n\nLe potager de l'école produit des légumes. Les déchets de cuisine nourrissent les poules.",
    "donnees.md": "# Données\n\nLes données ouvertes permettent aux citoyens de suivre le budget municipal.",
    "eclairage.md": "# Éclairage\n\nL'éclairage public à LED réduit la facture d'électricité de moitié.",
}


def write(settings: Settings, files: dict[str, str]) -> None:
    for name, text in files.items():
        (Path(settings.corpus_dir) / name).write_text(text, encoding="utf-8")


def ingest(settings: Settings, fake: FakeHashEmbeddings) -> Store:
    report = Ingestor(settings, embeddings=fake, model_id="fake").run()
    assert report.failed == 0
    return Store.open(settings, "fake")


def retriever(store: Store, fake: FakeHashEmbeddings, **kw) -> HybridRetriever:
    # The lexical index checks the collection (size and ids) on every search: no waiting in tests.
    return HybridRetriever(store=store, embeddings=fake, refresh_seconds=0, ids_refresh_seconds=0, **kw)


def cos(fake: FakeHashEmbeddings, a: str, b: str) -> float:
    return float(np.dot(fake.embed_query(a), fake.embed_query(b)))  # the fake's vectors are L2-normalised


def sources(docs: list[Document]) -> list[str]:
    return [d.metadata["source"] for d in docs]


@pytest.fixture
def index(make_settings, fake_embeddings) -> tuple[Settings, Store]:
    settings = make_settings(chunk_size=1000, chunk_overlap=0)  # sentence vectors on (the default)
    write(settings, CORPUS)
    return settings, ingest(settings, fake_embeddings)


# --------------------------------------------------------------------------- every method


@pytest.mark.parametrize("method", METHODS)
def test_fake_every_method_returns_at_most_k_scored_documents_best_first(index, fake_embeddings, method):
    _, store = index
    docs = retriever(store, fake_embeddings).search(QUESTION, k=3, method=method)
    assert 1 <= len(docs) <= 3
    if method != "lexical":  # lexical returns only chunks sharing a word: here 3 do, the others fill up to k
        assert len(docs) == 3
    ranks = [d.metadata["rank_score"] for d in docs]
    assert ranks == sorted(ranks, reverse=True)
    for d in docs:
        assert {"score", "sentence_score", "rank_score", "source"} <= set(d.metadata) and META_KEY not in d.metadata
        # score = cosine(question, stored chunk vector), whichever side found the chunk.
        assert d.metadata["score"] == pytest.approx(cos(fake_embeddings, QUESTION, embedding_text(d)), abs=1e-5)
    if method == "dense":
        assert [d.metadata["score"] for d in docs] == sorted((d.metadata["score"] for d in docs), reverse=True)
    if method == "lexical":  # only chunks with a question word, and none without
        assert set(sources(docs)) == {"compost.txt", "collecte.txt", "potager.md"}


def test_fake_default_method_is_hybrid_rerank(index, fake_embeddings):
    _, store = index
    r = retriever(store, fake_embeddings, k=4)
    assert r.method == "hybrid_rerank"
    expected = [(d.id, d.metadata["rank_score"]) for d in r.search(QUESTION, method="hybrid_rerank")]
    assert [(d.id, d.metadata["rank_score"]) for d in r.search(QUESTION)] == expected
    assert [(d.id, d.metadata["rank_score"]) for d in r.invoke(QUESTION)] == expected  # LangChain interface
    assert expected != [(d.id, d.metadata["rank_score"]) for d in r.search(QUESTION, method="hybrid_scores")]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("where", [
    {"source": "collecte.txt"},
    {"kind": "md"},
    {"$and": [{"kind": "txt"}, {"source": {"$ne": "collecte.txt"}}]},
])
def test_fake_where_filters_every_method(index, fake_embeddings, method, where):
    _, store = index
    docs = retriever(store, fake_embeddings).search(QUESTION, k=5, where=where, method=method)
    assert docs, "each filter leaves at least one chunk sharing a word with the question"
    assert all(matches(d.metadata, where) for d in docs)
    everything = retriever(store, fake_embeddings).search(QUESTION, k=50, method=method)
    assert len(docs) < len(everything)  # the filter did remove something


# --------------------------------------------------------------------------- sentence vectors


def test_fake_hybrid_rerank_uses_stored_sentence_vectors(index, fake_embeddings):
    _, store = index
    r = retriever(store, fake_embeddings)
    by_scores = r.search(QUESTION, k=3, method="hybrid_scores")
    by_rerank = r.search(QUESTION, k=3, method="hybrid_rerank")
    # The whole-chunk fusion prefers collecte.txt; its closest sentence lifts compost.txt above it.
    assert sources(by_scores)[:2] == ["collecte.txt", "compost.txt"]
    assert sources(by_rerank)[:2] == ["compost.txt", "collecte.txt"]
    compost = by_rerank[0].metadata
    assert compost["sentence_score"] > compost["score"] + 0.3
    for d in by_rerank:  # max over its sentences of cosine(question, sentence); float16 storage: 2e-3
        best = max(cos(fake_embeddings, QUESTION, key) for key in sentence_keys(d.page_content))
        assert d.metadata["sentence_score"] == pytest.approx(best, abs=2e-3)


def test_fake_candidates_scored_from_memory_and_from_chroma_alike(index, fake_embeddings):
    """In memory (exact index) or read back from Chroma (above the exact limit): same chunks, scores and sentence
    scores, and both hand the stored sentence vectors to the writer's cache."""
    _, store = index
    results = []
    for limit in (200_000, 0):
        cache = SentenceVectors(fake_embeddings)
        docs = retriever(store, fake_embeddings, exact_max_chunks=limit, sentence_cache=cache).search(
            QUESTION, k=5, method="lexical")
        assert cache.cache and all(key in cache.cache for key in sentence_keys(docs[0].page_content))
        results.append([(d.id, d.metadata["score"], d.metadata["sentence_score"]) for d in docs])
    assert [r[0] for r in results[0]] == [r[0] for r in results[1]]
    # In memory and read back from Chroma, vectors go through different float paths: equal within a tolerance.
    assert [r[1:] for r in results[0]] == [pytest.approx(r[1:], abs=1e-5) for r in results[1]]


def test_fake_index_without_sentence_vectors_still_reranks(make_settings, fake_embeddings):
    settings = make_settings(chunk_size=1000, chunk_overlap=0, sentence_vectors=False)
    write(settings, CORPUS)
    store = ingest(settings, fake_embeddings)
    stored = store.collection().get(include=["metadatas"])["metadatas"]
    assert stored and not any(META_KEY in m for m in stored)
    cache = SentenceVectors(fake_embeddings)
    docs = retriever(store, fake_embeddings, sentence_cache=cache).search(QUESTION, k=4)
    assert len(docs) == 4 and sources(docs)[0] == "collecte.txt"  # no sentence signal: the whole-chunk order
    assert all(d.metadata["sentence_score"] == d.metadata["score"] for d in docs)
    assert not cache.cache  # nothing stored, nothing handed to the cache


def test_fake_sentence_cache_receives_stored_vectors(index, fake_embeddings):
    _, store = index
    cache = SentenceVectors(fake_embeddings)
    docs = retriever(store, fake_embeddings, sentence_cache=cache).search(QUESTION, k=3)
    keys = [key for d in docs for key in sentence_keys(d.page_content)]
    assert keys and all(key in cache.cache for key in keys)
    for key in keys:  # the vectors handed over are those of the sentences (float16 round trip)
        assert np.allclose(cache.cache[key], fake_embeddings.embed_query(key), atol=2e-3)
    embedded = fake_embeddings.texts_embedded
    assert cache(keys).shape == (len(keys), FakeHashEmbeddings.dim)
    assert fake_embeddings.texts_embedded == embedded  # the extractive writer embeds nothing again


# --------------------------------------------------------------------------- the lexical index follows Chroma


def test_fake_lexical_index_follows_added_and_deleted_documents(index, fake_embeddings):
    settings, store = index
    r = retriever(store, fake_embeddings)
    assert r.search("zythologie", method="lexical") == []
    write(settings, {"biere.txt": "Brasserie\n\nLa zythologie étudie la bière artisanale."})
    ingest(settings, fake_embeddings)
    assert sources(r.search("zythologie", method="lexical")) == ["biere.txt"]
    assert sources(r.search("zythologie"))[0] == "biere.txt"

    assert "compost.txt" in sources(r.search("piscine municipale", method="lexical"))
    (Path(settings.corpus_dir) / "compost.txt").unlink()
    ingest(settings, fake_embeddings)
    for method in METHODS:
        assert "compost.txt" not in sources(r.search("piscine municipale", k=10, method=method))
    assert "compost.txt" not in sources(r.lexical().docs)


def test_fake_lexical_index_follows_an_edit_that_keeps_the_chunk_count(index, fake_embeddings):
    settings, store = index
    r = retriever(store, fake_embeddings)
    assert r.search("cadastre", method="lexical")  # lexical index built before the edit
    write(settings, {"cadastre.txt": "Cadastre\n\nLe géoréférencement des parcelles précède la zythologie."})
    ingest(settings, fake_embeddings)
    assert store.count() == len(CORPUS)
    assert sources(r.search("zythologie", method="lexical")) == ["cadastre.txt"]


# --------------------------------------------------------------------------- LexicalIndex alone


def lexical_docs() -> list[Document]:
    texts = {
        "a": ("a.txt", "txt", "L'élaboration du schéma directeur de la ville numérique."),
        "b": ("b.txt", "txt", "La ville d’Abidjan publie son budget participatif."),
        "c": ("c.md", "md", "Chaque ville forme ses agents municipaux."),
        "d": ("d.md", "md", "La ville accueille les maires francophones."),
    }
    return [Document(id=i, page_content=t, metadata={"source": s, "kind": k}) for i, (s, k, t) in texts.items()]


def ids(hits: list[tuple[Document, float]]) -> list[str]:
    return [d.id for d, _ in hits]


def test_lexical_folds_accents_case_and_elisions():
    idx = LexicalIndex(lexical_docs())
    assert ids(idx.search("elaboration schema", 5)) == ["a"]  # indexed as "L'élaboration du schéma"
    assert ids(idx.search("L’ÉLABORATION", 5)) == ["a"]
    assert ids(idx.search("abidjan", 5)) == ["b"]  # indexed as "d’Abidjan" (curly apostrophe)
    assert ids(idx.search("qu'Abidjan", 5)) == ["b"]


def test_lexical_idf_is_okapi_with_the_floor():
    docs = lexical_docs()
    idx, n = LexicalIndex(docs), len(docs)
    df: dict[str, int] = {}
    for d in docs:  # the index tokenises "title content"; these documents have no title
        for t in set(tokens(d.page_content)):
            df[t] = df.get(t, 0) + 1
    raw = {t: math.log((n - k + 0.5) / (k + 0.5)) for t, k in df.items()}
    (rare,) = tokens("élaboration")
    (common,) = tokens("ville")
    assert df[rare] == 1 and df[common] == n and raw[common] < 0
    assert idx.idf(rare) == pytest.approx(math.log((n - 1 + 0.5) / 1.5))
    assert idx.idf(common) == pytest.approx(0.25 * sum(raw.values()) / len(raw))  # negative idf floored
    assert idx.idf("licorne") is None
    assert set(raw) == idx.vocabulary and all(idx.idf(t) == pytest.approx(v) for t, v in raw.items() if v >= 0)


def test_lexical_scores_zero_for_unknown_words_and_empty_index():
    idx = LexicalIndex(lexical_docs())
    assert idx.scores("licorne dragon").tolist() == [0.0] * 4
    assert idx.search("licorne dragon", 5) == []
    assert (idx.scores("ville") > 0).all()
    empty = LexicalIndex([])
    assert len(empty) == 0 and empty.scores("ville").tolist() == [] and empty.search("ville", 3) == []


@pytest.mark.parametrize(("where", "expected"), [
    (None, {"a", "b", "c", "d"}),
    ({"kind": "md"}, {"c", "d"}),
    ({"source": {"$ne": "a.txt"}}, {"b", "c", "d"}),
    ({"source": {"$in": ["a.txt", "d.md"]}}, {"a", "d"}),
    ({"source": {"$nin": ["a.txt", "d.md"]}}, {"b", "c"}),
    ({"$and": [{"kind": "txt"}, {"source": {"$ne": "a.txt"}}]}, {"b"}),
    ({"$or": [{"source": "a.txt"}, {"kind": "md"}]}, {"a", "c", "d"}),
    ({"$or": [{"source": "z.txt"}, {"kind": {"$in": ["pdf"]}}]}, set()),
])
def test_lexical_search_honours_where(where, expected):
    idx = LexicalIndex(lexical_docs())
    hits = idx.search("ville", 10, where)
    assert set(ids(hits)) == expected
    assert all(matches(d.metadata, where) for d, _ in hits)
    assert len(idx.search("ville", 1, where)) == min(1, len(expected))  # k counts matching chunks only


# --------------------------------------------------------------------------- exact dense search


def test_dense_index_is_an_exact_scan_and_honours_where():
    from rag.dense import DenseIndex

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    docs = [Document(id=f"c{i}", page_content=str(i), metadata={"source": f"s{i % 7}"}) for i in range(500)]
    index = DenseIndex(docs, vectors)
    query = vectors[42] + 0.1 * vectors[7]
    expected = np.argsort(-(vectors @ query))
    assert [d.id for d, _ in index.search(query, 10)] == [f"c{i}" for i in expected[:10]]
    filtered = index.search(query, 5, where={"source": "s3"})
    assert [d.id for d, _ in filtered] == [f"c{i}" for i in expected if i % 7 == 3][:5]
    assert len(index.search(query, 900)) == 500  # k beyond the collection: everything, still in order
    assert DenseIndex([], np.zeros((0, 16))).search(query, 3) == []


def test_fake_retriever_falls_back_to_chroma_above_the_exact_limit(index, fake_embeddings):
    """Over exact_max_chunks, dense search is Chroma's HNSW: on 7 chunks it finds the same as the exact scan."""
    _, store = index
    exact = retriever(store, fake_embeddings).search(QUESTION, k=5, method="dense")
    approximate = retriever(store, fake_embeddings, exact_max_chunks=0)
    assert approximate.search(QUESTION, k=5, method="dense")[0].id == exact[0].id
    assert approximate._dense is None and retriever(store, fake_embeddings)._dense is None  # built on first search
    assert [d.id for d in approximate.search(QUESTION, k=5, method="dense")] == [d.id for d in exact]


def test_fake_sentence_cache_shared_by_concurrent_questions_under_eviction(fake_embeddings):
    """The UI answers questions concurrently and they share one cache. With evictions, a sentence another
    question evicted must not break an answer (it did: KeyError between insertion and read-back)."""
    import threading

    cache = SentenceVectors(fake_embeddings, size=8)
    errors: list[BaseException] = []

    def ask(offset: int) -> None:
        try:
            for round_ in range(60):
                texts = [f"phrase {(offset + round_ + i) % 40} sur la ville numérique" for i in range(12)]
                vectors = cache(texts)
                assert vectors.shape == (12, FakeHashEmbeddings.dim)
                assert np.allclose(vectors[0], fake_embeddings.embed_query(texts[0]), atol=1e-6)
        except BaseException as exc:  # noqa: BLE001 - collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(k * 5,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(cache.cache) <= 8
