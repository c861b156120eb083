"""Bad inputs: each gets a status and a message naming the file and the problem; none stops a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from compare.errors import DocumentError
from compare.extract import MAX_PAGES, pages
from compare.pipeline import parse_document
from compare.records import DocStatus

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
    "bad-menu": (DocStatus.NOT_A_PLAN, "not a plan"),
    "bad-news": (DocStatus.NOT_A_PLAN, "not a plan"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_gets_its_status_and_a_message_naming_the_file(name):
    status, words = EXPECTED[name]
    doc = parse_document(PDFS / f"{name}.pdf")
    assert doc.status == status, doc.message
    assert doc.message.startswith(f"{name}.pdf: ") and words in doc.message
    assert doc.clauses == () and not doc.ok


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
