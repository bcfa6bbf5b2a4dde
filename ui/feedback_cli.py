"""`aimf feedback export [--format jsonl|csv] [--out FILE]`: the avis left in the chat, for the evaluators."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = sub.add_parser("export", help="écrire les avis (question, réponse, citations, rédacteur, date)",
                            description="Écrire les avis laissés dans l'interface (JSON lines ou CSV).")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="format de sortie (jsonl par défaut)")
    export.add_argument("--out", type=Path, metavar="FICHIER", help="fichier à écrire (par défaut : la sortie standard)")


def run(args: argparse.Namespace) -> int:
    from rag.settings import get_settings
    from ui.feedback import FeedbackStore, export_lines

    settings = get_settings()
    store = FeedbackStore.from_settings(settings)  # rows past the retention are purged first
    rows = store.rows()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", encoding="utf-8", newline="") as f:
            f.writelines(export_lines(rows, args.format))
        print(f"{len(rows)} avis écrit(s) dans {args.out}", file=sys.stderr)
    else:
        sys.stdout.writelines(export_lines(rows, args.format))
        if not rows:
            print(f"Aucun avis enregistré pour l'instant ({settings.feedback_path}).", file=sys.stderr)
    return 0
