"""Gold reuse labels (``<stem>.reuse.tsv``) and gold homogeneity rankings, read and located.

A reuse label file lies beside its document's PDF: tab-separated, header
``clause_text	source_document	source_text	kind``; ``clause_text`` is an item of ``<stem>``,
``source_document`` the stem of the document it was taken from, ``source_text`` the item there,
``kind`` ``verbatim`` or ``paraphrase``. Every pair of clauses not listed counts as no reuse.

The homogeneity file (``homogeneity.tsv``) ranks a few national measures: header
``measure_id	rank	reason``, rank 1 the most homogeneous (the provinces' evidence clauses most
alike in wording).
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from compare.diffusion.index import KINDS
from compare.diffusion.stages import Clause, for_matching
from compare.errors import LabelError

REUSE_SUFFIX = ".reuse.tsv"
REUSE_HEADER = ("clause_text", "source_document", "source_text", "kind")
HOMOGENEITY_FILE = "homogeneity.tsv"
HOMOGENEITY_HEADER = ("measure_id", "rank", "reason")
#: A labelled item and a clause are the same text when this alike (after normalization).
MIN_LOCATE_RATIO = 0.9
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ReuseLabel:
    """One labelled reuse pair."""

    stem: str
    row: int
    clause_text: str
    source_stem: str
    source_text: str
    kind: str


@dataclass(frozen=True)
class HomogeneityLabel:
    measure_id: str
    rank: int
    reason: str


def _rows(path: Path, header: Sequence[str]) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        if tuple(reader.fieldnames or ()) != tuple(header):
            raise LabelError(f"{path.name}: header must be {'<TAB>'.join(header)}, got {reader.fieldnames}")
        return list(reader)


def read_reuse_labels(path: Path) -> list[ReuseLabel]:
    """The labelled pairs of one ``<stem>.reuse.tsv``; a bad row is named with what to fix."""
    stem = path.name.removesuffix(REUSE_SUFFIX)
    labels = []
    for number, row in enumerate(_rows(path, REUSE_HEADER), start=2):
        kind = (row.get("kind") or "").strip()
        if kind not in KINDS:
            raise LabelError(f"{path.name} row {number}: kind must be {' or '.join(KINDS)}, got {kind!r}")
        if not (row.get("clause_text") or "").strip() or not (row.get("source_text") or "").strip():
            raise LabelError(f"{path.name} row {number}: clause_text and source_text must both be given")
        labels.append(
            ReuseLabel(
                stem,
                number,
                row["clause_text"].strip(),
                row["source_document"].strip(),
                row["source_text"].strip(),
                kind,
            )
        )
    return labels


def reuse_label_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{REUSE_SUFFIX}"))


def read_homogeneity_labels(path: Path, measure_ids: Sequence[str] | None = None) -> list[HomogeneityLabel]:
    """The labelled measures, by rank; unknown measures and repeated ranks are refused."""
    labels = []
    for number, row in enumerate(_rows(path, HOMOGENEITY_HEADER), start=2):
        measure = row["measure_id"].strip()
        if measure_ids is not None and measure not in measure_ids:
            raise LabelError(f"{path.name} row {number}: unknown measure id {measure!r}")
        try:
            rank = int(row["rank"])
        except ValueError as exc:
            raise LabelError(
                f"{path.name} row {number}: rank must be a whole number, got {row['rank']!r}"
            ) from exc
        labels.append(HomogeneityLabel(measure, rank, row["reason"].strip()))
    ranks = [label.rank for label in labels]
    if len(set(ranks)) != len(ranks):
        raise LabelError(f"{path.name}: ranks repeat; give each measure its own rank (1 = most homogeneous)")
    return sorted(labels, key=lambda label: label.rank)


def _key(text: str) -> str:
    return _SPACE.sub("", for_matching(text))


def locate(text: str, clauses: Sequence[Clause]) -> list[str]:
    """The clause ids that make up a labelled item: the clause with its text, the parts of a
    split item, or the one alike by at least ``MIN_LOCATE_RATIO``; empty when none is."""
    key = _key(text)
    keys = [(_key(c.text), c.clause_id) for c in clauses]
    exact = [cid for k, cid in keys if k == key]
    if exact:
        return exact[:1]
    parts = [cid for k, cid in keys if len(k) >= 2 and k in key]
    if parts and sum(len(k) for k, cid in keys if cid in parts) >= MIN_LOCATE_RATIO * len(key):
        return parts
    best, ratio = None, 0.0
    for k, cid in keys:
        matcher = difflib.SequenceMatcher(None, key, k, autojunk=False)
        if matcher.quick_ratio() < max(ratio, MIN_LOCATE_RATIO):
            continue
        if (r := matcher.ratio()) > ratio:
            best, ratio = cid, r
    return [best] if best is not None and ratio >= MIN_LOCATE_RATIO else []
