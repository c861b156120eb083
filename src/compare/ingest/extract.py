"""Reading PDFs: the text of every page, in reading order, one paragraph per line.

This module is an edge: it touches files. It returns ``Page`` values and raises
``DocumentError`` (with a status) for files that cannot be read.

Each page is read the first way that gives clean text:

1. ``pdfplumber``: characters with their boxes, doubled (bold) characters dropped,
   ruled tables read row by row (a row is a paragraph of its own,
   cells separated by `` | ``) and kept out of the running text;
2. ``pdfium``: when more than ``MAX_JUNK_SHARE`` of pdfplumber's characters are junk
   (``(cid:n)`` escapes, U+FFFD, private-use characters, C0 and C1 controls) — fonts without a
   ToUnicode map, which pdfium decodes through their CMaps;
3. ``ocr``: when the page has no text layer but has an image (a scan), or both text
   layers are junk, or a page-sized image carries only a few words of text (a stamp or a
   download notice on a scan) and OCR reads more: the page is rendered and read with
   RapidOCR (see ``compare.ingest.ocr``).

The glyphs of every page then go through ``compare.ingest.layout``: lines, columns, page numbers
and running headers removed, paragraphs joined. ``Page.text`` holds one paragraph per
line; a paragraph whose first line is indented (or centred, or set right) starts with
two ideographic spaces, so segmentation can tell whether a page's first line continues
the page before. ``Page.method`` records which reader gave
the text. Kangxi radicals and compatibility ideographs, which some PDF fonts map
characters to, are folded to the unified ideographs they stand for, and a glyph with no
Unicode mapping (a control character such as NUL in the text layer) is kept in place as
U+FFFD (``normalize.visible``), so the text never holds control characters and the quoted
evidence never joins the characters around a glyph that could not be read.
"""

from __future__ import annotations

import hashlib
import re
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pdfplumber
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfparser import PDFSyntaxError
from pdfminer.psparser import PSException
from pdfplumber.utils.exceptions import PdfminerException

from compare.errors import DocumentError
from compare.ingest import layout, ocr
from compare.ingest.layout import Glyph, Line
from compare.ingest.normalize import unified_ideographs, visible
from compare.records import DocStatus, Page
from compare.safe_text import REPLACEMENT

PDF_MAGIC = b"%PDF-"
#: How far into a file the %PDF- header may sit (some writers put junk before it).
HEADER_WINDOW = 1024
#: Share of a page's characters that may be junk before the page is re-read another way.
MAX_JUNK_SHARE = 0.02
#: A page with fewer printable characters than this has no usable text layer.
MIN_TEXT_CHARS = 20
#: A page mostly covered by one image (this share) with less text than ``SCAN_WITH_LAYER_CHARS``
#: is a scan with a stamp or a notice on it: OCR reads it, and wins if it reads more.
SCAN_IMAGE_SHARE = 0.5
SCAN_WITH_LAYER_CHARS = 200
#: Documents with more pages than this are refused as ``too_large``: a provincial plan has
#: tens of pages; hundreds mean a compendium or a gazette volume, which would need splitting.
MAX_PAGES = 300
#: A table must have at least this many rows and columns to be read as a table.
MIN_TABLE_ROWS = 2
MIN_TABLE_COLUMNS = 2
#: Separator between the cells of a table row in the page text.
CELL_SEPARATOR = " | "

METHOD_PDFPLUMBER = "pdfplumber"
METHOD_PDFIUM = "pdfium"
METHOD_OCR = "ocr"

