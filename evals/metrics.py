"""Answer-quality metrics: pure functions over plain values, so each has hand-checked tests.

Matching conventions (all metrics):
- Evidence, passages and answers are compared after ``rag.text.normalize_for_match`` (case, whitespace, Markdown
  ``**``/``__`` ignored), so evidence copied from a Markdown source matches the indexed text.
- A metric that does not apply to a question returns ``None`` (e.g. citation precision with no citation); the
  aggregates average only the defined values and say over how many questions.
- Citations are judged on their quote (the sentence(s) shown as support), never on the whole passage around it.
- Claims are compared with their negation words kept ("ne … pas", "sans", "aucun", "non", "not", "no", "never"…):
  retrieval's tokens drop them as stop words, a support test must not.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rag.citations import MARKER, markers_in
from rag.text import fold, normalize_for_match, split_sentences, tokens

# Faithfulness: share of a sentence's content words that must occur in its cited passages (when the sentence is
# not found verbatim in them).
SUPPORT_TOKEN_SHARE = 0.8
# Words that turn a claim into its opposite ("n'" is read as "ne"). Stop words for retrieval, content for every
# support test here.
NEGATIONS = ("ne", "pas", "sans", "aucun", "aucune", "non", "jamais", "rien", "ni", "nul", "nulle",
             "not", "no", "never", "none", "nor", "without", "nothing", "cannot")
_BULLET = re.compile(r"^\s*(?:[-•*–]|\d+[.)])\s+")


def norm(text: str) -> str:
    return normalize_for_match(text or "")


def strip_markers(text: str) -> str:
    return re.sub(r"[ \t]{2,}", " ", MARKER.sub("", text or "")).strip()


# --- retrieval ----------------------------------------------------------------------------------------------
def evidence_hits(texts: Sequence[str], evidence: Sequence[str]) -> list[set[int]]:
    """Per passage, the indices of the evidence strings it contains (a passage is relevant when non-empty)."""
    ev = [norm(e) for e in evidence]
    return [{i for i, e in enumerate(ev) if e and e in norm(t)} for t in texts]


def recall_at_k(hits: Sequence[set[int]], n_evidence: int, k: int) -> float | None:
    """Share of the evidence strings found in at least one of the top-k passages."""
    if n_evidence <= 0:
        return None
    found = set().union(*hits[:k]) if hits[:k] else set()
    return len(found) / n_evidence


def mrr_at_k(hits: Sequence[set[int]], n_evidence: int, k: int = 10) -> float | None:
    """Reciprocal rank of the first relevant passage within the top k (0 when none)."""
    if n_evidence <= 0:
        return None
    for rank, h in enumerate(hits[:k], 1):
        if h:
            return 1.0 / rank
    return 0.0


# --- citations ----------------------------------------------------------------------------------------------
def quote_hits(quotes: Sequence[str], evidence: Sequence[str]) -> list[set[int]]:
    """Per citation quote, the indices of the evidence strings it holds: the evidence occurs in the quote (after
    ``normalize_for_match``), or, for a paraphrased quote, every content word of the evidence (negations included,
    stemmed) occurs in it and the quote is negated exactly when the evidence is. A quote from the right passage but
    another sentence holds nothing."""
    ev = [(norm(e), set(claim_tokens(e)), negated(e)) for e in evidence]
    out = []
    for quote in quotes:
        text, words, neg = norm(quote), set(claim_tokens(quote)), negated(quote)
        out.append({i for i, (e, w, n) in enumerate(ev) if e and (e in text or (w and w <= words and n == neg))})
    return out


def citation_precision(cited_hits: Sequence[set[int]]) -> float | None:
    """Share of citations whose quote holds an evidence string (``quote_hits``); undefined without citations."""
    if not cited_hits:
        return None
    return sum(1 for h in cited_hits if h) / len(cited_hits)


def citation_recall(cited_hits: Sequence[set[int]], n_evidence: int) -> float | None:
    """Share of the evidence strings held by at least one citation's quote (0 when nothing is cited)."""
    if n_evidence <= 0:
        return None
    found = set().union(*cited_hits) if cited_hits else set()
    return len(found) / n_evidence


def quote_holds_evidence(cited_hits: Sequence[set[int]]) -> float | None:
    """1.0 when at least one quoted sentence holds an evidence string, else 0.0 (``None`` without citations).
    What replaces faithfulness for a writer that only quotes: its quotes are verbatim by construction, the question
    is whether it quoted the sentence that answers."""
    if not cited_hits:
        return None
    return 1.0 if any(cited_hits) else 0.0


# --- answer text --------------------------------------------------------------------------------------------
def _folded(text: str) -> str:
    return fold(norm(strip_markers(text)))


