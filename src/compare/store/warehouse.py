"""The DuckDB warehouse: the only place results are written.

A run never writes the live file. It copies the current warehouse to a temporary file beside
it, writes there, checkpoints, and renames the copy over the live file (an atomic rename on
POSIX). Readers that hold a read-only connection keep reading the snapshot they opened; a run
killed at any moment leaves the previous warehouse untouched. One writer at a time is
enforced with an advisory lock file. A run does not copy a warehouse that another process holds
open read-write (DuckDB's own file lock): its copy could miss that process's last writes, and the
rename would leave that process writing to a file nobody reads. It waits for that connection to
close as it waits for another run, then stops with ``WarehouseLockedError``. A command that was
asked to stop (``STOP_REQUESTED``, set by ``compare.run.lifecycle``) never swaps a snapshot in.

Researchers connect read-only (``read_only``); ``compare query`` goes through ``sandboxed``,
which also shuts every door to other files. An older warehouse gains the columns added to
``schema.sql`` since it was written (``apply_schema`` migrates it in the snapshot).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from compare.errors import WarehouseError, WarehouseLockedError, display_name
from compare.match.catalogue import Catalogue
from compare.records import ClauseDecision, CoverageCell, Match, ParsedDocument

#: The warehouse's SQL, shipped with the package: tables, researcher views, review tables and views.
SQL_DIR = Path(__file__).resolve().parent / "sql"
SCHEMA_SQL = SQL_DIR / "schema.sql"
VIEWS_SQL = SQL_DIR / "views.sql"
TMP_MARKER = ".tmp-"
#: The tables with a row per page, clause, match or cell, and the columns that identify a row.
#: They declare no PRIMARY KEY: DuckDB holds a key's index (an ART) in memory, and a load of
#: 30,000 staged documents then fails with "Out of Memory" within the loader's 128 MB; without
#: the keys it succeeds, 220 MB above the process's own memory (benchmarks/load_memory.py).
#: ``check_keys`` checks them on every write instead.
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "pages": ("doc_id", "page_no"),
    "clauses": ("clause_id",),
    "matches": ("clause_id", "rank"),
    "clause_decisions": ("clause_id",),
    "coverage": ("doc_id", "measure_id"),
}
KEY_EXAMPLES = 3
REBUILD_SUFFIX = "__rebuilt"
#: How often a run waiting for the writer lock (or for a read-write connection to close) tries again.
LOCK_POLL_S = 0.2
#: Seconds a command that writes the warehouse besides a run (an evaluation's figures) waits for
#: another writer, or for a read-write connection another process holds, before it gives up.
LOCK_WAIT_S = 30.0
#: DuckDB's message when another process holds the file: "... Conflicting lock is held in <program> (PID 123)".
_LOCK_MESSAGE = re.compile(r"Could not set lock|Conflicting lock")
_LOCK_HOLDER = re.compile(r"\(PID (\d+)\)")
#: Set when the command was asked to stop (Ctrl-C, SIGTERM; see ``compare.run.lifecycle``): from then
#: on no snapshot replaces the live file, even when the work inside it went on to the end.
STOP_REQUESTED = threading.Event()
logger = logging.getLogger("compare.store.warehouse")
_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)")
_COLUMN_WITH_COMMENT = re.compile(r"^\s+(\w+)\s+[A-Z][^-]*?--\s*(.+)$")
_COLUMN_TYPE = re.compile(r"^\s+(\w+)\s+([A-Z][^-]*?)(?:\s+PRIMARY KEY)?,?\s*--")
#: Views of src/compare/store/sql/reviews.sql that select every column of ``reviews``: those columns keep its comments.
REVIEW_VIEWS_OVER_REVIEWS = ("review_state", "reviews_latest")
#: Settings of a sandboxed connection: no file but the warehouse, no extension, no changing them.
SANDBOX_CONFIG = {"enable_external_access": False, "lock_configuration": True}


def schema_comments(sql: str) -> list[tuple[str, str, str]]:
    """(table, column, comment) for every column line of the schema that carries a ``--`` comment."""
    result = []
    table = None
    for line in sql.splitlines():
        if m := _TABLE.search(line):
            table = m.group(1)
        elif table and (c := _COLUMN_WITH_COMMENT.match(line)) and c.group(1) != "PRIMARY":
            result.append((table, c.group(1), c.group(2).strip()))
    return result


def schema_columns(sql: str) -> list[tuple[str, str, str]]:
    """(table, column, type) for every documented column line of the schema."""
    result = []
    table = None
    for line in sql.splitlines():
        if m := _TABLE.search(line):
            table = m.group(1)
        elif table and (c := _COLUMN_TYPE.match(line)) and c.group(1) != "PRIMARY":
            result.append((table, c.group(1), c.group(2).strip()))
    return result


def _migrate(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Add the columns the schema declares that an older warehouse's tables lack, and rebuild
    the row tables an older warehouse declared with a PRIMARY KEY (``ROW_KEYS``) without it."""
    present = set(
        con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal").fetchall()
    )
    for table, column, kind in schema_columns(sql):
        if (table, column) not in present:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    keyed = {
        row[0]
        for row in con.execute(
            "SELECT DISTINCT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
        ).fetchall()
    }
    for table in sorted(keyed & set(ROW_KEYS)):
        create = re.search(rf"CREATE TABLE IF NOT EXISTS {table} \((.*?)\n\);", sql, re.S)
        if create is None:
            raise WarehouseError(f"{SCHEMA_SQL}: no CREATE TABLE statement for {table}")
        rebuilt = f"{table}{REBUILD_SUFFIX}"
        con.execute(f"DROP TABLE IF EXISTS {rebuilt}")
        con.execute(f"CREATE TABLE {rebuilt} ({create.group(1)}\n)")
        con.execute(f"INSERT INTO {rebuilt} BY NAME SELECT * FROM {table}")
        con.execute(f"DROP TABLE {table}")
        con.execute(f"ALTER TABLE {rebuilt} RENAME TO {table}")


