"""Expert review of the coverage matrix: what a reviewer is asked, in which order, and what a verdict says.

A *cell* is one document x national measure. ``review_cells(con)`` reads every cell of the
published warehouse with the machine's status and score, its top evidence clauses (text and
page) and its review priority; ``compare.review.workbook`` writes them into the workbook an
expert fills in, ``compare.review.importing`` stores the verdicts in the ``reviews`` table
(``src/compare/store/sql/reviews.sql``), and ``compare.review.labels`` turns them into labelled data.

Verdicts (``parse_verdict``): ``covered``, ``partial``, ``absent``, or the id of another
national measure, which says the cell's evidence clause implements that measure instead (the
cell is then absent, and the named measure's cell covered by that clause).

Review priority (``priority``): how much a reviewer's verdict on a cell is worth, in [0, 1.5]:

    priority = closeness + DISAGREEMENT_WEIGHT * disagreement

- ``closeness = 1 / (1 + ((score - covered) / (NEAR_WIDTH_Z * scale))**2)`` is 1 on the
  covered threshold and falls off on both sides; ``scale`` is the sum of the fusion weights,
  the amount the fused score moves when every channel moves by one standard deviation, so
  ``NEAR_WIDTH_Z`` is a width in channel z-score units whatever the calibration;
- ``disagreement = min(1, |r_semantic - r_corroborating| / DISAGREEMENT_FULL)`` compares, for
  the cell's best clause, how the semantic channels (the embedding models against the
  measure's text) and the corroborating channels (the lexical channel and the exemplar
  channels: other provinces' wording) rank the measure. A channel's stored score is a z-score
  across the 65 measures, but channels spread differently (a near-verbatim exemplar reaches a
  z of 8, an embedding model rarely 4), so each is turned into its percentile rank among that
  channel's scores over all stored matches (``ChannelScale``); a group's rank is the weighted
  mean of its channels' (fusion weights; plain mean when the group has no weight).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import duckdb
import numpy as np

from compare.errors import ReviewError
from compare.match.exemplars import EXEMPLAR_SUFFIX
from compare.match.scoring import ABSOLUTE_SUFFIX, LEXICAL, MATCHABLE_KINDS
from compare.records import CoverageStatus

#: Width of the "near the covered threshold" band, in channel z-score units (see the module docstring).
NEAR_WIDTH_Z = 0.25
#: A gap this large between the semantic and corroborating channels' percentile ranks is full disagreement.
DISAGREEMENT_FULL = 0.5
#: How much channel disagreement counts beside closeness to the threshold.
DISAGREEMENT_WEIGHT = 0.5
#: A part of the priority at least this large is named in the workbook's "why" column.
REASON_FROM = 0.5
#: Evidence clauses shown per cell: the machine's evidence first, then the next best clauses.
EVIDENCE_SHOWN = 3

#: The verdict for "the evidence clause implements a different measure".
REASSIGNED = "reassigned"
#: Verdicts on a cell's status, and what a reviewer may also write for them.
CELL_VERDICTS: tuple[str, ...] = (CoverageStatus.COVERED, CoverageStatus.PARTIAL, CoverageStatus.ABSENT)
VERDICT_ALIASES: dict[str, str] = {
    "covered": CoverageStatus.COVERED,
    "yes": CoverageStatus.COVERED,
    "覆盖": CoverageStatus.COVERED,
    "已覆盖": CoverageStatus.COVERED,
    "有": CoverageStatus.COVERED,
    "partial": CoverageStatus.PARTIAL,
    "部分": CoverageStatus.PARTIAL,
    "部分覆盖": CoverageStatus.PARTIAL,
    "absent": CoverageStatus.ABSENT,
    "no": CoverageStatus.ABSENT,
    "none": CoverageStatus.ABSENT,
    "未覆盖": CoverageStatus.ABSENT,
    "缺失": CoverageStatus.ABSENT,
    "无": CoverageStatus.ABSENT,
}
_MEASURE_ID = re.compile(r"^(?:II|III)\.\d{1,2}\.\d{1,2}$")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Verdict:
    """A reviewer's verdict: a status for the cell, or another measure for its evidence clause."""

    verdict: str
    reassigned_to: str | None = None

    @property
    def status(self) -> str:
        """The cell's status under this verdict (a reassigned clause leaves the cell absent)."""
        return CoverageStatus.ABSENT if self.verdict == REASSIGNED else self.verdict

    def __str__(self) -> str:
        return self.reassigned_to if self.verdict == REASSIGNED and self.reassigned_to else self.verdict


