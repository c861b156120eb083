"""Reviews as labelled data: verdicts merged into the labelled documents that ``compare evaluate`` judges and calibrates on.

What a verdict says (``with_reviews``):
- ``covered`` or ``partial``: the document states the measure — the cell is covered (the gold
  has no partial: a partial verdict is a covered cell), and the verdict's clause becomes a
  labelled item for the measure;
- ``absent``: the cell is not covered, and the verdict's clause loses the measure if a label gave it;
- another measure's id (``reassigned``): the cell is not covered; the clause is relabelled from
  the cell's measure to the named one, whose cell is covered.

A verdict wins over a label file. A document with a label file stays completely labelled (every
cell counts); a document known only from reviews is judged on its reviewed cells only
(``LabelledDocument.judged_cells``). Reviews of a document belong to that document's fold:
leave-one-document-out never calibrates on the reviews of the document it judges.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from compare.ingest.extract import sha256_of
from compare.ingest.parse import parse_document
from compare.match.catalogue import Catalogue
from compare.match.evaluate import LabelledDocument, locate
from compare.match.labels import LabelledItem
from compare.match.scorer import Scorer
from compare.records import CoverageStatus
from compare.review.queue import REASSIGNED, Verdict
from compare.store import warehouse

REVIEWS_SQL = """
SELECT doc_id, doc_sha256, file_name, measure_id, verdict, reassigned_to, clause_id, clause_text, source_row
FROM reviews_latest ORDER BY reviewed_at, source_file, source_sheet, source_row
"""
_COVERING = frozenset({CoverageStatus.COVERED, CoverageStatus.PARTIAL})


@dataclass(frozen=True)
class ReviewedCell:
    """A verdict as evaluation uses it: the cell, the verdict, the clause it is about."""

    doc_id: str
    measure_id: str
    verdict: Verdict
    clause_id: str | None
    clause_text: str | None = None
    row: int = 0


@dataclass(frozen=True)
class ReviewedFile:
    """A reviewed document's file: where to find it again."""

    file_name: str
    sha256: str


def current_reviews(path: Path) -> tuple[dict[str, list[ReviewedCell]], dict[str, ReviewedFile]]:
    """The latest current verdict on every reviewed cell, by document, and each reviewed document's file."""
    with warehouse.read_only(path) as con:
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
        if "reviews_latest" not in views:
            return {}, {}
        rows = con.execute(REVIEWS_SQL).fetchall()
    by_doc: dict[str, list[ReviewedCell]] = {}
    files: dict[str, ReviewedFile] = {}
    for doc_id, sha256, file_name, measure_id, verdict, reassigned_to, clause_id, clause_text, row in rows:
        by_doc.setdefault(doc_id, []).append(
            ReviewedCell(
                doc_id, measure_id, Verdict(verdict, reassigned_to), clause_id, clause_text, row or 0
            )
        )
        files[doc_id] = ReviewedFile(file_name, sha256)
    return by_doc, files


def _clause_row(doc: LabelledDocument, cell: ReviewedCell, rows: dict[str, int]) -> int | None:
    if cell.clause_id in rows:
        return rows[cell.clause_id]
    if cell.clause_text:  # the document was segmented differently: find the clause by its text
        found = locate([LabelledItem(cell.row, cell.clause_text, frozenset())], doc.doc.clauses).get(0, [])
        return found[0] if found else None
    return None


