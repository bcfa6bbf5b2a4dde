"""Optional LLM judge (``--judge openai``): judged faithfulness and relevance, reported next to the deterministic
metrics and never instead of them. Any OpenAI-compatible server at ``AIMF_LLM_BASE_URL``."""

from __future__ import annotations

import json
import re

PROMPT = """You grade an answer written by a document assistant. Use only the passages below.
Return only a JSON object: {{"faithfulness": F, "relevance": R}} where
- F (0 to 1) is the share of the answer's claims that the passages support;
- R (0 to 1) says how well the answer addresses the question (1 = fully; an honest "the documents do not say"
  to a question the passages cannot answer is relevant).

Question: {question}

Passages:
{passages}

Answer:
{answer}
"""


class OpenAIJudge:
    def __init__(self, settings, timeout: float | None = None):
        self.settings = settings
        self.timeout = timeout or min(settings.llm_timeout, 60.0)
        self._llm = None

    def describe(self) -> str:
        return f"openai ({self.settings.llm_model} @ {self.settings.llm_base_url})"

    def unavailable(self) -> str | None:
        """None when the server answers, else why not (the run goes on without a judge)."""
        base = self.settings.llm_base_url
        if not base:
            return "AIMF_LLM_BASE_URL n'est pas défini"
        import httpx

        try:
            r = httpx.get(base.rstrip("/") + "/models", timeout=5.0,
                          headers={"Authorization": f"Bearer {self.settings.llm_api_key}"})
            r.raise_for_status()
        except Exception as exc:  # any transport or HTTP failure means "not reachable"
            return f"serveur injoignable à {base} ({type(exc).__name__})"
        return None

    def llm(self):
        if self._llm is None:
            from langchain_openai import ChatOpenAI

            self._llm = ChatOpenAI(base_url=self.settings.llm_base_url, api_key=self.settings.llm_api_key,
                                   model=self.settings.llm_model, temperature=0.0, timeout=self.timeout,
                                   max_tokens=64, max_retries=1)
        return self._llm

    def grade(self, question: str, answer) -> dict:
        """{"faithfulness", "relevance"} in 0-1, or {"error": …} (counted apart, never as a score)."""
        cited = answer.citations
        passages = "\n\n".join(f"[{c.n}] {c.passage}" for c in cited) or "\n\n".join(
            f"[{i}] {p.text}" for i, p in enumerate(answer.retrieved[:3], 1))
        prompt = PROMPT.format(question=question, passages=passages[:6000], answer=answer.text)
        try:
            raw = self.llm().invoke(prompt).content
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"[:200]}
        return parse_grade(raw if isinstance(raw, str) else json.dumps(raw))


def parse_grade(raw: str) -> dict:
    """Tolerant parsing: a JSON object, or the two numbers named in free text."""
    out: dict = {}
    m = re.search(r"\{.*?\}", raw, re.S)
    if m:
        try:
            data = json.loads(m.group(0))
            out = {k: float(data[k]) for k in ("faithfulness", "relevance") if k in data}
        except (ValueError, TypeError):
            out = {}
    for key in ("faithfulness", "relevance"):
        if key not in out:
            found = re.search(rf"{key}\W+([01](?:\.\d+)?)", raw, re.I)
            if found:
                out[key] = float(found.group(1))
    if not out:
        return {"error": f"réponse du juge illisible : {raw[:120]!r}"}
    return {k: min(1.0, max(0.0, v)) for k, v in out.items()} | {"raw": raw[:300]}
