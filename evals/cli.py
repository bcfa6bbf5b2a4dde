"""`aimf eval run|compare|pool|from-feedback|gate|…`: each subcommand's module is imported only when it runs."""

from __future__ import annotations

import argparse
import importlib

SUBCOMMANDS = {
    "run": ("evals.runner", "poser un jeu de questions à l'assistant et mesurer ses réponses"),
    "compare": ("evals.compare", "comparer des essais côte à côte (écarts et intervalles de confiance)"),
    "from-feedback": ("evals.feedback", "transformer les avis des utilisateurs en questions de test"),
    "pool": ("evals.pool", "réunir plusieurs essais en un seul (validation croisée par groupe)"),
    "gate": ("evals.gate", "échouer quand une métrique passe sous son seuil (intégration continue)"),
    "off-topic": ("evals.off_topic", "poser des questions sur d'autres sujets : chaque réponse donnée est fausse"),
    "near-miss": ("evals.near_miss", "poser les questions du jeu avec un nom, une année ou un montant échangé pour un autre "
                                     "du corpus : les documents n'y répondent pas"),
    "fit-relevance": ("evals.fit_relevance", "réajuster le modèle de pertinence (seuil d'abstention) sur un fichier SQuAD"),
    "fit-answerable": ("evals.fit_answerable",
                       "réajuster le modèle qui décide de répondre (pertinence et lecteur entraîné) sur un fichier SQuAD"),
    "fit-cross-lingual": ("evals.fit_cross_lingual",
                          "réajuster les constantes entre langues (écart de cosinus, modèle cosinus seul, seuil de "
                          "phrase) sur la moitié dev"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="eval_command", metavar="ACTION", required=True)
    for name, (module, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        sp.set_defaults(_eval_module=module)
        # These modules import only the standard library and pydantic at top level: cheap to load for --help.
        importlib.import_module(module).add_arguments(sp)


def run(args: argparse.Namespace) -> int:
    return int(importlib.import_module(args._eval_module).run(args) or 0)
