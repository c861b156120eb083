"""Reading the warehouse from outside: safe ad-hoc SQL (``compare query``) and file exports
(``compare export``).

``query`` runs one SELECT (or EXPLAIN) on a sandboxed connection (``warehouse.sandboxed``):
read-only, and with DuckDB's ``enable_external_access`` off and the configuration locked, so
no statement can reach another file (ATTACH, COPY, INSTALL/LOAD, read_csv, read_parquet,
glob ...). Statements of any other kind are refused before they run. A query is held to limits
(``QueryLimits``, from the settings): DuckDB's memory limit, with nothing spilled to disk beyond
it, and a time limit, past which the query is interrupted (DuckDB has no statement timeout: the
query runs in a thread, and ``interrupt()`` stops it). Each limit a query reaches ends it with a
``LimitError`` that names the limit and its setting. Spilling is off because DuckDB 2.0 does not
hold a spill to ``max_temp_directory_size``: with it at 100 MB, a sort of a cross join spilled
2.4 GB before it ran out of memory all the same.

``export`` writes tables and views to Parquet or CSV files, one per relation, each written to
a temporary name and renamed, so a reader of the folder never sees half a file. A CSV file is
opened by spreadsheet programs, so its text cells go through ``safe_text.spreadsheet_sql``:
control characters become U+FFFD and text a spreadsheet would take for a formula (starting with
= + - @, tab or CR) gets a leading ``'``; numbers, dates and booleans are written as they are.
Parquet keeps every value as stored.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from compare.errors import LimitError, SettingsError, WarehouseError
from compare.safe_text import spreadsheet_cell, spreadsheet_sql
from compare.settings import (
    DEFAULT_QUERY_MEMORY_LIMIT,
    DEFAULT_QUERY_ROWS,
    DEFAULT_QUERY_TIMEOUT_S,
    Settings,
    env_name,
)
from compare.store import warehouse

#: Statement types ``compare query`` runs.
READ_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})
#: Rows ``compare query`` returns unless told otherwise.
DEFAULT_LIMIT = DEFAULT_QUERY_ROWS
#: Seconds an interrupted query has to stop before ``query`` stops waiting for it.
INTERRUPT_GRACE_S = 5.0
FORMATS = ("parquet", "csv")
#: Line end of ``compare query --format csv``.
CSV_LINE_END = "\r\n"
_COPY_OPTIONS = {"parquet": "FORMAT parquet", "csv": "FORMAT csv, HEADER true"}
#: DuckDB column types written to CSV as they are (numbers, times, booleans, ids); the others are text.
_PLAIN_TYPES = re.compile(
    r"BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE"
    r"|DECIMAL\(\d+,\s*\d+\)|DATE|TIME( WITH TIME ZONE)?|TIMESTAMP(_S|_MS|_NS| WITH TIME ZONE)?"
    r"|INTERVAL|UUID|BLOB|BIT"
)


@dataclass(frozen=True)
class QueryLimits:
    """What one ``compare query`` may use: DuckDB's memory (no spilling to disk) and seconds (see ``Settings``)."""

    memory: str = DEFAULT_QUERY_MEMORY_LIMIT
    timeout_s: float = DEFAULT_QUERY_TIMEOUT_S

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryLimits:
        return cls(settings.query_memory_limit, settings.query_timeout_s)

    def config(self) -> dict[str, str]:
        """DuckDB settings of the query's connection: the memory limit, and no temporary folder."""
        return {"memory_limit": self.memory, "temp_directory": ""}


@dataclass(frozen=True)
class QueryResult:
    """The first ``limit`` rows of a query, and whether there were more."""

    frame: pd.DataFrame
    truncated: bool


def checked_statement(sql: str) -> str:
    """The one read statement in ``sql``; a ``SettingsError`` saying what to do for anything else."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SettingsError(f"cannot parse the query: {exc}") from exc
    if len(statements) != 1:
        raise SettingsError(f"give exactly one SQL statement, got {len(statements)}; run them one at a time")
    (statement,) = statements
    if statement.type not in READ_STATEMENTS:
        kind = str(statement.type).rsplit(".", 1)[-1]
        raise SettingsError(
            f"compare query only reads: {kind} statements are not allowed. Use SELECT (or EXPLAIN); "
            "to get files out of the warehouse use `compare export`"
        )
    return sql


def query(
    path: Path, sql: str, *, limit: int = DEFAULT_LIMIT, limits: QueryLimits | None = None
) -> QueryResult:
    """Run one read statement on a sandboxed connection to the warehouse, within ``limits``."""
    if limit < 1:
        raise SettingsError(f"limit must be at least 1, got {limit}")
    limits = limits or QueryLimits()
    checked_statement(sql)
    con = warehouse.sandboxed(path, limits.config())
    outcome: dict[str, Any] = {}
    worker = threading.Thread(
        target=_fetch, args=(con, sql, limit, outcome), name="compare-query", daemon=True
    )
    worker.start()
    try:
        worker.join(limits.timeout_s)
    except KeyboardInterrupt:
        _stop(con, worker)
        raise
    if worker.is_alive():
        _stop(con, worker)
        raise LimitError(
            f"the query ran past the time limit of {limits.timeout_s:g} s and was stopped; narrow it, "
            f"or raise the limit with --timeout or {env_name('query_timeout_s')}",
            env_name("query_timeout_s"),
        )
    con.close()
    if "error" in outcome:
        raise _query_error(outcome["error"], limits) from outcome["error"]
    rows = outcome["rows"]
    return QueryResult(pd.DataFrame(rows[:limit], columns=outcome["columns"]), truncated=len(rows) > limit)


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, limit: int, outcome: dict[str, Any]) -> None:
    """The query's first ``limit`` + 1 rows into ``outcome`` (or the error it raised)."""
    try:
        cursor = con.execute(sql)
        outcome["columns"] = [d[0] for d in cursor.description or []]
        outcome["rows"] = cursor.fetchmany(limit + 1)
        cursor.abort()  # the rest of the result is never computed
    except duckdb.Error as exc:
        outcome["error"] = exc