def check_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Raise ``WarehouseError`` if a row table (``ROW_KEYS``) holds two rows with one key.

    One ``GROUP BY`` per table, which DuckDB spills to disk past its memory limit (a declared
    key would need its whole index in memory)."""
    for table, columns in ROW_KEYS.items():
        key = ", ".join(columns)
        found = con.execute(
            f"SELECT {key}, count(*) AS n FROM {table} GROUP BY {key} HAVING count(*) > 1 "
            f"ORDER BY {key} LIMIT {KEY_EXAMPLES}"
        ).fetchall()
        if found:
            examples = "; ".join(", ".join(map(str, row[:-1])) + f" ({row[-1]} rows)" for row in found)
            raise WarehouseError(
                f"{table}: more than one row for a key ({key}), e.g. {examples}; nothing was written"
            )


def apply_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables (idempotent), add columns new to the schema, their comments, and the researcher views."""
    if not SCHEMA_SQL.is_file():
        raise WarehouseError(f"{SCHEMA_SQL}: schema file missing; run compare from a checkout of the project")
    sql = SCHEMA_SQL.read_text(encoding="utf-8")
    con.execute(sql)
    _migrate(con, sql)
    con.execute(_comment_statements(schema_comments(sql)))  # one round trip: a statement each costs more
    if VIEWS_SQL.is_file():
        con.execute(VIEWS_SQL.read_text(encoding="utf-8"))
    if (
        reviews_sql := SCHEMA_SQL.with_name("reviews.sql")
    ).is_file():  # expert reviews (compare.review.queue)
        reviews = reviews_sql.read_text(encoding="utf-8")
        con.execute(reviews)
        table_comments = schema_comments(reviews)
        inherited = [
            (view, column, comment)
            for view in REVIEW_VIEWS_OVER_REVIEWS
            for table, column, comment in table_comments
            if table == "reviews"
        ]
        con.execute(_comment_statements([*table_comments, *inherited]))


def _comment_statements(comments: Sequence[tuple[str, str, str]]) -> str:
    """``COMMENT ON COLUMN`` statements, one per (table or view, column, comment)."""
    return "\n".join(
        f"COMMENT ON COLUMN {table}.{column} IS '{comment.replace(chr(39), chr(39) * 2)}';"
        for table, column, comment in comments
    )


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_run_id() -> str:
    """``20261202T153509.123-9b8aff``: UTC time to the millisecond, then a random suffix.

    Ids sort as their runs started, even for runs a second apart (``max(run_id)`` is the latest).
    """
    now = _utcnow()
    return f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}-{uuid.uuid4().hex[:6]}"