_CID = re.compile(r"\(cid:\d+\)")
_JUNK_CHAR = re.compile("[\ufffd\ue000-\uf8ff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_TRAILER = b"%%EOF"
#: How much of a file's end is searched for the %%EOF marker.
TRAILER_WINDOW = 2048


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def junk_share(text: str) -> float:
    """Share of a text that is undecodable: (cid:n) escapes, U+FFFD, private-use and control characters."""
    printable = re.sub(r"\s", "", text)
    if not printable:
        return 0.0
    junk = sum(len(m) for m in _CID.findall(printable)) + len(_JUNK_CHAR.findall(_CID.sub("", printable)))
    return junk / len(printable)


@dataclass(frozen=True)
class _PageRead:
    """One page's lines before document-wide cleaning, and how they were read."""

    number: int
    lines: list[Line]
    method: str


def _check_header(path: Path) -> None:
    if not path.is_file():
        raise DocumentError(path, DocStatus.FAILED, "the file does not exist or is not a regular file")
    with path.open("rb") as handle:
        head = handle.read(HEADER_WINDOW)
    if not head:
        raise DocumentError(path, DocStatus.EMPTY, "the file is empty (0 bytes)")
    if PDF_MAGIC not in head:
        raise DocumentError(
            path, DocStatus.NOT_PDF, "not a PDF: the file does not start with %PDF- (wrong extension?)"
        )


def _truncated(path: Path) -> bool:
    """Whether a file starts like a PDF (objects) but stops before its %%EOF marker."""
    with path.open("rb") as handle:
        head = handle.read(TRAILER_WINDOW * 8)
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - TRAILER_WINDOW))
        return _TRAILER not in handle.read() and re.search(rb"\d+ \d+ obj", head) is not None


def _pdfminer_page_count(path: Path) -> int | None:
    """Pages pdfminer finds (None when it cannot parse the file either)."""
    try:
        with pdfplumber.open(path) as document:
            return len(document.pages)
    except Exception:
        return None


def _damaged(path: Path, detail: str) -> DocumentError:
    if _truncated(path):
        return DocumentError(path, DocStatus.CORRUPT, f"the PDF is truncated (no %%EOF at the end): {detail}")
    return DocumentError(path, DocStatus.CORRUPT, f"the PDF is damaged and cannot be parsed: {detail}")


@contextmanager
def _pdfium_document(path: Path) -> Iterator[pdfium.PdfDocument]:
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise DocumentError(
                path, DocStatus.ENCRYPTED, "the PDF is encrypted with a password; supply an unprotected copy"
            ) from exc
        if _pdfminer_page_count(path) == 0:
            raise DocumentError(
                path, DocStatus.EMPTY, "the PDF has no pages (its page tree is empty)"
            ) from exc
        raise _damaged(path, str(exc)) from exc
    try:
        yield document
    finally:
        document.close()


@contextmanager
def _plumber_document(path: Path) -> Iterator[pdfplumber.PDF]:
    try:
        document = pdfplumber.open(path)
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise DocumentError(path, DocStatus.ENCRYPTED, "the PDF is encrypted and cannot be read") from exc
    except (PdfminerException, PDFSyntaxError, PSException, ValueError, KeyError, TypeError) as exc:
        raise _damaged(path, f"{type(exc).__name__}: {exc}") from exc
    try:
        yield document
    finally:
        document.close()


def _plumber_glyphs(page: pdfplumber.page.Page) -> list[Glyph]:
    """pdfplumber's characters as glyphs, doubled ones dropped.

    ``layout.deduped`` and not pdfplumber's ``dedupe_chars``: the two copies of a bold
    character often differ in font size by a rounding error (16.000000000000057 against
    16.0), which ``dedupe_chars`` takes for two different characters.
    """
    return layout.deduped(
        Glyph(
            text=c["text"], x0=c["x0"], x1=c["x1"], top=c["top"], bottom=c["bottom"], size=round(c["size"], 2)
        )
        for c in page.chars
        if c.get("upright", True)
    )


