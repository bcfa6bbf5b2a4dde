"""SQuAD-format files (e.g. PIAF) as a corpus: one Markdown file per paragraph, indexed into its own collection
through the same ingest pipeline as user documents, so benchmarks measure what users get."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from rag.settings import Settings


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    answers: list[str]
    source: str  # the paragraph's file, relative to the corpus folder
    title: str
    context: str


def load_squad(path: Path) -> tuple[dict[str, tuple[str, str]], list[SquadQuestion]]:
    """(source -> (title, context), questions). Answers are matched by text, never by offset."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "data" not in data:
        raise ValueError(f"{path} n'est pas au format SQuAD (clé « data » absente)")
    paragraphs: dict[str, tuple[str, str]] = {}
    questions: list[SquadQuestion] = []
    for a_idx, article in enumerate(data["data"]):
        title = str(article.get("title", f"article {a_idx}")).replace("_", " ")
        for p_idx, para in enumerate(article.get("paragraphs", [])):
            slug = re.sub(r"[^\w]+", "-", title.lower()).strip("-")[:50] or "article"
            source = f"{a_idx:04d}-{slug}/{p_idx:03d}.md"
            paragraphs[source] = (title, para["context"])
            for qa in para.get("qas", []):
                answers = [a["text"] for a in qa.get("answers", []) if a.get("text")]
                questions.append(SquadQuestion(str(qa["id"]), qa["question"], answers, source, title, para["context"]))
    return paragraphs, questions


def article_index(source: str) -> int:
    """The position in the file of the article a paragraph's source belongs to ("0041-…/002.md" -> 41)."""
    return int(source.split("-", 1)[0])


# A half of the articles by their position in the file: "even" is articles 0, 2, 4…, "odd" 1, 3, 5…
PARITY = {"even": 0, "odd": 1}


def of_articles(questions: list, parity: str) -> list:
    """The questions of the even or odd articles: the half that a reader trained with `aimf train reader --half` on
    the other one never saw (evals/reader_data.split_articles splits by the same PARITY)."""
    return [q for q in questions if article_index(q.source) % 2 == PARITY[parity]]


def squad_collection_name(path: Path) -> str:
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]
    return f"squad-{digest}"


def write_corpus(paragraphs: dict[str, tuple[str, str]], folder: Path) -> Path:
    for source, (title, context) in paragraphs.items():
        target = folder / source
        target.parent.mkdir(parents=True, exist_ok=True)
        text = f"# {title}\n\n{context}\n"
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    return folder


def squad_settings(settings: Settings, path: Path) -> Settings:
    """Settings pointing at the SQuAD file's own corpus folder and collection (never the user's)."""
    name = squad_collection_name(path)
    return settings.model_copy(update={"collection": name, "corpus_dir": settings.data_dir / "squad" / name})


def index_squad(settings: Settings, path: Path, embeddings=None, on_progress=None):
    """Index the file's paragraphs; returns (settings for that collection, questions, ingest report)."""
    from ingest.pipeline import Ingestor
    from rag.store import IndexMismatchError

    paragraphs, questions = load_squad(path)
    sq = squad_settings(settings, path)
    write_corpus(paragraphs, sq.corpus_dir)
    ingestor = Ingestor(sq, embeddings=embeddings, on_progress=on_progress)
    try:
        report = ingestor.run()
    except IndexMismatchError:
        # This collection is ours alone (built from the file): rebuild it with the current settings.
        report = ingestor.run(rebuild=True)
    return sq, questions, report
