"""The HTTP API of `aimf serve`: a thin, stateless skin over ``Assistant`` (the entry point of the chat and the CLI).

- ``POST /v1/chat/completions``: OpenAI-compatible, streamed (server-sent events) or not. The last user message is
  the question, the earlier messages drive the follow-up rewrite; ``model`` chooses the writer. The reply carries
  the ``[n]`` markers in its content, and extra fields ``citations`` (the objects of ``aimf ask --json``),
  ``abstained``, ``notices`` and ``generator``; streamed, they come in the last chunk, the one that ends the answer.
- ``POST /v1/search``: the hybrid retrieval's passages, with their cosine and estimated relevance.
- ``GET/POST /v1/documents``, ``DELETE /v1/documents/{source}``: the Documents tab's operations (administrator key).
- ``GET /v1/models``, ``GET /healthz``; OpenAPI documentation at ``/docs``.

Nothing is kept between requests: the conversation comes with each request, and any process can answer any request,
so that several processes sit behind a plain load balancer. Errors have OpenAI's shape
(``{"error": {"message", "type", "code"}}``) so that clients show their message.
"""

from __future__ import annotations

import hmac
import json
import logging
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

from fastapi import Depends, FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.answer import Answer
from rag.assistant import Assistant, QuestionError, StreamReset, to_passage
from rag.settings import Settings
from rag.store import IndexMismatchError, IndexMissingError, IndexUnavailableError

log = logging.getLogger("aimf.api")

# OpenAI model names -> writers
MODELS = {"aimf-extractive": "extractive", "aimf-llamacpp": "llamacpp", "aimf-openai": "openai"}
STATUS_SECONDS = 30.0  # how long the writers' availability (a probe of the LLM server) is reused
UPLOAD_OVERHEAD = 64 * 1024  # multipart headers around an uploaded file
LANG = "fr"


class ApiError(Exception):
    """An error for the client, in OpenAI's shape."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.headers = status, message, type_, code, headers


def error_body(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(error_body(exc.message, exc.type, exc.code), status_code=exc.status, headers=exc.headers)


# --------------------------------------------------------------------------------------------------- keys


def parse_keys(value: str | None) -> list[str]:
    return [k.strip() for k in (value or "").split(",") if k.strip()]


class Keys:
    """Bearer keys: users ask and search; administrators may also add and remove documents. With no key at all
    (only allowed on the loopback address), anyone may ask, and nobody may change the documents."""

    def __init__(self, users: list[str], admins: list[str]):
        self.users = [k.encode() for k in users]
        self.admins = [k.encode() for k in admins]

    @property
    def required(self) -> bool:
        return bool(self.users or self.admins)

    def role(self, authorization: str | None) -> str | None:
        """"admin", "user" or None (no key, or a wrong one). Every key is compared, in constant time."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        given = token.strip().encode()
        admin = any([hmac.compare_digest(given, k) for k in self.admins])
        user = any([hmac.compare_digest(given, k) for k in self.users])
        return "admin" if admin else "user" if user else None


UNAUTHORIZED = ApiError(401, "Clé d'API absente ou invalide.", "authentication_error", "invalid_api_key",
                        headers={"WWW-Authenticate": "Bearer"})


def require_user(request: Request) -> str:
    keys: Keys = request.app.state.keys
    role = keys.role(request.headers.get("authorization"))
    if role is None and keys.required:
        raise UNAUTHORIZED
    return role or "user"


def require_admin(request: Request) -> str:
    keys: Keys = request.app.state.keys
    role = keys.role(request.headers.get("authorization"))
    if role is None and keys.required:
        raise UNAUTHORIZED
    if role != "admin":
        raise ApiError(403, "Ajouter ou retirer des documents demande une clé d'administration (AIMF_API_ADMIN_KEYS).",
                       "permission_error", "admin_key_required")
    return role


# --------------------------------------------------------------------------------------------------- body limit


class BodyLimit:
    """Reads a request's body up to its limit before the application sees it: a larger one gets a 413 whether or not
    it announced its length (chunked uploads cannot slip past)."""

    def __init__(self, app, settings: Settings):
        self.app = app
        self.json_limit = settings.api_max_body_kb * 1024
        self.upload_limit = int(settings.upload_limit_mb * 1024 * 1024) + UPLOAD_OVERHEAD
        self.settings = settings

    def limit(self, method: str, path: str) -> int:
        return self.upload_limit if method == "POST" and path.rstrip("/") == "/v1/documents" else self.json_limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["method"], scope["path"])
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self.too_large(scope, receive, send, limit)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await self.too_large(scope, receive, send, limit)
                return
            chunks.append(body)
            more = message.get("more_body", False)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def too_large(self, scope, receive, send, limit: int) -> None:
        if limit == self.upload_limit:
            message = (f"Fichier trop volumineux : {self.settings.upload_limit_mb:g} Mo au plus par document "
                       "(AIMF_UI_MAX_UPLOAD_MB).")
        else:
            message = (f"Requête trop volumineuse : {self.settings.api_max_body_kb} Ko au plus (AIMF_API_MAX_BODY_KB). "
                       "Raccourcissez la question ou la conversation envoyée.")
        response = JSONResponse(error_body(message, "invalid_request_error", "request_too_large"), status_code=413,
                                headers={"Connection": "close"})
        await response(scope, receive, send)


