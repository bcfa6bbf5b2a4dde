"""`aimf eval pool RUN [RUN ...] --out DIR`: several runs read as one (their questions together, one summary).

What a cross-validation by group needs: each group of questions is run with a reader that never saw it (`make
reader-cv`), and the figures that count are those of all the groups together. The pooled folder has the same files
as a run (results.jsonl, summary.json, report.md / .html): `aimf eval compare` and `aimf eval gate` read it as one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", type=Path, help="dossiers d'essais (aimf eval run --out) à réunir")
    p.add_argument("--out", type=Path, required=True, help="dossier de l'essai réuni")
    p.add_argument("--label", default=None, help="nom de l'essai réuni (par défaut : le nom du dossier)")


def pool(runs: list[Path]) -> tuple[list[dict], dict]:
    """The runs' records in order, each tagged with the run it comes from, and the first run's config (with every
    run's dataset). Every question id must be asked once: a question run twice would count twice."""
    records: list[dict] = []
    configs: list[dict] = []
    seen: dict[str, Path] = {}
    for folder in map(Path, runs):
        results, summary = folder / "results.jsonl", folder / "summary.json"
        if not results.is_file() or not summary.is_file():
            raise ValueError(f"{folder} : pas un essai (results.jsonl et summary.json attendus)")
        configs.append(json.loads(summary.read_text(encoding="utf-8")).get("config", {}))
        for line in results.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            if r["id"] in seen:
                raise ValueError(f"question « {r['id']} » posée dans {seen[r['id']]} et dans {folder}")
            seen[r["id"]] = folder
            records.append({**r, "run": folder.name})
    # the first run's settings (writer, k, model), with every run's questions
    config = {**configs[0], "dataset": " + ".join(str(c.get("dataset", f)) for c, f in zip(configs, runs))}
    return records, config


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from evals.runner import load_config, print_summary, summarise, targets_for, write_outputs

    try:
        records, config = pool(args.runs)
    except (ValueError, json.JSONDecodeError, KeyError) as exc:
        Console(stderr=True).print(f"[red]Erreur :[/] {exc}")
        return 2
    config = {**load_config(), **config, "label": args.label or args.out.name,
              "pooled_from": [str(r) for r in args.runs]}
    summary = summarise(records, config)
    summary["by_run"] = {name: {"n": sum(r["run"] == name for r in records)}
                         for name in dict.fromkeys(r["run"] for r in records)}
    summary["config"] = config
    write_outputs(args.out, records, summary, config)
    print_summary(summary, args.out, *targets_for(config, config.get("dataset_kind", "gold")))
    return 0
