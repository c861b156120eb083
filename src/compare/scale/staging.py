"""Per-document Parquet intermediates, and the single writer that loads them into the warehouse.

A run too large for one process is *staged*: the files to process are cut into fixed-size
batches that any number of processes or machines work through, one document at a time (parse
→ score → one Parquet file per table); then one writer bulk-loads the staged files into a new
warehouse snapshot with DuckDB's ``read_parquet``. Nothing holds more than one document's
clauses and embeddings; what is left of memory growth in Dask workers is measured in
docs/scale.md.

Layout of a staging folder::

    <staging>/<key>/fixed/<model>.npz              measure and exemplar vectors every worker uses
    <staging>/<key>/<table>/<doc_id>.parquet       table: pages, clauses, departments, targets,
                                                   matches, clause_decisions, coverage, documents
    <staging>/<key>/vectors/<doc_id>.npz           its clause vectors by the first model (reuse)

``key`` is the ``DocumentScorer`` key (scoring key, model ids, code, format): a staged document
is reused by any later run with the same key (a rerun, a run killed half-way), never by a run
that would score it differently. ``documents/<doc_id>.parquet`` is written last and marks the
document as staged. The Parquet columns are the warehouse tables' own (``src/compare/store/sql/schema.sql``)
less the run-level ones (``run_id``, ``scoring_key``), which the writer adds.

The writer publishes as ``store_publish.publish`` does (``store_publish.publish_outcomes``), under the
same writer lock and in one snapshot: it reconciles withdrawn, replaced and renamed documents
against the warehouse, replaces the staged documents' rows, and records the run. A staged
document's rows are built as ``warehouse.write_documents`` builds them
(``warehouse.document_rows``). Reuse between plans is found as ``compare run`` finds it
(``loaded_reuse``: ``compare.store.reuse.find_reuse``, then ``write_reuse`` in the snapshot, which
compares the loaded documents from their rows there, their vectors the staged ones).

One bad document never takes a run down: a document whose scoring or staging raises is staged
as ``failed`` (its message names the step), and a batch lost as a whole (its worker died) is
staged as failed documents (``failed_batch``); a failed document is staged again by the next
run, and one that was ``ok`` in the warehouse keeps its rows until then.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import gc
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from compare.errors import SettingsError, WarehouseError, display_name
from compare.ingest import parse as ingest_parse
from compare.ingest.extract import sha256_of
from compare.ingest.parse import DOC_ID_HEX, Step
from compare.match import scorer as match_scorer
from compare.match.scorer import Scored
from compare.records import DocStatus, ParsedDocument
from compare.scale.docscore import DocumentScorer, document_scorer
from compare.settings import Settings
from compare.store import plan as store_plan
from compare.store import publish as store_publish
from compare.store import reuse as store_reuse
from compare.store import warehouse
from compare.store.plan import Clock, PlannedRun
from compare.store.publish import Outcome, RunSummary
from compare.store.reuse import ReuseUpdate

#: Staged tables, in the order they are written: ``documents`` last (it marks a document staged).
TABLES = (
    "pages",
    "clauses",
    "departments",
    "targets",
    "matches",
    "clause_decisions",
    "coverage",
    "documents",
)
MARKER_TABLE = "documents"
#: Per staged document, its clause vectors by the run's first model (``vectors/<doc_id>.npz``):
#: the loader adds them to the embedding cache, where reuse finds them (no model call).
VECTORS_FOLDER = "vectors"
#: Staged documents whose clause vectors go into one part file of the embedding cache (a part
#: is written from Python lists: one part for a whole large corpus would cost its size again).
VECTOR_DOCS_PER_PART = 256
#: Columns that belong to the run, not the document: the writer fills them.
RUN_COLUMNS = ("run_id", "scoring_key")
DEFAULT_BATCH_SIZE = 16
MAX_BATCH_SIZE = 1000
#: The writer's DuckDB memory limit: a bulk load larger than this spills to disk. Measured on
#: staged corpora of 300 and 600 documents: peak RSS of the loading process 397 / 442 MB with
#: 1 GB, 358 / 364 MB with 128 MB, and no slower.
LOADER_MEMORY_LIMIT = "128MB"
#: Staged files read by one INSERT: DuckDB keeps per-file state for the whole statement, so one
#: statement over every file of a large corpus costs memory per file.
FILES_PER_INSERT = 256
#: Settings of the loading connection. DuckDB's external file cache keeps what it read of every
#: Parquet file, outside the memory limit in effect: loading 30,000 staged documents peaked
#: ~150 MB higher with it (benchmarks/load_memory.py).
LOADER_SETTINGS = {"memory_limit": f"'{LOADER_MEMORY_LIMIT}'", "enable_external_file_cache": "false"}


@cache
def table_schemas() -> dict[str, pa.Schema]:
    """The Arrow schema of every staged table, read from the warehouse schema (less the run columns)."""
    con = duckdb.connect()
    try:
        warehouse.apply_schema(con)
        schemas = {}
        for table in TABLES:
            full = con.sql(f"SELECT * FROM {table} LIMIT 0").to_arrow_table().schema
            schemas[table] = pa.schema([f for f in full if f.name not in RUN_COLUMNS])
        return schemas
    finally:
        con.close()


def document_rows(
    doc: ParsedDocument, scored: Scored, processed_at: dt.datetime
) -> dict[str, list[dict[str, Any]]]:
    """A document's rows for every staged table: ``warehouse.document_rows`` (with the document's
    relevance verdict), then its matches, clause decisions and coverage cells."""
    (doc,) = match_scorer.with_verdicts([doc], scored.verdicts)
    return {
        **warehouse.document_rows(doc, processed_at),
        "matches": [
            {
                "clause_id": m.clause_id,
                "measure_id": m.measure_id,
                "rank": m.rank,
                "score": m.score,
                "channel_scores": list(m.channels),
                "method": m.method,
            }
            for m in scored.matches
        ],
        "clause_decisions": [asdict(d) for d in scored.decisions],
        "coverage": [{**asdict(c), "status": str(c.status)} for c in scored.cells],
    }


def _arrow(table: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = table_schemas()[table]
    if rows and (missing := set(schema.names) - set(rows[0])):
        raise WarehouseError(
            f"staging: column(s) {', '.join(sorted(missing))} of table {table} have no value in the staged rows; "
            "src/compare/store/sql/schema.sql gained a column that compare.store.warehouse.document_rows (or compare.scale.staging.document_rows) must fill"
        )
    return pa.Table.from_pylist(rows, schema=schema)


def _write(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}-{uuid.uuid4().hex}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def staged_file(folder: Path, table: str, doc_id: str) -> Path:
    return folder / table / f"{doc_id}.parquet"


@dataclass(frozen=True)
class StagedDocument:
    """What staging one file gave (small: this is what travels back from a worker)."""

    doc_id: str
    file_name: str
    status: str
    message: str
    n_clauses: int
    n_embedded: int
    reused: bool
    seconds: float


def write_document(folder: Path, doc: ParsedDocument, scored: Scored) -> None:
    """One Parquet file per non-empty table, ``documents`` last."""
    rows = document_rows(doc, scored, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    for table in TABLES:
        if rows[table] or table == MARKER_TABLE:
            _write(staged_file(folder, table, doc.doc_id), _arrow(table, rows[table]))
        else:
            staged_file(folder, table, doc.doc_id).unlink(
                missing_ok=True
            )  # left by an earlier, forced staging


def _vectors_file(folder: Path, doc_id: str) -> Path:
    return folder / VECTORS_FOLDER / f"{doc_id}.npz"


def write_vectors(folder: Path, doc_id: str, model_id: str, vectors: dict[str, np.ndarray]) -> None:
    """Stage a document's clause vectors (text key -> vector, by ``model_id``), atomically."""
    path = _vectors_file(folder, doc_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}-{uuid.uuid4().hex}.tmp.npz")
    keys = sorted(vectors)
    matrix = np.stack([vectors[k] for k in keys]).astype(np.float32) if keys else np.zeros((0, 0), np.float32)
    np.savez(tmp, keys=np.asarray(keys, dtype=str), vectors=matrix, model_id=np.asarray(model_id))
    os.replace(tmp, path)


