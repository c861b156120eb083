"""Judging the matching against gold labels, and calibrating it without fitting on the judged documents.

Label files are ``<pdf stem>.labels.tsv`` with columns ``item_text`` (the item as printed) and
``measure_ids`` (comma-separated catalogue ids, or ``none``). Each labelled item is located among
the document's clauses; a gold measure set per document gives the gold coverage cells.

Calibration fits, on labelled documents only:
- fusion weights: a logistic regression of "this clause implements this measure" on the channel
  scores (class-balanced), whose coefficients become the channel weights;
- the covered threshold that maximizes cell F1, the partial threshold where cell recall reaches
  ``PARTIAL_RECALL``, and the clause threshold that best separates items with a measure from
  items with none.
Figures are reported leave-one-document-out: each document is judged by a calibration fitted on
the others.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from compare.errors import LabelError
from compare.ingest.normalize import for_matching
from compare.ingest.parse import parse_document
from compare.ingest.segment import full_text
from compare.match.calibration import Calibration
from compare.match.catalogue import Catalogue
from compare.match.exemplars import ExemplarBank, exemplar_channels
from compare.match.labels import LabelledItem, label_files, pdf_for, read_labels
from compare.match.relevance import (
    Labelled,
    Relevance,
    Signals,
    Verdict,
    fit_relevance,
    gate_figures,
    published_cells,
    signals,
    verdict,
)
from compare.match.scorer import Scorer
from compare.match.scoring import MATCHABLE_KINDS, Thresholds, coverage, fused_scores
from compare.records import Clause, CoverageCell, CoverageStatus, ParsedDocument

#: How alike (difflib ratio on normalized text) a clause must be to a labelled item to stand for it.
MIN_LOCATE_RATIO = 0.8
#: The partial threshold is where cell recall on the calibration documents reaches this.
PARTIAL_RECALL = 0.99
_SPACE = re.compile(r"\s+")


def _key(text: str) -> str:
    return _SPACE.sub("", for_matching(text))


def locate(items: Sequence[LabelledItem], clauses: Sequence[Clause]) -> dict[int, list[int]]:
    """For each item (by position), the indexes of the clauses that make it up (empty if not found).

    A clause belongs to an item when its text is part of the item's text (sub-clauses of a split
    item) or the two are alike by at least ``MIN_LOCATE_RATIO``.
    """
    keys = [_key(c.text) for c in clauses]
    found: dict[int, list[int]] = {}
    for index, item in enumerate(items):
        item_key = _key(item.text)
        parts = [i for i, k in enumerate(keys) if k and len(k) >= 2 and k in item_key]
        if parts and sum(len(keys[i]) for i in parts) >= MIN_LOCATE_RATIO * len(item_key):
            found[index] = parts
            continue
        best, best_ratio = None, 0.0
        for i, k in enumerate(keys):
            matcher = difflib.SequenceMatcher(None, item_key, k, autojunk=False)
            if matcher.real_quick_ratio() < best_ratio or matcher.quick_ratio() < best_ratio:
                continue
            ratio = matcher.ratio()
            if ratio > best_ratio:
                best, best_ratio = i, ratio
        found[index] = [best] if best is not None and best_ratio >= MIN_LOCATE_RATIO else []
    return found


@dataclass
class LabelledDocument:
    """A parsed document with its gold items and their clause rows, and its channel scores."""

    doc: ParsedDocument
    items: list[LabelledItem]
    located: dict[int, list[int]]
    channels: dict[str, np.ndarray]
    measure_ids: Sequence[str]
    exemplar_cosines: dict[str, np.ndarray] = field(default_factory=dict)
    bank: ExemplarBank | None = None
    #: Reviewed cells (compare.review.labels): covered or absent whatever the items say.
    positive_cells: frozenset[str] = frozenset()
    negative_cells: frozenset[str] = frozenset()
    #: The cells that count; None when the labels cover the whole document (a label file).
    judged_cells: frozenset[str] | None = None
    #: What the document is (corpora/relevance.tsv; ``plan`` when not listed).
    relevance: Relevance = Relevance.PLAN
    #: Documents held out with it: itself and the plan it was made from (an annex variant).
    group: str = ""

    def in_fold(self, excluded: frozenset[str]) -> LabelledDocument:
        """This document as seen in a fold: exemplars from ``excluded`` documents (and its own) do not count."""
        if self.bank is None:
            return self
        extra = exemplar_channels(
            self.exemplar_cosines, self.bank, [c.doc_id for c in self.doc.clauses], excluded
        )
        return replace(self, channels={**self.channels, **extra}, exemplar_cosines={}, bank=None)

    @property
    def gold_cells(self) -> set[str]:
        from_items = set().union(*(item.measure_ids for item in self.items)) if self.items else set()
        return (from_items | self.positive_cells) - self.negative_cells

    def judged_mask(self, measure_ids: Sequence[str]) -> np.ndarray:
        """Which cells count: all of a completely labelled document, else only the judged ones."""
        if self.judged_cells is None:
            return np.ones(len(measure_ids), dtype=bool)
        return np.array([m in self.judged_cells for m in measure_ids], dtype=bool)

    def matchable_rows(self) -> list[int]:
        return [i for i, c in enumerate(self.doc.clauses) if c.kind in MATCHABLE_KINDS]

    def fused(self, weights: Mapping[str, float]) -> np.ndarray:
        """clause x measure fused scores under these weights, as a run computes them."""
        return fused_scores(self.channels, weights)


def fit_weights(docs: Sequence[LabelledDocument], channel_names: Sequence[str]) -> dict[str, float]:
    """Channel weights from a class-balanced logistic regression over located (clause, measure) pairs."""
    features, targets = [], []
    for doc in docs:
        index = {m: j for j, m in enumerate(doc.measure_ids)}
        for item_index, item in enumerate(doc.items):
            for row in doc.located.get(item_index, []):
                x = np.stack([doc.channels[name][row] for name in channel_names], axis=1)
                y = np.zeros(x.shape[0])
                for measure_id in item.measure_ids:
                    y[index[measure_id]] = 1.0
                features.append(x)
                targets.append(y)
    if not features:
        raise LabelError("no labelled item could be located among the clauses; cannot calibrate")
    x_all, y_all = np.concatenate(features), np.concatenate(targets)
    if y_all.min() == y_all.max():
        raise LabelError("labels hold only one class; cannot calibrate")
    coefficients = _non_negative_coefficients(x_all, y_all)
    scale = coefficients.sum() or 1.0
    return {
        name: float(c / scale * len(channel_names))
        for name, c in zip(channel_names, coefficients, strict=True)
    }


def _non_negative_coefficients(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Logistic regression coefficients, refitted without the most negative channel until none is negative.

    Every channel is built so that higher means closer; a negative weight only trades one
    correlated channel against another on the calibration documents, and does not carry over.
    Channels live on different scales (z-scores, raw cosines in a narrow band): each is fitted
    divided by its spread, so the regularization treats them alike, and its coefficient is
    returned for the channel as it is.
    """
    spread = x.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    scaled = x / spread
    active = list(range(x.shape[1]))
    coefficients = np.zeros(x.shape[1])
    while active:
        model = LogisticRegression(class_weight="balanced", max_iter=1000).fit(scaled[:, active], y)
        fitted = model.coef_[0]
        if (fitted >= 0).all():
            coefficients[active] = fitted / spread[active]
            return coefficients
        del active[int(np.argmin(fitted))]
    raise LabelError("no channel separates the labelled matches from the rest; cannot calibrate")


