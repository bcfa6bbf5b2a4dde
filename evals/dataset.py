"""Gold questions: JSONL gold sets and SQuAD-format files, loaded into one ``GoldQuestion`` model.

A JSONL line holds ``id``, ``lang`` (fr/en), ``question``, ``answer``, ``evidence`` (exact corpus strings),
``type``, ``answerable``; optionally ``key_terms`` (what a correct answer must contain; ``a|b`` = either),
``source`` (restricts relevant chunks to that document), ``review``/``note`` (lines made from feedback that a
person still has to check: loaded, but not run).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

# A French QA set (PIAF dev, SQuAD format) beside the checkout, for benchmarks and training; absent on most machines.
PIAF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "piaf" / "piaf-dev.json"


class GoldSetError(ValueError):
    """A gold-set file cannot be used as given; the message names the file and line."""


class GoldQuestion(BaseModel):
    id: str = Field(min_length=1)
    lang: Literal["fr", "en"]
    question: str = Field(min_length=1)
    answer: str = ""
    evidence: list[str] = Field(default_factory=list)
    type: str = "factual"
    answerable: bool = True
    key_terms: list[str] = Field(default_factory=list)
    source: str | None = None
    review: bool = False
    note: str = ""

    model_config = {"extra": "forbid"}

    @model_validator(mode="after")
    def _answerable_needs_support(self) -> "GoldQuestion":
        # A question waiting for review may lack its answer; any other answerable one must be checkable.
        if self.answerable and not self.review:
            if not self.answer.strip():
                raise ValueError("une question répondable doit avoir une réponse de référence (« answer »)")
            if not [e for e in self.evidence if e.strip()]:
                raise ValueError("une question répondable doit avoir au moins une preuve (« evidence »)")
        if any(not e.strip() for e in self.evidence):
            raise ValueError("« evidence » contient une chaîne vide")
        return self


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"champ « {where} » : {msg}" if where else msg)
    return " ; ".join(parts)


def load_jsonl(path: Path) -> list[GoldQuestion]:
    path = Path(path)
    questions: list[GoldQuestion] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldSetError(f"{path}:{lineno}: JSON invalide ({exc.msg}, colonne {exc.colno})") from None
        if not isinstance(raw, dict):
            raise GoldSetError(f"{path}:{lineno}: chaque ligne doit être un objet JSON")
        try:
            q = GoldQuestion.model_validate(raw)
        except ValidationError as exc:
            raise GoldSetError(f"{path}:{lineno}: {_describe(exc)}") from None
        if q.id in seen:
            raise GoldSetError(f"{path}:{lineno}: identifiant « {q.id} » déjà utilisé ligne {seen[q.id]}")
        seen[q.id] = lineno
        questions.append(q)
    if not questions:
        raise GoldSetError(f"{path}: aucune question")
    return questions


def is_squad(path: Path) -> bool:
    """SQuAD files are one JSON document with a top-level ``data`` list (gold sets are JSONL)."""
    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        return False
    with path.open(encoding="utf-8") as f:
        head = f.read(4096).lstrip()
    return head.startswith("{") and '"data"' in head


def from_squad(questions) -> list[GoldQuestion]:
    """``evals.squad.SquadQuestion`` -> GoldQuestion: each answer text is evidence, within its own paragraph."""
    from rag.lang import detect_lang

    out = []
    for q in questions:
        answers = list(dict.fromkeys(a.strip() for a in q.answers if a.strip()))
        out.append(GoldQuestion(
            id=q.id, lang=detect_lang(q.question), question=q.question, answer=answers[0] if answers else "",
            evidence=answers, type="squad", answerable=bool(answers), source=q.source,
        ))
    return out


def load_dataset(path: Path) -> list[GoldQuestion]:
    """A gold set (JSONL) or a SQuAD file (questions only; indexing is the runner's job)."""
    path = Path(path)
    if not path.is_file():
        raise GoldSetError(f"{path}: fichier introuvable")
    if is_squad(path):
        from evals.squad import load_squad

        try:
            return from_squad(load_squad(path)[1])
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise GoldSetError(f"{path}: fichier SQuAD invalide ({exc})") from None
    return load_jsonl(path)


def write_jsonl(questions: list[GoldQuestion], path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for q in questions:
            f.write(json.dumps(_line(q), ensure_ascii=False) + "\n")


def _line(q: GoldQuestion) -> dict:
    """The required fields always, the optional ones only when set (keeps files readable)."""
    d = q.model_dump()
    keep = ["id", "lang", "question", "answer", "evidence", "type", "answerable"]
    out = {k: d[k] for k in keep}
    for k in ("key_terms", "source", "review", "note"):
        if d[k]:
            out[k] = d[k]
    return out