def with_reviews(doc: LabelledDocument, cells: Sequence[ReviewedCell], *, complete: bool) -> LabelledDocument:
    """The document with these verdicts merged into its labels (module docstring), applied in order.

    ``complete``: the document's labels cover all of it (a label file), so every cell still
    counts; otherwise only the reviewed cells (and cells a reassignment names) are judged.
    """
    rows = {c.clause_id: i for i, c in enumerate(doc.doc.clauses)}
    item_of_row = {r: index for index, located in doc.located.items() for r in located}
    labels: dict[tuple[str, int], set[str]] = {}
    first_seen: dict[tuple[str, int], ReviewedCell] = {}
    positive, negative = set(doc.positive_cells), set(doc.negative_cells)
    judged = set(doc.judged_cells or ())

    def mark(measure_id: str, covered: bool) -> None:
        judged.add(measure_id)
        (positive if covered else negative).add(measure_id)
        (negative if covered else positive).discard(measure_id)

    for cell in cells:
        if cell.doc_id != doc.doc.doc_id:
            raise ValueError(f"a verdict on document {cell.doc_id} cannot be merged into {doc.doc.doc_id}")
        verdict = cell.verdict
        mark(cell.measure_id, verdict.status in _COVERING)
        if verdict.verdict == REASSIGNED and verdict.reassigned_to:
            mark(verdict.reassigned_to, True)
        row = _clause_row(doc, cell, rows)
        if row is None:
            continue
        key = ("item", item_of_row[row]) if row in item_of_row else ("clause", row)
        if key not in labels:
            labels[key] = set(doc.items[key[1]].measure_ids) if key[0] == "item" else set()
            first_seen[key] = cell
        if verdict.verdict == REASSIGNED and verdict.reassigned_to:
            labels[key].discard(cell.measure_id)
            labels[key].add(verdict.reassigned_to)
        elif verdict.status in _COVERING:
            labels[key].add(cell.measure_id)
        else:
            labels[key].discard(cell.measure_id)

    items = list(doc.items)
    located = dict(doc.located)
    for (kind, index), measures in labels.items():
        if kind == "item":
            items[index] = replace(items[index], measure_ids=frozenset(measures))
        elif measures:
            clause = doc.doc.clauses[index]
            located[len(items)] = [index]
            items.append(LabelledItem(first_seen[(kind, index)].row, clause.text, frozenset(measures)))
    return replace(
        doc,
        items=items,
        located=located,
        positive_cells=frozenset(positive),
        negative_cells=frozenset(negative),
        judged_cells=None if complete else frozenset(judged),
    )


def _find_file(corpus: Path, reviewed: ReviewedFile) -> Path | None:
    """The reviewed file in the corpus folder, by its name, else by its content among the PDFs."""
    direct = corpus / reviewed.file_name
    if direct.is_file() and sha256_of(direct) == reviewed.sha256:
        return direct
    name = Path(reviewed.file_name).name
    for candidate in sorted(corpus.rglob(name)) if corpus.is_dir() else ():
        if candidate.is_file() and sha256_of(candidate) == reviewed.sha256:
            return candidate
    return None


def review_extender(
    warehouse_path: Path, corpus: Path, scorer: Scorer, catalogue: Catalogue, notes: list[str]
) -> Callable[[list[LabelledDocument]], list[LabelledDocument]]:
    """For ``evaluate(extend=...)``: merge the warehouse's current reviews into the labelled documents.

    Reviewed documents with a label file get their verdicts merged; other reviewed documents are
    read from the corpus folder and join as documents judged on their reviewed cells. What was
    merged, and what could not be, is appended to ``notes``.
    """

    def extend(docs: list[LabelledDocument]) -> list[LabelledDocument]:
        by_doc, files = current_reviews(warehouse_path)
        position = {d.doc.doc_id: i for i, d in enumerate(docs)}
        result = list(docs)
        merged = added = 0
        for doc_id, cells in by_doc.items():
            if doc_id in position:
                result[position[doc_id]] = with_reviews(docs[position[doc_id]], cells, complete=True)
                merged += 1
                continue
            pdf = _find_file(corpus, files[doc_id])
            parsed = parse_document(pdf) if pdf is not None else None
            if parsed is None or not parsed.ok:
                notes.append(
                    f"reviews of {files[doc_id].file_name} not used: no readable file with its content in {corpus}"
                )
                continue
            base = LabelledDocument(
                parsed,
                [],
                {},
                scorer.measure_channels(parsed.clauses),
                catalogue.ids,
                scorer.exemplar_cosines(parsed.clauses),
                scorer.bank,
                judged_cells=frozenset(),
            )
            result.append(with_reviews(base, cells, complete=False))
            added += 1
        total = sum(len(c) for c in by_doc.values())
        notes.append(
            f"reviews: {total} verdicts from {warehouse_path}; merged into {merged} labelled documents, "
            f"{added} more documents judged on their reviewed cells only"
        )
        return result

    return extend
