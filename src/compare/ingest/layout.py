"""Page geometry to reading order: glyphs to lines, columns, page furniture and paragraphs.

Plain functions over positioned text; no file access. Extraction feeds them glyphs from
pdfplumber or pdfium and text boxes from OCR, all in PDF points with the origin at the
top-left of the page, so every text source goes through the same rules:

- a doubled glyph (bold or shadow simulated by drawing text twice, a fraction of a point
  apart) is kept once;
- no space is put between CJK characters; a space is kept only between Latin letters or
  digits that the PDF spaces apart;
- a page whose rows share an empty vertical band (a gutter) is read column by column,
  with full-width rows (a title over both columns) kept in place;
- page numbers ("— 3 —", "-3-", "第3页", "3/10") and lines repeated at the top or bottom
  edge of most pages (running headers and footers) are removed;
- the body text's left and right margins reach as far as ``EDGE_RANK`` of the document's
  body lines do, not only where most pages' lines stop: a document of mostly short lines
  (lists, tables, headings without punctuation) finds its right margin from the few lines
  of its wrapped paragraphs;
- lines join into paragraphs without spaces: a line continues the paragraph above when
  that line runs to the right margin and this one is not indented (a wrapped title of
  large type also joins); a numbered line (``一、``, ``（一）``, ``1.``, ``（1）``, ``①``) always
  starts a paragraph, and a line opening with ``第一条``, ``——``, ``一是`` or ``第一，``
  does after a finished sentence.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from compare.ingest.numbering import marker_of

#: Two copies of a glyph closer than this share of the font size are one glyph drawn twice.
DOUBLED_GLYPH_SHARE = 0.15
#: Glyphs whose vertical centres differ by less than this share of the font size share a line.
SAME_LINE_SHARE = 0.45
#: A gap wider than this share of the font size between two Latin glyphs is a word space.
WORD_GAP_SHARE = 0.25
#: A line where at least this share of neighbouring characters have a space between them is letter-spaced.
LETTER_SPACED_SHARE = 0.5
#: A gutter is an empty vertical band at least this many body characters wide ...
GUTTER_MIN_CHARS = 1.0
#: ... that at least this many rows have text on both sides of ...
GUTTER_MIN_ROWS = 4
#: ... and that no more than this share of the rows reaching over it cross.
GUTTER_MAX_CROSSING_SHARE = 0.5
#: Gutters are looked for between these shares of the text's width.
GUTTER_SEARCH_SPAN = (0.25, 0.75)
#: A line starting this many body characters right of the left margin is indented.
INDENT_MIN_CHARS = 0.9
#: A line ending within this many body characters of the right margin runs to the margin.
FULL_LINE_SLACK_CHARS = 1.6
#: A vertical gap between lines larger than this many font sizes ends a paragraph.
PARAGRAPH_GAP_SIZES = 1.3
#: Lines at least this many times the body size are titles; wrapped title lines join.
TITLE_SIZE_RATIO = 1.2
#: The lines of a wrapped title share their centre (or their left edge) to within this many font sizes.
TITLE_ALIGN_SIZES = 1.0
#: Two lines whose font sizes differ by more than this share are different kinds of text.
SIZE_TOLERANCE_SHARE = 0.15
#: How many lines at the top and at the bottom of a page count as its edges.
EDGE_LINES = 2
#: A line at the page edge repeated on at least this share of the pages is a running header or footer.
RUNNING_LINE_SHARE = 0.5
#: A page needs this many lines of text for its own margins; sparser pages use the document's.
MIN_LINES_FOR_MARGINS = 6
#: Lines shorter than this (in characters) say little about the margins.
MIN_MARGIN_LINE_CHARS = 3
#: The document's margins reach as far as this many of its body lines do: one or two lines
#: set past the margin do not move them, and a few wrapped paragraphs among many short lines
#: are enough to find them.
EDGE_RANK = 3

_LATIN = re.compile(r"[0-9A-Za-z\u00c0-\u024f]")
_CJK_CHAR = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
_PAGE_NUMBER = re.compile(
    r"^(?:[-—－–~·•\s]*\d{1,4}[-—－–~·•\s]*"
    r"|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?"
    r"|\d{1,4}\s*/\s*\d{1,4}"
    r"|[Pp]age\s*\d{1,4}(?:\s*of\s*\d{1,4})?)$"
)
_DIGITS = re.compile(r"\d+")
_LABEL = re.compile(r"^(抄送|印发|主送|附件|联系人)[：:]")
_SENTENCE_END = "。；：！？;:!?"
#: Openers of a list line or an article that may also run on inside a sentence: they start a
#: paragraph after a finished sentence only (numbering markers start one always).
_ITEM_OPENER = re.compile(
    r"^(?:第[一二三四五六七八九十百零〇]+[条章节]|——|[一二三四五六七八九十]是|第[一二三四五六七八九十][，,、])"
)


@dataclass(frozen=True)
class Glyph:
    """One character (or a run of text from OCR) and its box, in points from the top-left."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass(frozen=True)
