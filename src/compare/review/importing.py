"""Importing a filled review workbook into the ``reviews`` table: all of it, or nothing.

``import_workbook(path, warehouse)`` reads the workbook, checks every filled row against the
published warehouse and, only when no row has a problem, stores the verdicts in one
transaction inside one warehouse snapshot. Each problem names the sheet and row:

- a malformed row: a cell key that does not match its doc_id and measure_id, an unknown
  verdict, a machine status or score that is not one, a clause that is not in the document,
  no reviewer (neither in the row nor ``--reviewer``);
- unknown ids: a measure that is not national, a document neither current in the warehouse nor
  in the workbook's export record;
- a cell that no longer exists: its document's file changed or left the corpus since the export;
- conflicting verdicts: the same cell given different verdicts in the same workbook.

Before a row is read, the workbook's file size and the rows of its review sheets are held to
the settings' ``review_max_bytes`` and ``review_max_rows`` (a ``LimitError`` names the file, its
size and the limit); the workbook is then streamed, not loaded whole.

Rows that repeat a review (the same cell, verdict, clause and reviewer: a row pasted many times)
are one review, stored once, from the first of those rows, with their distinct notes joined.
Re-importing a workbook adds nothing: a review's id hashes its cell, verdict, clause, reviewer,
note and workbook row, and a review whose cell, verdict, clause, reviewer, note and workbook file
are already stored is not stored again.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from compare.errors import ReviewError
from compare.records import CoverageStatus
from compare.review.queue import REASSIGNED, REVIEWED_DOCUMENTS, Verdict, cell_key, parse_verdict
from compare.review.workbook import DOCUMENT_KEY, SheetRow, WorkbookRows, read_workbook
from compare.settings import DEFAULT_REVIEW_MAX_BYTES, DEFAULT_REVIEW_MAX_ROWS
from compare.store import warehouse

#: Hex characters of a review id.
REVIEW_ID_HEX = 16
#: Between the distinct notes of rows that repeat one review.
NOTE_SEPARATOR = " / "
#: What makes two reviews the same: a stored one with these values is not stored again.
SAME_REVIEW = ("cell_key", "verdict", "reassigned_to", "clause_id", "reviewer", "note", "source_file")
#: The numbers a reviewer may write in the clause column for the clauses shown in the row.
SHOWN_CLAUSE_NUMBERS = ("1", "2", "3")
MACHINE_STATUSES = frozenset(str(s) for s in CoverageStatus)
REVIEW_COLUMNS = (
    "review_id", "import_id", "cell_key", "doc_id", "doc_sha256", "file_name", "measure_id", "verdict",
    "reassigned_to", "clause_id", "clause_text", "reviewer", "reviewed_at", "note", "source_file",
    "source_sheet", "source_row", "export_run_id", "machine_status", "machine_score",
)  # fmt: skip


@dataclass(frozen=True)
class ImportResult:
    """What an import stored."""

    import_id: str
    rows: int
    stored: int
    already: int
    verdicts: dict[str, int]
    documents: int
    notes: tuple[str, ...]
    repeated: int = 0  # rows that repeated another row's review, stored once with it


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass
class _Warehouse:
    """What the checks need from the published warehouse."""

    documents: dict[str, tuple[str, str, str]]  # current doc_id -> file_name, sha256, status
    current_by_name: dict[str, str]  # file_name -> doc_id of its version a workbook would show
    measures: frozenset[str]
    cells: set[tuple[str, str]]
    clauses: dict[str, str]  # clause_id -> text, for the documents in the workbook

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, doc_ids: set[str]) -> _Warehouse:
        documents = {
            r[0]: r[1:]
            for r in con.execute("SELECT doc_id, file_name, sha256, status FROM current_documents").fetchall()
        }
        current = dict(con.execute(f"SELECT file_name, doc_id FROM {REVIEWED_DOCUMENTS}").fetchall())
        measures = frozenset(r[0] for r in con.execute("SELECT measure_id FROM national_measures").fetchall())
        ids = pd.DataFrame({"doc_id": sorted(doc_ids) or [""]})
        con.register("_review_docs", ids)
        try:
            cells = {
                (d, m)
                for d, m in con.execute(
                    "SELECT doc_id, measure_id FROM coverage WHERE doc_id IN (SELECT doc_id FROM _review_docs)"
                ).fetchall()
            }
            clauses = dict(
                con.execute(
                    "SELECT clause_id, text FROM clauses WHERE doc_id IN (SELECT doc_id FROM _review_docs)"
                ).fetchall()
            )
        finally:
            con.unregister("_review_docs")
        return cls(documents, current, measures, cells, clauses)


@dataclass(frozen=True)
class _Checked:
    row: SheetRow
    doc_id: str
    measure_id: str
    verdict: Verdict
    clause_id: str | None
    reviewer: str
    note: str
    machine_status: str
    machine_score: float | None


def _clause(row: SheetRow, doc_id: str, known: dict[str, str], problems: list[str]) -> str | None:
    """The clause a verdict is about: the one named in the clause column, else the first evidence clause."""
    shown = [_text(row.values.get("evidence_clause_id"))]
    shown += [c for c in _text(row.values.get("other_clause_ids")).split(",") if c.strip()]
    named = _text(row.values.get("clause"))
    if not named:
        clause_id = shown[0] or None
    elif named in SHOWN_CLAUSE_NUMBERS:
        index = int(named) - 1
        if index >= len(shown) or not shown[index]:
            problems.append(f"{row.where}: clause {named} names a clause the row does not show")
            return None
        clause_id = shown[index].strip()
    else:
        clause_id = named
    if clause_id is not None and (not clause_id.startswith(f"{doc_id}:") or clause_id not in known):
        problems.append(f"{row.where}: clause {clause_id!r} is not a clause of document {doc_id}")
        return None
    return clause_id


def _check_row(
    row: SheetRow, store: _Warehouse, exported: dict[str, str], reviewer: str | None, problems: list[str]
) -> _Checked | None:
    """One filled row checked against the warehouse; its problems are appended, None when it has any.

    ``exported`` maps the workbook's doc_ids to their file names at export time.
    """
    before = len(problems)
    key = _text(row.values.get("cell_key"))
    doc_id = _text(row.values.get("doc_id"))
    measure_id = _text(row.values.get("measure_id"))
    if key != cell_key(doc_id, measure_id):
        problems.append(
            f"{row.where}: cell_key {key!r} does not match doc_id {doc_id!r} and measure_id {measure_id!r}"
        )
        return None
    if measure_id not in store.measures:
        problems.append(f"{row.where}: unknown measure id {measure_id!r}")
    verdict = None
    try:
        verdict = parse_verdict(_text(row.values.get("verdict")), store.measures)
    except ValueError as exc:
        problems.append(f"{row.where}: {exc}")
    if verdict is not None and verdict.reassigned_to == measure_id:
        problems.append(
            f"{row.where}: verdict {measure_id} names the row's own measure; write covered or partial"
        )
    status = _text(row.values.get("machine_status"))
    if status not in MACHINE_STATUSES:
        problems.append(
            f"{row.where}: machine_status {status!r} is not covered, partial or absent (leave that column as exported)"
        )
    score = row.values.get("score")
    if not isinstance(score, int | float):
        problems.append(f"{row.where}: score {score!r} is not a number (leave that column as exported)")
    who = _text(row.values.get("reviewer")) or (reviewer or "")
    if not who:
        problems.append(f"{row.where}: no reviewer; fill the reviewer column or pass --reviewer")
    file_name, _, doc_status = store.documents.get(doc_id, (exported.get(doc_id), "", "gone"))
    if file_name is None:
        problems.append(
            f"{row.where}: unknown document {doc_id!r}: neither the warehouse's current documents nor the "
            "workbook's export record has it"
        )
        return None
    if doc_status != "ok":
        newer = store.current_by_name.get(file_name)
        why = (
            f"{file_name} changed since the export (now document {newer})"
            if newer
            else f"{file_name} left the corpus"
            if doc_status == "gone"
            else f"{file_name} is {doc_status}"
        )
        problems.append(f"{row.where}: cell {key} no longer exists: {why}; export a new workbook")
        return None
    if (doc_id, measure_id) not in store.cells and measure_id in store.measures:
        problems.append(
            f"{row.where}: cell {key} no longer exists in the coverage table; export a new workbook"
        )
    clause_id = _clause(row, doc_id, store.clauses, problems)
    if (
        verdict is not None
        and verdict.verdict == REASSIGNED
        and clause_id is None
        and len(problems) == before
    ):
        problems.append(
            f"{row.where}: verdict {verdict} reassigns the evidence clause, but the row shows none; name one in the clause column"
        )
    if len(problems) > before or verdict is None or not isinstance(score, int | float):
        return None
    return _Checked(
        row, doc_id, measure_id, verdict, clause_id, who, _text(row.values.get("note")), status, float(score)
    )


def _conflicts(checked: list[_Checked]) -> list[str]:
    """Cells given different verdicts in one workbook, naming every row involved."""
    by_cell: dict[str, list[_Checked]] = {}
    for item in checked:
        by_cell.setdefault(cell_key(item.doc_id, item.measure_id), []).append(item)
    problems = []
    for key, items in by_cell.items():
        if len({str(i.verdict) for i in items}) > 1:
            rows = "; ".join(f"{i.row.where}: {i.verdict}" for i in items)
            problems.append(f"conflicting verdicts on cell {key}: {rows}")
    return problems


def _review_id(item: _Checked, source_file: str) -> str:
    payload = json.dumps(
        [cell_key(item.doc_id, item.measure_id), str(item.verdict), item.clause_id, item.reviewer, item.note,
         source_file, item.row.sheet, item.row.row],
        ensure_ascii=False,
    )  # fmt: skip
    return hashlib.sha256(payload.encode()).hexdigest()[:REVIEW_ID_HEX]


def _distinct_reviews(checked: list[_Checked]) -> list[_Checked]:
    """One review per cell, verdict, clause and reviewer: the first row of each, with the distinct
    notes of all its rows joined (``NOTE_SEPARATOR``), in workbook order."""
    groups: dict[tuple[str, str, str | None, str], list[_Checked]] = {}
    for item in checked:
        key = (cell_key(item.doc_id, item.measure_id), str(item.verdict), item.clause_id, item.reviewer)
        groups.setdefault(key, []).append(item)
    distinct = []
    for items in groups.values():
        notes = list(dict.fromkeys(i.note for i in items if i.note))
        distinct.append(replace(items[0], note=NOTE_SEPARATOR.join(notes)))
    return distinct


def _same_review(record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(record[name] for name in SAME_REVIEW)


def stored_reviews(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    reviewer: str | None = None,
    rows: WorkbookRows | None = None,
) -> tuple[list[dict[str, Any]], list[str], list[str], dict[str, str]]:
    """The review records a workbook would store, the problems that stop it, notes, and its export
    record; ``rows``: the workbook as ``read_workbook`` read it (read here when not given)."""
    rows = rows if rows is not None else read_workbook(path)
    problems = list(rows.problems)
    store = _Warehouse.read(con, {_text(r.values.get("doc_id")) for r in rows.rows})
    exported = {k.removeprefix(DOCUMENT_KEY): v for k, v in rows.export.items() if k.startswith(DOCUMENT_KEY)}
    checked = [c for r in rows.rows if (c := _check_row(r, store, exported, reviewer, problems)) is not None]
    problems += _conflicts(checked)
    now = datetime.now(UTC).replace(tzinfo=None)
    records, seen = [], set()
    for item in _distinct_reviews(checked):
        review_id = _review_id(item, path.name)
        if review_id in seen:
            continue
        seen.add(review_id)
        file_name, sha256, _ = store.documents[item.doc_id]
        records.append(
            {
                "review_id": review_id,
                "cell_key": cell_key(item.doc_id, item.measure_id),
                "doc_id": item.doc_id,
                "doc_sha256": sha256,
                "file_name": file_name,
                "measure_id": item.measure_id,
                "verdict": item.verdict.verdict,
                "reassigned_to": item.verdict.reassigned_to,
                "clause_id": item.clause_id,
                "clause_text": store.clauses.get(item.clause_id) if item.clause_id else None,
                "reviewer": item.reviewer,
                "reviewed_at": now,
                "note": item.note or None,
                "source_file": path.name,
                "source_sheet": item.row.sheet,
                "source_row": item.row.row,
                "export_run_id": rows.export.get("run_id") or None,
                "machine_status": item.machine_status,
                "machine_score": item.machine_score,
            }
        )
    return records, problems, rows.unfilled_notes, rows.export


def import_workbook(
    path: Path,
    warehouse_path: Path,
    reviewer: str | None = None,
    *,
    max_bytes: int = DEFAULT_REVIEW_MAX_BYTES,
    max_rows: int = DEFAULT_REVIEW_MAX_ROWS,
) -> ImportResult:
    """Store a filled workbook's verdicts in one transaction; a workbook with any problem stores nothing.

    ``max_bytes``, ``max_rows``: the largest workbook file and the most rows read (``read_workbook``)."""
    if not warehouse_path.exists():
        raise ReviewError(f"{warehouse_path}: no warehouse yet; run `compare run` first")
    rows = read_workbook(path, max_bytes=max_bytes, max_rows=max_rows)
    import_id = warehouse.new_run_id()
    with warehouse.snapshot(warehouse_path) as con:
        records, problems, notes, _ = stored_reviews(con, path, reviewer, rows)
        if problems:
            raise ReviewError(f"{path.name}: nothing imported; {len(problems)} problem(s):", problems)
        stored = con.execute(f"SELECT review_id, {', '.join(SAME_REVIEW)} FROM reviews").fetchall()
        existing = {r[0] for r in stored} | {tuple(r[1:]) for r in stored}
        new = [
            {**r, "import_id": import_id}
            for r in records
            if r["review_id"] not in existing and _same_review(r) not in existing
        ]
        if new:
            frame = pd.DataFrame(new, columns=list(REVIEW_COLUMNS))
            con.register("_reviews", frame)
            try:
                con.execute(
                    f"INSERT INTO reviews ({', '.join(REVIEW_COLUMNS)}) SELECT {', '.join(REVIEW_COLUMNS)} FROM _reviews"
                )
            finally:
                con.unregister("_reviews")
    verdicts = Counter(r["verdict"] for r in records)
    return ImportResult(
        import_id=import_id if new else "",
        rows=len(records),
        stored=len(new),
        already=len(records) - len(new),
        verdicts=dict(verdicts),
        documents=len({r["doc_id"] for r in records}),
        notes=tuple(notes),
        repeated=len(rows.rows) - len(records),
    )
