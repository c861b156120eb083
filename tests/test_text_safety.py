"""Text that can be stored is safe in every writer: control characters and spreadsheet formulas.

A glyph with no Unicode mapping reaches the text layer as NUL; a file name can hold anything.
Extraction shows such a glyph as U+FFFD, and each writer (review workbook, CSV export,
``compare query``, HTML and PDF report) copes on its own with a warehouse whose clause texts
and file names hold controls, noncharacters, lone combining marks and formula-like text.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import duckdb
import pdfplumber
import pypdfium2 as pdfium
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from openpyxl import load_workbook
from typer.testing import CliRunner

from compare.cli.main import app
from compare.errors import CompareError
from compare.ingest import extract
from compare.report.render import committee_summary_markdown, write_report
from compare.review.importing import import_workbook
from compare.review.workbook import DOCUMENT_KEY, EXPORT_SHEET, export_workbook, read_workbook
from compare.safe_text import (
    FORMULA_STARTS,
    REPLACEMENT,
    UNPRINTABLE_RANGES,
    formula_like,
    printable,
    spreadsheet_cell,
    spreadsheet_sql,
)
from compare.store.export import export
from tests.conftest import CORPUS
from tests.review_helpers import document_sheet, fill, run, sheet_rows

SAMPLE = "chengdu-2016-12.pdf"
#: A file name that is a live formula in a spreadsheet (slashes cannot be in a real file name).
FORMULA_NAME = '=HYPERLINK("http://x","y").pdf'
#: Put inside every clause text: NUL, an escape sequence, a noncharacter, a combining mark with
#: nothing to combine with, a right-to-left override, a C1 control.
HOSTILE = " \x00\x1b[31m\ufffe\u0301\u202e\x85"
#: Clause texts start with these in turn (the last: a lone combining mark).
STARTS = ("=1+1 ", "-", "@", "+", "\t", "\r", "")
NEGATIVE_SCORE = -1.25
#: Characters no writer may put out (tab, newline and carriage return aside).
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff]")


def _hostile_text(seq: int, text: str) -> str:
    return STARTS[seq % len(STARTS)] + "\u0301" + text[:5] + HOSTILE + text[5:]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A one-document warehouse scored with the hashing encoder (tests copy it)."""
    folder = tmp_path_factory.mktemp("built")
    (folder / "corpus").mkdir()
    shutil.copy(CORPUS / SAMPLE, folder / "corpus" / SAMPLE)
    run(folder / "corpus", folder / "w.duckdb")
    return folder / "w.duckdb"


def _renamed(source: Path, target: Path) -> Path:
    """A copy of the warehouse whose document is named ``FORMULA_NAME``."""
    shutil.copy(source, target)
    with duckdb.connect(str(target)) as con:
        con.execute("UPDATE documents SET file_name = ?", [FORMULA_NAME])
    return target


@pytest.fixture(scope="module")
def hostile(built, tmp_path_factory) -> Path:
    """The warehouse with hostile clause texts, title and file name, and one negative score."""
    path = _renamed(built, tmp_path_factory.mktemp("hostile") / "w.duckdb")
    with duckdb.connect(str(path)) as con:
        rows = con.execute("SELECT clause_id, seq, text FROM clauses").fetchall()
        con.executemany(
            "UPDATE clauses SET text = ? WHERE clause_id = ?",
            [[_hostile_text(seq, text), clause_id] for clause_id, seq, text in rows],
        )
        con.execute("UPDATE documents SET title = title || chr(27) || '[2J'")
        con.execute(
            "UPDATE coverage SET score = ? WHERE measure_id = (SELECT min(measure_id) FROM coverage)",
            [NEGATIVE_SCORE],
        )
    return path


@pytest.fixture
def hostile_copy(hostile, tmp_path) -> Path:
    shutil.copy(hostile, tmp_path / "w.duckdb")
    return tmp_path / "w.duckdb"


# ---- the helper ---------------------------------------------------------------------------


def _unprintable(char: str) -> bool:
    code = ord(char)
    return 0xD800 <= code <= 0xDFFF or any(a <= code <= b for a, b in UNPRINTABLE_RANGES)


@hsettings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec=None, blacklist_categories=())))
def test_printable_replaces_exactly_the_unprintable_characters(text):
    result = printable(text)
    assert len(result) == len(text)
    for before, after in zip(text, result, strict=True):
        assert after == (REPLACEMENT if _unprintable(before) else before)
    assert not _UNSAFE.search(result)


@pytest.mark.slow
@hsettings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",)))))
def test_the_sql_rule_is_the_python_rule(text):
    """What DuckDB writes to CSV equals ``spreadsheet_cell`` (DuckDB text holds no surrogate)."""
    with duckdb.connect() as con:
        got = con.execute(f"SELECT {spreadsheet_sql('CAST($1 AS VARCHAR)')}", [text]).fetchone()[0]
    assert got == spreadsheet_cell(text)


