"""How the figures move as reviews accumulate: experts simulated from gold labels, cross-validated by document.

For each held-out document H (judged on its full gold labels), the other labelled documents
are split into a *seed* (documents with a label file: their labels and exemplars are known)
and a *pool* (documents without one: known only through reviews). Reviews are drawn from the
pool in batches, in review-priority order (``compare.review.queue.priority``, recomputed with the
calibration of the previous step, as a reviewer working from a fresh export would) or at
random; a simulated expert answers each cell from the pool document's gold labels
(``expert_verdict``); the calibration is refitted on seed + reviewed pool documents
(``compare.review.labels.with_reviews``), and H is judged with it.

H never supplies a review, an exemplar or a label to its own fold: it is neither seed nor
pool, and exemplars from H and from the pool are excluded in the fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from compare.match.calibration import Calibration
from compare.match.evaluate import LabelledDocument, Metrics, calibrate, judge
from compare.match.scoring import MATCHABLE_KINDS
from compare.records import CoverageStatus
from compare.review.labels import ReviewedCell, with_reviews
from compare.review.queue import REASSIGNED, ChannelScale, Verdict, priority

PRIORITY = "priority"
RANDOM = "random"
ORDERS = (PRIORITY, RANDOM)
#: Measures a clause is compared with in the stored matches (the run's top_k): the channel reference.
REFERENCE_TOP_K = 3


@dataclass(frozen=True)
class Cell:
    """A reviewable cell of a pool document: the document's index in the fold's pool and the measure's."""

    doc: int
    measure: int


