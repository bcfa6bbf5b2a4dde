"""`aimf inspect FICHIER`: what the assistant reads from a file (pages, sections, tables as sentences, running
headers and footers left out, warnings), so a user can see why an answer is missing. Nothing is indexed."""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FICHIER", help="le document à examiner (.pdf, .docx, .html, .md, .txt)")
    p.add_argument("--passages", action="store_true", help="montrer aussi les passages tels qu'ils seraient indexés")
    p.add_argument("--json", action="store_true", help="tout afficher en une ligne JSON")


def describe(path: Path, with_passages: bool = False) -> dict:
    """The file as the assistant reads it. Raises LoadError with the user's message when it cannot be read."""
    from ingest.chunking import chunk_document
    from ingest.loaders import load
    from ingest.manifest import storable
    from rag.settings import get_settings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        doc = load(path)
    doc.warnings.extend(m for m in dict.fromkeys(str(w.message) for w in caught) if m not in doc.warnings)
    pages = []
    starts = doc.page_starts or [0]
    bounds = list(zip(starts, starts[1:] + [len(doc.text)]))
    for number, (start, end) in enumerate(bounds, start=1):
        heads = [h for off, h in doc.headings if start <= off < end]
        tables = [{"caption": t.caption, "rows": t.rows} for t in doc.tables if start <= t.start < end]
        pages.append({"page": number if doc.page_starts else None, "sections": heads, "tables": tables,
                      "characters": end - start, "text": doc.text[start:end].strip()})
    out = {
        "file": storable(str(path)), "kind": doc.kind, "title": doc.title, "pages": doc.pages,
        "encoding": doc.encoding, "characters": len(doc.text), "warnings": doc.warnings,
        "dropped_running_lines": doc.dropped, "pages_without_text": doc.pages_without_text, "content": pages,
    }
    if with_passages:
        s = get_settings()
        out["passages"] = [
            {k: c.metadata.get(k) for k in ("page", "section", "start", "end")} | {"text": c.page_content}
            for c in chunk_document(doc, path.name, "", s.chunk_size, s.chunk_overlap)
        ]
    return out


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from ingest.loaders import LoadError

    err = Console(stderr=True, soft_wrap=True)
    if not args.file.is_file():
        err.print(f"[red]Erreur :[/] fichier introuvable : {escape(str(args.file))}")
        return 2
    try:
        info = describe(args.file, args.passages)
    except LoadError as exc:
        if args.json:
            print(json.dumps({"file": str(args.file), "error": str(exc)}, ensure_ascii=False))
        else:
            err.print(f"[red]✗[/] {escape(str(args.file))} : {escape(str(exc))}")
        return 1
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
        return 0
    _print(info, Console(soft_wrap=True))
    return 0


def _print(info: dict, out) -> None:
    from rich.markup import escape

    size = f", {info['pages']} page(s)" if info["pages"] else ""
    out.print(f"[bold]{escape(info['file'])}[/] — {info['kind'].upper()}{size}, {info['characters']} caractères lus")
    out.print(f"Titre : {escape(info['title'])}")
    if info["encoding"] and info["encoding"] != "utf-8":
        out.print(f"Encodage : {escape(info['encoding'])}")
    for w in info["warnings"]:
        out.print(f"[yellow]! {escape(w)}[/]")
    if info["dropped_running_lines"]:
        out.print("En-têtes et pieds de page répétés, laissés hors des passages :")
        for line in info["dropped_running_lines"]:
            out.print(f"  [dim]– {escape(line)}[/]")
    for page in info["content"]:
        if page["page"] is not None:
            out.print(f"\n[bold]Page {page['page']}[/] ({page['characters']} caractères)")
        for heading in page["sections"]:
            out.print(f"  § {escape(heading)}")
        for table in page["tables"]:
            out.print(f"  Tableau{' : ' + escape(table['caption']) if table['caption'] else ''} "
                      f"({len(table['rows'])} ligne(s), écrites en phrases)")
            for row in table["rows"]:
                out.print(f"    {escape(row)}")
        text = page["text"]
        if text:
            out.print("  " + escape(text[:600] + (" […]" if len(text) > 600 else "")).replace("\n", "\n  "))
    for i, p in enumerate(info.get("passages", []), start=1):
        where = f"p. {p['page']}, " if p["page"] else ""
        out.print(f"\n[bold]Passage {i}[/] ({where}section « {escape(p['section'] or '—')} », {p['start']}–{p['end']})")
        out.print(escape(p["text"]))