def parse_verdict(text: str, known_measures: Sequence[str] | frozenset[str]) -> Verdict:
    """A verdict from what a reviewer typed; ``ValueError`` says what is accepted."""
    raw = _SPACES.sub("", str(text)).strip()
    if (status := VERDICT_ALIASES.get(raw.lower())) is not None:
        return Verdict(str(status))
    candidate = raw.upper().replace("．", ".")
    if _MEASURE_ID.match(candidate):
        if candidate not in known_measures:
            raise ValueError(f"verdict {text!r} names no national measure (ids run II.1.1 … III.7.3)")
        return Verdict(REASSIGNED, candidate)
    raise ValueError(
        f"verdict {text!r} is not one of covered, partial, absent or a national measure id such as II.3.2"
    )


def is_semantic(channel: str) -> bool:
    """An embedding channel against the measure's own text, z-normalized (not lexical, not
    exemplars, not absolute)."""
    return channel != LEXICAL and not channel.endswith((EXEMPLAR_SUFFIX, ABSOLUTE_SUFFIX))


@dataclass(frozen=True)
class ChannelScale:
    """Each channel's scores over a reference set of matches, sorted: turns a z-score into a percentile rank."""

    sorted_scores: dict[str, np.ndarray]

    @classmethod
    def fit(cls, samples: Mapping[str, Sequence[float] | np.ndarray]) -> ChannelScale:
        return cls(
            {
                name: np.sort(np.asarray(values, dtype=np.float64))
                for name, values in samples.items()
                if len(values)
            }
        )

    def ranks(self, channels: Mapping[str, float]) -> dict[str, float]:
        """Per channel, the share of the reference scores at or below this one (channels without a reference are left out)."""
        return {
            name: float(
                np.searchsorted(self.sorted_scores[name], value, side="right") / len(self.sorted_scores[name])
            )
            for name, value in channels.items()
            if name in self.sorted_scores
        }


def _group_rank(
    ranks: Mapping[str, float], weights: Mapping[str, float], names: Sequence[str]
) -> float | None:
    if not names:
        return None
    total = sum(max(weights.get(n, 0.0), 0.0) for n in names)
    if total > 0:
        return sum(max(weights.get(n, 0.0), 0.0) * ranks[n] for n in names) / total
    return sum(ranks[n] for n in names) / len(names)


def channel_gap(ranks: Mapping[str, float] | None, weights: Mapping[str, float]) -> float | None:
    """Semantic minus corroborating channels' weighted mean percentile rank (None without both groups)."""
    if not ranks:
        return None
    semantic = [n for n in ranks if is_semantic(n)]
    corroborating = [n for n in ranks if not is_semantic(n)]
    r_semantic = _group_rank(ranks, weights, semantic)
    r_corroborating = _group_rank(ranks, weights, corroborating)
    if r_semantic is None or r_corroborating is None:
        return None
    return r_semantic - r_corroborating


@dataclass(frozen=True)
class Priority:
    """A cell's review priority and its two parts."""

    value: float
    closeness: float
    disagreement: float
    gap: float | None

    def reason(self) -> str:
        """Why the cell is worth a look, in words (Chinese first, as the workbook shows it)."""
        parts = []
        if self.closeness >= REASON_FROM:
            parts.append("接近判定阈值 near the threshold")
        if self.disagreement >= REASON_FROM and self.gap is not None:
            side = (
                "语义通道更高 semantic higher"
                if self.gap > 0
                else "词汇/范例通道更高 lexical/exemplar higher"
            )
            parts.append(f"通道分歧 channels disagree: {side}")
        return "；".join(parts)


def priority(
    score: float,
    covered: float,
    weights: Mapping[str, float],
    ranks: Mapping[str, float] | None = None,
) -> Priority:
    """How much a verdict on a cell is worth (module docstring): closeness plus channel disagreement.

    ``ranks`` are the percentile ranks of the cell's best clause's channel scores (``ChannelScale.ranks``).
    """
    scale = sum(abs(w) for w in weights.values()) or 1.0
    width = NEAR_WIDTH_Z * scale
    closeness = 1.0 / (1.0 + ((score - covered) / width) ** 2)
    gap = channel_gap(ranks, weights)
    disagreement = min(1.0, abs(gap) / DISAGREEMENT_FULL) if gap is not None else 0.0
    return Priority(closeness + DISAGREEMENT_WEIGHT * disagreement, closeness, disagreement, gap)


