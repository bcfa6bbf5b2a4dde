"""The public entry point: ``Assistant.answer`` and ``Assistant.answer_stream``, used alike by the CLI, the UI and
the evaluation suite, so what is measured is what users get.

question -> standalone question -> hybrid retrieval -> whether to answer (the best passage's relevance and the trained
reader's confidence, rag/relevance.answerable) -> writer -> citation check -> Answer
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
import threading
import time
from typing import Any, Iterable, Iterator

import numpy as np
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda

from rag.answer import ABSTAIN_MESSAGES, LLM_UNAVAILABLE_NOTICE, Answer, Passage, Timings
from rag.citations import PENDING, MarkerNumbering, check_citations, neutralise_markers
from rag.generators.base import GeneratorUnavailable, NotFoundFilter, says_not_found, strip_not_found
from rag.generators.extractive import ExtractiveGenerator, SentenceVectors
from rag.lang import detect_lang
from rag.observability import log_answer
from rag.retrieval import HybridRetriever
from rag.relevance import answerable, coverage, reader_decides, support
from rag.question import constraints, context_text, missing, normalize_typography, parts, untranslated_names
from rag.reader import RELEVANCE_FLOOR, RELEVANCE_PASSAGES, Reader, ReadingCache
from rag.rewrite import rewrite
from rag.settings import Settings, get_settings
from rag.store import IndexUnavailableError, Store, check_manifest
from rag.sentences import sentence_key
from rag.text import fold, split_sentences, stream_pieces, tokens

log = logging.getLogger("aimf.ask")

FURTHER_READING = 3
# Passages searched for each part of a two-part question (rag.question.parts), kept among the k passages: three
# each fill k=5 (gold dev half: cross-document containment 0.583 with two, 0.667 with three, nothing else changed).
PART_PASSAGES = 3


class QuestionError(ValueError):
    """The question cannot be asked as given (empty, too long); the message is for the user."""


class Assistant:
    def __init__(self, settings: Settings | None = None, embeddings=None, model_id: str | None = None):
        from rag.embeddings import load_embeddings, model_identity

        self.settings = settings or get_settings()
        self.embeddings = embeddings if embeddings is not None else load_embeddings(self.settings)
        self.model_id = model_id or model_identity(self.settings)
        self._store: Store | None = None
        self._retriever: HybridRetriever | None = None
        self._lock = threading.Lock()
        self.sentence_vectors = SentenceVectors(self.embeddings)
        self._generators: dict[str, Any] = {}
        self._readings = ReadingCache()

    # --- components, opened lazily and re-opened after an outage ---------------------------------------------
    @property
    def retriever(self) -> HybridRetriever:
        with self._lock:
            if self._retriever is None:
                check_manifest(self.settings)  # a damaged manifest is reported now, before any answer
                self._store = Store.open(self.settings, self.model_id)
                self._retriever = HybridRetriever(
                    store=self._store, embeddings=self.embeddings, k=self.settings.k, fetch_k=self.settings.fetch_k,
                    exact_max_chunks=self.settings.exact_search_max_chunks, sentence_cache=self.sentence_vectors,
                )
            return self._retriever

    def reset(self) -> None:
        """Forget the connection (after the index was unavailable) so the next question reconnects."""
        with self._lock:
            self._retriever = None
            self._store = None

    def warm_up(self, prime_sentences_up_to: int = 2000) -> None:
        """Load the model and the lexical index and run one search. Sentence vectors normally come from the index
        with the passages; when it was built without them, a small corpus has its sentences embedded now, so that
        the first user's answer is as fast as the next ones. The trained reader, where one ships, is loaded and
        run once too."""
        from rag.sentences import sentence_keys

        lexical = self.retriever.lexical()
        self.retriever.search("bonjour")
        if self._reader is not None:
            self._reader.read("bonjour", [("", "Bonjour à tous.")])
        if not self.settings.sentence_vectors and len(lexical) <= prime_sentences_up_to // 10:
            sentences = [key for d in lexical.docs for key in sentence_keys(d.page_content)]
            self.sentence_vectors(sentences[:prime_sentences_up_to])

    def generator(self, name: str):
        if name == "extractive":
            return self._extractive()
        if name not in self._generators:
            from rag.generators.llm import make_generator

            self._generators[name] = make_generator(self.settings, name)
        return self._generators[name]

    def _extractive(self) -> ExtractiveGenerator:
        """The extractive writer: the answer of its own, and the fallback of every LLM writer."""
        return ExtractiveGenerator(self.sentence_vectors, idf=self._idf, reader=self._reading)

    def generator_status(self) -> dict[str, str | None]:
        """Writer name -> None when usable, else the reason it is not."""
        from rag.generators.llm import available

        return {"extractive": None, "llamacpp": available(self.settings, "llamacpp"), "openai": available(self.settings, "openai")}

    def _idf(self, term: str) -> float | None:
        """IDF of a term in the corpus; None for a word the corpus never uses."""
        # Read many times per question, just after the search that refreshed the index: checking the collection's
        # size again on every word cost ~1 ms each (over 100 ms a question).
        lexical = self.retriever.lexical(fresh=False)
        if lexical.bm25 is None:
            return 1.0
        return lexical.idf(term)

    # --- the chain --------------------------------------------------------------------------------------------
    def validate(self, question: str) -> str:
        if question is None or not str(question).strip():
            raise QuestionError("La question est vide : écrivez une question.")
        question = normalize_typography(str(question)).strip()
        if len(question) > self.settings.max_question_chars:
            raise QuestionError(
                f"La question est trop longue ({len(question)} caractères, maximum {self.settings.max_question_chars}) : "
                "résumez-la en une ou deux phrases."
            )
        return question

    def answer(self, question: str, history: Iterable | None = None, generator: str | None = None,
               k: int | None = None, where: dict | None = None, verbose: bool = False) -> Answer:
        final = None
        for piece in self.answer_stream(question, history, generator, k, where, verbose):
            if isinstance(piece, Answer):
                final = piece
        assert final is not None
        return final

    def answer_stream(self, question: str, history: Iterable | None = None, generator: str | None = None,
                      k: int | None = None, where: dict | None = None, verbose: bool = False) -> Iterator[str | Answer]:
        """Yield text pieces as the answer is written, then the final ``Answer`` (whose text is authoritative).

        An LLM's text is streamed only once it cites a passage. If text already streamed is then withdrawn (the
        model failed mid-answer, or ended by saying the passages do not answer), a ``StreamReset`` is yielded: an
        empty string, so plain concatenation is unaffected, that tells a display to clear what it showed before
        the replacement text arrives."""
        t0 = time.perf_counter()
        question = self.validate(question)
        name = generator or self.settings.generator
        lang = detect_lang(question)
        error = None
        result: Answer | None = None
        try:
            # A model that failed while rewriting the question (down, or hanging until the timeout) is not asked again
            # for the answer: the user would wait for the timeout twice.
            llm_failures: list[str] = []
            standalone = rewrite(question, history, self._llm_rewriter(name, llm_failures))
            query_vector = self.embeddings.embed_query(standalone)
            docs = self.retriever.search(standalone, k=k or self.settings.k, where=where, query_vector=query_vector)
            docs = self._with_parts(standalone, docs, where)
            passages = [to_passage(d) for d in docs]
            t_retrieved = time.perf_counter()
            base = dict(question=question, standalone_question=standalone, lang=lang, generator=name, retrieved=passages)
            reason = self._abstain_reason(standalone, passages, query_vector)
            if reason:
                result = self._abstention(base, passages, reason)
            else:
                result = yield from self._write(name, standalone, passages, lang, query_vector, base, verbose,
                                                failed=llm_failures[0] if llm_failures else None)
            result.timings = Timings(
                retrieve=round((t_retrieved - t0) * 1000, 2),
                generate=round((time.perf_counter() - t_retrieved) * 1000, 2),
                total=round((time.perf_counter() - t0) * 1000, 2),
            )
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, IndexUnavailableError):
                self.reset()  # the next question reconnects: answers resume by themselves once Chroma is back
            raise
        finally:
            # The writer that actually wrote (the extractive one after an LLM fallback), not merely the one asked for.
            log_answer(self.settings, question, result.generator if result is not None else name, result, error)
        if result.abstained:
            yield result.text
        yield result

    def _with_parts(self, question: str, docs: list[Document], where: dict | None) -> list[Document]:
        """A question in two parts (two asks, two subjects set side by side) may find its parts in two documents, and
        the search for the whole question ranks the passages of the better-matched part first: each part is also
        searched on its own, and its best passages take the last places of the list if they are not in it."""
        queries = parts(question)
        if not queries or not docs:
            return docs
        found = [self.retriever.search(query, k=PART_PASSAGES, where=where) for query in queries]
        # each part's best passage first, then each part's second
        picked = list(dict.fromkeys(d.id for rank in itertools.zip_longest(*found) for d in rank if d))[: len(docs)]
        by_id = {d.id: d for hits in found for d in hits}
        filling = [d.id for d in docs if d.id not in picked][: len(docs) - len(picked)]
        keep = set(picked) | set(filling)
        present = {d.id for d in docs}
        return [d for d in docs if d.id in keep] + [by_id[i] for i in picked if i not in present]

    def _write(self, name: str, question: str, passages: list[Passage], lang: str, query_vector, base: dict,
               verbose: bool, failed: str | None = None):
        notices: list[str] = []
        prompt = None
        if name != "extractive":
            shown = False  # some of the model's text was streamed to the caller
            try:
                if failed:
                    raise GeneratorUnavailable(failed)
                writer = self.generator(name)
                if verbose:
                    from rag.generators.prompt import render_prompt

                    # The writer's own settings decide how passages are trimmed: show exactly what it is sent.
                    prompt = render_prompt(question, passages, lang, settings=self.settings)
                raw = ""
                # AIMF_UNSUPPORTED=remove: nothing is shown before every sentence is checked (one may be dropped).
                remove = self.settings.unsupported == "remove"
                token_filter = NotFoundFilter()  # the not-found token inside a cited answer is noise: never shown
                streamer = _MarkerStream(len(passages))
                pending = ""  # renumbered text not shown yet
                pieces = writer.stream(question, passages, lang)
                try:
                    for piece in pieces:
                        raw += piece
                        if says_not_found(raw):
                            break  # the answer will be an abstention: stop the model now
                        pending += streamer.feed(token_filter.feed(piece))
                        # Nothing is shown before the text cites a passage: a model that cites nothing is replaced
                        # by the extractive answer, and the caller must not have seen its text.
                        if pending and streamer.cited and not remove:
                            yield pending
                            shown, pending = True, ""
                finally:
                    close = getattr(pieces, "close", None)
                    if close:
                        close()
                if says_not_found(raw):
                    if shown:
                        yield StreamReset()
                    answer = self._abstention(base, passages, "llm")
                    answer.prompt = prompt
                    return answer
                pending += streamer.feed(token_filter.flush()) + streamer.flush()
                checked = check_citations(strip_not_found(raw), passages)
                grounded = self._ground(checked, passages, lang) if checked.citations else None
                if grounded is not None and any(s.supported and s.markers for s in grounded.sentences):
                    for text in stream_pieces(grounded.text) if remove else [pending] if pending else []:
                        yield text
                    return Answer(text=grounded.text, citations=grounded.citations, sentences=grounded.sentences,
                                  removed_markers=checked.removed_markers, prompt=prompt,
                                  further=_uncited(passages, grounded.citations), **base)
                if shown:  # every sentence unsupported: withdrawn, the extractive answer replaces it
                    yield StreamReset()
                notices.append(
                    ("La réponse du modèle ne citait aucun passage : réponse extractive à la place." if lang == "fr"
                     else "The model's answer cited no passage: extractive answer instead.") if grounded is None else
                    ("Les passages cités n'appuyaient pas la réponse du modèle : réponse extractive à la place."
                     if lang == "fr" else "The passages cited did not support the model's answer: extractive answer instead.")
                )
            except GeneratorUnavailable as exc:
                log.warning("writer %s unavailable: %s", name, exc)
                if shown:  # failed mid-answer: withdraw what was streamed, the extractive answer replaces it
                    yield StreamReset()
                notices.append(LLM_UNAVAILABLE_NOTICE.get(lang, LLM_UNAVAILABLE_NOTICE["fr"]))
        composed = self._extractive().compose(question, passages, lang, query_vector)
        if composed is None:
            answer = self._abstention(base, passages, "extractive")
            answer.notices = notices
            answer.prompt = prompt
            return answer
        checked = check_citations(composed.text, passages, composed.quotes)
        if composed.abstain:  # "given for Dakar, not for Abidjan": cited, but no answer
            return Answer(text=checked.text, citations=checked.citations, abstained=True, notices=notices,
                          further=_uncited(passages, checked.citations), prompt=prompt, **base)
        for piece in stream_pieces(checked.text):
            yield piece
        return Answer(text=checked.text, citations=checked.citations, removed_markers=checked.removed_markers,
                      further=_uncited(passages, checked.citations), notices=notices, prompt=prompt,
                      **{**base, "generator": base["generator"] if not notices else "extractive"})

    def _ground(self, checked, passages: list[Passage], lang: str):
        """Each sentence of a generated answer checked against the passages it cites (rag/grounding.py), with the
        trained reader's support score where that reader exists."""
        from rag.grounding import ground

        scorer, floor = self._support_scorer
        return ground(checked.text, passages, checked.cited, lang, self.settings.unsupported, scorer, floor)

    @functools.cached_property
    def _support_scorer(self):
        """The trained reader as support scorer and its floor, looked up once: loading it is a model load."""
        from rag.grounding import reader_scorer

        return reader_scorer(self.settings) or (None, 1.0)

    @functools.cached_property
    def _reader(self):
        """The trained span reader (rag/reader.py), loaded once; None when off, absent or for another base model."""
        return Reader.load(self.settings)

    def _reading(self, question: str, passages: list[tuple[str, str]],
                 within: list[list[tuple[int, int]] | None] | None = None):
        """The reader's reading of these (title, text) passages (with ``within[p]``, of the windows over these
        character ranges of passage p only), or None without a reader. Each window is read once per question: the
        relevance check, the rank of sentences and the short answer share what was read."""
        if self._reader is None or not passages:
            return None
        return self._readings.reading(self._reader, question, passages, within)

    def _abstention(self, base: dict, passages: list[Passage], reason: str) -> Answer:
        lang = base["lang"]
        return Answer(text=ABSTAIN_MESSAGES.get(lang, ABSTAIN_MESSAGES["fr"]), abstained=True,
                      further=passages[:FURTHER_READING], notices=[], **base)

    def _abstain_reason(self, question: str, passages: list[Passage], query_vector) -> str | None:
        if not passages:
            return "nothing retrieved"
        for p in passages:  # kept on the passage: it is the relevance users are shown
            p.relevance = round(self.relevance(question, p, query_vector), 4)
        best = max(p.relevance for p in passages)
        q_lang = detect_lang(question)
        cross_lingual = any(p.lang and p.lang != q_lang for p in passages)
        estimate = self._answerable(question, passages, best, cross_lingual)
        if estimate < self.settings.min_relevance:
            return f"below the floor (relevance {best:.2f}, answerability {estimate:.2f})"
        # A name may be translated in any passage of another language than the question's.
        missing = missing_names(question, passages, names=not cross_lingual)
        if missing:
            return f"names absent from the passages: {', '.join(missing)}"
        return None

    def _answerable(self, question: str, passages: list[Passage], best: float, cross_lingual: bool) -> float:
        """Estimated probability that the passages answer the question: the best passage's relevance, with the trained
        reader's most confident span in the best passages (rag/relevance.py: it follows paraphrases that words and
        vectors miss, and finds nothing in a passage about something else). The passages are read only when the
        reader can change the outcome. Across languages, where the reader's scores are not those the model was
        fitted on, the reader only rescues: a span it is sure of answers whatever the relevance."""
        floor = self.settings.min_relevance
        undecided = best < floor if cross_lingual else reader_decides(best, floor)
        if self._reader is None or not undecided:
            return best
        reading = self._reading(question, [(p.title, p.text) for p in passages[:RELEVANCE_PASSAGES]])
        span = reading.best() if reading is not None else None
        score = span.score if span is not None else None
        if cross_lingual:
            return 1.0 if score is not None and score >= RELEVANCE_FLOOR else best
        return answerable(best, score)

    def relevance(self, question: str, passage: Passage, query_vector) -> float:
        """Estimated probability that the passage answers the question (see rag/relevance.py)."""
        same = detect_lang(question) == (passage.lang or detect_lang(passage.text))
        return support(*self.relevance_features(question, passage, query_vector), same)

    def relevance_features(self, question: str, passage: Passage, query_vector) -> tuple[float, float, float]:
        """What the relevance model reads, in the order of its weights: the passage's cosine, its coverage of the
        question's words, and the cosine of its sentence closest to the question (also what it is fitted on)."""
        cover = coverage(set(tokens(question)), set(tokens(f"{passage.title} {passage.text}")), self._idf)
        return passage.score, cover, self._closest_sentence(passage, query_vector)

    def _closest_sentence(self, passage: Passage, query_vector) -> float:
        """Cosine of the passage's sentence closest to the question (stored at ingest, else embedded and cached)."""
        keys = [sentence_key(passage.text[a:b]) for a, b in split_sentences(passage.text)]
        if not keys:
            return passage.score
        return float((self.sentence_vectors(keys) @ np.asarray(query_vector, dtype=np.float32)).max())

    def _llm_rewriter(self, name: str, failures: list[str]):
        """The writer's model as question rewriter; a failure is recorded in ``failures`` and re-raised."""
        if name == "extractive":
            return None

        def llm_rewrite(question: str, previous: list[str]) -> str | None:
            from rag.generators.llm import rewrite_with_llm

            try:
                return rewrite_with_llm(self.generator(name), question, previous)
            except GeneratorUnavailable as exc:
                failures.append(str(exc))
                raise

        return llm_rewrite

    # --- documents ----------------------------------------------------------------------------------------
    def surroundings(self, source: str, start: int, end: int, chars: int = 600) -> tuple[str, str]:
        """The document's text before ``start`` and after ``end`` (about ``chars`` each), pieced together from its
        indexed chunks: what a reader sees around a quoted passage."""
        from rag.context import around

        docs = self.retriever.store.get(where={"source": source})
        return around([(int(d.metadata.get("start", 0)), d.page_content) for d in docs], start, end, chars)

    def documents(self) -> list[dict]:
        """Indexed documents (from the collection's metadata): source, title, kind, pages, chunks."""
        docs: dict[str, dict] = {}
        try:
            chunks = self.retriever.lexical().docs
        except IndexUnavailableError:
            self.reset()
            raise
        for d in chunks:
            m = d.metadata
            entry = docs.setdefault(m.get("source", "?"), {
                "source": m.get("source", "?"), "title": m.get("title", ""), "kind": m.get("kind", ""),
                "pages": 0, "chunks": 0, "indexed_at": m.get("indexed_at", ""),
            })
            entry["chunks"] += 1
            if m.get("page"):
                entry["pages"] = max(entry["pages"], int(m["page"]))
        return sorted(docs.values(), key=lambda e: e["source"])

    def as_runnable(self) -> RunnableLambda:
        """The chain as a LangChain runnable: {"question", "history"?, "generator"?} -> Answer."""
        return RunnableLambda(lambda x: self.answer(x["question"], x.get("history"), x.get("generator"), x.get("k"), x.get("where")))