def _whole_words_in(needle: str, haystack: str) -> bool:
    return bool(needle) and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None


def term_found(term: str, answer: str) -> bool:
    """A key term (``a|b`` = either) occurs in the answer as whole words, ignoring case, accents and emphasis;
    a multi-word term whose exact form is absent still counts when all its stemmed words are there."""
    folded = _folded(answer)
    answer_tokens = set(tokens(answer))
    for alt in (a.strip() for a in term.split("|")):
        if not alt:
            continue
        if _whole_words_in(_folded(alt), folded):
            return True
        alt_tokens = set(tokens(alt))
        if len(alt_tokens) > 1 and alt_tokens <= answer_tokens:
            return True
    return False


def key_terms_found(answer: str, reference: str, key_terms: Sequence[str] = ()) -> tuple[int, int]:
    """(found, total) key terms; without explicit key terms, the reference's content words are the terms."""
    if key_terms:
        return sum(term_found(t, answer) for t in key_terms), len(key_terms)
    want = set(tokens(reference))
    return len(want & set(tokens(answer))), len(want)


def answer_containment(answer: str, reference: str, key_terms: Sequence[str] = ()) -> float | None:
    """1.0 when the normalised reference answer occurs in the answer, or every key term does; else 0.0."""
    if not reference.strip() and not key_terms:
        return None
    if not (answer or "").strip():
        return 0.0
    if reference.strip() and _whole_words_in(_folded(reference), _folded(answer)):
        return 1.0
    found, total = key_terms_found(answer, reference, key_terms)
    return 1.0 if total and found == total else 0.0


def content_word_f1(answer: str, reference: str) -> float | None:
    """Token F1 on content words (stemmed, accent-folded, stop words dropped) of the whole answer, markers aside.
    Not SQuAD's F1 (see ``squad_f1``): it ignores articles, prepositions and inflection."""
    ref = Counter(tokens(reference))
    if not ref:
        return None
    got = Counter(tokens(strip_markers(answer)))
    common = sum((ref & got).values())
    if not common:
        return 0.0
    p, r = common / sum(got.values()), common / sum(ref.values())
    return 2 * p * r / (p + r)


answer_f1 = content_word_f1  # the name used before: kept for callers that still use it


# --- SQuAD exact match and F1 ---------------------------------------------------------------------------------
_LEADING_SPAN = re.compile(r"^\s*\*\*(?P<span>[^*\n]+?)\*\*")
# Elided articles and partitives ("l'", "d'", "de l'") go before punctuation is removed, or "l'avion" would be
# "lavion"; then whole-word articles: French (le, la, les, un, une, des, du, de la) and English (a, an, the).
_SQUAD_ELISION = re.compile(r"\b(?:de l'|l'|d')")
_SQUAD_ARTICLES = re.compile(r"\b(?:de la|le|la|les|un|une|des|du|a|an|the)\b")
_PUNCT = frozenset(string.punctuation)


def squad_normalize(text: str) -> str:
    """SQuAD's answer normalisation (lower case, punctuation removed, articles removed, whitespace collapsed),
    extended to French: elided articles (l', d', de l'), le, la, les, un, une, des, du, de la; accents are kept,
    as in SQuAD and FQuAD."""
    text = unicodedata.normalize("NFC", text or "").lower().replace("’", "'")
    text = _SQUAD_ELISION.sub(" ", text)
    text = "".join(" " if unicodedata.category(c).startswith("P") and c not in _PUNCT else c
                   for c in text if c not in _PUNCT)
    return " ".join(_SQUAD_ARTICLES.sub(" ", text).split())


def answer_span(answer: str) -> str:
    """What EM and F1 measure: the short span when the answer opens with one in bold (``**span** …``), else the
    whole answer; citation markers and emphasis removed either way."""
    m = _LEADING_SPAN.match(answer or "")
    text = m.group("span") if m else answer or ""
    return re.sub(r"\s+", " ", strip_markers(text).replace("**", "").replace("__", "")).strip()


def exact_match(answer: str, references: Sequence[str]) -> float | None:
    """SQuAD exact match: 1.0 when ``answer_span(answer)`` equals a reference after ``squad_normalize`` (max over
    the references), else 0.0; ``None`` without a reference."""
    refs = [r for r in references if r and r.strip()]
    if not refs:
        return None
    got = squad_normalize(answer_span(answer))
    return 1.0 if any(got == squad_normalize(r) for r in refs) else 0.0


def squad_f1(answer: str, references: Sequence[str]) -> float | None:
    """SQuAD token F1 between ``answer_span(answer)`` and each reference (whitespace tokens after
    ``squad_normalize``), the best over the references; ``None`` without a reference."""
    refs = [r for r in references if r and r.strip()]
    if not refs:
        return None
    got = squad_normalize(answer_span(answer)).split()
    return max(_token_f1(got, squad_normalize(r).split()) for r in refs)