def staged_vectors(folder: Path, doc_ids: Sequence[str], model_id: str, dim: int) -> dict[str, np.ndarray]:
    """The staged clause vectors of ``doc_ids`` by ``model_id`` (documents staged without them, or
    by another model, give none: reuse embeds their clauses)."""
    found: dict[str, np.ndarray] = {}
    for doc_id in doc_ids:
        path = _vectors_file(folder, doc_id)
        if not path.is_file():
            continue
        with np.load(path, allow_pickle=False) as data:
            if str(data["model_id"]) != model_id or data["vectors"].shape[1:] != (dim,):
                continue
            found.update(zip(data["keys"].tolist(), data["vectors"], strict=True))
    return found


def _reused(folder: Path, path: Path, doc_id: str) -> StagedDocument | None:
    marker = staged_file(folder, MARKER_TABLE, doc_id)
    if not marker.is_file():
        return None
    row = pq.read_table(marker, columns=["file_name", "status", "message", "n_clauses"]).to_pylist()[0]
    if row["status"] == DocStatus.FAILED:
        return None  # an unexpected error may not happen again: try once more
    return StagedDocument(
        doc_id,
        display_name(path.name),
        row["status"],
        row["message"] or "",
        row["n_clauses"] or 0,
        0,
        True,
        0.0,
    )