@contextmanager
def _writer_lock(path: Path, wait: float = 0.0) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    with lock_path.open("w") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if time.monotonic() >= deadline:
                    waited = f" (waited {wait:.0f} s)" if wait else ""
                    raise WarehouseError(
                        f"{path}: another run is writing this warehouse{waited}; wait for it to finish, then run again"
                    ) from exc
                time.sleep(LOCK_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_stale_snapshots(path: Path) -> list[Path]:
    removed = []
    for stale in path.parent.glob(f"{path.name}{TMP_MARKER}*"):
        stale.unlink(missing_ok=True)
        removed.append(stale)
    return removed


def remove_stale_snapshots(path: Path) -> list[Path]:
    """Remove the snapshot files a stopped or killed writer left beside the warehouse; the files
    removed. Nothing is removed while another writer holds the lock (they are its snapshot)."""
    if not path.parent.is_dir():
        return []
    try:
        with _writer_lock(path):
            return _remove_stale_snapshots(path)
    except WarehouseError:
        return []


def _open_error(path: Path, exc: duckdb.Error) -> WarehouseError:
    """A ``WarehouseError`` that says what DuckDB's refusal to open ``path`` means, and what to do."""
    text = str(exc)
    if _LOCK_MESSAGE.search(text):
        holder = _LOCK_HOLDER.search(text)
        return WarehouseLockedError(path, int(holder.group(1)) if holder else None)
    if "not a valid DuckDB database" in text:
        return WarehouseError(
            f"{path} is not a DuckDB database; give the warehouse file `compare run` writes with --warehouse"
        )
    if "Permission denied" in text:
        return WarehouseError(f"{path}: permission denied; give a warehouse file you can read")
    return WarehouseError(f"{path}: cannot open the warehouse ({text})")


def _folder_error(path: Path) -> WarehouseError:
    return WarehouseError(f"{path} is a folder, not a warehouse file; give the .duckdb file with --warehouse")


def _connect(path: Path, config: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse at ``path``, or a ``WarehouseError`` that
    names the path and says what to do (no file, a folder, not DuckDB, locked by another process)."""
    if path.is_dir():
        raise _folder_error(path)
    if not path.exists():
        raise WarehouseError(
            f"{path}: no warehouse yet; run `compare run` first, or give another --warehouse"
        )
    try:
        return duckdb.connect(str(path), read_only=True, config=config or {})
    except duckdb.Error as exc:
        raise _open_error(path, exc) from exc


@contextmanager
def _no_writer_open(path: Path, deadline: float, wait: float) -> Iterator[None]:
    """Hold a read-only connection to the live file (no process can open it read-write meanwhile),
    waiting until ``deadline`` for a read-write connection another process holds to close."""
    if not path.exists():
        yield
        return
    told = False
    while True:
        try:
            con = _connect(path)
            break
        except WarehouseLockedError as exc:
            if time.monotonic() >= deadline:
                raise WarehouseLockedError(path, exc.pid, waited=wait) from exc
            if not told:
                logger.warning("waiting up to %.0f s for another process to release the lock: %s", wait, exc)
                told = True
            time.sleep(LOCK_POLL_S)
    try:
        yield
    finally:
        con.close()


@contextmanager
def snapshot(path: Path, *, wait: float = 0.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writable copy of the warehouse that replaces the live file only if the block succeeds.

    ``wait``: seconds to wait for another writer to finish, or for a read-write connection
    another process holds to the live file to close (0: fail at once).
    """
    if path.is_dir():
        raise _folder_error(path)
    deadline = time.monotonic() + wait
    path.parent.mkdir(parents=True, exist_ok=True)
    with _writer_lock(path, wait):
        _remove_stale_snapshots(path)
        tmp = path.with_name(f"{path.name}{TMP_MARKER}{uuid.uuid4().hex[:8]}")
        try:
            with _no_writer_open(path, deadline, wait):
                if path.exists():
                    shutil.copy2(path, tmp)
            con = duckdb.connect(str(tmp))
            try:
                apply_schema(con)
                con.execute("BEGIN TRANSACTION")
                yield con
                check_keys(con)
                con.execute("COMMIT")
                con.execute("CHECKPOINT")
            finally:
                con.close()
            if STOP_REQUESTED.is_set():
                raise KeyboardInterrupt(f"{path}: asked to stop; the snapshot is not published")
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        finally:
            tmp.unlink(missing_ok=True)
            tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def openable(path: Path) -> None:
    """Raise the ``WarehouseError`` that opening the published warehouse would (a folder, not a
    DuckDB file, held open read-write by another process); nothing when there is none yet."""
    if path.exists():
        _connect(path).close()


def read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse."""
    return _connect(path)


def sandboxed(path: Path, limits: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection that cannot touch any other file: no ATTACH, COPY, INSTALL/LOAD,
    read_csv/read_parquet/glob, nor change these settings back (``SANDBOX_CONFIG``).

    ``limits``: DuckDB settings the connection opens with (``memory_limit``, ``temp_directory``,
    ...); the sandbox is closed after them, as DuckDB refuses to set a temporary folder once
    external access is off, and then locked with them."""
    con = _connect(path, dict(limits or {}))
    try:
        for name, value in SANDBOX_CONFIG.items():  # external access off first, then the lock
            con.execute(f"SET {name} = {str(value).lower()}")
    except BaseException:
        con.close()
        raise
    return con


KNOWN_COLUMNS = ("doc_id", "file_name", "sha256", "status", "scoring_key")


def documents_in(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """doc_id, file_name, sha256, status, scoring_key of every document (NULL key for older warehouses)."""
    present = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'documents'"
        ).fetchall()
    }
    if not present:
        return pd.DataFrame(columns=list(KNOWN_COLUMNS))
    select = ", ".join(c if c in present else f"NULL AS {c}" for c in KNOWN_COLUMNS)
    return con.execute(f"SELECT {select} FROM documents ORDER BY doc_id").df()


def known_documents(path: Path) -> pd.DataFrame:
    """doc_id, file_name, sha256, status, scoring_key of every document in the published warehouse (empty if none)."""
    if not path.exists():
        return pd.DataFrame(columns=list(KNOWN_COLUMNS))
    with read_only(path) as con:
        return documents_in(con)


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    con.register("_frame", frame)
    try:
        con.execute(
            f"INSERT INTO {table} ({', '.join(frame.columns)}) SELECT {', '.join(frame.columns)} FROM _frame"
        )
    finally:
        con.unregister("_frame")


def write_catalogue(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> None:
    con.execute("DELETE FROM national_measures")
    rows = [
        {
            **{k: v for k, v in asdict(m).items() if k != "ministries"},
            "section_id": m.section_id,
            "ministries": "; ".join(m.ministries),
            "lead_ministry": m.lead_ministry,
        }
        for m in catalogue.measures
    ]
    _insert(con, "national_measures", pd.DataFrame(rows))


def delete_documents(con: duckdb.DuckDBPyConnection, doc_ids: Sequence[str]) -> None:
    """Remove every row that belongs to these documents."""
    if not doc_ids:
        return
    ids = pd.DataFrame({"doc_id": list(doc_ids)})
    con.register("_ids", ids)
    try:
        con.execute(
            "DELETE FROM matches WHERE clause_id IN (SELECT clause_id FROM clauses WHERE doc_id IN (SELECT doc_id FROM _ids))"
        )
        for table in (
            "coverage",
            "clause_decisions",
            "departments",
            "targets",
            "clauses",
            "pages",
            "documents",
        ):
            con.execute(f"DELETE FROM {table} WHERE doc_id IN (SELECT doc_id FROM _ids)")
    finally:
        con.unregister("_ids")


def accept_documents(con: duckdb.DuckDBPyConnection, file_names: Sequence[str], run_id: str) -> list[str]:
    """Accept files into the coverage views whatever their relevance verdict; the names newly accepted."""
    known = {row[0] for row in con.execute("SELECT file_name FROM accepted_documents").fetchall()}
    new = [name for name in dict.fromkeys(file_names) if name not in known]
    if new:
        con.executemany(
            "INSERT INTO accepted_documents VALUES (?, ?, ?)", [(name, _utcnow(), run_id) for name in new]
        )
    return new


#: The tables that hold what a document is (its scores are in matches, clause_decisions, coverage).
DOCUMENT_TABLES = ("documents", "pages", "clauses", "departments", "targets")


def issue_date(value: str | None) -> date | None:
    """A document's date of issue as stored (``2015-10-11``); None when there is none, or when
    the date read from the text is not a calendar date (``2015-02-30``)."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def document_rows(doc: ParsedDocument, processed_at: datetime) -> dict[str, list[dict[str, Any]]]:
    """A document's rows in each of ``DOCUMENT_TABLES``, less the run's own columns (``run_id``,
    ``scoring_key``). Every path into the warehouse builds them here: ``write_documents`` and the
    staged loader (``compare.scale.staging``).

    File names and messages are as ``display_name`` shows them: a name whose bytes are not UTF-8
    cannot be written as it is."""
    return {
        "documents": [
            {
                "doc_id": doc.doc_id,
                "file_name": display_name(doc.file_name),
                "sha256": doc.sha256,
                **asdict(doc.meta),
                "issue_date": issue_date(doc.meta.issue_date),
                "page_count": doc.page_count,
                "n_clauses": len(doc.clauses),
                "status": str(doc.status),
                "message": display_name(doc.message, decode=False),
                "processed_at": processed_at,
                "relevance": doc.relevance,
                "relevance_reasons": doc.relevance_reasons or None,
            }
        ],
        "pages": [
            {"doc_id": doc.doc_id, "page_no": p.number, "method": p.method, "n_chars": len(p.text)}
            for p in doc.pages
        ],
        "clauses": [{**asdict(c), "kind": str(c.kind)} for c in doc.clauses],
        "departments": [asdict(x) for x in doc.departments],
        "targets": [asdict(x) for x in doc.targets],
    }


def write_documents(
    con: duckdb.DuckDBPyConnection,
    docs: Sequence[ParsedDocument],
    run_id: str,
    *,
    scoring_key: str | None = None,
) -> None:
    """Insert documents with their pages, clauses, departments and targets (replacing any old rows)."""
    delete_documents(con, [d.doc_id for d in docs])
    now = _utcnow()
    rows = [document_rows(d, now) for d in docs]
    for table in DOCUMENT_TABLES:
        frame = pd.DataFrame([row for doc_rows in rows for row in doc_rows[table]])
        if table == "documents" and not frame.empty:
            frame = frame.assign(run_id=run_id, scoring_key=scoring_key)
        _insert(con, table, frame)


def mark_withdrawn(con: duckdb.DuckDBPyConnection, doc_ids: Sequence[str], run_id: str) -> None:
    """Documents whose file left the corpus: kept, with status withdrawn."""
    for doc_id in doc_ids:
        con.execute(
            "UPDATE documents SET status = 'withdrawn', message = file_name || ': file no longer in the corpus', "
            "run_id = ? WHERE doc_id = ?",
            [run_id, doc_id],
        )


def rename_documents(con: duckdb.DuckDBPyConnection, renamed: dict[str, str]) -> None:
    """Documents whose content now lies under another file name."""
    for doc_id, file_name in renamed.items():
        con.execute("UPDATE documents SET file_name = ? WHERE doc_id = ?", [display_name(file_name), doc_id])


def mark_for_rescoring(con: duckdb.DuckDBPyConnection, doc_ids: Sequence[str]) -> None:
    """Documents whose rows stay but must be processed again by the next run (their scoring key
    is cleared: a run scores every document whose key is not its own)."""
    for doc_id in doc_ids:
        con.execute("UPDATE documents SET scoring_key = NULL WHERE doc_id = ?", [doc_id])


def write_matches(con: duckdb.DuckDBPyConnection, matches: Sequence[Match], run_id: str) -> None:
    frame = pd.DataFrame(
        [
            {
                "clause_id": m.clause_id,
                "measure_id": m.measure_id,
                "rank": m.rank,
                "score": m.score,
                "channel_keys": [k for k, _ in m.channels],
                "channel_values": [v for _, v in m.channels],
                "method": m.method,
                "run_id": run_id,
            }
            for m in matches
        ]
    )
    if frame.empty:
        return
    con.register("_frame", frame)
    try:
        con.execute(
            "INSERT INTO matches SELECT clause_id, measure_id, rank, score, map(channel_keys, channel_values), "
            "method, run_id FROM _frame"
        )
    finally:
        con.unregister("_frame")


def write_decisions(con: duckdb.DuckDBPyConnection, chosen: Sequence[ClauseDecision], run_id: str) -> None:
    _insert(con, "clause_decisions", pd.DataFrame([{**asdict(d), "run_id": run_id} for d in chosen]))


def write_coverage(con: duckdb.DuckDBPyConnection, cells: Sequence[CoverageCell], run_id: str) -> None:
    frame = pd.DataFrame([{**asdict(c), "status": str(c.status), "run_id": run_id} for c in cells])
    _insert(con, "coverage", frame)


def write_run(con: duckdb.DuckDBPyConnection, record: dict[str, Any]) -> None:
    row = {
        k: json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, dict) else v
        for k, v in record.items()
    }
    _insert(con, "runs", pd.DataFrame([row]))


def write_evaluation(
    con: duckdb.DuckDBPyConnection, record: dict[str, Any], per_measure: dict[str, dict[str, float]]
) -> None:
    """One evaluation's figures, overall and per measure."""
    row = {
        k: json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, dict) else v
        for k, v in record.items()
    }
    _insert(con, "evaluations", pd.DataFrame([row]))
    _insert(
        con,
        "evaluation_measures",
        pd.DataFrame(
            [
                {
                    "evaluation_id": record["evaluation_id"],
                    "measure_id": m,
                    **{k: v for k, v in figures.items()},
                }
                for m, figures in per_measure.items()
            ]
        ),
    )