class Line:
    """A line of text in reading order. ``standalone`` lines (table rows) are paragraphs of their own."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    standalone: bool = False
    column: int = 0


#: How a paragraph whose first line is indented begins in the page text (two ideographic spaces).
PARAGRAPH_INDENT = "\u3000\u3000"
#: ``Line.column`` of a line that spans the page (or the page has one column).
FULL_WIDTH = 0
LEFT_COLUMN = 1
RIGHT_COLUMN = 2


@dataclass(frozen=True)
class Margins:
    """The body text's left and right edges and its font size, in points."""

    left: float
    right: float
    size: float


def deduped(glyphs: Iterable[Glyph]) -> list[Glyph]:
    """The glyphs with doubled copies (same text, nearly the same place) removed."""
    kept: list[Glyph] = []
    seen: dict[str, list[Glyph]] = {}
    for glyph in glyphs:
        tolerance = glyph.size * DOUBLED_GLYPH_SHARE
        twins = seen.setdefault(glyph.text, [])
        if any(abs(t.x0 - glyph.x0) <= tolerance and abs(t.top - glyph.top) <= tolerance for t in twins):
            continue
        twins.append(glyph)
        kept.append(glyph)
    return kept


def _is_latin(text: str) -> bool:
    return bool(_LATIN.fullmatch(text[-1:] if text else ""))


def line_text(glyphs: Sequence[Glyph]) -> str:
    """Glyphs of one line, left to right, as text: no spaces between CJK, single spaces between Latin words.

    In a letter-spaced line (a space or a wide gap after most characters) only a gap
    clearly wider than the line's usual one separates two Latin words.
    """
    ordered = sorted(glyphs, key=lambda g: g.x0)
    printable: list[tuple[Glyph, bool]] = []  # glyph, preceded by a space glyph
    pending_space = False
    for glyph in ordered:
        if not glyph.text.strip():
            pending_space = True
            continue
        printable.append((glyph, pending_space and bool(printable)))
        pending_space = False
    if not printable:
        return ""
    gaps = [max(0.0, b.x0 - a.x1) for (a, _), (b, _) in itertools.pairwise(printable)]
    spaced_pairs = sum(1 for _, spaced in printable[1:] if spaced)
    letter_spaced = bool(gaps) and spaced_pairs >= LETTER_SPACED_SHARE * len(gaps)
    usual_gap = statistics.median(gaps) if gaps else 0.0
    parts = [printable[0][0].text.strip()]
    for ((previous, _), (glyph, spaced)), gap in zip(itertools.pairwise(printable), gaps, strict=True):
        if _is_latin(previous.text) and _LATIN.match(glyph.text[:1]):
            wide = gap > usual_gap + WORD_GAP_SHARE * min(glyph.size, previous.size)
            if wide or (spaced and not letter_spaced):
                parts.append(" ")
        parts.append(glyph.text.strip())
    return "".join(parts)


