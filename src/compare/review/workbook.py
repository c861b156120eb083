"""The review workbook: written for an expert to fill in with a spreadsheet program, then read back.

Layout (``write_workbook``):
- ``说明 README``: what to do, what each verdict means, how rows are ordered, one line per sheet;
- one sheet per document (province, or province·city): a caption row, a header row, then one
  row per document x measure cell, highest review priority first (cells already reviewed last,
  with their verdict in ``previous_review``). The expert fills ``verdict`` (a drop-down list),
  and may fill ``clause``, ``reviewer`` and ``note``; every other column is what the machine said;
- ``_lists`` (hidden): the verdicts the drop-down offers;
- ``_export`` (hidden): the format, when and from which warehouse and run it was exported.

Every text the workbook holds is written by ``_store``: control characters become U+FFFD
(``safe_text.printable``; openpyxl refuses them and Excel cannot open a file with them), a
carriage return becomes a line break (XML reads it back so anyway), text over Excel's cell
limit is cut with "…", and each text is stored as a text cell, never a formula; text a
spreadsheet would read as a formula (``=HYPERLINK(...)`` in a file name, ``-`` or ``@`` at the
start of a clause) also gets Excel's quote-prefix flag, so it stays text when a reviewer edits
the cell. No character is added to the text, so it reads back as written.

``read_workbook`` returns every filled row with its sheet and row number, and the export
record; it checks only the workbook's shape (``compare.review.importing`` checks the contents).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from compare.errors import LimitError, ReviewError
from compare.review.queue import (
    CELL_VERDICTS,
    DISAGREEMENT_FULL,
    DISAGREEMENT_WEIGHT,
    EVIDENCE_SHOWN,
    NEAR_WIDTH_Z,
    ReviewDocument,
    review_documents,
)
from compare.safe_text import formula_like, printable
from compare.settings import env_name
from compare.store import warehouse

MEASURE_IDS_SQL = "SELECT measure_id FROM national_measures ORDER BY part, section_no, measure_no"
#: Written into ``_export`` and checked on import.
WORKBOOK_FORMAT = "compare-review/1"
README_SHEET = "说明 README"
LISTS_SHEET = "_lists"
EXPORT_SHEET = "_export"
#: ``_export`` keys ``document <doc_id>`` hold each document's file name (to explain a changed file on import).
DOCUMENT_KEY = "document "
CAPTION_ROW = 1
HEADER_ROW = 2
FIRST_DATA_ROW = 3
#: The header row is looked for in this many first rows (a reviewer may insert a row above it).
HEADER_SEARCH_ROWS = 6
#: Excel's limit on sheet names, and the characters it refuses in them.
MAX_SHEET_NAME = 31
#: Excel's limit on the characters (UTF-16 code units) of one cell.
MAX_CELL_CHARS = 32767
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_LINE_BREAKS = re.compile(r"\r\n?")
FONT_NAME = "Microsoft YaHei"
FONT_SIZE = 11
INPUT_FILL = PatternFill("solid", fgColor="FFF7D6")
HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
THIN = Side(style="thin", color="BFBFBF")


@dataclass(frozen=True)
class Column:
    """A workbook column: key (first header line, read on import), Chinese label, width, filled by the reviewer."""

    key: str
    label: str
    width: float
    wrap: bool = False
    reviewer: bool = False
    number_format: str | None = None


COLUMNS: tuple[Column, ...] = (
    Column("rank", "序号", 6),
    Column("measure_id", "措施编号", 10),
    Column("section_zh", "国家行动/部分", 16, wrap=True),
    Column("measure_title_en", "国家措施 (英文标题)", 30, wrap=True),
    Column("machine_status", "机器判定", 10),
    Column("score", "得分", 8, number_format="0.00"),
    Column("page", "页码", 6),
    Column("evidence", "证据条款 (首选)", 60, wrap=True),
    Column("other_evidence", "其他候选条款", 50, wrap=True),
    Column("verdict", "判定", 12, reviewer=True),
    Column("clause", "条款 (可选)", 12, reviewer=True),
    Column("reviewer", "审核人", 12, reviewer=True),
    Column("note", "备注", 30, wrap=True, reviewer=True),
    Column("previous_review", "已有审核", 16, wrap=True),
    Column("priority", "优先级", 8, number_format="0.000"),
    Column("why", "原因", 24, wrap=True),
    Column("cell_key", "单元格键", 26),
    Column("doc_id", "文件编号", 18),
    Column("evidence_clause_id", "证据条款编号", 22),
    Column("other_clause_ids", "其他条款编号", 30, wrap=True),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)
#: Columns import cannot do without.
REQUIRED_KEYS = (
    "cell_key",
    "doc_id",
    "measure_id",
    "machine_status",
    "score",
    "evidence_clause_id",
    "verdict",
)
#: Panes frozen below the header and right of the measure id.
FREEZE_AT = f"C{FIRST_DATA_ROW}"

README_LINES: tuple[str, ...] = (
    "专家审核表 Expert review workbook — compare (国发〔2015〕40号 national measures × provincial plans)",
    "",
    "每个工作表是一个文件；每一行是该文件 × 一项国家措施。请在黄色列填写：",
    "Each sheet is one document; each row one document × national measure cell. Fill in the yellow columns:",
    "  判定 verdict: covered（已覆盖）/ partial（部分覆盖）/ absent（未覆盖），或另一项措施编号（如 II.3.2）：",
    "      表示首选证据条款实际落实的是那项措施 — 本单元格记为未覆盖，那项措施记为由该条款覆盖。",
    "      or the id of another national measure (e.g. II.3.2): the first evidence clause implements that measure",
    "      instead — this cell becomes absent, and the named measure's cell covered by that clause.",
    "  条款 clause (optional): 判定针对的条款：1–3 指本行列出的候选条款（1 = 首选），或一个条款编号；空 = 首选证据条款。",
    "      the clause the verdict is about: 1-3 for a clause shown in the row (1 = first), or a clause id; empty = the first.",
    "  审核人 reviewer, 备注 note: 可选；导入时可用 --reviewer 统一填写审核人。 optional; import --reviewer fills an empty reviewer.",
    "空白判定的行不导入。Rows with an empty verdict are not imported. 其他列请勿修改。Leave the other columns as they are.",
    "",
    "排序 Order: 每表按审核价值从高到低（已审核的单元格在最后）。Rows are ordered by how much a review is worth:",
    f"  priority = closeness + {DISAGREEMENT_WEIGHT} × disagreement, in [0, {1 + DISAGREEMENT_WEIGHT}]",
    f"  closeness = 1 / (1 + ((score − covered threshold) / ({NEAR_WIDTH_Z} × sum of fusion weights))²): 1 on the threshold",
    f"  disagreement = min(1, |semantic − lexical/exemplar channels' percentile rank| / {DISAGREEMENT_FULL})",
    f"证据 Evidence: 至多 {EVIDENCE_SHOWN} 条本文件得分最高的条款（页码、原文）。Up to {EVIDENCE_SHOWN} best clauses of the document, with page.",
    "",
    "导入 Import: compare review import FILE.xlsx --reviewer NAME",
    "",
)


def sheet_names(documents: Sequence[ReviewDocument]) -> list[str]:
    """A unique, valid sheet name per document: its label and document number, cut to Excel's limit."""
    names: list[str] = []
    taken = {README_SHEET.lower(), LISTS_SHEET, EXPORT_SHEET}
    for doc in documents:
        label = printable(f"{doc.label} {doc.doc_number}").strip()
        base = _BAD_SHEET_CHARS.sub("_", label)[:MAX_SHEET_NAME].strip("' ")
        name, n = base or doc.doc_id, 2
        while name.lower() in taken:
            suffix = f" ({n})"
            name, n = base[: MAX_SHEET_NAME - len(suffix)] + suffix, n + 1
        taken.add(name.lower())
        names.append(name)
    return names