@hsettings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from([*FORMULA_STARTS, "'", "a", "1", "\x00", "\n"])))
def test_the_csv_escape_is_undone_by_stripping_one_leading_quote(text):
    cell = spreadsheet_cell(text)
    assert not formula_like(cell)
    assert (cell[1:] if cell.startswith("'") else cell) == printable(text)


def test_spreadsheet_cell_quotes_formula_text_and_leaves_numbers():
    assert [spreadsheet_cell(t) for t in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1")] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\t=1",
        "'\r=1",
    ]
    assert spreadsheet_cell("\x00=1") == "\ufffd=1"  # cleaned first: no longer a formula
    assert spreadsheet_cell("'quoted") == "''quoted"
    assert spreadsheet_cell("互联网+") == "互联网+"
    assert spreadsheet_cell(-1.5) == -1.5 and spreadsheet_cell(None) is None


# ---- extraction ---------------------------------------------------------------------------


def _pdf_with_unmapped_glyph(lines: list[str]) -> bytes:
    """One page in Helvetica whose ToUnicode map sends "~" to U+0000, as a font without a mapping does."""
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        b"/CMapName /Unmapped def 1 begincodespacerange <00> <FF> endcodespacerange\n"
        b"1 beginbfrange <20> <7D> <0020> endbfrange\n"
        b"1 beginbfchar <7E> <0000> endbfchar\n"
        b"endcmap CMapName currentdict /CMap defineresource pop end end\n"
    )
    text = b"".join(
        b"BT /F1 12 Tf 72 %d Td (%s) Tj ET\n" % (720 - 16 * i, line.encode("ascii"))
        for i, line in enumerate(lines)
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(cmap), cmap),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.fixture
def unmapped_glyph_pdf(tmp_path) -> Path:
    path = tmp_path / "unmapped-glyph.pdf"
    path.write_bytes(
        _pdf_with_unmapped_glyph(
            [
                "The Internet Plus action plan of the pro~vince",
                "covers e-commerce and cloud computing services",
                "for every city and county of the province.",
            ]
        )
    )
    return path


def test_an_unmapped_glyph_shows_as_a_placeholder_in_the_page_text(unmapped_glyph_pdf):
    with pdfplumber.open(unmapped_glyph_pdf) as document:
        assert "\x00" in "".join(c["text"] for c in document.pages[0].chars)  # what the PDF says
    (page,) = extract.pages(unmapped_glyph_pdf, use_ocr=False)
    assert "pro\ufffdvince" in page.text
    assert not _UNSAFE.search(page.text)


def test_pdfium_keeps_the_place_of_a_glyph_it_cannot_map(unmapped_glyph_pdf):
    document = pdfium.PdfDocument(str(unmapped_glyph_pdf))
    try:
        text = "".join(g.text for g in extract._pdfium_glyphs(document[0]))
    finally:
        document.close()
    assert "pro\ufffdvince" in text  # not "province": the neighbours are not joined


# ---- review workbook ------------------------------------------------------------------------


def test_review_export_writes_a_workbook_with_text_cells_only(hostile, tmp_path):
    out, _ = export_workbook(hostile, tmp_path / "review.xlsx")
    book = load_workbook(out)
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = [c for c in cells if isinstance(c.value, str)]
    assert not [c.value for c in texts if _UNSAFE.search(c.value)]
    formulas = [c for c in texts if formula_like(c.value)]
    assert formulas and all(c.data_type == "s" and c.quotePrefix for c in formulas)
    assert not [c.value for c in texts if not formula_like(c.value) and c.quotePrefix]
    # the evidence reads back as stored: controls as U+FFFD, a carriage return as a line break
    with duckdb.connect(str(hostile), read_only=True) as con:
        stored = {
            printable(t).replace("\r", "\n") for (t,) in con.execute("SELECT text FROM clauses").fetchall()
        }
    sheet = document_sheet(out, FORMULA_NAME)
    evidence = {r["evidence"] for r in sheet_rows(out, sheet) if r["evidence"]}
    assert evidence and evidence <= stored
    assert any(formula_like(e) for e in evidence)
    assert book[EXPORT_SHEET]["B"][-1].value == FORMULA_NAME


def test_review_workbook_has_no_formula_cell_for_a_formula_file_name(built, tmp_path):
    """Only the file name is hostile here: openpyxl alone would store it as a live formula."""
    path = _renamed(built, tmp_path / "w.duckdb")
    out, _ = export_workbook(path, tmp_path / "review.xlsx")
    book = load_workbook(out)
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not [f"{c.parent.title}!{c.coordinate}" for c in cells if c.data_type == "f"]
    named = [c for c in cells if c.value == FORMULA_NAME]
    assert len(named) == 2 and all(c.quotePrefix for c in named)  # README index and _export record


