"""The main flow: provincial PDFs in a folder -> coverage matrix in the DuckDB warehouse.

Each task body is one call into ``compare``; the flow's signature holds the run's parameters.
"""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from compare import pipeline, summary as run_summary, warehouse
from compare.catalogue import Catalogue
from compare.pipeline import Plan, RunSummary, Scored, Scorer
from compare.records import ParsedDocument
from compare.report import committee_summary_markdown
from compare.settings import DEFAULT_MODELS, DEFAULT_TOP_K, Settings


@task(name="load-catalogue")
def load_catalogue(settings: Settings) -> Catalogue:
    return pipeline.load_run_catalogue(settings)


@task(name="plan")
def make_plan(settings: Settings, force: bool) -> Plan:
    return pipeline.plan(pipeline.corpus_files(settings.corpus), warehouse.known_documents(settings.warehouse), force=force)


@task(name="parse-document", retries=1, retry_delay_seconds=1)
def parse_document(path: Path) -> ParsedDocument:
    return pipeline.parse_document(path)


@task(name="score")
def score(settings: Settings, catalogue: Catalogue, docs: list[ParsedDocument]) -> tuple[Scored, str, object]:
    scorer = Scorer.from_settings(settings, catalogue)
    return scorer.score(docs), scorer.method, scorer.calibration


@task(name="publish", retries=2, retry_delay_seconds=2)
def publish(
    settings: Settings,
    catalogue: Catalogue,
    run_plan: Plan,
    docs: list[ParsedDocument],
    scored: tuple[Scored, str, object],
    timings: dict[str, float],
    started: float,
) -> RunSummary:
    result, method, calibration = scored
    return pipeline.publish(settings, catalogue, run_plan, docs, result, method, calibration, timings, started)  # type: ignore[arg-type]


@flow(name="compare-run", log_prints=True)
def compare_run(
    corpus: str = str(Settings().corpus),
    warehouse_path: str = str(Settings().warehouse),
    models: list[str] = list(DEFAULT_MODELS),  # noqa: B006 - Prefect parameters are copied per run
    top_k: int = DEFAULT_TOP_K,
    catalogue: str = str(Settings().catalogue),
    calibration: str = str(Settings().calibration),
    force: bool = False,
) -> RunSummary:
    """Match every new or changed PDF in ``corpus`` to the national measures and publish the warehouse."""
    settings = Settings.from_env(
        corpus=corpus, warehouse=warehouse_path, models=models, top_k=top_k, catalogue=catalogue, calibration=calibration
    )
    started = time.time()
    timings: dict[str, float] = {}
    tick = time.perf_counter()
    national = load_catalogue(settings)
    run_plan = make_plan(settings, force)
    timings["plan"] = time.perf_counter() - tick
    tick = time.perf_counter()
    docs = list(parse_document.map(list(run_plan.to_process)).result())
    timings["extract"] = time.perf_counter() - tick
    tick = time.perf_counter()
    scored = score(settings, national, docs)
    timings["score"] = time.perf_counter() - tick
    summary = publish(settings, national, run_plan, docs, scored, timings, started)
    create_markdown_artifact(key="compare-run-summary", markdown=run_summary.run_markdown(summary), description="compare run")
    create_markdown_artifact(
        key="compare-committee-summary",
        markdown=committee_summary_markdown(summary.warehouse),
        description="coverage for the expert committee",
    )
    return summary
