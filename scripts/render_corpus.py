#!/usr/bin/env python
"""Render the provincial plan sources (corpora/provincial/sources/*.txt) to PDF.

Each source is one UTF-8 file, one paragraph per line.  Lines that start with a
directive are styled; any other non-blank line is a body paragraph:

    @red <text>      red header (发文机关标志), large, centered, red rule under it
                     (under the document number when @docno follows directly)
    @docno <text>    document number, centered
    @title <text>    title, large, centered, wrapped
    @center <text>   centered line
    @right <text>    right-aligned line (issuing body, date)
    @pagebreak       start a new page
    @cc <text>       抄送/印发 block line: consecutive @cc lines form one block,
                     rendered small between rules at the foot of the page.  Two or
                     more spaces (or a tab) split a line into a left and a
                     right-aligned part ("省人民政府办公厅  2015年10月12日印发").
    @row <cells>     table row, cells separated by "|": consecutive @row lines form
                     one ruled table (the first row is the header, repeated at the
                     top of each page the table runs onto), drawn small with column
                     widths fitted to the cells; a cell wraps within its column.

Layout follows the 公文 page (GB/T 9704): A4, 16pt body, 28 characters per line,
22 lines per page, page numbers "— N —" at the bottom centre.  Body paragraphs get
a two-character first-line indent, except the addressee line (the first paragraph
after a title when it ends in "："), which is flush left.  Chinese wraps between
any two characters; closing punctuation never starts a line and opening
punctuation never ends one; runs of Latin letters and digits are not split.
Short headings numbered "一、" are drawn heavier.

Output is deterministic (reportlab ``invariant=1``): re-rendering a source yields
identical bytes.  The font is WenQuanYi Zen Hei (Debian package fonts-wqy-zenhei),
found at a known path or given with --font.

Usage:
    .venv/bin/python scripts/render_corpus.py                 # all sources -> corpora/provincial/
    .venv/bin/python scripts/render_corpus.py FILE_OR_DIR ... [--out DIR] [--font PATH]
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCES = ROOT / "corpora" / "provincial" / "sources"
DEFAULT_OUT = ROOT / "corpora" / "provincial"

FONT_NAME = "WQYZenHei"
FONT_PACKAGE = "fonts-wqy-zenhei"
KNOWN_FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/local/share/fonts/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)

# ---- page geometry (points) -------------------------------------------------
PAGE_W, PAGE_H = A4
BODY_SIZE = 16.0  # 三号
CHARS_PER_LINE = 28
LINES_PER_PAGE = 22
TEXT_W = BODY_SIZE * CHARS_PER_LINE  # 448pt, about 158mm
LEFT = (PAGE_W - TEXT_W) / 2
RIGHT = LEFT + TEXT_W
TOP = PAGE_H - 37 * 72 / 25.4  # 37mm top margin
PITCH = 29.0  # 22 lines in about 225mm
FIRST_BASELINE = TOP - BODY_SIZE
BOTTOM_BASELINE = FIRST_BASELINE - (LINES_PER_PAGE - 1) * PITCH
PAGE_NO_SIZE = 14.0  # 四号
PAGE_NO_Y = BOTTOM_BASELINE - BODY_SIZE * 0.3 - 36

RED_SIZE = 34.0
TITLE_SIZE = 22.0  # 二号
TITLE_PITCH = 34.0
CC_SIZE = 14.0
CC_PITCH = 26.0
TABLE_SIZE = 10.5  # 五号
TABLE_PITCH = 16.0
TABLE_CELL_PAD = 4.0  # left/right padding inside a cell
TABLE_ROW_PAD = 4.0  # top/bottom padding inside a row
TABLE_RULE = 0.6
RED = Color(0.84, 0.0, 0.0)

NO_LINE_START = set("，。、；：？！）》」』】〕〉”’…—·%％,.;:!?)]}")
NO_LINE_END = set("（《「『【〔〈“‘([{")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.%+\-_/]*|.", re.S)
_HEADING = re.compile(r"^[一二三四五六七八九十]+、")
DIRECTIVE = re.compile(r"^@(red|docno|title|center|right|pagebreak|cc|row)\b[ \t]*(.*)$")


class FontNotFound(RuntimeError):
    pass


def find_font(explicit: str | None) -> Path:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FontNotFound(f"font file not found: {path}")
        return path
    for candidate in KNOWN_FONT_PATHS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise FontNotFound(
        "no CJK font found (looked in: " + ", ".join(KNOWN_FONT_PATHS) + "). "
        f"Install the Debian package {FONT_PACKAGE}: "
        f"apt-get update && apt-get install -y {FONT_PACKAGE}  (or pass --font PATH)"
    )


def register_font(path: Path) -> None:
    if FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return
    kwargs = {"subfontIndex": 0} if path.suffix.lower() in (".ttc", ".otc") else {}
    pdfmetrics.registerFont(TTFont(FONT_NAME, str(path), **kwargs))


# ---- source parsing ---------------------------------------------------------
@dataclass
class Block:
    kind: str  # red docno title center right pagebreak cc row body
    text: str


def parse_source(text: str) -> list[Block]:
    blocks: list[Block] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = DIRECTIVE.match(line)
        if match:
            blocks.append(Block(match.group(1), match.group(2).strip()))
        elif line.startswith("@"):
            raise ValueError(f"unknown directive: {line.split()[0]}")
        else:
            blocks.append(Block("body", line))
    return blocks


# ---- line breaking ----------------------------------------------------------
def width(text: str, size: float) -> float:
    return pdfmetrics.stringWidth(text, FONT_NAME, size)


def wrap(text: str, size: float, first_width: float, rest_width: float) -> list[tuple[str, bool]]:
    """Break ``text`` into lines; returns (line, is_last) pairs."""
    tokens = _TOKEN.findall(text)
    widths = [width(t, size) for t in tokens]
    lines: list[tuple[str, bool]] = []
    i, n = 0, len(tokens)
    while i < n:
        avail = first_width if not lines else rest_width
        j, used = i, 0.0
        while j < n and used + widths[j] <= avail + 0.01:
            used += widths[j]
            j += 1
        if j == n:
            lines.append(("".join(tokens[i:]), True))
            break
        if j == i:  # a single token wider than the line
            j = i + 1
        k = j
        while k > i + 1 and (tokens[k] in NO_LINE_START or tokens[k - 1] in NO_LINE_END):
            k -= 1
        if k == i + 1 and j > i + 1:
            k = j
        lines.append(("".join(tokens[i:k]).rstrip(), False))
        i = k
        while i < n and tokens[i].isspace():
            i += 1
    return lines


# ---- rendering --------------------------------------------------------------
class Renderer:
    def __init__(self, out: Path, title: str):
        self.c = Canvas(str(out), pagesize=A4, invariant=1, pageCompression=1)
        self.c.setTitle(title)
        self.c.setCreator("compare scripts/render_corpus.py")
        self.page = 1
        self.y = FIRST_BASELINE  # baseline of the next body line
        self.empty = True

    # page handling
    def finish_page(self) -> None:
        label = f"— {self.page} —"
        self.c.setFillColor(black)
        self.c.setFont(FONT_NAME, PAGE_NO_SIZE)
        self.c.drawCentredString(PAGE_W / 2, PAGE_NO_Y, label)
        self.c.showPage()
        self.page += 1
        self.y = FIRST_BASELINE
        self.empty = True

    def new_page(self) -> None:
        if not self.empty:
            self.finish_page()

    def ensure(self, drop: float) -> None:
        """Make room for a line whose baseline is ``drop`` below the cursor top."""
        if self.y - (drop - PITCH) < BOTTOM_BASELINE - 0.5 and not self.empty:
            self.finish_page()

    def skip(self, amount: float) -> None:
        if not self.empty:
            self.y -= amount
            if self.y < BOTTOM_BASELINE - 0.5:
                self.finish_page()

    # drawing primitives
    def text_line(
        self,
        x: float,
        y: float,
        text: str,
        size: float,
        *,
        color=black,
        char_space: float = 0.0,
        heavy: bool = False,
    ) -> None:
        self.c.saveState()
        t = self.c.beginText(x, y)
        t.setFont(FONT_NAME, size)
        t.setFillColor(color)
        if char_space:
            t.setCharSpace(char_space)
        if heavy:  # fill and stroke once: heavier glyphs, each character drawn once
            t.setTextRenderMode(2)
            self.c.setStrokeColor(color)
            self.c.setLineWidth(size * 0.03)
        t.textOut(text)
        self.c.drawText(t)
        self.c.restoreState()
        self.empty = False

    def rule(
        self, y: float, color=black, thickness: float = 0.8, x0: float = LEFT, x1: float = RIGHT
    ) -> None:
        self.c.setStrokeColor(color)
        self.c.setLineWidth(thickness)
        self.c.line(x0, y, x1, y)
        self.c.setLineWidth(1)
        self.empty = False

    # blocks
    def body(self, text: str, indent_chars: int = 2, heavy: bool = False) -> None:
        indent = indent_chars * BODY_SIZE
        lines = wrap(text, BODY_SIZE, TEXT_W - indent, TEXT_W)
        if heavy and self.y - PITCH < BOTTOM_BASELINE - 0.5:
            self.new_page()  # keep a heading with the line after it
        for idx, (line, last) in enumerate(lines):
            if self.y < BOTTOM_BASELINE - 0.5:
                self.finish_page()
            x = LEFT + (indent if idx == 0 else 0)
            avail = TEXT_W - (indent if idx == 0 else 0)
            space = 0.0
            if not last and len(line) > 1:
                extra = avail - width(line, BODY_SIZE)
                if 0 < extra <= 3 * BODY_SIZE:
                    space = extra / (len(line) - 1)
            self.text_line(x, self.y, line, BODY_SIZE, char_space=space, heavy=heavy)
            self.y -= PITCH

    def centered(self, text: str, size: float, pitch: float, color=black) -> None:
        for line, _ in wrap(text, size, TEXT_W, TEXT_W):
            if self.y < BOTTOM_BASELINE - 0.5:
                self.finish_page()
            self.text_line(PAGE_W / 2 - width(line, size) / 2, self.y, line, size, color=color)
            self.y -= pitch

    def right(self, text: str) -> None:
        if self.y < BOTTOM_BASELINE - 0.5:
            self.finish_page()
        x = RIGHT - 2 * BODY_SIZE - width(text, BODY_SIZE)
        self.text_line(max(LEFT, x), self.y, text, BODY_SIZE)
        self.y -= PITCH

    def red_header(self, text: str) -> None:
        size = RED_SIZE
        while width(text, size) > TEXT_W and size > BODY_SIZE:
            size -= 1
        # letter-space short headers across about 80% of the line, as printed headers are
        gap = 0.0
        if len(text) > 1:
            gap = max(0.0, min(size * 0.25, (TEXT_W * 0.85 - width(text, size)) / (len(text) - 1)))
        total = width(text, size) + gap * (len(text) - 1)
        self.y -= size - BODY_SIZE
        self.text_line(PAGE_W / 2 - total / 2, self.y, text, size, color=RED, char_space=gap)
        self.y -= PITCH * 1.5

    def red_rule(self) -> None:
        y = self.y + PITCH - BODY_SIZE * 0.9
        self.rule(y, RED, 1.6)
        self.y -= PITCH * 0.9

    def cc_block(self, lines: list[str]) -> None:
        rows: list[tuple[str, str, float]] = []  # left text, right text, x of left text
        for raw in lines:
            parts = re.split(r"\t+| {2,}", raw, maxsplit=1)
            left, right_text = parts[0].strip(), (parts[1].strip() if len(parts) > 1 else "")
            head = left.split("：", 1)[0] + "：" if "：" in left[:6] else ""
            hang = width(head, CC_SIZE)
            avail = TEXT_W - 2 * CC_SIZE - (width(right_text, CC_SIZE) + CC_SIZE if right_text else 0)
            wrapped = wrap(left, CC_SIZE, avail, avail - hang)
            for idx, (line, _) in enumerate(wrapped):
                rows.append((line, right_text if idx == 0 else "", LEFT + CC_SIZE + (hang if idx else 0)))
            rows.append(("", "", -1.0))  # group separator
        rows.pop()
        height = (sum(1 for r in rows if r[2] >= 0) * CC_PITCH) + 8
        floor = BOTTOM_BASELINE - BODY_SIZE * 0.3  # the body's last line bottom
        top_of_free = self.y + PITCH - BODY_SIZE * 0.2
        if top_of_free - floor < height and not self.empty:
            self.finish_page()
        # set the block on the page foot, as 版记 are
        y_top = floor + height
        self.rule(y_top, black, 1.0)
        y = y_top - CC_PITCH + 8
        for left, right_text, x in rows:
            if x < 0:
                self.rule(y + CC_PITCH - 8 - 1, black, 0.5)
                continue
            self.text_line(x, y, left, CC_SIZE)
            if right_text:
                self.text_line(RIGHT - CC_SIZE - width(right_text, CC_SIZE), y, right_text, CC_SIZE)
            y -= CC_PITCH
        self.rule(floor, black, 1.0)
        self.y = BOTTOM_BASELINE - 1  # anything after the block starts a new page

    def table(self, rows: list[list[str]]) -> None:
        """A ruled table: the first row is the header, repeated on every page the table reaches."""
        ncols = max(len(r) for r in rows)
        rows = [r + [""] * (ncols - len(r)) for r in rows]
        pad = 2 * TABLE_CELL_PAD
        natural = [max(width(r[c], TABLE_SIZE) for r in rows) + pad for c in range(ncols)]
        least = [
            max(
                [width(rows[0][c], TABLE_SIZE)]
                + [width(t, TABLE_SIZE) for r in rows for t in _TOKEN.findall(r[c])]
            )
            + pad
            for c in range(ncols)
        ]
        # water-filling: columns narrower than a fair share keep their natural width; the
        # others share what is left in proportion to their natural width
        widths = [0.0] * ncols
        open_cols, remaining = list(range(ncols)), TEXT_W
        while open_cols:
            share = remaining / len(open_cols)
            fixed = [c for c in open_cols if natural[c] <= share]
            if not fixed:
                total = sum(natural[c] for c in open_cols)
                for c in open_cols:
                    widths[c] = max(least[c], remaining * natural[c] / total)
                break
            for c in fixed:
                widths[c] = natural[c]
                remaining -= natural[c]
            open_cols = [c for c in open_cols if c not in fixed]
        spare = TEXT_W - sum(widths)
        if spare > 0:  # all columns fit: share the spare width evenly
            widths = [w + spare / ncols for w in widths]
        edges = [LEFT]
        for w in widths:
            edges.append(edges[-1] + w)
        wrapping = [any(width(r[c], TABLE_SIZE) + pad > widths[c] + 0.01 for r in rows) for c in range(ncols)]

        def cell_lines(row: list[str]) -> list[list[str]]:
            return [
                [line for line, _ in wrap(text, TABLE_SIZE, widths[c] - pad, widths[c] - pad)] if text else []
                for c, text in enumerate(row)
            ]

        floor = BOTTOM_BASELINE - BODY_SIZE * 0.3
        page_top = FIRST_BASELINE + BODY_SIZE
        header = cell_lines(rows[0])
        header_h = max(len(ls) for ls in header) * TABLE_PITCH + 2 * TABLE_ROW_PAD
        top = self.y + BODY_SIZE if not self.empty else page_top

        def draw_row(lines: list[list[str]], top: float, height: float, is_header: bool) -> None:
            self.rule(top, black, TABLE_RULE)
            self.rule(top - height, black, TABLE_RULE)
            for x in edges:
                self.c.setLineWidth(TABLE_RULE)
                self.c.line(x, top, x, top - height)
            self.c.setLineWidth(1)
            for c, cell in enumerate(lines):
                for k, line in enumerate(cell):
                    base = (
                        top
                        - TABLE_ROW_PAD
                        - k * TABLE_PITCH
                        - (TABLE_PITCH - TABLE_SIZE) / 2
                        - 0.88 * TABLE_SIZE
                    )
                    if is_header or not wrapping[c]:
                        x = (edges[c] + edges[c + 1]) / 2 - width(line, TABLE_SIZE) / 2
                    else:
                        x = edges[c] + TABLE_CELL_PAD
                    self.text_line(x, base, line, TABLE_SIZE)

        first = True
        for index, row in enumerate(rows):
            lines = header if index == 0 else cell_lines(row)
            height = max(1, max(len(ls) for ls in lines)) * TABLE_PITCH + 2 * TABLE_ROW_PAD
            need = height + (header_h if index == 1 and first else 0)
            if top - need < floor and not (first and self.empty):
                self.finish_page()
                top = page_top
                if index > 0:
                    draw_row(header, top, header_h, True)
                    top -= header_h
            if top - height < floor - 0.5:
                raise ValueError(f"table row too tall for a page: {' | '.join(row)[:40]}")
            draw_row(lines, top, height, index == 0)
            top -= height
            first = False
        self.y = top - PITCH * 0.9

    def render(self, blocks: list[Block]) -> int:
        prev = ""
        after_title = False
        i = 0
        while i < len(blocks):
            block = blocks[i]
            kind = block.kind
            if kind == "pagebreak":
                self.new_page()
            elif kind == "red":
                self.red_header(block.text)
                if i + 1 >= len(blocks) or blocks[i + 1].kind != "docno":
                    self.red_rule()
            elif kind == "docno":
                if prev not in ("red", "docno"):
                    self.skip(PITCH)
                self.centered(block.text, BODY_SIZE, PITCH)
                if prev == "red":
                    self.red_rule()
                    self.y -= PITCH * 0.5
            elif kind == "title":
                if prev not in ("title", "", "red", "docno", "pagebreak") and not self.empty:
                    self.skip(PITCH)
                if self.empty and prev in ("", "pagebreak"):
                    self.y -= TITLE_PITCH - PITCH
                self.ensure(TITLE_PITCH * 2)
                self.centered(block.text, TITLE_SIZE, TITLE_PITCH)
                after_title = True
            elif kind == "center":
                if prev == "title":
                    self.y += TITLE_PITCH - PITCH  # subtitle sits close under the title
                self.centered(block.text, BODY_SIZE, PITCH)
            elif kind == "right":
                if prev == "body":
                    self.skip(PITCH)
                self.right(block.text)
            elif kind == "row":
                group = []
                while i < len(blocks) and blocks[i].kind == "row":
                    group.append([cell.strip() for cell in blocks[i].text.split("|")])
                    i += 1
                self.table(group)
                prev = "row"
                after_title = False
                continue
            elif kind == "cc":
                group = []
                while i < len(blocks) and blocks[i].kind == "cc":
                    group.append(blocks[i].text)
                    i += 1
                self.cc_block(group)
                prev = "cc"
                continue
            else:  # body
                text = block.text
                indent = 2
                if after_title:
                    self.skip(PITCH * 0.5)
                    if text.endswith("：") and len(text) <= 2 * CHARS_PER_LINE:
                        indent = 0  # 主送机关 is flush left
                heavy = bool(_HEADING.match(text)) and len(text) <= 20 and "。" not in text[:-1]
                self.body(text, indent, heavy)
                after_title = False
            if kind not in ("title", "center"):
                after_title = after_title and kind == "body"
            prev = kind
            i += 1
        if not self.empty:
            self.finish_page()
        self.c.save()
        return self.page - 1


def first_title(blocks: list[Block]) -> str:
    for block in blocks:
        if block.kind == "title":
            return block.text
    return ""


def render_file(src: Path, out_dir: Path) -> tuple[Path, int]:
    blocks = parse_source(src.read_text(encoding="utf-8"))
    out = out_dir / (src.stem + ".pdf")
    pages = Renderer(out, first_title(blocks)).render(blocks)
    return out, pages


def collect(paths: list[str]) -> list[Path]:
    if not paths:
        paths = [str(DEFAULT_SOURCES)]
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files.extend(sorted(path.glob("*.txt")))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such source file or directory: {path}")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "sources", nargs="*", help="source .txt files or directories (default: corpora/provincial/sources)"
    )
    parser.add_argument(
        "--out", default=str(DEFAULT_OUT), help="output directory (default: corpora/provincial)"
    )
    parser.add_argument("--font", help="path to a CJK TrueType font (.ttf/.ttc)")
    args = parser.parse_args(argv)
    try:
        register_font(find_font(args.font))
    except FontNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        files = collect(args.sources)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not files:
        print("no sources to render", file=sys.stderr)
        return 1
    for src in files:
        out, pages = render_file(src, out_dir)
        try:
            shown = out.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            shown = out
        print(f"{src.name} -> {shown} ({pages} pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