@dataclass(frozen=True)
class Evidence:
    """A clause shown to the reviewer for a cell."""

    clause_id: str
    page: int | None
    path: str
    text: str
    score: float | None


@dataclass(frozen=True)
class ReviewCell:
    """One document x measure cell as the reviewer sees it."""

    doc_id: str
    file_name: str
    sha256: str
    measure_id: str
    section_zh: str
    title_en: str
    status: str
    score: float
    run_id: str
    evidence: tuple[Evidence, ...]
    priority: Priority
    previous: str | None

    @property
    def cell_key(self) -> str:
        return cell_key(self.doc_id, self.measure_id)


@dataclass(frozen=True)
class ReviewDocument:
    """A document to review, with its cells in priority order (already reviewed cells last)."""

    doc_id: str
    file_name: str
    sha256: str
    label: str
    doc_number: str
    title: str
    cells: tuple[ReviewCell, ...]

    @property
    def reviewed(self) -> int:
        return sum(c.previous is not None for c in self.cells)


def cell_key(doc_id: str, measure_id: str) -> str:
    """The stable key of a cell: the same for every run over the same file."""
    return f"{doc_id}:{measure_id}"


_KINDS = ", ".join(f"'{k}'" for k in sorted(MATCHABLE_KINDS))
#: The documents reviewed: those of the researcher view ``current_documents`` (src/compare/store/sql/views.sql:
#: withdrawn files left out) read without error. Off-topic ones are among them: they have cells,
#: which only the coverage views leave out.
REVIEWED_DOCUMENTS = "(SELECT * FROM current_documents WHERE status = 'ok')"
#: The tables and views the review reads.
REVIEW_SOURCES = frozenset(
    {"current_documents", "coverage", "matches", "clauses", "national_measures", "runs"}
)
#: Columns of ``current_documents`` the review reads beyond those every published warehouse has had.
REVIEWED_COLUMNS = ("sha256",)
DOCUMENTS_SQL = f"""
SELECT doc_id, file_name, sha256, province, city, issuer, doc_number, title
FROM {REVIEWED_DOCUMENTS} ORDER BY file_name
"""
CELLS_SQL = f"""
SELECT c.doc_id, c.measure_id, n.section_title_zh, n.title_en, c.status, c.score,
       c.evidence_clause_id, c.run_id
FROM coverage c JOIN {REVIEWED_DOCUMENTS} d USING (doc_id) JOIN national_measures n USING (measure_id)
"""
#: The best clauses of each cell from the stored matches (a clause keeps only its top-k measures).
CANDIDATES_SQL = f"""
SELECT k.doc_id, m.measure_id, m.clause_id, m.score, m.channel_scores, k.page, k.path, k.text
FROM matches m JOIN clauses k USING (clause_id) JOIN {REVIEWED_DOCUMENTS} d ON d.doc_id = k.doc_id
WHERE k.kind IN ({_KINDS})
QUALIFY row_number() OVER (PARTITION BY k.doc_id, m.measure_id ORDER BY m.score DESC, m.clause_id)
        <= {EVIDENCE_SHOWN}
"""
EVIDENCE_CLAUSES_SQL = """
SELECT c.evidence_clause_id, k.page, k.path, k.text
FROM coverage c JOIN clauses k ON k.clause_id = c.evidence_clause_id
"""
PREVIOUS_SQL = "SELECT doc_id, measure_id, review_verdict, reviewer FROM coverage_reviewed WHERE review_verdict IS NOT NULL"


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views()"
    ).fetchall()
    return {r[0] for r in rows}


def _check_views(con: duckdb.DuckDBPyConnection) -> None:
    """Refuse a warehouse whose researcher views predate the columns the review reads (every
    run re-creates them)."""
    present = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'current_documents'"
        ).fetchall()
    }
    if missing := [c for c in REVIEWED_COLUMNS if c not in present]:
        raise ReviewError(
            f"the warehouse's view current_documents has no {', '.join(missing)} column (written by an "
            "older compare); run `compare run` to refresh its views"
        )


def run_calibrations(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[float, dict[str, float]]]:
    """Per run: the covered threshold and fusion weights it decided with."""
    result = {}
    for run_id, thresholds in con.execute("SELECT run_id, thresholds FROM runs").fetchall():
        try:
            record = json.loads(thresholds)
            result[run_id] = (float(record["thresholds"]["covered"]), dict(record["weights"]))
        except (TypeError, KeyError, ValueError) as exc:
            raise ReviewError(f"runs.thresholds of run {run_id} is not a calibration record ({exc})") from exc
    return result


