"""The scale flow: documents staged in batches on a Dask cluster, then loaded by one writer.

Same job as ``compare-run``, for corpora of thousands of documents:

- ``plan`` (in the flow's process) decides which files to process, as ``compare-run`` does;
- ``prepare-staging`` (on one worker) loads the models and writes the fixed measure and
  exemplar vectors into the stage folder, so every worker scores against the same bits;
- ``stage-batch`` (on every worker, ``batch_size`` files each, at most ``in_flight`` batches
  submitted at a time) parses, scores and writes one Parquet file per table per document (and
  its clause vectors); a worker process loads its models (and the catalogue) once;
- ``load-warehouse`` (in the flow's process) bulk-loads the staged files into a new snapshot,
  with the reuse between plans (the loaded documents compared with the reuse index, as
  ``compare-run`` does: ``compare.scale.staging.loaded_reuse``).

One bad document never takes the run down: a document whose scoring raises is staged as
``failed``; a batch lost as a whole (its worker died, after the task's retry) is staged as
failed documents, each tried again by the next run (``compare.scale.staging.failed_batch``).

The task runner is chosen per run (``task_runner``): a ``LocalCluster`` of ``workers``
processes on this machine, an existing cluster at ``address`` (``tcp://scheduler:8786``), or,
with ``workers=0``, this process alone. Each task body is one call into ``compare``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import dask.config
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner
from tqdm import tqdm

from compare.errors import CatalogueError, CorpusError, SettingsError
from compare.match import scorer as match_scorer
from compare.match.catalogue import Catalogue
from compare.scale import staging
from compare.scale.staging import Stage, StagedDocument
from compare.settings import DEFAULT_MODELS, DEFAULT_TOP_K, Settings
from compare.store import plan as store_plan
from compare.store.plan import Clock, PlannedRun
from compare.store.publish import RunSummary
from flows.parameters import run_settings

#: Threads per Dask worker process: parallelism comes from processes (each scores single-threaded).
THREADS_PER_WORKER = 1
#: Dask settings that keep a long run's memory flat (``benchmarks/worker_memory.py`` and
#: ``benchmarks/scale.py`` measure them; docs/scale.md#memory):
#:
#: - Dask's statistical profiler samples every worker thread every 10 ms and keeps the call trees
#:   of its last 1,000 one-second cycles: a worker grows for its first ~17 minutes of work;
#: - Dask keeps, for developers, the last ``low-level-log-length`` (1,000) messages sent on each
#:   connection, scheduler transitions and worker events. A batch's compute message carries its
#:   whole call (Prefect's task, settings and run context, ~100 KB once unpickled), so the
#:   scheduler, the client (both in the flow's process) and every worker grow ~15 KB a document
#:   until a thousand batches have gone by;
#: - each process's system monitor keeps two samples a second for an hour.
LOW_LEVEL_LOG_LENGTH = 16
SYSTEM_MONITOR_SAMPLES = 120
PROCESS_CONFIG: dict[str, Any] = {
    "distributed.admin.low-level-log-length": LOW_LEVEL_LOG_LENGTH,
    "distributed.admin.system-monitor.log-length": SYSTEM_MONITOR_SAMPLES,
}
#: What local workers run with: dotted keys, because a Nanny merges ``config`` shallowly.
WORKER_CONFIG: dict[str, Any] = {"distributed.worker.profile.enabled": False, **PROCESS_CONFIG}


def dask_environment(config: dict[str, Any]) -> dict[str, str]:
    """The environment variables that give a Dask process ``config`` (Dask reads ``DASK_`` and
    the key, with ``__`` for each dot)."""
    return {
        "DASK_" + key.upper().replace(".", "__").replace("-", "_"): str(value)
        for key, value in config.items()
    }


#: How to start the workers and scheduler of a cluster of your own with ``WORKER_CONFIG``.
WORKER_ENVIRONMENT = dask_environment(WORKER_CONFIG)
WORKER_ADVICE = (
    "Dask worker {worker} runs with {settings}, which hold memory for every batch or second of "
    "work; start workers (and the scheduler) with {environment} to keep their memory flat"
)
#: A free port for a local cluster's dashboard (two clusters on one machine must not collide).
DASHBOARD_ADDRESS = ":0"
#: Batches submitted and not yet finished, at most: enough to keep every worker busy (raise it
#: to a few times the number of worker processes on a large cluster).
DEFAULT_IN_FLIGHT = 16


def task_runner(workers: int, address: str | None = None) -> TaskRunner[Any]:
    """Where the batches run: a cluster at ``address``, a local cluster of ``workers`` processes,
    or (``workers=0``) this process, one batch at a time."""
    if workers < 0 and not address:
        raise SettingsError(f"workers must be 0 (this process) or more, got {workers}")
    if workers == 0 and not address:
        return ThreadPoolTaskRunner(max_workers=1)
    # this process holds the Dask client (and a local cluster's scheduler): same short logs
    dask.config.set(PROCESS_CONFIG)
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": THREADS_PER_WORKER,
            "processes": True,
            "dashboard_address": DASHBOARD_ADDRESS,
            "config": dict(WORKER_CONFIG),
        },
    )


@functools.cache
def worker_advice() -> tuple[str, str] | None:
    """On a Dask worker whose settings hold memory (``WORKER_CONFIG``): its address and those
    settings (checked once per process); elsewhere None."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except ValueError:  # not on a Dask worker
        return None
    holding = []
    if dask.config.get("distributed.worker.profile.enabled"):
        holding.append("its profiler on")
    for key, limit in PROCESS_CONFIG.items():
        value = dask.config.get(key)
        if value is None or value > limit:
            holding.append(f"{key}={value}")
    return (worker.address, ", ".join(holding)) if holding else None


