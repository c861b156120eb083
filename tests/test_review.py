"""The review loop end to end: export, fill a sheet, import, final status, reruns and a changed file."""

from __future__ import annotations

import shutil

import duckdb
import pytest
from typer.testing import CliRunner

from compare.cli.main import app
from compare.errors import ReviewError
from compare.review.importing import import_workbook
from compare.review.workbook import (
    COLUMN_KEYS,
    EXPORT_SHEET,
    FIRST_DATA_ROW,
    FREEZE_AT,
    LISTS_SHEET,
    export_workbook,
)
from compare.run import pipeline
from compare.settings import Settings
from compare.store import warehouse
from tests.review_helpers import document_sheet, fill, run, sheet_rows

GUIZHOU = "guizhou-2015-35.pdf"
NINGBO = "ningbo-2016-29.pdf"
FINAL_SQL = """
SELECT measure_id, machine_status, review_verdict, review_status, final_status, status_source, reviewer,
       final_evidence_clause_id, review_stale, stale_verdict
FROM coverage_reviewed WHERE file_name = ?
"""


def _final(path, file_name):
    with warehouse.read_only(path) as con:
        rows = con.execute(FINAL_SQL, [file_name]).fetchall()
    keys = (
        "machine",
        "verdict",
        "review",
        "final",
        "source",
        "reviewer",
        "evidence",
        "stale",
        "stale_verdict",
    )
    return {r[0]: dict(zip(keys, r[1:], strict=True)) for r in rows}


@pytest.fixture(scope="module")
def built(two_plans):
    """A warehouse of two sample plans, scored once for the session (tests copy it)."""
    return two_plans


@pytest.fixture
def loop(built, tmp_path):
    corpus, path = built
    shutil.copytree(corpus, tmp_path / "corpus")
    shutil.copy(path, tmp_path / "w.duckdb")
    return tmp_path / "corpus", tmp_path / "w.duckdb"


def test_workbook_has_a_sheet_per_document_in_priority_order(built, tmp_path):
    _, path = built
    book, documents = export_workbook(path, tmp_path / "r.xlsx")
    from openpyxl import load_workbook

    wb = load_workbook(book)
    assert wb[LISTS_SHEET].sheet_state == "hidden" and wb[EXPORT_SHEET].sheet_state == "hidden"
    for doc in documents:
        sheet = document_sheet(book, doc.file_name)
        ws = wb[sheet]
        assert ws.freeze_panes == FREEZE_AT
        rows = sheet_rows(book, sheet)
        assert len(rows) == 65 and len({r["cell_key"] for r in rows}) == 65
        priorities = [r["priority"] for r in rows]
        assert priorities == sorted(priorities, reverse=True)
        assert all(r["cell_key"] == f"{r['doc_id']}:{r['measure_id']}" for r in rows)
        covered = [r for r in rows if r["machine_status"] == "covered"]
        assert covered and all(r["evidence"] and r["page"] and r["evidence_clause_id"] for r in covered)
        validations = ws.data_validations.dataValidation
        verdict_letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[COLUMN_KEYS.index("verdict")]
        assert any(f"{verdict_letter}{FIRST_DATA_ROW}" in str(v.sqref) for v in validations)
    assert {d.file_name for d in documents} == {GUIZHOU, NINGBO}


