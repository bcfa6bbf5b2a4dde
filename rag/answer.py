"""The answer contract shared by the CLI, the UI and the evaluation suite."""

from __future__ import annotations

from pydantic import BaseModel, Field

ABSTAIN_MESSAGES = {
    "fr": "Les documents disponibles ne permettent pas de répondre à cette question.",
    "en": "The available documents do not answer this question.",
}
LLM_UNAVAILABLE_NOTICE = {
    "fr": "Le modèle de langue est indisponible : réponse extractive tirée directement des documents.",
    "en": "The language model is unavailable: extractive answer taken directly from the documents.",
}


class Passage(BaseModel):
    """A retrieved chunk, as shown to writers and users."""

    chunk_id: str
    source: str
    title: str = ""
    page: int | None = None
    section: str = ""
    text: str
    start: int = 0
    end: int = 0
    score: float = 0.0  # cosine similarity to the question (0-1)
    rank_score: float = 0.0  # fused ranking score (internal order)
    lang: str = ""
    # Estimated probability that the passage answers the question (rag/relevance.py): the relevance users see. A
    # cosine would not do: e5 scores an unrelated French passage about 0.8.
    relevance: float | None = None


class Citation(BaseModel):
    n: int
    source: str
    title: str = ""
    page: int | None = None
    quote: str  # exact supporting sentence(s) from the passage
    start: int  # offsets of the quote in the document's extracted text
    end: int
    score: float
    relevance: float | None = None  # the cited passage's estimated relevance (see Passage)
    chunk_id: str = ""
    section: str = ""
    passage: str = ""  # the whole passage, so a UI can show the quote in context
    quote_start: int = 0  # offsets of the quote inside `passage`
    quote_end: int = 0


class Timings(BaseModel):
    retrieve: float = 0.0  # milliseconds
    generate: float = 0.0
    total: float = 0.0


class Answer(BaseModel):
    text: str
    citations: list[Citation] = Field(default_factory=list)
    abstained: bool = False
    timings: Timings = Field(default_factory=Timings)
    lang: str = "fr"
    question: str = ""
    standalone_question: str = ""
    generator: str = "extractive"
    retrieved: list[Passage] = Field(default_factory=list)  # everything retrieval returned, best first
    further: list[Passage] = Field(default_factory=list)  # "pour aller plus loin" / "also retrieved"
    removed_markers: list[int] = Field(default_factory=list)  # markers the writer used that matched no passage
    notices: list[str] = Field(default_factory=list)
    prompt: str | None = None  # the exact prompt sent to an LLM (verbose mode)
