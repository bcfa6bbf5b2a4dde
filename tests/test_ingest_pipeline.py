"""ingest.pipeline with the FAKE embedder (conftest.FakeHashEmbeddings) and a real embedded Chroma: idempotent re-runs,
changed / removed / duplicated files, every bad input, model and chunking mismatches, damaged manifest, an
interruption between Chroma and the manifest. The real model adds nothing to these: see test_ingest_real.py."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from conftest import free_port
from ingest.manifest import Manifest, ManifestError
from ingest.pipeline import Ingestor, UsageError
from rag.store import IndexMismatchError, IndexUnavailableError, Store

SENTENCES = [
    "La ville intelligente place l'habitant au centre des décisions publiques.",
    "Les maires francophones partagent leurs expériences de gouvernance numérique.",
    "Le cadastre numérique sécurise les droits fonciers des familles.",
    "Le paiement mobile des taxes locales augmente les recettes de la commune.",
    "Les données ouvertes permettent aux citoyens de suivre le budget municipal.",
    "L'éclairage public à LED réduit la facture d'électricité de moitié.",
    "La formation des agents municipaux accompagne chaque projet pilote.",
    "Les plateformes de participation citoyenne recueillent les avis des quartiers.",
]


def french_doc(seed: int, paragraphs: int = 3) -> str:
    """A distinct small French document (several chunks at chunk_size=200)."""
    out = [f"Fiche projet numéro {seed}"]
    for p in range(paragraphs):
        out.append(" ".join(SENTENCES[(seed + p + k) % len(SENTENCES)] for k in range(3)) + f" Réf. {seed}-{p}.")
    return "\n\n".join(out) + "\n"


@pytest.fixture
def env(make_settings, fake_embeddings):
    """A corpus folder, settings with small chunks, and an ingest function that uses the FAKE embedder. Sentence
    vectors are off so that texts embedded = chunks embedded (they have tests of their own below)."""
    settings = make_settings(chunk_size=200, chunk_overlap=20, sentence_vectors=False)

    class Env:
        corpus = settings.corpus_dir
        fake = fake_embeddings

        def __init__(self):
            self.settings = settings

        def run(self, paths=None, rebuild=False, settings=None, model_id="fake"):
            return Ingestor(settings or self.settings, embeddings=self.fake, model_id=model_id).run(paths, rebuild=rebuild)

        def write(self, name: str, text: str) -> Path:
            path = self.corpus / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return path

    return Env()


def chroma(settings, model_id="fake") -> dict[str, dict]:
    """id -> metadata of every chunk in the collection."""
    res = Store.open(settings, model_id).collection().get(include=["metadatas"])
    return dict(zip(res["ids"], res["metadatas"]))


def manifest_docs(settings):
    m = Manifest(settings.manifest_path)
    try:
        return {d.sha256: d for d in m.documents()}, m.paths(), m.pending()
    finally:
        m.close()


def assert_consistent(settings, model_id="fake") -> None:
    """Chroma holds exactly the manifest's chunks: no half document, no orphan, nothing pending."""
    docs, paths, pending = manifest_docs(settings)
    union = [cid for d in docs.values() for cid in d.chunk_ids]
    assert len(union) == len(set(union))
    assert set(chroma(settings, model_id)) == set(union)
    assert pending == []
    assert {p.sha256 for p in paths} == set(docs)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- idempotence


def test_rerun_embeds_nothing_and_reports_unchanged(env):
    for i in range(3):
        env.write(f"doc{i}.txt", french_doc(i))
    env.write("sous-dossier/note.md", "# Note\n\n" + french_doc(7))
    first = env.run()
    assert (first.added, first.updated, first.unchanged, first.failed) == (4, 0, 0, 0)
    assert first.chunks_written == env.fake.texts_embedded == first.chunks_total == len(chroma(env.settings))
    assert first.chunks_written >= 8
    calls, embedded = env.fake.calls, env.fake.texts_embedded

    second = env.run()
    assert (second.added, second.updated, second.unchanged, second.removed) == (0, 0, 4, 0)
    assert second.chunks_written == 0 and second.chunks_total == first.chunks_total
    assert (env.fake.calls, env.fake.texts_embedded) == (calls, embedded)
    assert_consistent(env.settings)
    # Sources are relative to the corpus root.
    assert {m["source"] for m in chroma(env.settings).values()} == {"doc0.txt", "doc1.txt", "doc2.txt", "sous-dossier/note.md"}