def _line_of(glyphs: Sequence[Glyph]) -> Line:
    printable = [g for g in glyphs if g.text.strip()] or list(glyphs)
    sizes = [g.size for g in printable]
    return Line(
        text=line_text(glyphs),
        x0=min(g.x0 for g in printable),
        x1=max(g.x1 for g in printable),
        top=min(g.top for g in printable),
        bottom=max(g.bottom for g in printable),
        size=statistics.median(sizes),
    )


def _rows(glyphs: Iterable[Glyph]) -> list[list[Glyph]]:
    """Glyphs grouped into rows by their vertical centres, top to bottom."""
    rows: list[list[Glyph]] = []
    centre = 0.0
    size = 0.0
    for glyph in sorted(glyphs, key=lambda g: (g.middle, g.x0)):
        if rows and abs(glyph.middle - centre) <= SAME_LINE_SHARE * min(glyph.size, size):
            rows[-1].append(glyph)
            continue
        rows.append([glyph])
        centre, size = glyph.middle, glyph.size
    return [row for row in rows if any(g.text.strip() for g in row)]


def lines(glyphs: Iterable[Glyph]) -> list[Line]:
    """The glyphs as lines, top to bottom (no column analysis)."""
    return [_line_of(row) for row in _rows(glyphs)]


def _gutter(rows: Sequence[Sequence[Glyph]], body_size: float) -> tuple[float, float] | None:
    """The empty vertical band (x0, x1) that splits the rows into two columns, if there is one."""
    printable = [[g for g in row if g.text.strip()] for row in rows]
    printable = [row for row in printable if row]
    if len(printable) < GUTTER_MIN_ROWS:
        return None
    left = min(g.x0 for row in printable for g in row)
    right = max(g.x1 for row in printable for g in row)
    half = GUTTER_MIN_CHARS * body_size / 2
    spans = [sorted((g.x0, g.x1) for g in row) for row in printable]
    starts = [[s[0] for s in row] for row in spans]
    best: tuple[int, float] | None = None
    low, high = (left + (right - left) * share for share in GUTTER_SEARCH_SPAN)
    x = low
    while x <= high:
        split = crossing = 0
        for row, row_starts in zip(spans, starts, strict=True):
            has_left = row[0][0] < x - half
            has_right = row[-1][1] > x + half
            if not (has_left and has_right):
                continue
            # does any glyph overlap [x - half, x + half]?
            idx = bisect.bisect_left(row_starts, x + half)
            overlaps = any(s[1] > x - half for s in row[:idx])
            if overlaps:
                crossing += 1
            else:
                split += 1
        clear = split >= GUTTER_MIN_ROWS and crossing <= GUTTER_MAX_CROSSING_SHARE * (split + crossing)
        if clear and (best is None or split > best[0]):
            best = (split, x)
        x += body_size / 4
    if best is None:
        return None
    return best[1] - half, best[1] + half


def reading_order(glyphs: Sequence[Glyph], body_size: float) -> list[Line]:
    """Lines in reading order: one column top to bottom, or two columns left then right."""
    rows = _rows(glyphs)
    gutter = _gutter(rows, body_size)
    if gutter is None:
        return [_line_of(row) for row in rows]
    g0, g1 = gutter
    result: list[Line] = []
    left_part: list[Glyph] = []
    right_part: list[Glyph] = []

    def flush() -> None:
        result.extend(replace(line, column=LEFT_COLUMN) for line in lines(left_part))
        result.extend(replace(line, column=RIGHT_COLUMN) for line in lines(right_part))
        left_part.clear()
        right_part.clear()

    for row in rows:
        printable = [g for g in row if g.text.strip()]
        if any(g.x0 < g1 and g.x1 > g0 for g in printable):
            flush()
            result.append(_line_of(row))
            continue
        left_part.extend(g for g in row if g.x1 <= g0)
        right_part.extend(g for g in row if g.x0 >= g1)
    flush()
    return result