def _token_f1(got: list[str], ref: list[str]) -> float:
    if not got or not ref:  # SQuAD's convention: two empty answers agree, one empty answer scores 0
        return float(got == ref)
    common = sum((Counter(got) & Counter(ref)).values())
    if not common:
        return 0.0
    p, r = common / len(got), common / len(ref)
    return 2 * p * r / (p + r)


# --- faithfulness -------------------------------------------------------------------------------------------
@dataclass
class SentenceSupport:
    text: str
    markers: list[int]
    supported: bool
    how: str  # "verbatim", "tokens 0.83", "no citation", "tokens 0.40", …


def answer_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, markers that cite it). A marker cites the text since the previous marker on its
    line: "A. B [1]" and "A. B. [1]" cite both A and B (as writers commonly do); text after a line's last marker
    cites nothing. Markers that follow one another ("A [1] [2]") all cite the same text."""
    out: list[tuple[str, list[int]]] = []
    for line in (answer or "").split("\n"):
        pos = 0
        last: list[tuple[str, list[int]]] = []  # the sentences the previous marker closed
        for m in MARKER.finditer(line):
            sentences = _sentences(line[pos : m.start()])
            numbers = markers_in(m.group(0))
            if sentences:
                last = [(t, list(numbers)) for t in sentences]
                out += last
            else:  # a marker right after another one: same claim
                for _, ms in last:
                    ms += [n for n in numbers if n not in ms]
            pos = m.end()
        out += [(t, []) for t in _sentences(line[pos:])]
    return out


def _sentences(segment: str) -> list[str]:
    """Sentences of a marker-free segment, list bullets removed, punctuation-only pieces dropped."""
    texts = (_BULLET.sub("", segment[a:b]).strip() for a, b in split_sentences(segment))
    return [t for t in texts if tokens(t)]


_NEG_STEMS = frozenset(t for w in NEGATIONS for t in tokens(w.rstrip("'"), keep_stop_words=True))


def claim_tokens(text: str) -> list[str]:
    """Content words (as ``rag.text.tokens``: stemmed, accent-folded) plus negation words, which retrieval drops as
    stop words: "n'est pas présidée" keeps "ne" and "pas", "doesn't" keeps "not"."""
    text = re.sub(r"\b[nN]['’](?=\w)", "ne ", text or "")
    text = re.sub(r"(?i)n['’]t\b", " not", text)
    return tokens(text) + [t for t in tokens(text, keep_stop_words=True) if t in _NEG_STEMS]


def negated(text: str) -> bool:
    return any(t in _NEG_STEMS for t in claim_tokens(text))


def sentence_supported(sentence: str, passages: Sequence[str], share: float = SUPPORT_TOKEN_SHARE) -> tuple[bool, str]:
    """The support test: found verbatim (normalised, end punctuation aside) in a cited passage, or at least
    ``share`` of its distinct content words, negation words included (stemmed), occur in the cited passages
    together, and the sentence is negated exactly when the passage sentence closest to it is (a negated claim
    against an affirmative passage, or the reverse, is not supported)."""
    if not passages:
        return False, "no citation"
    needle = norm(sentence).rstrip(" .;:!?")
    if needle and any(needle in norm(p) for p in passages):
        return True, "verbatim"
    want = set(claim_tokens(sentence))
    if not want:
        return True, "no content words"
    have = set().union(*(set(claim_tokens(p)) for p in passages))
    ratio = len(want & have) / len(want)
    if ratio < share:
        return False, f"tokens {ratio:.2f}"
    closest = max((p[a:b] for p in passages for a, b in split_sentences(p)),
                  key=lambda s: len(want & set(claim_tokens(s))), default="")
    if negated(sentence) != negated(closest):
        return False, f"negation {'not in' if negated(sentence) else 'only in'} the passage (tokens {ratio:.2f})"
    return True, f"tokens {ratio:.2f}"


def faithfulness(answer: str, cited: dict[int, str], share: float = SUPPORT_TOKEN_SHARE) -> tuple[float | None, list[SentenceSupport]]:
    """Share of the answer's sentences supported by the passages their markers cite (``cited``: marker number ->
    passage text). ``None`` for an empty answer (nothing claimed)."""
    details: list[SentenceSupport] = []
    for text, markers in answer_sentences(answer):
        passages = [cited[m] for m in markers if m in cited]
        ok, how = sentence_supported(text, passages, share)
        details.append(SentenceSupport(text, markers, ok, how))
    if not details:
        return None, details
    return sum(d.supported for d in details) / len(details), details


# --- abstention ---------------------------------------------------------------------------------------------
def abstention_scores(pairs: Iterable[tuple[bool, bool]]) -> tuple[float | None, float | None]:
    """(precision, recall) of abstaining, from (abstained, answerable) pairs; the positive class is
    "unanswerable". Precision is undefined when the system never abstains, recall without unanswerable questions."""
    pairs = list(pairs)
    abstained = [a for a, _ in pairs if a]
    unanswerable = [not ok for _, ok in pairs if not ok]
    true_pos = sum(1 for a, ok in pairs if a and not ok)
    precision = true_pos / len(abstained) if abstained else None
    recall = true_pos / len(unanswerable) if unanswerable else None
    return precision, recall


# --- latency, energy ----------------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), q in 0-100."""
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def energy_wh(cpu_seconds: float, watts_per_core: float) -> float:
    """CPU-seconds (summed over cores) × power of one busy core -> watt-hours."""
    return cpu_seconds * watts_per_core / 3600.0