def _within_cell_limit(text: str) -> str:
    units = text.encode("utf-16-le", "surrogatepass")
    if len(units) <= 2 * MAX_CELL_CHARS:
        return text
    return units[: 2 * (MAX_CELL_CHARS - 1)].decode("utf-16-le", "ignore") + "…"


def _store(cell: Cell, value: Any) -> Cell:
    """Put ``value`` into ``cell``: text as a text cell (see the module docstring), anything else as it is."""
    if not isinstance(value, str):
        cell.value = value
        return cell
    text = _within_cell_limit(_LINE_BREAKS.sub("\n", printable(value)))
    cell.value = text
    cell.data_type = "s"  # openpyxl takes text starting with "=" for a formula
    if formula_like(text):
        cell.quotePrefix = True
    return cell


def _append(sheet: Worksheet, values: Sequence[Any]) -> None:
    """Append a row to ``sheet``, every value stored by ``_store``."""
    sheet.append([_store(Cell(sheet), v) for v in values])


def _put(sheet: Worksheet, row: int, column: int, value: Any) -> Cell:
    """Write one cell of ``sheet`` with ``_store``."""
    return _store(sheet.cell(row, column), value)


def _evidence_text(evidence: Any) -> str:
    return f"[p.{evidence.page}] {evidence.text}" if evidence.page is not None else evidence.text