def _staged_failure(folder: Path, doc: ParsedDocument, exc: BaseException, step: str) -> ParsedDocument:
    """Stage ``doc`` as failed in ``step`` (its message names the step and the error)."""
    failed = ingest_parse.failed_document(doc, ingest_parse.failure_message(doc.file_name, exc, step))
    write_document(folder, failed, Scored(matches=[], cells=[]))
    return failed


def stage_document(scorer: DocumentScorer, path: Path, *, force: bool = False) -> StagedDocument:
    """Parse, score and stage one file (or reuse its staged rows). A document whose scoring or
    staging raises is staged as ``failed``; only a failure to stage even that stops the batch."""
    tick = time.perf_counter()
    try:
        doc_id = sha256_of(path)[:DOC_ID_HEX]
    except OSError:  # gone or unreadable since the plan: parse_document gives it a failed status
        doc_id = None
    if doc_id and not force and (done := _reused(scorer.folder, path, doc_id)):
        return done
    doc = ingest_parse.parse_document(path)
    try:
        scored = scorer.score(doc)
    except Exception as exc:  # Scorer.score names the step (embed or score)
        doc, scored = _staged_failure(scorer.folder, doc, exc, Step.SCORE), Scored(matches=[], cells=[])
    else:
        try:
            write_vectors(scorer.folder, doc.doc_id, scorer.model_id, scorer.clause_vectors)
            write_document(scorer.folder, doc, scored)
        except Exception as exc:
            doc, scored = _staged_failure(scorer.folder, doc, exc, Step.STAGE), Scored(matches=[], cells=[])
    return StagedDocument(
        doc.doc_id, doc.file_name, str(doc.status), doc.message, len(doc.clauses), scored.embedding.embedded,
        False, time.perf_counter() - tick,
    )  # fmt: skip


def failed_batch(stage: Stage, paths: Sequence[Path], exc: BaseException) -> list[StagedDocument]:
    """The documents of a batch lost as a whole (its task failed, its worker died): each one's
    staged rows when it was staged before the loss, else staged as failed in step ``stage``."""
    result = []
    for path in map(Path, paths):
        doc = ingest_parse.failed_file(path, exc, Step.STAGE)
        if (done := _reused(stage.folder, path, doc.doc_id)) is not None:
            result.append(done)
            continue
        write_document(stage.folder, doc, Scored(matches=[], cells=[]))
        result.append(
            StagedDocument(doc.doc_id, doc.file_name, str(doc.status), doc.message, 0, 0, False, 0.0)
        )
    return result


@dataclass(frozen=True)
class Stage:
    """Where a run stages its documents, and what its scorer is (returned by ``prepare``)."""

    folder: Path
    key: str
    method: str
    calibration: dict[str, Any]


