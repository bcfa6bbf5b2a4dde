"""Chroma's HNSW parameters reach the collection (REAL embedded Chroma), and the synthetic vectors of
`aimf bench retrieval --hnsw` sit in e5's narrow cosine band, as the report says."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.real
def test_collection_is_created_with_the_configured_hnsw_parameters(tmp_path):
    from rag.settings import Settings
    from rag.store import Store

    settings = Settings(_env_file=None, data_dir=tmp_path, collection="hnsw-test", hnsw_search_ef=321,
                        hnsw_construction_ef=123, hnsw_m=24)
    hnsw = Store.open(settings, "model", create=True).collection().configuration_json["hnsw"]
    assert (hnsw["space"], hnsw["ef_search"], hnsw["ef_construction"], hnsw["max_neighbors"]) == ("cosine", 321, 123, 24)
    # ef_search can change after creation: the next ingest (create=True) applies the setting; a reader does not write.
    Store.open(settings.model_copy(update={"hnsw_search_ef": 150}), "model")
    assert Store.open(settings, "model").collection().configuration_json["hnsw"]["ef_search"] == 321
    Store.open(settings.model_copy(update={"hnsw_search_ef": 150}), "model", create=True)
    assert Store.open(settings, "model").collection().configuration_json["hnsw"]["ef_search"] == 150


def test_synthetic_vectors_sit_in_e5s_cosine_band():
    from evals.bench_hnsw import band, synthetic

    vectors, questions, texts, blobs = synthetic(3000)
    assert vectors.shape == (3000, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    spread = band(vectors)
    assert 0.80 <= spread["p01"] and spread["p50"] <= 0.86
    # Questions are drawn like passages: their five nearest passages are near-ties just above the band (the hard case).
    top = np.sort(questions @ vectors.T, axis=1)[:, ::-1]
    assert np.median(top[:, 0] - top[:, 4]) < 0.01 and np.all(top[:, 4] > spread["p50"])
