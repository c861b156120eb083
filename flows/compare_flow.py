"""The main flow: provincial PDFs in a folder -> coverage matrix in the DuckDB warehouse.

Each task body is one call into ``compare``; the flow's signature holds the run's parameters.

- ``plan`` reads the warehouse: only new or changed files go on (a rerun with nothing new
  extracts and embeds nothing, and loads no model);
- ``parse-document`` results are cached across runs by file content and parsing code,
  persisted under ``<cache_dir>/prefect-results``; a document that failed unexpectedly is
  never cached (the task fails with ``DocumentFailed``, and the flow takes the document from
  it), so the next run parses it again. Parsing runs one file at a time in the flow's
  process (pdfium is not thread-safe: parallel threads crash it), or with ``workers`` > 1 in a
  Prefect process pool. On the 2-core machine this was measured on, the pool is slower
  (starting each worker imports Prefect and the models' libraries; see docs/warehouse.md), so
  one worker is the default; more cores and OCR-heavy corpora may gain from it;
- ``reuse`` compares the new or changed documents with the persistent reuse index
  (``compare.run.pipeline.find_reuse``); ``publish`` writes its tables with the coverage;
- ``publish`` writes a snapshot and renames it into place: all or nothing, so it is safe to retry;
- the run leaves markdown and table artifacts; one that cannot be made is noted in the run's
  summary, and the published run stands.

One bad document never takes the run down (``compare.ingest.parse.Step``): it is published as
``failed`` with a message naming the file and the step. A corpus folder that is missing, or
empty while the warehouse has documents (``allow_empty_corpus``), is refused at the plan,
which is not retried for it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
from tqdm import tqdm

from compare.errors import CatalogueError, CorpusError, SettingsError
from compare.ingest import parse as ingest_parse
from compare.ingest.parse import Step
from compare.match import provenance
from compare.match import scorer as match_scorer
from compare.match.catalogue import Catalogue
from compare.match.scorer import Scored, Scorer
from compare.records import DocStatus, ParsedDocument
from compare.report import summary as run_summary
from compare.report.render import committee_summary_markdown
from compare.run import pipeline
from compare.settings import DEFAULT_MODELS, DEFAULT_TOP_K, Settings
from compare.store import plan as store_plan
from compare.store import publish as store_publish
from compare.store.plan import Clock, PlannedRun
from compare.store.publish import RunSummary
from compare.store.reuse import ReuseUpdate
from flows.parameters import run_settings

#: Folder under the cache directory where parsed documents are persisted between runs.
RESULTS_FOLDER = "prefect-results"
#: Below this many files to parse, starting worker processes costs more than it can save.
MIN_FILES_FOR_PROCESSES = 4
#: Parsing processes by default (see the module docstring for the measurement behind it).
DEFAULT_WORKERS = 1


def parse_cache_key(context: Any, parameters: dict[str, Any]) -> str:
    return provenance.parse_key(Path(parameters["path"]))


#: Errors that a retry cannot mend: the run is refused (the user must change something).
REFUSALS = (CorpusError, SettingsError, CatalogueError)


class DocumentFailed(Exception):
    """Raised by ``parse-document`` for a document that failed unexpectedly (``failed``), so that
    Prefect neither caches it nor retries it: a task run that returns is cached, one that raises
    is not. The flow takes the document back from ``doc``."""

    def __init__(self, doc: ParsedDocument) -> None:
        super().__init__(doc)
        self.doc = doc

    def __str__(self) -> str:
        return self.doc.message


def retry_unless(*kinds: type[BaseException]) -> Callable[[Any, Any, Any], bool]:
    """A Prefect ``retry_condition_fn``: retry a task run unless it raised one of ``kinds``."""

    def retry(task: Any, task_run: Any, state: Any) -> bool:
        try:
            state.result()
        except kinds:
            return False
        except Exception:
            return True
        return True

    return retry


@task(name="load-catalogue")
def load_catalogue(settings: Settings) -> Catalogue:
    return match_scorer.load_run_catalogue(settings)


@task(
    name="plan", retries=2, retry_delay_seconds=5, retry_condition_fn=retry_unless(*REFUSALS)
)  # the warehouse may be briefly locked by a writing client
def make_plan(
    settings: Settings, catalogue: Catalogue, force: bool, allow_empty_corpus: bool = False
) -> PlannedRun:
    return store_plan.plan_run(settings, catalogue, force=force, allow_empty_corpus=allow_empty_corpus)


@task(
    name="parse-document",
    cache_key_fn=parse_cache_key,
    persist_result=True,
    retries=1,
    retry_delay_seconds=1,
    retry_condition_fn=retry_unless(DocumentFailed),
)
def parse_document(path: Path) -> ParsedDocument:
    """One file; a bad file gives a status, so a retry only covers a lost worker process. A
    ``failed`` document is raised as ``DocumentFailed``: never cached, tried again next run."""
    doc = ingest_parse.parse_document(path)
    if doc.status == DocStatus.FAILED:
        raise DocumentFailed(doc)
    return doc


def parsed(path: Path, outcome: Any) -> ParsedDocument:
    """A parse task's document: its result, the document a ``DocumentFailed`` carries, or, for a
    task that failed otherwise (its worker process lost), the file as a failed document."""
    if isinstance(outcome, ParsedDocument):
        return outcome
    if isinstance(outcome, DocumentFailed):
        return outcome.doc
    error = (
        outcome if isinstance(outcome, BaseException) else RuntimeError(f"the parse task gave {outcome!r}")
    )
    return ingest_parse.failed_file(path, error, Step.PARSE)


def parse_all(
    paths: list[Path],
    results: str,
    refresh: bool = False,
    on_parsed: Callable[[ParsedDocument], None] | None = None,
) -> list[ParsedDocument]:
    """Parse every file in the current flow's task runner, in the order given, with a progress bar;
    ``on_parsed`` is called in this thread with each document as its task completes."""
    parse = parse_document.with_options(result_storage=Path(results), refresh_cache=refresh)
    futures = parse.map(paths)
    path_of = {id(f): path for f, path in zip(futures, paths, strict=True)}
    for future in tqdm(as_completed(futures), total=len(futures), desc="extract", unit="file", disable=None):
        if on_parsed is not None:
            on_parsed(parsed(path_of[id(future)], future.result(raise_on_failure=False)))
    return [parsed(path, f.result(raise_on_failure=False)) for path, f in zip(paths, futures, strict=True)]


_ESCAPED_BYTE = re.compile("%([0-9A-F]{2})")
#: The lone surrogates by which Python stands for the bytes 0x80-0xFF of a non-UTF-8 file name.
_SURROGATE_BYTE = re.compile("[\udc80-\udcff]")


def portable(path: Path) -> str:
    """A path as a flow parameter can carry it (Prefect sends parameters to its API as UTF-8
    JSON): ``%`` and each byte of a name that is not UTF-8 as ``%XX``; ``local`` reverses it."""
    text = str(path).replace("%", "%25")
    return _SURROGATE_BYTE.sub(lambda m: f"%{ord(m.group()) - 0xDC00:02X}", text)


def local(text: str) -> Path:
    """The path that ``portable`` gave ``text`` for."""
    return Path(
        _ESCAPED_BYTE.sub(lambda m: "%" if m.group(1) == "25" else chr(0xDC00 + int(m.group(1), 16)), text)
    )


@flow(name="extract-documents")
def extract_documents(files: list[str], results: str, refresh: bool = False) -> list[ParsedDocument]:
    """``parse_all`` as a subflow, to give it a process pool; ``files`` as ``portable`` gives them."""
    return parse_all([local(f) for f in files], results, refresh)


def extract(
    paths: Sequence[Path],
    results: Path,
    workers: int,
    refresh: bool = False,
    on_parsed: Callable[[ParsedDocument], None] | None = None,
) -> list[ParsedDocument]:
    """Parse the files: in a process pool when ``use_processes`` says so, else one at a time in
    the flow's task runner (``on_parsed`` called with each document as it is parsed); each parse
    task's result is persisted under ``results``."""
    if use_processes(workers, len(paths)):
        pool: Any = ProcessPoolTaskRunner(max_workers=min(workers, len(paths)))
        return extract_documents.with_options(task_runner=pool)(
            [portable(p) for p in paths], str(results), refresh
        )
    return parse_all(list(paths), str(results), refresh, on_parsed) if paths else []