def co2e_g(wh: float, grid_g_per_kwh: float) -> float:
    return wh / 1000.0 * grid_g_per_kwh


def mean(values: Iterable[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


# --- aggregation (shared by the runner and the bootstrap in compare) ----------------------------------------
QUESTION_METRICS = ["recall_at_5", "mrr_at_10", "citation_precision", "citation_recall", "quote_holds_evidence",
                    "answer_containment", "exact_match", "squad_f1", "content_word_f1", "faithfulness"]
# One line per metric, written into every summary.json so that a reader of the figures has their meaning at hand.
DEFINITIONS = {
    "recall_at_5": "share of an answerable question's evidence strings found in the top 5 retrieved passages",
    "mrr_at_10": "1 / rank of the first retrieved passage holding evidence (0 beyond rank 10)",
    "citation_precision": "share of citations whose QUOTE holds an evidence string (contains it after "
                          "normalize_for_match, or all its content words, negations included, with the same polarity); "
                          "the right passage with another sentence quoted does not count",
    "citation_recall": "share of the evidence strings held by at least one citation's quote (0 on abstention)",
    "quote_holds_evidence": "1 when at least one quoted sentence holds an evidence string, else 0 (answered "
                            "answerable questions); what replaces faithfulness for the extractive writer",
    "answer_containment": "1 when the normalised reference, or every key term, occurs in the answer (whole words, "
                          "accents ignored), else 0",
    "exact_match": "SQuAD EM, best over the references, on the answer's leading bold span (**span**) when it opens "
                   "with one, else on the whole answer without markers; SQuAD normalisation (lower case, punctuation "
                   "and articles removed) extended to French articles and elisions (le, la, les, l', un, une, des, "
                   "du, de la, d', de l')",
    "squad_f1": "SQuAD token F1 on the same span and normalisation as exact_match, best over the references",
    "content_word_f1": "token F1 on stemmed, accent-folded content words of the whole answer (formerly answer_f1)",
    "faithfulness": "share of an LLM answer's sentences supported by the passages they cite (verbatim, or 80% of "
                    "their content words with negation words kept and the same polarity as the closest passage "
                    "sentence); null for the extractive writer, which only quotes",
    "abstention_precision": "share of abstentions that were on unanswerable questions",
    "abstention_recall": "share of unanswerable questions abstained on",
}
# Names used by runs recorded before a metric was renamed: read as the new name.
RENAMED = {"answer_f1": "content_word_f1"}
# Summary metrics where higher is better (latency and energy: lower is better).
HIGHER_IS_BETTER = QUESTION_METRICS + ["abstention_precision", "abstention_recall"]


def upgrade(metrics: dict) -> dict:
    """A record's or summary's metrics under today's names (older runs said ``answer_f1``)."""
    for old, new in RENAMED.items():
        if old in metrics and new not in metrics:
            metrics[new] = metrics.pop(old)
    return metrics


def aggregate(records: Sequence[dict]) -> dict[str, float | None]:
    """Summary metrics from per-question records ({answerable, abstained, metrics{...}, latency_ms, cpu_s})."""
    out: dict[str, float | None] = {"n": len(records)}
    for name in QUESTION_METRICS:
        out[name] = _r(mean(r["metrics"].get(name) for r in records))
    p, r = abstention_scores((x["abstained"], x["answerable"]) for x in records)
    out["abstention_precision"], out["abstention_recall"] = _r(p), _r(r)
    lat = [x["latency_ms"] for x in records if x.get("latency_ms") is not None]
    out["latency_p50_ms"] = _r(percentile(lat, 50), 1)
    out["latency_p95_ms"] = _r(percentile(lat, 95), 1)
    return out


def _r(v: float | None, digits: int = 4) -> float | None:
    return None if v is None else round(v, digits)
