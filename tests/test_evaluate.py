"""Evaluation: label files, locating items, figures, and calibration kept apart from judged documents."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from compare.errors import LabelError
from compare.match.evaluate import LabelledDocument, judge, leave_one_out, locate
from compare.match.labels import LabelledItem, read_labels
from compare.records import DocStatus, ParsedDocument
from tests.conftest import CORPUS
from tests.helpers import clause

IDS = ["A", "B", "C"]


def test_shipped_label_files_are_valid(catalogue):
    files = sorted(CORPUS.glob("*.labels.tsv"))
    assert len(files) >= 6
    for path in files:
        items = read_labels(path, catalogue)
        assert len(items) >= 40
        assert (CORPUS / path.name.replace(".labels.tsv", ".pdf")).is_file()


def test_label_errors_name_the_row(catalogue, tmp_path):
    path = tmp_path / "x.labels.tsv"
    path.write_text("item_text\tmeasure_ids\n1.建设农业云。\tII.3.1\n2.别的。\tII.99.1\n", encoding="utf-8")
    with pytest.raises(LabelError, match=r"x.labels.tsv row 3: unknown measure ids II.99.1"):
        read_labels(path, catalogue)
    path.write_text("text\tids\n", encoding="utf-8")
    with pytest.raises(LabelError, match="header"):
        read_labels(path, catalogue)


def test_locate_finds_whole_and_split_items():
    clauses = [
        clause("d", 0, "1.建设农业云。支持龙头企业上云。"),
        clause("d", 1, "2.发展农村电商。"),
        clause("d", 2, "推进快递下乡。"),
    ]
    items = [
        LabelledItem(2, "1.建设农业云。支持龙头企业上云。", frozenset({"A"})),
        LabelledItem(3, "2.发展农村电商。推进快递下乡。", frozenset({"B"})),
        LabelledItem(4, "完全不同的一段文字，不在文件里。", frozenset()),
    ]
    assert locate(items, clauses) == {0: [0], 1: [1, 2], 2: []}


def _doc(doc_id: str, winners: list[int], gold: list[str]) -> LabelledDocument:
    """A document whose clause i scores highest on measure winners[i] (or nothing for -1)."""
    clauses = tuple(clause(doc_id, i) for i in range(len(winners)))
    channel = np.zeros((len(winners), len(IDS)), dtype=np.float32)
    for i, w in enumerate(winners):
        if w >= 0:
            channel[i, w] = 5.0
    parsed = ParsedDocument(
        doc_id=doc_id, file_name=f"{doc_id}.pdf", sha256=doc_id, status=DocStatus.OK, clauses=clauses
    )
    items = [
        LabelledItem(i + 2, f"item {i}", frozenset({g}) if g != "none" else frozenset())
        for i, g in enumerate(gold)
    ]
    return LabelledDocument(parsed, items, {i: [i] for i in range(len(gold))}, {"x": channel}, IDS)


def test_perfect_channels_score_perfectly():
    docs = [_doc("d1", [0, 1, -1], ["A", "B", "none"]), _doc("d2", [2, 0, -1], ["C", "A", "none"])]
    metrics, calibrations = leave_one_out(docs, ["x"], ("hashing",), IDS)
    assert metrics.top1 == 1.0 and metrics.top3 == 1.0
    assert metrics.cell_f1 == 1.0 and metrics.none_recall == 1.0 and metrics.none_precision == 1.0
    assert len(calibrations) == 2 and all(c.weights["x"] > 0 for c in calibrations)


def test_a_wrong_match_costs_top1_and_cells():
    docs = [_doc("d1", [1, 1, -1], ["A", "B", "none"])]
    from compare.match.calibration import Calibration
    from compare.match.scoring import Thresholds

    calibration = Calibration(
        ("hashing",), {"x": 1.0}, Thresholds(covered=2.0, partial=1.0, clause=2.0), "test", {}
    )
    metrics = judge(docs, [calibration], IDS)
    assert metrics.top1 == 0.5
    assert metrics.cell_precision == 1.0 and metrics.cell_recall == 0.5


def test_each_document_is_judged_by_a_calibration_fitted_without_it():
    docs = [_doc(f"d{i}", [0, 1, 2, -1], ["A", "B", "C", "none"]) for i in range(3)]
    _, before = leave_one_out(docs, ["x"], ("hashing",), IDS)
    noisy = docs[0].channels["x"] + np.random.default_rng(0).normal(0, 3, docs[0].channels["x"].shape).astype(
        np.float32
    )
    changed = [replace(docs[0], channels={"x": noisy}), *docs[1:]]
    _, after = leave_one_out(changed, ["x"], ("hashing",), IDS)
    assert after[0] == before[0]  # fitted on d1 and d2 only
    assert after[1] != before[1]


def test_leave_one_out_needs_two_documents():
    with pytest.raises(LabelError, match="at least 2"):
        leave_one_out([_doc("d1", [0], ["A"])], ["x"], ("hashing",), IDS)
