"""Builders for the review tests: a small warehouse scored with the hashing encoder, and filling a workbook."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from compare.review.workbook import COLUMN_KEYS, HEADER_ROW
from compare.run import pipeline
from compare.settings import Settings
from tests.conftest import CORPUS

#: Two sample plans: a province that follows the national actions and a terse city plan.
SAMPLES = ("guizhou-2015-35.pdf", "ningbo-2016-29.pdf")


def corpus_with_samples(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in SAMPLES:
        shutil.copy(CORPUS / name, folder / name)
    return folder


def run(corpus: Path, warehouse: Path) -> None:
    """One pipeline run with the fast, deterministic hashing encoder."""
    settings = Settings.from_env(corpus=corpus, warehouse=warehouse, models="hashing")
    pipeline.run(settings)


def column(key: str) -> int:
    return COLUMN_KEYS.index(key) + 1


def sheet_rows(path: Path, sheet: str) -> list[dict[str, Any]]:
    """The data rows of a sheet as dicts (with their row number under ``_row``)."""
    book = load_workbook(path)
    ws = book[sheet]
    rows = []
    for row in ws.iter_rows(min_row=HEADER_ROW + 1):
        values = {key: row[i].value for i, key in enumerate(COLUMN_KEYS)}
        values["_row"] = row[0].row
        rows.append(values)
    return rows


def fill(path: Path, edits: Mapping[tuple[str, int], Mapping[str, Any]], out: Path | None = None) -> Path:
    """Write values into (sheet, row) cells by column key, as an expert would in a spreadsheet program."""
    book = load_workbook(path)
    for (sheet, row), values in edits.items():
        for key, value in values.items():
            book[sheet].cell(row, column(key), value)
    target = out or path
    book.save(target)
    return target


def document_sheet(path: Path, file_name: str) -> str:
    """The sheet name of a document, from the README sheet's index."""
    book = load_workbook(path)
    for row in book.worksheets[0].iter_rows(values_only=True):
        if len(row) > 1 and row[1] == file_name:
            return str(row[0])
    raise AssertionError(f"{file_name} has no sheet in {path}")