# --------------------------------------------------------------------------------------------------- requests


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[Any] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens…: accepted, not used by the writers here
    model: str = Field("aimf-extractive", description="aimf-extractive, aimf-llamacpp or aimf-openai")
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    sources: list[str] | None = Field(None, description="Only these documents (paths as listed by /v1/documents).")
    k: int | None = Field(None, ge=1, le=50, description="Passages given to the writer (default AIMF_K).")


class SearchRequest(BaseModel):
    query: str
    k: int | None = Field(None, ge=1, le=50)
    sources: list[str] | None = Field(None, description="Only these documents, as `aimf ask --source`.")


def text_of(content: str | list[Any] | None) -> str:
    """A message's text: a string, or OpenAI's list of parts ({"type": "text", "text": …})."""
    if isinstance(content, str):
        return content
    parts = []
    for part in content or []:
        if isinstance(part, dict) and part.get("type", "text") == "text":
            parts.append(str(part.get("text", "")))
        elif isinstance(part, str):
            parts.append(part)
    return " ".join(parts)


def conversation(messages: list[Message]) -> tuple[str, list[dict[str, str]]]:
    """(question, history): the last user message, and the user and assistant messages before it."""
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last is None:
        raise ApiError(400, "Aucun message de l'utilisateur : la question est le dernier message de rôle « user ».",
                       code="no_user_message")
    history = [{"role": m.role, "content": text_of(m.content)} for m in messages[:last] if m.role in ("user", "assistant")]
    return text_of(messages[last].content), history


def source_filter(sources: list[str] | None) -> dict | None:
    """The same filter as `aimf ask --source` (one document, or any of several)."""
    sources = [s for s in (sources or []) if s]
    if not sources:
        return None
    return {"source": sources[0]} if len(sources) == 1 else {"source": {"$in": sources}}


def citation_fields(answer: Answer) -> dict[str, Any]:
    return {
        "citations": [c.model_dump() for c in answer.citations],
        "abstained": answer.abstained,
        "notices": list(answer.notices),
        "generator": answer.generator,
    }


# --------------------------------------------------------------------------------------------------- the app


