"""`aimf eval from-feedback FILE --out gold.jsonl`: users' thumbs become gold-set lines.

Input: `aimf feedback export` output (JSONL, a JSON list, or CSV): records with question, answer, citations,
a vote (``vote`` up/down as ``ui.feedback`` writes it, or ``rating`` +1/-1), comment, generator, time
(``created_at`` or ``time``), and optionally ``abstained`` and ``lang``. A thumbs-up answer gives the reference answer (markers removed) and its
cited quotes as evidence (or, when it was an abstention, an unanswerable question); a thumbs-down becomes a
question flagged ``review``: a person writes the right answer and evidence before it is run.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from pathlib import Path

from evals.dataset import GoldQuestion, write_jsonl

ABSTENTION_PREFIXES = ("les documents disponibles ne permettent pas", "the available documents do not answer")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, help="export de « aimf feedback export » (JSONL ou CSV)")
    p.add_argument("--out", type=Path, required=True, help="fichier JSONL du jeu de questions à écrire")


def read_records(path: Path) -> list[dict]:
    path = Path(path)
    if path.suffix.lower() == ".csv":
        # The export prefixes formula-like cells with an apostrophe (ui.feedback.csv_cell): removed again here.
        with path.open(encoding="utf-8", newline="") as f:
            return [{k: _uncell(v) for k, v in row.items()} for row in csv.DictReader(f)]
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        return json.loads(stripped)
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: JSON invalide ({exc.msg})") from None
    return records


def _uncell(value):
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r'":
        return value[1:]
    return value


def _rating(value) -> int:
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("up", "+", "👍", "like", "positive", "true"):
            return 1
        if v in ("down", "-", "👎", "dislike", "negative", "false"):
            return -1
        try:
            value = float(v)
        except ValueError:
            return 0
    if isinstance(value, bool):
        return 1 if value else -1
    return (value > 0) - (value < 0) if isinstance(value, (int, float)) else 0


def _flag(value) -> bool:
    """CSV gives "True"/"1"/"0"; JSON gives booleans."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "oui")
    return bool(value)


def _citations(value) -> list[dict]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError:
            return []
    return [c for c in value or [] if isinstance(c, dict)]


def convert(records: list[dict]) -> tuple[list[GoldQuestion], list[str]]:
    """(gold questions, warnings). Ids are stable (hash of question and time) so re-exports merge cleanly."""
    from evals.metrics import strip_markers
    from rag.lang import detect_lang

    out: list[GoldQuestion] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for i, rec in enumerate(records, 1):
        question = str(rec.get("question") or "").strip()
        rating = _rating(rec.get("rating", rec.get("vote")))
        when = rec.get("created_at") or rec.get("time") or ""
        if not question or rating == 0:
            warnings.append(f"enregistrement {i} ignoré (question ou note absente)")
            continue
        digest = hashlib.sha256(f"{question}\x00{when}".encode()).hexdigest()[:10]
        qid = f"fb-{digest}"
        if qid in seen:
            continue
        seen.add(qid)
        answer = strip_markers(str(rec.get("answer") or ""))
        quotes = list(dict.fromkeys(str(c.get("quote") or "").strip() for c in _citations(rec.get("citations"))))
        quotes = [q for q in quotes if q]
        comment = str(rec.get("comment") or "").strip()
        meta = f"avis {'+1' if rating > 0 else '-1'}, {rec.get('generator') or '?'}, {when or '?'}"
        note = f"{meta}" + (f" ; commentaire : {comment}" if comment else "")
        abstained = _flag(rec.get("abstained")) or answer.lower().startswith(ABSTENTION_PREFIXES)
        lang = rec.get("lang") if rec.get("lang") in ("fr", "en") else detect_lang(question)
        if rating > 0 and abstained:
            out.append(GoldQuestion(id=qid, lang=lang, question=question, evidence=[], type="feedback",
                                    answerable=False, note=note))
        elif rating > 0 and quotes:
            out.append(GoldQuestion(id=qid, lang=lang, question=question, answer=answer, evidence=quotes,
                                    type="feedback", answerable=True, note=note))
        else:
            why = "réponse jugée mauvaise" if rating < 0 else "réponse approuvée mais sans citation"
            out.append(GoldQuestion(id=qid, lang=lang, question=question, answer="", evidence=[],
                                    type="feedback", answerable=True, review=True,
                                    note=f"À RELIRE ({why}) : écrire la réponse et les preuves. {note}. "
                                         f"Réponse donnée : {answer[:300]}"))
    return out, warnings


def run(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        print(f"Erreur : fichier introuvable : {args.file}")
        return 2
    try:
        records = read_records(args.file)
    except (ValueError, json.JSONDecodeError) as exc:
        print(f"Erreur : {exc}")
        return 2
    questions, warnings = convert(records)
    for w in warnings:
        print(f"Avertissement : {w}")
    write_jsonl(questions, args.out)
    review = sum(q.review for q in questions)
    print(f"{len(questions)} question(s) écrites dans {args.out} : {len(questions) - review} prêtes, "
          f"{review} à relire (« review »: true, ignorées par aimf eval run tant qu'elles ne sont pas complétées).")
    return 0
