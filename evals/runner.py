"""`aimf eval run`: every gold question through ``Assistant.answer`` (the UI's entry point), scored per question,
written as results.jsonl, summary.json, report.md and report.html.

Questions come from one or several JSONL gold sets (files, or every ``*.jsonl`` of a folder), from a split of the
bundled groups (``--split dev|test``, see ``evals/splits.py``), or from one SQuAD-format file (indexed into its
own collection). A gold set is measured against the whole corpus folder indexed (indexed first when the index is
missing), so that retrieval has wrong passages to rank.

The quality metrics depend only on the answers, so the same index, settings and dataset give the same numbers;
latency and energy are measurements and vary from run to run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evals import metrics as M
from evals.dataset import GoldQuestion, GoldSetError
from evals.splits import SPLITS, load_questions, resolve

CONFIG_PATH = Path(__file__).with_name("config.json")
SUMMARY_KEYS = ["n", "recall_at_5", "mrr_at_10", "citation_precision", "citation_recall", "quote_holds_evidence",
                "answer_containment", "exact_match", "squad_f1", "content_word_f1", "faithfulness",
                "abstention_precision", "abstention_recall", "latency_p50_ms", "latency_p95_ms", "energy_wh", "co2e_g",
                "config"]
# Said in the summary and the report when faithfulness is not measured.
FAITHFULNESS_NOT_APPLICABLE = ("not applicable: the extractive writer quotes the documents' sentences verbatim, "
                               "so every sentence is supported by construction; see quote_holds_evidence")


def load_config(path: Path | None = None) -> dict[str, Any]:
    return json.loads(Path(path or CONFIG_PATH).read_text(encoding="utf-8"))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", type=Path, nargs="+", action="extend",
                   help="jeu(x) de questions (JSONL, ou dossier de .jsonl) ou un fichier SQuAD (JSON)")
    p.add_argument("--split", choices=SPLITS,
                   help="les groupes de questions d'une moitié (evals/datasets/splits.json) : dev ou test (figé)")
    p.add_argument("--ingest", action="store_true",
                   help="mettre à jour l'index du dossier corpus (AIMF_CORPUS_DIR) avant un jeu JSONL")
    p.add_argument("--generator", "-g", choices=["extractive", "llamacpp", "openai"],
                   help="qui rédige les réponses (par défaut : AIMF_GENERATOR, sinon extractive)")
    p.add_argument("--k", type=int, help="passages récupérés par question (par défaut : AIMF_K)")
    p.add_argument("--out", type=Path, help="dossier des résultats (par défaut : eval-runs/<label>)")
    p.add_argument("--label", help="nom de l'essai (par défaut : générateur-k-date)")
    p.add_argument("--limit", type=int, help="ne poser que les N premières questions")
    p.add_argument("--articles", choices=["even", "odd"],
                   help="fichier SQuAD : ne poser que les questions des articles pairs ou impairs (ceux qu'un lecteur "
                        "entraîné par « aimf train reader --half » sur l'autre moitié n'a pas vus)")
    p.add_argument("--judge", choices=["openai"],
                   help="ajouter un juge LLM (serveur compatible OpenAI, AIMF_JUDGE_BASE_URL et AIMF_JUDGE_MODEL : "
                        "jamais le modèle évalué) à côté des métriques")
    p.add_argument("--config", type=Path, help=f"réglages de l'évaluation (par défaut : {CONFIG_PATH.name})")
    p.add_argument("--watts-per-core", type=float, help="puissance d'un cœur occupé, en W (énergie estimée)")
    p.add_argument("--grid-g-per-kwh", type=float, help="intensité carbone de l'électricité, en gCO2e/kWh")
    p.add_argument("--quiet", action="store_true", help="pas de barre de progression")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    err = Console(stderr=True)
    try:
        paths = resolve(args.dataset or [], args.split)
        questions, groups = load_questions(paths)
    except GoldSetError as exc:
        err.print(f"[red]Erreur :[/] {exc}")
        return 2
    if args.articles:
        from evals.dataset import is_squad
        from evals.squad import of_articles

        if len(paths) != 1 or not is_squad(paths[0]):
            err.print("[red]Erreur :[/] --articles ne vaut que pour un fichier SQuAD (PIAF) donné seul.")
            return 2
        questions = of_articles(questions, args.articles)
    if args.k is not None and not 1 <= args.k <= 50:
        err.print("[red]Erreur :[/] --k doit être compris entre 1 et 50.")
        return 2
    config = load_config(args.config)
    if args.watts_per_core is not None:
        config["energy"]["watts_per_core"] = args.watts_per_core
    if args.grid_g_per_kwh is not None:
        config["energy"]["grid_g_co2e_per_kwh"] = args.grid_g_per_kwh
    from rag.settings import get_settings
    from rag.store import IndexMismatchError, IndexMissingError, IndexUnavailableError

    settings = get_settings()
    update = {k: v for k, v in {"k": args.k, "generator": args.generator}.items() if v is not None}
    settings = settings.model_copy(update=update)
    label = args.label or f"{settings.generator}-k{settings.k}-{datetime.now():%Y%m%d-%H%M%S}"
    out = args.out or Path("eval-runs") / label
    try:
        summary = evaluate(settings, questions, out, label=label, dataset=paths, config=config, groups=groups,
                           judge=args.judge, limit=args.limit, progress=not args.quiet, console=err,
                           ingest=args.ingest, split=args.split, articles=args.articles)
    except (IndexMissingError, IndexMismatchError, IndexUnavailableError) as exc:
        err.print(f"[red]Erreur :[/] {exc}")
        return 1
    print_summary(summary, out, *targets_for(config, summary["config"]["dataset_kind"]))
    return 0


def evaluate(settings, questions: list[GoldQuestion], out: Path, *, label: str, dataset: Path | list[Path],
             config: dict | None = None, judge: str | None = None, limit: int | None = None,
             progress: bool = True, console=None, assistant=None, groups: dict[str, str] | None = None,
             ingest: bool = False, split: str | None = None, articles: str | None = None) -> dict:
    """Run, score and write everything to ``out``; returns the summary. ``groups``: question id -> its group
    (the gold-set file it comes from), for the per-group figures."""
    from rich.console import Console

    from evals.dataset import is_squad
    from rag.store import IndexMissingError

    console = console or Console(stderr=True)
    config = config or load_config()
    datasets = [Path(d) for d in (dataset if isinstance(dataset, (list, tuple)) else [dataset])]
    skipped = [q for q in questions if q.review]
    if skipped:
        console.print(f"[yellow]{len(skipped)} question(s) à relire (« review ») ignorée(s).[/]")
    questions = [q for q in questions if not q.review][: limit or None]
    squad = len(datasets) == 1 and is_squad(datasets[0])
    if squad:
        from evals.squad import index_squad

        console.print("Indexation des paragraphes SQuAD dans leur propre collection…")
        settings, _, _ = index_squad(settings, datasets[0])
    elif ingest and assistant is None:
        _ingest_corpus(settings, console)
    try:
        assistant = _warm(settings, assistant)
    except IndexMissingError:
        if squad or not Path(settings.corpus_dir).is_dir():
            raise
        console.print(f"Index absent : indexation du corpus {settings.corpus_dir}…")
        _ingest_corpus(settings, console)
        assistant = _warm(settings, None)
    notices: list[str] = []
    index = index_size(assistant)
    if not squad and index["chunks"] <= 2 * int(config.get("ranking_depth", 10)):
        notices.append(f"l'index ne compte que {index['chunks']} passage(s) de {index['documents']} document(s) : "
                       "recall@5 n'y mesure presque rien (indexez le corpus entier)")
        console.print(f"[yellow]{notices[-1]}[/]")
    missing = evidence_missing_from_index(assistant, questions)
    if missing:
        shown = ", ".join(missing[:5]) + ("…" if len(missing) > 5 else "")
        notices.append(f"{len(missing)} question(s) dont une preuve est introuvable dans l'index ({shown}) : "
                       "le bon corpus est-il indexé, une preuve est-elle coupée entre deux passages ?")
        console.print(f"[yellow]{notices[-1]}[/]")
    grader = None
    if judge:
        from evals.judge import OpenAIJudge

        grader = OpenAIJudge(settings)
        reason = grader.unavailable()
        if reason:
            notices.append(f"Juge LLM ignoré : {reason}")
            console.print(f"[yellow]{notices[-1]}[/]")
            grader = None

    records: list[dict] = []
    groups = groups if groups and len(set(groups.values())) > 1 else None  # one group: nothing to break down
    depth = int(config.get("ranking_depth", 10))
    for q in _progress(questions, progress, console):
        record = run_question(assistant, q, depth, config, grader)
        if groups:
            record["group"] = groups.get(q.id, "")
        records.append(record)

    errors = sum("error" in r for r in records)
    if errors:
        notices.append(f"{errors} question(s) en erreur, comptées comme réponses vides (voir results.jsonl, « error »)")
        console.print(f"[red]{notices[-1]}[/]")
    fallback = sum(r["generator"] != settings.generator for r in records)
    if fallback:  # an unreachable LLM silently measured as extractive would mislabel the run
        notices.append(f"{fallback} réponse(s) sur {len(records)} rédigée(s) par « extractive » au lieu de "
                       f"« {settings.generator} » (modèle indisponible ?)")
        console.print(f"[yellow]{notices[-1]}[/]")
    summary = summarise(records, config)
    summary["config"] = run_config(settings, assistant, label, datasets, config, len(skipped), judge, grader)
    summary["config"].update(index=index, split=split, articles=articles)
    summary["notices"] = notices
    write_outputs(out, records, summary, config)
    return summary


def _ingest_corpus(settings, console) -> None:
    from ingest.pipeline import Ingestor

    r = Ingestor(settings).run()
    console.print(f"Corpus {settings.corpus_dir} indexé : {r.added} ajouté(s), {r.updated} mis à jour, "
                  f"{r.unchanged} inchangé(s), {r.removed} retiré(s), {r.failed} en échec.")


def _warm(settings, assistant):
    from rag.assistant import Assistant

    assistant = assistant or Assistant(settings)
    assistant.warm_up()  # model load and lexical index: not charged to the first question
    return assistant


def index_size(assistant) -> dict[str, int]:
    """Passages and documents the questions are asked against (recall@5 over a handful of passages says little)."""
    docs = assistant.retriever.lexical().docs
    return {"chunks": len(docs), "documents": len({d.metadata.get("source") for d in docs})}


def _progress(questions: list[GoldQuestion], enabled: bool, console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if not enabled:
        yield from questions
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), TextColumn("{task.fields[qid]}"), console=console) as bar:
        task = bar.add_task("Évaluation", total=len(questions), qid="")
        for q in questions:
            bar.update(task, qid=q.id)
            yield q
            bar.advance(task)


def evidence_missing_from_index(assistant, questions: list[GoldQuestion]) -> list[str]:
    """Ids of answerable questions whose evidence is in no indexed chunk: the wrong corpus, or a chunk cut."""
    texts = [M.norm(d.page_content) for d in assistant.retriever.lexical().docs]
    return [q.id for q in questions if q.answerable
            and not all(any(M.norm(e) in t for t in texts) for e in q.evidence)]


def run_question(assistant, q: GoldQuestion, depth: int, config: dict, grader=None) -> dict:
    from rag.answer import Answer
    from rag.store import IndexMismatchError, IndexMissingError, IndexUnavailableError

    t_cpu = time.process_time()
    error = None
    try:
        answer = assistant.answer(q.question)
    except (IndexMissingError, IndexMismatchError, IndexUnavailableError):
        raise  # the whole run is meaningless without the index
    except Exception as exc:  # one broken question must not lose a long run: it is scored as an empty answer
        error = f"{type(exc).__name__}: {exc}"[:300]
        answer = Answer(text="", question=q.question, generator=assistant.settings.generator)
    cpu_s = time.process_time() - t_cpu
    # Ranking metrics look 10 deep; retrieval is a prefix of a deeper search, so asking again only lengthens it.
    if error is None and (len(answer.retrieved) >= depth or assistant.settings.k >= depth):
        ranking = answer.retrieved[:depth]
    else:
        from rag.assistant import to_passage

        ranking = [to_passage(d) for d in assistant.retriever.search(answer.standalone_question or q.question, k=depth)]
    record = score(q, answer, ranking, config)
    if error:
        record["error"] = error
        record["failures"].insert(0, f"error: {error}")
    energy = config["energy"]
    record.update(
        timings=answer.timings.model_dump(), latency_ms=answer.timings.total, cpu_s=round(cpu_s, 4),
        energy_wh=M.energy_wh(cpu_s, energy["watts_per_core"]),
    )
    if grader is not None:
        record["judge"] = grader.grade(q.question, answer)
    return record


def _hits(passages: list[tuple[str, str]], q: GoldQuestion, on_quotes: bool = False) -> list[set[int]]:
    """Evidence hits per (source, text); with ``q.source`` set, only that document's chunks can be relevant.
    ``on_quotes``: the texts are citation quotes, judged by ``metrics.quote_hits``."""
    texts = [t for _, t in passages]
    hits = M.quote_hits(texts, q.evidence) if on_quotes else M.evidence_hits(texts, q.evidence)
    return [h if q.source is None or s == q.source else set() for h, (s, _) in zip(hits, passages)]


def references(q: GoldQuestion) -> list[str]:
    """Reference answers for EM/F1: the gold answer; for a SQuAD question, every annotator's answer too."""
    refs = [q.answer] + (q.evidence if q.type == "squad" else [])
    return list(dict.fromkeys(r for r in refs if r.strip()))