@pytest.mark.slow
def test_verdicts_decide_the_final_status_and_survive_reruns(loop, tmp_path):
    corpus, path = loop
    book, _ = export_workbook(path, tmp_path / "round-1.xlsx")
    sheet = document_sheet(book, GUIZHOU)
    rows = sheet_rows(book, sheet)
    covered = [r for r in rows if r["machine_status"] == "covered" and r["evidence_clause_id"]]
    overturned, reassigned = covered[0], covered[1]
    confirmed_absent = next(r for r in rows if r["machine_status"] == "absent")
    taken = {overturned["measure_id"], reassigned["measure_id"], confirmed_absent["measure_id"]}
    target = next(
        r["measure_id"] for r in rows if r["machine_status"] == "absent" and r["measure_id"] not in taken
    )
    fill(
        book,
        {
            (sheet, overturned["_row"]): {"verdict": "absent", "note": "只提到规划，未落实"},
            (sheet, confirmed_absent["_row"]): {"verdict": "未覆盖", "reviewer": "Li"},
            (sheet, reassigned["_row"]): {"verdict": target},
        },
    )
    result = import_workbook(book, path, reviewer="Wang")
    assert (result.stored, result.already, result.documents) == (3, 0, 1)

    def check():
        final = _final(path, GUIZHOU)
        assert (final[overturned["measure_id"]]["machine"], final[overturned["measure_id"]]["final"]) == (
            "covered",
            "absent",
        )
        assert final[overturned["measure_id"]]["source"] == "review"
        assert final[overturned["measure_id"]]["evidence"] is None
        assert final[confirmed_absent["measure_id"]]["final"] == "absent"
        assert final[confirmed_absent["measure_id"]]["reviewer"] == "Li"
        assert final[reassigned["measure_id"]]["verdict"] == "reassigned"
        assert final[reassigned["measure_id"]]["final"] == "absent"
        implied = final[target]
        assert (implied["machine"], implied["verdict"], implied["final"]) == ("absent", "implied", "covered")
        assert implied["evidence"] == reassigned["evidence_clause_id"]
        untouched = [m for m, v in final.items() if m not in taken | {target}]
        assert all(
            final[m]["source"] == "machine" and final[m]["final"] == final[m]["machine"] for m in untouched
        )
        assert all(v["source"] == "machine" for v in _final(path, NINGBO).values())

    check()
    run(corpus, path)  # a rerun over the same files
    check()
    pipeline.run(Settings.from_env(corpus=corpus, warehouse=path, models="hashing"), force=True)
    check()
    again = import_workbook(book, path, reviewer="Wang")
    assert (again.stored, again.already) == (0, 3)
    with warehouse.read_only(path) as con:
        assert con.execute("SELECT count(*) FROM reviews").fetchone() == (3,)
        progress = dict(con.execute("SELECT file_name, reviewed FROM review_progress").fetchall())
    assert progress == {GUIZHOU: 4, NINGBO: 0}  # three verdicts and one implied cell

    with (corpus / GUIZHOU).open("ab") as handle:  # the province re-issues its file: new content hash
        handle.write(b"\n% revised copy\n")
    run(corpus, path)
    with warehouse.read_only(path) as con:
        states = con.execute("SELECT DISTINCT state, current_doc_id IS NOT NULL FROM review_state").fetchall()
        assert con.execute("SELECT count(*) FROM reviews").fetchone() == (3,)
    assert states == [("stale", True)]
    final = _final(path, GUIZHOU)
    assert (
        final[overturned["measure_id"]]["stale"]
        and final[overturned["measure_id"]]["stale_verdict"] == "absent"
    )
    assert final[reassigned["measure_id"]]["stale_verdict"] == f"reassigned:{target}"
    assert all(v["source"] == "machine" and v["final"] == v["machine"] for v in final.values())
    with pytest.raises(
        ReviewError,
        match=rf"sheet '{sheet}' row {overturned['_row']}: cell .* no longer exists: {GUIZHOU} changed",
    ):
        import_workbook(book, path, reviewer="Wang")


@pytest.mark.slow
def test_cli_export_and_import(loop, tmp_path):
    _, path = loop
    runner = CliRunner()
    book = tmp_path / "cli.xlsx"
    result = runner.invoke(app, ["review", "export", "--warehouse", str(path), "--out", str(book)])
    assert result.exit_code == 0, result.output
    assert "2 documents, 130 cells" in result.output
    sheet = document_sheet(book, NINGBO)
    first = sheet_rows(book, sheet)[0]
    fill(book, {(sheet, first["_row"]): {"verdict": "partial"}})
    result = runner.invoke(app, ["review", "import", str(book), "--warehouse", str(path)])
    assert result.exit_code == 2 and "no reviewer" in result.output
    result = runner.invoke(
        app, ["review", "import", str(book), "--warehouse", str(path), "--reviewer", "Zhao"]
    )
    assert result.exit_code == 0, result.output
    assert "stored 1" in result.output
    again = tmp_path / "again.xlsx"
    runner.invoke(app, ["review", "export", "--warehouse", str(path), "--out", str(again)])
    rows = sheet_rows(again, sheet)
    assert rows[-1]["cell_key"] == first["cell_key"] and rows[-1]["previous_review"] == "partial (Zhao)"
    skipped = tmp_path / "skipped.xlsx"
    runner.invoke(
        app, ["review", "export", "--warehouse", str(path), "--out", str(skipped), "--skip-reviewed"]
    )
    assert first["cell_key"] not in {r["cell_key"] for r in sheet_rows(skipped, sheet)}


def test_a_warehouse_whose_views_predate_the_review_is_told_to_refresh_them(loop, tmp_path):
    _, path = loop
    with duckdb.connect(str(path)) as con:  # current_documents as published before it had sha256
        con.execute(
            "CREATE OR REPLACE VIEW current_documents AS SELECT doc_id, file_name, province, city, issuer, "
            "doc_number, title, status FROM documents WHERE status <> 'withdrawn'"
        )
    with pytest.raises(
        ReviewError, match=r"current_documents has no sha256 column .*run `compare run` to refresh"
    ):
        export_workbook(path, tmp_path / "round-1.xlsx")


def test_review_commands_have_help_with_an_example():
    runner = CliRunner()
    for command in ("export", "import"):
        result = runner.invoke(app, ["review", command, "--help"])
        assert result.exit_code == 0 and "Example: compare review" in result.output
    result = runner.invoke(app, ["evaluate", "--help"])
    assert "--with-reviews" in result.output
