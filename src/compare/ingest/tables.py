"""Table rows in page text: their cells, header rows, and what each column holds.

Extraction writes a ruled table as one line per row with its cells joined by `` | ``
(``compare.ingest.extract``). Segmentation makes each row one clause; this module reads such a
line:

- ``cells``: the row's cells;
- ``is_header_row``: a row of short column labels (序号 | 重点任务 | 牵头单位 | 配合单位 |
  完成时限), printed once and repeated on each page the table runs onto;
- ``row_text_for_matching``: what of a row states a task, given its table's header: the
  row without the columns that only number, date, cost or assign it (序号, 牵头单位,
  完成时限, 总投资（亿元） …), its other cells joined as sentences
  (``交通云。建设公路、航道运行监测和公众出行信息服务系统``);
- ``department_cells``: the cells of the columns that name departments (牵头单位, 配合单位,
  责任单位 …), with their header labels (``compare.ingest.structure`` gives them roles).

Extraction drops empty cells, so a row with an empty cell has fewer cells than its
header; such a row is not read by column (its whole text is used).
"""

from __future__ import annotations

import re

#: How extraction separates the cells of a table row.
TABLE_CELL_SEPARATOR = " | "
#: The cells of a header row are at most this long (a parenthesized unit such as （亿元） aside).
MAX_HEADER_CELL_CHARS = 6
#: How the task cells of a row are joined into one text for matching (like an item's title sentence).
CELL_JOINER = "。"

_UNIT = re.compile(r"[（(][^）)]{0,8}[）)]$")
_YEAR_LABEL = re.compile(r"^(?:19|20)\d\d年?$")
#: Header labels of the columns that name departments (their roles: ``compare.ingest.structure``).
DEPARTMENT_COLUMN = re.compile(r"单位|部门")
#: Header labels of columns that only number, date, cost or annotate a row.
_NOISE_COLUMN = re.compile(r"序号|编号|时限|时间|年限|期限|进度|投资|金额|资金|预算|备注|状态|属性")


def cells(text: str) -> list[str]:
    """The cells of a row (one cell for a line that is not a row)."""
    return [cell.strip() for cell in text.split(TABLE_CELL_SEPARATOR)]


def is_table_row(text: str) -> bool:
    """Whether a line is a table row (at least two cells)."""
    return TABLE_CELL_SEPARATOR in text


def is_header_row(text: str) -> bool:
    """A row of short column labels, without numbers other than years (指标 | 2020年 | 2025年 | 属性)."""
    found = cells(text)
    if len(found) < 2:
        return False
    for cell in found:
        label = _UNIT.sub("", cell)
        if not label or len(label) > MAX_HEADER_CELL_CHARS:
            return False
        if re.search(r"\d", label) and not _YEAR_LABEL.match(label):
            return False
    return True


def _task_columns(header: str) -> list[int]:
    return [
        i
        for i, label in enumerate(cells(header))
        if not DEPARTMENT_COLUMN.search(label) and not _NOISE_COLUMN.search(label)
    ]


def row_text_for_matching(row: str, header: str | None) -> str:
    """The cells of ``row`` that state its task, joined; the row unchanged when it cannot be read by column."""
    found = cells(row)
    if header is None or len(found) != len(cells(header)):
        return row
    kept = [found[i].rstrip("。；;") for i in _task_columns(header) if found[i]]
    return CELL_JOINER.join(kept) if kept else row


def department_cells(row: str, header: str | None) -> list[tuple[str, str]]:
    """(header label, cell text) of each department column of ``row``; none when it cannot be read by column."""
    found = cells(row)
    labels = cells(header) if header is not None else []
    if len(found) != len(labels):
        return []
    return [
        (label, found[i]) for i, label in enumerate(labels) if DEPARTMENT_COLUMN.search(label) and found[i]
    ]
