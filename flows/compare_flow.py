"""The main flow: provincial PDFs in a folder -> coverage matrix in the DuckDB warehouse.

Each task body is one call into ``compare``; the flow's signature holds the run's parameters.

- ``plan`` reads the warehouse: only new or changed files go on (a rerun with nothing new
  extracts and embeds nothing, and loads no model);
- ``parse-document`` results are cached across runs by file content and parsing code,
  persisted under ``<cache_dir>/prefect-results``. Parsing runs one file at a time in the flow's
  process (pdfium is not thread-safe: parallel threads crash it), or with ``workers`` > 1 in a
  Prefect process pool. On the 2-core machine this was measured on, the pool is slower
  (starting each worker imports Prefect and the models' libraries; see docs/warehouse.md), so
  one worker is the default; more cores and OCR-heavy corpora may gain from it;
- ``publish`` writes a snapshot and renames it into place: all or nothing, so it is safe to retry;
- the run leaves markdown and table artifacts.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.futures import as_completed
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
from tqdm import tqdm

from compare import pipeline, provenance
from compare import summary as run_summary
from compare.calibration import Calibration
from compare.catalogue import Catalogue
from compare.pipeline import Plan, RunSummary, Scored, ScoringSetup
from compare.records import ParsedDocument
from compare.report import committee_summary_markdown
from compare.settings import DEFAULT_MODELS, DEFAULT_TOP_K, Settings

#: Folder under the cache directory where parsed documents are persisted between runs.
RESULTS_FOLDER = "prefect-results"
#: Below this many files to parse, starting worker processes costs more than it can save.
MIN_FILES_FOR_PROCESSES = 4
#: Parsing processes by default (see the module docstring for the measurement behind it).
DEFAULT_WORKERS = 1


def parse_cache_key(context: Any, parameters: dict[str, Any]) -> str:
    return provenance.parse_key(Path(parameters["path"]))


@task(name="load-catalogue")
def load_catalogue(settings: Settings) -> Catalogue:
    return pipeline.load_run_catalogue(settings)


@task(
    name="plan", retries=2, retry_delay_seconds=5
)  # the warehouse may be briefly locked by a writing client
def make_plan(settings: Settings, catalogue: Catalogue, force: bool) -> tuple[Plan, ScoringSetup]:
    return pipeline.plan_run(settings, catalogue, force=force)


@task(
    name="parse-document", cache_key_fn=parse_cache_key, persist_result=True, retries=1, retry_delay_seconds=1
)
def parse_document(path: Path) -> ParsedDocument:
    """One file; a bad file gives a status, so a retry only covers a lost worker process."""
    return pipeline.parse_document(path)


def parse_all(paths: list[Path], results: str, refresh: bool = False) -> list[ParsedDocument]:
    """Parse every file in the current flow's task runner, in the order given, with a progress bar."""
    parse = parse_document.with_options(result_storage=Path(results), refresh_cache=refresh)
    futures = parse.map(paths)
    for _ in tqdm(as_completed(futures), total=len(futures), desc="extract", unit="file", disable=None):
        pass
    return [f.result() for f in futures]


@flow(name="extract-documents")
def extract_documents(paths: list[Path], results: str, refresh: bool = False) -> list[ParsedDocument]:
    """``parse_all`` as a subflow, to give it a process pool."""
    return parse_all(paths, results, refresh)


def use_processes(workers: int, n_files: int) -> bool:
    """Whether parsing goes to a process pool: ``workers`` > 1 and enough files to repay starting it."""
    return workers > 1 and n_files >= MIN_FILES_FOR_PROCESSES


@task(name="score")
def score(
    settings: Settings, catalogue: Catalogue, docs: list[ParsedDocument]
) -> tuple[Scored, str | None, Calibration | None]:
    return pipeline.score_documents(settings, catalogue, docs)


@task(
    name="publish", retries=2, retry_delay_seconds=10
)  # all or nothing: a failed publish left nothing behind
def publish(
    settings: Settings,
    catalogue: Catalogue,
    run_plan: Plan,
    docs: list[ParsedDocument],
    scored: tuple[Scored, str | None, Calibration | None],
    setup: ScoringSetup,
    timings: dict[str, float],
    started: float,
) -> RunSummary:
    result, method, calibration = scored
    return pipeline.publish(
        settings,
        catalogue,
        run_plan,
        docs,
        result,
        method,
        calibration or setup.calibration,
        timings,
        started,
    )


def _records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows a table artifact can hold (no NaN)."""
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()} for row in rows
    ]


#: One parse at a time in the flow's process (pdfium is not thread-safe).
ONE_PARSER: Any = ThreadPoolTaskRunner(max_workers=1)  # Any: Prefect's runner generics do not type-check here


@flow(name="compare-run", log_prints=True, task_runner=ONE_PARSER)
def compare_run(
    corpus: str = str(Settings().corpus),
    warehouse_path: str = str(Settings().warehouse),
    models: list[str] = list(DEFAULT_MODELS),  # noqa: B006 - Prefect parameters are copied per run
    top_k: int = DEFAULT_TOP_K,
    catalogue: str = str(Settings().catalogue),
    calibration: str = str(Settings().calibration),
    force: bool = False,
    workers: int = DEFAULT_WORKERS,
) -> RunSummary:
    """Match every new or changed PDF in ``corpus`` to the national measures and publish the warehouse."""
    settings = Settings.from_env(
        corpus=corpus,
        warehouse=warehouse_path,
        models=models,
        top_k=top_k,
        catalogue=catalogue,
        calibration=calibration,
    )
    started = time.time()
    timings: dict[str, float] = {}
    tick = time.perf_counter()
    national = load_catalogue(settings)
    run_plan, setup = make_plan(settings, national, force)
    timings["plan"] = time.perf_counter() - tick
    tick = time.perf_counter()
    docs: list[ParsedDocument] = []
    paths, results = list(run_plan.to_process), str(settings.cache_dir / RESULTS_FOLDER)
    if use_processes(workers, len(paths)):
        pool: Any = ProcessPoolTaskRunner(max_workers=min(workers, len(paths)))
        docs = extract_documents.with_options(task_runner=pool)(paths, results, force)
    elif paths:
        docs = parse_all(paths, results, force)
    timings["extract"] = time.perf_counter() - tick
    tick = time.perf_counter()
    scored = score(settings, national, docs)
    timings["score"] = time.perf_counter() - tick
    summary = publish(settings, national, run_plan, docs, scored, setup, timings, started)
    create_markdown_artifact(
        key="compare-run-summary", markdown=run_summary.run_markdown(summary), description="compare run"
    )
    create_table_artifact(
        key="compare-run-counts",
        table=_records([run_summary.run_counts(summary)]),
        description="what the run did",
    )
    create_table_artifact(
        key="compare-coverage",
        table=_records(run_summary.coverage_summary(summary.warehouse).to_dict("records")),
        description="coverage of the 65 national measures per document",
    )
    create_markdown_artifact(
        key="compare-committee-summary",
        markdown=committee_summary_markdown(summary.warehouse),
        description="coverage for the expert committee",
    )
    return summary
