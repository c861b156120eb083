"""The scale flow: documents/s and peak memory at 30, 300 and 3,000 documents; speedup with Dask workers.

Generates the synthetic corpus once (``compare.scale.synthetic``, seed 2015) and runs the
``compare-scale`` flow on its first N documents, each run in a fresh child process with a
fresh warehouse and staging folder, against one Prefect server started here (so no run pays
for, or measures, a server of its own). While a run goes, the child's process tree (the flow
process with the Dask scheduler, and the worker processes) is sampled for its resident memory.

    .venv/bin/python benchmarks/scale.py                     # the plan below (~25 min on 2 cores)
    .venv/bin/python benchmarks/scale.py --plan quick        # 30 documents only
    .venv/bin/python benchmarks/scale.py --plan large        # the 3,000-document point alone

A plan is a list of (documents, models, workers, repeats). The default models cost
~20-90 clauses/s (e5-small) and ~500/s (USE) per core, so 3,000 documents with them would take
hours here: the 3,000 point uses the model-free hashing encoder, which leaves the rest of the
pipeline (extraction, segmentation, scoring, staging, loading) to be measured; the default
models are run at 30 documents and USE alone at 300. Results merge into
benchmarks/results/scale.json (a run of one plan keeps the other plans' figures).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "scale.json"
DEFAULT_CORPUS_ROOT = Path(tempfile.gettempdir()) / "compare-scale-corpus"
SEED = 2015
GENERATE_JOBS = 2
#: Documents per batch task: 8 (not the default 16) so that 30 documents still make 4 batches for 4 workers.
BATCH_SIZE = 8
SAMPLE_EVERY_S = 0.2
#: every this many seconds the sampler also records (seconds, flow-process MB, largest worker MB)
TIMELINE_EVERY_S = 10.0
SERVER_START_TIMEOUT_S = 120
RUN_TIMEOUT_S = 3600
MB = 1024 * 1024
HASHING = "hashing"
DEFAULT_MODELS = "e5-small,use"
#: (documents, models, workers, repeats)
PLANS: dict[str, list[tuple[int, str, int, int]]] = {
    "quick": [(30, HASHING, w, 3) for w in (1, 2, 4)],
    "main": [
        *[(30, HASHING, w, 3) for w in (1, 2, 4)],
        *[(300, HASHING, w, 1) for w in (1, 2, 4)],
        (30, DEFAULT_MODELS, 1, 1),
        (30, DEFAULT_MODELS, 2, 1),
        (300, "use", 2, 1),
    ],
    "large": [(3000, HASHING, 2, 1)],
    "smoke": [(6, HASHING, 1, 1), (6, HASHING, 2, 1)],
    # after a change to the flow: the hashing points that show memory against size, and the speedup
    "recheck": [(30, HASHING, 2, 1), *[(300, HASHING, w, 1) for w in (1, 2, 4)], (3000, HASHING, 2, 1)],
}
#: the default models, one worker against two: speed, memory, and whether the rows are bit-identical
PLANS["models"] = [(30, DEFAULT_MODELS, 1, 1), (30, DEFAULT_MODELS, 2, 1)]
PLANS["all"] = PLANS["main"] + PLANS["large"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Prefect server for every run of the benchmark (its own PREFECT_HOME, no analytics)."""
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    prefect = Path(sys.executable).with_name("prefect")
    server = subprocess.Popen(
        [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return server, url
        except OSError:
            time.sleep(1)
    server.terminate()
    raise SystemExit(f"the Prefect server did not answer on {url} within {SERVER_START_TIMEOUT_S} s")


def corpus_of(root: Path, n: int) -> Path:
    """A folder with the first n generated PDFs (symbolic links)."""
    from compare.scale.synthetic import file_names

    folder = root / f"first-{n}"
    if not folder.is_dir():
        folder.mkdir()
        for name in file_names(root / "all")[:n]:
            (folder / name).symlink_to(root / "all" / name)
    return folder


class TreeSampler(threading.Thread):
    """Peak resident memory of a process and its descendants, sampled."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.stop = threading.Event()
        self.peak_tree = self.peak_main = self.peak_child = 0
        self.children_seen: set[int] = set()
        #: (seconds since start, flow-process MB, largest worker MB), one per TIMELINE_EVERY_S
        self.timeline: list[tuple[float, int, int]] = []

    def run(self) -> None:
        start = time.perf_counter()
        next_point = 0.0
        while not self.stop.is_set():
            try:
                main = self.root.memory_info().rss
                children = []
                for child in self.root.children(recursive=True):
                    try:
                        children.append(child.memory_info().rss)
                        self.children_seen.add(child.pid)
                    except psutil.Error:
                        pass
            except psutil.Error:
                break
            self.peak_main = max(self.peak_main, main)
            self.peak_child = max([self.peak_child, *children])
            self.peak_tree = max(self.peak_tree, main + sum(children))
            elapsed = time.perf_counter() - start
            if elapsed >= next_point:
                self.timeline.append(
                    (round(elapsed, 1), round(main / MB), round(max(children, default=0) / MB))
                )
                next_point += TIMELINE_EVERY_S
            time.sleep(SAMPLE_EVERY_S)


def measure(corpus: Path, models: str, workers: int, work: Path, api_url: str) -> dict[str, Any]:
    """One flow run in a child process: its summary, wall time and peak memory."""
    warehouse = work / "w.duckdb"
    command = [
        sys.executable, __file__, "_run", "--corpus", str(corpus), "--warehouse", str(warehouse),
        "--staging", str(work / "staging"), "--models", models, "--workers", str(workers),
    ]  # fmt: skip
    env = {
        **os.environ,
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "DASK_DISTRIBUTED__LOGGING__DISTRIBUTED": "warning",
    }
    tick = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    sampler = TreeSampler(child.pid)
    sampler.start()
    out, err = child.communicate(timeout=RUN_TIMEOUT_S)
    wall = time.perf_counter() - tick
    sampler.stop.set()
    sampler.join()
    lines = out.strip().splitlines()
    if child.returncode != 0 or not lines or not lines[-1].startswith("{"):
        return {
            "error": err.strip().splitlines()[-12:],
            "returncode": child.returncode,
            "wall_s": round(wall, 1),
        }
    summary = json.loads(lines[-1])
    stage_load = summary["timings"]["stage"] + summary["timings"]["load"]
    return {
        **summary,
        "wall_s": round(wall, 1),
        "documents_per_s": round(summary["n_processed"] / stage_load, 3),
        "peak_tree_rss_mb": round(sampler.peak_tree / MB),
        "peak_flow_process_rss_mb": round(sampler.peak_main / MB),
        "peak_worker_rss_mb": round(sampler.peak_child / MB),
        "rss_timeline": sampler.timeline,
    }


def child_run(args: argparse.Namespace) -> None:
    """In the child: one scale-flow run; prints its summary as the last line."""
    from flows.scale_flow import run_scale

    summary = run_scale(
        workers=args.workers,
        corpus=args.corpus,
        warehouse_path=args.warehouse,
        staging_dir=args.staging,
        models=args.models.split(","),
        batch_size=BATCH_SIZE,
    )
    timings = {k: round(v, 2) for k, v in summary.timings.items()}
    record = {
        "n_processed": summary.n_processed,
        "n_failed": summary.n_failed,
        "n_clauses": summary.record["n_clauses"],
        "n_embedded": summary.n_embedded,
        "timings": timings,
    }
    print(json.dumps(record))


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[int, str, int], list[dict[str, Any]]] = {}
    for run in runs:
        if "error" not in run:
            groups.setdefault((run["documents"], run["models"], run["workers"]), []).append(run)
    rows = []
    for (n, models, workers), group in sorted(groups.items()):
        rows.append(
            {
                "documents": n,
                "models": models,
                "workers": workers,
                "runs": len(group),
                "documents_per_s": _median([r["documents_per_s"] for r in group]),
                "stage_s": _median([r["timings"]["stage"] for r in group]),
                "load_s": _median([r["timings"]["load"] for r in group]),
                "wall_s": _median([r["wall_s"] for r in group]),
                "peak_tree_rss_mb": max(r["peak_tree_rss_mb"] for r in group),
                "peak_worker_rss_mb": max(r["peak_worker_rss_mb"] for r in group),
                "peak_flow_process_rss_mb": max(r["peak_flow_process_rss_mb"] for r in group),
            }
        )
    return rows


def speedups(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    result: dict[str, dict[str, float]] = {}
    for row in rows:
        base = next(
            (
                r
                for r in rows
                if (r["documents"], r["models"], r["workers"]) == (row["documents"], row["models"], 1)
            ),
            None,
        )
        if base is not None:
            key = f"{row['models']}, {row['documents']} documents"
            result.setdefault(key, {})[str(row["workers"])] = round(base["stage_s"] / row["stage_s"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    one = sub.add_parser("_run")
    for option in ("--corpus", "--warehouse", "--staging", "--models"):
        one.add_argument(option, required=True)
    one.add_argument("--workers", type=int, required=True)
    parser.add_argument("--plan", choices=sorted(PLANS), default="main")
    parser.add_argument("--corpus-root", type=Path, default=DEFAULT_CORPUS_ROOT)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.command == "_run":
        child_run(args)
        return

    from compare.scale import staging, synthetic

    plan = PLANS[args.plan]
    code = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h"], capture_output=True, text=True, check=False
    ).stdout.strip()
    largest = max(n for n, *_ in plan)
    tick = time.perf_counter()
    generated = synthetic.generate(args.corpus_root / "all", largest, SEED, jobs=GENERATE_JOBS)
    generation = {
        "documents": largest,
        "seed": SEED,
        "seconds": round(time.perf_counter() - tick, 1),
        "drawn": generated.rendered,
    }
    print(
        f"corpus: {generated.folder} ({largest} documents; drawn {generated.rendered} in {generation['seconds']} s)"
    )
    results = args.results
    previous = json.loads(results.read_text(encoding="utf-8")) if results.is_file() else {}
    keep = {(n, m, w) for n, m, w, _ in plan}
    runs = [r for r in previous.get("runs", []) if (r["documents"], r["models"], r["workers"]) not in keep]
    determinism = dict(previous.get("determinism", {}))
    with tempfile.TemporaryDirectory(prefix="compare-scale-") as scratch:
        server, api_url = start_server(Path(scratch) / "prefect-home")
        try:
            kept: dict[tuple[int, str, int], Path] = {}
            for n, models, workers, repeats in plan:
                corpus = corpus_of(args.corpus_root, n)
                for repeat in range(repeats):
                    work = Path(scratch) / f"run-{n}-{models.replace(',', '+')}-{workers}-{repeat}"
                    work.mkdir()
                    result = {
                        "documents": n,
                        "models": models,
                        "workers": workers,
                        "repeat": repeat,
                        "code": code,
                    }
                    result |= measure(corpus, models, workers, work, api_url)
                    runs.append(result)
                    print(json.dumps(result, ensure_ascii=False), flush=True)
                    if models != HASHING and repeat == 0 and "error" not in result:
                        kept[(n, models, workers)] = work / "w.duckdb"
                    else:
                        shutil.rmtree(work, ignore_errors=True)
            for (n, models, workers), path in kept.items():
                other = kept.get((n, models, 1))
                if workers != 1 and other is not None:
                    found = staging.differences(staging.published_rows(other), staging.published_rows(path))
                    determinism[f"{models}, {n} documents: 1 vs {workers} workers"] = found or "bit-identical"
        finally:
            server.terminate()
            server.wait(timeout=30)
    rows = summarise(runs)
    record = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        },
        "generation": generation
        if largest >= previous.get("generation", {}).get("documents", 0)
        else previous["generation"],
        "batch_size": BATCH_SIZE,
        "summary": rows,
        "speedup_stage": speedups(rows),
        "determinism": determinism,
        "runs": runs,
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\n{'docs':>5} {'models':<13} {'workers':>7} {'docs/s':>7} {'stage s':>8} {'load s':>7} "
          f"{'tree MB':>8} {'worker MB':>9} {'flow MB':>8}")  # fmt: skip
    for r in rows:
        print(
            f"{r['documents']:>5} {r['models']:<13} {r['workers']:>7} {r['documents_per_s']:>7.2f} {r['stage_s']:>8.1f} "
            f"{r['load_s']:>7.1f} {r['peak_tree_rss_mb']:>8} {r['peak_worker_rss_mb']:>9} {r['peak_flow_process_rss_mb']:>8}"
        )
    print("speedup of the stage step over 1 worker:", json.dumps(record["speedup_stage"], ensure_ascii=False))
    print("determinism:", json.dumps(determinism, ensure_ascii=False))
    print(f"written: {results}")


if __name__ == "__main__":
    main()