def cell_scores(doc: LabelledDocument, weights: dict[str, float]) -> np.ndarray:
    """Per measure, the best fused score of any matchable clause of the document."""
    rows = doc.matchable_rows()
    fused = doc.fused(weights)
    if not rows:
        return np.full(fused.shape[1], -np.inf)
    return fused[rows].max(axis=0)


def _f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def fit_thresholds(
    docs: Sequence[LabelledDocument], weights: dict[str, float], measure_ids: Sequence[str]
) -> Thresholds:
    """Covered: best cell F1; partial: where cell recall reaches PARTIAL_RECALL; clause: best none/measure
    split, but never above the covered threshold."""
    scores, gold = [], []
    for doc in docs:
        mask = doc.judged_mask(measure_ids)
        scores.append(cell_scores(doc, weights)[mask])
        cells = doc.gold_cells
        gold.append(np.array([m in cells for m in measure_ids], dtype=bool)[mask])
    s, g = np.concatenate(scores), np.concatenate(gold)
    candidates = np.unique(s[np.isfinite(s)])
    best_t, best_f1 = float(candidates.max()) if candidates.size else 0.0, -1.0
    for t in candidates:
        predicted = s >= t
        _, _, f1 = _f1(int((predicted & g).sum()), int((predicted & ~g).sum()), int((~predicted & g).sum()))
        if f1 > best_f1:
            best_t, best_f1 = float(t), f1
    positives = np.sort(s[g & np.isfinite(s)])
    partial = float(positives[int((1 - PARTIAL_RECALL) * len(positives))]) if positives.size else best_t
    partial = min(partial, best_t)
    # A clause close enough to be the evidence of a covered cell is never called "none": the
    # clause threshold is capped at the covered one, so the two decisions never contradict.
    clause_t = min(_fit_clause_threshold(docs, weights), best_t)
    return Thresholds(covered=best_t, partial=partial, clause=clause_t)