def to_passage(doc: Document) -> Passage:
    """A retrieved chunk as every writer sees it; its own bracketed numbers ("[2]" footnotes) are neutralised
    there, once, so no writer can turn them into citations."""
    m = doc.metadata
    return Passage(
        chunk_id=doc.id or "", source=m.get("source", ""), title=m.get("title", ""), page=m.get("page"),
        section=m.get("section", ""), text=neutralise_markers(doc.page_content), start=int(m.get("start", 0)), end=int(m.get("end", 0)),
        score=round(float(m.get("score", 0.0)), 4), rank_score=float(m.get("rank_score", 0.0)),
        lang=m.get("lang", ""),
    )


def _uncited(passages: list[Passage], citations) -> list[Passage]:
    cited = {c.chunk_id for c in citations}
    return [p for p in passages if p.chunk_id not in cited][:FURTHER_READING]


def missing_names(question: str, passages: list[Passage], names: bool = True) -> list[str]:
    """Proper names and years the question relies on that no retrieved passage mentions: a question about
    a city, person or year the documents never name is not answered by a passage about another one.
    Across languages only years, acronyms and lone names count ("European Union" is "Union européenne" in the text)."""
    haystack = context_text(*(f"{p.text} {p.title}" for p in passages))
    absent = [c.text for c in missing(constraints(question, names), haystack)]
    return absent if names else absent + untranslated_names(question, haystack)


