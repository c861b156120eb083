"""Short summaries of a run and of the coverage it published, as a table or markdown."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from compare import warehouse
from compare.pipeline import RunSummary

COVERAGE_SQL = """
SELECT d.file_name, d.province, d.city, d.doc_number, d.status,
       count(c.measure_id) FILTER (WHERE c.status = 'covered') AS covered,
       count(c.measure_id) FILTER (WHERE c.status = 'partial') AS partial,
       count(c.measure_id) FILTER (WHERE c.status = 'absent')  AS absent,
       round(100.0 * count(c.measure_id) FILTER (WHERE c.status = 'covered') / nullif(count(c.measure_id), 0), 1) AS covered_pct
FROM documents d LEFT JOIN coverage c USING (doc_id)
GROUP BY ALL
ORDER BY d.file_name
"""


def coverage_summary(path: Path) -> pd.DataFrame:
    """One row per document: covered / partial / absent counts over the national measures."""
    with warehouse.read_only(path) as con:
        return con.execute(COVERAGE_SQL).df()


def run_markdown(summary: RunSummary) -> str:
    """A markdown summary of a run: counts, timings, failures, coverage per document."""
    table = coverage_summary(summary.warehouse)
    lines = [
        f"# compare run {summary.run_id}",
        "",
        f"- warehouse: `{summary.warehouse}`",
        f"- files: {summary.n_files}; processed now: {summary.n_processed}; failed: {summary.n_failed}",
        "- seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in summary.timings.items()),
        "",
        table.to_markdown(index=False) if not table.empty else "(no documents)",
    ]
    if summary.failures:
        lines += ["", "## Documents that failed", *[f"- {m}" for m in summary.failures]]
    return "\n".join(lines) + "\n"