def prepare(settings: Settings, staging: Path, planned: PlannedRun | None = None) -> Stage:
    """Load this process's scorer, write the fixed vectors into the stage folder, and name it.

    Run it once before the batches, so that every worker reads the same fixed vectors.
    ``planned``: the run's plan, when made in this process (``docscore.document_scorer``).
    """
    scorer = document_scorer(settings, staging, planned)
    for table in TABLES:
        (scorer.folder / table).mkdir(parents=True, exist_ok=True)
    return Stage(scorer.folder, scorer.key, scorer.scorer.method, scorer.scorer.calibration.as_record())


def stage_batch(
    settings: Settings, stage: Stage, paths: Sequence[Path], *, force: bool = False
) -> list[StagedDocument]:
    """Stage a batch of files, one document at a time, with this process's scorer."""
    scorer = document_scorer(settings, stage.folder.parent)
    if scorer.key != stage.key:
        raise WarehouseError(
            f"this worker would score with configuration {scorer.key}, the run prepared {stage.key}: "
            "every worker needs the same code, catalogue, models, calibration and exemplars"
        )
    staged = [stage_document(scorer, Path(p), force=force) for p in paths]
    release_memory()
    return staged


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc's ``malloc_trim``).

    Called after each batch, so that a long-lived worker does not keep the heap of its largest
    document; the scale flow's process calls it as each batch comes back. (Most of a Dask
    process's growth from batch to batch was Dask's own profiler and developer logs, which the
    flow turns off or shortens: ``flows.scale_flow.WORKER_CONFIG``; figures in docs/scale.md and
    benchmarks/worker_memory.py.) Where the C library is not glibc, only the garbage
    collection happens.
    """
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _glibc()


def batches(paths: Sequence[Path], size: int) -> list[list[Path]]:
    """``paths`` cut into lists of at most ``size``, in order."""
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise SettingsError(f"batch size must be between 1 and {MAX_BATCH_SIZE}, got {size}")
    return [list(paths[i : i + size]) for i in range(0, len(paths), size)]


def _unique(staged: Sequence[StagedDocument]) -> list[StagedDocument]:
    seen: dict[str, StagedDocument] = {}
    for doc in staged:
        seen.setdefault(doc.doc_id, doc)
    return list(seen.values())


def _bulk_insert(
    con: duckdb.DuckDBPyConnection, table: str, files: list[str], run_values: dict[str, Any]
) -> None:
    """INSERT … SELECT … FROM read_parquet(files): the staged columns, plus the run's own values;
    ``FILES_PER_INSERT`` files per statement."""
    if not files:
        return
    present = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table]
        ).fetchall()
    }
    staged = list(table_schemas()[table].names)
    extra = [c for c in RUN_COLUMNS if c in present]
    select = [f"s.{c}" for c in staged]
    if table == MARKER_TABLE:  # the name in this corpus (a path inside it), as publish stores it
        select[staged.index("file_name")] = "coalesce(n.file_name, s.file_name)"
    select += ["CAST(? AS VARCHAR)"] * len(extra)
    join = " LEFT JOIN _names n ON n.doc_id = s.doc_id" if table == MARKER_TABLE else ""
    statement = f"INSERT INTO {table} ({', '.join(staged + extra)}) SELECT {', '.join(select)} FROM read_parquet(?) s{join}"
    for start in range(0, len(files), FILES_PER_INSERT):
        con.execute(statement, [*(run_values[c] for c in extra), files[start : start + FILES_PER_INSERT]])


def insert_staged(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    doc_ids: Sequence[str],
    names: dict[str, str],
    run_values: dict[str, Any],
) -> None:
    """Insert the staged rows of ``doc_ids`` from ``folder`` into every table, in the loader's
    memory (``LOADER_SETTINGS``). ``names``: doc_id -> the file's name in the corpus."""
    for setting, value in LOADER_SETTINGS.items():
        con.execute(f"SET {setting} = {value}")
    con.register("_names", pd.DataFrame({"doc_id": list(names), "file_name": list(names.values())}))
    for table in TABLES:
        files = [str(p) for d in doc_ids if (p := staged_file(folder, table, d)).is_file()]
        _bulk_insert(con, table, files, run_values)
    # not in a ``finally``: after a failed insert the transaction is aborted, unregistering
    # would raise and hide the error, and the connection is discarded with its snapshot anyway
    con.unregister("_names")


