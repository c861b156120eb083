"""Reading the warehouse from outside: safe ad-hoc SQL (``compare query``) and file exports
(``compare export``).

``query`` runs one SELECT (or EXPLAIN) on a sandboxed connection (``warehouse.sandboxed``):
read-only, and with DuckDB's ``enable_external_access`` off and the configuration locked, so
no statement can reach another file (ATTACH, COPY, INSTALL/LOAD, read_csv, read_parquet,
glob ...). Statements of any other kind are refused before they run.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from compare import warehouse
from compare.errors import SettingsError, WarehouseError
from compare.safe_text import spreadsheet_cell, spreadsheet_sql

#: Statement types ``compare query`` runs.
READ_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})
#: Rows ``compare query`` returns unless told otherwise.
DEFAULT_LIMIT = 1000
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


def query(path: Path, sql: str, *, limit: int = DEFAULT_LIMIT) -> QueryResult:
    """Run one read statement on a sandboxed connection to the warehouse."""
    if limit < 1:
        raise SettingsError(f"limit must be at least 1, got {limit}")
    checked_statement(sql)
    with warehouse.sandboxed(path) as con:
        try:
            cursor = con.execute(sql)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchmany(limit + 1)
            cursor.abort()  # the rest of the result is never computed
        except duckdb.PermissionException as exc:
            raise SettingsError(
                f"the query tried to reach outside the warehouse, which compare query never does: {exc}"
            ) from exc
        except duckdb.Error as exc:
            raise SettingsError(f"the query failed: {exc}") from exc
    return QueryResult(pd.DataFrame(rows[:limit], columns=columns), truncated=len(rows) > limit)


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
    out.mkdir(parents=True, exist_ok=True)
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
