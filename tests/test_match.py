"""Scoring and decisions: z-normalization, pooling, top-k, coverage cells, clause decisions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from compare.match.scoring import (
    Fusion,
    Passages,
    Thresholds,
    clause_query,
    coverage,
    decisions,
    measure_passages,
    row_z,
    top_matches,
)
from compare.records import ClauseKind, CoverageStatus
from tests.helpers import clause

IDS = ["A", "B", "C", "D"]


def test_row_z_centres_and_scales_each_clause():
    z = row_z(np.array([[0.80, 0.82, 0.84, 0.86], [0.1, 0.1, 0.1, 0.1]], dtype=np.float32))
    assert np.allclose(z[0].mean(), 0, atol=1e-5) and np.isclose(z[0].std(), 1, atol=1e-5)
    assert np.all(z[1] == 0)
    assert z[0].argmax() == 3


@given(
    arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(2, 8)), elements=st.floats(-1, 1, width=32))
)
@settings(max_examples=50, deadline=None)
def test_row_z_is_finite_and_keeps_order(scores):
    z = row_z(scores)
    assert np.isfinite(z).all()
    for row, zrow in zip(scores, z, strict=True):
        assert np.argmax(zrow) == np.argmax(row) or np.isclose(row.max(), row[np.argmax(zrow)])


def test_sentence_pooling_takes_the_mean_of_the_best_two():
    passages = Passages(texts=["a1", "a2", "a3", "b1"], owner=np.array([0, 0, 0, 1]), pooled=True)
    scores = passages.scores(np.array([[0.9, 0.1, 0.7, 0.5]], dtype=np.float32), 2)
    assert np.allclose(scores, [[0.8, 0.5]])


def test_measure_passages_by_kind(catalogue):
    groups = measure_passages(catalogue)
    assert set(groups) == {"", ":sent"}  # Chinese only when every measure has its Chinese text
    assert len(groups[""].texts) == 65
    assert set(groups[":sent"].owner) == set(range(65))


def test_clause_query_puts_the_nearest_heading_first():
    c = clause("d", 1, "1.建设农业云。", heading="二、重点行动 > （三）“互联网+”现代农业。")
    assert clause_query(c) == "（三）“互联网+”现代农业。：1.建设农业云。"
    assert clause_query(clause("d", 2, "正文")) == "正文"


def test_top_matches_ranks_best_first():
    clauses = [clause("d", 0), clause("d", 1)]
    fused = np.array([[0.1, 0.9, 0.5, 0.0], [0.3, 0.2, 0.1, 0.8]], dtype=np.float32)
    matches = top_matches(clauses, fused, {"x": fused}, IDS, k=2, method="m")
    assert [(m.clause_id, m.measure_id, m.rank) for m in matches] == [
        ("d:0000", "B", 1),
        ("d:0000", "C", 2),
        ("d:0001", "D", 1),
        ("d:0001", "A", 2),
    ]
    assert matches[0].channels == (("x", pytest.approx(0.9)),)


def test_coverage_has_every_cell_and_evidence_from_the_same_document():
    clauses = [clause("d1", 0), clause("d1", 1, kind=ClauseKind.HEADING), clause("d2", 0)]
    fused = np.array([[5.0, 2.5, 0, 0], [9.0, 9.0, 9.0, 9.0], [0, 0, 0, 5.0]], dtype=np.float32)
    cells = coverage(["d1", "d2", "d3"], clauses, fused, IDS, Thresholds(covered=4, partial=2, clause=4))
    assert len(cells) == 3 * 4
    by = {(c.doc_id, c.measure_id): c for c in cells}
    assert by["d1", "A"].status == CoverageStatus.COVERED and by["d1", "A"].evidence_clause_id == "d1:0000"
    assert by["d1", "B"].status == CoverageStatus.PARTIAL
    assert (
        by["d1", "C"].status == CoverageStatus.ABSENT and by["d1", "C"].evidence_clause_id is None
    )  # headings never count
    assert by["d2", "D"].evidence_clause_id == "d2:0000"
    assert all(c.status == CoverageStatus.ABSENT for c in cells if c.doc_id == "d3")


def test_decisions_mark_none_below_threshold_and_for_non_measures():
    clauses = [clause("d", 0), clause("d", 1), clause("d", 2, kind=ClauseKind.GOAL)]
    fused = np.array([[5.0, 1, 0, 0], [1.0, 2, 0, 0], [9.0, 0, 0, 0]], dtype=np.float32)
    chosen = decisions(clauses, fused, IDS, Thresholds(covered=4, partial=2, clause=3))
    assert [(d.decision, d.measure_id) for d in chosen] == [("measure", "A"), ("none", None), ("none", None)]


def test_thresholds_must_be_ordered():
    with pytest.raises(ValueError, match="must not exceed"):
        Thresholds(covered=1.0, partial=2.0, clause=1.0)


def test_fusion_refuses_missing_channels():
    with pytest.raises(ValueError, match="not scored"):
        Fusion({"a": 1.0, "b": 1.0}).fused({"a": np.zeros((1, 2))})
    fused = Fusion({"a": 2.0, "b": -1.0}).fused({"a": np.ones((1, 2)), "b": np.ones((1, 2))})
    assert np.allclose(fused, 1.0)


def _lean_equals_full(monkeypatch, path, models, cache_dir):
    """Score ``path`` skipping the unscored kinds and scoring every clause; assert that only the
    skipped clauses' matches and decision scores differ. The two results."""
    from compare.ingest.parse import parse_document
    from compare.match import scorer as scorers
    from compare.match.scorer import Scorer, load_run_catalogue
    from compare.settings import Settings

    doc = parse_document(path)
    skipped = {c.clause_id for c in doc.clauses if c.kind in scorers.UNSCORED_KINDS}
    assert skipped  # every document here has 印发/抄送 lines or table fragments
    settings = Settings.from_env(models=models, **({} if cache_dir is None else {"cache_dir": cache_dir}))

    def scored():
        return Scorer.from_settings(settings, load_run_catalogue(settings)).score([doc])

    lean = scored()
    with monkeypatch.context() as patch:
        patch.setattr(scorers, "UNSCORED_KINDS", frozenset())
        full = scored()
    assert lean.embedding.requested == full.embedding.requested - len(skipped) * len(models)
    assert lean.cells == full.cells and lean.verdicts == full.verdicts
    assert lean.matches == [m for m in full.matches if m.clause_id not in skipped]
    by_id = {d.clause_id: d for d in full.decisions}
    for decision in lean.decisions:
        if decision.clause_id in skipped:
            assert decision.decision == "none" and decision.measure_id is None and np.isnan(decision.score)
        else:
            assert decision == by_id[decision.clause_id]
    return lean, full


