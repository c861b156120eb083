"""Resident memory of one Dask worker, batch after batch: with and without Dask's profiler.

Generates ``--documents`` synthetic plans, then stages them in batches of 8 with the hashing
model on a one-worker ``LocalCluster`` (one thread), four times: each batch submitted straight
to Dask (``Client.submit(staging.stage_batch, ...)``) and each batch as a Prefect task on
``DaskTaskRunner``, each with Dask's statistical profiler on (Dask's default) and off (what
``flows.scale_flow`` gives its local workers, ``WORKER_CONFIG``). After every batch the
worker's RSS is read on the worker itself; growth is counted from the second batch (the first
loads the models).

    .venv/bin/python benchmarks/worker_memory.py [--documents 240]

Prints the figures and writes benchmarks/results/worker_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

import psutil

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from flows.scale_flow import WORKER_CONFIG

from compare import staging, synthetic
from compare.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "worker_memory.json"
BATCH = 8
CLUSTER = {"n_workers": 1, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
PROFILER = {"profiler on": {}, "profiler off": {"config": dict(WORKER_CONFIG)}}


def worker_rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def plain_dask(settings: Settings, folder: Path, batches: list[list[Path]], spec: dict) -> list[float]:
    from distributed import Client, LocalCluster

    samples = []
    with LocalCluster(**spec) as cluster, Client(cluster) as client:
        stage = staging.prepare(settings, folder)
        for paths in batches:
            client.submit(staging.stage_batch, settings, stage, paths, force=True, pure=False).result()
            samples.append(next(iter(client.run(worker_rss_mb).values())))
    return samples


def prefect_on_dask(settings: Settings, folder: Path, batches: list[list[Path]], spec: dict) -> list[float]:
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect_dask import DaskTaskRunner

    stage_batch = task(staging.stage_batch, name="stage-batch", cache_policy=NO_CACHE)
    probe = task(worker_rss_mb, name="worker-rss", cache_policy=NO_CACHE)

    @flow(task_runner=DaskTaskRunner(cluster_kwargs=spec))
    def measure() -> list[float]:
        stage = staging.prepare(settings, folder)
        samples = []
        for paths in batches:
            stage_batch.submit(settings, stage, paths, force=True).result()
            samples.append(probe.submit().result())
        return samples

    return measure()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=240)
    args = parser.parse_args()
    record: dict[str, object] = {"documents": args.documents, "batch_size": BATCH, "models": "hashing"}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        synthetic.generate(corpus, args.documents, 7, jobs=2)
        paths = sorted(corpus.glob("*.pdf"))
        settings = Settings.from_env(corpus=corpus, warehouse=Path(tmp) / "w.duckdb", models=["hashing"])
        batches = staging.batches(paths, BATCH)
        runs = [
            (f"{engine}, {profiler}", measure, {**CLUSTER, **extra})
            for engine, measure in (("plain dask", plain_dask), ("prefect on dask", prefect_on_dask))
            for profiler, extra in PROFILER.items()
        ]
        for name, measure, cluster in runs:
            folder = Path(tmp) / name.replace(" ", "-").replace(",", "")
            samples = measure(settings, folder, batches, cluster)
            shutil.rmtree(folder, ignore_errors=True)
            # the first batch loads the models: growth is counted from the second
            first, last = samples[1], samples[-1]
            record[name] = {
                "rss_mb_after_batch": [round(s, 1) for s in samples],
                "after_second_batch_mb": round(first, 1),
                "after_last_batch_mb": round(last, 1),
                "mb_per_document": round((last - first) / (len(paths) - 2 * BATCH), 3),
                # the second half alone: what is still growing once the run is under way
                "mb_per_document_second_half": round(
                    (last - samples[len(samples) // 2]) / (BATCH * (len(samples) - 1 - len(samples) // 2)), 3
                ),
            }
            print(
                f"{name:30s} worker RSS {first:.0f} -> {last:.0f} MB over {len(paths)} documents", flush=True
            )
    RESULTS.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
