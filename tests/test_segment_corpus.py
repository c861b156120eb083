"""The sample corpus: every labelled item of corpora/provincial/<stem>.labels.tsv comes out as one clause
(or as the parts of one split item, which together are the item)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from compare.ingest.extract import pages
from compare.ingest.segment import clauses

CORPUS = Path(__file__).resolve().parents[1] / "corpora" / "provincial"
LABELLED = sorted(
    p for p in CORPUS.glob("*.labels.tsv") if (CORPUS / p.name.replace(".labels.tsv", ".pdf")).is_file()
)
#: Share of labelled items that must be found as clauses exactly.
MIN_FOUND_SHARE = 0.97


def found_items(labels: Path) -> tuple[int, list[str]]:
    pdf = CORPUS / labels.name.replace(".labels.tsv", ".pdf")
    found = clauses(pdf.stem, pages(pdf))
    texts = {c.text for c in found}
    joined: dict[str, str] = {}
    for clause in found:
        if "#" in clause.path:
            base = clause.path.split("#")[0]
            joined[base] = joined.get(base, "") + clause.text
    texts |= set(joined.values())
    with labels.open(encoding="utf-8") as handle:
        items = [row["item_text"].strip() for row in csv.DictReader(handle, delimiter="\t")]
    return len(items), [item for item in items if item not in texts]


@pytest.mark.slow
@pytest.mark.skipif(not LABELLED, reason="no labelled corpus documents yet")
@pytest.mark.parametrize("labels", LABELLED, ids=lambda p: p.name.split(".")[0])
def test_labelled_items_are_clauses(labels):
    total, missing = found_items(labels)
    assert total > 0
    assert (total - len(missing)) / total >= MIN_FOUND_SHARE, missing
