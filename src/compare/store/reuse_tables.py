"""Rows of the reuse tables (declared in ``sql/schema.sql``) as DataFrames, columns in table order.

Each builder takes what ``compare.diffusion.index`` and ``compare.diffusion.measures`` return and
the run id; ``compare.store.reuse`` writes the frames as they are.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import asdict

import pandas as pd

from compare.diffusion.index import ReuseLink
from compare.diffusion.measures import DocumentSimilarity, Homogeneity, Localization
from compare.store.warehouse import SCHEMA_SQL

SCHEMA = SCHEMA_SQL
#: The tables of reuse, written by ``compare.store.reuse``.
REUSE_TABLES = ("clause_reuse", "document_similarity", "document_localization", "measure_homogeneity")
_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", re.S)
_COLUMN = re.compile(r"^\s+(\w+) [A-Z]+[^-]*--\s*(.*)$", re.M)


@functools.cache
def schema_columns() -> dict[str, dict[str, str]]:
    """Table -> {column: comment}, in declaration order, read from ``sql/schema.sql``."""
    text = SCHEMA.read_text(encoding="utf-8")
    return {name: dict(_COLUMN.findall(body)) for name, body in _TABLE.findall(text)}


def _frame(table: str, rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(schema_columns()[table]))


def clause_reuse_rows(links: Sequence[ReuseLink], run_id: str) -> pd.DataFrame:
    return _frame("clause_reuse", [{**asdict(link), "run_id": run_id} for link in links])


def document_similarity_rows(rows: Sequence[DocumentSimilarity], run_id: str) -> pd.DataFrame:
    return _frame(
        "document_similarity",
        [{**asdict(r), "earlier_doc_id": r.earlier, "run_id": run_id} for r in rows],
    )


def document_localization_rows(rows: Sequence[Localization], run_id: str) -> pd.DataFrame:
    return _frame(
        "document_localization",
        [
            {
                "doc_id": r.doc_id,
                "n_clauses": r.n_clauses,
                "original_share": r.share(r.original),
                "reused_own_province_share": r.share(r.reused_own_province),
                "reused_other_province_share": r.share(r.reused_other_province),
                "reused_national_share": r.share(r.reused_national),
                "beyond_national_plan_share": r.share(r.beyond_national_plan),
                "national_text": r.national_text,
                "run_id": run_id,
            }
            for r in rows
        ],
    )


def measure_homogeneity_rows(rows: Sequence[Homogeneity], run_id: str) -> pd.DataFrame:
    return _frame(
        "measure_homogeneity",
        [
            {
                "measure_id": r.measure_id,
                "n_documents": r.n_documents,
                "n_provinces": r.n_provinces,
                "n_pairs": r.n_pairs,
                "homogeneity": r.homogeneity,
                "semantic_similarity": r.semantic_similarity,
                "most_alike_clause_id": r.most_alike[0],
                "most_alike_other_clause_id": r.most_alike[1],
                "least_alike_clause_id": r.least_alike[0],
                "least_alike_other_clause_id": r.least_alike[1],
                "run_id": run_id,
            }
            for r in rows
        ],
    )