def _item_best(doc: LabelledDocument, fused: np.ndarray, item_index: int) -> np.ndarray | None:
    rows = doc.located.get(item_index, [])
    return fused[rows].max(axis=0) if rows else None


def _fit_clause_threshold(docs: Sequence[LabelledDocument], weights: dict[str, float]) -> float:
    values, is_none = [], []
    for doc in docs:
        fused = doc.fused(weights)
        for item_index, item in enumerate(doc.items):
            best = _item_best(doc, fused, item_index)
            if best is not None:
                values.append(float(best.max()))
                is_none.append(item.is_none)
    v, n = np.array(values), np.array(is_none)
    if not v.size:
        return 0.0
    best_t, best_acc = float(v.min()), -1.0
    for t in np.unique(v):
        accuracy = float(((v < t) == n).mean())
        if accuracy > best_acc:
            best_t, best_acc = float(t), accuracy
    return best_t


@dataclass
class Metrics:
    """Clause- and cell-level figures on a set of documents."""

    items: int = 0
    located: int = 0
    top1: float = 0.0
    top3: float = 0.0
    none_precision: float = 0.0
    none_recall: float = 0.0
    cell_precision: float = 0.0
    cell_recall: float = 0.0
    cell_f1: float = 0.0
    cells: int = 0
    per_measure: dict[str, dict[str, float]] = field(default_factory=dict)
    #: The relevance gate and claims on negatives (``relevance_figures``).
    relevance: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in self.__dict__.items() if k not in ("per_measure", "relevance")}


