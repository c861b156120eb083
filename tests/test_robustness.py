"""Bad inputs: each gets a status and a message naming the file and the problem; none stops a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from compare.errors import DocumentError
from compare.ingest.extract import MAX_PAGES, pages
from compare.ingest.parse import parse_document
from compare.records import DocStatus
from compare.run import pipeline
from compare.settings import Settings
from compare.store import warehouse

PDFS = Path(__file__).resolve().parent / "data" / "pdfs"

#: fixture -> (status, words the message must contain)
EXPECTED: dict[str, tuple[DocStatus, str]] = {
    "bad-encrypted": (DocStatus.ENCRYPTED, "encrypted"),
    "bad-corrupt": (DocStatus.CORRUPT, "damaged"),
    "bad-truncated": (DocStatus.CORRUPT, "truncated"),
    "bad-zero-pages": (DocStatus.EMPTY, "no pages"),
    "bad-empty-file": (DocStatus.EMPTY, "0 bytes"),
    "bad-not-a-pdf": (DocStatus.NOT_PDF, "not a PDF"),
    "bad-image-only": (DocStatus.NO_TEXT, "OCR found no Chinese text"),
    "bad-huge": (DocStatus.TOO_LARGE, f"limit of {MAX_PAGES}"),
    "bad-english": (DocStatus.NOT_CHINESE, "not Chinese"),
    "bad-news": (DocStatus.NOT_A_PLAN, "not a plan"),
}


def test_a_numbered_document_that_is_no_plan_is_kept_for_its_relevance_verdict():
    # a menu has numbered lines: it is parsed, scored, and judged off topic (compare.match.relevance)
    doc = parse_document(PDFS / "bad-menu.pdf")
    assert doc.ok and doc.clauses


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_gets_its_status_and_a_message_naming_the_file(name):
    status, words = EXPECTED[name]
    doc = parse_document(PDFS / f"{name}.pdf")
    assert doc.status == status, doc.message
    assert doc.message.startswith(f"{name}.pdf: ") and words in doc.message
    assert doc.clauses == () and not doc.ok


@pytest.mark.slow
def test_every_fixture_parses_without_raising():
    statuses = {
        p.stem: parse_document(p).status
        for p in sorted(PDFS.glob("*.pdf"))
        if not p.stem.startswith(("scanned", "variant-scan"))
    }
    assert DocStatus.FAILED not in statuses.values()
    assert {name for name, status in statuses.items() if status == DocStatus.OK} >= {
        "clean-text",
        "doubled-bold",
        "cjk-spacing",
        "running-headers",
        "table",
        "two-column",
        "gbk-no-tounicode",
        "traditional-chars",
        "variant-city-flush-left",
        "variant-shadow-bold",
        "variant-traditional-s2t",
    }


def test_extract_raises_document_errors_with_the_file_name():
    with pytest.raises(DocumentError) as caught:
        pages(PDFS / "bad-encrypted.pdf")
    assert caught.value.status == DocStatus.ENCRYPTED and caught.value.path.name == "bad-encrypted.pdf"


def test_page_cap_is_a_setting_of_the_call():
    with pytest.raises(DocumentError) as caught:
        pages(PDFS / "clean-text.pdf", max_pages=2)
    assert caught.value.status == DocStatus.TOO_LARGE and "3 pages" in str(caught.value)


def test_a_missing_file_is_a_failure_not_a_crash(tmp_path):
    with pytest.raises(DocumentError) as caught:
        pages(tmp_path / "gone.pdf")
    assert caught.value.status == DocStatus.FAILED and "gone.pdf" in str(caught.value)


@pytest.mark.slow
def test_one_run_over_every_bad_input_publishes_the_good_plan_and_a_status_for_each(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in EXPECTED:
        (corpus / f"{name}.pdf").write_bytes((PDFS / f"{name}.pdf").read_bytes())
    (corpus / "clean-text.pdf").write_bytes((PDFS / "clean-text.pdf").read_bytes())
    settings = Settings(
        corpus=corpus, warehouse=tmp_path / "w.duckdb", models=("hashing",), cache_dir=tmp_path / "c"
    )
    summary = pipeline.run(settings)
    assert (summary.n_files, summary.n_processed, summary.n_failed) == (
        len(EXPECTED) + 1,
        len(EXPECTED) + 1,
        len(EXPECTED),
    )
    assert sorted(m.split(":")[0] for m in summary.failures) == sorted(f"{name}.pdf" for name in EXPECTED)
    with warehouse.read_only(settings.warehouse) as con:
        statuses = dict(con.execute("SELECT file_name, status FROM documents").fetchall())
        assert statuses == {"clean-text.pdf": "ok", **{f"{n}.pdf": str(EXPECTED[n][0]) for n in EXPECTED}}
        assert con.execute("SELECT status, n_failed FROM runs").fetchall() == [("partial", len(EXPECTED))]
        assert con.execute("SELECT count(*) FROM coverage").fetchall() == [(65,)]
        assert con.execute(
            "SELECT count(*) FROM clauses c JOIN documents d USING (doc_id) WHERE d.status <> 'ok'"
        ).fetchall() == [(0,)]
