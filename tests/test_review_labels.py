"""Reviews as labelled data: merging verdicts into labels, cells judged, and folds kept apart in the simulation."""

from __future__ import annotations

import numpy as np
import pytest

from compare.match.evaluate import LabelledDocument, calibrate, judge, leave_one_out
from compare.match.labels import LabelledItem
from compare.records import DocStatus, ParsedDocument
from compare.review.labels import ReviewedCell, with_reviews
from compare.review.queue import REASSIGNED, ChannelScale, Verdict, priority
from compare.review.simulation import PRIORITY, RANDOM, expert_verdict, feedback_curve, fold_split
from tests.helpers import clause

IDS = ["A", "B", "C", "D"]


def _doc(
    doc_id: str, winners: list[int], gold: list[str], noise: float = 0.0, seed: int = 0
) -> LabelledDocument:
    """Clause i scores highest on measure winners[i]; gold[i] is its label ('none' for none)."""
    clauses = tuple(clause(doc_id, i, f"条款{i}") for i in range(len(winners)))
    rng = np.random.default_rng(seed)
    channel = (
        rng.normal(0, noise, (len(winners), len(IDS))).astype(np.float32)
        if noise
        else np.zeros((len(winners), len(IDS)), np.float32)
    )
    for i, w in enumerate(winners):
        if w >= 0:
            channel[i, w] += 5.0
    parsed = ParsedDocument(
        doc_id=doc_id, file_name=f"{doc_id}.pdf", sha256=doc_id, status=DocStatus.OK, clauses=clauses
    )
    items = [
        LabelledItem(i + 2, f"条款{i}", frozenset() if g == "none" else frozenset({g}))
        for i, g in enumerate(gold)
    ]
    lexical = (channel * 0.5 + rng.normal(0, 1.0, channel.shape)).astype(np.float32)
    return LabelledDocument(
        parsed, items, {i: [i] for i in range(len(gold))}, {"x": channel, "lexical": lexical}, IDS
    )


def _cell(doc, measure, verdict, clause_row=None, to=None):
    clause_id = doc.doc.clauses[clause_row].clause_id if clause_row is not None else None
    return ReviewedCell(doc.doc.doc_id, measure, Verdict(verdict, to), clause_id)


def test_absent_verdict_overrides_the_label_file():
    doc = _doc("d1", [0, 1, 2], ["A", "B", "C"])
    merged = with_reviews(doc, [_cell(doc, "B", "absent", 1)], complete=True)
    assert merged.gold_cells == {"A", "C"}
    assert merged.items[1].measure_ids == frozenset()
    assert merged.judged_cells is None and merged.judged_mask(IDS).all()


def test_reassignment_relabels_the_clause_and_covers_the_named_measure():
    doc = _doc("d1", [0, 1, 2], ["A", "B", "C"])
    merged = with_reviews(doc, [_cell(doc, "B", REASSIGNED, 1, to="D")], complete=True)
    assert merged.items[1].measure_ids == frozenset({"D"})
    assert merged.gold_cells == {"A", "C", "D"}


def test_review_only_document_is_judged_on_reviewed_cells():
    doc = _doc("d2", [0, 1, 2], ["A", "B", "C"])
    bare = LabelledDocument(doc.doc, [], {}, doc.channels, IDS, judged_cells=frozenset())
    merged = with_reviews(
        bare,
        [_cell(bare, "A", "covered", 0), _cell(bare, "D", "absent", 2), _cell(bare, "B", "partial")],
        complete=False,
    )
    assert merged.judged_cells == frozenset({"A", "B", "D"})
    assert merged.gold_cells == {"A", "B"}
    assert [(i.text, i.measure_ids) for i in merged.items] == [("条款0", frozenset({"A"}))]
    assert merged.located == {0: [0]}
    assert list(merged.judged_mask(IDS)) == [True, True, False, True]


def test_unjudged_cells_do_not_count():
    from compare.match.calibration import Calibration
    from compare.match.scoring import Thresholds

    doc = _doc("d2", [0, 1, 2], ["A", "B", "C"])
    bare = LabelledDocument(doc.doc, [], {}, doc.channels, IDS, judged_cells=frozenset())
    merged = with_reviews(bare, [_cell(bare, "A", "covered", 0)], complete=False)
    calibration = Calibration(
        ("hashing",), {"x": 1.0}, Thresholds(covered=2.0, partial=1.0, clause=2.0), "test", {}
    )
    metrics = judge([merged], [calibration], IDS)
    assert metrics.cells == 1 and metrics.cell_precision == 1.0 and metrics.cell_recall == 1.0