def score(q: GoldQuestion, answer, ranking, config: dict) -> dict:
    """Per-question record: what was asked and answered, each metric, and why it failed if it did."""
    n_ev = len(q.evidence) if q.answerable else 0
    rank_hits = _hits([(p.source, p.text) for p in ranking], q)
    cited_hits = _hits([(c.source, c.quote) for c in answer.citations], q, on_quotes=True)
    passage_hits = _hits([(c.source, c.passage) for c in answer.citations], q)
    text = "" if answer.abstained else answer.text
    answered = q.answerable and not answer.abstained
    quotes_only = answer.generator == "extractive"  # nothing written, nothing to check for faithfulness
    faith, sentences = (None, []) if answer.abstained or quotes_only else M.faithfulness(
        text, {c.n: c.passage for c in answer.citations}, config.get("faithfulness_token_share", M.SUPPORT_TOKEN_SHARE))
    refs = references(q)
    metrics = {
        "recall_at_5": M.recall_at_k(rank_hits, n_ev, 5),
        "mrr_at_10": M.mrr_at_k(rank_hits, n_ev, 10),
        "citation_precision": M.citation_precision(cited_hits) if answered else None,
        "citation_recall": M.citation_recall(cited_hits, n_ev),
        "quote_holds_evidence": M.quote_holds_evidence(cited_hits) if answered else None,
        "answer_containment": M.answer_containment(text, q.answer, q.key_terms) if q.answerable else None,
        "exact_match": M.exact_match(text, refs) if q.answerable else None,
        "squad_f1": M.squad_f1(text, refs) if q.answerable else None,
        "content_word_f1": M.content_word_f1(text, q.answer) if q.answerable else None,
        "faithfulness": faith,
    }
    metrics = {k: (None if v is None else round(v, 4)) for k, v in metrics.items()}
    found, total = M.key_terms_found(text, q.answer, q.key_terms) if q.answerable else (0, 0)
    record = {
        "id": q.id, "lang": q.lang, "type": q.type, "answerable": q.answerable, "question": q.question,
        "reference": q.answer, "key_terms": q.key_terms, "evidence": q.evidence,
        "answer": answer.text, "span": M.answer_span(text) if q.answerable else "", "abstained": answer.abstained,
        "generator": answer.generator, "notices": answer.notices,
        "citations": [{"n": c.n, "source": c.source, "page": c.page, "chunk_id": c.chunk_id, "quote": c.quote,
                       "score": c.score, "has_evidence": bool(h), "passage_has_evidence": bool(ph),
                       "passage": c.passage}
                      for c, h, ph in zip(answer.citations, cited_hits, passage_hits)],
        "retrieved": [p.chunk_id for p in answer.retrieved],
        "ranking": [{"chunk_id": p.chunk_id, "source": p.source, "score": p.score, "has_evidence": bool(h)}
                    for p, h in zip(ranking, rank_hits)],
        "metrics": metrics,
        "key_terms_found": [found, total],
        "sentences": [{"text": s.text, "markers": s.markers, "supported": s.supported, "how": s.how} for s in sentences],
    }
    record["failures"] = diagnose(record)
    return record


