"""What a document is, before what it covers: an Internet Plus plan, a related policy, or off topic.

A folder holds more than plans: related digital-policy documents that carry a few national
measures (数字经济, 数字政府, 人工智能 …) and unrelated policies dropped in by mistake (education,
forestry, courts, mining). Each document gets a verdict with its reasons:

- ``plan``: it says it is an Internet Plus implementation plan (cites 国发〔2015〕40号 or the
  Guiding Opinions, or has 互联网+ in its title) *and* its matches spread over many of the 18
  parts of the national plan (11 actions, 7 guarantee sections), as the plans' do;
- ``related``: not a plan, but a good share of its items match national measures: matched,
  flagged, and kept apart in summaries;
- ``off_topic``: neither. Kept with its clauses, but left out of the coverage matrix, the views
  and the report unless accepted (``compare run --accept FILE``).

The signals are computed from the document's own text and from its scores (after fusion and
thresholds), so they mean the same thing under any calibrated model set. The three cut-offs
are fitted on labelled documents, negatives included (``fit_relevance``), and stored with the
calibration.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np

from compare.match.scoring import MATCHABLE_KINDS
from compare.records import Clause, CoverageCell, CoverageStatus

#: 国发〔2015〕40号 with any bracket, or the Guiding Opinions' title.
NATIONAL_PLAN_CITATION = re.compile(
    r"国发\s*[〔\[［(（【]\s*2015\s*[〕\]］)）】]\s*40\s*号"
    r"|关于积极推进\s*[“\"「『]?\s*互联网\s*[+＋]\s*[”\"」』]?\s*行动的指导意见"
)
INTERNET_PLUS = re.compile(r"互联网\s*[+＋]")
#: Characters of the document's head searched for its title when no title was read.
TITLE_HEAD_CHARS = 300
#: The national plan's parts a document's matches can spread over: 11 actions and 7 sections.
NATIONAL_PARTS = 18


class Relevance(StrEnum):
    PLAN = "plan"
    RELATED = "related"
    OFF_TOPIC = "off_topic"


@dataclass(frozen=True)
class Signals:
    """What the verdict is decided on."""

    cites_national_plan: bool
    internet_plus_title: bool
    #: Parts of the national plan (of 18) with at least one covered measure.
    parts_covered: int
    #: Measures (of 65) covered.
    measures_covered: int
    #: Share of the document's measure items whose best match clears the clause threshold.
    item_share: float
    items: int


@dataclass(frozen=True)
class RelevanceCutoffs:
    """Where the verdicts change; fitted by ``fit_relevance``."""

    #: Parts a self-declared plan's matches must cover.
    plan_parts: int = 6
    #: Measures a related document must cover, and the share of its items that must match.
    related_measures: int = 2
    related_share: float = 0.1

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    relevance: Relevance
    reasons: tuple[str, ...]
    signals: Signals

    @property
    def reason_text(self) -> str:
        return "; ".join(self.reasons)


#: Parts of the national plan only a plan can carry: III.7 organizes the implementation of the
#: Internet Plus action itself (领导, 督查, 评估 of *this* plan). A related policy's own
#: 加强组织领导 organizes that policy, so its cells there are ``absent``.
PLAN_ONLY_PARTS = frozenset({"III.7"})


def published_cells(cells: Sequence[CoverageCell], verdict: Verdict | None) -> list[CoverageCell]:
    """The cells a document publishes under its verdict: a related document's cells in
    ``PLAN_ONLY_PARTS`` become ``absent`` (score kept, no evidence); others as they are."""
    if verdict is None or verdict.relevance != Relevance.RELATED:
        return list(cells)
    return [
        replace(c, status=CoverageStatus.ABSENT, evidence_clause_id=None)
        if part_of(c.measure_id) in PLAN_ONLY_PARTS
        else c
        for c in cells
    ]


def part_of(measure_id: str) -> str:
    """The national part a measure belongs to: ``II.3.2`` -> ``II.3``."""
    return measure_id.rsplit(".", 1)[0]


def signals(
    title: str | None,
    text: str,
    clauses: Sequence[Clause],
    cells: Sequence[CoverageCell],
    best_scores: np.ndarray,
    clause_threshold: float,
) -> Signals:
    """The signals of one document. ``best_scores``: each clause's best fused score (row order)."""
    head = title or text[:TITLE_HEAD_CHARS]
    covered = [c.measure_id for c in cells if c.status == CoverageStatus.COVERED]
    items = [row for row, clause in enumerate(clauses) if clause.kind in MATCHABLE_KINDS]
    matched = sum(1 for row in items if best_scores[row] >= clause_threshold)
    return Signals(
        cites_national_plan=bool(NATIONAL_PLAN_CITATION.search(text)),
        internet_plus_title=bool(INTERNET_PLUS.search(head)),
        parts_covered=len({part_of(m) for m in covered}),
        measures_covered=len(covered),
        item_share=matched / len(items) if items else 0.0,
        items=len(items),
    )


