"""Ingest with REAL components: the built multilingual-e5-small, embedded Chroma, a real `chroma run` server, and the
`aimf ingest` command as a subprocess (JSON summary, exit codes, SIGKILL mid-run then resume)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import VENV_BIN, free_port
from test_ingest_loaders import FRENCH_PARAGRAPHS, make_docx, make_pdf

pytestmark = pytest.mark.real

META_KEYS = {"source", "title", "section", "start", "end", "lang", "doc_sha256"}

SENTENCES = [
    "La municipalité de {v} a numérisé son état civil en {a}.",
    "À {v}, le paiement mobile des taxes locales a doublé les recettes de la commune.",
    "Les habitants de {v} signalent les nids-de-poule grâce à une application citoyenne.",
    "Le conseil municipal de {v} publie désormais son budget en données ouvertes.",
    "L'éclairage public de {v} passe aux lampes LED pilotées à distance depuis {a}.",
    "Un cadastre numérique protège les droits fonciers des familles de {v}.",
    "Les agents de la mairie de {v} ont suivi une formation aux outils numériques.",
    "La plateforme de participation de {v} a recueilli des milliers d'avis sur les transports.",
]
VILLES = ["Dakar", "Hué", "Cotonou", "Lomé", "Tunis", "Bamako", "Abidjan", "Montréal", "Liège", "Beyrouth"]


def city_doc(i: int, sentences: int = 18) -> str:
    v = f"{VILLES[i % len(VILLES)]}-{i}"
    body = []
    for k in range(sentences):
        body.append(SENTENCES[(i + k) % len(SENTENCES)].format(v=v, a=2000 + (i * 7 + k) % 25))
        if k % 6 == 5:
            body.append("\n\n")
    return f"Fiche de la ville {v}\n\n" + " ".join(body).replace(" \n\n ", "\n\n") + "\n"


def cli_env(settings, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMF_")}
    env.update(
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
        AIMF_DATA_DIR=str(settings.data_dir), AIMF_CORPUS_DIR=str(settings.corpus_dir),
        AIMF_EMBEDDING_MODEL=settings.embedding_model, AIMF_COLLECTION=settings.collection,
        AIMF_CHUNK_SIZE=str(settings.chunk_size), AIMF_CHUNK_OVERLAP=str(settings.chunk_overlap),
    )
    env.update(extra)
    return env


def aimf(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "aimf"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def collection_state(settings) -> dict[str, dict]:
    """id -> metadata, read through a fresh client (another process may have written since the last read)."""
    from chromadb.api.client import SharedSystemClient

    from rag.embeddings import model_identity
    from rag.store import Store

    SharedSystemClient.clear_system_cache()
    try:
        res = Store.open(settings, model_identity(settings)).collection().get(include=["metadatas"])
        return dict(zip(res["ids"], res["metadatas"]))
    finally:
        SharedSystemClient.clear_system_cache()


def manifest_rows(settings) -> tuple[dict[str, tuple[str, list[str]]], list[tuple[str, str]], int]:
    """(sha -> (source, chunk ids), [(path, sha)], pending count), read with plain sqlite3."""
    db = sqlite3.connect(str(settings.manifest_path), timeout=30)
    try:
        docs = {s: (src, json.loads(ids)) for s, src, ids in db.execute("SELECT sha256, source, chunk_ids FROM documents")}
        paths = list(db.execute("SELECT path, sha256 FROM paths"))
        pending = db.execute("SELECT count(*) FROM pending").fetchone()[0]
        return docs, paths, pending
    finally:
        db.close()


def committed_documents(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        db = sqlite3.connect(str(path), timeout=1)
        try:
            return db.execute("SELECT count(*) FROM documents").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


# --------------------------------------------------------------------------- metadata as stored by Chroma


def test_real_ingest_stores_full_metadata_and_answers_a_dense_query(make_settings):
    from ingest.loaders import load
    from ingest.pipeline import Ingestor
    from rag.embeddings import load_embeddings, model_identity
    from rag.store import Store

    settings = make_settings(chunk_size=300, chunk_overlap=50)
    corpus = settings.corpus_dir
    (corpus / "notes.txt").write_text("Notes de synthèse\n\n" + "\n\n".join(FRENCH_PARAGRAPHS), encoding="utf-8")
    (corpus / "guide.md").write_text(
        "# Guide **pratique**\n\n## Eau\n\nLes réseaux d'eau potable sont **rénovés** par les régies municipales.\n\n"
        "## Énergie\n\nL'éclairage public passe aux LED ; la facture d'électricité baisse de moitié.\n",
        encoding="utf-8",
    )
    (corpus / "page.html").write_text(
        "<html><head><title>Actualité AIMF</title><script>var x='SCRIPTSECRET';</script></head><body>"
        f"<h1>Actualité</h1><p>{FRENCH_PARAGRAPHS[2]}</p></body></html>", encoding="utf-8",
    )
    make_pdf(
        corpus / "rapport.pdf",
        [["La gouvernance des données urbaines est discutée en première page."],
         ["Les citoyens accèdent aux démarches administratives en ligne depuis leur téléphone."]],
        title="Rapport numérique",
    )
    make_docx(corpus / "participation.docx", title="")
    report = Ingestor(settings).run()
    assert (report.added, report.failed, report.skipped) == (5, 0, 0), report.errors

    store = Store.open(settings, model_identity(settings))
    col = store.collection()
    assert col.metadata["hnsw:space"] == "cosine"
    assert col.metadata["embedding_model"] == str(settings.embedding_model)
    assert col.metadata["chunk_size"] == 300 and col.metadata["chunk_overlap"] == 50
    res = col.get(include=["metadatas", "documents", "embeddings"])
    assert len(res["ids"]) == report.chunks_total == report.chunks_written
    loaded = {p.name: load(p) for p in corpus.iterdir()}
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in corpus.iterdir()}
    for cid, text, meta, vec in zip(res["ids"], res["documents"], res["metadatas"], res["embeddings"]):
        assert META_KEYS <= set(meta), meta
        doc = loaded[meta["source"]]
        assert doc.text[meta["start"] : meta["end"]] == text
        assert meta["title"] == doc.title and meta["doc_sha256"] == digests[meta["source"]]
        assert meta["lang"] == "fr"
        assert "SCRIPTSECRET" not in text and "**" not in text
        if meta["source"] == "rapport.pdf":
            assert meta["page"] == (1 if "gouvernance" in text else 2)
        else:
            assert meta.get("page") is None  # no pages: Chroma stores no key (it refuses None)
        assert len(vec) == 384 and abs(sum(x * x for x in vec) - 1.0) < 1e-2
    sections = {m["section"] for m in res["metadatas"] if m["source"] == "guide.md"}
    assert {"Eau", "Énergie"} <= sections
    titles = {m["source"]: m["title"] for m in res["metadatas"]}
    assert titles["rapport.pdf"] == "Rapport numérique" and titles["page.html"] == "Actualité AIMF"
    assert titles["guide.md"] == "Guide pratique" and titles["participation.docx"] == "Guide de la participation citoyenne"

    emb = load_embeddings(settings)
    hits = store.search(emb.embed_query("Comment les habitants font-ils leurs démarches administratives ?"), k=3)
    assert hits[0][0].metadata["source"] == "rapport.pdf" and hits[0][0].metadata["page"] == 2
    hits = store.search(emb.embed_query("Qui rénove les réseaux d'eau potable ?"), k=3)
    assert hits[0][0].metadata["source"] == "guide.md" and hits[0][0].metadata["section"] == "Eau"


# --------------------------------------------------------------------------- the CLI


JSON_KEYS = {"added", "updated", "unchanged", "removed", "skipped", "failed", "errors", "chunks_written", "chunks_total", "seconds"}


def test_cli_json_summary_exit_codes_mismatch_and_rebuild(make_settings, fake_embeddings, tmp_path):
    """One data dir through the real `aimf ingest`: a collection built by another model (clear error, exit 1), then
    `--rebuild` with the real model (JSON summary; exit 1 because one file fails, the others indexed), a re-run
    (exit 0, nothing embedded), the human summary, one file on the command line, a damaged manifest, bad usage."""
    from ingest.pipeline import Ingestor

    settings = make_settings(chunk_size=300, chunk_overlap=30)
    corpus = settings.corpus_dir
    (corpus / "discours.txt").write_text("Discours\n\n" + "\n\n".join(FRENCH_PARAGRAPHS), encoding="utf-8")
    (corpus / "guide.md").write_text("# Guide\n\n" + FRENCH_PARAGRAPHS[1], encoding="utf-8")
    env = cli_env(settings)
    Ingestor(settings, embeddings=fake_embeddings, model_id="un-autre-modele").run()  # FAKE vectors, other model

    mismatch = aimf(["ingest", "--json"], env, tmp_path)
    assert mismatch.returncode == 1 and mismatch.stdout == ""
    assert "aimf ingest --rebuild" in mismatch.stderr and "un-autre-modele" in mismatch.stderr
    assert "Traceback" not in mismatch.stderr, mismatch.stderr

    (corpus / "abime.pdf").write_bytes(os.urandom(3000))
    (corpus / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    done = aimf(["ingest", "--json", "--rebuild"], env, tmp_path)
    assert done.returncode == 1, done.stderr  # one file failed, the others are indexed
    summary = json.loads(done.stdout)
    assert JSON_KEYS <= set(summary)
    assert (summary["added"], summary["updated"], summary["unchanged"], summary["removed"]) == (2, 0, 0, 0)
    assert (summary["skipped"], summary["failed"]) == (1, 1)
    assert [e["file"] for e in summary["errors"]] == ["abime.pdf"] and "PDF" in summary["errors"][0]["message"]
    assert summary["chunks_written"] == summary["chunks_total"] > 0
    assert isinstance(summary["seconds"], (int, float)) and summary["seconds"] > 0
    state = collection_state(settings)
    assert len(state) == summary["chunks_total"] and {m["source"] for m in state.values()} == {"discours.txt", "guide.md"}

    (corpus / "abime.pdf").unlink()
    again = aimf(["ingest", "--json"], env, tmp_path)
    assert again.returncode == 0, again.stderr
    summary2 = json.loads(again.stdout)
    assert (summary2["unchanged"], summary2["added"], summary2["failed"], summary2["chunks_written"]) == (2, 0, 0, 0)
    assert summary2["errors"] == [] and summary2["chunks_total"] == summary["chunks_total"]

    # The human summary: file names are shown as they are (not read as rich markup), one line per problem.
    (corpus / "note [v2].txt").write_bytes(b"")
    human = aimf(["ingest", "--quiet"], env, tmp_path)
    assert human.returncode == 1, human.stderr
    assert "note [v2].txt : fichier vide" in human.stdout and "2 inchangé" in human.stdout, human.stdout
    # A single file given on the command line.
    single = aimf(["ingest", "--quiet", str(corpus / "guide.md")], env, tmp_path)
    assert single.returncode == 0, single.stderr
    assert "1 inchangé" in single.stdout

    # Bad usage: exit 2.
    missing = aimf(["ingest", "--json", str(tmp_path / "introuvable.txt")], env, tmp_path)
    assert missing.returncode == 2 and "introuvable.txt" in missing.stderr and missing.stdout == ""
    bad_option = aimf(["ingest", "--pas-une-option"], env, tmp_path)
    assert bad_option.returncode == 2

    # A damaged manifest: exit 1, the path and the command to run, on whole lines (no hard wrapping).
    settings.manifest_path.write_bytes(os.urandom(8192))
    for suffix in ("-wal", "-shm"):
        Path(str(settings.manifest_path) + suffix).unlink(missing_ok=True)
    damaged = aimf(["ingest", "--json"], env, tmp_path)
    assert damaged.returncode == 1 and "Traceback" not in damaged.stderr, damaged.stderr
    assert "aimf ingest --rebuild" in damaged.stderr and str(settings.manifest_path) in damaged.stderr


def test_cli_with_chroma_down_names_the_url_and_leaves_the_manifest_untouched(make_settings, fake_embeddings, tmp_path):
    from ingest.pipeline import Ingestor
    from rag.embeddings import model_identity

    settings = make_settings()
    (settings.corpus_dir / "doc.txt").write_text(FRENCH_PARAGRAPHS[0], encoding="utf-8")
    # An existing manifest (FAKE vectors: only the manifest's bytes matter here).
    Ingestor(settings, embeddings=fake_embeddings, model_id=model_identity(settings)).run()
    (settings.corpus_dir / "nouveau.txt").write_text(FRENCH_PARAGRAPHS[1], encoding="utf-8")
    files = sorted(settings.manifest_path.parent.iterdir())
    before = {p: p.read_bytes() for p in files}
    url = f"http://127.0.0.1:{free_port()}"
    done = aimf(["ingest"], cli_env(settings, AIMF_CHROMA_URL=url), tmp_path, timeout=120)
    assert done.returncode == 1
    assert url in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert sorted(settings.manifest_path.parent.iterdir()) == files
    assert {p: p.read_bytes() for p in files} == before


# --------------------------------------------------------------------------- interrupted run


def test_killed_ingest_resumes_without_half_documents(make_settings, tmp_path):
    # ~300 chunks: more than one embedding group (ingest.pipeline.EMBED_GROUP), so some documents are committed
    # while others are still to come, and the kill lands in between.
    from ingest.pipeline import EMBED_GROUP

    settings = make_settings(chunk_size=150, chunk_overlap=0)
    n = 40
    for i in range(n):
        (settings.corpus_dir / f"ville-{i:02d}.txt").write_text(city_doc(i, sentences=7), encoding="utf-8")
    env = cli_env(settings)
    proc = subprocess.Popen(
        [str(VENV_BIN / "aimf"), "ingest", "--quiet"], env=env, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 240
    committed = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            committed = committed_documents(settings.manifest_path)
            # Half-way: the first group is being committed (or the last one embedded); the re-run then has less
            # to embed again than after a kill at the very first commit, and the test stays fast.
            if committed >= n // 2:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:  # timed out (or the test failed): never leave it running
            proc.kill()
        stderr = proc.communicate(timeout=60)[1]
    assert proc.returncode == -signal.SIGKILL, f"the run ended by itself before it could be killed: {stderr[-2000:]}"
    docs, _, _ = manifest_rows(settings)
    assert 1 <= len(docs) < n, f"killed too late: {len(docs)} documents committed"
    # What was committed is whole: every chunk of every committed document is in Chroma.
    in_chroma = collection_state(settings)
    for source, ids in docs.values():
        assert set(ids) <= set(in_chroma), f"{source} committed but some of its chunks are missing"
    killed_with = len(docs)

    # The re-run, in this process (its model is already loaded: the suite stays fast); the CLI checks it below.
    from chromadb.api.client import SharedSystemClient

    from ingest.pipeline import Ingestor

    try:
        summary = Ingestor(settings).run().as_dict()
    finally:
        SharedSystemClient.clear_system_cache()
    assert summary["added"] == n - killed_with and summary["unchanged"] == killed_with and summary["failed"] == 0
    assert summary["updated"] == summary["removed"] == 0

    docs, paths, pending = manifest_rows(settings)
    in_chroma = collection_state(settings)
    union = [cid for _, ids in docs.values() for cid in ids]
    assert pending == 0
    assert len(docs) == n and len(paths) == n
    assert sorted(src for src, _ in docs.values()) == [f"ville-{i:02d}.txt" for i in range(n)]
    assert len(union) == len(set(union)) == summary["chunks_total"] > EMBED_GROUP
    assert set(in_chroma) == set(union), "orphan chunks or missing chunks after resuming"
    # Every file once: each source's chunk positions are 0..k-1 exactly once.
    by_source: dict[str, list[int]] = {}
    for meta in in_chroma.values():
        by_source.setdefault(meta["source"], []).append(meta["position"])
    assert len(by_source) == n
    for source, positions in by_source.items():
        assert sorted(positions) == list(range(len(positions))), source
    # And `aimf ingest` then has nothing to do.
    third = aimf(["ingest", "--json"], env, tmp_path)
    assert third.returncode == 0, third.stderr
    third_summary = json.loads(third.stdout)
    assert (third_summary["unchanged"], third_summary["chunks_written"], third_summary["chunks_total"]) == (n, 0, len(union))


# --------------------------------------------------------------------------- server mode


def test_server_mode_ingest_query_and_idempotent_rerun(make_settings, chroma_server):
    from ingest.pipeline import Ingestor
    from rag.embeddings import load_embeddings, model_identity
    from rag.store import Store

    collection = f"ingest-{uuid.uuid4().hex[:8]}"
    local = make_settings(chunk_size=300, chunk_overlap=30, collection=collection)
    server = make_settings(chunk_size=300, chunk_overlap=30, collection=collection, chroma_url=chroma_server.url)
    for i in range(4):
        (server.corpus_dir / f"ville-{i}.txt").write_text(city_doc(i, sentences=8), encoding="utf-8")
    (server.corpus_dir / "eau.md").write_text(
        "# Eau potable\n\nLa régie municipale de Ouagadougou a rénové quarante kilomètres de conduites d'eau potable.\n",
        encoding="utf-8",
    )
    # First indexed in embedded mode, in the same data dir: the server must still get everything.
    assert Ingestor(local).run().added == 5

    first = Ingestor(server).run()
    assert (first.added, first.unchanged, first.failed) == (5, 0, 0)
    store = Store.open(server, model_identity(server))
    assert store.count() == first.chunks_total == first.chunks_written
    emb = load_embeddings(server)
    hits = store.search(emb.embed_query("Quelle ville a rénové ses conduites d'eau ?"), k=3)
    assert hits[0][0].metadata["source"] == "eau.md" and hits[0][1] > 0.5

    again = Ingestor(server).run()
    assert (again.unchanged, again.added, again.chunks_written) == (5, 0, 0)

    (server.corpus_dir / "ville-0.txt").write_text(city_doc(10, sentences=8), encoding="utf-8")
    (server.corpus_dir / "ville-1.txt").unlink()
    changed = Ingestor(server).run()
    assert (changed.updated, changed.removed, changed.unchanged) == (1, 1, 3)
    docs, _, _ = manifest_rows(server)
    res = store.collection().get(include=["metadatas"])
    assert set(res["ids"]) == {cid for _, ids in docs.values() for cid in ids}
    assert "ville-1.txt" not in {m["source"] for m in res["metadatas"]}

    # Back to embedded mode: its collection is brought up to date too, without orphans.
    back = Ingestor(local).run()
    assert back.failed == 0
    docs, _, _ = manifest_rows(local)
    assert set(collection_state(local)) == {cid for _, ids in docs.values() for cid in ids}
    assert {m["source"] for m in collection_state(local).values()} == {"ville-0.txt", "ville-2.txt", "ville-3.txt", "eau.md"}