def test_touch_without_change_embeds_nothing(env):
    path = env.write("doc.txt", french_doc(1))
    env.write("autre.txt", french_doc(2))
    env.run()
    embedded = env.fake.texts_embedded
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    report = env.run()
    assert (report.unchanged, report.updated, report.chunks_written) == (2, 0, 0)
    assert env.fake.texts_embedded == embedded
    # The new mtime is recorded: the next run takes the fast path (no hashing needed).
    _, paths, _ = manifest_docs(env.settings)
    assert {p.source: p.mtime_ns for p in paths}["doc.txt"] == path.stat().st_mtime_ns
    assert_consistent(env.settings)


def test_changed_file_replaces_its_chunks(env):
    path = env.write("doc.txt", french_doc(1, paragraphs=4))
    env.write("autre.txt", french_doc(2))
    env.run()
    old_sha = sha(path)
    docs, _, _ = manifest_docs(env.settings)
    old_ids = set(docs[old_sha].chunk_ids)
    assert old_ids <= set(chroma(env.settings))

    text = path.read_text(encoding="utf-8").replace("Réf. 1-1.", "Réf. 1-1 révisée : le conseil municipal a voté le budget.")
    path.write_text(text + "\nUn paragraphe ajouté à la fin sur la coopération décentralisée.\n", encoding="utf-8")
    before = env.fake.texts_embedded
    report = env.run()
    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 1, 1, 0)
    docs, _, _ = manifest_docs(env.settings)
    assert old_sha not in docs
    new_ids = set(docs[sha(path)].chunk_ids)
    assert report.chunks_written == len(new_ids) == env.fake.texts_embedded - before
    in_chroma = chroma(env.settings)
    assert new_ids <= set(in_chroma)
    assert not (old_ids - new_ids) & set(in_chroma), "chunks of the old version are still in Chroma"
    assert old_ids - new_ids, "the change should have produced new chunk ids"
    doc_chunks = [m for m in in_chroma.values() if m["source"] == "doc.txt"]
    assert len(doc_chunks) == len(new_ids) and {m["doc_sha256"] for m in doc_chunks} == {sha(path)}
    assert_consistent(env.settings)


def test_removed_file_drops_its_chunks(env):
    gone = env.write("retire.txt", french_doc(3))
    env.write("reste.txt", french_doc(4))
    env.run()
    gone_sha = sha(gone)
    docs, _, _ = manifest_docs(env.settings)
    gone_ids = set(docs[gone_sha].chunk_ids)
    gone.unlink()
    report = env.run()
    assert (report.removed, report.unchanged, report.chunks_written) == (1, 1, 0)
    assert not gone_ids & set(chroma(env.settings))
    assert {m["source"] for m in chroma(env.settings).values()} == {"reste.txt"}
    docs, _, _ = manifest_docs(env.settings)
    assert gone_sha not in docs and report.chunks_total == len(chroma(env.settings))
    assert_consistent(env.settings)


def test_identical_files_in_one_run_are_indexed_once(env):
    text = french_doc(5)
    env.write("a-original.txt", text)
    env.write("copies/b-copie.txt", text)
    env.write("autre.txt", french_doc(6))
    report = env.run()
    assert report.failed == 0 and report.added == 3
    assert any("identique" in w["message"] and w["file"] == "copies/b-copie.txt" for w in report.warnings)
    docs, paths, _ = manifest_docs(env.settings)
    assert len(docs) == 2
    digest = sha(env.corpus / "a-original.txt")
    assert sorted(p.source for p in paths if p.sha256 == digest) == ["a-original.txt", "copies/b-copie.txt"]
    in_chroma = chroma(env.settings)
    assert sum(m["doc_sha256"] == digest for m in in_chroma.values()) == len(docs[digest].chunk_ids)
    assert env.fake.texts_embedded == len(in_chroma) == report.chunks_total
    assert_consistent(env.settings)

    # The copy that the chunks name is deleted: the content stays, now cited from the path that still holds it.
    (env.corpus / "a-original.txt").unlink()
    report = env.run()
    assert report.removed == 1 and report.chunks_written == 0
    docs, paths, _ = manifest_docs(env.settings)
    assert docs[digest].source == "copies/b-copie.txt"
    assert {m["source"] for m in chroma(env.settings).values() if m["doc_sha256"] == digest} == {"copies/b-copie.txt"}
    assert_consistent(env.settings)

    # The last copy goes: its chunks go too.
    (env.corpus / "copies" / "b-copie.txt").unlink()
    env.run()
    assert not any(m["doc_sha256"] == digest for m in chroma(env.settings).values())
    assert_consistent(env.settings)