def _row(rank: int, cell: Any) -> list[Any]:
    top = cell.evidence[0] if cell.evidence else None
    others = cell.evidence[1:]
    values = {
        "rank": rank,
        "measure_id": cell.measure_id,
        "section_zh": cell.section_zh,
        "measure_title_en": cell.title_en,
        "machine_status": cell.status,
        "score": round(cell.score, 4),
        "page": top.page if top else None,
        "evidence": top.text if top else "",
        "other_evidence": "\n".join(f"{i}. {_evidence_text(e)}" for i, e in enumerate(others, start=2)),
        "verdict": None,
        "clause": None,
        "reviewer": None,
        "note": None,
        "previous_review": cell.previous or "",
        "priority": round(cell.priority.value, 4),
        "why": cell.priority.reason(),
        "cell_key": cell.cell_key,
        "doc_id": cell.doc_id,
        "evidence_clause_id": top.clause_id if top else "",
        "other_clause_ids": ",".join(e.clause_id for e in others),
    }
    return [values[key] for key in COLUMN_KEYS]


def _style_sheet(sheet: Worksheet, n_rows: int, verdicts: DataValidation) -> None:
    font = Font(name=FONT_NAME, size=FONT_SIZE)
    header_font = Font(name=FONT_NAME, size=FONT_SIZE, bold=True)
    border = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = column.width
        header = sheet.cell(HEADER_ROW, index)
        header.font, header.fill, header.border = header_font, HEADER_FILL, border
        header.alignment = Alignment(wrap_text=True, vertical="top")
        for row in range(FIRST_DATA_ROW, FIRST_DATA_ROW + n_rows):
            cell = sheet.cell(row, index)
            cell.font, cell.border = font, border
            cell.alignment = Alignment(wrap_text=column.wrap, vertical="top")
            if column.number_format:
                cell.number_format = column.number_format
            if column.reviewer:
                cell.fill = INPUT_FILL
    verdict_letter = get_column_letter(COLUMN_KEYS.index("verdict") + 1)
    if n_rows:
        verdicts.add(f"{verdict_letter}{FIRST_DATA_ROW}:{verdict_letter}{FIRST_DATA_ROW + n_rows - 1}")
    sheet.freeze_panes = FREEZE_AT
    sheet.auto_filter.ref = f"A{HEADER_ROW}:{get_column_letter(len(COLUMNS))}{HEADER_ROW + n_rows}"
    sheet.sheet_view.zoomScale = 110


def _verdict_validation(n_choices: int) -> DataValidation:
    validation = DataValidation(
        type="list",
        formula1=f"'{LISTS_SHEET}'!$A$1:$A${n_choices}",
        allow_blank=True,
        showErrorMessage=True,
        showInputMessage=True,
        errorTitle="判定 verdict",
        error="covered / partial / absent, 或另一项措施编号 or another measure id (II.3.2)",
        promptTitle="判定 verdict",
        prompt="covered / partial / absent / 另一项措施编号 (首选证据条款实际落实的措施)",
    )
    return validation