def _best_rows(doc: LabelledDocument, fused: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per measure: the best matchable clause row (-1 if none) and its fused score (-inf if none)."""
    rows = np.array(doc.matchable_rows(), dtype=int)
    n = fused.shape[1]
    if rows.size == 0:
        return np.full(n, -1), np.full(n, -np.inf)
    best = rows[np.argmax(fused[rows], axis=0)]
    return best, fused[best, np.arange(n)]


def channel_scale(docs: Sequence[LabelledDocument], weights: dict[str, float]) -> ChannelScale:
    """Channel scores at each matchable clause's top measures, as the matches table would hold them."""
    samples: dict[str, list[np.ndarray]] = {}
    for doc in docs:
        rows = doc.matchable_rows()
        if not rows:
            continue
        fused = doc.fused(weights)[rows]
        top = np.argsort(-fused, axis=1, kind="stable")[:, :REFERENCE_TOP_K]
        for name, values in doc.channels.items():
            samples.setdefault(name, []).append(np.take_along_axis(values[rows], top, axis=1).ravel())
    return ChannelScale.fit({name: np.concatenate(parts) for name, parts in samples.items()})


def cell_priorities(doc: LabelledDocument, calibration: Calibration, scale: ChannelScale) -> np.ndarray:
    """Review priority of each of the document's cells under a calibration."""
    fused = doc.fused(calibration.weights)
    best, scores = _best_rows(doc, fused)
    result = np.zeros(len(doc.measure_ids))
    for j in range(len(doc.measure_ids)):
        if best[j] < 0:
            continue
        ranks = scale.ranks({name: float(values[best[j], j]) for name, values in doc.channels.items()})
        result[j] = priority(
            float(scores[j]), calibration.thresholds.covered, calibration.weights, ranks
        ).value
    return result


def expert_verdict(doc: LabelledDocument, measure: int, fused: np.ndarray) -> ReviewedCell:
    """What an expert who knows the document's gold labels answers for a cell, about its best clause."""
    measure_id = doc.measure_ids[measure]
    best, _ = _best_rows(doc, fused)
    row = int(best[measure])
    item_of_row = {r: i for i, rows in doc.located.items() for r in rows}
    clause_measures = doc.items[item_of_row[row]].measure_ids if row in item_of_row else frozenset()
    clause_id = doc.doc.clauses[row].clause_id if row >= 0 else None
    if measure_id in doc.gold_cells:
        if measure_id not in clause_measures:  # the expert points at a clause that does state it
            rows = [
                r
                for i, item in enumerate(doc.items)
                if measure_id in item.measure_ids
                for r in doc.located.get(i, [])
            ]
            rows = [r for r in rows if doc.doc.clauses[r].kind in MATCHABLE_KINDS] or rows
            clause_id = (
                doc.doc.clauses[max(rows, key=lambda r: fused[r, measure])].clause_id if rows else None
            )
        return ReviewedCell(doc.doc.doc_id, measure_id, Verdict(CoverageStatus.COVERED), clause_id)
    if clause_measures:
        index = {m: j for j, m in enumerate(doc.measure_ids)}
        other = max(sorted(clause_measures), key=lambda m: fused[row, index[m]])
        return ReviewedCell(doc.doc.doc_id, measure_id, Verdict(REASSIGNED, other), clause_id)
    return ReviewedCell(doc.doc.doc_id, measure_id, Verdict(CoverageStatus.ABSENT), clause_id)


@dataclass
class FoldTrace:
    """One held-out document's fold: its calibration and the machine errors found, at each step."""

    held_out: str
    seed: tuple[str, ...]
    pool: tuple[str, ...]
    calibrations: list[Calibration] = field(default_factory=list)
    reviewed: list[int] = field(default_factory=list)
    errors_found: list[int] = field(default_factory=list)
    review_docs: list[frozenset[str]] = field(default_factory=list)


def fold_split(
    docs: Sequence[LabelledDocument], held_out: int, seed_docs: int
) -> tuple[list[int], list[int]]:
    """Seed and pool documents for a held-out document: the next ``seed_docs`` in cyclic order seed, the rest pool."""
    others = [(held_out + k) % len(docs) for k in range(1, len(docs))]
    return others[:seed_docs], others[seed_docs:]


def run_fold(
    docs: Sequence[LabelledDocument],
    held_out: int,
    steps: Sequence[int],
    *,
    seed_docs: int,
    order: str,
    channel_names: Sequence[str],
    models: tuple[str, ...],
    rng: np.random.Generator,
) -> FoldTrace:
    """The calibrations of one fold after each cumulative number of reviews in ``steps``."""
    seed_index, pool_index = fold_split(docs, held_out, seed_docs)
    excluded = frozenset({docs[held_out].doc.doc_id} | {docs[i].doc.doc_id for i in pool_index})
    seed = [docs[i].in_fold(excluded) for i in seed_index]
    pool = [docs[i].in_fold(excluded) for i in pool_index]
    measure_ids = docs[held_out].measure_ids
    trace = FoldTrace(
        docs[held_out].doc.file_name,
        tuple(d.doc.file_name for d in seed),
        tuple(d.doc.file_name for d in pool),
    )
    answers: dict[int, list[ReviewedCell]] = {i: [] for i in range(len(pool))}
    done: set[Cell] = set()
    random_queue = [Cell(d, m) for d in range(len(pool)) for m in range(len(measure_ids))]
    rng.shuffle(random_queue)
    calibration = calibrate(seed, channel_names, models, measure_ids, source="seed documents")
    errors = 0
    for target in steps:
        need = target - len(done)
        if need > 0:
            if order == PRIORITY:
                scale = channel_scale(seed + pool, calibration.weights)
                ranked = [
                    (-p, d, m)
                    for d, doc in enumerate(pool)
                    for m, p in enumerate(cell_priorities(doc, calibration, scale))
                    if Cell(d, m) not in done
                ]
                batch = [Cell(d, m) for _, d, m in sorted(ranked)[:need]]
            else:
                batch = [c for c in random_queue if c not in done][:need]
            for cell in batch:
                doc = pool[cell.doc]
                fused = doc.fused(calibration.weights)
                _, scores = _best_rows(doc, fused)
                machine_covered = bool(scores[cell.measure] >= calibration.thresholds.covered)
                errors += machine_covered != (measure_ids[cell.measure] in doc.gold_cells)
                answers[cell.doc].append(expert_verdict(doc, cell.measure, fused))
                done.add(cell)
        reviewed_docs = [
            with_reviews(replace_labels(pool[d]), cells, complete=False)
            for d, cells in answers.items()
            if cells
        ]
        trace.review_docs.append(frozenset(d.doc.doc_id for d in reviewed_docs))
        if reviewed_docs:
            calibration = calibrate(
                seed + reviewed_docs, channel_names, models, measure_ids, source=f"seed + {len(done)} reviews"
            )
        trace.calibrations.append(calibration)
        trace.reviewed.append(len(done))
        trace.errors_found.append(errors)
    return trace


def replace_labels(doc: LabelledDocument) -> LabelledDocument:
    """A pool document as the loop knows it: no labels, no judged cell (reviews add them)."""
    return replace(
        doc,
        items=[],
        located={},
        positive_cells=frozenset(),
        negative_cells=frozenset(),
        judged_cells=frozenset(),
    )


@dataclass(frozen=True)
class Step:
    """The figures after a number of reviews per fold, for one review order."""

    order: str
    reviews: int
    metrics: Metrics
    errors_found: int
    mean_covered_threshold: float


def feedback_curve(
    docs: Sequence[LabelledDocument],
    steps: Sequence[int],
    *,
    seed_docs: int,
    order: str,
    channel_names: Sequence[str],
    models: tuple[str, ...],
    random_seed: int = 0,
) -> tuple[list[Step], list[FoldTrace]]:
    """Leave-one-document-out figures after each number of reviews (module docstring)."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    if not 1 <= seed_docs <= len(docs) - 2:
        raise ValueError(
            f"seed_docs must leave a held-out and a pool document: 1..{len(docs) - 2}, got {seed_docs}"
        )
    traces = [
        run_fold(
            docs,
            h,
            steps,
            seed_docs=seed_docs,
            order=order,
            channel_names=channel_names,
            models=models,
            rng=np.random.default_rng(random_seed + h),
        )
        for h in range(len(docs))
    ]
    judged = [
        d.in_fold(frozenset({d.doc.doc_id} | _pool_ids(docs, h, seed_docs))) for h, d in enumerate(docs)
    ]
    measure_ids = docs[0].measure_ids
    result = []
    for k, n in enumerate(steps):
        calibrations = [t.calibrations[k] for t in traces]
        result.append(
            Step(
                order=order,
                reviews=n,
                metrics=judge(judged, calibrations, measure_ids),
                errors_found=sum(t.errors_found[k] for t in traces),
                mean_covered_threshold=float(np.mean([c.thresholds.covered for c in calibrations])),
            )
        )
    return result, traces


def _pool_ids(docs: Sequence[LabelledDocument], held_out: int, seed_docs: int) -> frozenset[str]:
    _, pool = fold_split(docs, held_out, seed_docs)
    return frozenset(docs[i].doc.doc_id for i in pool)