def test_identical_file_added_later_embeds_nothing(env):
    text = french_doc(2)
    env.write("un.txt", text)
    env.run()
    embedded = env.fake.texts_embedded
    env.write("deux.txt", text)
    report = env.run()
    assert report.added == 1 and report.unchanged == 1 and report.chunks_written == 0
    assert env.fake.texts_embedded == embedded
    _, paths, _ = manifest_docs(env.settings)
    assert sorted(p.source for p in paths) == ["deux.txt", "un.txt"] and len({p.sha256 for p in paths}) == 1
    assert_consistent(env.settings)


def test_file_changed_into_a_copy_of_another(env):
    env.write("a.txt", french_doc(1))
    b = env.write("b.txt", french_doc(2))
    env.run()
    old_b = sha(b)
    b.write_text(french_doc(1), encoding="utf-8")
    report = env.run()
    assert report.updated == 1 and report.chunks_written == 0
    docs, _, _ = manifest_docs(env.settings)
    assert old_b not in docs and len(docs) == 1
    assert {m["source"] for m in chroma(env.settings).values()} == {"a.txt"}
    assert_consistent(env.settings)


# --------------------------------------------------------------------------- bad inputs


def _scanned_pdf(path: Path) -> None:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    c.circle(200, 400, 80, fill=1)
    c.showPage()
    c.save()


def _encrypted_pdf(path: Path) -> None:
    from pypdf import PdfWriter
    from reportlab.pdfgen import canvas

    plain = path.with_suffix(".tmp")
    c = canvas.Canvas(str(plain))
    c.drawString(72, 720, "Note confidentielle du cabinet du maire.")
    c.showPage()
    c.save()
    writer = PdfWriter(clone_from=str(plain))
    writer.encrypt("secret")
    writer.write(str(path))
    plain.unlink()