def loaded_reuse(planned: PlannedRun, stage: Stage | None, staged: Sequence[StagedDocument]) -> ReuseUpdate:
    """The reuse step of a staged run (``compare.store.reuse.find_reuse``, as ``compare run`` calls
    it): the documents the plan withdraws or replaces leave the index, and the staged documents
    that are ok are compared with it from their rows in the load's snapshot (``write_reuse``).
    Their clause vectors, staged beside them, are added to the embedding cache first, so that
    reuse finds them there. Documents the index holds with the same clauses are not compared
    again."""
    gone = (*planned.plan.withdrawn, *planned.plan.replaced)
    loaded = [d.doc_id for d in staged if d.status == DocStatus.OK]
    update = store_reuse.find_reuse(planned.settings, planned.catalogue, [], gone, loaded)
    if stage is not None and loaded and update.encoder is not None:
        encoder, cache = update.encoder.get()
        for start in range(0, len(loaded), VECTOR_DOCS_PER_PART):
            found = staged_vectors(
                stage.folder, loaded[start : start + VECTOR_DOCS_PER_PART], encoder.model_id, encoder.dim
            )
            new = [k for k in found if k not in cache.vectors]
            if new:
                cache.add(new, np.stack([found[k] for k in new]))
    return update


def load(
    planned: PlannedRun,
    stage: Stage | None,
    staged: Sequence[StagedDocument],
    clock: Clock,
    run_id: str | None = None,
    *,
    lock_wait: float = store_publish.PUBLISH_LOCK_WAIT_S,
) -> RunSummary:
    """Load the staged documents into a new warehouse snapshot and swap it in, all or nothing
    (``store_publish.publish_outcomes``, as ``store_publish.publish`` does).

    ``stage`` is None when the run had nothing to stage (no model was loaded).
    """
    docs = _unique(staged)
    if docs and stage is None:
        raise WarehouseError("documents were staged but no stage was given to load them from")
    folder = stage.folder if stage is not None else Path()
    missing = [d.file_name for d in docs if not staged_file(folder, MARKER_TABLE, d.doc_id).is_file()]
    if missing:
        raise WarehouseError(
            f"{folder}: {len(missing)} document(s) were not staged ({', '.join(missing[:5])}); run again"
        )

    def write(con: duckdb.DuckDBPyConnection, run_id: str, kept: set[str]) -> None:
        loaded = [d.doc_id for d in docs if d.doc_id not in kept]
        warehouse.delete_documents(con, loaded)
        run_values = {"run_id": run_id, "scoring_key": planned.plan.scoring_key}
        insert_staged(con, folder, loaded, planned.plan.names, run_values)

    with clock.step("reuse"):
        reuse = loaded_reuse(planned, stage, docs)
    return store_publish.publish_outcomes(
        planned,
        clock,
        [Outcome(d.doc_id, d.status, d.message, d.n_clauses) for d in docs],
        write,
        step="load",
        reuse=reuse,
        n_embedded=sum(d.n_embedded for d in docs),
        model_ids=stage.method if stage is not None else None,
        thresholds=stage.calibration if stage is not None else planned.setup.calibration.as_record(),
        run_id=run_id,
        lock_wait=lock_wait,
    )


def default_staging(settings: Settings) -> Path:
    """Where a warehouse's documents are staged unless told otherwise: beside it."""
    return settings.warehouse.with_name(settings.warehouse.name + ".staging")


