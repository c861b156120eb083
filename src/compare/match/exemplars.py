"""Labelled provincial items as exemplars of the national measures.

The national plan is matched through its English translation, so a Chinese clause is always
compared across languages. Labelled items from other provincial plans are Chinese examples of
how provinces write each measure: a clause close to one of them is likely to implement the
same measure. The exemplar channel scores a clause against a measure by its best similarity
to that measure's exemplars, never counting exemplars taken from the clause's own document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compare.ingest.extract import sha256_of
from compare.ingest.normalize import for_matching
from compare.match.catalogue import Catalogue
from compare.match.labels import label_files, pdf_for, read_labels
from compare.match.scoring import ABSOLUTE_SUFFIX, row_z

#: Document id length (hex characters of the file's sha256), as in the documents table.
DOC_ID_HEX = 16


@dataclass(frozen=True)
class ExemplarBank:
    """Exemplar texts, the document each came from, and which measures each exemplifies."""

    texts: tuple[str, ...]
    doc_ids: tuple[str, ...]
    membership: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def source_docs(self) -> frozenset[str]:
        return frozenset(self.doc_ids)


def exemplar_bank(folder: Path | None, catalogue: Catalogue) -> ExemplarBank:
    """Every labelled item with a measure in the folder's label files (an empty bank for None)."""
    texts: list[str] = []
    doc_ids: list[str] = []
    rows: list[np.ndarray] = []
    index = {m: j for j, m in enumerate(catalogue.ids)}
    if folder is not None and folder.is_dir() and any(folder.glob("*.labels.tsv")):
        for labels in label_files(folder):
            try:
                doc_id = sha256_of(pdf_for(labels, None))[:DOC_ID_HEX]
            except Exception:  # a label file without its PDF still gives exemplars
                doc_id = labels.name
            for item in read_labels(labels, catalogue):
                if item.is_none:
                    continue
                row = np.zeros(len(catalogue), dtype=bool)
                row[[index[m] for m in item.measure_ids]] = True
                texts.append(for_matching(item.text))
                doc_ids.append(doc_id)
                rows.append(row)
    membership = np.stack(rows) if rows else np.zeros((0, len(catalogue)), dtype=bool)
    return ExemplarBank(tuple(texts), tuple(doc_ids), membership)


def exemplar_scores(
    cosines: np.ndarray,
    bank: ExemplarBank,
    clause_doc_ids: Sequence[str],
    excluded: frozenset[str] = frozenset(),
) -> np.ndarray:
    """clause x measure: the best cosine with an allowed exemplar of the measure.

    Exemplars from the clause's own document, or from ``excluded`` documents, are not allowed.
    A measure with no allowed exemplar gets the clause's lowest score (it cannot stand out).
    """
    n_clauses, n_measures = cosines.shape[0], bank.membership.shape[1]
    if n_clauses == 0 or len(bank) == 0:
        return np.zeros((n_clauses, n_measures), dtype=np.float32)
    sources = np.asarray(bank.doc_ids)
    allowed = sources[None, :] != np.asarray(clause_doc_ids)[:, None]
    if excluded:
        allowed &= ~np.isin(sources, list(excluded))[None, :]
    masked = np.where(allowed, cosines, -np.inf)
    result = np.full((n_clauses, n_measures), -np.inf, dtype=np.float32)
    for j in range(n_measures):
        members = bank.membership[:, j]
        if members.any():
            result[:, j] = masked[:, members].max(axis=1)
    finite = np.isfinite(result)
    floor = np.where(finite, result, np.inf).min(axis=1, keepdims=True)
    floor = np.where(np.isfinite(floor), floor, 0.0)
    return np.where(finite, result, floor).astype(np.float32)


#: Suffix of the exemplar channel's name: ``<model>:ex``.
EXEMPLAR_SUFFIX = ":ex"


def exemplar_channels(
    cosines: dict[str, np.ndarray],
    bank: ExemplarBank,
    clause_doc_ids: Sequence[str],
    excluded: frozenset[str] = frozenset(),
) -> dict[str, np.ndarray]:
    """Two exemplar channels per model, from clause x exemplar cosines: the best cosine with each
    measure's exemplars z-normalized per clause (``<model>:ex``), and as it is (``<model>:ex:abs``)."""
    if len(bank) == 0:
        return {}
    result = {}
    for spec, matrix in cosines.items():
        scores = exemplar_scores(matrix, bank, clause_doc_ids, excluded)
        result[spec + EXEMPLAR_SUFFIX] = row_z(scores)
        result[spec + EXEMPLAR_SUFFIX + ABSOLUTE_SUFFIX] = np.asarray(scores, dtype=np.float32)
    return result