BAD_INPUTS = {
    "empty": ("vide.txt", lambda p: p.write_bytes(b""), "vide"),
    "blank": ("blanc.md", lambda p: p.write_text("\n  \n\t\n", encoding="utf-8"), "vide|aucun texte"),
    "no-text-layer": ("scan.pdf", _scanned_pdf, "aucune couche texte"),
    "corrupt-pdf": ("abime.pdf", lambda p: p.write_bytes(os.urandom(5000)), "PDF illisible ou endommagé"),
    "encrypted-pdf": ("protege.pdf", _encrypted_pdf, "chiffré"),
    "corrupt-docx": ("abime.docx", lambda p: p.write_bytes(b"PK\x03\x04" + os.urandom(2000)), "Word illisible"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_fails_clearly_and_loses_nothing(env, case):
    name, make, message = BAD_INPUTS[case]
    env.write("bon-1.txt", french_doc(1))
    env.write("bon-2.md", "# Titre\n\n" + french_doc(2))
    make(env.corpus / name)
    report = env.run()
    assert report.failed == 1 and report.added == 2 and report.skipped == 0
    (error,) = report.errors
    assert error["file"] == name
    assert re.search(message, error["message"]), error["message"]
    assert {m["source"] for m in chroma(env.settings).values()} == {"bon-1.txt", "bon-2.md"}
    assert_consistent(env.settings)
    # Unchanged since it failed: not read again, so a routine re-run succeeds; the failure is still reported.
    again = env.run()
    assert (again.failed, again.unchanged, again.chunks_written) == (0, 2, 0)
    assert [f["file"] for f in again.not_retried] == [name]
    assert re.search(message, again.not_retried[0]["message"])
    # Asked for, it is read again (and fails again).
    forced = Ingestor(env.settings, embeddings=env.fake, model_id="fake").run(retry_failed=True)
    assert (forced.failed, forced.not_retried) == (1, [])


def test_unsupported_extension_is_skipped_not_failed(env):
    env.write("bon.txt", french_doc(1))
    (env.corpus / "tableau.xlsx").write_bytes(b"PK\x03\x04 pas pour nous")
    (env.corpus / "sans-extension").write_text("texte", encoding="utf-8")
    report = env.run()
    assert report.failed == 0 and report.errors == [] and report.added == 1
    assert report.skipped == 2
    assert {s["file"] for s in report.skipped_files} == {"tableau.xlsx", "sans-extension"}
    assert all("non pris en charge" in s["reason"] for s in report.skipped_files)


@pytest.mark.parametrize(("encoding", "named"), [("latin-1", "latin-1"), ("cp1252", "1252")])
def test_non_utf8_text_is_indexed_with_a_warning(env, encoding, named):
    text = "Rapport de la commission\n\nLes élus réunis à Genève ont voté l'accord de coopération décentralisée."
    if encoding == "cp1252":
        text += " C’est l’œuvre commune… « réussie »."
    (env.corpus / "ancien.txt").write_bytes(text.encode(encoding))
    report = env.run()
    assert report.failed == 0 and report.added == 1
    (warning,) = report.warnings
    assert warning["file"] == "ancien.txt" and named in warning["message"].lower()
    chunks = Store.open(env.settings, "fake").get(where={"source": "ancien.txt"})
    joined = " ".join(c.page_content for c in chunks)
    assert "élus réunis à Genève" in joined and "coopération décentralisée" in joined
    if encoding == "cp1252":
        assert "C’est l’œuvre commune… « réussie »" in joined


def test_file_over_the_size_limit_fails_clearly(env, make_settings):
    settings = make_settings(chunk_size=200, chunk_overlap=20, max_file_mb=0.001)  # 1,048 bytes
    env.write("petit.txt", "Une courte note sur la ville numérique.")
    env.write("gros.txt", french_doc(1, paragraphs=12))
    assert (env.corpus / "gros.txt").stat().st_size > 1100
    report = env.run(settings=settings)
    assert report.failed == 1 and report.added == 1
    assert report.errors[0]["file"] == "gros.txt"
    assert "trop volumineux" in report.errors[0]["message"] and "AIMF_MAX_FILE_MB" in report.errors[0]["message"]
    # Unchanged, it is not read again; once the limit lets it through, it is indexed.
    assert [f["file"] for f in env.run(settings=settings).not_retried] == ["gros.txt"]
    assert env.run().added == 1


def test_unreadable_file_fails_alone(env, monkeypatch):
    import ingest.pipeline as pipeline

    env.write("bon.txt", french_doc(1))
    locked = env.write("verrouille.txt", french_doc(2))
    real_hash = pipeline.sha256_file

    def hash_or_deny(path):
        if Path(path).name == locked.name:
            raise PermissionError(13, "Permission non accordée", str(path))
        return real_hash(path)

    monkeypatch.setattr(pipeline, "sha256_file", hash_or_deny)
    report = env.run()
    assert report.added == 1 and report.failed == 1
    assert report.errors == [{"file": "verrouille.txt", "message": "lecture impossible (Permission non accordée)"}]
    assert_consistent(env.settings)


def test_office_lock_files_and_the_folder_readme_are_not_documents(env):
    env.write("rapport.docx.txt", french_doc(1))
    (env.corpus / "~$rapport.docx").write_bytes(b"\x00lock")  # Word's owner file while the document is open
    env.write("README.md", "# Ce dossier\n\nDéposez vos documents ici.")
    env.write(".cache/x.txt", french_doc(2))
    report = env.run()
    assert (report.added, report.failed, report.skipped) == (1, 0, 0)


def test_data_dir_that_cannot_be_written_is_a_clear_abort(env, make_settings, tmp_path):
    from ingest.pipeline import IngestAborted

    blocker = tmp_path / "pas-un-dossier"
    blocker.write_text("un fichier, pas un dossier", encoding="utf-8")
    env.write("doc.txt", french_doc(1))
    settings = make_settings(data_dir=blocker / "data")
    with pytest.raises(IngestAborted, match="Vérifiez l'espace disque et les droits"):
        env.run(settings=settings)


def test_path_that_does_not_exist_is_a_usage_error(env):
    env.write("bon.txt", french_doc(1))
    missing = env.corpus / "nulle-part.txt"
    with pytest.raises(UsageError, match="nulle-part.txt"):
        env.run([env.corpus / "bon.txt", missing])
    assert env.fake.calls == 0


def test_explicit_files_and_folders(env, tmp_path):
    env.write("dans-corpus.txt", french_doc(1))
    outside = tmp_path / "ailleurs"
    outside.mkdir()
    (outside / "externe.txt").write_text(french_doc(2), encoding="utf-8")
    report = env.run([env.corpus / "dans-corpus.txt", outside])
    assert report.added == 2
    assert {m["source"] for m in chroma(env.settings).values()} == {"dans-corpus.txt", "externe.txt"}
    # Indexing one file does not remove the others.
    again = env.run([env.corpus / "dans-corpus.txt"])
    assert again.removed == 0 and again.unchanged == 1
    assert_consistent(env.settings)


def test_chroma_server_down_names_the_url_and_leaves_the_manifest_untouched(env, make_settings):
    env.write("doc.txt", french_doc(1))
    env.run()
    manifest_files = sorted(env.settings.manifest_path.parent.iterdir())
    before = {p: p.read_bytes() for p in manifest_files}
    url = f"http://127.0.0.1:{free_port()}"
    down = make_settings(chunk_size=200, chunk_overlap=20, chroma_url=url)
    env.write("nouveau.txt", french_doc(2))
    with pytest.raises(IndexUnavailableError) as info:
        env.run(settings=down)
    assert url in str(info.value)
    assert sorted(env.settings.manifest_path.parent.iterdir()) == manifest_files
    assert {p: p.read_bytes() for p in manifest_files} == before
    # And the embedded index still works as before.
    assert env.run().added == 1


# --------------------------------------------------------------------------- model / chunking binding


def test_other_embedding_model_is_a_clear_error_then_rebuild_works(env, make_settings):
    model_a = make_settings(chunk_size=200, chunk_overlap=20, embedding_model="/modeles/modele-a")
    model_b = make_settings(chunk_size=200, chunk_overlap=20, embedding_model="/modeles/modele-b")
    for i in range(3):
        env.write(f"doc{i}.txt", french_doc(i))
    # model_id not given: the Ingestor derives it from the settings, as `aimf ingest` does.
    first = Ingestor(model_a, embeddings=env.fake).run()
    assert first.added == 3
    manifest_before = model_a.manifest_path.read_bytes()

    with pytest.raises(IndexMismatchError) as info:
        Ingestor(model_b, embeddings=env.fake).run()
    message = str(info.value)
    assert "aimf ingest --rebuild" in message and "/modeles/modele-a" in message and "/modeles/modele-b" in message
    assert model_a.manifest_path.read_bytes() == manifest_before

    rebuilt = Ingestor(model_b, embeddings=env.fake).run(rebuild=True)
    assert (rebuilt.added, rebuilt.unchanged, rebuilt.failed) == (3, 0, 0)
    col = Store.open(model_b, "/modeles/modele-b").collection()
    assert col.metadata["embedding_model"] == "/modeles/modele-b"
    assert col.count() == rebuilt.chunks_total == rebuilt.chunks_written
    assert_consistent(model_b, "/modeles/modele-b")
    assert Ingestor(model_b, embeddings=env.fake).run().unchanged == 3
    # The old model is now the mismatch.
    with pytest.raises(IndexMismatchError, match="aimf ingest --rebuild"):
        Ingestor(model_a, embeddings=env.fake).run()


def test_other_chunking_settings_are_a_mismatch_too(env, make_settings):
    env.write("doc.txt", french_doc(1))
    env.run()
    bigger = make_settings(chunk_size=400, chunk_overlap=20)
    with pytest.raises(IndexMismatchError, match="chunk_size.*aimf ingest --rebuild"):
        env.run(settings=bigger)
    assert env.run(settings=bigger, rebuild=True).added == 1


def test_rebuild_on_a_fresh_data_dir(env):
    env.write("doc.txt", french_doc(1))
    report = env.run(rebuild=True)
    assert report.added == 1 and report.chunks_total == len(chroma(env.settings))


def test_rebuild_reindexes_everything(env):
    env.write("doc.txt", french_doc(1))
    env.write("doc2.txt", french_doc(2))
    first = env.run()
    report = env.run(rebuild=True)
    assert (report.added, report.unchanged) == (2, 0)
    assert report.chunks_written == first.chunks_written == len(chroma(env.settings))
    assert_consistent(env.settings)


# --------------------------------------------------------------------------- manifest


@pytest.mark.parametrize("damage", ["garbage-file", "garbage-pages"])
def test_damaged_manifest_is_a_clear_error_then_rebuild_works(env, damage):
    for i in range(4):
        env.write(f"doc{i}.txt", french_doc(i, paragraphs=6))
    env.run()
    path = env.settings.manifest_path
    m = Manifest(path)
    m.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    m.close()
    data = bytearray(path.read_bytes())
    if damage == "garbage-file":
        data = bytearray(os.urandom(len(data)))
    else:  # the header survives, the pages after it do not
        data[100:] = os.urandom(len(data) - 100)
    path.write_bytes(bytes(data))
    with pytest.raises(ManifestError) as info:
        env.run()
    assert "aimf ingest --rebuild" in str(info.value) and str(path) in str(info.value)
    report = env.run(rebuild=True)
    assert report.added == 4 and report.failed == 0
    assert_consistent(env.settings)


def test_damage_anywhere_in_the_manifest_is_a_manifest_error(env):
    """Whichever page is damaged, the run stops at the start with ManifestError (never a raw SQLite error
    half-way through, after some work was done)."""
    for i in range(40):
        env.write(f"doc{i:02d}.txt", french_doc(i, paragraphs=4))
    env.run()
    path = env.settings.manifest_path
    m = Manifest(path)
    # Without free pages (left by the pending log's deleted rows): a free page holds no data, so damage there is
    # harmless and rightly goes unnoticed; every page left is one the manifest reads.
    m.db.execute("VACUUM")
    m.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = m.db.execute("PRAGMA page_size").fetchone()[0]
    m.close()
    good = path.read_bytes()
    pages = len(good) // page_size
    assert pages >= 8
    for page in range(1, pages):
        damaged = bytearray(good)
        damaged[page * page_size : (page + 1) * page_size] = os.urandom(page_size)
        path.write_bytes(bytes(damaged))
        with pytest.raises(ManifestError, match="aimf ingest --rebuild"):
            env.run()
    path.write_bytes(good)
    assert env.run().unchanged == 40


def test_manifest_describing_another_collection_is_not_trusted(env):
    """The collection was deleted behind the manifest's back (or another server is used): everything is indexed
    again instead of being reported 'unchanged' over an empty index."""
    env.write("doc.txt", french_doc(1))
    env.write("doc2.txt", french_doc(2))
    first = env.run()
    Store.open(env.settings, "fake").drop()
    report = env.run()
    assert report.added == 2 and report.chunks_written == first.chunks_written
    assert len(chroma(env.settings)) == first.chunks_total
    assert_consistent(env.settings)


def test_an_index_written_by_other_reading_code_is_written_again(env, monkeypatch):
    """The files did not change, the code that reads and cuts them did (an upgrade): every file is read again and
    the chunks the old code wrote are gone; the next run skips them again."""
    import ingest.pipeline as pipeline

    env.write("doc.txt", french_doc(1))
    env.write("doc2.txt", french_doc(2))
    first = env.run()
    assert env.run().unchanged == 2
    monkeypatch.setattr(pipeline, "ingest_fingerprint", lambda: "another-version")
    again = env.run()
    assert again.added == 2 and again.chunks_written == first.chunks_written
    assert len(chroma(env.settings)) == first.chunks_total
    assert_consistent(env.settings)
    assert env.run().unchanged == 2


def test_interrupted_between_chroma_and_manifest_leaves_no_half_document(env, monkeypatch):
    """Deterministic version of the SIGKILL test (test_ingest_real.py): the run dies after a document's chunks
    reached Chroma but before the manifest committed it."""
    for i in range(5):
        env.write(f"doc{i}.txt", french_doc(i))
    calls = {"n": 0}
    real_commit = Manifest.commit_document

    def dying_commit(self, row, path, notes=None):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_commit(self, row, path, notes)

    monkeypatch.setattr(Manifest, "commit_document", dying_commit)
    with pytest.raises(KeyboardInterrupt):
        env.run()
    monkeypatch.setattr(Manifest, "commit_document", real_commit)
    docs, _, pending = manifest_docs(env.settings)
    # The five documents went to Chroma in one write; two were committed, three are known from the intent log.
    assert len(docs) == 2 and len(pending) == 3
    orphans = set(chroma(env.settings)) - {c for d in docs.values() for c in d.chunk_ids}
    assert orphans and orphans <= {c for _, ids in pending for c in ids}

    embedded = env.fake.texts_embedded
    report = env.run()
    assert report.added == 3 and report.unchanged == 2 and report.failed == 0
    docs, _, _ = manifest_docs(env.settings)
    assert report.chunks_written == sum(len(d.chunk_ids) for d in docs.values() if d.source not in ("doc0.txt", "doc1.txt"))
    assert env.fake.texts_embedded - embedded == report.chunks_written
    assert_consistent(env.settings)
    sources = [m["source"] for m in chroma(env.settings).values()]
    assert sorted(set(sources)) == [f"doc{i}.txt" for i in range(5)]
    assert len(sources) == report.chunks_total


# --------------------------------------------------------------------------- sentence vectors


def test_sentence_vectors_are_stored_with_their_chunk_and_go_with_it(env):
    from rag.sentences import META_KEY, decode, sentence_keys

    settings = env.settings.model_copy(update={"sentence_vectors": True})
    path = env.write("doc.txt", french_doc(3, paragraphs=4))
    before = env.fake.texts_embedded
    report = env.run(settings=settings)
    embedded = env.fake.texts_embedded - before
    stored = chroma(settings)
    res = Store.open(settings, "fake").collection().get(include=["documents", "metadatas"])
    n_sentences = 0
    for text, meta in zip(res["documents"], res["metadatas"]):
        keys = sentence_keys(text)
        vectors = decode(meta[META_KEY])
        assert vectors.shape == (len(keys), env.fake.dim)
        # The stored vector of each sentence is the one the model gives for it (float16: 1e-3).
        expected = env.fake.embed_documents(keys)
        assert abs(vectors - expected).max() < 2e-3
        n_sentences += len(keys)
    assert embedded == report.chunks_written + n_sentences and report.chunks_written == len(stored)
    # Readers other than retrieval never see the vectors.
    assert all(META_KEY not in d.metadata for d in Store.open(settings, "fake").all_documents())
    # A changed document: its old chunks leave with their vectors, the new ones have theirs.
    path.write_text(french_doc(4, paragraphs=2), encoding="utf-8")
    env.run(settings=settings)
    res = Store.open(settings, "fake").collection().get(include=["metadatas"])
    assert res["ids"] and all(decode(m[META_KEY]) is not None for m in res["metadatas"])
    assert_consistent(settings)


def test_damaged_or_missing_sentence_vectors_read_as_none():
    import numpy as np

    from rag.sentences import decode, encode

    matrix = np.eye(3, 8, dtype=np.float32)
    assert np.array_equal(decode(encode(matrix)), matrix)
    assert decode(None) is None and decode("") is None and decode("8:@@not base64@@") is None
    assert decode("5:" + encode(matrix).split(":", 1)[1]) is None  # 24 values do not make rows of 5