def judge(
    docs: Sequence[LabelledDocument], calibrations: Sequence[Calibration], measure_ids: Sequence[str]
) -> Metrics:
    """Figures for documents, each judged with its own calibration (fitted without it)."""
    top1 = top3 = measured = 0
    none_tp = none_pred = none_gold = 0
    tp = fp = fn = 0
    located = items = judged_cells = 0
    per_measure: dict[str, list[int]] = {m: [0, 0, 0] for m in measure_ids}
    for doc, calibration in zip(docs, calibrations, strict=True):
        weights, thresholds = calibration.weights, calibration.thresholds
        fused = doc.fused(weights)
        for item_index, item in enumerate(doc.items):
            items += 1
            best = _item_best(doc, fused, item_index)
            if best is None:
                if not item.is_none:
                    measured += 1
                else:
                    none_gold += 1
                continue
            located += 1
            predicted_none = float(best.max()) < thresholds.clause or all(
                doc.doc.clauses[r].kind not in MATCHABLE_KINDS for r in doc.located[item_index]
            )
            none_pred += predicted_none
            if item.is_none:
                none_gold += 1
                none_tp += predicted_none
                continue
            measured += 1
            order = [measure_ids[j] for j in np.argsort(-best, kind="stable")[:3]]
            top1 += order[0] in item.measure_ids
            top3 += bool(set(order) & item.measure_ids)
        scores = cell_scores(doc, weights)
        gold = doc.gold_cells
        mask = doc.judged_mask(measure_ids)
        judged_cells += int(mask.sum())
        for j, measure_id in enumerate(measure_ids):
            if not mask[j]:
                continue
            predicted = bool(scores[j] >= thresholds.covered)
            actual = measure_id in gold
            tp += predicted and actual
            fp += predicted and not actual
            fn += (not predicted) and actual
            per_measure[measure_id][0] += predicted and actual
            per_measure[measure_id][1] += predicted and not actual
            per_measure[measure_id][2] += (not predicted) and actual
    precision, recall, f1 = _f1(tp, fp, fn)
    metrics = Metrics(
        items=items,
        located=located,
        top1=top1 / measured if measured else 0.0,
        top3=top3 / measured if measured else 0.0,
        none_precision=none_tp / none_pred if none_pred else 1.0,
        none_recall=none_tp / none_gold if none_gold else 1.0,
        cell_precision=precision,
        cell_recall=recall,
        cell_f1=f1,
        cells=judged_cells,
    )
    for measure_id, (m_tp, m_fp, m_fn) in per_measure.items():
        p, r, f = _f1(m_tp, m_fp, m_fn)
        metrics.per_measure[measure_id] = {"support": m_tp + m_fn, "precision": p, "recall": r, "f1": f}
    return metrics


#: Evidence with fewer CJK characters than this says nothing on its own (a number, a code, a cell).
MIN_EVIDENCE_CJK = 10
_CJK = re.compile(r"[\u3400-\u9fff]")
#: A clause whose path or heading starts so lies in an annex (附件) after the plan's body.
ANNEX_MARK = "附件"


def in_annex(clause: Clause) -> bool:
    return clause.path.startswith(ANNEX_MARK) or clause.heading.lstrip().startswith(ANNEX_MARK)


@dataclass(frozen=True)
class DocumentOutcome:
    """What a run would publish for a labelled document under a calibration."""

    cells: list[CoverageCell]
    signals: Signals
    verdict: Relevance


def document_outcome(
    doc: LabelledDocument, calibration: Calibration, measure_ids: Sequence[str]
) -> DocumentOutcome:
    fused = doc.fused(calibration.weights)
    clauses = doc.doc.clauses
    cells = coverage([doc.doc.doc_id], clauses, fused, measure_ids, calibration.thresholds)
    best = fused.max(axis=1) if fused.size else np.zeros(len(clauses), dtype=np.float32)
    found = signals(
        doc.doc.meta.title, full_text(doc.doc.pages), clauses, cells, best, calibration.thresholds.clause
    )
    judged = verdict(found, calibration.relevance)
    return DocumentOutcome(published_cells(cells, judged), found, judged.relevance)


