"""Answer-quality metrics: pure functions over plain values, so each has hand-checked tests.

Matching conventions (all metrics):
- Evidence, passages and answers are compared after ``rag.text.normalize_for_match`` (case, whitespace, Markdown
  ``**``/``__`` ignored), so evidence copied from a Markdown source matches the indexed text.
- A metric that does not apply to a question returns ``None`` (e.g. citation precision with no citation); the
  aggregates average only the defined values and say over how many questions.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rag.citations import MARKER, markers_in
from rag.text import fold, normalize_for_match, split_sentences, tokens

# Faithfulness: share of a sentence's content words that must occur in its cited passages (when the sentence is
# not found verbatim in them).
SUPPORT_TOKEN_SHARE = 0.8
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
def citation_precision(cited_hits: Sequence[set[int]]) -> float | None:
    """Share of citations whose passage contains an evidence string; undefined without citations."""
    if not cited_hits:
        return None
    return sum(1 for h in cited_hits if h) / len(cited_hits)


def citation_recall(cited_hits: Sequence[set[int]], n_evidence: int) -> float | None:
    """Share of the evidence strings found in at least one cited passage (0 when nothing is cited)."""
    if n_evidence <= 0:
        return None
    found = set().union(*cited_hits) if cited_hits else set()
    return len(found) / n_evidence


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


def answer_f1(answer: str, reference: str) -> float | None:
    """SQuAD-style token F1 on content words (stemmed, accent-folded, stop words dropped)."""
    ref = Counter(tokens(reference))
    if not ref:
        return None
    got = Counter(tokens(strip_markers(answer)))
    common = sum((ref & got).values())
    if not common:
        return 0.0
    p, r = common / sum(got.values()), common / sum(ref.values())
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


def sentence_supported(sentence: str, passages: Sequence[str], share: float = SUPPORT_TOKEN_SHARE) -> tuple[bool, str]:
    """The support test: found verbatim (normalised, end punctuation aside) in a cited passage, or at least
    ``share`` of its distinct content words (stemmed) occur in the cited passages together."""
    if not passages:
        return False, "no citation"
    needle = norm(sentence).rstrip(" .;:!?")
    if needle and any(needle in norm(p) for p in passages):
        return True, "verbatim"
    want = set(tokens(sentence))
    if not want:
        return True, "no content words"
    have = set().union(*(set(tokens(p)) for p in passages))
    ratio = len(want & have) / len(want)
    return ratio >= share, f"tokens {ratio:.2f}"


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
QUESTION_METRICS = ["recall_at_5", "mrr_at_10", "citation_precision", "citation_recall", "answer_containment",
                    "answer_f1", "faithfulness"]
# Summary metrics where higher is better (latency and energy: lower is better).
HIGHER_IS_BETTER = QUESTION_METRICS + ["abstention_precision", "abstention_recall"]


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
