"""What the committee report shows, read from the published warehouse into plain values.

``report_data(path)`` opens the warehouse read-only once and returns a ``ReportData``: the
documents in a fixed order (provinces in the national administrative order, then cities and
counties, then national and ministry documents, then documents whose issuer was not read),
their coverage cells with the evidence clause behind each, what each document adds beyond
the national plan, its targets and departments, the runs that produced the cells and the
figures that say how far the matching can be trusted. Nothing here formats or renders.

Which documents count is the warehouse's word, not the report's: the documents come from the
researcher view ``current_documents`` (withdrawn ones left out, ``in_matrix`` saying whether a
document is in the coverage matrix) and the cells from ``coverage_by_document``
(src/compare/store/sql/views.sql). The report shows those read without error (status ok); the rest are
listed with their message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from compare.errors import WarehouseError
from compare.report.reviews import reviewed_coverage
from compare.store import warehouse

#: The 31 provincial-level divisions in the order of the national administrative code (GB/T 2260).
PROVINCE_ORDER: tuple[str, ...] = (
    "北京", "天津", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "上海", "江苏", "浙江",
    "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "广西", "海南", "重庆",
    "四川", "贵州", "云南", "西藏", "陕西", "甘肃", "青海", "宁夏", "新疆",
)  # fmt: skip
#: Joins a city to its province in a document's short label, e.g. 四川·成都.
LABEL_JOINER = "·"
CITY_LEVEL = "city"
OK_STATUS = "ok"


@dataclass(frozen=True)
class IssuerGroup:
    """A group of documents the report shows together, by the kind of their issuer.

    ``local`` groups hold the plans of provinces, cities and counties: the figures that compare
    plans (median, lowest and highest coverage, least implemented measures, mean row) count
    them only. National, ministry and joint documents, and documents whose issuer was not read,
    are shown in their own groups and never ranked with the provinces.
    """

    key: str
    zh: str
    en: str
    levels: tuple[str, ...]  # issuer levels (the warehouse macro issuer_level) it holds
    local: bool


#: Issuer level (src/compare/store/sql/views.sql, macro ``issuer_level``) -> (Chinese, English) label of a document.
ISSUER_LEVELS: dict[str, tuple[str, str]] = {
    "provincial": ("省级", "provincial plan"),
    "city": ("市级", "city plan"),
    "county": ("县级", "county plan"),
    "national": ("国家级", "national document (State Council, central committee)"),
    "ministry": ("部委", "ministry document"),
    "joint": ("联合发文", "joint document of several issuers"),
    "unknown": ("发文机关未识别", "issuer not identified"),
}
UNKNOWN_LEVEL = "unknown"
#: Relevance verdicts (documents.relevance) the report treats apart.
RELATED = "related"
OFF_TOPIC = "off_topic"
#: The groups of the report, in display order.
ISSUER_GROUPS: tuple[IssuerGroup, ...] = (
    IssuerGroup("provincial", "省级", "Provincial plans", ("provincial",), local=True),
    IssuerGroup("city", "市级", "City plans", ("city",), local=True),
    IssuerGroup("county", "县级", "County plans", ("county",), local=True),
    IssuerGroup(
        "central",
        "国家与部委文件",
        "National and ministry documents",
        ("national", "ministry", "joint"),
        local=False,
    ),
    IssuerGroup(UNKNOWN_LEVEL, "发文机关未识别", "Issuer not identified", (UNKNOWN_LEVEL,), local=False),
    # whatever its issuer, a document judged `related` (compare.match.relevance) is not an Internet Plus
    # plan: shown, and kept apart from the plans
    IssuerGroup(RELATED, "相关政策文件", "Related policies (not Internet Plus plans)", (), local=False),
)
_GROUP_OF_LEVEL = {level: group for group in ISSUER_GROUPS for level in group.levels}
_GROUP_KEYS = {group.key: group for group in ISSUER_GROUPS}
#: Where the evaluation figures come from when ``compare evaluate`` has not written any.
CALIBRATION_METRICS_KEY = "leave_one_document_out"
#: Tables the report cannot do without.
REQUIRED_TABLES = ("runs", "national_measures", "documents", "clauses", "coverage", "clause_decisions")

MEASURES_SQL = """
SELECT measure_id, part, section_no, measure_no, section_id, section_title_en, section_title_zh,
       title_en, text_zh, ministries, lead_ministry