def relevance_figures(
    docs: Sequence[LabelledDocument], calibrations: Sequence[Calibration], measure_ids: Sequence[str]
) -> dict[str, float]:
    """The gate's figures, and what reaches the coverage matrix from documents that are not plans:
    false covered cells per negative document (an off_topic verdict publishes none), covered cells
    evidenced only in an annex that carries no measure, and covered cells with fragment evidence."""
    truth, guess = [], []
    false_on_negatives = negatives = annex_only = fragments = 0
    for doc, calibration in zip(docs, calibrations, strict=True):
        outcome = document_outcome(doc, calibration, measure_ids)
        truth.append(doc.relevance)
        guess.append(outcome.verdict)
        published = outcome.verdict != Relevance.OFF_TOPIC
        covered = [c for c in outcome.cells if c.status == CoverageStatus.COVERED] if published else []
        by_id = {c.clause_id: c for c in doc.doc.clauses}
        gold = doc.gold_cells
        annex_rows_with_measure = {
            row for i, item in enumerate(doc.items) if not item.is_none for row in doc.located.get(i, [])
        }
        annex_carries = any(in_annex(doc.doc.clauses[row]) for row in annex_rows_with_measure)
        for cell in covered:
            evidence = by_id.get(cell.evidence_clause_id or "")
            if evidence is None:
                continue
            fragments += len(_CJK.findall(evidence.text)) < MIN_EVIDENCE_CJK
            annex_only += in_annex(evidence) and not annex_carries
        if doc.relevance != Relevance.PLAN:
            negatives += 1
            false_on_negatives += sum(c.measure_id not in gold for c in covered)
    figures = gate_figures(truth, guess)
    figures.update(
        {
            "negatives": float(negatives),
            "false_covered_per_negative": false_on_negatives / negatives if negatives else 0.0,
            "annex_only_covered": float(annex_only),
            "fragment_evidence": float(fragments),
        }
    )
    return figures


def calibrate(
    docs: Sequence[LabelledDocument],
    channel_names: Sequence[str],
    models: tuple[str, ...],
    measure_ids: Sequence[str],
    source: str,
) -> Calibration:
    """Weights and thresholds fitted on these documents."""
    weights = fit_weights(docs, channel_names)
    thresholds = fit_thresholds(docs, weights, measure_ids)
    fitted = Calibration(models=models, weights=weights, thresholds=thresholds, source=source, metrics={})
    labelled = []
    for doc in docs:
        outcome = document_outcome(doc, fitted, measure_ids)
        as_related = published_cells(outcome.cells, Verdict(Relevance.RELATED, (), outcome.signals))
        false = sum(
            c.status == CoverageStatus.COVERED and c.measure_id not in doc.gold_cells for c in as_related
        )
        labelled.append(Labelled(outcome.signals, doc.relevance, false))
    return replace(fitted, relevance=fit_relevance(labelled))


def leave_one_out(
    docs: Sequence[LabelledDocument],
    channel_names: Sequence[str],
    models: tuple[str, ...],
    measure_ids: Sequence[str],
) -> tuple[Metrics, list[Calibration]]:
    """Each document judged by a calibration fitted on all the others (less its group: an annex
    variant of a plan is held out with the plan). Plans give the cell and clause figures; every
    document gives the relevance gate's, and negatives their false claims."""
    if len(docs) < 2:
        raise LabelError("leave-one-document-out evaluation needs at least 2 labelled documents")
    calibrations = []
    for held_out in docs:
        group = held_out.group or held_out.doc.doc_id
        excluded = frozenset(d.doc.doc_id for d in docs if (d.group or d.doc.doc_id) == group)
        training = [d.in_fold(excluded) for d in docs if d.doc.doc_id not in excluded]
        if not training:
            raise LabelError("every labelled document is in one group; cannot hold any out")
        calibrations.append(
            calibrate(
                training,
                channel_names,
                models,
                measure_ids,
                source=f"fitted without {held_out.doc.file_name}",
            )
        )
    judged = [d.in_fold(frozenset({d.group})) for d in docs]
    plans = [(d, c) for d, c in zip(judged, calibrations, strict=True) if d.relevance == Relevance.PLAN]
    metrics = judge([d for d, _ in plans], [c for _, c in plans], measure_ids)
    metrics.relevance = relevance_figures(judged, calibrations, measure_ids)
    return metrics, calibrations


