"""Which questions a run asks: JSONL files, folders of them, or a split (dev / test) of the bundled groups.

The bundled questions are kept in groups of documents (``evals/datasets/groups/<group>.jsonl``); ``splits.json``
assigns each group to ``dev`` (develop on it freely) or ``test`` (frozen: its figures are reported, never used to
choose a rule, a threshold or a weight). A group file that ``splits.json`` does not assign is an error, so a new
group cannot slip into either half unnoticed.
"""

from __future__ import annotations

import json
from pathlib import Path

from evals.dataset import GoldQuestion, GoldSetError, is_squad, load_dataset

DATASETS_DIR = Path(__file__).with_name("datasets")
SPLITS_PATH = DATASETS_DIR / "splits.json"
SPLITS = ("dev", "test")


def load_splits(path: Path = SPLITS_PATH) -> dict[str, dict]:
    """group -> {"split": dev|test, "file": path}; a group's file is ``groups/<group>.jsonl``, or when there is none,
    the file ``files`` names for it (the first gold set, ``aimf-gold.jsonl``, is the ``discours`` group)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    root, files = Path(path).parent, data.get("files", {})
    out = {}
    for group, split in data["splits"].items():
        if split not in SPLITS:
            raise GoldSetError(f"{path}: groupe « {group} » : moitié inconnue « {split} » (dev ou test)")
        own = root / "groups" / f"{group}.jsonl"
        out[group] = {"split": split, "file": own if own.is_file() or group not in files else root / files[group]}
    return out


def split_files(split: str, path: Path = SPLITS_PATH) -> list[Path]:
    """The gold-set files of one split, in group order; every group file on disk must be assigned."""
    groups = load_splits(path)
    folder = Path(path).parent / "groups"
    stray = sorted(f.name for f in folder.glob("*.jsonl") if f.stem not in groups) if folder.is_dir() else []
    if stray:
        raise GoldSetError(f"{path}: groupe(s) sans moitié (dev ou test) : {', '.join(stray)}")
    files = [g["file"] for g in groups.values() if g["split"] == split]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise GoldSetError(f"fichier(s) du jeu « {split} » introuvable(s) : {', '.join(missing)}")
    return files


def resolve(datasets: list[Path], split: str | None = None, splits_path: Path = SPLITS_PATH) -> list[Path]:
    """The files to load: those given (a folder stands for its ``*.jsonl``), then the split's. One SQuAD file is
    run alone: its paragraphs get their own collection."""
    paths: list[Path] = []
    for d in map(Path, datasets):
        if d.is_dir():
            found = sorted(d.glob("*.jsonl"))
            if not found:
                raise GoldSetError(f"{d}: aucun fichier .jsonl dans ce dossier")
            paths += found
        else:
            paths.append(d)
    if split:
        paths += split_files(split, splits_path)
    if not paths:
        raise GoldSetError("aucun jeu de questions : donnez --dataset FICHIER|DOSSIER ou --split dev|test")
    paths = list(dict.fromkeys(paths))
    for p in paths:
        if not p.is_file():
            raise GoldSetError(f"{p}: fichier introuvable")
    if len(paths) > 1 and any(is_squad(p) for p in paths):
        raise GoldSetError("un fichier SQuAD se mesure seul (ses paragraphes ont leur propre collection)")
    return paths


def group_name(path: Path, splits_path: Path = SPLITS_PATH) -> str:
    """A file's group: the name ``splits.json`` gives it, else the file name without extension."""
    try:
        groups = load_splits(splits_path)
    except (OSError, KeyError, json.JSONDecodeError):
        groups = {}
    target = Path(path).resolve()
    for name, g in groups.items():
        if Path(g["file"]).resolve() == target:
            return name
    return Path(path).stem


def load_questions(paths: list[Path], splits_path: Path = SPLITS_PATH) -> tuple[list[GoldQuestion], dict[str, str]]:
    """Every question of the files, and question id -> group. With several files, ids are prefixed by their group
    (``villes/fr-03``) so that two files may use the same id."""
    questions: list[GoldQuestion] = []
    groups: dict[str, str] = {}
    for path in paths:
        group = group_name(path, splits_path)
        for q in load_dataset(path):
            if len(paths) > 1:
                q = q.model_copy(update={"id": f"{group}/{q.id}"})
            if q.id in groups:
                raise GoldSetError(f"{path}: identifiant « {q.id} » déjà utilisé")
            groups[q.id] = group
            questions.append(q)
    return questions, groups


def test_files(path: Path = SPLITS_PATH) -> set[Path]:
    """The frozen half's files (resolved): nothing may be fitted or tuned on them."""
    return {Path(g["file"]).resolve() for g in load_splits(path).values() if g["split"] == "test"}
