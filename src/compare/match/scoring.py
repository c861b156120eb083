"""Scoring clauses against national measures, and the coverage decisions built on the scores.

Channels:
- one semantic channel per embedding model: cosine similarity, then z-normalized per clause
  across the 65 measures (raw cosines of different models live on different scales, and e5's
  sit in a narrow band, so no raw-cosine threshold is ever used);
- a lexical channel: character n-gram TF-IDF cosine against the Chinese national text where
  the catalogue has it (verbatim reuse);
- absolute channels (``<model>:abs``, and ``<model>:ex:abs`` for exemplars): the raw cosines,
  so that how close a clause comes to a measure counts as well as how far that measure stands
  out among the clause's others.
The fused score is a weighted sum of the channels; thresholds on it come from calibration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from compare.ingest.normalize import for_matching
from compare.match.catalogue import Catalogue
from compare.records import Clause, ClauseDecision, ClauseKind, CoverageCell, CoverageStatus, Match

LEXICAL = "lexical"
LEXICAL_NGRAMS = (2, 3)
#: Suffix of a channel that keeps absolute similarity (the raw cosine, not a per-clause z-score):
#: a clause that resembles no measure well keeps a low score there even where one measure stands
#: out among its others (a fragment such as "AA通用" does). Its weight and the thresholds are fitted
#: with the other channels, so no raw-cosine threshold is ever fixed by hand.
ABSOLUTE_SUFFIX = ":abs"
#: Clause kinds that can implement a national measure.
MATCHABLE_KINDS = frozenset({ClauseKind.MEASURE})
#: Clause kinds never embedded nor matched: boilerplate (印发, 抄送, contacts) and fragments (a lone
#: number, a table cell) are never evidence and weigh in no verdict. They get a ``none`` decision
#: with no score, and no rows in ``matches``.
UNSCORED_KINDS = frozenset({ClauseKind.BOILERPLATE, ClauseKind.FRAGMENT})
_EPS = 1e-6


#: Measure sentences shorter than this (characters) are not embedded on their own.
MIN_SENTENCE_CHARS = 20
#: A measure's sentence-level score is the mean of its best this-many sentence similarities.
SENTENCE_POOL = 2
_EN_SENTENCE_END = re.compile(r"(?<=[.;])\s+")
_ZH_SENTENCE_END = re.compile(r"(?<=[。；])")


@dataclass(frozen=True)
class Passages:
    """Texts embedded for the measures, and which measure (catalogue index) each belongs to."""

    texts: list[str]
    owner: np.ndarray
    pooled: bool

    def scores(self, cosines: np.ndarray, n_measures: int) -> np.ndarray:
        """clause x measure scores: the cosine itself, or the mean of the best sentences."""
        if not self.pooled:
            return cosines
        result = np.zeros((cosines.shape[0], n_measures), dtype=np.float32)
        for index in range(n_measures):
            columns = cosines[:, self.owner == index]
            best = -np.sort(-columns, axis=1)[:, :SENTENCE_POOL]
            result[:, index] = best.mean(axis=1)
        return result


def _sentences(text: str, pattern: re.Pattern[str]) -> list[str]:
    return [p.strip() for p in pattern.split(text) if len(p.strip()) >= MIN_SENTENCE_CHARS]


def measure_passages(catalogue: Catalogue) -> dict[str, Passages]:
    """The measure texts each semantic channel compares clauses with, by channel suffix.

    - ``""``: the whole measure (official Chinese section title, English title and text);
    - ``":sent"``: each sentence of the English text, pooled per measure (catches a clause that
      carries one part of a long measure);
    - ``":zh"``: the Chinese text, only when every measure has one (z-scores across a mix of
      languages would favour the measures whose text shares the clause's language).
    """
    measures = catalogue.measures
    whole = [f"{m.section_title_zh}：{m.title_en} {m.text_en}" for m in measures]
    result = {"": Passages(whole, np.arange(len(measures)), pooled=False)}
    texts, owner = [], []
    for index, m in enumerate(measures):
        for sentence in _sentences(m.text_en, _EN_SENTENCE_END) or [m.text_en]:
            texts.append(f"{m.section_title_zh}：{sentence}")
            owner.append(index)
    result[":sent"] = Passages(texts, np.asarray(owner), pooled=True)
    if all(m.text_zh for m in measures):
        result[":zh"] = Passages([m.text_zh or "" for m in measures], np.arange(len(measures)), pooled=False)
    return result


def clause_query(clause: Clause) -> str:
    """What is embedded for a clause: its nearest heading, then its normalized text.

    The heading places a terse item in its action (“（三）“互联网+”现代农业” > 4.质量追溯”).
    """
    parent = next((h for h in reversed(clause.heading.split(" > ")) if h.strip()), "")
    return f"{for_matching(parent)}：{clause.text_norm}" if parent else clause.text_norm


def row_z(scores: np.ndarray) -> np.ndarray:
    """Each clause's scores as z-scores across the measures: how far a measure stands out for it."""
    if scores.size == 0:
        return scores.astype(np.float32)
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    return ((scores - mean) / np.maximum(std, _EPS)).astype(np.float32)


def lexical_cosines(texts: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """Character n-gram TF-IDF cosine of every text with every reference.

    The vocabulary and IDF come from the references alone, so a text's scores never depend on
    which other texts are scored with it (a document scored alone or in a batch scores the same).
    """
    if not texts or not references:
        return np.zeros((len(texts), len(references)), dtype=np.float32)
    # imported here: scikit-learn takes a second and a half to import, and a run that finds
    # nothing to score (compare run's plan, compare status) never needs it
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=LEXICAL_NGRAMS, sublinear_tf=True)
    reference_matrix = vectorizer.fit_transform(references)
    return (vectorizer.transform(texts) @ reference_matrix.T).toarray().astype(np.float32)


def lexical(clause_texts: Sequence[str], catalogue: Catalogue) -> np.ndarray:
    """Character n-gram TF-IDF cosine with the Chinese text of each measure (0 where there is none)."""
    result = np.zeros((len(clause_texts), len(catalogue)), dtype=np.float32)
    with_zh = [(i, m.text_zh) for i, m in enumerate(catalogue.measures) if m.text_zh]
    if not with_zh or not clause_texts:
        return result
    cosines = lexical_cosines(clause_texts, [t for _, t in with_zh])
    for column, (index, _) in enumerate(with_zh):
        result[:, index] = cosines[:, column]
    return result


def fused_scores(channels: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """clause x measure fused scores: the weighted sum of the channels, in float32.

    The one place scores are fused: runs, calibration, evaluation and the review simulation all
    call it, so thresholds are fitted on the very numbers runs compare with them. The channels
    are added in the order of ``weights``, each as ``weight * channel`` in float32.
    """
    missing = set(weights) - set(channels)
    if missing:
        raise ValueError(f"fusion weights name channels that were not scored: {sorted(missing)}")
    if not channels:
        raise ValueError("no channel was scored; there is nothing to fuse")
    total = np.zeros(next(iter(channels.values())).shape, dtype=np.float32)
    for name, weight in weights.items():
        total += weight * channels[name]
    return total


@dataclass(frozen=True)
class Fusion:
    """How channels combine: a weight per channel (semantic channels are named by model spec)."""

    weights: Mapping[str, float]

    def fused(self, channels: Mapping[str, np.ndarray]) -> np.ndarray:
        return fused_scores(channels, self.weights)


def top_matches(
    clauses: Sequence[Clause],
    fused: np.ndarray,
    channels: Mapping[str, np.ndarray],
    measure_ids: Sequence[str],
    *,
    k: int,
    method: str,
) -> list[Match]:
    """The k best measures for every clause, best first, with each channel's score."""
    matches: list[Match] = []
    if not clauses:
        return matches
    order = np.argsort(-fused, axis=1, kind="stable")[:, :k]
    for row, clause in enumerate(clauses):
        for rank, column in enumerate(order[row], start=1):
            matches.append(
                Match(
                    clause_id=clause.clause_id,
                    measure_id=measure_ids[column],
                    rank=rank,
                    score=float(fused[row, column]),
                    channels=tuple((name, float(values[row, column])) for name, values in channels.items()),
                    method=method,
                )
            )
    return matches


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds on the fused score."""

    covered: float
    partial: float
    clause: float

    def __post_init__(self) -> None:
        if not self.partial <= self.covered:
            raise ValueError(
                f"partial threshold {self.partial} must not exceed covered threshold {self.covered}"
            )

    def status(self, score: float) -> CoverageStatus:
        if score >= self.covered:
            return CoverageStatus.COVERED
        if score >= self.partial:
            return CoverageStatus.PARTIAL
        return CoverageStatus.ABSENT


def coverage(
    doc_ids: Sequence[str],
    clauses: Sequence[Clause],
    fused: np.ndarray,
    measure_ids: Sequence[str],
    thresholds: Thresholds,
) -> list[CoverageCell]:
    """Every document x measure: the best matchable clause's score decides the status.

    A document with no matchable clause gets ``absent`` everywhere, with no evidence.
    """
    cells: list[CoverageCell] = []
    rows_by_doc: dict[str, list[int]] = {d: [] for d in doc_ids}
    for row, clause in enumerate(clauses):
        if clause.kind in MATCHABLE_KINDS and clause.doc_id in rows_by_doc:
            rows_by_doc[clause.doc_id].append(row)
    for doc_id in doc_ids:
        rows = rows_by_doc[doc_id]
        for column, measure_id in enumerate(measure_ids):
            if not rows:
                cells.append(CoverageCell(doc_id, measure_id, CoverageStatus.ABSENT, 0.0, None))
                continue
            scores = fused[rows, column]
            best = int(np.argmax(scores))
            score = float(scores[best])
            status = thresholds.status(score)
            evidence = clauses[rows[best]].clause_id if status != CoverageStatus.ABSENT else None
            cells.append(CoverageCell(doc_id, measure_id, status, score, evidence))
    return cells


IMPLEMENTS = "measure"
NONE = "none"


def decisions(
    clauses: Sequence[Clause], fused: np.ndarray, measure_ids: Sequence[str], thresholds: Thresholds
) -> list[ClauseDecision]:
    """Each clause's best measure, or ``none``: not a measure item, or no measure close enough."""
    result = []
    for row, clause in enumerate(clauses):
        column = int(np.argmax(fused[row])) if fused.shape[1] else 0
        score = float(fused[row, column]) if fused.shape[1] else 0.0
        implements = clause.kind in MATCHABLE_KINDS and score >= thresholds.clause
        result.append(
            ClauseDecision(
                clause_id=clause.clause_id,
                doc_id=clause.doc_id,
                decision=IMPLEMENTS if implements else NONE,
                measure_id=measure_ids[column] if implements else None,
                score=score,
            )
        )
    return result