def diagnose(r: dict) -> list[str]:
    """Why a question misses a target, in the order a fix would go: retrieval, abstention, sentence, citation."""
    m = r["metrics"]
    causes: list[str] = []
    if r["answerable"]:
        if m["recall_at_5"] is not None and m["recall_at_5"] < 1:
            none = m["recall_at_5"] == 0
            causes.append("retrieval miss: " + ("no evidence in the top 5" if none else "part of the evidence not in the top 5"))
        if r["abstained"]:
            causes.append("wrong abstention: answerable question abstained")
            return causes
        if m["answer_containment"] == 0:
            quoted = any(M.norm(e) in M.norm(M.strip_markers(r["answer"])) for e in r["evidence"])
            found, total = r["key_terms_found"]
            causes.append(f"incomplete answer: evidence quoted, key terms {found}/{total}" if quoted
                          else f"wrong sentence: answer quotes no evidence (key terms {found}/{total})")
        if m["citation_precision"] is not None and m["citation_precision"] < 1:
            bad = [c for c in r["citations"] if not c["has_evidence"]]
            off = [c["n"] for c in bad if c.get("passage_has_evidence")]  # right passage, another sentence quoted
            if off:
                causes.append(f"quote misses the evidence of its passage: {off}")
            if len(off) < len(bad):
                causes.append(f"citation without evidence: {[c['n'] for c in bad if not c.get('passage_has_evidence')]}")
        elif m["citation_precision"] is None:
            causes.append("no citation")
        if m["citation_recall"] is not None and 0 < m["citation_recall"] < 1:
            causes.append("partial citation: part of the evidence is not cited")
    elif not r["abstained"]:
        causes.append("missed abstention: unanswerable question answered")
    if m["faithfulness"] is not None and m["faithfulness"] < 1:
        bad = [s["how"] for s in r["sentences"] if not s["supported"]]
        causes.append(f"unsupported sentence(s): {bad}")
    return causes


