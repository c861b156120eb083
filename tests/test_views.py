"""The researcher views of src/compare/store/sql/views.sql: documented, without withdrawn documents, and
aggregating plan holders, sections and measures as they say."""

from __future__ import annotations

import json
import re

import pytest

from compare.store import warehouse

VIEWS = re.findall(r"CREATE OR REPLACE VIEW (\w+)", warehouse.VIEWS_SQL.read_text(encoding="utf-8"))
REVIEW_VIEWS = re.findall(
    r"CREATE OR REPLACE VIEW (\w+)", warehouse.SCHEMA_SQL.with_name("reviews.sql").read_text(encoding="utf-8")
)
RUN = "20260101T000000-aaaaaa"
CLAUSE_THRESHOLD = 2.4


@pytest.fixture(scope="module")
def path(tmp_path_factory, catalogue):
    """A warehouse by hand: Zhejiang with two plans, Ningbo (a city in Zhejiang), and a withdrawn plan."""
    path = tmp_path_factory.mktemp("views") / "w.duckdb"
    ids = catalogue.ids
    with warehouse.snapshot(path) as con:
        warehouse.write_catalogue(con, catalogue)
        con.execute(
            "INSERT INTO runs (run_id, status, models, thresholds, timings) VALUES (?, 'ok', 'hashing', ?, ?)",
            [
                RUN,
                json.dumps(
                    {"thresholds": {"covered": 3.0, "partial": CLAUSE_THRESHOLD, "clause": CLAUSE_THRESHOLD}}
                ),
                json.dumps({"plan": 1.0, "publish": 2.5}),
            ],
        )
        docs = [
            ("zj1", "浙江", None, "province", "ok"),
            ("zj2", "浙江", None, "province", "ok"),
            ("nb", "浙江", "宁波", "city", "ok"),
            ("old", "湖南", None, "province", "withdrawn"),
        ]
        for doc_id, province, city, level, status in docs:
            con.execute(
                "INSERT INTO documents (doc_id, file_name, province, city, level, doc_number, status, run_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [doc_id, f"{doc_id}.pdf", province, city, level, f"{doc_id}〔2016〕1号", status, RUN],
            )
            for seq, kind in ((1, "measure"), (2, "measure"), (3, "goal")):
                con.execute(
                    "INSERT INTO clauses (clause_id, doc_id, seq, kind, text, page) VALUES (?, ?, ?, ?, ?, 1)",
                    [f"{doc_id}:{seq}", doc_id, seq, kind, f"{doc_id} clause {seq}"],
                )
            # clause 1 implements the first measure; clause 2 is beyond the national plan
            con.execute(
                "INSERT INTO clause_decisions VALUES (?, ?, 'measure', ?, 5.0, ?), (?, ?, 'none', NULL, 1.0, ?), "
                "(?, ?, 'none', NULL, 0.5, ?)",
                [f"{doc_id}:1", doc_id, ids[0], RUN, f"{doc_id}:2", doc_id, RUN, f"{doc_id}:3", doc_id, RUN],
            )
            con.execute(
                "INSERT INTO matches (clause_id, measure_id, rank, score, run_id) VALUES (?, ?, 1, 1.0, ?)",
                [f"{doc_id}:2", ids[5], RUN],
            )
            con.execute(
                "INSERT INTO departments VALUES (?, ?, '省发展改革委', 'lead')", [f"{doc_id}:1", doc_id]
            )
            con.execute(
                "INSERT INTO targets VALUES (?, ?, '固定宽带家庭普及率', 70, '%', 2018, '到2018年达到70%')",
                [f"{doc_id}:3", doc_id],
            )
            for measure_id in ids:
                status = "absent"
                if measure_id == ids[0]:
                    status = "covered"
                if measure_id == ids[1] and doc_id == "zj1":
                    status = "partial"
                if measure_id == ids[1] and doc_id == "zj2":
                    status = "covered"
                evidence = f"{doc_id}:1" if status != "absent" else None
                con.execute(
                    "INSERT INTO coverage VALUES (?, ?, ?, ?, ?, ?)",
                    [doc_id, measure_id, status, 4.0 if status == "covered" else 1.0, evidence, RUN],
                )
    return path


def query(path, sql, params=None):
    with warehouse.read_only(path) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.mark.parametrize("views", [VIEWS, REVIEW_VIEWS], ids=["views.sql", "reviews.sql"])