def evaluation_markdown(
    metrics: Metrics, catalogue: Catalogue, *, title: str, notes: Sequence[str] = ()
) -> str:
    """The figures as markdown: overall, then per measure with support."""
    lines = [
        f"# {title}",
        "",
        *[f"- {note}" for note in notes],
        "",
        "| level | figure | value |",
        "|---|---|---|",
        f"| items | labelled / located | {metrics.items} / {metrics.located} |",
        f"| clause | top-1 accuracy | {metrics.top1:.3f} |",
        f"| clause | top-3 accuracy | {metrics.top3:.3f} |",
        f"| clause | none precision | {metrics.none_precision:.3f} |",
        f"| clause | none recall | {metrics.none_recall:.3f} |",
        f"| cell | precision | {metrics.cell_precision:.3f} |",
        f"| cell | recall | {metrics.cell_recall:.3f} |",
        f"| cell | F1 | {metrics.cell_f1:.3f} |",
        f"| cell | cells judged | {metrics.cells} |",
        *[
            f"| relevance | {name.replace('_', ' ')} | {value:.3f} |"
            for name, value in metrics.relevance.items()
        ],
        "",
        "| measure | title | support | precision | recall | F1 |",
        "|---|---|---|---|---|---|",
    ]
    for measure in catalogue.measures:
        m = metrics.per_measure.get(measure.measure_id)
        if m is None:
            continue
        lines.append(
            f"| {measure.measure_id} | {measure.title_en} | {int(m['support'])} | {m['precision']:.2f} | {m['recall']:.2f} | {m['f1']:.2f} |"
        )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Outcome:
    """An evaluation: leave-one-document-out figures and the calibration fitted on all documents."""

    metrics: Metrics
    calibration: Calibration
    documents: tuple[str, ...]
    unlocated: tuple[str, ...]


#: The relevance labels: a TSV with columns ``document`` (path under ``corpora/``, or file name)
#: and ``verdict`` (plan, related, off_topic), looked for in each gold folder and its parent.
RELEVANCE_FILE = "relevance.tsv"


def relevance_labels(golds: Sequence[Path]) -> dict[str, Relevance]:
    """File name -> labelled relevance, from the ``relevance.tsv`` beside or above the gold folders."""
    found: dict[str, Relevance] = {}
    for folder in golds:
        for path in (folder / RELEVANCE_FILE, folder.parent / RELEVANCE_FILE):
            if not path.is_file():
                continue
            rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line]
            for number, row in enumerate(rows, start=2):
                try:
                    found[Path(row[0]).name] = Relevance(row[1].strip())
                except (IndexError, ValueError) as exc:
                    raise LabelError(
                        f"{path}:{number}: expected `document<TAB>plan|related|off_topic`"
                    ) from exc
    return found


def _group(stem: str, plan_stems: Sequence[str]) -> str:
    """An annex variant's group is the plan it was made from (the longest plan stem it starts with)."""
    sources = [p for p in plan_stems if stem != p and stem.startswith(p + "-")]
    return max(sources, key=len) if sources else stem


def labelled_documents(
    gold: Path | Sequence[Path], corpus: Path | None, scorer: Scorer, catalogue: Catalogue
) -> tuple[list[LabelledDocument], list[str]]:
    """Parse, locate and score every labelled document in the gold folder(s)."""
    golds = [gold] if isinstance(gold, Path) else list(gold)
    verdicts = relevance_labels(golds)
    files = [labels for folder in golds for labels in label_files(folder)]
    stems = [f.name.removesuffix(".labels.tsv") for f in files]
    docs: list[LabelledDocument] = []
    unlocated: list[str] = []
    for labels, stem in zip(files, stems, strict=True):
        items = read_labels(labels, catalogue)
        pdf = pdf_for(labels, corpus)
        parsed = parse_document(pdf)
        if not parsed.ok:
            raise LabelError(f"{labels.name}: its PDF could not be read: {parsed.message}")
        located = locate(items, parsed.clauses)
        unlocated += [f"{labels.name} row {items[i].row}" for i, rows in located.items() if not rows]
        channels = scorer.measure_channels(parsed.clauses)
        cosines = scorer.exemplar_cosines(parsed.clauses)
        docs.append(
            LabelledDocument(
                parsed,
                items,
                located,
                channels,
                catalogue.ids,
                cosines,
                scorer.bank,
                relevance=verdicts.get(pdf.name, Relevance.PLAN),
                group=_group(stem, stems),
            )
        )
    # an annex variant's group is its plan's doc_id, so that both are held out together
    ids = {stem: d.doc.doc_id for stem, d in zip(stems, docs, strict=True)}
    docs = [replace(d, group=ids.get(d.group, d.doc.doc_id)) for d in docs]
    return docs, unlocated