def summarise(records: list[dict], config: dict) -> dict:
    summary: dict[str, Any] = M.aggregate(records)
    if summary["faithfulness"] is None and any(r["generator"] == "extractive" and not r["abstained"] for r in records):
        summary["faithfulness_note"] = FAITHFULNESS_NOT_APPLICABLE
    energy = config["energy"]
    cpu = sum(r["cpu_s"] for r in records)
    wh = M.energy_wh(cpu, energy["watts_per_core"])
    summary.update(
        # significant digits, not decimals: a short run uses well under a milliwatt-hour
        energy_wh=float(f"{wh:.6g}"), co2e_g=float(f"{M.co2e_g(wh, energy['grid_g_co2e_per_kwh']):.6g}"),
        cpu_seconds=round(cpu, 3),
        n_answerable=sum(r["answerable"] for r in records),
        n_unanswerable=sum(not r["answerable"] for r in records),
        n_abstained=sum(r["abstained"] for r in records),
        n_failing=sum(bool(r["failures"]) for r in records),
        n_errors=sum("error" in r for r in records),
        by_type=breakdown(records, "type"),
        definitions=M.DEFINITIONS,
    )
    if any(r.get("group") for r in records):
        summary["by_group"] = breakdown(records, "group")
    judged = [r["judge"] for r in records if isinstance(r.get("judge"), dict) and "error" not in r["judge"]]
    if any("judge" in r for r in records):
        summary["judge_faithfulness"] = _round(M.mean(j.get("faithfulness") for j in judged))
        summary["judge_relevance"] = _round(M.mean(j.get("relevance") for j in judged))
        summary["judge_n"] = len(judged)
    return summary


