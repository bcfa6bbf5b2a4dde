"""`aimf`: one command, thin dispatcher. Each subcommand's module is imported only when it runs, so `aimf --help`
stays instant."""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module with `add_arguments(parser)` and `run(args) -> int`, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "ingest": ("ingest.cli", "indexer des documents (dossier corpus/ par défaut)"),
    "inspect": ("ingest.inspect", "montrer ce que l'assistant lit d'un fichier (pages, sections, tableaux, avertissements)"),
    "ask": ("rag.cli", "poser une question aux documents"),
    "ui": ("ui.cli", "lancer l'interface de discussion dans le navigateur"),
    "serve": ("ui.serve_cli", "lancer l'API HTTP (compatible OpenAI) pour d'autres outils"),
    "eval": ("evals.cli", "mesurer la qualité des réponses sur un jeu de questions"),
    "train": ("evals.train_reader", "entraîner le lecteur de réponses courtes (aimf train reader)"),
    "bench": ("evals.bench", "mesurer vitesse et mémoire (ingest, retrieval, ui, load)"),
    "feedback": ("ui.feedback_cli", "exporter les avis laissés dans l'interface"),
    "doctor": ("rag.doctor", "vérifier l'installation et dire quoi corriger"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aimf",
        description="Assistant documentaire de l'AIMF : des réponses tirées de vos documents, avec leurs sources.",
        epilog="Exemple : aimf ingest && aimf ask \"Quelle ville préside la commission ?\"",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMANDE")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        if only in (None, name):
            # Arguments are declared by the subcommand's own module, imported only for the one being run.
            if only == name:
                importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    name = next((a for a in argv if not a.startswith("-")), None)
    if name not in COMMANDS:
        parser = build_parser()
        if name is None and not argv:
            parser.print_help()
            return 2
        parser.parse_args(argv)  # prints help or the usage error (exit 2)
        return 2
    parser = build_parser(only=name)
    args = parser.parse_args(argv)
    module = importlib.import_module(COMMANDS[name][0])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("Interrompu.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