FROM national_measures
ORDER BY part, section_no, measure_no
"""
DOCUMENTS_SQL = """
SELECT doc_id, file_name, province, city, level, issuer_level, title, issuer, doc_number,
       issue_date, script, ocr_used, page_count, n_clauses, status, message, run_id,
       relevance, relevance_reasons, accepted, in_matrix
FROM current_documents
"""
COVERAGE_SQL = """
SELECT doc_id, measure_id, status, score, evidence_clause_id, run_id
FROM coverage_by_document
"""
#: Measure items that implement no national measure: what a document adds beyond the national plan.
ADDITIONS_SQL = """
SELECT k.clause_id, k.doc_id, k.seq, d.score, m.measure_id AS closest_measure_id, m.score AS closest_score
FROM clause_decisions d
JOIN clauses k USING (clause_id)
LEFT JOIN matches m ON m.clause_id = k.clause_id AND m.rank = 1
WHERE d.decision = 'none' AND k.kind = 'measure'
ORDER BY k.doc_id, k.seq
"""
TARGETS_SQL = "SELECT clause_id, doc_id, indicator, value, unit, year, text FROM targets"
DEPARTMENTS_SQL = "SELECT clause_id, doc_id, name, role FROM departments"
CLAUSES_SQL = """
SELECT clause_id, doc_id, seq, path, heading, kind, text, page
FROM clauses
WHERE clause_id IN (SELECT clause_id FROM _cited)
ORDER BY doc_id, seq
"""
RUNS_SQL = "SELECT * FROM runs ORDER BY finished_at"
EVALUATION_SQL = "SELECT * FROM evaluations ORDER BY evaluated_at DESC LIMIT 1"
EVALUATION_MEASURES_SQL = (
    "SELECT measure_id, support, precision, recall, f1 FROM evaluation_measures WHERE evaluation_id = ?"
)


@dataclass(frozen=True)
class Evaluation:
    """How far the matching can be trusted: leave-one-document-out figures on labelled plans."""

    source: str  # where the figures come from, in words
    figures: dict[str, Any]  # items, located, top1, top3, none_*, cell_*, cells
    documents: tuple[str, ...]  # labelled documents judged
    protocol: str
    per_measure: pd.DataFrame  # measure_id, support, precision, recall, f1 (empty when unknown)


DIFFUSION_DOCUMENTS_SQL = """
SELECT doc_id, jurisdiction, file_name, province, city, issuer_level, doc_number, issue_date, n_clauses,
       original_share, reused_own_province_share, reused_other_province_share, reused_national_share,
       beyond_national_plan_share, national_text
FROM localization_by_document ORDER BY doc_id
"""
DIFFUSION_PAIRS_SQL = """
SELECT doc_id, other_doc_id, other_is_earlier, verbatim_share, paraphrase_share, reused_share,
       verbatim_clauses, paraphrase_clauses, semantic_similarity
FROM document_reuse ORDER BY doc_id, other_doc_id
"""
HOMOGENEITY_SQL = "SELECT * FROM homogeneity_by_measure ORDER BY homogeneity DESC, measure_id"
REUSE_STATE_SQL = "SELECT * FROM reuse_index ORDER BY created_at DESC LIMIT 1"


@dataclass(frozen=True)
class Diffusion:
    """Reuse between the documents shown (the reuse views of src/compare/store/sql/views.sql)."""

    documents: pd.DataFrame  # localization_by_document: one row per document in the reuse index
    pairs: pd.DataFrame  # document_reuse: one row per ordered pair joined by reuse
    homogeneity: pd.DataFrame  # homogeneity_by_measure, most homogeneous first
    state: dict[str, Any]  # the latest reuse_index row (the index in force; notes)


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, as DataFrames in display order."""

    warehouse: Path
    measures: pd.DataFrame  # national_measures in catalogue order
    documents: pd.DataFrame  # ok documents in display order, with label, anchor and counts
    failed: pd.DataFrame  # documents that could not be read, with their message
    coverage: pd.DataFrame  # one row per document x measure
    additions: pd.DataFrame  # measure clauses that implement no national measure
    targets: pd.DataFrame
    departments: pd.DataFrame
    clauses: pd.DataFrame  # every clause the report quotes, indexed by clause_id
    runs: pd.DataFrame  # the runs that decided the cells shown, oldest first
    latest_run: dict[str, Any]
    calibration: dict[str, Any]  # the latest run's thresholds JSON
    evaluation: Evaluation | None
    diffusion: Diffusion | None = None  # None: the warehouse holds no reuse yet

    @property
    def n_measures(self) -> int:
        return len(self.measures)