def test_reviews_change_the_calibration_only_of_other_folds():
    docs = [
        _doc(f"d{i}", [0, 1, 2, 3, -1], ["A", "B", "C", "D", "none"], noise=1.5, seed=i) for i in range(3)
    ]
    _, before = leave_one_out(docs, ["x", "lexical"], ("hashing",), IDS)
    verdicts = [_cell(docs[0], "A", REASSIGNED, 0, to="C"), _cell(docs[0], "B", "absent", 1)]
    reviewed = [with_reviews(docs[0], verdicts, complete=True), *docs[1:]]
    _, after = leave_one_out(reviewed, ["x", "lexical"], ("hashing",), IDS)
    assert after[0] == before[0]  # document 0 is judged by a calibration fitted without its reviews
    assert after[1] != before[1] or after[2] != before[2]


def test_priority_is_highest_on_the_threshold_and_when_channels_disagree():
    weights = {"x": 1.0, "lexical": 1.0}
    on = priority(10.0, 10.0, weights)
    far = priority(20.0, 10.0, weights)
    assert on.value == pytest.approx(1.0) and far.value < 0.05
    scale = ChannelScale.fit({"x": np.arange(100.0), "lexical": np.arange(100.0) / 10})
    agree = priority(20.0, 10.0, weights, scale.ranks({"x": 90.0, "lexical": 9.0}))
    disagree = priority(20.0, 10.0, weights, scale.ranks({"x": 90.0, "lexical": 1.0}))
    assert agree.disagreement == pytest.approx(0.0)
    assert disagree.disagreement == 1.0 and disagree.value > agree.value
    assert disagree.gap is not None and disagree.gap > 0 and "semantic higher" in disagree.reason()


def test_simulated_expert_answers_from_the_gold_labels():
    doc = _doc("d1", [0, 1, 1, -1], ["A", "B", "C", "none"])  # clause 2 is labelled C but scores B
    fused = doc.channels["x"]
    assert expert_verdict(doc, IDS.index("A"), fused).verdict == Verdict("covered")
    covered_c = expert_verdict(doc, IDS.index("C"), fused)
    assert covered_c.verdict == Verdict("covered") and covered_c.clause_id == doc.doc.clauses[2].clause_id
    reassigned = expert_verdict(doc, IDS.index("D"), fused)
    assert reassigned.verdict.verdict in {REASSIGNED, "absent"}


def test_held_out_documents_never_supply_reviews_to_their_fold():
    docs = [
        _doc(f"d{i}", [0, 1, 2, 3, -1], ["A", "B", "C", "D", "none"], noise=2.0, seed=i) for i in range(5)
    ]
    for h in range(5):
        seed, pool = fold_split(docs, h, 2)
        assert h not in seed and h not in pool and sorted(seed + pool + [h]) == list(range(5))
    for order in (PRIORITY, RANDOM):
        steps, traces = feedback_curve(
            docs, [0, 4, 8], seed_docs=2, order=order, channel_names=["x", "lexical"], models=("hashing",)
        )
        assert [s.reviews for s in steps] == [0, 4, 8]
        for h, trace in enumerate(traces):
            assert trace.reviewed == [0, 4, 8]
            assert all(docs[h].doc.doc_id not in supplied for supplied in trace.review_docs)
            assert trace.review_docs[0] == frozenset() and trace.review_docs[-1]
        assert steps[0].metrics.cells == 5 * len(IDS)


def test_calibration_sees_only_judged_cells():
    doc = _doc("d2", [0, 1, 2, 3], ["A", "B", "C", "D"], noise=0.5)
    bare = LabelledDocument(doc.doc, [], {}, doc.channels, IDS, judged_cells=frozenset())
    merged = with_reviews(
        bare, [_cell(bare, "A", "covered", 0), _cell(bare, "B", "absent", 1)], complete=False
    )
    seed = _doc("d3", [0, 1, 2, 3, -1], ["A", "B", "C", "D", "none"], noise=0.5, seed=3)
    calibration = calibrate([seed, merged], ["x", "lexical"], ("hashing",), IDS, source="test")
    assert calibration.thresholds.covered > 0