def test_every_view_and_every_view_column_is_documented(path, views):
    assert len(views) >= 4
    comments = dict(query(path, "SELECT view_name, comment FROM duckdb_views() WHERE NOT internal"))
    assert all(comments.get(v) for v in views), {v: comments.get(v) for v in views if not comments.get(v)}
    columns = query(
        path,
        f"SELECT table_name, column_name, comment FROM duckdb_columns() WHERE table_name IN ({', '.join('?' * len(views))})",
        views,
    )
    assert {t for t, _, _ in columns} == set(views)
    assert [(t, c) for t, c, comment in columns if not comment] == []


def test_views_leave_out_withdrawn_documents(path):
    for view in VIEWS:
        names = {
            c for (c,) in query(path, "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [view])
        }
        if "doc_id" in names:
            assert query(path, f"SELECT count(*) FROM {view} WHERE doc_id = 'old'") == [(0,)], view
        if "jurisdiction" in names:
            assert query(path, f"SELECT count(*) FROM {view} WHERE jurisdiction = '湖南'") == [(0,)], view
    assert query(path, "SELECT count(*) FROM coverage WHERE doc_id = 'old'") == [(65,)]  # the raw rows stay


def test_a_city_plan_is_its_own_plan_holder_and_a_province_takes_its_strongest_status(path, catalogue):
    ids = catalogue.ids
    holders = query(
        path, "SELECT jurisdiction, province, city, n_documents FROM province_summary ORDER BY jurisdiction"
    )
    assert holders == [("宁波", "浙江", "宁波", 1), ("浙江", "浙江", None, 2)]
    (row,) = query(
        path,
        "SELECT status, n_documents, n_documents_implementing, evidence_doc_id FROM coverage_by_province "
        "WHERE jurisdiction = '浙江' AND measure_id = ?",
        [ids[1]],
    )
    assert row == ("covered", 2, 2, "zj2")  # covered in zj2 beats partial in zj1


def test_province_summary_counts_gaps_in_catalogue_order(path, catalogue):
    (row,) = query(
        path,
        "SELECT covered, partial, absent, covered_pct, n_gaps, gaps, n_beyond, n_targets, n_departments "
        "FROM province_summary WHERE jurisdiction = '浙江'",
    )
    covered, partial, absent, pct, n_gaps, gaps, n_beyond, n_targets, n_departments = row
    assert (covered, partial, absent, n_gaps) == (2, 0, 63, 63)
    assert pct == round(100 * 2 / 65, 1)
    assert gaps.split(", ") == list(catalogue.ids[2:])
    assert (n_beyond, n_targets, n_departments) == (2, 2, 1)


def test_sections_and_measures_add_up(path, catalogue):
    sections = query(
        path, "SELECT sum(n_measures), sum(covered) FROM coverage_by_section WHERE jurisdiction = '宁波'"
    )
    assert sections == [(65, 1)]
    first, second = catalogue.ids[:2]
    summary = dict(
        (m, (n, c, p, a, by))
        for m, n, c, p, a, by in query(
            path,
            "SELECT measure_id, n_jurisdictions, covered, partial, absent, implemented_by FROM measure_summary",
        )
    )
    assert summary[first] == (2, 2, 0, 0, "宁波, 浙江")
    assert summary[second] == (2, 1, 0, 1, "浙江")
    assert len(summary) == 65


def test_clauses_beyond_the_national_plan_are_measure_clauses_below_the_clause_threshold(path, catalogue):
    rows = query(
        path,
        "SELECT clause_id, nearest_measure_id, nearest_score, clause_threshold FROM beyond_national_plan ORDER BY clause_id",
    )
    assert rows == [(f"{d}:2", catalogue.ids[5], 1.0, CLAUSE_THRESHOLD) for d in ("nb", "zj1", "zj2")]


def test_targets_departments_and_runs(path, catalogue):
    assert query(path, "SELECT DISTINCT indicator, year, value, unit FROM province_targets") == [
        ("固定宽带家庭普及率", 2018, 70.0, "%")
    ]
    assert (
        "qualitative"
        in query(path, "SELECT comment FROM duckdb_views() WHERE view_name = 'province_targets'")[0][0]
    )
    departments = query(
        path,
        "SELECT jurisdiction, department, n_clauses, n_lead, measures FROM department_summary ORDER BY 1",
    )
    assert departments == [
        ("宁波", "省发展改革委", 1, 1, catalogue.ids[0]),
        ("浙江", "省发展改革委", 2, 2, catalogue.ids[0]),
    ]
    assert query(path, "SELECT threshold_clause, seconds FROM run_history") == [(CLAUSE_THRESHOLD, 3.5)]