@functools.cache
def warn_worker(worker: str, settings: str) -> None:
    """Say once per worker process which of its settings hold memory (``WORKER_ADVICE``)."""
    environment = " ".join(f"{name}={value}" for name, value in WORKER_ENVIRONMENT.items())
    get_run_logger().warning(WORKER_ADVICE.format(worker=worker, settings=settings, environment=environment))


def retry_unless_refused(task: Any, task_run: Any, state: Any) -> bool:
    """A Prefect ``retry_condition_fn``: no retry for a refused run (a missing or empty corpus, a
    bad setting or catalogue), which a retry cannot mend. (``flows.compare_flow`` has the same
    rule; it is not imported here, so that Dask workers do not load the report modules.)"""
    try:
        state.result()
    except (CorpusError, SettingsError, CatalogueError):
        return False
    except Exception:
        return True
    return True


@task(name="load-catalogue", cache_policy=NO_CACHE)
def load_catalogue(settings: Settings) -> Catalogue:
    return match_scorer.load_run_catalogue(settings)


@task(
    name="plan",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=retry_unless_refused,
)
def make_plan(
    settings: Settings, catalogue: Catalogue, force: bool, allow_empty_corpus: bool = False
) -> PlannedRun:
    return store_plan.plan_run(settings, catalogue, force=force, allow_empty_corpus=allow_empty_corpus)


@task(name="prepare-staging", cache_policy=NO_CACHE)
def prepare(planned: PlannedRun, staging_dir: Path) -> Stage:
    return staging.prepare(planned.settings, staging_dir, planned)


@task(name="stage-batch", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def stage_batch(settings: Settings, stage: Stage, paths: list[Path], force: bool) -> list[StagedDocument]:
    if advice := worker_advice():
        warn_worker(*advice)
    return staging.stage_batch(settings, stage, paths, force=force)


def stage_all(
    settings: Settings, stage: Stage, work: list[list[Path]], force: bool, in_flight: int
) -> list[StagedDocument]:
    """Submit the batches, at most ``in_flight`` at a time, keeping only their small results.

    A finished future is dropped at once: Prefect and Dask keep what a submitted task carries
    for as long as its future lives, so submitting every batch up front (``.map``) would hold
    memory per batch in the flow process and on the workers for the whole run.
    """
    if in_flight < 1:
        raise SettingsError(f"in_flight must be at least 1, got {in_flight}")
    results: dict[int, list[StagedDocument]] = {}
    pending: dict[PrefectFuture[list[StagedDocument]], int] = {}
    total = sum(len(paths) for paths in work)
    with tqdm(total=total, desc="stage", unit="doc", disable=None) as progress:

        def collect(done: PrefectFuture[list[StagedDocument]]) -> None:
            index = pending.pop(done)
            try:
                batch = done.result()
            except Exception as exc:  # the batch is lost after its retry: its documents fail, not the run
                batch = staging.failed_batch(stage, work[index], exc)
            results[index] = batch
            progress.update(len(batch))
            # this process unpickles every batch's result and holds the scheduler's copy of
            # every call: hand what they left back to the OS as the workers do
            staging.release_memory()

        for index, paths in enumerate(work):
            if len(pending) >= in_flight:
                collect(next(iter(as_completed(list(pending)))))
            pending[stage_batch.submit(settings, stage, paths, force)] = index
        for done in as_completed(list(pending)):
            collect(done)
    return [doc for index in sorted(results) for doc in results[index]]


@task(name="load-warehouse", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10)
def load(planned: PlannedRun, stage: Stage | None, staged: list[StagedDocument], clock: Clock) -> RunSummary:
    return staging.load(planned, stage, staged, clock)


@flow(name="compare-scale", log_prints=True)
def compare_scale(
    corpus: str = str(Settings().corpus),
    warehouse_path: str = str(Settings().warehouse),
    staging_dir: str | None = None,
    models: list[str] = list(DEFAULT_MODELS),  # noqa: B006 - Prefect parameters are copied per run
    top_k: int = DEFAULT_TOP_K,
    catalogue: str = str(Settings().catalogue),
    calibration: str = str(Settings().calibration),
    batch_size: int = staging.DEFAULT_BATCH_SIZE,
    in_flight: int = DEFAULT_IN_FLIGHT,
    force: bool = False,
    allow_empty_corpus: bool = False,
) -> RunSummary:
    """Stage every new or changed PDF of ``corpus`` in batches on the task runner, then publish the warehouse.

    ``allow_empty_corpus``: let a corpus folder with no PDF mark every document withdrawn.
    """
    settings = run_settings(corpus, warehouse_path, models, top_k, catalogue, calibration)
    folder = Path(staging_dir) if staging_dir else staging.default_staging(settings)
    clock = Clock()
    with clock.step("plan"):
        planned = make_plan(settings, load_catalogue(settings), force, allow_empty_corpus)
    stage, staged = None, []
    with clock.step("stage"):
        if planned.plan.to_process:
            stage = prepare.submit(planned, folder).result()
            work = staging.batches(planned.plan.to_process, batch_size)
            staged = stage_all(settings, stage, work, force, in_flight)
    summary = load(planned, stage, staged, clock)
    print(
        f"staged {summary.n_processed} document(s) ({sum(not d.reused for d in staged)} new, "
        f"{sum(d.reused for d in staged)} reused), failed {summary.n_failed}; warehouse {summary.warehouse}"
    )
    return summary


def run_scale(*, workers: int, address: str | None = None, **parameters: Any) -> RunSummary:
    """Run ``compare-scale`` on the task runner that ``workers`` / ``address`` name."""
    runner = task_runner(workers, address)
    return compare_scale.with_options(task_runner=runner)(**parameters)