def _tables(page: pdfplumber.page.Page, glyphs: list[Glyph]) -> tuple[list[Glyph], list[Line]]:
    """Glyphs outside ruled tables, and each table row as a standalone line."""
    rows: list[Line] = []
    inside: set[int] = set()
    for table in page.find_tables():
        if (
            len(table.rows) < MIN_TABLE_ROWS
            or max((len(r.cells) for r in table.rows), default=0) < MIN_TABLE_COLUMNS
        ):
            continue
        x0, top, x1, bottom = table.bbox
        members = [
            i for i, g in enumerate(glyphs) if x0 <= (g.x0 + g.x1) / 2 <= x1 and top <= g.middle <= bottom
        ]
        inside.update(members)
        for row in table.rows:
            cells = []
            for cell in row.cells:
                if cell is None:
                    continue
                c0, ctop, c1, cbottom = cell
                cell_glyphs = [
                    glyphs[i]
                    for i in members
                    if c0 <= (glyphs[i].x0 + glyphs[i].x1) / 2 <= c1 and ctop <= glyphs[i].middle <= cbottom
                ]
                cells.append("".join(line.text for line in layout.lines(cell_glyphs)))
            text = CELL_SEPARATOR.join(c for c in cells if c)
            if text:
                r0, rtop, r1, rbottom = row.bbox
                size = statistics.median(g.size for g in glyphs) if glyphs else 0.0
                rows.append(
                    Line(text=text, x0=r0, x1=r1, top=rtop, bottom=rbottom, size=size, standalone=True)
                )
    return [g for i, g in enumerate(glyphs) if i not in inside], rows


def _pdfium_glyphs(page: pdfium.PdfPage) -> list[Glyph]:
    height = page.get_height()
    textpage = page.get_textpage()
    glyphs = []
    try:
        for index in range(textpage.count_chars()):
            if pdfium_c.FPDFText_IsGenerated(textpage.raw, index) == 1:
                continue
            code = pdfium_c.FPDFText_GetUnicode(textpage.raw, index)
            if code in (0x0A, 0x0D):
                continue
            text = chr(code) if code else REPLACEMENT  # 0: pdfium has no Unicode for the glyph
            left, bottom, right, top = textpage.get_charbox(index, loose=True)
            size = pdfium_c.FPDFText_GetFontSize(textpage.raw, index) or (top - bottom)
            glyphs.append(
                Glyph(text=text, x0=left, x1=right, top=height - top, bottom=height - bottom, size=size)
            )
    finally:
        textpage.close()
    return layout.deduped(glyphs)


def _has_image(page: pdfium.PdfPage) -> bool:
    return any(obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE for obj in page.get_objects(max_depth=2))


def _image_share(page: pdfplumber.page.Page) -> float:
    """Share of the page covered by its largest image."""
    areas = [(i["x1"] - i["x0"]) * (i["bottom"] - i["top"]) for i in page.images]
    return max(areas, default=0.0) / (float(page.width) * float(page.height))


def _printable(glyphs: list[Glyph]) -> int:
    return sum(len(g.text.strip()) for g in glyphs)


def _ocr_glyphs(page: pdfium.PdfPage) -> list[Glyph]:
    bitmap = page.render(scale=ocr.OCR_SCALE, grayscale=True)
    try:
        return ocr.page_glyphs(bitmap.to_numpy(), ocr.OCR_SCALE)
    finally:
        bitmap.close()


def _read_page(
    number: int, plumber_page: pdfplumber.page.Page, pdfium_page: pdfium.PdfPage, use_ocr: bool
) -> _PageRead:
    glyphs = _plumber_glyphs(plumber_page)
    method = METHOD_PDFPLUMBER
    table_rows: list[Line] = []
    if junk_share("".join(g.text for g in glyphs)) > MAX_JUNK_SHARE:
        glyphs, method = _pdfium_glyphs(pdfium_page), METHOD_PDFIUM
        if junk_share("".join(g.text for g in glyphs)) > MAX_JUNK_SHARE:
            glyphs, method = [], METHOD_OCR
    else:
        glyphs, table_rows = _tables(plumber_page, glyphs)
    layer_chars = _printable(glyphs) + sum(len(r.text) for r in table_rows)
    if method == METHOD_OCR or (layer_chars < MIN_TEXT_CHARS and _has_image(pdfium_page)):
        glyphs, method, table_rows = (_ocr_glyphs(pdfium_page) if use_ocr else []), METHOD_OCR, []
    elif use_ocr and layer_chars < SCAN_WITH_LAYER_CHARS and _image_share(plumber_page) >= SCAN_IMAGE_SHARE:
        # a scan with a few words of text on it (a stamp, a download notice): OCR, if it reads more
        scanned = _ocr_glyphs(pdfium_page)
        if _printable(scanned) > layer_chars:
            glyphs, method, table_rows = scanned, METHOD_OCR, []
    size = statistics.median(g.size for g in glyphs) if glyphs else 0.0
    lines = layout.reading_order(glyphs, size) if glyphs else []
    if table_rows:
        lines = sorted([*lines, *table_rows], key=lambda line: line.top)
    return _PageRead(number=number, lines=lines, method=method)


