"""`aimf eval gate --summary DIR/summary.json [--floors evals/floors.json]`: exit 1 when a metric is below its floor.

floors.json: {"floors": {metric: minimum}, ...}; a metric missing from the summary or undefined (null) fails too,
since "not measured" must not pass as "fine"."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

FLOORS_PATH = Path(__file__).with_name("floors.json")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--summary", type=Path, required=True, help="summary.json d'un essai (aimf eval run)")
    p.add_argument("--floors", type=Path, default=FLOORS_PATH, help=f"seuils minimaux (par défaut : {FLOORS_PATH})")


def load_floors(path: Path) -> dict[str, float]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {k: float(v) for k, v in data.get("floors", data).items() if not k.startswith("_")}


def check(summary: dict, floors: dict[str, float]) -> list[str]:
    """One line per metric below its floor (empty: the gate passes)."""
    failures = []
    for name, floor in floors.items():
        value = summary.get(name)
        if value is None:
            failures.append(f"{name} : non mesuré (seuil {floor:g})")
        elif value < floor:
            failures.append(f"{name} : {value:g} < seuil {floor:g} (écart {value - floor:+.4f})")
    return failures


def run(args: argparse.Namespace) -> int:
    for path in (args.summary, args.floors):
        if not Path(path).is_file():
            print(f"Erreur : fichier introuvable : {path}")
            return 2
    summary = json.loads(Path(args.summary).read_text(encoding="utf-8"))
    floors = load_floors(args.floors)
    failures = check(summary, floors)
    if failures:
        print(f"Échec du contrôle qualité : {len(failures)} métrique(s) sous le seuil ({args.floors})")
        for line in failures:
            print(f"  ✗ {line}")
        return 1
    shown = ", ".join(f"{k} {summary[k]:g} ≥ {v:g}" for k, v in floors.items())
    print(f"Contrôle qualité réussi ({len(floors)} métriques) : {shown}")
    return 0
