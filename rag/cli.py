"""`aimf ask`: one question, its answer and its numbered sources."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("question", help="la question, entre guillemets")
    p.add_argument("--generator", "-g", choices=["extractive", "llamacpp", "openai"],
                   help="qui rédige la réponse (par défaut : AIMF_GENERATOR, sinon extractive)")
    p.add_argument("--k", type=int, help="nombre de passages récupérés (par défaut : AIMF_K)")
    p.add_argument("--source", action="append", metavar="FICHIER",
                   help="ne chercher que dans ce document (chemin relatif au corpus) ; répétable")
    p.add_argument("--json", action="store_true", help="afficher la réponse complète en JSON")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="montrer la question reformulée, les passages et leurs scores, et le prompt envoyé au modèle")
    p.add_argument("--log-json", action="store_true", help="journal au format JSON lines (sur la sortie d'erreur)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from rag.assistant import Assistant, QuestionError
    from rag.observability import configure_logging
    from rag.settings import get_settings
    from rag.store import IndexMismatchError, IndexMissingError, IndexUnavailableError

    err = Console(stderr=True)
    settings = get_settings()
    configure_logging(settings, json_lines=args.log_json or None, level=20 if (args.verbose or args.log_json) else 30)
    if args.k is not None and not 1 <= args.k <= 50:
        err.print("[red]Erreur :[/] --k doit être compris entre 1 et 50.")
        return 2
    if not args.question or not args.question.strip():
        err.print("[red]Erreur :[/] la question est vide : écrivez une question.")
        return 2
    where = None
    if args.source:
        where = {"source": args.source[0]} if len(args.source) == 1 else {"source": {"$in": args.source}}
    try:
        assistant = Assistant(settings)
        answer = assistant.answer(args.question, generator=args.generator, k=args.k, where=where, verbose=args.verbose)
    except QuestionError as exc:
        err.print(f"[red]Erreur :[/] {exc}")
        return 2
    except (IndexUnavailableError, IndexMismatchError, IndexMissingError) as exc:
        err.print(f"[red]Erreur :[/] {exc}")
        return 1
    if args.json:
        print(json.dumps(answer.model_dump(exclude={"prompt"} if not args.verbose else None), ensure_ascii=False, indent=2))
        return 0
    print_answer(answer, verbose=args.verbose)
    return 0


UNSUPPORTED_LABEL = "non vérifié"


def marked_text(answer) -> str:
    """The answer's text (rich markup) with each sentence its cited passages do not support marked in place."""
    from rich.markup import escape

    out, last = [], 0
    for s in sorted((s for s in answer.sentences if not s.supported and not s.removed), key=lambda s: s.start):
        out.append(escape(answer.text[last : s.end]))
        out.append(f" [bold yellow]⚠ {UNSUPPORTED_LABEL} ({escape(s.detail)})[/]")
        last = s.end
    out.append(escape(answer.text[last:]))
    return "".join(out)


def print_answer(answer, verbose: bool = False) -> None:
    from rich.console import Console
    from rich.markup import escape

    out = Console(highlight=False)
    if verbose:
        out.print(f"[dim]Question autonome :[/] {escape(answer.standalone_question)}")
        for i, p in enumerate(answer.retrieved, 1):
            estimate = "" if p.relevance is None else f" · pertinence estimée {round(p.relevance * 100)} %"
            out.print(f"[dim]  passage {i} · cosinus {p.score:.3f}{estimate} · {escape(p.source)} · "
                      f"{escape(p.text[:120])}…[/]")
        if answer.prompt:
            out.rule("Prompt envoyé au modèle")
            out.print(escape(answer.prompt))
            out.rule()
    for notice in answer.notices:
        out.print(f"[yellow]{escape(notice)}[/]")
    out.print(marked_text(answer))
    removed = [s for s in answer.sentences if s.removed]
    if removed:
        out.print(f"[yellow]{len(removed)} phrase(s) retirée(s) : les passages cités ne les appuyaient pas.[/]")
    if answer.citations:
        out.print("\n[bold]Sources[/]")
        for c in answer.citations:
            where = f", page {c.page}" if c.page else ""
            quote = f"« {escape(c.quote)} »" if c.quote else "[dim](aucun passage n'appuie ce qui le cite)[/]"
            out.print(f"[{c.n}] {escape(c.title or c.source)}{where} ({escape(c.source)}) — {quote}")
    if answer.further:
        label = "Pour aller plus loin" if answer.lang == "fr" else "Further reading"
        if not answer.abstained:
            label = "Également retrouvé" if answer.lang == "fr" else "Also retrieved"
        out.print(f"\n[bold]{label}[/]")
        for p in answer.further:
            where = f", page {p.page}" if p.page else ""
            out.print(f"- {escape(p.title or p.source)}{where} : {escape(p.text[:160])}…")
    sys.stdout.flush()
