"""Are two warehouses' results the same? Every row of the result tables, run-dependent columns aside.

Used to show that a change of code leaves results as they were: publish the same corpus with the
code before (e.g. a ``git worktree`` of the older commit) and after, then

    .venv/bin/python benchmarks/same_results.py BEFORE.duckdb AFTER.duckdb [--label NAME]

Prints, per table, the rows of each side and the rows found on one side only (a multiset
difference on every column both have, less ``run_id``, ``processed_at``, ``scoring_key`` and
``code_version``), and writes them to benchmarks/results/same_results.json under ``--label``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import duckdb

RESULTS = Path(__file__).resolve().parent / "results" / "same_results.json"
TABLES = (
    "documents",
    "pages",
    "clauses",
    "coverage",
    "matches",
    "clause_decisions",
    "departments",
    "targets",
)
RUN_DEPENDENT = {"run_id", "processed_at", "scoring_key", "code_version"}


def columns(con: duckdb.DuckDBPyConnection, database: str, table: str) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? AND table_name = ? "
            "ORDER BY ordinal_position",
            [database, table],
        ).fetchall()
    ]


def differences(before: Path, after: Path) -> dict[str, dict[str, int]]:
    con = duckdb.connect()
    con.execute(f"ATTACH '{before}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{after}' AS b (READ_ONLY)")
    found = {}
    for table in TABLES:
        theirs = set(columns(con, "b", table))
        common = ", ".join(c for c in columns(con, "a", table) if c in theirs and c not in RUN_DEPENDENT)

        def count(sql: str) -> int:
            return int(con.execute(sql).fetchone()[0])  # type: ignore[index]

        found[table] = {
            "rows_before": count(f"SELECT count(*) FROM a.{table}"),
            "rows_after": count(f"SELECT count(*) FROM b.{table}"),
            "only_before": count(f"SELECT count(*) FROM (SELECT {common} FROM a.{table} EXCEPT ALL SELECT {common} FROM b.{table})"),
            "only_after": count(f"SELECT count(*) FROM (SELECT {common} FROM b.{table} EXCEPT ALL SELECT {common} FROM a.{table})"),
        }  # fmt: skip
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--label", default="latest")
    args = parser.parse_args()
    found = differences(args.before, args.after)
    for table, figures in found.items():
        print(
            f"{table:17} rows {figures['rows_before']:>6} vs {figures['rows_after']:>6}   "
            f"only before {figures['only_before']:>5}   only after {figures['only_after']:>5}"
        )
    record = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    record[args.label] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "tables": found}
    RESULTS.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
