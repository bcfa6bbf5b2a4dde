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
    "Les citations sont jugées sur leur extrait (la ou les phrases montrées comme appui), jamais sur le passage "
    "entier : un extrait tient une preuve s'il la contient (normalisée), ou, pour une reformulation, s'il contient "
    "tous ses mots pleins (négations comprises, racinisés). Citer le bon passage mais une autre phrase ne compte pas.",
    "citation_precision : part des citations dont l'extrait tient une preuve (questions répondables et répondues) ; "
    "citation_recall : part des preuves tenues par l'extrait d'une citation (une abstention cite 0) ; "
    "quote_holds_evidence : 1 si au moins un extrait cité tient une preuve, sinon 0 (questions répondables et "
    "répondues).",
    "answer_containment : 1 si la réponse de référence normalisée (accents ignorés) figure dans la réponse, ou si "
    "chacun de ses termes clés y figure (« key_terms », a|b = l'un ou l'autre ; à défaut, les mots pleins de la "
    "référence) ; content_word_f1 (anciennement answer_f1) : F1 sur les mots pleins racinisés de toute la réponse. "
    "Une abstention sur une question répondable vaut 0.",
    "exact_match et squad_f1 (SQuAD) : mesurés sur la réponse courte quand la réponse s'ouvre par un segment en gras "
    "(« **segment** … »), sinon sur toute la réponse, marqueurs et emphase retirés. Normalisation SQuAD : minuscules, "
    "ponctuation retirée, articles retirés (le, la, les, l', un, une, des, du, de la, d', de l' ; a, an, the), "
    "espaces réduits ; accents gardés. exact_match : 1 si le texte normalisé égale une référence ; squad_f1 : F1 sur "
    "les mots normalisés ; le meilleur score sur les références (pour PIAF/SQuAD, chaque réponse annotée).",
    "faithfulness (test de soutien, rédacteurs LLM) : la réponse est découpée en phrases (et lignes de liste) ; une "
    "phrase sans marqueur est couverte par le marqueur suivant de la même ligne. Une phrase est soutenue si, "
    "marqueurs et puce retirés, elle figure telle quelle (normalisée) dans un passage qu'elle cite, ou si au moins "
    "{share:.0%} de ses mots pleins distincts (racinisés, négations « ne … pas », « sans », « aucun », « non », "
    "« not », « no », « never » comprises) figurent dans les passages qu'elle cite et qu'elle est niée exactement "
    "quand la phrase la plus proche du passage l'est. Une phrase sans citation n'est pas soutenue. Score = phrases "
    "soutenues / phrases, moyenné sur les réponses non abstenues. Sans objet pour le rédacteur extractif (il cite "
    "les phrases telles quelles) : voir quote_holds_evidence. Le test est lexical : une réponse anglaise qui "
    "traduit un passage français n'est pas reconnue (le juge LLM sert à cela).",
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
        rows.append([name, len(rs), agg["recall_at_5"], agg["citation_precision"], agg["quote_holds_evidence"],
                     agg["answer_containment"], agg["exact_match"], agg["squad_f1"], agg["faithfulness"], correct,
                     agg["latency_p50_ms"]])
    return rows


BREAKDOWN_HEADERS = ["groupe", "n", "recall@5", "précision citations", "extrait avec preuve", "contenance", "EM",
                     "F1 SQuAD", "fidélité", "abstention juste", "latence p50 (ms)"]


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
    index = cfg.get("index")
    if index:
        doc.p(f"Index interrogé : {index['chunks']} passages de {index['documents']} documents"
              + (f" · moitié « {cfg['split']} »" if cfg.get("split") else "") + ".")
    if cfg.get("judge"):
        doc.p(f"Juge LLM : {cfg['judge']}.")
    for notice in summary.get("notices", []):
        doc.p(f"⚠ {notice}")

    doc.h("Résumé")
    rows = []
    for key in QUESTION_METRICS + ["abstention_precision", "abstention_recall"]:
        value, target = summary.get(key), targets.get(key)
        status = "" if target is None or value is None else ("atteinte" if value >= target else "manquée")
        if key == "faithfulness" and value is None and summary.get("faithfulness_note"):
            status = "sans objet : " + summary["faithfulness_note"]
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
    if any(r.get("group") for r in records):
        doc.h("Par groupe de documents")
        doc.table(BREAKDOWN_HEADERS, breakdown(records, lambda r: r.get("group", "")))
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
            doc.table(["n", "source", "preuve dans l'extrait ?", "preuve dans le passage ?", "extrait"],
                      [[c["n"], c["source"], c["has_evidence"], c.get("passage_has_evidence"), c["quote"]]
                       for c in x["citations"]])
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