def channel_scale(con: duckdb.DuckDBPyConnection) -> ChannelScale:
    """Every channel's scores over the stored matches of ok documents."""
    rows = con.execute(
        "SELECT key, list(value) FROM (SELECT unnest(map_keys(channel_scores)) AS key, "
        "unnest(map_values(channel_scores)) AS value FROM matches m JOIN clauses k USING (clause_id) "
        f"JOIN {REVIEWED_DOCUMENTS} d ON d.doc_id = k.doc_id) GROUP BY key"
    ).fetchall()
    return ChannelScale.fit({key: values for key, values in rows})


def document_label(province: str | None, city: str | None, file_name: str, issuer: str | None = None) -> str:
    """A short name for a document: province, ·city for municipal plans, else the city, else the
    issuing body as read (国务院办公厅, 工业和信息化部 … for a document with no province), else the
    file's stem."""
    if province:
        return f"{province}·{city}" if city else province
    return city or issuer or file_name.rsplit(".", 1)[0]


def review_documents(con: duckdb.DuckDBPyConnection) -> list[ReviewDocument]:
    """Every ok document of the warehouse with its cells to review, highest priority first."""
    if missing := REVIEW_SOURCES - _tables(con):
        raise ReviewError(
            f"the warehouse has no {', '.join(sorted(missing))} table or view; run `compare run` first"
        )
    _check_views(con)
    calibrations = run_calibrations(con)
    scale = channel_scale(con)
    candidates: dict[tuple[str, str], list[tuple]] = {}
    for row in con.execute(CANDIDATES_SQL).fetchall():
        candidates.setdefault((row[0], row[1]), []).append(row[2:])
    shown = {r[0]: r[1:] for r in con.execute(EVIDENCE_CLAUSES_SQL).fetchall()}
    previous: dict[tuple[str, str], str] = {}
    if "coverage_reviewed" in _tables(con):
        previous = {(d, m): f"{v} ({who})" for d, m, v, who in con.execute(PREVIOUS_SQL).fetchall()}
    cells_by_doc: dict[str, list[ReviewCell]] = {}
    for doc_id, measure_id, section_zh, title_en, status, score, evidence_id, run_id in con.execute(
        CELLS_SQL
    ).fetchall():
        if run_id not in calibrations:
            raise ReviewError(f"coverage of {doc_id} names run {run_id}, which is not in the runs table")
        covered, weights = calibrations[run_id]
        rows = sorted(candidates.get((doc_id, measure_id), []), key=lambda r: (-r[1], r[0]))
        evidence = [Evidence(r[0], r[3], r[4], r[5], r[1]) for r in rows]
        if evidence_id and evidence_id not in {e.clause_id for e in evidence}:
            page, path, text = shown[evidence_id]
            evidence.insert(0, Evidence(evidence_id, page, path, text, score))
        elif evidence_id:
            evidence.sort(key=lambda e: e.clause_id != evidence_id)
        top_channels = next((dict(r[2]) for r in rows if evidence and r[0] == evidence[0].clause_id), None)
        cells_by_doc.setdefault(doc_id, []).append(
            ReviewCell(
                doc_id=doc_id,
                file_name="",
                sha256="",
                measure_id=measure_id,
                section_zh=section_zh or "",
                title_en=title_en or "",
                status=status,
                score=float(score),
                run_id=run_id,
                evidence=tuple(evidence[:EVIDENCE_SHOWN]),
                priority=priority(
                    float(score), covered, weights, scale.ranks(top_channels) if top_channels else None
                ),
                previous=previous.get((doc_id, measure_id)),
            )
        )
    documents = []
    for doc_id, file_name, sha256, province, city, issuer, doc_number, title in con.execute(
        DOCUMENTS_SQL
    ).fetchall():
        cells = [replace(c, file_name=file_name, sha256=sha256) for c in cells_by_doc.get(doc_id, [])]
        cells.sort(key=lambda c: (c.previous is not None, -c.priority.value, c.measure_id))
        documents.append(
            ReviewDocument(
                doc_id=doc_id,
                file_name=file_name,
                sha256=sha256,
                label=document_label(province, city, file_name, issuer),
                doc_number=doc_number or "",
                title=title or "",
                cells=tuple(cells),
            )
        )
    return documents
