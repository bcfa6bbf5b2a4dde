"""`aimf bench ui [--runs N] [--out FILE]`: how fast the chat opens and starts answering.

- page ready: from starting `aimf ui` (a new process on a free port) until the page answers HTTP 200, model and
  index loaded (the command loads them before it listens);
- first piece: from sending a question through the API (gradio_client, streaming) until the first piece of the
  answer arrives, with the extractive writer, after one unmeasured warm-up question.

Medians over the runs, written as JSON (default ``bench-results/ui.json``). Uses the index of the current settings
(``AIMF_DATA_DIR``): run `aimf ingest` first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTIONS = [
    "Quelle ville préside la commission ?",
    "Quel projet est mené à Cotonou ?",
    "Qui modère les tables rondes ?",
]
WARM_UP = "Quels projets pilotes l'AIMF soutient-elle ?"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=3, help="nombre de démarrages mesurés (3 par défaut)")
    p.add_argument("--out", type=Path, default=Path("bench-results/ui.json"), help="fichier JSON des résultats")
    p.add_argument("--timeout", type=float, default=120.0, help="délai maximal d'un démarrage, en secondes")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"aimf ui s'est arrêté (code {proc.returncode}) avant de répondre")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.05)
    raise TimeoutError(f"{url} n'a pas répondu en {timeout:.0f} s")


def _assistant_text(output) -> str:
    chat = output[0] if isinstance(output, (list, tuple)) and output else []
    if not chat or chat[-1].get("role") != "assistant":
        return ""
    content = chat[-1].get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


def first_piece(client, question: str) -> tuple[float, float]:
    """Seconds until the first piece of answer text, and until the whole answer."""
    t0 = time.perf_counter()
    job = client.submit(question, [], "extractive", 5, [], "fr", api_name="/ask")
    first = None
    placeholder = None
    for output in job:
        text = _assistant_text(output)
        if placeholder is None:
            placeholder = text  # the "searching…" line shown before the answer starts
            continue
        if text and text != placeholder and first is None:
            first = time.perf_counter() - t0
    job.result()
    total = time.perf_counter() - t0
    return (first if first is not None else total), total


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gradio_client import Client

    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    env.pop("AIMF_UI_AUTH", None)
    ready, firsts, totals, cold_firsts = [], [], [], []
    for i in range(max(1, args.runs)):
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        t0 = time.perf_counter()
        log = tempfile.TemporaryFile("w+")  # a file, not a pipe: a chatty server never blocks on a full pipe
        proc = subprocess.Popen([sys.executable, "-m", "aimf.cli", "ui", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
        try:
            wait_ready(url, proc, args.timeout)
            ready.append(time.perf_counter() - t0)
            client = Client(url, verbose=False)
            cold, _ = first_piece(client, WARM_UP)
            cold_firsts.append(cold)
            for q in QUESTIONS:
                f, total = first_piece(client, q)
                firsts.append(f)
                totals.append(total)
            print(f"démarrage {i + 1}/{args.runs} : page prête en {ready[-1]:.2f} s, premier morceau "
                  f"{statistics.median(firsts[-len(QUESTIONS):]) * 1000:.0f} ms", file=sys.stderr)
        except Exception as exc:
            log.seek(0)
            print(f"Erreur : {exc}\n{log.read()[-2000:]}", file=sys.stderr)
            return 1
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
    result = {
        "bench": "ui",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "runs": len(ready),
        "page_ready_s": {"median": round(statistics.median(ready), 3), "values": [round(v, 3) for v in ready]},
        "first_piece_ms": {"median": round(statistics.median(firsts) * 1000, 1),
                           "values": [round(v * 1000, 1) for v in firsts], "writer": "extractive",
                           "after": "one warm-up question per run"},
        "first_question_first_piece_ms": {"median": round(statistics.median(cold_firsts) * 1000, 1),
                                          "values": [round(v * 1000, 1) for v in cold_firsts]},
        "answer_total_ms": {"median": round(statistics.median(totals) * 1000, 1)},
        "aims": {"page_ready_s": 15, "first_piece_ms": 1000},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"Page prête (médiane) : {result['page_ready_s']['median']:.2f} s · premier morceau (médiane) : "
          f"{result['first_piece_ms']['median']:.0f} ms · résultats : {args.out}", file=sys.stderr)
    return 0
