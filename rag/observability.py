"""One log line per question: what was retrieved, how long each stage took, whether the assistant abstained.

No question or document text is logged unless ``AIMF_LOG_TEXT`` allows it (the questions of city staff may be
personal)."""

from __future__ import annotations

import json
import logging
import time

from rag.settings import Settings

log = logging.getLogger("aimf.questions")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = getattr(record, "data", None)
        if data is None:
            data = {"message": record.getMessage()}
        return json.dumps({"level": record.levelname.lower(), "logger": record.name, **data}, ensure_ascii=False)


def configure_logging(settings: Settings, json_lines: bool | None = None, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    if json_lines if json_lines is not None else settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    # "aimf.*" carries the per-question lines; "rag.*" the core's own warnings (e.g. an LLM writer failing).
    for name in ("aimf", "rag"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


def log_answer(settings: Settings, question: str, generator: str, answer, error: str | None) -> None:
    data = {
        "event": "question",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "generator": generator,
        "abstained": getattr(answer, "abstained", None),
        "retrieved": [{"id": p.chunk_id, "score": p.score} for p in getattr(answer, "retrieved", [])],
        "cited": [c.chunk_id for c in getattr(answer, "citations", [])],
        "timings_ms": answer.timings.model_dump() if answer is not None else None,
        "error": error,
    }
    if settings.log_text:
        data["question"] = question
        data["answer"] = getattr(answer, "text", None)
    summary = (
        f"question generator={generator} abstained={data['abstained']} retrieved={len(data['retrieved'])} "
        f"total_ms={(data['timings_ms'] or {}).get('total')} error={error}"
    )
    log.info(summary, extra={"data": data})