def body_size(all_lines: Iterable[Line]) -> float:
    """The font size that most characters are set in."""
    weights: Counter[float] = Counter()
    for line in all_lines:
        weights[round(line.size * 2) / 2] += len(line.text)
    return weights.most_common(1)[0][0] if weights else 0.0


def _body_lines(page_lines: Sequence[Line], size: float) -> list[Line]:
    """The lines that show the margins: running text in the body size, not table rows or stray marks."""
    return [
        line
        for line in page_lines
        if not line.standalone
        and len(line.text) >= MIN_MARGIN_LINE_CHARS
        and abs(line.size - size) <= SIZE_TOLERANCE_SHARE * size
    ]


def margins(page_lines: Sequence[Line], size: float) -> Margins | None:
    """The left and right edges of the body text of one page, or None when the page has too few lines."""
    body = _body_lines(page_lines, size)
    if len(body) < MIN_LINES_FOR_MARGINS:
        return None
    return Margins(left=min(line.x0 for line in body), right=max(line.x1 for line in body), size=size)


def document_margins(pages_lines: Sequence[Sequence[Line]], size: float, page_width: float) -> Margins | None:
    """The left and right edges of a document's body text, or None when no page has margins of its own.

    The median of the pages' own margins, widened to where at least ``EDGE_RANK`` body
    lines of the whole document reach: pages of short lines (a list, an annex of project
    names) or of indented lines only would otherwise pull the edges in, and a document
    whose lines are mostly short would take them for full lines. Lines reaching past
    ``page_width`` (a wider page) are left out of the count.
    """
    per_page = [m for m in (margins(page_lines, size) for page_lines in pages_lines) if m is not None]
    if not per_page:
        return None
    body = [
        line for page_lines in pages_lines for line in _body_lines(page_lines, size) if line.x1 <= page_width
    ]
    left = statistics.median(m.left for m in per_page)
    right = statistics.median(m.right for m in per_page)
    if body:
        rank = min(EDGE_RANK, len(body)) - 1
        left = min(left, sorted(line.x0 for line in body)[rank])
        right = max(right, sorted((line.x1 for line in body), reverse=True)[rank])
    return Margins(left=left, right=right, size=size)


def page_margins(own: Margins, document: Margins) -> Margins:
    """A page's own margins, but the document's where the page's lines stop short of them.

    For pages that are read one by one (a scan sits a little differently on each page): a
    page of short lines has no line that runs to the right margin, a page of indented lines
    none that starts at the left one, and its own edges would make its short lines full or
    its indented lines flush.
    """
    slack = FULL_LINE_SLACK_CHARS * document.size
    return Margins(
        left=own.left if own.left <= document.left + slack else document.left,
        right=own.right if own.right >= document.right - slack else document.right,
        size=own.size,
    )


def _edge_key(text: str) -> str:
    return _DIGITS.sub("#", re.sub(r"\s+", "", text))


def is_page_number(text: str) -> bool:
    """Whether a line is a printed page number ("— 3 —", "-3-", "第3页", "3/10")."""
    return bool(_PAGE_NUMBER.match(text.strip()))


def without_furniture(pages_lines: Sequence[Sequence[Line]]) -> list[list[Line]]:
    """Each page's lines without page numbers and without running headers and footers."""
    counts: Counter[str] = Counter()
    for page_lines in pages_lines:
        edges = {_edge_key(line.text) for line in _edges(page_lines)}
        counts.update(edges)
    needed = max(2, math.ceil(RUNNING_LINE_SHARE * len(pages_lines)))
    running = {key for key, n in counts.items() if n >= needed and len(pages_lines) >= 2}
    result: list[list[Line]] = []
    for page_lines in pages_lines:
        edge_ids = {id(line) for line in _edges(page_lines)}
        result.append(
            [
                line
                for line in page_lines
                if not (
                    id(line) in edge_ids and (is_page_number(line.text) or _edge_key(line.text) in running)
                )
            ]
        )
    return result


