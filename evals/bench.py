"""`aimf bench …`: speed and memory measurements, each written to a JSON file (never asserted in tests)."""

from __future__ import annotations

import argparse
import importlib

# name -> module with add_arguments(parser) and run(args) -> int
BENCHES = {
    "ingest": ("evals.bench_ingest", "débit de l'indexation et temps d'une ré-indexation sans changement"),
    "retrieval": ("evals.bench_retrieval", "rappel, MRR et latence de la recherche sur un fichier SQuAD"),
    "answer": ("evals.bench_answer", "latence de bout en bout des réponses extractives"),
    "ui": ("ui.bench_ui", "démarrage de l'interface et délai du premier morceau de réponse"),
    "load": ("ui.bench_load", "utilisateurs simultanés contre une interface en marche"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="bench", metavar="MESURE", required=True)
    for name, (module, help_text) in BENCHES.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(_bench_module=module)
        try:
            importlib.import_module(module).add_arguments(sp)
        except ModuleNotFoundError:
            pass


def run(args: argparse.Namespace) -> int:
    return int(importlib.import_module(args._bench_module).run(args) or 0)
