"""Gold label files: ``<pdf stem>.labels.tsv`` with columns ``item_text`` and ``measure_ids``.

``item_text`` is a labelled item as printed; ``measure_ids`` is a comma-separated list of
catalogue ids, or ``none`` for an item that implements no national measure.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from compare.errors import LabelError
from compare.match.catalogue import Catalogue

NONE_LABEL = "none"


@dataclass(frozen=True)
class LabelledItem:
    """One row of a label file."""

    row: int
    text: str
    measure_ids: frozenset[str]

    @property
    def is_none(self) -> bool:
        return not self.measure_ids


def read_labels(path: Path, catalogue: Catalogue) -> list[LabelledItem]:
    """The rows of a label file, checked: known ids only, no empty text. Errors name the row."""
    known = set(catalogue.ids)
    items: list[LabelledItem] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        if reader.fieldnames is None or {"item_text", "measure_ids"} - set(reader.fieldnames):
            raise LabelError(f"{path.name}: expected a header with columns item_text and measure_ids")
        for row_no, row in enumerate(reader, start=2):
            text = (row.get("item_text") or "").strip()
            raw_ids = (row.get("measure_ids") or "").strip()
            if not text or not raw_ids:
                raise LabelError(f"{path.name} row {row_no}: empty item_text or measure_ids")
            ids = frozenset() if raw_ids == NONE_LABEL else frozenset(i.strip() for i in raw_ids.split(","))
            unknown = sorted(ids - known)
            if unknown:
                raise LabelError(f"{path.name} row {row_no}: unknown measure ids {', '.join(unknown)}")
            items.append(LabelledItem(row=row_no, text=text, measure_ids=ids))
    return items


def label_files(gold: Path) -> list[Path]:
    """Every ``*.labels.tsv`` in the gold folder, sorted."""
    if not gold.is_dir():
        raise LabelError(f"{gold}: gold folder does not exist")
    files = sorted(gold.glob("*.labels.tsv"))
    if not files:
        raise LabelError(f"{gold}: no *.labels.tsv files")
    return files


def pdf_for(labels: Path, corpus: Path | None) -> Path:
    """The PDF a label file describes: ``<stem>.pdf`` beside it, or in the corpus folder."""
    stem = labels.name.removesuffix(".labels.tsv")
    for folder in (labels.parent, corpus):
        if folder is not None and (folder / f"{stem}.pdf").is_file():
            return folder / f"{stem}.pdf"
    raise LabelError(f"{labels.name}: no {stem}.pdf beside it or in the corpus folder")
