"""Reviews in the committee report: the reviewer's verdict decides a cell, reviewed cells are marked, progress is stated."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from compare.report.data import report_data
from compare.report.render import committee_summary_markdown, report_html
from compare.report.reviews import review_progress
from compare.review.importing import import_workbook
from compare.review.workbook import export_workbook
from tests.review_helpers import corpus_with_samples, document_sheet, fill, run, sheet_rows

GUIZHOU = "guizhou-2015-35.pdf"
_REVIEWED_CELL = re.compile(r'<td class="cell rv"[^>]*title="([^"]*)"')


@pytest.mark.slow
def test_report_marks_reviewed_cells_and_states_progress(tmp_path):
    corpus = corpus_with_samples(tmp_path / "corpus")
    path = tmp_path / "w.duckdb"
    run(corpus, path)
    book, _ = export_workbook(path, tmp_path / "r.xlsx")
    sheet = document_sheet(book, GUIZHOU)
    rows = sheet_rows(book, sheet)
    overturned = next(r for r in rows if r["machine_status"] == "covered")
    confirmed = next(r for r in rows if r["machine_status"] == "absent")
    fill(
        book,
        {
            (sheet, overturned["_row"]): {"verdict": "absent"},
            (sheet, confirmed["_row"]): {"verdict": "absent"},
        },
    )
    import_workbook(book, path, reviewer="Wang")

    data = report_data(path)
    cells = data.coverage.set_index(["doc_id", "measure_id"])
    flipped = cells.loc[(overturned["doc_id"], overturned["measure_id"])]
    assert (flipped["status"], flipped["machine_status"], bool(flipped["reviewed"])) == (
        "absent",
        "covered",
        True,
    )
    assert pd.isna(flipped["evidence_clause_id"])
    guizhou = data.documents.set_index("file_name").loc[GUIZHOU]
    machine_covered = int((cells.loc[overturned["doc_id"]]["machine_status"] == "covered").sum())
    assert guizhou["covered"] == machine_covered - 1  # counts follow the final status

    progress = review_progress(data.coverage)
    assert (progress.reviewed, progress.overturned, progress.cells, progress.reviewers) == (
        2,
        1,
        130,
        ("Wang",),
    )
    page = report_html(data)
    marked = _REVIEWED_CELL.findall(page)
    assert len(marked) == 2 and all("专家已审核" in title and "Wang" in title for title in marked)
    assert any("machine: covered" in title for title in marked)
    assert 'id="reviews"' in page and "2 of 130 cells reviewed" in page
    summary = committee_summary_markdown(path)
    assert (
        "2 of 130 cells decided by reviewers (1.5%; 1 overturned the machine); 128 cells are machine-only"
        in summary
    )

    with (corpus / GUIZHOU).open("ab") as handle:  # the file changes: its reviews no longer apply
        handle.write(b"\n% revised copy\n")
    run(corpus, path)
    data = report_data(path)
    progress = review_progress(data.coverage)
    assert (progress.reviewed, progress.stale) == (0, 2)
    page = report_html(data)
    assert page.count('<td class="cell rv-stale"') == 2 and "reviews predate a change of their file" in page