def verdict(s: Signals, cutoffs: RelevanceCutoffs) -> Verdict:
    """The verdict and the reasons for it, in words."""
    declared = []
    if s.cites_national_plan:
        declared.append("cites 国发〔2015〕40号")
    if s.internet_plus_title:
        declared.append("互联网+ in its title")
    spread = f"covered measures in {s.parts_covered} of {NATIONAL_PARTS} parts of the national plan"
    share = f"{s.item_share:.0%} of its {s.items} items match a national measure"
    if declared and s.parts_covered >= cutoffs.plan_parts:
        return Verdict(Relevance.PLAN, (*declared, f"{spread} (a plan: {cutoffs.plan_parts} or more)"), s)
    plan_miss = (
        f"{spread}, fewer than a plan's {cutoffs.plan_parts}"
        if declared
        else "does not say it is an Internet Plus plan (no 国发〔2015〕40号, no 互联网+ in the title)"
    )
    if s.measures_covered >= cutoffs.related_measures and s.item_share >= cutoffs.related_share:
        return Verdict(
            Relevance.RELATED,
            (
                plan_miss,
                f"covers {s.measures_covered} measures",
                f"{share} (related: {cutoffs.related_share:.0%} or more)",
            ),
            s,
        )
    return Verdict(
        Relevance.OFF_TOPIC,
        (plan_miss, f"covers {s.measures_covered} measures; {share}"),
        s,
    )


#: Candidate cut-offs searched by ``fit_relevance``.
PLAN_PARTS_GRID = tuple(range(2, NATIONAL_PARTS + 1))
RELATED_MEASURES_GRID = (1, 2, 3, 4, 5, 6, 8, 10)
RELATED_SHARE_GRID = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
#: A plan called off topic loses the whole document; a negative called a plan gains false claims.
#: Both weigh more than confusing related and off topic.
PLAN_ERROR_COST = 3.0
#: Each false covered cell a negative document publishes (it is matched unless off topic): four
#: false claims cost as much as a wrong verdict. The verdict exists to keep such claims out.
FALSE_CLAIM_COST = 0.25


def _cost(truth: Relevance, guess: Relevance) -> float:
    if truth == guess:
        return 0.0
    if Relevance.PLAN in (truth, guess):
        return PLAN_ERROR_COST
    return 1.0


@dataclass(frozen=True)
class Labelled:
    """A labelled document's signals, its verdict, and the false claims it publishes if matched."""

    signals: Signals
    truth: Relevance
    false_claims: int = 0


def fit_relevance(labelled: Sequence[Labelled]) -> RelevanceCutoffs:
    """The cut-offs with the least cost on labelled documents: wrong verdicts, and the false
    covered cells that negatives publish when they are matched. Among equally good cut-offs, the
    middle of each equally good run (least tuned to the examples): plan parts first, then the
    related measures, then the related share."""
    if not labelled:
        return RelevanceCutoffs()
    scored: list[tuple[float, RelevanceCutoffs]] = []
    for parts, measures, share in itertools.product(
        PLAN_PARTS_GRID, RELATED_MEASURES_GRID, RELATED_SHARE_GRID
    ):
        cutoffs = RelevanceCutoffs(parts, measures, share)
        cost = 0.0
        for item in labelled:
            guess = verdict(item.signals, cutoffs).relevance
            cost += _cost(item.truth, guess)
            if item.truth != Relevance.PLAN and guess != Relevance.OFF_TOPIC:
                cost += FALSE_CLAIM_COST * item.false_claims
        scored.append((round(cost, 9), cutoffs))
    best = min(cost for cost, _ in scored)
    winners = [c for cost, c in scored if cost == best]
    for name in ("plan_parts", "related_measures", "related_share"):
        values = sorted({getattr(c, name) for c in winners})
        middle = values[(len(values) - 1) // 2]
        winners = [c for c in winners if getattr(c, name) == middle]
    return winners[0]


def gate_figures(truth: Sequence[Relevance], guess: Sequence[Relevance]) -> dict[str, float]:
    """Precision and recall of ``plan``, and the share of negatives kept out of ``plan``."""
    pairs = list(zip(truth, guess, strict=True))
    tp = sum(t == Relevance.PLAN and g == Relevance.PLAN for t, g in pairs)
    predicted = sum(g == Relevance.PLAN for _, g in pairs)
    actual = sum(t == Relevance.PLAN for t, _ in pairs)
    negatives = [g for t, g in pairs if t != Relevance.PLAN]
    return {
        "gate_plan_precision": tp / predicted if predicted else 1.0,
        "gate_plan_recall": tp / actual if actual else 1.0,
        "gate_negatives_kept_out": (
            sum(g != Relevance.PLAN for g in negatives) / len(negatives) if negatives else 1.0
        ),
        "gate_exact": sum(t == g for t, g in pairs) / len(pairs) if pairs else 1.0,
        "gate_documents": float(len(pairs)),
    }


def cutoffs_from(record: Mapping[str, Any] | None) -> RelevanceCutoffs:
    """Cut-offs stored in a calibration file (the defaults when it has none)."""
    if not record:
        return RelevanceCutoffs()
    return RelevanceCutoffs(
        plan_parts=int(record["plan_parts"]),
        related_measures=int(record["related_measures"]),
        related_share=float(record["related_share"]),
    )
