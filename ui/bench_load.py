"""`aimf bench load --url URL --users N --questions M [--dataset gold.jsonl] [--out FILE] [--max-seconds S] [--pid P]`:
N simulated users (threads, one Gradio session each) ask M questions each, at the same time, to a running `aimf ui`
through its API (gradio_client, endpoint ``/ask``), and the figures are written as JSON:

requests, errors (with samples), abstentions, answers whose markers do not resolve to their citations, latency
(p50/p95/max, seconds, per answer), answers per second over the run, and the peak resident memory of the UI process
(the process listening on the URL's port, found through /proc, or ``--pid``).

With ``--api URL`` (repeatable), the users ask `aimf serve` instead, through ``/v1/chat/completions`` (extractive
writer, each user's conversation sent with each question), spread over the given processes (user i asks process
i mod n, as a load balancer without sticky sessions would); the memory of every process is reported.

Bounded: at most 64 users and 100 questions each, and ``--max-seconds`` (no new question after it; a question still
running then counts as an error). Loopback URLs only (127.0.0.0/8, ::1, localhost): anything else is refused (exit 2).
Exit 0 when every question was answered, 1 otherwise.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

MAX_USERS = 64
MAX_QUESTIONS = 100
ENDPOINT = "/ask"
# The chat's example questions (ui/app.py) and a few more about the bundled speech, one of them unanswerable.
BUILTIN_QUESTIONS = [
    "Quelle ville préside la commission « Villes innovantes, intelligentes et responsables » ?",
    "Quels projets pilotes l'AIMF soutient-elle ?",
    "Quel projet est mené à Cotonou ?",
    "Qui modère les tables rondes ?",
    "Quel est le budget du Pôle numérique de Cotonou ?",
    "Qui prononce le discours d'ouverture ?",
    "Quel projet est mené à Phnom Penh ?",
    "Which city chairs the AIMF commission on innovative cities?",
]
_MARKER = re.compile(r"\[(\d+)\]")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default="http://127.0.0.1:7860", help="adresse de `aimf ui` (boucle locale uniquement)")
    p.add_argument("--users", type=int, default=4, help=f"utilisateurs simultanés (1 à {MAX_USERS})")
    p.add_argument("--questions", type=int, default=3, help=f"questions par utilisateur (1 à {MAX_QUESTIONS})")
    p.add_argument("--dataset", type=Path, default=None,
                   help="questions d'un jeu JSONL (champ « question ») ; par défaut les exemples intégrés")
    p.add_argument("--out", type=Path, default=Path("bench-results/load.json"), help="fichier JSON des résultats")
    p.add_argument("--max-seconds", type=float, default=600.0, help="durée maximale de la mesure (600 s par défaut)")
    p.add_argument("--pid", type=int, default=None, help="PID du processus de l'interface (sinon : celui qui écoute sur le port)")
    p.add_argument("--timeout", type=float, default=120.0, help="délai maximal d'une réponse, en secondes")
    p.add_argument("--auth", default=None, metavar="UTILISATEUR:MOT-DE-PASSE",
                   help="compte de l'interface quand elle en demande (AIMF_UI_AUTH)")
    p.add_argument("--api", action="append", default=None, metavar="URL",
                   help="viser `aimf serve` (API HTTP) à cette adresse plutôt que l'interface ; répétable (plusieurs processus)")
    p.add_argument("--key", default=None, help="clé de l'API (par défaut : la première de AIMF_API_KEYS)")


def is_loopback_url(url: str) -> bool:
    host = (urlparse(url).hostname or "").strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_questions(dataset: Path | None) -> list[str]:
    if dataset is None:
        return list(BUILTIN_QUESTIONS)
    out = []
    for line in dataset.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("question") and not row.get("review"):
                out.append(row["question"])
    if not out:
        raise ValueError(f"{dataset} : aucune question")
    return out


# --------------------------------------------------------------------------------------------------- memory


def listening_pid(port: int) -> int | None:
    """PID of the process with a socket listening on ``port`` (Linux /proc), or None."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    if not inodes:
        return None
    targets = {f"socket:[{i}]" for i in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in targets:
                    return int(proc.name)
        except OSError:
            continue
    return None


def memory_mb(pid: int) -> dict[str, float] | None:
    """Current (VmRSS) and peak (VmHWM, since the process started) resident memory, in MB."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = {}
    for key in ("VmRSS", "VmHWM"):
        m = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
        if m:
            values[key] = round(int(m.group(1)) / 1024, 1)
    return values or None


class MemorySampler(threading.Thread):
    def __init__(self, pid: int | None, every: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_rss = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while self.pid and not self.stop.is_set():
            mem = memory_mb(self.pid)
            if mem:
                self.peak_rss = max(self.peak_rss, mem.get("VmRSS", 0.0))
            self.stop.wait(self.every)


# --------------------------------------------------------------------------------------------------- the run


def citations_resolve(record: dict) -> bool:
    """Every marker in the text is a citation's number and every citation is used (the answer contract)."""
    used = {int(n) for n in _MARKER.findall(record.get("text") or "")}
    numbers = [c.get("n") for c in record.get("citations") or []]
    return used == set(numbers) and len(numbers) == len(set(numbers))


class User(threading.Thread):
    def __init__(self, index: int, url: str, questions: list[str], deadline: float, timeout: float,
                 start: threading.Event, auth: tuple[str, str] | None = None):
        super().__init__(daemon=True, name=f"user-{index}")
        self.auth = auth
        self.index, self.url, self.questions = index, url, questions
        self.deadline, self.timeout, self.start_event = deadline, timeout, start
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.abstained = 0
        self.invalid = 0
        self.requests = 0
        self.client = None

    def connect(self) -> None:
        import httpx
        from gradio_client import Client

        try:
            # gradio_client's default httpx timeout (5 s) is shorter than a busy queue's wait on 2 cores.
            self.client = Client(self.url, verbose=False, download_files=False, auth=self.auth,
                                 httpx_kwargs={"timeout": httpx.Timeout(self.timeout, connect=10.0)})
        except Exception as exc:  # noqa: BLE001 - reported as an error of this user
            self.errors.append(f"connexion : {type(exc).__name__}: {exc}")

    def run(self) -> None:
        self.start_event.wait()
        if self.client is None:
            return
        chat: list = []
        for question in self.questions:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                break
            self.requests += 1
            t0 = time.perf_counter()
            job = self.client.submit(question=question, chat=chat, api_name=ENDPOINT)
            try:
                result = job.result(timeout=min(self.timeout, remaining + self.timeout))
            except Exception as exc:  # noqa: BLE001 - timeouts, server errors: all counted
                job.cancel()
                self.errors.append(f"{question[:60]} : {type(exc).__name__}: {exc}"[:300])
                continue
            elapsed = time.perf_counter() - t0
            chat_out, record, status = result[0], result[-1], result[-2]
            if not isinstance(record, dict) or "text" not in record:
                self.errors.append(f"{question[:60]} : pas de réponse ({str(status)[:200]})")
                continue
            self.latencies.append(elapsed)
            chat = chat_out if isinstance(chat_out, list) else []  # the conversation goes on, as in the page
            if record.get("abstained"):
                self.abstained += 1
            if not citations_resolve(record):
                self.invalid += 1
        try:
            self.client.close()
        except Exception:  # noqa: BLE001
            pass


class ApiUser(User):
    """A user of `aimf serve`: one HTTP client, its conversation sent with every question (the API keeps nothing)."""

    def __init__(self, index: int, url: str, questions: list[str], deadline: float, timeout: float,
                 start: threading.Event, key: str | None = None):
        super().__init__(index, url, questions, deadline, timeout, start)
        self.key = key

    def connect(self) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        self.client = httpx.Client(base_url=self.url.rstrip("/"), headers=headers,
                                   timeout=httpx.Timeout(self.timeout, connect=10.0))

    def run(self) -> None:
        self.start_event.wait()
        messages: list[dict] = []
        for question in self.questions:
            if self.deadline - time.monotonic() <= 0:
                break
            self.requests += 1
            t0 = time.perf_counter()
            try:
                r = self.client.post("/v1/chat/completions", json={
                    "model": "aimf-extractive", "messages": messages + [{"role": "user", "content": question}]})
                body = r.json()
            except Exception as exc:  # noqa: BLE001 - connection errors, timeouts: all counted
                self.errors.append(f"{question[:60]} : {type(exc).__name__}: {exc}"[:300])
                continue
            elapsed = time.perf_counter() - t0
            if r.status_code != 200 or "choices" not in body:
                self.errors.append(f"{question[:60]} : {r.status_code} {str(body.get('error', body))[:200]}")
                continue
            text = body["choices"][0]["message"]["content"]
            self.latencies.append(elapsed)
            messages += [{"role": "user", "content": question}, {"role": "assistant", "content": text}]
            if body.get("abstained"):
                self.abstained += 1
            if not citations_resolve({"text": text, "citations": body.get("citations")}):
                self.invalid += 1
        self.client.close()


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return round(xs[lo] + (xs[hi] - xs[lo]) * (k - lo), 3)


def bench(url: str, users: int, questions_per_user: int, questions: list[str], max_seconds: float, timeout: float,
          pid: int | None = None, auth: tuple[str, str] | None = None) -> dict:
    pid = pid or listening_pid(_port(url))
    start = threading.Event()
    deadline = time.monotonic() + max_seconds
    crew = []
    for u in range(users):
        mine = [questions[(u * questions_per_user + j) % len(questions)] for j in range(questions_per_user)]
        crew.append(User(u, url, mine, deadline, timeout, start, auth))
    report = _drive(crew, start, pid, max_seconds, timeout)
    return {"url": url, "users": users, "questions_per_user": questions_per_user, **report}


def bench_api(urls: list[str], users: int, questions_per_user: int, questions: list[str], max_seconds: float,
              timeout: float, key: str | None = None) -> dict:
    """The same run against `aimf serve` processes; user i asks urls[i % len(urls)]."""
    start = threading.Event()
    deadline = time.monotonic() + max_seconds
    crew = []
    for u in range(users):
        mine = [questions[(u * questions_per_user + j) % len(questions)] for j in range(questions_per_user)]
        crew.append(ApiUser(u, urls[u % len(urls)], mine, deadline, timeout, start, key))
    servers = []
    for url in urls:
        pid = listening_pid(_port(url))
        servers.append({"url": url, "pid": pid, "rss_before_mb": (memory_mb(pid) or {}).get("VmRSS") if pid else None})
    samplers = [MemorySampler(s["pid"]) for s in servers]
    for sampler in samplers:
        sampler.start()
    report = _drive(crew, start, None, max_seconds, timeout)
    for server, sampler in zip(servers, samplers):
        sampler.stop.set()
        sampler.join(2)
        after = memory_mb(server["pid"]) if server["pid"] else None
        server.update(rss_after_mb=(after or {}).get("VmRSS"), peak_rss_during_run_mb=sampler.peak_rss or None,
                      peak_rss_mb=(after or {}).get("VmHWM"))
    for key_name in ("ui_pid", "rss_before_mb", "rss_after_mb", "peak_rss_mb", "peak_rss_during_run_mb"):
        report.pop(key_name, None)
    return {"api": urls, "users": users, "questions_per_user": questions_per_user, **report, "servers": servers}


def _port(url: str) -> int:
    return urlparse(url).port or (443 if urlparse(url).scheme == "https" else 80)


def _drive(crew: list[User], start: threading.Event, pid: int | None, max_seconds: float, timeout: float) -> dict:
    """Connect every user, start them at once, wait for them; the figures of the run."""
    before = memory_mb(pid) if pid else None
    users = len(crew)
    questions_per_user = len(crew[0].questions) if crew else 0
    for user in crew:  # sessions opened before the clock starts: connecting is not answering
        user.connect()
        user.start()
    sampler = MemorySampler(pid)
    sampler.start()
    t0 = time.perf_counter()
    deadline = time.monotonic() + max_seconds
    for user in crew:
        user.deadline = deadline
    start.set()
    for user in crew:
        user.join(max(0.0, deadline - time.monotonic()) + timeout + 5)
    wall = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join(2)
    after = memory_mb(pid) if pid else None
    latencies = [x for u in crew for x in u.latencies]
    errors = [e for u in crew for e in u.errors]
    requests = sum(u.requests for u in crew)
    answers = len(latencies)
    peak_candidates = [v for v in (sampler.peak_rss, (after or {}).get("VmHWM"), (after or {}).get("VmRSS")) if v]
    return {
        "requests": requests,
        "answers": answers,
        "errors": len(errors),
        "error_samples": errors[:5],
        "not_asked_before_deadline": users * questions_per_user - requests,
        "abstained": sum(u.abstained for u in crew),
        "invalid_citations": sum(u.invalid for u in crew),
        "latency_s": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "max": round(max(latencies), 3) if latencies else None,
            "mean": round(statistics.fmean(latencies), 3) if latencies else None,
        },
        "wall_seconds": round(wall, 2),
        "answers_per_second": round(answers / wall, 3) if wall > 0 else None,
        "ui_pid": pid,
        "rss_before_mb": (before or {}).get("VmRSS"),
        "rss_after_mb": (after or {}).get("VmRSS"),
        "peak_rss_mb": max(peak_candidates) if peak_candidates else None,  # VmHWM: peak since the UI started
        "peak_rss_during_run_mb": sampler.peak_rss or None,
        "cpu_count": os.cpu_count(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    targets = args.api or [args.url]
    refused = next((u for u in targets if not is_loopback_url(u)), None)
    if refused:
        print(f"Refus : {refused} n'est pas une adresse de la boucle locale (127.0.0.1, ::1, localhost). "
              "Ce banc de charge ne vise que l'interface lancée sur cette machine.", file=sys.stderr)
        return 2
    if not 1 <= args.users <= MAX_USERS or not 1 <= args.questions <= MAX_QUESTIONS:
        print(f"Erreur : --users entre 1 et {MAX_USERS}, --questions entre 1 et {MAX_QUESTIONS}.", file=sys.stderr)
        return 2
    if not 0 < args.max_seconds <= 3600:
        print("Erreur : --max-seconds entre 0 et 3600.", file=sys.stderr)
        return 2
    try:
        questions = load_questions(args.dataset)
    except (OSError, ValueError) as exc:
        print(f"Erreur : jeu de questions illisible : {exc}", file=sys.stderr)
        return 2
    auth = None
    if args.auth:
        user, sep, password = args.auth.partition(":")
        if not sep or not user or not password:
            print("Erreur : --auth attend utilisateur:mot-de-passe.", file=sys.stderr)
            return 2
        auth = (user, password)
    if args.api:
        key = args.key or next((k.strip() for k in os.environ.get("AIMF_API_KEYS", "").split(",") if k.strip()), None)
        report = bench_api(args.api, args.users, args.questions, questions, args.max_seconds, args.timeout, key)
    else:
        report = bench(args.url, args.users, args.questions, questions, args.max_seconds, args.timeout, args.pid, auth)
    report["dataset"] = str(args.dataset) if args.dataset else "exemples intégrés"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    lat = report["latency_s"]
    if args.api:
        memory = ", ".join(f"{s['peak_rss_during_run_mb']} Mo" for s in report["servers"])
        memory = f"mémoire max de chaque processus de l'API : {memory}"
    else:
        memory = f"mémoire max de l'interface {report['peak_rss_mb']} Mo"
    print(
        f"{report['answers']}/{args.users * args.questions} réponses, {report['errors']} erreur(s), "
        f"p50 {lat['p50']} s, p95 {lat['p95']} s, max {lat['max']} s, {report['answers_per_second']} réponses/s, "
        f"{memory} → {args.out}",
        file=sys.stderr,
    )
    return 0 if report["errors"] == 0 and report["answers"] == args.users * args.questions else 1