def use_processes(workers: int, n_files: int) -> bool:
    """Whether parsing goes to a process pool: ``workers`` > 1 and enough files to repay starting it."""
    return workers > 1 and n_files >= MIN_FILES_FOR_PROCESSES


@task(name="score", cache_policy=NO_CACHE)  # the scorer (models, caches) is not worth hashing
def score(planned: PlannedRun, docs: list[ParsedDocument], scorer: Scorer | None = None) -> Scored:
    return pipeline.score_documents(planned, docs, scorer)


@task(name="reuse", cache_policy=NO_CACHE)  # its input, the reuse index, is not worth hashing
def reuse(planned: PlannedRun, docs: list[ParsedDocument]) -> ReuseUpdate:
    return pipeline.find_reuse(planned, docs)


@task(
    name="publish", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE
)  # all or nothing: a failed publish left nothing behind
def publish(
    planned: PlannedRun,
    docs: list[ParsedDocument],
    scored: Scored,
    clock: Clock,
    found: ReuseUpdate | None = None,
) -> RunSummary:
    return store_publish.publish(planned, docs, scored, clock, reuse=found)


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
    allow_empty_corpus: bool = False,
    accept: list[str] | None = None,
) -> RunSummary:
    """Match every new or changed PDF in ``corpus`` to the national measures and publish the warehouse.

    ``allow_empty_corpus``: let a corpus folder with no PDF mark every document withdrawn
    (without it, such a run is refused: an unmounted share looks like an empty folder).
    ``accept``: files to keep in the coverage views whatever their relevance verdict (added to
    the ``accept`` setting; kept for later runs).
    """
    settings = run_settings(corpus, warehouse_path, models, top_k, catalogue, calibration)
    if accept:
        settings = settings.with_overrides(accept=[*settings.accept, *accept])
    clock = Clock()
    with clock.step("plan"):
        planned = make_plan(settings, load_catalogue(settings), force, allow_empty_corpus)
    with clock.step("extract"):  # each document is embedded as the next one is parsed
        ahead = pipeline.EmbedAhead(planned)
        try:
            docs = extract(
                planned.plan.to_process, settings.cache_dir / RESULTS_FOLDER, workers, force, ahead
            )
        except BaseException:
            ahead.cancel()
            raise
        embedded_ahead = ahead.finish()
    with clock.step("score"):
        scored = pipeline.with_ahead(score(planned, docs, ahead.scorer), embedded_ahead)
    with clock.step("reuse"):
        found = reuse(planned, [d for d in docs if d.doc_id not in scored.failed])
    summary = publish(planned, docs, scored, clock, found)
    return replace(summary, notes=summary.notes + tuple(leave_artifacts(summary)))


