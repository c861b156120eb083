#!/usr/bin/env python
"""Render the PDF test fixtures (tests/data/pdfs/*.pdf) from their sources.

Each fixture reproduces one quirk of real provincial plan PDFs, from a short source text
in tests/data/pdfs/sources/<fixture>.txt (one paragraph per line; directives as in
scripts/render_corpus.py: @red @docno @title @center @right @pagebreak @cc, plus):

    @table a | b | c     one row of a ruled table (consecutive rows form one table)
    @spaced MODE         body text from here on: "spaces" (a space between characters),
                         "tracking" (wide letter spacing) or "off"
    @columns 2           the rest of the page in two columns
    @header TEXT         a running header at the top of every page
    @footer TEXT         a running footer above the page number of every page
    @pagenumber FORMAT   page number format, {n} and {total} (default "— {n} —")
    @style NAME          "flush" (no first-line indent) or "letterspaced" (spaced titles)
    @notice TEXT         (scans only) a grey line of text stamped at the foot of every
                         scanned page, as download sites do: a text layer of a few words
                         over the image (pdfium renders it, so OCR reads it too)

The quirks that are not in the sources (bold drawn twice, the scan, the GBK font without a
ToUnicode map) and the bad inputs are set up in this script. Output is deterministic for
given versions of reportlab, pypdfium2, Pillow and qpdf (the encrypted fixture uses RC4
with qpdf's --static-id so that its bytes do not change).

Needs the Debian packages fonts-wqy-zenhei (the CJK font) and qpdf (the encrypted
fixture):  apt-get update && apt-get install -y fonts-wqy-zenhei qpdf

Golden clause lists (tests/data/golden/<fixture>.json: path, kind, page and text of every
clause) are written from the current extraction with --golden, for review: read the diff
before committing one, it is what the tests then hold the code to.

Usage:
    .venv/bin/python scripts/render_fixtures.py              # every fixture
    .venv/bin/python scripts/render_fixtures.py clean-text   # some, by name
    .venv/bin/python scripts/render_fixtures.py --list
    .venv/bin/python scripts/render_fixtures.py --golden     # rewrite the golden clause lists
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFilter
from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "pdfs"
SOURCES = OUT / "sources"
GOLDEN = ROOT / "tests" / "data" / "golden"

FONT_NAME = "WQYZenHei"
FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/local/share/fonts/wqy-zenhei.ttc",
)

# ---- page geometry (points), the 公文 page of GB/T 9704 -------------------------------
PAGE_W, PAGE_H = A4
BODY = 16.0
CHARS_PER_LINE = 28
TEXT_W = BODY * CHARS_PER_LINE
LEFT = (PAGE_W - TEXT_W) / 2
RIGHT = LEFT + TEXT_W
TOP = PAGE_H - 37 * 72 / 25.4
PITCH = 29.0
FIRST_BASELINE = TOP - BODY
LINES_PER_PAGE = 22
BOTTOM_BASELINE = FIRST_BASELINE - (LINES_PER_PAGE - 1) * PITCH
PAGE_NO_Y = BOTTOM_BASELINE - 40
TITLE, TITLE_PITCH = 22.0, 34.0
RED_SIZE = 30.0
SMALL, SMALL_PITCH = 14.0, 26.0
HEADER_SIZE = 10.5
HEADER_Y = PAGE_H - 20 * 72 / 25.4
GUTTER = 2 * BODY
TABLE_SIZE, TABLE_PITCH = 12.0, 18.0
RED = Color(0.84, 0.0, 0.0)
SHADOW = Color(0.55, 0.55, 0.55)

#: How far the second copy of a doubled (bold-simulated) character is drawn from the first.
BOLD_OFFSET = (0.4, 0.0)
SHADOW_OFFSET = (0.7, -0.7)
TRACKING = 0.35 * BODY
SCAN_DPI = 120
SCAN_ROTATION_DEGREES = 1.0
SCAN_NOISE_SIGMA = 14.0
SCAN_SPECK_SHARE = 0.0006
SCAN_JPEG_QUALITY = 55
NOTICE_SIZE, NOTICE_Y = 9.0, 24.0
SKEWED_SCAN_DEGREES = -1.5
SKEWED_SCAN_DPI = 100
SEED = 20150701

NO_LINE_START = set("，。、；：？！）》」』】〕〉”’…—·%％,.;:!?)]}")
NO_LINE_END = set("（《「『【〔〈“‘([{")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.%+\-_/]*|.", re.S)
_HEADING = re.compile(r"^([一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)])")
DIRECTIVE = re.compile(
    r"^@(red|docno|title|center|right|pagebreak|cc|table|spaced|columns|header|footer|pagenumber|style|notice)\b[ \t]*(.*)$"
)
#: Directives whose text is printed (the rest only set up the page).
PRINTED = ("red", "docno", "title", "center", "right", "cc", "table", "notice")


class FixtureError(RuntimeError):
    """A fixture cannot be made (missing font or tool, bad source)."""


def font_path() -> Path:
    for candidate in FONT_PATHS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise FixtureError(
        "no CJK font: install the Debian package fonts-wqy-zenhei "
        "(apt-get update && apt-get install -y fonts-wqy-zenhei)"
    )


def register_font() -> None:
    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT_NAME, str(font_path()), subfontIndex=0))


@dataclass(frozen=True)
class Block:
    kind: str
    text: str


def parse_source(text: str) -> list[Block]:
    blocks = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if match := DIRECTIVE.match(line):
            blocks.append(Block(match.group(1), match.group(2).strip()))
        elif line.startswith("@"):
            raise FixtureError(f"unknown directive: {line.split()[0]}")
        else:
            blocks.append(Block("body", line))
    return blocks


def reference_text(source: Path) -> str:
    """What a fixture prints, one paragraph per line (the reference for character error rates)."""
    lines = []
    for block in parse_source(source.read_text(encoding="utf-8")):
        if block.kind == "body" or block.kind in PRINTED:
            lines.append(re.sub(r"\s{2,}", "", block.text) if block.kind == "cc" else block.text)
    return "\n".join(lines)


# ---- line breaking -------------------------------------------------------------------------
def width(text: str, size: float, char_space: float = 0.0) -> float:
    return pdfmetrics.stringWidth(text, FONT_NAME, size) + char_space * len(text)


def wrap(
    text: str, size: float, first: float, rest: float, char_space: float = 0.0
) -> list[tuple[str, bool]]:
    """Lines of ``text`` (with kinsoku: no closing mark starts a line); (line, is_last) pairs."""
    tokens = _TOKEN.findall(text)
    widths = [width(t, size, char_space) for t in tokens]
    lines: list[tuple[str, bool]] = []
    i = 0
    while i < len(tokens):
        avail = first if not lines else rest
        j, used = i, 0.0
        while j < len(tokens) and used + widths[j] <= avail + 0.01:
            used += widths[j]
            j += 1
        if j == len(tokens):
            lines.append(("".join(tokens[i:]), True))
            break
        j = max(j, i + 1)
        k = j
        while k > i + 1 and (tokens[k] in NO_LINE_START or tokens[k - 1] in NO_LINE_END):
            k -= 1
        lines.append(("".join(tokens[i:k]), False))
        i = k
    return lines


# ---- rendering ----------------------------------------------------------------------------
@dataclass
class Quirks:
    """How a fixture departs from a clean page."""

    doubled: frozenset[str] = frozenset()  # block kinds drawn twice: title, heading, body, red
    double_offset: tuple[float, float] = BOLD_OFFSET
    shadow: bool = False  # the first copy grey, as a drop shadow


@dataclass
class Renderer:
    canvas: Canvas
    quirks: Quirks
    total_pages: int = 0
    page: int = 1
    y: float = FIRST_BASELINE
    empty: bool = True
    header: str = ""
    footer: str = ""
    page_format: str = "— {n} —"
    indent: bool = True
    letterspaced: bool = False
    spaced: str = "off"
    columns: int = 1
    column: int = 0
    column_top: float = FIRST_BASELINE
    extras: list[str] = field(default_factory=list)

    # -- page handling
    def finish_page(self) -> None:
        c = self.canvas
        c.setFillColor(black)
        if self.header:
            c.setFont(FONT_NAME, HEADER_SIZE)
            c.drawCentredString(PAGE_W / 2, HEADER_Y, self.header)
            c.setLineWidth(0.5)
            c.line(LEFT, HEADER_Y - 5, RIGHT, HEADER_Y - 5)
        c.setFont(FONT_NAME, SMALL)
        c.drawCentredString(
            PAGE_W / 2, PAGE_NO_Y, self.page_format.format(n=self.page, total=self.total_pages)
        )
        c.showPage()
        self.page += 1
        self.y = FIRST_BASELINE
        self.empty = True
        self.column = 0
        self.column_top = FIRST_BASELINE

    def room(self) -> None:
        if self.y >= BOTTOM_BASELINE - 0.5:
            return
        if self.columns == 2 and self.column == 0:
            self.column = 1
            self.y = self.column_top
            return
        self.finish_page()

    @property
    def frame(self) -> tuple[float, float]:
        if self.columns == 1:
            return LEFT, TEXT_W
        column_width = (TEXT_W - GUTTER) / 2
        return LEFT + self.column * (column_width + GUTTER), column_width

    # -- drawing
    def draw(
        self,
        x: float,
        y: float,
        text: str,
        size: float,
        kind: str,
        *,
        color: Color = black,
        char_space: float = 0.0,
    ) -> None:
        copies = [(0.0, 0.0, color)]
        if kind in self.quirks.doubled:
            dx, dy = self.quirks.double_offset
            copies = [(0.0, 0.0, SHADOW if self.quirks.shadow else color), (dx, dy, color)]
        for dx, dy, fill in copies:
            t = self.canvas.beginText(x + dx, y + dy)
            t.setFont(FONT_NAME, size)
            t.setFillColor(fill)
            if char_space:
                t.setCharSpace(char_space)
            t.textOut(text)
            self.canvas.drawText(t)
        self.empty = False

    def body(self, text: str, kind: str) -> None:
        x0, frame_width = self.frame
        indent = 2 * BODY if self.indent else 0.0
        shown = " ".join(text) if self.spaced == "spaces" else text
        tracking = TRACKING if self.spaced == "tracking" else 0.0
        lines = wrap(shown, BODY, frame_width - indent, frame_width, tracking)
        for index, (line, last) in enumerate(lines):
            self.room()
            x0, frame_width = self.frame
            x = x0 + (indent if index == 0 else 0.0)
            avail = frame_width - (indent if index == 0 else 0.0)
            line = line.strip()
            space = tracking
            if not last and len(line) > 1:
                extra = avail - width(line, BODY, tracking)
                if 0 < extra <= 3 * BODY:
                    space += extra / (len(line) - 1)
            self.draw(x, self.y, line, BODY, kind, char_space=space)
            self.y -= PITCH

    def centered(self, text: str, size: float, pitch: float, kind: str, color: Color = black) -> None:
        char_space = size * 0.5 if self.letterspaced and kind in ("title", "red") else 0.0
        for line, _ in wrap(text, size, TEXT_W, TEXT_W, char_space):
            self.room()
            line_width = width(line, size, char_space) - char_space
            self.draw(
                PAGE_W / 2 - line_width / 2, self.y, line, size, kind, color=color, char_space=char_space
            )
            self.y -= pitch

    def right(self, text: str) -> None:
        self.room()
        self.draw(RIGHT - 2 * BODY - width(text, BODY), self.y, text, BODY, "body")
        self.y -= PITCH

    def red(self, text: str) -> None:
        self.y -= RED_SIZE - BODY
        self.centered(text, RED_SIZE, PITCH * 1.4, "red", RED)
        self.canvas.setStrokeColor(RED)
        self.canvas.setLineWidth(1.6)
        self.canvas.line(LEFT, self.y + PITCH * 0.2, RIGHT, self.y + PITCH * 0.2)
        self.canvas.setStrokeColor(black)
        self.y -= PITCH * 0.5

    def cc(self, lines: list[str]) -> None:
        rows = []
        for raw in lines:
            parts = re.split(r"\s{2,}", raw, maxsplit=1)
            rows.append((parts[0].strip(), parts[1].strip() if len(parts) > 1 else ""))
        height = len(rows) * SMALL_PITCH + 8
        if self.y - height < BOTTOM_BASELINE - PITCH and not self.empty:
            self.finish_page()
        top = BOTTOM_BASELINE - BODY * 0.3 + height
        c = self.canvas
        c.setLineWidth(1.0)
        c.line(LEFT, top, RIGHT, top)
        y = top - SMALL_PITCH + 8
        for left, right_text in rows:
            self.draw(LEFT + SMALL, y, left, SMALL, "cc")
            if right_text:
                self.draw(RIGHT - SMALL - width(right_text, SMALL), y, right_text, SMALL, "cc")
            y -= SMALL_PITCH
        c.line(LEFT, BOTTOM_BASELINE - BODY * 0.3, RIGHT, BOTTOM_BASELINE - BODY * 0.3)
        self.y = BOTTOM_BASELINE - 1

    def table(self, rows: list[list[str]]) -> None:
        columns = len(rows[0])
        weights = [max(len(r[i]) for r in rows) + 2 for i in range(columns)]
        widths = [TEXT_W * w / sum(weights) for w in weights]
        wrapped = [
            [wrap(cell, TABLE_SIZE, w - 6, w - 6) for cell, w in zip(row, widths, strict=True)]
            for row in rows
        ]
        heights = [max(len(cell) for cell in row) * TABLE_PITCH + 6 for row in wrapped]
        if self.y - sum(heights) < BOTTOM_BASELINE - PITCH and not self.empty:
            self.finish_page()
        c = self.canvas
        c.setLineWidth(0.8)
        top = self.y + BODY
        y = top
        for row, height in zip(wrapped, heights, strict=True):
            x = LEFT
            for cell, cell_width in zip(row, widths, strict=True):
                for n, (line, _) in enumerate(cell):
                    self.draw(x + 3, y - TABLE_SIZE - 2 - n * TABLE_PITCH, line, TABLE_SIZE, "table")
                x += cell_width
            y -= height
        for edge in [top] + [top - sum(heights[: i + 1]) for i in range(len(heights))]:
            c.line(LEFT, edge, RIGHT, edge)
        x = LEFT
        for cell_width in [0.0, *widths]:
            x += cell_width
            c.line(x, top, x, y)
        self.y = y - PITCH + BODY * 0.2

    def render(self, blocks: list[Block]) -> int:
        i = 0
        previous = ""
        while i < len(blocks):
            block = blocks[i]
            kind, text = block.kind, block.text
            if kind == "header":
                self.header = text
            elif kind == "footer":
                self.footer = text
            elif kind == "pagenumber":
                self.page_format = text
            elif kind == "notice":
                pass  # stamped on the scan, see scan_of
            elif kind == "style":
                self.indent = text != "flush"
                self.letterspaced = text == "letterspaced"
            elif kind == "spaced":
                self.spaced = text
            elif kind == "columns":
                self.columns = int(text)
                self.column_top = self.y
            elif kind == "pagebreak":
                if not self.empty:
                    self.finish_page()
            elif kind == "red":
                self.red(text)
            elif kind == "docno":
                self.y += PITCH * 0.4
                self.centered(text, BODY, PITCH, "docno")
                self.y -= PITCH * 0.3
            elif kind == "title":
                if not self.empty and previous not in ("red", "docno"):
                    self.y -= PITCH * 0.5
                self.y -= TITLE_PITCH - PITCH
                self.centered(text, TITLE, TITLE_PITCH, "title")
                self.y -= PITCH * 0.3
            elif kind == "center":
                self.centered(text, BODY, PITCH, "body")
            elif kind == "right":
                if previous == "body":
                    self.y -= PITCH * 0.5
                self.right(text)
            elif kind in ("cc", "table"):
                group = []
                while i < len(blocks) and blocks[i].kind == kind:
                    group.append(blocks[i].text)
                    i += 1
                if kind == "cc":
                    self.cc(group)
                else:
                    self.table([[cell.strip() for cell in row.split("|")] for row in group])
                previous = kind
                continue
            else:
                heading = bool(_HEADING.match(text)) and len(text) <= 20
                self.body(text, "heading" if heading else "body")
            previous = kind
            i += 1
        if not self.empty:
            self.finish_page()
        return self.page - 1


def _rendered(blocks: list[Block], quirks: Quirks, title: str) -> bytes:
    """PDF bytes of the blocks; rendered twice so that "{total}" page numbers are right."""
    total = 0
    for _ in range(2):
        buffer = io.BytesIO()
        canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
        canvas.setTitle(title)
        canvas.setCreator("compare scripts/render_fixtures.py")
        total = Renderer(canvas=canvas, quirks=quirks, total_pages=total).render(blocks)
        canvas.save()
    return buffer.getvalue()


def text_fixture(name: str, quirks: Quirks | None = None) -> bytes:
    blocks = parse_source((SOURCES / f"{name}.txt").read_text(encoding="utf-8"))
    return _rendered(blocks, quirks or Quirks(), name)


# ---- the scan ------------------------------------------------------------------------------
def scan_of(
    pdf: bytes,
    max_pages: int | None = None,
    rotation: float = SCAN_ROTATION_DEGREES,
    dpi: int = SCAN_DPI,
    notice: str = "",
) -> bytes:
    """A PDF printed and scanned at SCAN_DPI: each page an image, rotated a degree, noisy.

    No text layer, unless ``notice`` is given: then that line is stamped at the foot of
    every page as text.
    """
    document = pdfium.PdfDocument(pdf)
    rng = np.random.default_rng(SEED)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setCreator("compare scripts/render_fixtures.py (scan)")
    for index, page in enumerate(document):
        if max_pages is not None and index >= max_pages:
            break
        image = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
        image = image.rotate(rotation, resample=Image.Resampling.BICUBIC, fillcolor=255)
        image = image.filter(ImageFilter.GaussianBlur(0.6))
        pixels = np.asarray(image, dtype=np.float32)
        pixels += rng.normal(0.0, SCAN_NOISE_SIGMA, pixels.shape)
        specks = rng.random(pixels.shape) < SCAN_SPECK_SHARE
        pixels[specks] = 0.0
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        jpeg = io.BytesIO()
        image.save(jpeg, format="JPEG", quality=SCAN_JPEG_QUALITY)
        jpeg.seek(0)
        canvas.drawImage(ImageReader(jpeg), 0, 0, width=PAGE_W, height=PAGE_H)
        if notice:
            canvas.setFont(FONT_NAME, NOTICE_SIZE)
            canvas.setFillColor(SHADOW)
            canvas.drawCentredString(PAGE_W / 2, NOTICE_Y, notice)
        canvas.showPage()
    canvas.save()
    document.close()
    return buffer.getvalue()


def notice_of(name: str) -> str:
    """The @notice line of a fixture's source."""
    blocks = parse_source((SOURCES / f"{name}.txt").read_text(encoding="utf-8"))
    return next((b.text for b in blocks if b.kind == "notice"), "")


