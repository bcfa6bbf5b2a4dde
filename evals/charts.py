"""Report charts (matplotlib, Agg backend), returned as PNG bytes."""

from __future__ import annotations

import io

from evals.metrics import QUESTION_METRICS, percentile


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def metric_distribution(records: list[dict]) -> bytes:
    """Per metric, the share of questions at 0, in between and at 1 (most metrics are per-question 0/1)."""
    plt = _plt()
    names, zero, mid, one, counts = [], [], [], [], []
    for name in QUESTION_METRICS:
        vals = [r["metrics"][name] for r in records if r["metrics"].get(name) is not None]
        if not vals:
            continue
        n = len(vals)
        names.append(name)
        zero.append(sum(v == 0 for v in vals) / n)
        one.append(sum(v == 1 for v in vals) / n)
        mid.append(1 - zero[-1] - one[-1])
        counts.append(n)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.2))
    y = range(len(names))
    ax.barh(y, one, color="#2e7d32", label="= 1")
    ax.barh(y, mid, left=one, color="#f9a825", label="entre 0 et 1")
    ax.barh(y, zero, left=[a + b for a, b in zip(one, mid)], color="#c62828", label="= 0")
    ax.set_yticks(list(y), [f"{n} (n={c})" for n, c in zip(names, counts)])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("part des questions")
    ax.set_title("Distribution des métriques par question")
    ax.legend(loc="upper center", fontsize=8, ncols=3, bbox_to_anchor=(0.5, -0.14), frameon=False)
    return _png(fig)


def latency(records: list[dict]) -> bytes:
    """Latency histogram with p50/p95, and each question's retrieve/generate split."""
    plt = _plt()
    totals = [r["latency_ms"] for r in records]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.6))
    a1.hist(totals, bins=min(20, max(5, len(totals) // 3)), color="#1565c0")
    for q, style in ((50, "--"), (95, ":")):
        v = percentile(totals, q)
        if v is not None:
            a1.axvline(v, color="black", linestyle=style, label=f"p{q} = {v:.0f} ms")
    a1.set_xlabel("latence totale (ms)")
    a1.set_ylabel("questions")
    a1.legend(fontsize=8)
    a1.set_title("Latence par question")
    x = range(len(records))
    retrieve = [r["timings"]["retrieve"] for r in records]
    generate = [r["timings"]["generate"] for r in records]
    a2.bar(x, retrieve, color="#6a1b9a", label="recherche")
    a2.bar(x, generate, bottom=retrieve, color="#ef6c00", label="rédaction")
    a2.set_xlabel("question (ordre du jeu)")
    a2.set_ylabel("ms")
    a2.legend(fontsize=8)
    a2.set_title("Recherche et rédaction")
    return _png(fig)


def compare_bars(labels: list[str], metrics: list[str], values: dict[str, list[float | None]]) -> bytes:
    """Grouped bars: one group per metric, one bar per run."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(metrics) * max(1, len(labels)) / 2 + 3), 3.8))
    width = 0.8 / max(1, len(labels))
    for i, label in enumerate(labels):
        xs = [j + i * width for j in range(len(metrics))]
        ax.bar(xs, [v if v is not None else 0 for v in values[label]], width, label=label)
    ax.set_xticks([j + width * (len(labels) - 1) / 2 for j in range(len(metrics))], metrics, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    ax.set_title("Métriques par essai")
    return _png(fig)
