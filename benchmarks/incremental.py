"""Incremental runs against a full run, on the sample corpus, with the default models.

Three scenarios, each timed as a user meets it: ``compare run`` in its own process (the Prefect
flow on a temporary server, models loaded from the cache):

- ``full``: an empty warehouse and an empty embedding and parse cache: every file is new;
- ``no_change``: the same corpus again: nothing to extract, embed or score;
- ``one_new``: a warehouse holding every file but one (built untimed, with its own fresh
  caches), then the last file added: one file extracted, embedded and scored.

Each is run ``--runs`` times (median reported) in the same session, so the ratios against the
full run compare like with like. Besides the wall time of the process, the stage seconds the
run recorded in ``runs.timings`` (plan, extract, score, publish) are reported: the difference
is starting Python, Prefect's temporary server and the flow, and loading models.

    .venv/bin/python benchmarks/incremental.py [--runs 3] [--models e5-small,use]

With ``--runners``, it instead times the flow's parsing stage alone (``extract`` in
``runs.timings``, every file parsed again with ``--force``) with one parsing thread against a
Prefect process pool of ``--workers`` processes, on copies of the sample corpus
(``--copies``), and writes benchmarks/results/incremental-runners.json.

Prints the figures and writes benchmarks/results/incremental.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from commands import compare_env, compare_run, last_run, models_only_cache

from compare.settings import DEFAULT_MODELS, Settings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "incremental.json"
RUNNER_RESULTS = ROOT / "benchmarks" / "results" / "incremental-runners.json"


def _compare_run(corpus: Path, warehouse: Path, cache: Path, models: str, *extra: str) -> dict[str, Any]:
    """``compare run`` in its own process; its wall time and what it recorded in ``runs``."""
    wall = compare_run(
        corpus, warehouse, compare_env(cache, cache.parent / "prefect"), "--models", models, *extra
    )
    return {"wall_s": round(wall, 2), **last_run(warehouse)}


def _corpus(folder: Path, files: list[Path]) -> Path:
    corpus = folder / "corpus"
    corpus.mkdir(exist_ok=True)
    for path in files:
        shutil.copy(path, corpus / path.name)
    return corpus


def scenario_runs(name: str, files: list[Path], runs: int, models: str) -> list[dict[str, Any]]:
    results = []
    for attempt in range(runs):
        with tempfile.TemporaryDirectory(prefix=f"compare-bench-{name}-") as tmp:
            folder = Path(tmp)
            cache, warehouse = models_only_cache(folder), folder / "w.duckdb"
            if name == "full":
                result = _compare_run(_corpus(folder, files), warehouse, cache, models)
            elif name == "no_change":
                corpus = _corpus(folder, files)
                _compare_run(corpus, warehouse, cache, models)
                result = _compare_run(corpus, warehouse, cache, models)
            else:  # one_new
                corpus = _corpus(folder, files[:-1])
                _compare_run(corpus, warehouse, cache, models)
                _corpus(folder, files[-1:])
                result = _compare_run(corpus, warehouse, cache, models)
        print(f"{name} #{attempt + 1}: {result}", flush=True)
        results.append(result)
    return results


def runners(runs: int, workers: int, copies: int) -> None:
    """The parsing stage with one thread against a process pool, on the same files."""
    files = sorted(Settings().corpus.glob("*.pdf"))
    timings: dict[str, list[float]] = {"one thread": [], f"{workers} processes": []}
    with tempfile.TemporaryDirectory(prefix="compare-bench-runners-") as tmp:
        folder = Path(tmp)
        corpus = folder / "corpus"
        corpus.mkdir()
        for copy in range(copies):  # distinct bytes, so distinct documents: a comment after %%EOF
            for path in files:
                (corpus / f"{path.stem}-{copy}.pdf").write_bytes(
                    path.read_bytes() + f"\n% copy {copy}\n".encode()
                )
        cache, warehouse = models_only_cache(folder), folder / "w.duckdb"
        _compare_run(corpus, warehouse, cache, "hashing")
        for _ in range(runs):
            for label, count in (("one thread", 1), (f"{workers} processes", workers)):
                result = _compare_run(corpus, warehouse, cache, "hashing", "--force", "--workers", str(count))
                timings[label].append(result["timings"]["extract"])
                print(f"{label}: extract {result['timings']['extract']} s", flush=True)
    report = {
        "files": len(files) * copies,
        "runs": runs,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "median_extract_s": {label: round(statistics.median(v), 2) for label, v in timings.items()},
        "extract_s": timings,
    }
    RUNNER_RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report["median_extract_s"]), f"written: {RUNNER_RESULTS}")


def _median(results: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(r[key] for r in results), 2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS))
    parser.add_argument(
        "--runners", action="store_true", help="time parsing with one thread against a process pool"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--copies", type=int, default=3)
    args = parser.parse_args()
    if args.runners:
        runners(args.runs, args.workers, args.copies)
        return
    files = sorted(Settings().corpus.glob("*.pdf"))
    if len(files) < 2:
        raise SystemExit(f"{Settings().corpus}: need at least two PDFs to measure a one-new-file run")
    scenarios = {
        name: scenario_runs(name, files, args.runs, args.models) for name in ("full", "no_change", "one_new")
    }
    full_wall, full_stages = _median(scenarios["full"], "wall_s"), _median(scenarios["full"], "stages_s")
    summary = {
        name: {
            "median_wall_s": _median(results, "wall_s"),
            "median_stages_s": _median(results, "stages_s"),
            "wall_ratio_to_full": round(_median(results, "wall_s") / full_wall, 3),
            "stages_ratio_to_full": round(_median(results, "stages_s") / full_stages, 3),
            "n_processed": results[0]["n_processed"],
            "n_embedded": [r["n_embedded"] for r in results],
            "runs": results,
        }
        for name, results in scenarios.items()
    }
    report = {
        "command": "compare run (own process, Prefect flow on a temporary server)",
        "models": args.models,
        "corpus": {"files": len(files), "new_file": files[-1].name},
        "runs": args.runs,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "scenarios": summary,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"\n{len(files)} files, models {args.models}, median of {args.runs} (seconds; ratio to the full run)"
    )
    print(f"{'scenario':<10} {'wall':>8} {'ratio':>7} {'stages':>8} {'ratio':>7}  processed  embedded")
    for name, s in summary.items():
        print(
            f"{name:<10} {s['median_wall_s']:>8.1f} {s['wall_ratio_to_full']:>7.3f} {s['median_stages_s']:>8.1f} "
            f"{s['stages_ratio_to_full']:>7.3f}  {s['n_processed']:>9}  {s['n_embedded']}"
        )
    print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