def doc_anchor(doc_id: str) -> str:
    return f"doc-{doc_id}"


def measure_anchor(measure_id: str) -> str:
    return "m-" + measure_id.replace(".", "-")


def clause_anchor(clause_id: str) -> str:
    return "c-" + clause_id.replace(":", "-")


def section_anchor(section_id: str) -> str:
    return "s-" + section_id.replace(".", "-")


def _text(value: Any) -> str:
    """A stored text value, stripped; "" for NULL (None, or NaN in a DataFrame)."""
    return value.strip() if isinstance(value, str) else ""


def issuer_group(level: Any) -> IssuerGroup:
    """The report group of an issuer level; an unknown or missing level is the unidentified group."""
    return _GROUP_OF_LEVEL.get(_text(level), _GROUP_OF_LEVEL[UNKNOWN_LEVEL])


def province_rank(province: str | None) -> int:
    """Position of a province in the administrative order; unknown or missing names sort last."""
    name = _text(province)
    for rank, known in enumerate(PROVINCE_ORDER):
        if name.startswith(known):
            return rank
    return len(PROVINCE_ORDER)


def document_labels(documents: pd.DataFrame) -> list[str]:
    """A short, unique label per document: the province, province·city for a city plan, else the
    issuing body as read (国务院办公厅, 工业和信息化部 …), else the file's stem."""
    labels = []
    for row in documents.itertuples(index=False):
        province, city = _text(row.province), _text(row.city)
        if row.level == CITY_LEVEL and city:
            label = f"{province}{LABEL_JOINER}{city}" if province else city
        else:
            label = province or _text(row.issuer) or Path(row.file_name).stem
        labels.append(label)
    seen: dict[str, int] = {}
    unique = []
    for label, year in zip(labels, _issue_years(documents), strict=True):
        if labels.count(label) > 1:
            base = f"{label} {year}" if year else label
            seen[base] = seen.get(base, 0) + 1
            unique.append(base if seen[base] == 1 else f"{base} ({seen[base]})")
        else:
            unique.append(label)
    return unique


def _issue_years(documents: pd.DataFrame) -> list[str]:
    return [str(pd.Timestamp(d).year) if pd.notna(d) else "" for d in documents["issue_date"]]


def _ordered_documents(documents: pd.DataFrame, coverage: pd.DataFrame, n_measures: int) -> pd.DataFrame:
    docs = documents.copy()
    docs["issuer_level"] = [
        _text(level) if _text(level) in ISSUER_LEVELS else UNKNOWN_LEVEL for level in docs["issuer_level"]
    ]
    related = _GROUP_KEYS[RELATED]
    groups = [
        related if relevance == RELATED else issuer_group(level)
        for level, relevance in zip(docs["issuer_level"], docs["relevance"], strict=True)
    ]
    docs["group"] = [g.key for g in groups]
    docs["group_zh"] = [g.zh for g in groups]
    docs["group_en"] = [g.en for g in groups]
    docs["local"] = [g.local for g in groups]
    docs["issuer_level_zh"] = [ISSUER_LEVELS[level][0] for level in docs["issuer_level"]]
    docs["issuer_level_en"] = [ISSUER_LEVELS[level][1] for level in docs["issuer_level"]]
    docs["group_rank"] = [ISSUER_GROUPS.index(g) for g in groups]
    docs["level_rank"] = [list(ISSUER_LEVELS).index(level) for level in docs["issuer_level"]]
    docs["rank"] = [province_rank(p) for p in docs["province"]]
    docs = docs.sort_values(
        ["group_rank", "level_rank", "rank", "province", "city", "issuer", "issue_date", "file_name"],
        na_position="last",
    )
    docs = docs.drop(columns=["group_rank", "level_rank"]).reset_index(drop=True)
    docs["label"] = document_labels(docs)
    docs["anchor"] = [doc_anchor(d) for d in docs["doc_id"]]
    counts = coverage.pivot_table(
        index="doc_id", columns="status", values="measure_id", aggfunc="count", fill_value=0
    )
    for status in ("covered", "partial", "absent"):
        docs[status] = [
            int(counts.at[d, status]) if d in counts.index and status in counts else 0 for d in docs["doc_id"]
        ]
    docs["covered_pct"] = 100.0 * docs["covered"] / n_measures if n_measures else 0.0
    return docs.drop(columns=["rank"])