def _stop(con: duckdb.DuckDBPyConnection, worker: threading.Thread) -> None:
    """Interrupt the query ``worker`` runs; close the connection once it stopped."""
    con.interrupt()
    worker.join(INTERRUPT_GRACE_S)
    if not worker.is_alive():
        con.close()


def _query_error(exc: duckdb.Error, limits: QueryLimits) -> Exception:
    """The error ``compare query`` reports for what DuckDB raised."""
    if isinstance(exc, duckdb.PermissionException):
        return SettingsError(
            f"the query tried to reach outside the warehouse, which compare query never does: {exc}"
        )
    if isinstance(exc, duckdb.OutOfMemoryException):
        return LimitError(
            f"the query needed more than the memory limit of {limits.memory} and was stopped; narrow it "
            f"(a join without a condition multiplies rows), or raise the limit with --memory-limit or "
            f"{env_name('query_memory_limit')} (e.g. 4GB)",
            env_name("query_memory_limit"),
        )
    return SettingsError(f"the query failed: {exc}")


def relations(path: Path) -> dict[str, str]:
    """Every table and view of the warehouse: name -> ``table`` or ``view``."""
    with warehouse.read_only(path) as con:
        rows = con.execute(
            "SELECT table_name, 'table' FROM duckdb_tables() WHERE NOT internal "
            "UNION ALL SELECT view_name, 'view' FROM duckdb_views() WHERE NOT internal ORDER BY 1"
        ).fetchall()
    return dict(rows)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def csv_columns(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """The select list that writes relation ``name`` to CSV safely (see the module docstring)."""
    columns = []
    for column, column_type, *_ in con.execute(f"DESCRIBE SELECT * FROM {_identifier(name)}").fetchall():
        value = _identifier(column)
        if not _PLAIN_TYPES.fullmatch(column_type):
            value = spreadsheet_sql(f"CAST({value} AS VARCHAR)")
        columns.append(f"{value} AS {_identifier(spreadsheet_cell(column))}")
    return ", ".join(columns)


def csv_text(frame: pd.DataFrame) -> str:
    """A query result as CSV: text cells (and headers) through ``spreadsheet_cell``, numbers as they are.

    Lines end with CRLF (RFC 4180), so a field holding a carriage return is quoted as well as
    one holding a newline (Python's CSV writer quotes only the line terminator's characters).
    """
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values)):
            safe[column] = values.map(spreadsheet_cell)
    safe.columns = [spreadsheet_cell(str(c)) for c in safe.columns]
    return safe.to_csv(index=False, lineterminator=CSV_LINE_END)


def output_folder(out: Path, flag: str = "--out", *, create: bool = True) -> Path:
    """Create the folder ``out`` (and its parents) for a command's files, or say why it cannot be
    one; with ``create`` False, only check that it can be created and written."""
    if out.exists() and not out.is_dir():
        raise SettingsError(
            f"{flag} {out} is a file, not a folder: give a folder to write into (it is created if missing)"
        )
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise SettingsError(
            f"{flag} {out}: {existing} is a file, not a folder; give a folder you can write to"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SettingsError(f"{flag} {out}: {existing} is not writable; give a folder you can write to")
    if create:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingsError(
                f"{flag} {out}: cannot create the folder ({exc.strerror}); give a folder you can write to"
            ) from exc
    return out


def output_file(out: Path, flag: str = "--out") -> Path:
    """Check that a command can write the file ``out`` (its folder exists or can be created), or say why not."""
    if out.is_dir():
        raise SettingsError(f"{flag} {out} is a folder: give the name of the file to write")
    output_folder(out.parent, flag=f"{flag} {out}: its folder", create=False)
    return out


def export(
    path: Path,
    out: Path,
    *,
    fmt: str = "parquet",
    tables: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write each named table or view (default: all of them) to ``out/<name>.<fmt>``."""
    if fmt not in FORMATS:
        raise SettingsError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    available = relations(path)
    names = list(tables) or sorted(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise WarehouseError(
            f"{path}: no table or view named {', '.join(unknown)}; choose among {', '.join(sorted(available))}"
        )
    output_folder(out)
    written = []
    with warehouse.read_only(path) as con:
        for name in names:
            target = out / f"{name}.{fmt}"
            partial = out / f".{name}.{fmt}.partial"
            columns = csv_columns(con, name) if fmt == "csv" else "*"
            con.execute(
                f"COPY (SELECT {columns} FROM {_identifier(name)}) TO {_quote(str(partial))} ({_COPY_OPTIONS[fmt]})"
            )
            os.replace(partial, target)
            written.append(target)
            if progress is not None:
                progress(name)
    return written