def _edges(page_lines: Sequence[Line]) -> list[Line]:
    by_position = sorted(page_lines, key=lambda line: line.top)
    if len(by_position) <= 2 * EDGE_LINES:
        return by_position
    return by_position[:EDGE_LINES] + by_position[-EDGE_LINES:]


def _continues(above: Line, below: Line, above_edges: Margins, below_edges: Margins) -> bool:
    """Whether ``below`` continues the paragraph whose last line is ``above``.

    ``above_edges`` and ``below_edges`` are the margins of the columns the two lines sit in
    (the same unless the text flows from the foot of one column to the head of the next).
    """
    if above.standalone or below.standalone or marker_of(below.text):
        return False
    size = max(above.size, below.size)
    if abs(above.size - below.size) > SIZE_TOLERANCE_SHARE * size:
        return False
    same_column = above.column == below.column
    if same_column and (below.top - above.bottom > PARAGRAPH_GAP_SIZES * size or below.top < above.top):
        return False
    if same_column and above.size >= TITLE_SIZE_RATIO * below_edges.size:
        centred = abs((above.x0 + above.x1) - (below.x0 + below.x1)) / 2 <= TITLE_ALIGN_SIZES * size
        return centred or abs(above.x0 - below.x0) <= TITLE_ALIGN_SIZES * size  # a wrapped title
    if (label := _LABEL.match(above.text)) and abs(
        below.x0 - (above.x0 + label.end() * above.size)
    ) < above.size:
        return True  # hanging indent under 抄送： and the like
    if above.text[-1:] in _SENTENCE_END and _ITEM_OPENER.match(below.text):
        return False
    if below.x0 > below_edges.left + INDENT_MIN_CHARS * below_edges.size:
        return False
    return above.x1 >= above_edges.right - FULL_LINE_SLACK_CHARS * above_edges.size


def _joined(above: str, below: str) -> str:
    if above and below and _is_latin(above[-1]) and _LATIN.match(below[0]):
        return f"{above} {below}"
    return above + below


def _column_margins(page_lines: Sequence[Line], edges: Margins) -> dict[int, Margins]:
    """Margins of each column of a page: the page's for full-width lines, the column's own edges otherwise."""
    result = {FULL_WIDTH: edges}
    for column in {line.column for line in page_lines} - {FULL_WIDTH}:
        members = [
            line
            for line in page_lines
            if line.column == column and not line.standalone and len(line.text) >= MIN_MARGIN_LINE_CHARS
        ] or [line for line in page_lines if line.column == column]
        result[column] = Margins(
            left=min(line.x0 for line in members), right=max(line.x1 for line in members), size=edges.size
        )
    return result


def paragraphs(page_lines: Sequence[Line], edges: Margins) -> list[str]:
    """The lines of one page (reading order) joined into paragraphs.

    A paragraph whose first line starts right of the left margin (indented, centred or
    right-aligned) begins with ``PARAGRAPH_INDENT``, as Chinese plain text does; one that
    starts flush left does not, so a page's first paragraph shows whether it continues
    the page before.
    """
    by_column = _column_margins(page_lines, edges)
    result: list[str] = []
    previous: Line | None = None
    for line in page_lines:
        if not line.text:
            continue
        flows_on = previous is not None and (
            previous.column == line.column or (previous.column, line.column) == (LEFT_COLUMN, RIGHT_COLUMN)
        )
        if (
            previous is not None
            and flows_on
            and _continues(previous, line, by_column[previous.column], by_column[line.column])
        ):
            result[-1] = _joined(result[-1], line.text)
        else:
            indented = (
                not line.standalone and line.x0 > by_column[line.column].left + INDENT_MIN_CHARS * edges.size
            )
            result.append(PARAGRAPH_INDENT + line.text if indented else line.text)
        previous = line
    return result