def _cited_clause_ids(
    coverage: pd.DataFrame, additions: pd.DataFrame, targets: pd.DataFrame, departments: pd.DataFrame
) -> pd.DataFrame:
    ids = pd.concat(
        [
            coverage["evidence_clause_id"].dropna(),
            additions["clause_id"],
            targets["clause_id"],
            departments["clause_id"],
        ]
    )
    return pd.DataFrame({"clause_id": ids.drop_duplicates().astype(str)})


def _evaluation(
    con: duckdb.DuckDBPyConnection, calibration: dict[str, Any], run_id: str
) -> Evaluation | None:
    latest = con.execute(EVALUATION_SQL).df()
    if not latest.empty:
        row = latest.iloc[0]
        per_measure = con.execute(EVALUATION_MEASURES_SQL, [row["evaluation_id"]]).df()
        figure_names = ("items", "located", "top1", "top3", "none_precision", "none_recall",
                        "cell_precision", "cell_recall", "cell_f1", "cells")  # fmt: skip
        return Evaluation(
            source=f"compare evaluate, evaluation {row['evaluation_id']} ({row['evaluated_at']:%Y-%m-%d %H:%M} UTC)",
            figures={name: row[name] for name in figure_names},
            documents=tuple(d for d in str(row["documents"] or "").split(",") if d),
            protocol=str(row["protocol"] or ""),
            per_measure=per_measure,
        )
    metrics = calibration.get("metrics") or {}
    figures = metrics.get(CALIBRATION_METRICS_KEY)
    if not figures:
        return None
    return Evaluation(
        source=f"the calibration's recorded figures ({calibration.get('source', 'calibration file')}), as used by run {run_id}",
        figures=dict(figures),
        documents=tuple(metrics.get("documents") or ()),
        protocol="leave-one-document-out",
        per_measure=pd.DataFrame(columns=["measure_id", "support", "precision", "recall", "f1"]),
    )


