"""Text that any writer can carry: no control characters, and no formula in a spreadsheet.

Stored text comes from PDFs and file names and can hold anything: a NUL for a glyph with no
Unicode mapping, an escape (``\\x1b``), a noncharacter (U+FFFE), a lone surrogate. Every
writer (review workbook, CSV export, ``compare query --format csv`` and its terminal table,
HTML and PDF report) passes text through this module, whatever extraction already cleaned:

- ``printable(text)``: each C0 control other than tab, newline and carriage return, DEL, each
  C1 control, each surrogate and each noncharacter (U+FDD0..U+FDEF and the last two code
  points of every plane) becomes U+FFFD, the replacement character. These are what XML 1.0
  (xlsx, HTML), terminals and spreadsheet programs cannot take; replacing rather than
  dropping keeps the place of what was there visible, so a quoted clause never silently
  joins its neighbours. Everything else (combining marks, format characters, private-use
  characters) is ordinary text and is kept.
- ``spreadsheet_cell(value)``: for text written to CSV, ``printable`` and then, when the
  text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (which a
  spreadsheet program would read as a formula, OWASP "CSV Injection"), a single quote in
  front. Text that already starts with a quote gets one more, so the escape can be undone
  without guessing: a text cell starting with ``'`` had exactly one added. Values that are
  not strings (numbers, including negative ones, dates, None) are returned as they are.
  ``spreadsheet_sql(expression)`` is the same rule as DuckDB SQL, for files DuckDB writes.
- ``formula_like(text)``: whether a spreadsheet would take the text for a formula. The xlsx
  writer stores such text as a text cell with Excel's quote-prefix flag (what Excel itself
  does when one types ``'=...``), so its value is the text unchanged and reads back exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

#: What stands in for a character no writer can carry.
REPLACEMENT = "\ufffd"
#: What a spreadsheet program reads as the start of a formula (OWASP "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Put in front of formula-like (or already quoted) text in CSV cells.
QUOTE = "'"
_PLANES = 17
_PLANE = 0x10000
_SURROGATES = (0xD800, 0xDFFF)
#: Inclusive code point ranges that ``printable`` replaces (surrogates apart: see ``_SURROGATES``).
UNPRINTABLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00, 0x08),  # C0 controls before tab
    (0x0B, 0x0C),  # vertical tab, form feed
    (0x0E, 0x1F),  # the rest of C0 (escape among them)
    (0x7F, 0x9F),  # DEL and the C1 controls
    (0xFDD0, 0xFDEF),  # noncharacters
    *((plane * _PLANE + 0xFFFE, plane * _PLANE + 0xFFFF) for plane in range(_PLANES)),  # noncharacters
)


def _character_class(ranges: tuple[tuple[int, int], ...], escape: Callable[[int], str]) -> str:
    return "[" + "".join(escape(a) if a == b else f"{escape(a)}-{escape(b)}" for a, b in ranges) + "]"


_UNPRINTABLE = re.compile(_character_class((*UNPRINTABLE_RANGES, _SURROGATES), lambda c: f"\\U{c:08x}"))
#: ``UNPRINTABLE_RANGES`` in RE2 syntax (DuckDB's regular expressions). DuckDB text is valid
#: UTF-8, so it holds no surrogate.
RE2_UNPRINTABLE = _character_class(UNPRINTABLE_RANGES, lambda c: f"\\x{{{c:x}}}")
#: RE2: the first character of a text that ``spreadsheet_cell`` quotes.
_RE2_QUOTED_START = "^([" + "".join(f"\\x{{{ord(c):x}}}" for c in (*FORMULA_STARTS, QUOTE)) + "])"
#: RE2 replacement: the quote, then the first character as it was.
_RE2_QUOTED = QUOTE + "\\1"


def printable(text: str) -> str:
    """``text`` with every control (but tab, newline, carriage return), surrogate and noncharacter as U+FFFD."""
    return _UNPRINTABLE.sub(REPLACEMENT, text)


def formula_like(text: str) -> bool:
    """Whether a spreadsheet program would read ``text`` as a formula (it starts with = + - @ tab or CR)."""
    return text.startswith(FORMULA_STARTS)


def spreadsheet_cell(value: Any) -> Any:
    """A value as a CSV cell: strings ``printable``, quoted (``'``) when formula-like or quoted; others as they are."""
    if not isinstance(value, str):
        return value
    text = printable(value)
    return QUOTE + text if formula_like(text) or text.startswith(QUOTE) else text


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def spreadsheet_sql(expression: str) -> str:
    """DuckDB SQL computing ``spreadsheet_cell`` of a VARCHAR ``expression`` (NULL stays NULL)."""
    cleaned = f"regexp_replace({expression}, {_sql_string(RE2_UNPRINTABLE)}, {_sql_string(REPLACEMENT)}, 'g')"
    return f"regexp_replace({cleaned}, {_sql_string(_RE2_QUOTED_START)}, {_sql_string(_RE2_QUOTED)})"