def write_workbook(
    documents: Sequence[ReviewDocument],
    measure_ids: Sequence[str],
    out: Path,
    export: dict[str, str],
) -> Path:
    """The review workbook for these documents (one sheet each), saved to ``out``."""
    if out.suffix.lower() != ".xlsx":
        raise ReviewError(f"{out}: the review workbook must be an .xlsx file")
    book = Workbook()
    readme = book.active
    readme.title = README_SHEET
    names = sheet_names(documents)
    for line in README_LINES:
        _append(readme, [line])
    _append(
        readme,
        [
            "工作表 sheet",
            "文件 file",
            "文号 number",
            "单元格 cells",
            "已审核 reviewed",
            "最高优先级 top priority",
            "doc_id",
        ],
    )
    for name, doc in zip(names, documents, strict=True):
        top = max((c.priority.value for c in doc.cells if c.previous is None), default=0.0)
        _append(
            readme,
            [name, doc.file_name, doc.doc_number, len(doc.cells), doc.reviewed, round(top, 3), doc.doc_id],
        )
    readme.column_dimensions["A"].width = 28
    for letter in "BCDEFG":
        readme.column_dimensions[letter].width = 20
    for row in readme.iter_rows():
        for cell in row:
            cell.font = Font(name=FONT_NAME, size=FONT_SIZE, bold=cell.row == 1)

    lists = book.create_sheet(LISTS_SHEET)
    choices = [*CELL_VERDICTS, *measure_ids]
    for value in choices:
        _append(lists, [str(value)])
    lists.sheet_state = "hidden"

    for name, doc in zip(names, documents, strict=True):
        sheet = book.create_sheet(name)
        caption = f"{doc.label}  {doc.doc_number}  {doc.title}  —  {doc.file_name}  (doc_id {doc.doc_id}, sha256 {doc.sha256[:16]}…)"
        _put(sheet, CAPTION_ROW, 1, caption).font = Font(name=FONT_NAME, size=FONT_SIZE + 1, bold=True)
        for index, column in enumerate(COLUMNS, start=1):
            _put(sheet, HEADER_ROW, index, f"{column.key}\n{column.label}")
        for rank, cell in enumerate(doc.cells, start=1):
            _append(sheet, _row(rank, cell))
        validation = _verdict_validation(len(choices))
        sheet.add_data_validation(validation)
        _style_sheet(sheet, len(doc.cells), validation)

    meta = book.create_sheet(EXPORT_SHEET)
    for key, value in {
        "format": WORKBOOK_FORMAT,
        "exported_at": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
        **export,
    }.items():
        _append(meta, [key, value])
    meta.sheet_state = "hidden"
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return out


@dataclass(frozen=True)
class SheetRow:
    """A filled row of a review sheet: its place in the workbook and its values by column key."""

    sheet: str
    row: int
    values: dict[str, Any]

    @property
    def where(self) -> str:
        return f"sheet '{self.sheet}' row {self.row}"


