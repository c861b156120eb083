"""Reading PDFs: text per page, with a fallback for pages pdfminer cannot decode.

This module is an edge: it touches files. It returns ``Page`` values and raises
``DocumentError`` (with a status) for files that cannot be read at all.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pdfplumber
import pypdfium2 as pdfium
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfparser import PDFSyntaxError

from compare.errors import DocumentError
from compare.records import DocStatus, Page

PDF_MAGIC = b"%PDF-"
#: Share of a page's characters that may be junk ((cid:n) escapes, U+FFFD, private use)
#: before the page is re-read with pdfium.
MAX_JUNK_SHARE = 0.02
_CID = re.compile(r"\(cid:\d+\)")
_JUNK_CHAR = re.compile("[\ufffd\ue000-\uf8ff]")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def junk_share(text: str) -> float:
    """Share of a page's text that is undecodable: (cid:n) escapes, U+FFFD and private-use characters."""
    if not text:
        return 0.0
    junk = sum(len(m) for m in _CID.findall(text)) + len(_JUNK_CHAR.findall(text))
    return junk / len(text)


def _check_header(path: Path) -> None:
    with path.open("rb") as handle:
        head = handle.read(1024)
    if not head:
        raise DocumentError(path, DocStatus.EMPTY, "the file is empty (0 bytes)")
    if PDF_MAGIC not in head:
        raise DocumentError(path, DocStatus.NOT_PDF, "not a PDF: the file does not start with %PDF-")


def pages(path: Path) -> tuple[Page, ...]:
    """Text of every page: pdfplumber, or pdfium where pdfplumber's text is junk."""
    _check_header(path)
    try:
        with pdfplumber.open(path) as pdf:
            plumber_texts = [page.extract_text() or "" for page in pdf.pages]
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise DocumentError(path, DocStatus.ENCRYPTED, f"the PDF is encrypted ({exc.__class__.__name__})") from exc
    except (PDFSyntaxError, ValueError, KeyError, TypeError) as exc:
        raise DocumentError(path, DocStatus.CORRUPT, f"the PDF cannot be parsed ({exc})") from exc
    if not plumber_texts:
        raise DocumentError(path, DocStatus.EMPTY, "the PDF has no pages")
    result: list[Page] = []
    pdfium_doc: pdfium.PdfDocument | None = None
    try:
        for number, text in enumerate(plumber_texts, start=1):
            if junk_share(text) <= MAX_JUNK_SHARE:
                result.append(Page(number=number, text=text, method="pdfplumber"))
                continue
            if pdfium_doc is None:
                pdfium_doc = pdfium.PdfDocument(str(path))
            textpage = pdfium_doc[number - 1].get_textpage()
            result.append(Page(number=number, text=textpage.get_text_bounded(), method="pdfium"))
    finally:
        if pdfium_doc is not None:
            pdfium_doc.close()
    return tuple(result)
