"""The full run of the sample corpus from cold caches: stage seconds and wall time.

Each round runs ``compare run`` (its own process, the default models) over corpora/provincial
into a fresh warehouse with a fresh cache folder that holds only the built models (symlinked from
the compare cache: building them is not part of a run): every document is extracted, every clause,
measure and exemplar embedded. Rounds alternate the e5 backends given (default: the default one,
``onnx-int8``, and ``torch``, the sentence-transformers path), so that the ratio is measured back
to back in one session. Stage seconds come from the run's own record (``runs.timings``).

    .venv/bin/python benchmarks/sample_run.py [--runs 3] [--backends onnx-int8,torch]

Prints the medians and writes benchmarks/results/sample_run.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import tempfile
from pathlib import Path

from commands import compare_env, compare_run, last_run, models_only_cache

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "sample_run.json"
CORPUS = ROOT / "corpora" / "provincial"


def one_run(backend: str, folder: Path) -> dict[str, float]:
    warehouse = folder / "w.duckdb"
    env = {**compare_env(models_only_cache(folder), folder / "prefect"), "COMPARE_E5_BACKEND": backend}
    wall = compare_run(CORPUS, warehouse, env)
    record = last_run(warehouse)
    return {
        "wall_s": round(wall, 2),
        "stages_s": record["stages_s"],
        "n_embedded": record["n_embedded"],
        **record["timings"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="onnx-int8,torch")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    rounds: dict[str, list[dict[str, float]]] = {b: [] for b in backends}
    for index in range(args.runs):
        for backend in backends:
            with tempfile.TemporaryDirectory(prefix="sample-run-") as tmp:
                figures = one_run(backend, Path(tmp))
            rounds[backend].append(figures)
            print(f"{backend} #{index + 1}: " + ", ".join(f"{k} {v}" for k, v in figures.items()), flush=True)
    medians = {
        backend: {key: round(statistics.median(r[key] for r in runs), 2) for key in runs[0]}
        for backend, runs in rounds.items()
    }
    record = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "loadavg": os.getloadavg()},
        "corpus": str(CORPUS.relative_to(ROOT)),
        "runs": args.runs,
        "rounds": rounds,
        "median": medians,
    }
    base = backends[-1]
    for backend in backends[:-1]:
        record[f"stages_ratio_{base}_to_{backend}"] = round(
            medians[base]["stages_s"] / medians[backend]["stages_s"], 2
        )
        record[f"score_ratio_{base}_to_{backend}"] = round(
            medians[base]["score"] / medians[backend]["score"], 2
        )
        record[f"wall_ratio_{base}_to_{backend}"] = round(
            medians[base]["wall_s"] / medians[backend]["wall_s"], 2
        )
    for backend, figures in medians.items():
        print(f"median {backend}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    print({k: v for k, v in record.items() if k.startswith(("stages_ratio", "score_ratio", "wall_ratio"))})
    RESULTS.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
