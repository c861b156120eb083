"""Resident memory of one Dask worker and of the process that holds the client and scheduler,
batch after batch, under three Dask configurations.

Generates ``--documents`` synthetic plans, then stages them in batches of 8 with the hashing
model on a one-worker ``LocalCluster`` (one thread), once per engine and configuration:

- engines: each batch as a Prefect task on ``DaskTaskRunner`` (what the scale flow does), and
  with ``--engines plain,prefect`` also submitted straight to Dask
  (``Client.submit(staging.stage_batch, ...)``);
- configurations: Dask's defaults; its statistical profiler off; and what ``flows.scale_flow``
  runs with (``WORKER_CONFIG`` on the worker: profiler off, short developer logs and system
  monitor; ``PROCESS_CONFIG`` in this process, which holds the client and the scheduler).

After every batch the worker's RSS is read on the worker itself, and this process's RSS here
(after a garbage collection and ``malloc_trim`` in the "flow settings" runs, as the flow
does); growth is counted from the second batch (the first loads the models).

    .venv/bin/python benchmarks/worker_memory.py [--documents 240] [--engines prefect]

Prints the figures and writes benchmarks/results/worker_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import psutil

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import dask.config
from flows.scale_flow import PROCESS_CONFIG, WORKER_CONFIG

from compare.scale import staging, synthetic
from compare.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "worker_memory.json"
BATCH = 8
CLUSTER = {"n_workers": 1, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
#: name: (the worker's ``config``, this process's Dask settings, trim this process after a batch)
CONFIGURATIONS: dict[str, tuple[dict, dict, bool]] = {
    "dask defaults": ({}, {}, False),
    "profiler off": ({"distributed.worker.profile.enabled": False}, {}, False),
    "flow settings": (dict(WORKER_CONFIG), dict(PROCESS_CONFIG), True),
}
ENGINES = ("plain", "prefect")


def worker_rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def after_batch(trim: bool) -> float:
    """This process's RSS (MB), after the flow's own release of memory if ``trim``."""
    if trim:
        staging.release_memory()
    return worker_rss_mb()


def plain_dask(
    settings: Settings, folder: Path, batches: list[list[Path]], spec: dict, trim: bool
) -> tuple[list[float], list[float]]:
    from distributed import Client, LocalCluster

    workers, here = [], []
    with LocalCluster(**spec) as cluster, Client(cluster) as client:
        stage = staging.prepare(settings, folder)
        for paths in batches:
            client.submit(staging.stage_batch, settings, stage, paths, force=True, pure=False).result()
            workers.append(next(iter(client.run(worker_rss_mb).values())))
            here.append(after_batch(trim))
    return workers, here


def prefect_on_dask(
    settings: Settings, folder: Path, batches: list[list[Path]], spec: dict, trim: bool
) -> tuple[list[float], list[float]]:
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect_dask import DaskTaskRunner

    stage_batch = task(staging.stage_batch, name="stage-batch", cache_policy=NO_CACHE)
    probe = task(worker_rss_mb, name="worker-rss", cache_policy=NO_CACHE)

    @flow(task_runner=DaskTaskRunner(cluster_kwargs=spec))
    def measure() -> tuple[list[float], list[float]]:
        stage = staging.prepare(settings, folder)
        workers, here = [], []
        for paths in batches:
            stage_batch.submit(settings, stage, paths, force=True).result()
            workers.append(probe.submit().result())
            here.append(after_batch(trim))
        return workers, here

    return measure()


def growth(samples: list[float], documents: int) -> dict[str, object]:
    """Growth from the second batch (the first loads the models), and over the second half."""
    first, last, middle = samples[1], samples[-1], samples[len(samples) // 2]
    return {
        "rss_mb_after_batch": [round(s, 1) for s in samples],
        "after_second_batch_mb": round(first, 1),
        "after_last_batch_mb": round(last, 1),
        "mb_per_document": round((last - first) / (documents - 2 * BATCH), 3),
        # the second half alone: what is still growing once the run is under way
        "mb_per_document_second_half": round(
            (last - middle) / (BATCH * (len(samples) - 1 - len(samples) // 2)), 3
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=240)
    parser.add_argument(
        "--engines", default="prefect", help=f"comma-separated, of {', '.join(ENGINES)} (default: prefect)"
    )
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or set(engines) - set(ENGINES):
        parser.error(f"--engines takes {', '.join(ENGINES)}, got {args.engines!r}")
    record: dict[str, object] = {"documents": args.documents, "batch_size": BATCH, "models": "hashing"}
    measures = {"plain": ("plain dask", plain_dask), "prefect": ("prefect on dask", prefect_on_dask)}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        synthetic.generate(corpus, args.documents, 7, jobs=2)
        paths = sorted(corpus.glob("*.pdf"))
        settings = Settings.from_env(corpus=corpus, warehouse=Path(tmp) / "w.duckdb", models=["hashing"])
        batches = staging.batches(paths, BATCH)
        for engine in engines:
            label, measure = measures[engine]
            for configuration, (worker_config, process_config, trim) in CONFIGURATIONS.items():
                name = f"{label}, {configuration}"
                folder = Path(tmp) / name.replace(" ", "-").replace(",", "")
                spec = {**CLUSTER, **({"config": worker_config} if worker_config else {})}
                tick = time.perf_counter()
                with dask.config.set(process_config):
                    workers, here = measure(settings, folder, batches, spec, trim)
                seconds = time.perf_counter() - tick
                shutil.rmtree(folder, ignore_errors=True)
                record[name] = {
                    "seconds": round(seconds, 1),
                    "worker": growth(workers, len(paths)),
                    "this process": growth(here, len(paths)),
                }
                print(
                    f"{name:32s} over {len(paths)} documents: worker RSS {workers[1]:.0f} -> {workers[-1]:.0f} MB, "
                    f"client and scheduler process {here[1]:.0f} -> {here[-1]:.0f} MB; {seconds:.0f} s",
                    flush=True,
                )
    RESULTS.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