def _pages_text(reads: list[_PageRead], page_width: float) -> tuple[Page, ...]:
    """Document-wide cleaning (page furniture, margins) and paragraphs, page by page."""
    cleaned = layout.without_furniture([read.lines for read in reads])
    size = layout.body_size(line for page_lines in cleaned for line in page_lines)
    own = [layout.margins(page_lines, size) for page_lines in cleaned]
    text_layer = [lines for lines, read in zip(cleaned, reads, strict=True) if read.method != METHOD_OCR]
    scans = [lines for lines, read in zip(cleaned, reads, strict=True) if read.method == METHOD_OCR]
    typical = layout.document_margins(text_layer, size, page_width) or layout.Margins(0.0, page_width, size)
    scanned = layout.document_margins(scans, size, page_width)
    result = []
    for read, page_lines, page_margins in zip(reads, cleaned, own, strict=True):
        edges = typical
        if read.method == METHOD_OCR and page_margins:  # a scan sits differently on each page
            edges = layout.page_margins(page_margins, scanned) if scanned else page_margins
        text = "\n".join(layout.paragraphs(page_lines, edges))
        result.append(Page(number=read.number, text=visible(unified_ideographs(text)), method=read.method))
    return tuple(result)


def page_count(path: Path) -> int:
    """Number of pages of a PDF (raises ``DocumentError`` for files that cannot be opened)."""
    _check_header(path)
    with _pdfium_document(path) as document:
        return len(document)


def pages(path: Path, *, max_pages: int = MAX_PAGES, use_ocr: bool = True) -> tuple[Page, ...]:
    """Text of every page, one paragraph per line (see the module docstring for how it is read)."""
    path = Path(path)
    _check_header(path)
    with _pdfium_document(path) as pdfium_doc:
        count = len(pdfium_doc)
        if count == 0:
            raise DocumentError(path, DocStatus.EMPTY, "the PDF has no pages")
        if count > max_pages:
            raise DocumentError(
                path,
                DocStatus.TOO_LARGE,
                f"the PDF has {count} pages, more than the limit of {max_pages}; "
                "a plan has tens of pages: split the file or raise the page limit",
            )
        with _plumber_document(path) as plumber_doc:
            if len(plumber_doc.pages) != count:
                raise _damaged(path, f"pdfium sees {count} pages, pdfminer {len(plumber_doc.pages)}")
            try:
                reads = [
                    _read_page(number, plumber_page, pdfium_doc[number - 1], use_ocr)
                    for number, plumber_page in enumerate(plumber_doc.pages, start=1)
                ]
            except (PdfminerException, PDFSyntaxError, PSException) as exc:
                raise _damaged(path, f"{type(exc).__name__}: {exc}") from exc
            page_width = float(plumber_doc.pages[0].width)
    result = _pages_text(reads, page_width)
    all_scanned = all(read.method == METHOD_OCR for read in reads)
    chinese = sum(1 for p in result for c in p.text if _CJK.match(c))
    if all_scanned and use_ocr and chinese < MIN_TEXT_CHARS:
        raise DocumentError(
            path,
            DocStatus.NO_TEXT,
            f"no text: all {count} page(s) are images and OCR found no Chinese text on them",
        )
    if sum(len(p.text.strip()) for p in result) < MIN_TEXT_CHARS:
        scanned = sum(1 for read in reads if read.method == METHOD_OCR)
        if scanned and not use_ocr:
            problem = f"{scanned} of {count} page(s) are images without a text layer and OCR is switched off"
        elif scanned:
            problem = f"no text: {scanned} of {count} page(s) are images and OCR found no text on them"
        else:
            problem = f"no text: none of the {count} page(s) has a text layer or an image to read"
        raise DocumentError(path, DocStatus.NO_TEXT, problem)
    return result