@pytest.mark.slow
def test_review_workbook_round_trips_through_import(hostile_copy, tmp_path):
    out, (document,) = export_workbook(hostile_copy, tmp_path / "review.xlsx")
    assert read_workbook(out).export[f"{DOCUMENT_KEY}{document.doc_id}"] == FORMULA_NAME
    sheet = document_sheet(out, FORMULA_NAME)
    first = sheet_rows(out, sheet)[0]
    fill(out, {(sheet, first["_row"]): {"verdict": "partial", "note": "-checked"}})
    result = import_workbook(out, hostile_copy, reviewer="Zhao")
    assert result.stored == 1
    with duckdb.connect(str(hostile_copy), read_only=True) as con:
        file_name, note = con.execute("SELECT file_name, note FROM reviews").fetchone()
    assert (file_name, note) == (FORMULA_NAME, "-checked")


# ---- CSV ------------------------------------------------------------------------------------


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _unescaped_formulas(rows: list[dict[str, str]], numeric: set[str]) -> list[str]:
    return [
        value
        for row in rows
        for key, value in row.items()
        if key not in numeric and value.startswith(FORMULA_STARTS)
    ]


def test_csv_export_quotes_formula_text_and_keeps_negative_numbers(hostile, tmp_path):
    written = export(hostile, tmp_path, fmt="csv", tables=["clauses", "documents", "coverage"])
    files = {p.stem: p.read_bytes().decode("utf-8") for p in written}  # carriage returns kept
    assert not [name for name, text in files.items() if _UNSAFE.search(text)]
    documents = _csv(files["documents"])
    assert documents[0]["file_name"] == "'" + FORMULA_NAME
    clauses = _csv(files["clauses"])
    assert not _unescaped_formulas(clauses, {"seq", "page", "char_start", "char_end"})
    assert {row["text"][:2] for row in clauses} >= {"'=", "'-", "'@", "'+", "'\t", "'\r"}
    coverage = _csv(files["coverage"])
    assert not _unescaped_formulas(coverage, {"score"})
    assert NEGATIVE_SCORE in {float(row["score"]) for row in coverage}


def test_query_csv_quotes_formula_text_and_keeps_negative_numbers(hostile):
    sql = "SELECT d.file_name, c.text, -1.5 AS n, '-1.5' AS s FROM documents d JOIN clauses c USING (doc_id)"
    result = CliRunner().invoke(app, ["query", sql, "--warehouse", str(hostile), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert not _UNSAFE.search(result.stdout)
    rows = _csv(result.stdout)
    assert rows and all(r["file_name"] == "'" + FORMULA_NAME for r in rows)
    assert not _unescaped_formulas(rows, {"n"})
    assert {r["n"] for r in rows} == {"-1.5"} and {r["s"] for r in rows} == {"'-1.5"}


def test_query_table_shows_stored_text_as_plain_text(hostile):
    sql = "SELECT '[/x] [bold]' || text AS text, file_name FROM clauses JOIN documents USING (doc_id)"
    result = CliRunner().invoke(app, ["query", sql, "--warehouse", str(hostile)])
    assert result.exit_code == 0, result.output
    assert "[/x] [bold]" in result.stdout  # not read as rich markup
    assert not _UNSAFE.search(result.stdout)
    failed = CliRunner().invoke(app, ["query", "SELECT [1][/x] FROM missing", "--warehouse", str(hostile)])
    assert failed.exit_code == 2 and "[/x]" in failed.output  # the error quotes the query as it is


# ---- report ---------------------------------------------------------------------------------


def test_html_report_shows_controls_as_placeholders(hostile, tmp_path):
    files = write_report(hostile, tmp_path, pdf=False)
    page = files.html.read_text(encoding="utf-8")
    assert not _UNSAFE.search(page)
    assert "\ufffd[31m\ufffd\u0301\u202e\ufffd" in page  # the evidence keeps the place of each control
    assert not _UNSAFE.search(committee_summary_markdown(hostile))


@pytest.mark.slow
def test_pdf_report_prints_text_with_controls(hostile, tmp_path):
    try:
        files = write_report(hostile, tmp_path)
    except CompareError as exc:
        if "Chromium not found" in str(exc):
            pytest.skip(str(exc))
        raise
    assert files.pdf is not None
    with pdfplumber.open(files.pdf) as document:
        text = "".join(page.extract_text() or "" for page in document.pages)
    assert not _UNSAFE.search(text)
    assert "\ufffd[31m" in text  # NUL and escape printed as placeholders, not dropped
