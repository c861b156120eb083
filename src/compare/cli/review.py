"""``compare review``: the expert review loop (export a workbook, import the verdicts).

Registered on the main ``compare`` app in ``compare.cli.main``; see docs/review.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from compare.cli.console import PublishedOption, command_group, console, fail
from compare.errors import CompareError
from compare.settings import Settings

review_app = command_group("Expert review: export a workbook of coverage cells, import the verdicts.")


@review_app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="The .xlsx workbook to write.")],
    warehouse: PublishedOption = None,
    skip_reviewed: Annotated[
        bool, typer.Option(help="Leave out cells that already have a current review.")
    ] = False,
) -> None:
    """Write a review workbook: one sheet per document, one row per document x measure cell.

    Rows are ordered by review priority (near the covered threshold, or channels that
    disagree); the expert fills the verdict column (covered, partial, absent, or the id of the
    measure the evidence clause implements instead), and may add reviewer and note.

    Example: compare review export --out reviews/round-1.xlsx
    """
    from compare.review.workbook import export_workbook
    from compare.store.export import output_file

    try:
        settings = Settings.from_env(warehouse=warehouse)
        output_file(out)
        path, documents = export_workbook(settings.warehouse, out, skip_reviewed=skip_reviewed)
    except CompareError as exc:
        fail(exc)
    cells = sum(len(d.cells) for d in documents)
    reviewed = sum(d.reviewed for d in documents)
    console.print(f"{path}: {len(documents)} documents, {cells} cells ({reviewed} already reviewed)")


@review_app.command("import")
def import_(
    workbook: Annotated[
        Path, typer.Argument(help="A workbook written by `compare review export` and filled in.")
    ],
    warehouse: PublishedOption = None,
    reviewer: Annotated[
        str | None, typer.Option(help="Reviewer for rows whose reviewer column is empty.")
    ] = None,
) -> None:
    """Store the workbook's verdicts in the reviews table, all in one transaction.

    A workbook with any problem (malformed row, unknown id, a cell that no longer exists,
    two different verdicts on one cell) imports nothing: every problem is listed with its
    sheet and row, and the exit code is 2. Re-importing a workbook adds nothing, and rows that
    repeat a review (same cell, verdict, clause and reviewer) store it once. A workbook over
    $COMPARE_REVIEW_MAX_BYTES or with more rows than $COMPARE_REVIEW_MAX_ROWS is refused before
    its rows are read.

    Example: compare review import reviews/round-1.xlsx --reviewer "Wang Li"
    """
    from compare.review.importing import import_workbook

    try:
        settings = Settings.from_env(warehouse=warehouse)
        result = import_workbook(
            workbook,
            settings.warehouse,
            reviewer,
            max_bytes=settings.review_max_bytes,
            max_rows=settings.review_max_rows,
        )
    except CompareError as exc:
        fail(exc)
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.verdicts.items())) or "none"
    console.print(
        f"{workbook}: {result.rows} verdicts on {result.documents} documents ({counts}); "
        f"stored {result.stored}, already imported {result.already}"
        + (f", {result.repeated} rows repeated another row's review" if result.repeated else "")
        + (f" (import {result.import_id})" if result.import_id else ""),
        highlight=False,
    )
