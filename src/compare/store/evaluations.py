"""Evaluation figures into the warehouse (``evaluations``, ``evaluation_measures``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from compare.match.evaluate import Outcome, evaluation_record
from compare.store import warehouse


def record_evaluation(
    warehouse_path: Path, outcome: Outcome, gold: Sequence[Path], models: Sequence[str], *, with_reviews: bool
) -> str:
    """Store the figures in the warehouse (a writer that holds it is waited for, then named); their id."""
    evaluation_id = warehouse.new_run_id()
    record = evaluation_record(outcome, evaluation_id, gold, models, with_reviews=with_reviews)
    with warehouse.snapshot(warehouse_path, wait=warehouse.LOCK_WAIT_S) as con:
        warehouse.write_evaluation(con, record, outcome.metrics.per_measure)
    return evaluation_id