def staged_documents(
    planned: PlannedRun, staging: Path, batch_size: int = DEFAULT_BATCH_SIZE, *, force: bool = False
) -> tuple[Stage | None, list[StagedDocument]]:
    """Prepare the stage and stage every file to process, batch after batch, in this process
    (the scale flow spreads the batches over a cluster); no stage and nothing staged when there
    is nothing to process."""
    if not planned.plan.to_process:
        return None, []
    stage = prepare(planned.settings, staging, planned)
    staged = []
    for batch in batches(planned.plan.to_process, batch_size):
        staged += stage_batch(planned.settings, stage, batch, force=force)
    return stage, staged


def run(
    settings: Settings,
    staging: Path | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    force: bool = False,
    allow_empty_corpus: bool = False,
) -> RunSummary:
    """The staged pipeline in this process, without an orchestrator: plan, stage, load (the scale
    flow runs the same steps with its batches spread over a Dask cluster)."""
    clock = Clock()
    with clock.step("plan"):
        planned = store_plan.plan_run(
            settings,
            match_scorer.load_run_catalogue(settings),
            force=force,
            allow_empty_corpus=allow_empty_corpus,
        )
    with clock.step("stage"):
        stage, staged = staged_documents(
            planned, staging or default_staging(settings), batch_size, force=force
        )
    return load(planned, stage, staged, clock)


#: Columns that differ between two runs of the same documents (when and by which run).
RUN_DEPENDENT = ("run_id", "scoring_key", "processed_at")


def published_rows(path: Path) -> dict[str, pd.DataFrame]:
    """Every document-level table of a warehouse, rows sorted, without the run-dependent columns
    (``channel_scores`` as tuples of (channel, score)): two runs over the same documents with the
    same scoring give equal frames."""
    result = {}
    with warehouse.read_only(path) as con:
        for table in TABLES:
            columns = [c for c in table_schemas()[table].names if c not in RUN_DEPENDENT]
            select = [
                "map_keys(channel_scores) AS _keys, map_values(channel_scores) AS _values"
                if c == "channel_scores"
                else c
                for c in columns
            ]
            frame = con.execute(f"SELECT {', '.join(select)} FROM {table}").df()
            if "_keys" in frame:
                pairs = [
                    tuple(zip(map(str, k), map(float, v), strict=True))
                    for k, v in zip(frame["_keys"], frame["_values"], strict=True)
                ]
                frame = frame.drop(columns=["_keys", "_values"]).assign(channel_scores=pairs)[columns]
            keys = [c for c in frame.columns if c != "channel_scores"]
            result[table] = frame.sort_values(keys).reset_index(drop=True)
    return result


def differences(
    left: dict[str, pd.DataFrame], right: dict[str, pd.DataFrame], *, atol: float = 0.0
) -> list[str]:
    """Where two ``published_rows`` differ: row counts, any non-float value, floats beyond ``atol``
    (0: bit for bit). Empty when they agree."""
    found = []
    for table, a in left.items():
        b = right[table]
        if len(a) != len(b) or list(a.columns) != list(b.columns):
            found.append(f"{table}: {len(a)} rows {list(a.columns)} against {len(b)} rows {list(b.columns)}")
            continue
        for column in a.columns:
            x, y = a[column], b[column]
            if column == "channel_scores":
                flat_x = [v for row in x for _, v in row]
                flat_y = [v for row in y for _, v in row]
                names_equal = [[k for k, _ in row] for row in x] == [[k for k, _ in row] for row in y]
                gap = (
                    float(np.max(np.abs(np.subtract(flat_x, flat_y))))
                    if flat_x and len(flat_x) == len(flat_y)
                    else 0.0
                )
                if not names_equal or len(flat_x) != len(flat_y) or gap > atol:
                    found.append(f"{table}.{column}: channels differ (largest score gap {gap:.3g})")
            elif x.dtype.kind == "f":
                gaps = np.abs(x.to_numpy() - y.to_numpy())
                gap = 0.0 if np.isnan(gaps).all() else float(np.nanmax(gaps))  # all NULL: no gap
                if gap > atol or not x.isna().equals(y.isna()):
                    found.append(f"{table}.{column}: largest gap {gap:.3g} (allowed {atol:.3g})")
            elif not x.equals(y):
                found.append(
                    f"{table}.{column}: {int((x.astype(str) != y.astype(str)).sum())} value(s) differ"
                )
    return found
