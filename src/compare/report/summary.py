"""Short summaries of a run and of the warehouse it published, as tables or markdown."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from compare.errors import WarehouseError
from compare.store import warehouse
from compare.store.publish import RunSummary

#: Per current document (the researcher views of src/compare/store/sql/views.sql decide which documents are
#: current and which are in the coverage matrix): its cells by status.
COVERAGE_SQL = """
SELECT d.file_name, d.province, d.city, d.doc_number, d.status, d.relevance,
       count(c.measure_id) FILTER (WHERE c.status = 'covered') AS covered,
       count(c.measure_id) FILTER (WHERE c.status = 'partial') AS partial,
       count(c.measure_id) FILTER (WHERE c.status = 'absent')  AS absent,
       round(100.0 * count(c.measure_id) FILTER (WHERE c.status = 'covered') / nullif(count(c.measure_id), 0), 1) AS covered_pct
FROM current_documents d LEFT JOIN coverage_by_document c ON c.doc_id = d.doc_id
GROUP BY ALL
ORDER BY d.file_name
"""
#: Every document the warehouse knows by status, withdrawn ones included: the raw table on purpose.
DOCUMENT_STATUS_SQL = (
    "SELECT status, count(*) AS documents FROM documents GROUP BY status ORDER BY documents DESC, status"
)
#: Runs shown by ``compare status``.
RECENT_RUNS = 5
RUN_COLUMNS = (
    "run_id",
    "status",
    "n_documents",
    "n_processed",
    "n_unchanged",
    "n_withdrawn",
    "n_replaced",
    "n_failed",
    "n_embedded",
    "seconds",
)


def coverage_summary(path: Path) -> pd.DataFrame:
    """One row per current (not withdrawn) document: its relevance verdict, and covered / partial /
    absent counts over the national measures (none for an off_topic document not accepted)."""
    with warehouse.read_only(path) as con:
        return con.execute(COVERAGE_SQL).df()


def run_counts(summary: RunSummary) -> dict[str, Any]:
    """What a run did, as one flat row."""
    return {
        "run_id": summary.run_id,
        "files": summary.n_files,
        "processed": summary.n_processed,
        "unchanged": summary.n_unchanged,
        "withdrawn": summary.n_withdrawn,
        "replaced": summary.n_replaced,
        "failed": summary.n_failed,
        "embedded": summary.n_embedded,
        **{f"{stage}_s": round(seconds, 2) for stage, seconds in summary.timings.items()},
    }


def run_markdown(summary: RunSummary) -> str:
    """A markdown summary of a run: counts, timings, failures, coverage per document."""
    table = coverage_summary(summary.warehouse)
    lines = [
        f"# compare run {summary.run_id}",
        "",
        f"- warehouse: `{summary.warehouse}`",
        f"- files: {summary.n_files}; processed now: {summary.n_processed}; unchanged: {summary.n_unchanged}; "
        f"withdrawn: {summary.n_withdrawn}; replaced: {summary.n_replaced}; failed: {summary.n_failed}; "
        f"texts embedded: {summary.n_embedded}",
        "- seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in summary.timings.items()),
        "",
        table.to_markdown(index=False) if not table.empty else "(no documents)",
    ]
    if summary.failures:
        lines += ["", "## Documents that failed", *[f"- {m}" for m in summary.failures]]
    if summary.notes:
        lines += ["", "## Notes", *[f"- {m}" for m in summary.notes]]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Status:
    """The state of a warehouse: documents by status, recent runs, the last run's counts and timings."""

    documents: pd.DataFrame
    runs: pd.DataFrame
    last_run: dict[str, Any] | None
    coverage: pd.DataFrame


def _seconds(timings: Any) -> float | None:
    try:
        return round(sum(json.loads(timings).values()), 1)
    except (TypeError, ValueError, AttributeError):
        return None


def warehouse_status(path: Path, *, recent: int = RECENT_RUNS) -> Status:
    """What ``compare status`` shows. Columns an older warehouse lacks are left out."""
    with warehouse.read_only(path) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if not {"documents", "runs"} <= tables:
            raise WarehouseError(
                f"{path}: not a compare warehouse (no documents or runs table); run `compare run`"
            )
        documents = con.execute(DOCUMENT_STATUS_SQL).df()
        runs = con.execute("SELECT * FROM runs ORDER BY finished_at DESC, run_id DESC LIMIT ?", [recent]).df()
        coverage = con.execute(COVERAGE_SQL).df()
    runs["seconds"] = [_seconds(t) for t in runs.get("timings", pd.Series([None] * len(runs)))]
    last = runs.iloc[0].to_dict() if not runs.empty else None
    shown = runs[[c for c in RUN_COLUMNS if c in runs.columns]]
    return Status(documents=documents, runs=shown, last_run=last, coverage=coverage)