@dataclass
class WorkbookRows:
    """What a review workbook holds: the export record, filled rows, problems with its shape."""

    export: dict[str, str]
    rows: list[SheetRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unfilled_notes: list[str] = field(default_factory=list)


def _header_key(value: Any) -> str:
    return str(value).strip().split("\n")[0].strip().lower() if value is not None else ""


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_workbook(path: Path, *, max_bytes: int | None = None, max_rows: int | None = None) -> WorkbookRows:
    """Every row with a verdict, clause, reviewer or note, from every review sheet of the workbook.

    The workbook is streamed (openpyxl's read-only mode: memory stays flat however many rows it
    has). ``max_bytes`` and ``max_rows`` cap the file's size and the rows of its review sheets:
    both are checked before a row is read (the rows as each sheet declares them), and the rows
    again as they are read; a workbook over either stops with a ``LimitError``.
    """
    if not path.is_file():
        raise ReviewError(f"{path}: {'a folder, not a workbook' if path.is_dir() else 'no such file'}")
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise LimitError(
            f"{path}: {size:,} bytes, over the review workbook limit of {max_bytes:,} bytes; "
            f"import it in parts (compare review export --skip-reviewed writes a smaller one), or raise "
            f"the limit with {env_name('review_max_bytes')}",
            env_name("review_max_bytes"),
        )
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a file that is not a workbook
        raise ReviewError(f"{path.name}: not an .xlsx workbook ({type(exc).__name__}: {exc})") from exc
    try:
        return _workbook_rows(path, book, max_rows)
    finally:
        book.close()


def _too_many_rows(path: Path, rows: int, max_rows: int, declared: bool) -> LimitError:
    counted = "declares" if declared else "has more than"
    return LimitError(
        f"{path}: its review sheets {counted} {rows:,} rows, over the review workbook limit of {max_rows:,} rows; "
        f"import it in parts (compare review export --skip-reviewed writes a smaller one), or raise the "
        f"limit with {env_name('review_max_rows')}",
        env_name("review_max_rows"),
    )


def _workbook_rows(path: Path, book: Any, max_rows: int | None) -> WorkbookRows:
    if EXPORT_SHEET not in book.sheetnames:
        raise ReviewError(
            f"{path.name}: no {EXPORT_SHEET} sheet; not a workbook written by `compare review export`"
        )
    export = {
        str(k): "" if v is None else str(v)
        for k, v, *_ in book[EXPORT_SHEET].iter_rows(values_only=True)
        if k is not None
    }
    if export.get("format") != WORKBOOK_FORMAT:
        raise ReviewError(
            f"{path.name}: workbook format {export.get('format')!r}, expected {WORKBOOK_FORMAT!r}"
        )
    sheets = [s for s in book.worksheets if s.title not in {README_SHEET, LISTS_SHEET, EXPORT_SHEET}]
    declared = sum(s.max_row or 0 for s in sheets)
    if max_rows is not None and declared > max_rows:
        raise _too_many_rows(path, declared, max_rows, declared=True)
    result = WorkbookRows(export)
    seen = 0
    for sheet in sheets:
        sheet.reset_dimensions()  # read every row the sheet holds, whatever its header declares
        header_row, keys = None, {}
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            seen += 1
            if max_rows is not None and seen > max_rows:
                raise _too_many_rows(path, max_rows, max_rows, declared=False)
            if header_row is None:
                if number > HEADER_SEARCH_ROWS:
                    break
                found = {_header_key(v): column for column, v in enumerate(row, start=1) if _header_key(v)}
                if "cell_key" in found:
                    header_row, keys = number, found
                    if missing := [k for k in REQUIRED_KEYS if k not in keys]:
                        result.problems.append(
                            f"sheet '{sheet.title}' row {header_row}: missing columns {', '.join(missing)}"
                        )
                        break
                continue
            values = {key: row[column - 1] if column <= len(row) else None for key, column in keys.items()}
            if all(_blank(values.get(k)) for k in ("verdict", "clause", "reviewer", "note")):
                continue
            where = SheetRow(sheet.title, number, values)
            if _blank(values.get("verdict")):
                result.unfilled_notes.append(f"{where.where}: no verdict; the row is not imported")
                continue
            result.rows.append(where)
        if header_row is None:
            result.problems.append(
                f"sheet '{sheet.title}': no header row with a cell_key column; not a review sheet"
            )
    return result


def export_workbook(
    warehouse_path: Path, out: Path, *, skip_reviewed: bool = False
) -> tuple[Path, list[ReviewDocument]]:
    """Write the review workbook of every ok document in the published warehouse."""
    with warehouse.read_only(warehouse_path) as con:
        documents = review_documents(con)
        measure_ids = [r[0] for r in con.execute(MEASURE_IDS_SQL).fetchall()]
        run = con.execute("SELECT max(run_id) FROM runs").fetchone()
    if not documents:
        raise ReviewError(f"{warehouse_path}: no document with status ok to review; run `compare run` first")
    if skip_reviewed:
        documents = [replace(d, cells=tuple(c for c in d.cells if c.previous is None)) for d in documents]
    export = {"warehouse": str(warehouse_path.resolve()), "run_id": (run[0] if run else "") or ""}
    export |= {f"{DOCUMENT_KEY}{d.doc_id}": d.file_name for d in documents}
    return write_workbook(documents, measure_ids, out, export), documents
