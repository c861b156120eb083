"""Importing a review workbook: every problem named by sheet and row, and a bad workbook imports nothing."""

from __future__ import annotations

import re
import shutil

import pytest
from openpyxl import Workbook, load_workbook

from compare.errors import ReviewError
from compare.review.importing import import_workbook
from compare.review.queue import REASSIGNED, Verdict, parse_verdict
from compare.review.workbook import COLUMN_KEYS, export_workbook
from compare.store import warehouse
from tests.review_helpers import document_sheet, fill, sheet_rows

MEASURES = frozenset({"II.3.1", "II.3.2", "III.7.3"})


@pytest.fixture(scope="module")
def exported(tmp_path_factory, two_plans):
    _, path = two_plans
    book, _ = export_workbook(path, tmp_path_factory.mktemp("exported") / "blank.xlsx")
    return path, book


@pytest.fixture
def copies(exported, tmp_path):
    path, book = exported
    shutil.copy(path, tmp_path / "w.duckdb")
    shutil.copy(book, tmp_path / "review.xlsx")
    return tmp_path / "w.duckdb", tmp_path / "review.xlsx"


def _count(path):
    with warehouse.read_only(path) as con:
        return con.execute("SELECT count(*) FROM reviews").fetchone()[0]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("covered", Verdict("covered")),
        (" Partial ", Verdict("partial")),
        ("未覆盖", Verdict("absent")),
        ("ii.3.2", Verdict(REASSIGNED, "II.3.2")),
        ("III．7．3", Verdict(REASSIGNED, "III.7.3")),
    ],
)
def test_verdicts_as_reviewers_type_them(typed, expected):
    assert parse_verdict(typed, MEASURES) == expected


@pytest.mark.parametrize(
    ("typed", "problem"), [("maybe", "not one of covered"), ("II.12.1", "names no national measure")]
)
def test_bad_verdicts_say_what_is_accepted(typed, problem):
    with pytest.raises(ValueError, match=problem):
        parse_verdict(typed, MEASURES)


def test_every_problem_is_named_and_nothing_is_imported(copies):
    path, book = copies
    guizhou = document_sheet(book, "guizhou-2015-35.pdf")
    ningbo = document_sheet(book, "ningbo-2016-29.pdf")
    rows = sheet_rows(book, guizhou)
    other = sheet_rows(book, ningbo)
    good, bad_verdict, bad_key, bad_status, bad_clause, own, conflict = rows[:7]
    no_evidence = next((r for r in rows if not r["evidence_clause_id"]), None)
    edits = {
        (guizhou, good["_row"]): {"verdict": "covered"},
        (guizhou, bad_verdict["_row"]): {"verdict": "maybe"},
        (guizhou, bad_key["_row"]): {"verdict": "absent", "cell_key": "0000000000000000:II.1.1"},
        (guizhou, bad_status["_row"]): {"verdict": "absent", "machine_status": "probably"},
        (guizhou, bad_clause["_row"]): {"verdict": "covered", "clause": other[0]["evidence_clause_id"]},
        (guizhou, own["_row"]): {"verdict": own["measure_id"]},
        (guizhou, conflict["_row"]): {"verdict": "covered"},
        (ningbo, other[1]["_row"]): {
            "verdict": "absent",
            "measure_id": "II.99.1",
            "cell_key": f"{other[1]['doc_id']}:II.99.1",
        },
    }
    if no_evidence is not None:
        edits[(guizhou, no_evidence["_row"])] = {
            "verdict": "II.3.2" if no_evidence["measure_id"] != "II.3.2" else "II.3.1"
        }
    fill(book, edits)
    wb = load_workbook(book)  # the same cell copied to the end of another sheet with another verdict
    copied = [conflict[k] for k in COLUMN_KEYS]
    copied[COLUMN_KEYS.index("verdict")] = "absent"
    wb[ningbo].append(copied)
    last_row = wb[ningbo].max_row
    wb.save(book)

    with pytest.raises(ReviewError) as caught:
        import_workbook(book, path, reviewer="Wang")
    message = str(caught.value)
    expected = [
        rf"sheet '{guizhou}' row {bad_verdict['_row']}: verdict 'maybe' is not one of",
        rf"sheet '{guizhou}' row {bad_key['_row']}: cell_key '0000000000000000:II.1.1' does not match",
        rf"sheet '{guizhou}' row {bad_status['_row']}: machine_status 'probably'",
        rf"sheet '{guizhou}' row {bad_clause['_row']}: clause '.*' is not a clause of document {bad_clause['doc_id']}",
        rf"sheet '{guizhou}' row {own['_row']}: verdict {own['measure_id']} names the row's own measure",
        rf"sheet '{ningbo}' row {other[1]['_row']}: unknown measure id 'II.99.1'",
        rf"conflicting verdicts on cell {conflict['cell_key']}: sheet '{guizhou}' row {conflict['_row']}: covered; "
        rf"sheet '{ningbo}' row {last_row}: absent",
    ]
    if no_evidence is not None:
        expected.append(
            rf"sheet '{guizhou}' row {no_evidence['_row']}: verdict .* reassigns the evidence clause"
        )
    for pattern in expected:
        assert any(re.search(pattern, line) for line in message.splitlines()), pattern
    assert message.startswith("review.xlsx: nothing imported;")
    assert f"row {good['_row']}:" not in message
    assert _count(path) == 0


def test_clause_column_picks_a_shown_clause(copies):
    path, book = copies
    sheet = document_sheet(book, "guizhou-2015-35.pdf")
    row = next(r for r in sheet_rows(book, sheet) if r["other_clause_ids"])
    fill(book, {(sheet, row["_row"]): {"verdict": "covered", "clause": 2, "reviewer": "Li"}})
    assert import_workbook(book, path).stored == 1
    with warehouse.read_only(path) as con:
        stored = con.execute(
            "SELECT clause_id, clause_text IS NOT NULL, reviewer, source_row FROM reviews"
        ).fetchone()
    assert stored == (row["other_clause_ids"].split(",")[0], True, "Li", row["_row"])


def test_not_a_review_workbook(copies, tmp_path):
    path, _ = copies
    plain = tmp_path / "plain.xlsx"
    Workbook().save(plain)
    with pytest.raises(ReviewError, match=r"plain\.xlsx: no _export sheet"):
        import_workbook(plain, path)
    text = tmp_path / "notes.xlsx"
    text.write_text("not a workbook", encoding="utf-8")
    with pytest.raises(ReviewError, match=r"notes\.xlsx: not an \.xlsx workbook"):
        import_workbook(text, path)


def test_rows_without_a_verdict_are_noted_not_imported(copies):
    path, book = copies
    sheet = document_sheet(book, "ningbo-2016-29.pdf")
    first, second = sheet_rows(book, sheet)[:2]
    fill(book, {(sheet, first["_row"]): {"note": "需要再看"}, (sheet, second["_row"]): {"verdict": "absent"}})
    result = import_workbook(book, path, reviewer="Wang")
    assert result.stored == 1
    assert result.notes == (f"sheet '{sheet}' row {first['_row']}: no verdict; the row is not imported",)
