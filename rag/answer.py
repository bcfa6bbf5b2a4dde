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
    # For LLM answers: the exact spans (inside `passage`) that support the sentences citing it, one per passage
    # sentence, in order; the quote above runs from the first to the last. Empty when nothing in the passage
    # supports what cites it: the quote is then "" (never a sentence that shares no word with the claim).
    quote_spans: list[tuple[int, int]] = Field(default_factory=list)


class QuoteSpan(BaseModel):
    """A span of a cited passage that supports one answer sentence."""

    n: int  # the citation number
    start: int  # offsets inside that citation's `passage`
    end: int
    text: str


class SentenceCheck(BaseModel):
    """One sentence of a generated answer, checked against the passages it cites (rag/grounding.py)."""

    text: str  # as shown, markers included
    start: int = -1  # offsets in Answer.text; -1 when the sentence was removed (AIMF_UNSUPPORTED=remove)
    end: int = -1
    markers: list[int] = Field(default_factory=list)  # citation numbers it carries (empty when removed)
    supported: bool
    # "" when supported, else why not: "no_citation", "words", "number", "name", "negation", "cross_lingual"
    reason: str = ""
    detail: str = ""  # the reason for users, in French (what was not found in the cited passages)
    missing: list[str] = Field(default_factory=list)  # the words, numbers or names not found
    quotes: list[QuoteSpan] = Field(default_factory=list)  # what supports it; empty when unsupported
    score: float | None = None  # the trained reader's support score, where that reader exists
    removed: bool = False


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
    # LLM answers: each sentence and whether the passages it cites support it (empty for extractive answers,
    # which are the passages' own sentences). Unsupported ones are marked or removed (AIMF_UNSUPPORTED).
    sentences: list[SentenceCheck] = Field(default_factory=list)