def _check_tables(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    present = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    missing = [t for t in REQUIRED_TABLES if t not in present]
    if missing:
        raise WarehouseError(
            f"{path}: not a compare warehouse (missing tables: {', '.join(missing)}); run `compare run` first"
        )
    for sql in (DOCUMENTS_SQL, COVERAGE_SQL):  # the researcher views, as this version defines them
        try:
            con.execute(f"SELECT * FROM ({sql}) LIMIT 0")
        except duckdb.Error as exc:
            reason = str(exc).splitlines()[0]
            raise WarehouseError(
                f"{path}: its researcher views are older than this compare ({reason}); "
                "run `compare run` to refresh them"
            ) from exc


def _in_catalogue_order(coverage: pd.DataFrame, measures: pd.DataFrame) -> pd.DataFrame:
    """The cells by document, then in the catalogue's order of measures (as a document lists what
    a clause is evidence for)."""
    position = {m: i for i, m in enumerate(measures["measure_id"])}
    order = coverage.assign(_position=coverage["measure_id"].map(position))
    return (
        order.sort_values(["doc_id", "_position"], kind="stable")
        .drop(columns="_position")
        .reset_index(drop=True)
    )


def _off_topic_as_left_out(documents: pd.DataFrame) -> pd.DataFrame:
    """Documents out of the coverage matrix (off topic, not accepted) leave the figures: listed
    with the documents not read, their verdict as the status and its reasons as the message."""
    docs = documents.copy()
    left_out = docs["status"].eq(OK_STATUS) & ~docs.pop("in_matrix").astype(bool)
    docs.loc[left_out, "status"] = OFF_TOPIC
    docs.loc[left_out, "message"] = [
        f"{name}: not an Internet Plus plan ({reasons}); accept it with compare run --accept {name}"
        for name, reasons in zip(
            docs.loc[left_out, "file_name"], docs.loc[left_out, "relevance_reasons"], strict=True
        )
    ]
    return docs


def report_data(path: Path) -> ReportData:
    """Read everything the committee report shows from the published warehouse at ``path``."""
    with warehouse.read_only(path) as con:
        _check_tables(con, path)
        measures = con.execute(MEASURES_SQL).df()
        if measures.empty:
            raise WarehouseError(
                f"{path}: the national_measures table is empty; run `compare run` to publish the catalogue"
            )
        runs = con.execute(RUNS_SQL).df()
        if runs.empty:
            raise WarehouseError(f"{path}: no run recorded in the runs table; run `compare run` first")
        documents = _off_topic_as_left_out(con.execute(DOCUMENTS_SQL).df())
        coverage = reviewed_coverage(con, con.execute(COVERAGE_SQL).df())  # final status: a review wins
        ok = documents[documents["status"].eq(OK_STATUS)]
        coverage = _in_catalogue_order(coverage[coverage["doc_id"].isin(set(ok["doc_id"]))], measures)
        docs = _ordered_documents(ok, coverage, len(measures))
        failed = documents[~documents["status"].eq(OK_STATUS)].sort_values("file_name").reset_index(drop=True)
        ok_ids = set(docs["doc_id"])
        additions = con.execute(ADDITIONS_SQL).df()
        additions = additions[additions["doc_id"].isin(ok_ids)].reset_index(drop=True)
        targets = con.execute(TARGETS_SQL).df()
        targets = targets[targets["doc_id"].isin(ok_ids)].reset_index(drop=True)
        departments = con.execute(DEPARTMENTS_SQL).df()
        departments = departments[departments["doc_id"].isin(ok_ids)].reset_index(drop=True)
        con.register("_cited", _cited_clause_ids(coverage, additions, targets, departments))
        try:
            clauses = con.execute(CLAUSES_SQL).df().set_index("clause_id", drop=False)
        finally:
            con.unregister("_cited")
        latest_run = runs.iloc[-1].to_dict()
        calibration = _json(latest_run.get("thresholds"))
        cell_runs = set(coverage["run_id"].dropna())
        shown_runs = runs[
            runs["run_id"].isin(cell_runs) | runs["run_id"].eq(latest_run["run_id"])
        ].reset_index(drop=True)
        evaluation = _evaluation(con, calibration, str(latest_run["run_id"]))
        diffusion = _diffusion(con, ok_ids)
    return ReportData(
        warehouse=path,
        measures=measures,
        documents=docs,
        failed=failed,
        coverage=coverage,
        additions=additions,
        targets=targets,
        departments=departments,
        clauses=clauses,
        runs=shown_runs,
        latest_run=latest_run,
        calibration=calibration,
        evaluation=evaluation,
        diffusion=diffusion,
    )


def _diffusion(con: duckdb.DuckDBPyConnection, shown: set[str]) -> Diffusion | None:
    """Reuse between the documents the report shows; None when the warehouse has no reuse views
    or no reuse run yet."""
    try:
        state = con.execute(REUSE_STATE_SQL).df()
        documents = con.execute(DIFFUSION_DOCUMENTS_SQL).df()
        pairs = con.execute(DIFFUSION_PAIRS_SQL).df()
        homogeneity = con.execute(HOMOGENEITY_SQL).df()
    except duckdb.CatalogException:
        return None
    if state.empty:
        return None
    documents = documents[documents["doc_id"].isin(shown)].reset_index(drop=True)
    keep = pairs["doc_id"].isin(shown) & pairs["other_doc_id"].isin(shown)
    return Diffusion(documents, pairs[keep].reset_index(drop=True), homogeneity, state.iloc[0].to_dict())


def _json(text: Any) -> dict[str, Any]:
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
