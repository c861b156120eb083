"""`compare evaluate --with-reviews`: imported verdicts join the labels, and reviewed documents without a label file join the folds."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from compare.cli.main import app
from compare.review.importing import import_workbook
from compare.review.workbook import export_workbook
from compare.store import warehouse
from tests.conftest import CORPUS
from tests.review_helpers import SAMPLES, document_sheet, fill, run, sheet_rows

#: A reviewed plan with no label file in the gold folder.
UNLABELLED = "hunan-2015-86.pdf"


@pytest.mark.slow
def test_reviews_join_the_evaluation(tmp_path):
    gold = tmp_path / "gold"
    corpus = tmp_path / "corpus"
    gold.mkdir()
    corpus.mkdir()
    for name in SAMPLES:
        stem = name.removesuffix(".pdf")
        shutil.copy(CORPUS / name, gold / name)
        shutil.copy(CORPUS / f"{stem}.labels.tsv", gold / f"{stem}.labels.tsv")
    for name in (*SAMPLES, UNLABELLED):
        shutil.copy(CORPUS / name, corpus / name)
    path = tmp_path / "w.duckdb"
    run(corpus, path)
    book, _ = export_workbook(path, tmp_path / "r.xlsx")
    hunan = document_sheet(book, UNLABELLED)
    rows = sheet_rows(book, hunan)[:6]
    fill(
        book,
        {(hunan, r["_row"]): {"verdict": "covered" if i % 2 == 0 else "absent"} for i, r in enumerate(rows)},
    )
    assert import_workbook(book, path, reviewer="Wang").stored == 6

    runner = CliRunner()
    common = ["evaluate", "--gold", str(gold), "--models", "hashing", "--warehouse", str(path)]
    plain = runner.invoke(app, [*common, "--out", str(tmp_path / "plain.md")])
    assert plain.exit_code == 0, plain.output
    reviewed = runner.invoke(app, [*common, "--out", str(tmp_path / "reviewed.md"), "--with-reviews"])
    assert reviewed.exit_code == 0, reviewed.output
    figures = (tmp_path / "reviewed.md").read_text(encoding="utf-8")
    assert UNLABELLED in figures
    assert (
        "reviews: 6 verdicts" in figures and "1 more documents judged on their reviewed cells only" in figures
    )
    assert UNLABELLED not in (tmp_path / "plain.md").read_text(encoding="utf-8")
    with warehouse.read_only(path) as con:
        judged = con.execute("SELECT protocol, cells FROM evaluations ORDER BY evaluated_at").fetchall()
    assert judged == [
        ("leave-one-document-out", 130),
        ("leave-one-document-out, label files and expert reviews", 136),
    ]