def leave_artifacts(summary: RunSummary) -> list[str]:
    """The run's artifacts. The run is published by now: an artifact that cannot be made does not
    undo it; what went wrong is printed and returned as a note naming the step."""
    artifacts: list[tuple[str, str, Callable[[], Any]]] = [
        (Step.SUMMARY, "run summary", lambda: create_markdown_artifact(
            key="compare-run-summary", markdown=run_summary.run_markdown(summary), description="compare run"
        )),
        (Step.SUMMARY, "run counts", lambda: create_table_artifact(
            key="compare-run-counts",
            table=_records([run_summary.run_counts(summary)]),
            description="what the run did",
        )),
        (Step.SUMMARY, "coverage table", lambda: create_table_artifact(
            key="compare-coverage",
            table=_records(run_summary.coverage_summary(summary.warehouse).to_dict("records")),
            description="coverage of the 65 national measures per document",
        )),
        (Step.REPORT, "committee summary", lambda: create_markdown_artifact(
            key="compare-committee-summary",
            markdown=committee_summary_markdown(summary.warehouse),
            description="coverage for the expert committee",
        )),
    ]  # fmt: skip
    notes = []
    for step, what, make in artifacts:
        try:
            make()
        except Exception as exc:
            note = (
                f"{step}: the {what} artifact was not made ({type(exc).__name__}: {exc}); "
                f"the run is published (see `compare status`)"
            )
            print(f"warning: {note}")
            notes.append(note)
    return notes