def test_boilerplate_is_never_embedded_and_changes_no_other_result(monkeypatch, tmp_path):
    """Skipping the unscored kinds before embedding leaves every cell, decision and the matches
    of every other clause exactly as scoring everything gives them (hashing encoder)."""
    from tests.conftest import CORPUS

    _lean_equals_full(monkeypatch, CORPUS / "ningbo-2016-29.pdf", ("hashing",), tmp_path)


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        "provincial/ningbo-2016-29.pdf",
        "negatives/anhui-2023-wheat-scab.pdf",
        "annexes/hunan-2015-86-division.pdf",
    ],
)
def test_boilerplate_skipping_keeps_every_verdict_of_plans_negatives_and_annexes(monkeypatch, path):
    """With the default models and the shipped calibration, so that each document gets a relevance
    verdict: a plan, an off-topic policy and a table annex keep their verdicts, cells and decisions.
    The compare cache (where the models are) holds the measures' and exemplars' vectors as a run
    leaves them; vectors are keyed by model and text, so sharing it changes no result."""
    from compare.settings import DEFAULT_MODELS
    from tests.conftest import ROOT

    lean, _ = _lean_equals_full(monkeypatch, ROOT / "corpora" / path, tuple(DEFAULT_MODELS), None)
    assert lean.verdicts  # judged, not left without a verdict
