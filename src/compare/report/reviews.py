"""Expert reviews in the committee report: the final status of each cell, its mark, and review progress.

``reviewed_coverage`` replaces each coverage cell's status and evidence with the final ones of
the ``coverage_reviewed`` view (a current review's verdict wins, the machine decides
otherwise; ``src/compare/store/sql/reviews.sql``) and says which cells a reviewer decided. A warehouse
without the view (published before reviews existed) is all machine-only.
``review_progress`` counts reviewed cells per document; ``review_mark`` is what a cell shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

REVIEWED_SQL = """
SELECT doc_id, measure_id, final_status, final_evidence_clause_id, machine_status, status_source,
       review_verdict, reassigned_to, reviewer, reviewed_at, review_stale, stale_verdict
FROM coverage_reviewed
"""
REVIEW_SOURCE = "review"
#: Cell mark -> (symbol, CSS class, Chinese, English).
MARKS: dict[str, tuple[str, str, str, str]] = {
    "reviewed": ("✓", "rv", "专家已审核", "decided by an expert review"),
    "stale": (
        "!",
        "rv-stale",
        "审核后文件已更新",
        "reviewed, but the file changed since: machine status shown",
    ),
    "machine": ("", "", "机器判定", "machine only"),
}


def _has_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [name]).fetchone()
    return bool(row and row[0])


def reviewed_coverage(con: duckdb.DuckDBPyConnection, coverage: pd.DataFrame) -> pd.DataFrame:
    """Coverage cells with their final status and evidence, the machine's status, and who reviewed them."""
    result = coverage.copy()
    result["machine_status"] = result["status"]
    result["reviewed"] = False
    result["review_stale"] = False
    for column in ("review_verdict", "reassigned_to", "reviewer", "reviewed_at", "stale_verdict"):
        result[column] = None
    if result.empty or not _has_view(con, "coverage_reviewed"):
        return result
    reviews = con.execute(REVIEWED_SQL).df().set_index(["doc_id", "measure_id"])
    keys = pd.MultiIndex.from_frame(result[["doc_id", "measure_id"]])
    found = reviews.reindex(keys)
    decided = found["status_source"].eq(REVIEW_SOURCE).to_numpy()
    result["reviewed"] = decided
    result.loc[decided, "status"] = found["final_status"].to_numpy()[decided]
    result.loc[decided, "evidence_clause_id"] = found["final_evidence_clause_id"].to_numpy()[decided]
    result["review_stale"] = found["review_stale"].fillna(False).astype(bool).to_numpy()
    for column in ("review_verdict", "reassigned_to", "reviewer", "reviewed_at", "stale_verdict"):
        result[column] = found[column].to_numpy()
    return result


def review_mark(cell: dict[str, Any] | None) -> dict[str, str]:
    """What a report cell shows about review: a symbol, a CSS class and a sentence for its tooltip."""
    if cell and cell.get("reviewed"):
        symbol, css, zh, en = MARKS["reviewed"]
        verdict = cell.get("review_verdict") or ""
        if verdict == "reassigned" and cell.get("reassigned_to"):
            verdict = f"evidence implements {cell['reassigned_to']} instead"
        elif verdict == "implied":
            verdict = "covered: a reviewer assigned the clause to this measure"
        when = (
            pd.Timestamp(cell["reviewed_at"]).strftime("%Y-%m-%d")
            if cell.get("reviewed_at") is not None
            else ""
        )
        text = f"{zh} {en}: {verdict} ({cell.get('reviewer') or '?'}, {when}); 机器 machine: {cell.get('machine_status')}"
        return {"mark": symbol, "mark_class": css, "mark_text": text}
    if cell and cell.get("review_stale"):
        symbol, css, zh, en = MARKS["stale"]
        return {
            "mark": symbol,
            "mark_class": css,
            "mark_text": f"{zh} {en} (earlier verdict: {cell.get('stale_verdict')})",
        }
    symbol, css, zh, en = MARKS["machine"]
    return {"mark": symbol, "mark_class": css, "mark_text": f"{zh} {en}"}


@dataclass(frozen=True)
class DocumentProgress:
    """Review progress of one document."""

    doc_id: str
    cells: int
    reviewed: int
    overturned: int
    stale: int

    @property
    def share(self) -> float:
        return self.reviewed / self.cells if self.cells else 0.0


@dataclass(frozen=True)
class ReviewProgress:
    """How many cells an expert has decided, overall and per document."""

    cells: int
    reviewed: int
    overturned: int
    stale: int
    reviewers: tuple[str, ...]
    documents: dict[str, DocumentProgress] = field(default_factory=dict)

    @property
    def share(self) -> float:
        return self.reviewed / self.cells if self.cells else 0.0

    @property
    def machine_only(self) -> int:
        return self.cells - self.reviewed


def review_progress(coverage: pd.DataFrame) -> ReviewProgress:
    """Review progress from coverage cells as ``reviewed_coverage`` returns them."""
    if coverage.empty or "reviewed" not in coverage:
        return ReviewProgress(len(coverage), 0, 0, 0, ())
    reviewed = coverage["reviewed"].astype(bool)
    overturned = reviewed & coverage["status"].ne(coverage["machine_status"])
    stale = coverage["review_stale"].astype(bool)
    documents = {
        doc_id: DocumentProgress(
            doc_id=str(doc_id),
            cells=len(group),
            reviewed=int(reviewed[group.index].sum()),
            overturned=int(overturned[group.index].sum()),
            stale=int(stale[group.index].sum()),
        )
        for doc_id, group in coverage.groupby("doc_id", sort=False)
    }
    return ReviewProgress(
        cells=len(coverage),
        reviewed=int(reviewed.sum()),
        overturned=int(overturned.sum()),
        stale=int(stale.sum()),
        reviewers=tuple(sorted(str(r) for r in coverage.loc[reviewed, "reviewer"].dropna().unique())),
        documents=documents,
    )