def scanned(name: str) -> bytes:
    """The fixture printed and scanned (see ``scan_of``)."""
    return scan_of(text_fixture(name))


# ---- hand-built PDFs -----------------------------------------------------------------------
def _pdf(objects: list[bytes], root: int = 1) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root {root} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def gbk_without_tounicode(name: str) -> bytes:
    """A page set in a Type0 font with the GBK-EUC-H CMap, an Identity ordering and no ToUnicode map.

    pdfminer cannot map its codes to Unicode and gives (cid:n); pdfium decodes them through
    the GBK-EUC-H CMap. The font (仿宋_GB2312) is not embedded, as in many 公文 PDFs.
    """
    paragraphs = [b.text for b in parse_source((SOURCES / f"{name}.txt").read_text(encoding="utf-8"))]
    ops = []
    y = FIRST_BASELINE
    for index, text in enumerate(paragraphs):
        size = TITLE if index == 0 else BODY
        per_line = int(TEXT_W // size)
        if index == 0:
            lines, x_first = [text], PAGE_W / 2 - len(text) * size / 2
        else:
            lines, rest = [], text
            first = per_line - 2
            while rest:
                take = first if not lines else per_line
                if len(rest) > take and rest[take] in NO_LINE_START:
                    take -= 1
                lines.append(rest[:take])
                rest = rest[take:]
            x_first = LEFT + 2 * size
        for n, line in enumerate(lines):
            x = x_first if n == 0 else LEFT
            ops.append(f"BT /F1 {size:g} Tf {x:.2f} {y:.2f} Td <{line.encode('gbk').hex()}> Tj ET")
            y -= TITLE_PITCH if index == 0 else PITCH
    label = "— 1 —"
    ops.append(
        f"BT /F1 {SMALL:g} Tf {PAGE_W / 2 - len(label) * SMALL / 2:.2f} {PAGE_NO_Y:.2f} Td "
        f"<{label.encode('gbk').hex()}> Tj ET"
    )
    content = "\n".join(ops).encode()
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W:.2f} {PAGE_H:.2f}] "
            "/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>".encode(),
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type0 /BaseFont /FangSong_GB2312 /Encoding /GBK-EUC-H /DescendantFonts [6 0 R] >>",
            b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /FangSong_GB2312 "
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor 7 0 R /DW 1000 >>",
            b"<< /Type /FontDescriptor /FontName /FangSong_GB2312 /Flags 6 /FontBBox [0 -141 1000 859] "
            b"/ItalicAngle 0 /Ascent 859 /Descent -141 /CapHeight 700 /StemV 80 >>",
        ]
    )