def create_app(assistant: Assistant, settings: Settings) -> FastAPI:
    app = FastAPI(
        title="Assistant documentaire de l'AIMF",
        description="Réponses tirées des documents, avec leurs sources. Compatible avec l'API OpenAI "
                    "(`/v1/chat/completions`, `/v1/models`). Clé : `Authorization: Bearer …`.",
        version="1",
    )
    app.state.keys = Keys(parse_keys(settings.api_keys), parse_keys(settings.api_admin_keys))
    app.add_middleware(BodyLimit, settings=settings)
    status_cache: dict[str, Any] = {"at": -1e9, "value": None}
    ingest_lock = threading.Lock()  # one upload or removal at a time in this process (the ingest lock spans processes)

    # --- errors in OpenAI's shape ---------------------------------------------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = (exc.errors() or [{}])[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"Requête invalide : {where or 'corps'} : {first.get('msg', 'valeur refusée')}."
        return JSONResponse(error_body(message, "invalid_request_error", "invalid_request"), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        messages = {404: "Adresse inconnue.", 405: "Méthode non permise sur cette adresse."}
        message = messages.get(exc.status_code, str(exc.detail))
        return JSONResponse(error_body(message, "invalid_request_error", None), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed")
        return JSONResponse(error_body("Erreur interne : la requête n'a pas abouti.", "server_error", "internal_error"),
                            status_code=500)

    def index_error(exc: Exception) -> ApiError:
        if isinstance(exc, IndexUnavailableError):
            assistant.reset()  # the next request reconnects
            return ApiError(503, "Index momentanément indisponible : réessayez dans un instant.", "server_error",
                            "index_unavailable")
        if isinstance(exc, IndexMissingError):
            return ApiError(503, str(exc), "server_error", "index_missing")
        return ApiError(503, str(exc), "server_error", "index_mismatch")

    def question_error(exc: QuestionError, question: str) -> ApiError:
        too_long = len((question or "").strip()) > settings.max_question_chars
        return ApiError(413 if too_long else 400, str(exc), "invalid_request_error",
                        "question_too_long" if too_long else "invalid_question")

    def writer_status() -> dict[str, str | None]:
        now = time.monotonic()
        if now - status_cache["at"] > STATUS_SECONDS:
            status_cache["value"], status_cache["at"] = assistant.generator_status(), now
        return status_cache["value"]

    async def writer_for(model: str) -> str:
        name = MODELS.get(model)
        if name is None:
            raise ApiError(404, f"Modèle inconnu « {model[:60]} » : choisissez parmi {', '.join(MODELS)}.",
                           code="model_not_found")
        reason = (await run_in_threadpool(writer_status)).get(name)
        if reason:
            raise ApiError(400, f"Le modèle {model} est indisponible : {reason}.", code="model_unavailable")
        return name

    # --- health and models ------------------------------------------------------------------------------------
    @app.get("/healthz", tags=["service"], summary="Index joignable et modèle chargé (pour les répartiteurs de charge)")
    async def healthz() -> JSONResponse:
        def check() -> int:
            return assistant.retriever.store.count()

        try:
            chunks = await run_in_threadpool(check)
        except (IndexUnavailableError, IndexMissingError, IndexMismatchError) as exc:
            if isinstance(exc, IndexUnavailableError):
                assistant.reset()
            return JSONResponse({"status": "unavailable", "index": type(exc).__name__, "model": "ok"}, status_code=503)
        return JSONResponse({"status": "ok", "index": "ok", "model": "ok", "chunks": chunks})

    @app.get("/v1/models", tags=["OpenAI"], summary="Rédacteurs utilisables")
    async def models(role: str = Depends(require_user)) -> dict[str, Any]:
        status = await run_in_threadpool(writer_status)
        data = [{"id": model, "object": "model", "created": 0, "owned_by": "aimf"}
                for model, name in MODELS.items() if status.get(name) is None]
        return {"object": "list", "data": data}

    # --- chat -----------------------------------------------------------------------------------------------
    @app.post("/v1/chat/completions", tags=["OpenAI"], summary="Réponse citée (compatible OpenAI, flux SSE possible)")
    async def chat(body: ChatRequest, role: str = Depends(require_user)):
        question, history = conversation(body.messages)
        name = await writer_for(body.model)
        where = source_filter(body.sources)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if not body.stream:
            try:
                answer = await run_in_threadpool(assistant.answer, question, history, name, body.k, where)
            except QuestionError as exc:
                raise question_error(exc, question) from exc
            except (IndexUnavailableError, IndexMissingError, IndexMismatchError) as exc:
                raise index_error(exc) from exc
            return {
                "id": completion_id, "object": "chat.completion", "created": created, "model": body.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                             "finish_reason": "stop"}],
                **citation_fields(answer),
            }

        pieces = assistant.answer_stream(question, history, name, body.k, where)
        # Everything that can fail before the first piece (the question, the index) fails here, as an HTTP error.
        try:
            first = await run_in_threadpool(next, pieces, None)
        except QuestionError as exc:
            raise question_error(exc, question) from exc
        except (IndexUnavailableError, IndexMissingError, IndexMismatchError) as exc:
            raise index_error(exc) from exc
        return StreamingResponse(
            _events(pieces, first, completion_id, created, body.model, index_error),
            media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    # --- search -------------------------------------------------------------------------------------------------
    @app.post("/v1/search", tags=["AIMF"], summary="Passages retrouvés, avec leurs scores et leur pertinence estimée")
    async def search(body: SearchRequest, role: str = Depends(require_user)) -> dict[str, Any]:
        def run() -> list[dict[str, Any]]:
            query = assistant.validate(body.query)
            vector = assistant.embeddings.embed_query(query)
            docs = assistant.retriever.search(query, k=body.k or settings.k, where=source_filter(body.sources),
                                              query_vector=vector)
            out = []
            for doc in docs:
                passage = to_passage(doc)
                passage.relevance = round(assistant.relevance(query, passage, vector), 4)
                out.append({**passage.model_dump(), "sentence_score": round(float(doc.metadata.get("sentence_score",
                                                                                                  passage.score)), 4)})
            return out

        try:
            data = await run_in_threadpool(run)
        except QuestionError as exc:
            raise question_error(exc, body.query) from exc
        except (IndexUnavailableError, IndexMissingError, IndexMismatchError) as exc:
            raise index_error(exc) from exc
        return {"object": "list", "query": body.query.strip(), "data": data}

    # --- documents (administrators) ---------------------------------------------------------------------------------
    def listing() -> list[dict[str, Any]]:
        from ui.documents import indexed_dates

        dates = indexed_dates(settings.manifest_path)
        return [{**d, "indexed_at": d.get("indexed_at") or dates.get(d["source"], "")} for d in assistant.documents()]

    @app.get("/v1/documents", tags=["AIMF"], summary="Documents indexés (clé d'administration)")
    async def documents(role: str = Depends(require_admin)) -> dict[str, Any]:
        try:
            return {"object": "list", "data": await run_in_threadpool(listing)}
        except (IndexUnavailableError, IndexMissingError, IndexMismatchError) as exc:
            raise index_error(exc) from exc

    @app.post("/v1/documents", tags=["AIMF"], status_code=201,
              summary="Ajouter un document et l'indexer (clé d'administration) ; il répond dès la fin de l'appel")
    async def upload(file: UploadFile = File(...), role: str = Depends(require_admin)) -> dict[str, Any]:
        from ui.documents import UploadError, accept_upload, ingest_upload

        name = Path(file.filename or "").name
        with tempfile.TemporaryDirectory(prefix="aimf-upload-") as tmp:
            path = Path(tmp) / "upload"
            with path.open("wb") as out:
                while block := await file.read(1 << 20):
                    out.write(block)

            def index() -> tuple[bool, str, Path]:
                dest = accept_upload(path, name, settings.corpus_dir, settings.upload_limit_mb, LANG)
                with ingest_lock:  # indexed in a worker thread: other requests go on being answered meanwhile
                    ok, message = ingest_upload(dest, settings, assistant, LANG)
                return ok, message, dest

            try:
                ok, message, dest = await run_in_threadpool(index)
            except UploadError as exc:
                too_big = path.stat().st_size > settings.upload_limit_mb * 1024 * 1024
                raise ApiError(413 if too_big else 400, str(exc), code="upload_too_large" if too_big else "upload_refused")
        if not ok:
            raise ApiError(422, message, code="ingest_failed")
        source = dest.resolve().relative_to(settings.corpus_dir.resolve()).as_posix()
        return {"object": "document", "source": source, "message": message}

    @app.delete("/v1/documents/{source:path}", tags=["AIMF"],
                summary="Retirer un document du corpus et de l'index (clé d'administration)")
    async def remove(source: str, role: str = Depends(require_admin)) -> dict[str, Any]:
        corpus = settings.corpus_dir.resolve()
        path = (corpus / source).resolve()
        unknown = ApiError(404, f"Document inconnu : « {source[:200]} ».", code="document_not_found")
        if path == corpus or not path.is_relative_to(corpus):
            raise unknown

        def drop() -> bool:
            from ingest.pipeline import Ingestor

            if source not in {d["source"] for d in assistant.documents()}:
                raise unknown
            with ingest_lock:
                path.unlink(missing_ok=True)
                root = path.parent
                while not root.exists():
                    root = root.parent
                # The ingest pipeline removes from the index what disappeared from the folder, as `aimf ingest` does.
                Ingestor(settings, embeddings=assistant.embeddings, model_id=assistant.model_id).run([root])
                assistant.reset()
            return source not in {d["source"] for d in assistant.documents()}

        try:
            removed = await run_in_threadpool(drop)
        except (IndexUnavailableError, IndexMissingError, IndexMismatchError) as exc:
            raise index_error(exc) from exc
        if not removed:
            raise ApiError(409, f"« {source[:200]} » n'est pas dans le dossier du corpus de ce serveur : retirez-le là où "
                                "il a été indexé.", code="document_not_local")
        return {"object": "document.deleted", "source": source, "deleted": True}

    return app


async def _events(pieces: Iterator, first: Any, completion_id: str, created: int, model: str,
                  index_error) -> AsyncIterator[str]:
    """Server-sent events in OpenAI's chunk format; the last chunk carries the citations."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        data = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    piece = first
    try:
        while piece is not None:
            if isinstance(piece, Answer):
                # The final text is authoritative (a withdrawn beginning, see below, is not in it).
                yield chunk({}, "stop", text=piece.text, **citation_fields(piece))
            elif isinstance(piece, StreamReset):
                # The writer withdrew what it had streamed (it failed, or found no answer): a stream cannot take
                # text back, so the replacement starts on a new paragraph; the last chunk's `text` is the answer.
                yield chunk({"content": "\n\n"})
            elif piece:
                yield chunk({"content": piece})
            piece = await run_in_threadpool(next, pieces, None)
    except Exception as exc:  # noqa: BLE001 - reported in the stream: the status line is already sent
        if isinstance(exc, (IndexUnavailableError, IndexMissingError, IndexMismatchError)):
            err = index_error(exc)
            body = error_body(err.message, err.type, err.code)
        else:
            log.exception("streamed answer failed")
            body = error_body("Erreur interne : la réponse n'a pas pu être terminée.", "server_error", "internal_error")
        yield f"data: {json.dumps(body, ensure_ascii=False)}\n\n"
    finally:
        close = getattr(pieces, "close", None)
        if close:
            try:
                close()
            except ValueError:  # still running in its worker thread (the client left): it ends on its own
                pass
    yield "data: [DONE]\n\n"
