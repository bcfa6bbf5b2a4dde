"""`aimf eval compare DIR [DIR ...]`: runs side by side, each against the first (the baseline).

Deltas come with bootstrap 95% confidence intervals: questions are resampled with replacement (the same draw for
both runs, so differences stay paired), the summary metric is recomputed on each resample for both runs, and the
2.5th/97.5th percentiles of the differences bound the interval. The seed is fixed: same runs, same intervals.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path

from evals.metrics import QUESTION_METRICS, abstention_scores, mean, percentile, upgrade

DEFAULT_RESAMPLES, DEFAULT_SEED = 2000, 20261129


def _qmetric(name: str) -> Callable[[Sequence[dict]], float | None]:
    return lambda rs: mean(r["metrics"].get(name) for r in rs)


METRICS: dict[str, Callable[[Sequence[dict]], float | None]] = {name: _qmetric(name) for name in QUESTION_METRICS}
METRICS.update({
    "abstention_precision": lambda rs: abstention_scores((r["abstained"], r["answerable"]) for r in rs)[0],
    "abstention_recall": lambda rs: abstention_scores((r["abstained"], r["answerable"]) for r in rs)[1],
    "latency_p50_ms": lambda rs: percentile([r["latency_ms"] for r in rs], 50),
    "latency_p95_ms": lambda rs: percentile([r["latency_ms"] for r in rs], 95),
    "energy_wh_per_question": lambda rs: mean(r.get("energy_wh") for r in rs),
})
LOWER_IS_BETTER = {"latency_p50_ms", "latency_p95_ms", "energy_wh_per_question"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", type=Path, help="dossiers d'essais (aimf eval run --out) ; le premier sert de référence")
    p.add_argument("--out", type=Path, default=Path("eval-compare"), help="dossier de compare.md / compare.html")
    p.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES, help="tirages bootstrap")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="graine du bootstrap (fixe : résultats reproductibles)")


def load_run(folder: Path) -> tuple[str, dict, dict[str, dict]]:
    folder = Path(folder)
    summary = upgrade(json.loads((folder / "summary.json").read_text(encoding="utf-8")))
    records = {}
    for line in (folder / "results.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            upgrade(r.get("metrics", {}))  # runs recorded under older metric names
            records[r["id"]] = r
    label = summary.get("config", {}).get("label") or folder.name
    return label, summary, records


def outcome(r: dict) -> str:
    """What a user got: the right call on abstention, and for an answer, the reference in it."""
    if not r["answerable"]:
        return "ok (abstention)" if r["abstained"] else "answered unanswerable"
    if r["abstained"]:
        return "wrong abstention"
    return "ok" if r["metrics"].get("answer_containment") == 1 else "answer misses reference"


def bootstrap_delta(base: list[dict], other: list[dict], fn: Callable[[Sequence[dict]], float | None],
                    resamples: int, seed: int) -> tuple[float | None, float | None, float | None]:
    """(delta, ci_low, ci_high) of fn(other) - fn(base) over paired records."""
    a, b = fn(base), fn(other)
    if a is None or b is None:
        return None, None, None
    rng = random.Random(seed)
    n = len(base)
    diffs = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        da, db = fn([base[i] for i in idx]), fn([other[i] for i in idx])
        if da is not None and db is not None:
            diffs.append(db - da)
    if not diffs:
        return b - a, None, None
    return b - a, percentile(diffs, 2.5), percentile(diffs, 97.5)


def compare(folders: list[Path], resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> dict:
    runs = [load_run(f) for f in folders]
    labels = _unique([label for label, _, _ in runs])
    common = [qid for qid in runs[0][2] if all(qid in r for _, _, r in runs[1:])]
    base = [runs[0][2][q] for q in common]
    result: dict = {"labels": labels, "folders": [str(f) for f in folders], "n_common": len(common),
                    "only_some": sorted(set().union(*(set(r) for _, _, r in runs)) - set(common)),
                    "metrics": {}, "changed": []}
    for name, fn in METRICS.items():
        row = {"values": [fn([r[q] for q in common]) for _, _, r in runs], "deltas": []}
        for _, _, recs in runs[1:]:
            d, lo, hi = bootstrap_delta(base, [recs[q] for q in common], fn, resamples, seed)
            row["deltas"].append({"delta": d, "ci_low": lo, "ci_high": hi,
                                  "significant": lo is not None and (lo > 0 or hi < 0)})
        result["metrics"][name] = row
    for qid in common:
        outcomes = [outcome(r[qid]) for _, _, r in runs]
        if len(set(outcomes)) > 1:
            result["changed"].append({"id": qid, "question": runs[0][2][qid]["question"], "outcomes": outcomes,
                                      "answers": [r[qid]["answer"] for _, _, r in runs]})
    return result


def _unique(labels: list[str]) -> list[str]:
    out = []
    for i, label in enumerate(labels):
        out.append(label if labels.count(label) == 1 else f"{label} #{i + 1}")
    return out


def _fmt(v: float | None, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _delta_text(d: dict, name: str) -> str:
    if d["delta"] is None:
        return "—"
    digits = 1 if name.endswith("_ms") else (6 if "energy" in name else 3)
    ci = "" if d["ci_low"] is None else f" [{_fmt(d['ci_low'], digits)}, {_fmt(d['ci_high'], digits)}]"
    better = (d["delta"] < 0) if name in LOWER_IS_BETTER else (d["delta"] > 0)
    mark = (" ▲" if better else " ▼") if d["significant"] else ""
    return f"{d['delta']:+.{digits}f}{ci}{mark}"


def table_rows(result: dict) -> tuple[list[str], list[list[str]]]:
    labels = result["labels"]
    headers = ["métrique", labels[0]] + [h for label in labels[1:] for h in (label, f"Δ {label} [IC 95 %]")]
    rows = []
    for name, row in result["metrics"].items():
        digits = 1 if name.endswith("_ms") else (6 if "energy" in name else 3)
        cells = [name, _fmt(row["values"][0], digits)]
        for value, d in zip(row["values"][1:], row["deltas"]):
            cells += [_fmt(value, digits), _delta_text(d, name)]
        rows.append(cells)
    return headers, rows


def write_files(result: dict, out: Path) -> tuple[Path, Path]:
    from evals import charts
    from evals.render import Doc, write

    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    doc = Doc("Comparaison d'essais : " + " / ".join(result["labels"]))
    doc.p(f"{result['n_common']} questions communes ; référence : {result['labels'][0]} ({result['folders'][0]}). "
          "Δ = essai − référence, intervalle de confiance à 95 % par bootstrap apparié "
          "(▲ meilleur, ▼ moins bon, quand l'intervalle exclut 0).")
    if result["only_some"]:
        doc.p(f"Questions absentes de certains essais (ignorées) : {', '.join(result['only_some'][:20])}")
    headers, rows = table_rows(result)
    doc.table(headers, rows)
    quality = [m for m in result["metrics"] if m not in LOWER_IS_BETTER]
    doc.image("compare.png", charts.compare_bars(
        result["labels"], quality,
        {label: [result["metrics"][m]["values"][i] for m in quality] for i, label in enumerate(result["labels"])}),
        "Métriques par essai")
    doc.h(f"Questions dont le résultat change ({len(result['changed'])})")
    doc.table(["id", "question"] + result["labels"],
              [[c["id"], c["question"]] + c["outcomes"] for c in result["changed"]])
    return write(doc, out, "compare")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    for folder in args.runs:
        if not (folder / "summary.json").is_file() or not (folder / "results.jsonl").is_file():
            print(f"Erreur : {folder} n'est pas un dossier d'essai (summary.json et results.jsonl attendus)")
            return 2
    result = compare(args.runs, args.resamples, args.seed)
    headers, rows = table_rows(result)
    console = Console()
    table = Table(title=f"Comparaison ({result['n_common']} questions communes, IC 95 % bootstrap apparié)")
    for i, h in enumerate(headers):
        table.add_column(h, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if result["changed"]:
        changed = Table(title=f"Questions dont le résultat change ({len(result['changed'])})")
        for h in ["id"] + result["labels"]:
            changed.add_column(h)
        for c in result["changed"]:
            changed.add_row(c["id"], *c["outcomes"])
        console.print(changed)
    else:
        console.print("Aucune question ne change de résultat.")
    md, page = write_files(result, args.out)
    console.print(f"Écrit : {md} · {page} · {args.out / 'compare.json'}")
    return 0