def zero_pages() -> bytes:
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])


# ---- bad inputs ----------------------------------------------------------------------------
def _plain(lines: list[str], font: str = FONT_NAME, size: float = BODY, pages: int = 1) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    for page in range(pages):
        y = FIRST_BASELINE
        canvas.setFont(font, size)
        for line in lines:
            canvas.drawString(LEFT, y, line.format(n=page + 1))
            y -= PITCH
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def encrypted() -> bytes:
    qpdf = shutil.which("qpdf")
    if qpdf is None:
        raise FixtureError("qpdf not found: apt-get update && apt-get install -y qpdf")
    source = OUT / "clean-text.pdf"
    target = OUT / "bad-encrypted.pdf"
    subprocess.run(
        [
            qpdf,
            "--static-id",
            "--allow-weak-crypto",
            "--encrypt",
            "user-secret",
            "owner-secret",
            "128",
            "--use-aes=n",
            "--",
            str(source),
            str(target),
        ],
        check=True,
    )
    return target.read_bytes()


def corrupt() -> bytes:
    rng = np.random.default_rng(SEED)
    return b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n" + rng.integers(0, 256, 6000, dtype=np.uint8).tobytes()


def truncated() -> bytes:
    data = (OUT / "clean-text.pdf").read_bytes()
    return data[: len(data) * 2 // 5]


def image_only() -> bytes:
    """A page with a picture (shapes and a gradient) and no text at all."""
    image = Image.new("L", (600, 800), 235)
    draw = ImageDraw.Draw(image)
    for k in range(12):
        draw.ellipse((40 + 35 * k, 60 + 40 * k, 200 + 30 * k, 220 + 35 * k), outline=60 + 12 * k, width=6)
    draw.rectangle((80, 560, 520, 740), fill=150)
    buffer = io.BytesIO()
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG", quality=SCAN_JPEG_QUALITY)
    jpeg.seek(0)
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    canvas.drawImage(ImageReader(jpeg), LEFT, 200, width=TEXT_W, height=TEXT_W * 4 / 3)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


HUGE_PAGES = 301
ENGLISH = [
    "Guidance on Actively Promoting the Internet Plus Action",
    "The State Council encourages the deep integration of the Internet",
    "with the economy and society, to foster new growth drivers.",
    "1. Internet Plus entrepreneurship and innovation.",
    "2. Internet Plus collaborative manufacturing.",
    "3. Internet Plus modern agriculture.",
]
MENU = [
    "川味小馆  菜单",
    "1.宫保鸡丁  38元",
    "2.鱼香肉丝  32元",
    "3.麻婆豆腐  22元",
    "4.水煮牛肉  58元",
    "5.酸辣土豆丝  18元",
    "6.蛋炒饭  15元",
    "营业时间：每天10:00至22:00，欢迎扫码点餐。",
]
NEWS = [
    "我省“互联网+”产业发展势头良好",
    "本报讯（记者 王明）记者从省经济和信息化委获悉，今年以来，",
    "我省互联网企业数量持续增长，电子商务交易额同比增长三成。",
    "业内人士表示，随着“互联网+”行动计划深入推进，",
    "传统产业与互联网融合步伐加快，一批新业态新模式不断涌现。",
    "据介绍，下一步将继续优化营商环境，支持企业创新发展。",
]
NOT_A_PDF = (
    '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>页面未找到</title></head>\n'
    "<body><h1>404 页面未找到</h1><p>您访问的文件已删除或移动。</p></body></html>\n"
).encode()


@dataclass(frozen=True)
class Fixture:
    name: str
    make: Callable[[], bytes]
    what: str


def _fixtures() -> list[Fixture]:
    bold = Quirks(doubled=frozenset({"title", "heading"}))
    shadow = Quirks(doubled=frozenset({"title", "heading", "body"}), double_offset=SHADOW_OFFSET, shadow=True)
    return [
        Fixture(
            "clean-text", lambda: text_fixture("clean-text"), "a notice-wrapped plan, all levels of numbering"
        ),
        Fixture(
            "doubled-bold",
            lambda: text_fixture("doubled-bold", bold),
            "title and headings drawn twice (bold)",
        ),
        Fixture(
            "cjk-spacing", lambda: text_fixture("cjk-spacing"), "spaces and wide tracking between characters"
        ),
        Fixture(
            "running-headers", lambda: text_fixture("running-headers"), "running header, -N- page numbers"
        ),
        Fixture(
            "two-column", lambda: text_fixture("two-column"), "a page in two columns under a full-width title"
        ),
        Fixture("table", lambda: text_fixture("table"), "a ruled table between body paragraphs"),
        Fixture(
            "gbk-no-tounicode",
            lambda: gbk_without_tounicode("gbk-no-tounicode"),
            "GBK-EUC-H font without ToUnicode: pdfminer gives (cid:n)",
        ),
        Fixture(
            "traditional-chars",
            lambda: text_fixture("traditional-chars"),
            "traditional characters with Taiwan vocabulary (s2twp)",
        ),
        Fixture("scanned", lambda: scanned("scanned"), "a scan: image only, rotated 1°, noisy"),
        Fixture(
            "variant-city-flush-left",
            lambda: text_fixture("variant-city-flush-left"),
            "a city plan set flush left, -N- page numbers",
        ),
        Fixture(
            "variant-shadow-bold",
            lambda: text_fixture("variant-shadow-bold", shadow),
            "every line drawn twice, a grey shadow under black",
        ),
        Fixture(
            "variant-letterspaced-notice",
            lambda: text_fixture("variant-letterspaced-notice"),
            "a notice page with letter-spaced red header and title",
        ),
        Fixture(
            "variant-scan-skewed",
            lambda: scan_of(
                text_fixture("variant-scan-skewed"), rotation=SKEWED_SCAN_DEGREES, dpi=SKEWED_SCAN_DPI
            ),
            f"a scan at {SKEWED_SCAN_DPI} dpi, rotated {SKEWED_SCAN_DEGREES}°",
        ),
        Fixture(
            "variant-scan-with-notice",
            lambda: scan_of(
                text_fixture("variant-scan-with-notice"), notice=notice_of("variant-scan-with-notice")
            ),
            "a scan with a download notice stamped on it as text",
        ),
        Fixture(
            "variant-footer-pagecount",
            lambda: text_fixture("variant-footer-pagecount"),
            "a running footer and 第N页 共M页 page numbers",
        ),
        Fixture(
            "variant-traditional-s2t",
            lambda: text_fixture("variant-traditional-s2t"),
            "traditional characters, mainland vocabulary (s2t)",
        ),
        Fixture(
            "short-lines-flush",
            lambda: text_fixture("short-lines-flush"),
            "mostly short lines (lists, headings without punctuation), flush left, a few wrapped paragraphs",
        ),
        Fixture(
            "short-lines-indented",
            lambda: text_fixture("short-lines-indented"),
            "mostly short indented lines: most pages have no line at either margin",
        ),
        Fixture("bad-encrypted", encrypted, "password-protected (RC4, user password)"),
        Fixture("bad-corrupt", corrupt, "a PDF header followed by garbage"),
        Fixture("bad-truncated", truncated, "the first 40% of clean-text.pdf"),
        Fixture("bad-zero-pages", zero_pages, "a valid PDF with an empty page tree"),
        Fixture("bad-not-a-pdf", lambda: NOT_A_PDF, "an HTML error page saved with a .pdf name"),
        Fixture("bad-empty-file", lambda: b"", "zero bytes"),
        Fixture("bad-image-only", image_only, "a picture with no text: OCR finds nothing"),
        Fixture("bad-huge", lambda: _plain(["第{n}页"], pages=HUGE_PAGES), f"{HUGE_PAGES} pages"),
        Fixture("bad-english", lambda: _plain(ENGLISH, font="Helvetica", size=12), "an English text"),
        Fixture("bad-menu", lambda: _plain(MENU), "a Chinese restaurant menu"),
        Fixture("bad-news", lambda: _plain(NEWS), "a Chinese news item about Internet Plus"),
    ]


def write_golden(names: set[str]) -> None:
    """Write the clause list of every text fixture (those with a source) as its golden file."""
    import json

    sys.path.insert(0, str(ROOT / "src"))
    from compare.ingest.extract import pages
    from compare.ingest.segment import clauses

    GOLDEN.mkdir(parents=True, exist_ok=True)
    for source in sorted(SOURCES.glob("*.txt")):
        if source.stem not in names:
            continue
        found = pages(OUT / f"{source.stem}.pdf")
        rows = [
            json.dumps(
                {"path": c.path, "kind": str(c.kind), "page": c.page, "text": c.text}, ensure_ascii=False
            )
            for c in clauses(source.stem, found)
        ]
        methods = json.dumps([page.method for page in found])
        text = (
            f'{{\n "fixture": "{source.stem}.pdf",\n "methods": {methods},\n "clauses": [\n  '
            + ",\n  ".join(rows)
            + "\n ]\n}\n"
        )
        json.loads(text)  # one clause per line, and still JSON
        target = GOLDEN / f"{source.stem}.json"
        target.write_text(text, encoding="utf-8")
        print(f"{target.relative_to(ROOT)}  {len(rows)} clauses")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Needs fonts-wqy-zenhei and qpdf (apt-get install -y fonts-wqy-zenhei qpdf). "
        "Example: .venv/bin/python scripts/render_fixtures.py scanned table",
    )
    parser.add_argument("names", nargs="*", help="fixtures to render (default: all)")
    parser.add_argument("--list", action="store_true", help="list the fixtures and what each reproduces")
    parser.add_argument("--golden", action="store_true", help="write golden clause lists instead of PDFs")
    args = parser.parse_args(argv)
    fixtures = _fixtures()
    if args.list:
        for fixture in fixtures:
            print(f"{fixture.name:30s} {fixture.what}")
        return 0
    wanted = set(args.names) or {f.name for f in fixtures}
    unknown = wanted - {f.name for f in fixtures}
    if unknown:
        print(f"error: unknown fixture(s): {', '.join(sorted(unknown))} (see --list)", file=sys.stderr)
        return 2
    if args.golden:
        write_golden(wanted)
        return 0
    try:
        register_font()
        OUT.mkdir(parents=True, exist_ok=True)
        for fixture in fixtures:
            if fixture.name in wanted:
                data = fixture.make()
                target = OUT / f"{fixture.name}.pdf"
                target.write_bytes(data)
                print(f"{target.relative_to(ROOT)}  {len(data) // 1024} KiB  {fixture.what}")
    except FixtureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
