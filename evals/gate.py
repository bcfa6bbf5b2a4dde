"""`aimf eval gate --summary DIR/summary.json [--floors evals/floors.json]`: exit 1 when a metric is below its floor.

floors.json: {"floors": {metric: minimum}, ...}; a metric missing from the summary or undefined (null) fails too,
since "not measured" must not pass as "fine" — unless the summary says why it does not apply (``<metric>_note``,
e.g. faithfulness for the extractive writer), which is printed instead. Summaries written under older metric names
are read under today's."""

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


def not_applicable(summary: dict, floors: dict[str, float]) -> dict[str, str]:
    """Floored metrics the summary declares not applicable to this run, with its reason."""
    return {name: summary[f"{name}_note"] for name in floors
            if summary.get(name) is None and summary.get(f"{name}_note")}


def check(summary: dict, floors: dict[str, float]) -> list[str]:
    """One line per metric below its floor (empty: the gate passes)."""
    failures = []
    skipped = not_applicable(summary, floors)
    for name, floor in floors.items():
        value = summary.get(name)
        if name in skipped:
            continue
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
    from evals.metrics import upgrade

    summary = upgrade(json.loads(Path(args.summary).read_text(encoding="utf-8")))
    floors = load_floors(args.floors)
    failures = check(summary, floors)
    for name, why in not_applicable(summary, floors).items():
        print(f"  – {name} : sans objet ({why})")
    if failures:
        print(f"Échec du contrôle qualité : {len(failures)} métrique(s) sous le seuil ({args.floors})")
        for line in failures:
            print(f"  ✗ {line}")
        return 1
    measured = {k: v for k, v in floors.items() if summary.get(k) is not None}
    shown = ", ".join(f"{k} {summary[k]:g} ≥ {v:g}" for k, v in measured.items())
    print(f"Contrôle qualité réussi ({len(measured)} métriques) : {shown}")
    return 0