BREAKDOWN_METRICS = ["recall_at_5", "citation_precision", "quote_holds_evidence", "answer_containment", "exact_match",
                     "squad_f1", "faithfulness"]


def breakdown(records: list[dict], field: str) -> dict[str, dict]:
    """Per value of ``field`` (question type, group): its count, main metrics and share of right abstention calls."""
    out: dict[str, dict] = {}
    for name in sorted({str(r.get(field, "")) for r in records}):
        rs = [r for r in records if str(r.get(field, "")) == name]
        agg = M.aggregate(rs)
        out[name] = {"n": len(rs), **{k: agg[k] for k in BREAKDOWN_METRICS},
                     "abstention_correct": _round(M.mean(float(r["abstained"] != r["answerable"]) for r in rs))}
    return out


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def run_config(settings, assistant, label: str, dataset: Path | list[Path], config: dict, n_review: int,
               judge: str | None, grader) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    from rag.embeddings import compute_dtype

    try:
        pkg = version("aimf-assistant")
    except PackageNotFoundError:  # pragma: no cover
        pkg = "?"
    datasets = [Path(d) for d in (dataset if isinstance(dataset, (list, tuple)) else [dataset])]
    digest = hashlib.sha256()
    for d in datasets:
        digest.update(d.read_bytes())
    llm = settings.generator != "extractive"
    return {
        "label": label,
        "generator": settings.generator,
        "llm_model": settings.llm_model if llm else None,
        "llm_base_url": settings.llm_base_url if settings.generator == "openai" else None,
        "llm_model_path": str(settings.llm_model_path) if settings.generator == "llamacpp" and settings.llm_model_path else None,
        "embedding_model": settings.embedding_model,
        "embedding_dtype": compute_dtype(settings),
        "k": settings.k,
        "fetch_k": settings.fetch_k,
        "min_relevance": settings.min_relevance,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "collection": settings.collection,
        "data_dir": str(settings.data_dir),
        "dataset": ", ".join(str(d) for d in datasets),
        "datasets": [str(d) for d in datasets],
        "dataset_kind": dataset_kind(datasets[0]) if len(datasets) == 1 else "gold",
        "dataset_sha256": digest.hexdigest(),
        "questions_skipped_for_review": n_review,
        "ranking_depth": config.get("ranking_depth", 10),
        "faithfulness_token_share": config.get("faithfulness_token_share", M.SUPPORT_TOKEN_SHARE),
        "energy": {k: v for k, v in config["energy"].items() if k != "notes"},
        "judge": (grader.describe() if grader is not None else f"{judge} (unavailable)") if judge else None,
        "version": pkg,
        "python": sys.version.split()[0],
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def write_outputs(out: Path, records: list[dict], summary: dict, config: dict) -> None:
    from evals.report import write_report

    out.mkdir(parents=True, exist_ok=True)
    with (out / "results.jsonl").open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_report(out, records, summary, config)


TARGET_LABELS = {"gold": "cible (jeu de référence, extractif)", "squad": "cible (jeu SQuAD/PIAF, extractif)"}


def dataset_kind(dataset: Path) -> str:
    from evals.dataset import is_squad

    return "squad" if is_squad(dataset) else "gold"


def targets_for(config: dict, kind: str) -> tuple[dict, str]:
    """The targets for this kind of set, and the column title that says which they are: a gold set's targets
    would be wrong for PIAF (no unanswerable question there; its own target is containment 0.75)."""
    kind = kind if kind in TARGET_LABELS else "gold"
    return config.get("targets", {}).get(kind, {}), TARGET_LABELS[kind]


def print_summary(summary: dict, out: Path, targets: dict, title: str = TARGET_LABELS["gold"]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Évaluation « {summary['config']['label']} » ({summary['n']} questions)")
    for col in ("métrique", "valeur", title):
        table.add_column(col, justify="right" if col != "métrique" else "left")
    for key in SUMMARY_KEYS:
        if key in ("n", "config"):
            continue
        value = summary.get(key)
        target = targets.get(key)
        mark = "" if target is None or value is None else (" ✓" if value >= target else " ✗")
        table.add_row(key, "—" if value is None else f"{value:g}", "" if target is None else f"≥ {target:g}{mark}")
    for key in ("judge_faithfulness", "judge_relevance"):
        if key in summary:
            table.add_row(key, "—" if summary[key] is None else f"{summary[key]:g}", "")
    console = Console()
    console.print(table)
    by_type = summary.get("by_type") or {}
    if len(by_type) > 1:
        types = Table(title="Par type de question")
        for col in ("type", "n", "contenance", "EM", "F1 SQuAD", "précision citations", "abstention juste"):
            types.add_column(col, justify="left" if col == "type" else "right")
        for name, row in by_type.items():
            types.add_row(name, str(row["n"]), *("—" if row[k] is None else f"{row[k]:.3f}" for k in (
                "answer_containment", "exact_match", "squad_f1", "citation_precision", "abstention_correct")))
        console.print(types)
    if summary.get("faithfulness_note"):
        console.print(f"faithfulness : {summary['faithfulness_note']}")
    console.print(f"Résultats : {out}/results.jsonl · {out}/summary.json · {out}/report.md · {out}/report.html")
