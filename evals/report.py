"""report.md / report.html for one run: summary, definitions, breakdowns, failures, worst answers, charts."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from evals import charts
from evals.metrics import QUESTION_METRICS, abstention_scores, aggregate, mean
from evals.render import Doc, fmt, write

DEFINITIONS = [
    "Preuves, passages et réponses sont comparés après normalisation (casse, espaces, emphase Markdown ** et __ "
    "ignorées).",
    "recall_at_5 : part des preuves d'une question répondable présentes dans au moins un des 5 premiers passages ; "
    "mrr_at_10 : inverse du rang du premier passage contenant une preuve (classement sur 10 passages).",
    "citation_precision : part des citations dont le passage contient une preuve (questions répondables et "
    "répondues) ; citation_recall : part des preuves présentes dans un passage cité (une abstention cite 0).",
    "answer_containment : 1 si la réponse de référence normalisée (accents ignorés) figure dans la réponse, ou si "
    "chacun de ses termes clés y figure (« key_terms », a|b = l'un ou l'autre ; à défaut, les mots pleins de la "
    "référence) ; answer_f1 : F1 sur les mots pleins racinisés. Une abstention sur une question répondable vaut 0.",
    "faithfulness (test de soutien) : la réponse est découpée en phrases (et lignes de liste) ; une phrase sans "
    "marqueur est couverte par le marqueur suivant de la même ligne. Une phrase est soutenue si, marqueurs et puce "
    "retirés, elle figure telle quelle (normalisée) dans un passage qu'elle cite, ou si au moins {share:.0%} de ses "
    "mots pleins distincts (racinisés) figurent dans les passages qu'elle cite. Une phrase sans citation n'est pas "
    "soutenue. Score = phrases soutenues / phrases, moyenné sur les réponses non abstenues. Le test est lexical : "
    "une réponse anglaise qui traduit un passage français n'est pas reconnue (le juge LLM sert à cela).",
    "abstention_precision : part des abstentions qui portent sur une question sans réponse ; abstention_recall : "
    "part des questions sans réponse où l'assistant s'abstient.",
    "Énergie : temps CPU du processus pendant chaque réponse (time.process_time, tous cœurs) × {watts} W par cœur "
    "occupé ; CO2e = énergie × {grid} gCO2e/kWh. Un serveur LLM distant n'est pas compté.",
]


def breakdown(records: list[dict], key) -> list[list]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        groups[key(r)].append(r)
    rows = []
    for name in sorted(groups):
        rs = groups[name]
        agg = aggregate(rs)
        correct = mean(float(r["abstained"] != r["answerable"]) for r in rs)
        rows.append([name, len(rs), agg["recall_at_5"], agg["citation_precision"], agg["answer_containment"],
                     agg["answer_f1"], agg["faithfulness"], correct, agg["latency_p50_ms"]])
    return rows


BREAKDOWN_HEADERS = ["groupe", "n", "recall@5", "précision citations", "contenance", "F1", "fidélité",
                     "abstention juste", "latence p50 (ms)"]


def build(records: list[dict], summary: dict, config: dict) -> Doc:
    cfg = summary["config"]
    from evals.runner import targets_for

    targets, title = targets_for(config, cfg.get("dataset_kind", "gold"))
    doc = Doc(f"Évaluation « {cfg['label']} »")
    doc.p(f"Jeu : {cfg['dataset']} ({summary['n']} questions : {summary['n_answerable']} répondables, "
          f"{summary['n_unanswerable']} sans réponse). Rédacteur : {cfg['generator']}"
          + (f" ({cfg['llm_model']})" if cfg.get("llm_model") else "")
          + f" · k = {cfg['k']} · plongements : {cfg['embedding_model']} ({cfg['embedding_dtype']}) · "
          f"lancé le {cfg['started_at']}.")
    for notice in summary.get("notices", []):
        doc.p(f"⚠ {notice}")

    doc.h("Résumé")
    rows = []
    for key in QUESTION_METRICS + ["abstention_precision", "abstention_recall"]:
        value, target = summary.get(key), targets.get(key)
        status = "" if target is None or value is None else ("atteinte" if value >= target else "manquée")
        rows.append([key, value, "" if target is None else f"≥ {target}", status])
    for key in ("judge_faithfulness", "judge_relevance"):
        if key in summary:
            rows.append([key + " (juge LLM)", summary[key], "", f"n = {summary.get('judge_n', 0)}"])
    rows += [["latency_p50_ms", summary["latency_p50_ms"], "", ""], ["latency_p95_ms", summary["latency_p95_ms"], "", ""],
             ["cpu_seconds", summary["cpu_seconds"], "", ""], ["energy_wh", summary["energy_wh"], "", ""],
             ["co2e_g", summary["co2e_g"], "", ""]]
    doc.table(["métrique", "valeur", title, "état"], rows)

    doc.h("Définitions")
    energy = cfg["energy"]
    doc.bullets([d.format(share=cfg["faithfulness_token_share"], watts=energy["watts_per_core"],
                          grid=energy["grid_g_co2e_per_kwh"]) for d in DEFINITIONS])

    doc.h("Graphiques")
    doc.image("metrics.png", charts.metric_distribution(records), "Distribution des métriques par question")
    doc.image("latency.png", charts.latency(records), "Latence")

    doc.h("Par langue")
    doc.table(BREAKDOWN_HEADERS, breakdown(records, lambda r: r["lang"]))
    doc.h("Par type de question")
    doc.table(BREAKDOWN_HEADERS, breakdown(records, lambda r: r["type"]))
    doc.h("Répondables / sans réponse")
    doc.table(BREAKDOWN_HEADERS, breakdown(records, lambda r: "répondable" if r["answerable"] else "sans réponse"))
    p, r = abstention_scores((x["abstained"], x["answerable"]) for x in records)
    doc.p(f"Abstentions : {summary['n_abstained']} (précision {fmt(p)}, rappel {fmt(r)}).")

    failing = [x for x in records if x["failures"]]
    doc.h(f"Questions en échec ({len(failing)})")
    # Where the failures come from, before the list: one question may have several causes.
    causes = Counter(cause.split(":")[0] for x in failing for cause in x["failures"])
    doc.table(["cause", "questions"], [[cause, n] for cause, n in causes.most_common()])
    doc.table(["id", "langue", "type", "question", "causes"],
              [[x["id"], x["lang"], x["type"], x["question"], "\n".join(x["failures"])] for x in failing])

    worst = sorted(records, key=badness, reverse=True)[: int(config.get("worst_answers", 10))]
    worst = [x for x in worst if badness(x) > 0]
    doc.h(f"Pires réponses ({len(worst)})")
    for x in worst:
        doc.h(f"{x['id']} · {x['question']}", 3)
        doc.bullets([
            f"Référence : {x['reference'] or '(aucune : question sans réponse)'}",
            f"Réponse{' (abstention)' if x['abstained'] else ''} : {x['answer']}",
            "Métriques : " + ", ".join(f"{k} {fmt(v)}" for k, v in x["metrics"].items() if v is not None),
            "Causes : " + ("; ".join(x["failures"]) or "—"),
        ])
        if x["citations"]:
            doc.table(["n", "source", "preuve ?", "citation"],
                      [[c["n"], c["source"], c["has_evidence"], c["quote"]] for c in x["citations"]])
    return doc


def badness(r: dict) -> float:
    """Orders the worst answers: wrong abstention decisions first, then the missing metric mass."""
    m = r["metrics"]
    bad = 2.0 if r["abstained"] == r["answerable"] else 0.0
    for name in ("answer_containment", "citation_precision", "faithfulness", "recall_at_5"):
        if m.get(name) is not None:
            bad += 1 - m[name]
    return bad


def write_report(out: Path, records: list[dict], summary: dict, config: dict) -> tuple[Path, Path]:
    return write(build(records, summary, config), out, "report")