class StreamReset(str):
    """Yielded by ``Assistant.answer_stream`` when the text streamed so far is withdrawn (see there)."""

    def __new__(cls) -> "StreamReset":
        return super().__new__(cls, "")


class _MarkerStream:
    """Renumbers markers as text streams in, exactly as ``check_citations`` will renumber the whole text (same
    parser, same order of first use): markers that point to no passage are dropped, grouped, full-width and
    doubled markers are rewritten, and the end of the text is held back while it may still be an unfinished
    marker ("[", "[1", "[1,")."""

    def __init__(self, n_passages: int):
        self.numbering = MarkerNumbering(n_passages)
        self.buffer = ""

    @property
    def mapping(self) -> dict[int, int]:
        """Passage number (1-based, as the writer saw it) -> citation number."""
        return {idx + 1: n for idx, n in self.numbering.renumber.items()}

    @property
    def cited(self) -> bool:
        """Whether the text released so far cites at least one passage."""
        return bool(self.numbering.renumber)

    def feed(self, piece: str) -> str:
        self.buffer += piece
        hold = PENDING.search(self.buffer).start()  # always matches, possibly the empty string at the end
        ready, self.buffer = self.buffer[:hold], self.buffer[hold:]
        return self.numbering.sub(ready)

    def flush(self) -> str:
        out, self.buffer = self.numbering.sub(self.numbering.drop_truncated(self.buffer)), ""
        return out
