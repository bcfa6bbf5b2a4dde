"""`aimf ingest`: index the corpus (or the given files and folders) with a progress bar and a closing summary."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", type=Path, metavar="CHEMIN",
                   help="fichiers ou dossiers à indexer (par défaut : le dossier du corpus, AIMF_CORPUS_DIR)")
    p.add_argument("--rebuild", action="store_true",
                   help="tout réindexer depuis zéro (après un changement de modèle ou de découpage)")
    p.add_argument("--retry-failed", action="store_true",
                   help="relire aussi les fichiers en échec lors d'une indexation précédente et inchangés depuis")
    p.add_argument("--json", action="store_true", help="afficher le bilan en une ligne JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="sans barre de progression")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from ingest.manifest import ManifestError
    from ingest.pipeline import IngestAborted, Ingestor, UsageError
    from rag.settings import get_settings
    from rag.store import IndexMismatchError, IndexUnavailableError

    # soft_wrap: long paths and the `aimf ingest --rebuild` hint are never cut by a hard line break.
    err = Console(stderr=True, soft_wrap=True)
    settings = get_settings()
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        err.print(f"[red]Erreur :[/] chemin introuvable : {escape(', '.join(missing))}")
        return 2
    with _progress(err, disabled=args.quiet or args.json) as on_progress:
        try:
            # The model loads only when something needs embedding: an unchanged corpus is checked in a second.
            report = Ingestor(settings, on_progress=on_progress).run(
                args.paths or None, rebuild=args.rebuild, retry_failed=args.retry_failed)
        except UsageError as exc:
            err.print(f"[red]Erreur :[/] {escape(str(exc))}")
            return 2
        except (IndexUnavailableError, IndexMismatchError, ManifestError, IngestAborted) as exc:
            err.print(f"[red]Erreur :[/] {escape(str(exc))}")
            return 1
    if args.json:
        data = report.as_dict()
        data.pop("embed_seconds", None)
        print(json.dumps(data, ensure_ascii=False))
    else:
        _print_summary(report)
    return 1 if report.failed else 0


def _print_summary(report) -> None:
    from rich.console import Console
    from rich.markup import escape

    # File names and messages are the user's and the libraries' text, never markup ("rapport [v2].pdf").
    out = Console(soft_wrap=True)
    for e in report.errors:
        out.print(f"[red]✗[/] {escape(e['file'])} : {escape(e['message'])}")
    for w in report.warnings:
        out.print(f"[yellow]![/] {escape(w['file'])} : {escape(w['message'])}")
    for f in report.not_retried:
        out.print(f"[yellow]![/] {escape(f['file'])} : non relu, inchangé depuis son échec ({escape(f['message'])}) ; "
                  "aimf ingest --retry-failed pour réessayer")
    for s in report.skipped_files:
        out.print(f"[dim]– ignoré : {escape(s['file'])} ({escape(s['reason'])})[/]")
    out.print(
        f"Documents : {report.added} ajouté(s), {report.updated} mis à jour, {report.unchanged} inchangé(s), "
        f"{report.removed} retiré(s), {report.skipped} ignoré(s), {report.failed} en échec"
        + (f" (+ {len(report.not_retried)} en échec précédemment, non relu(s))" if report.not_retried else "") + ". "
        f"Passages écrits : {report.chunks_written} (index : {report.chunks_total}). Durée : {report.seconds:.1f} s."
    )
    if not report.failed:
        out.print('Posez une question : aimf ask "Quels projets pilotes l\'AIMF soutient-elle ?"  ·  ou lancez le chat : aimf ui')


class _progress:
    """A rich progress bar fed by the ingestor's (stage, done, total) callbacks."""

    def __init__(self, console, disabled: bool):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=console, disable=disabled, transient=False,
        )
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        self.progress.start()
        return self.update

    def __exit__(self, *exc):
        self.progress.stop()
        return False

    def update(self, stage: str, done: int, total: int) -> None:
        label = {"files": "Documents", "chunks": "Passages (lot en cours)"}.get(stage, stage)
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(label, total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)