def evaluate(
    gold: Path | Sequence[Path],
    corpus: Path | None,
    scorer: Scorer,
    catalogue: Catalogue,
    extend: Callable[[list[LabelledDocument]], list[LabelledDocument]] | None = None,
) -> Outcome:
    """Leave-one-document-out figures on the gold folder, and a calibration fitted on all of it.

    ``extend`` may add to the labelled documents before the folds (compare.review.labels: reviews).
    """
    docs, unlocated = labelled_documents(gold, corpus, scorer, catalogue)
    if extend is not None:
        docs = extend(docs)
    channel_names = list(docs[0].in_fold(frozenset()).channels)
    models = tuple(scorer.encoders)
    metrics, _ = leave_one_out(docs, channel_names, models, catalogue.ids)
    names = tuple(d.doc.file_name for d in docs)
    final = calibrate(
        [d.in_fold(frozenset({d.group})) for d in docs],
        channel_names,
        models,
        catalogue.ids,
        source=f"fitted on {len(docs)} labelled documents",
    )
    final = replace(
        final,
        metrics={
            "leave_one_document_out": metrics.as_dict(),
            "relevance": metrics.relevance,
            "documents": list(names),
        },
    )
    return Outcome(metrics=metrics, calibration=final, documents=names, unlocated=tuple(unlocated))


#: How the figures are obtained, as the figures and the evaluations table say.
PROTOCOL = "leave-one-document-out"
#: Added to the protocol when the warehouse's expert reviews count as labels.
WITH_REVIEWS_PROTOCOL = ", label files and expert reviews"
FIGURES_TITLE = "compare evaluation"


def write_figures(
    path: Path,
    outcome: Outcome,
    catalogue: Catalogue,
    models: Sequence[str],
    notes: Sequence[str] = (),
    sections: Sequence[str] = (),
) -> Path:
    """The figures as markdown in ``path``: documents, protocol and models, ``notes``, then the
    tables, then ``sections`` (markdown of later stages' figures: reuse between plans)."""
    lines = [
        f"documents: {', '.join(outcome.documents)}",
        f"protocol: {PROTOCOL} (each document judged by a calibration fitted on the others)",
        f"models: {', '.join(models)}",
        *notes,
    ]
    if outcome.unlocated:
        lines.append(f"labelled items not found among the clauses: {', '.join(outcome.unlocated)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    markdown = evaluation_markdown(outcome.metrics, catalogue, title=FIGURES_TITLE, notes=lines)
    if sections:
        markdown = markdown.rstrip("\n") + "\n\n" + "\n\n".join(x.strip("\n") for x in sections) + "\n"
    path.write_text(markdown, encoding="utf-8")
    return path


def evaluation_record(
    outcome: Outcome,
    evaluation_id: str,
    gold: Sequence[Path],
    models: Sequence[str],
    *,
    with_reviews: bool,
    evaluated_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The ``evaluations`` row: what was judged and how, the figures, and the calibration fitted on all."""
    return {
        "evaluation_id": evaluation_id,
        "evaluated_at": evaluated_at or dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "gold": ", ".join(str(g) for g in gold),
        "documents": ",".join(outcome.documents),
        "models": ",".join(models),
        "protocol": PROTOCOL + (WITH_REVIEWS_PROTOCOL if with_reviews else ""),
        **outcome.metrics.as_dict(),
        "calibration": outcome.calibration.as_record(),
    }
