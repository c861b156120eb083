"""Exemplars: labelled items of other documents, never of the clause's own."""

from __future__ import annotations

import numpy as np

from compare.match.exemplars import ExemplarBank, exemplar_bank, exemplar_scores
from tests.conftest import CORPUS

MEMBERSHIP = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0]], dtype=bool)
BANK = ExemplarBank(texts=("a", "b", "c"), doc_ids=("d1", "d2", "d2"), membership=MEMBERSHIP)


def test_own_document_and_excluded_documents_do_not_count():
    cosines = np.array([[0.9, 0.5, 0.7], [0.9, 0.5, 0.7]], dtype=np.float32)
    scores = exemplar_scores(cosines, BANK, ["d1", "d3"])
    # measure 0: d1's clause may only use exemplar "c" (0.7); d3's clause uses the best, "a" (0.9)
    assert np.allclose(scores[:, 0], [0.7, 0.9])
    assert np.allclose(scores[:, 1], [0.5, 0.5])
    # measure 2 has no exemplar: it gets the clause's lowest score
    assert np.allclose(scores[:, 2], [0.5, 0.5])
    only_d1 = exemplar_scores(cosines, BANK, ["d3", "d3"], excluded=frozenset({"d2"}))
    assert np.allclose(only_d1[:, 0], 0.9) and np.allclose(only_d1[:, 1], 0.9)


def test_bank_from_the_sample_labels(catalogue):
    bank = exemplar_bank(CORPUS, catalogue)
    assert len(bank) > 200 and len(bank.source_docs) >= 6
    assert bank.membership.shape == (len(bank), 65) and bank.membership.any(axis=1).all()
    assert all(len(d) == 16 for d in bank.doc_ids)


def test_no_folder_gives_an_empty_bank(catalogue, tmp_path):
    assert len(exemplar_bank(None, catalogue)) == 0
    assert len(exemplar_bank(tmp_path, catalogue)) == 0
