"""The main flow end to end, under a Prefect test harness, on a sample PDF."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import CORPUS

pytestmark = [pytest.mark.flow, pytest.mark.model, pytest.mark.slow]

SAMPLE = "guizhou-2015-35.pdf"


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def test_flow_builds_the_coverage_matrix(harness, tmp_path):
    from flows.compare_flow import compare_run

    from compare.store import warehouse

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / SAMPLE, corpus / SAMPLE)
    (corpus / "broken.pdf").write_bytes(b"this is not a pdf at all")
    path = tmp_path / "w.duckdb"

    summary = compare_run(corpus=str(corpus), warehouse_path=str(path))

    assert summary.n_files == 2 and summary.n_failed == 1
    with warehouse.read_only(path) as con:
        assert con.execute("SELECT count(*) FROM national_measures").fetchone() == (65,)
        docs = dict(con.execute("SELECT file_name, status FROM documents").fetchall())
        assert docs == {SAMPLE: "ok", "broken.pdf": "not_pdf"}
        assert (
            con.execute("SELECT message FROM documents WHERE file_name = 'broken.pdf'")
            .fetchone()[0]
            .startswith("broken.pdf:")
        )
        (ok_doc,) = con.execute("SELECT doc_id FROM documents WHERE status = 'ok'").fetchone()
        assert con.execute("SELECT count(*) FROM coverage WHERE doc_id = ?", [ok_doc]).fetchone() == (65,)
        assert con.execute("SELECT count(*) FROM coverage WHERE doc_id <> ?", [ok_doc]).fetchone() == (0,)
        statuses = dict(con.execute("SELECT status, count(*) FROM coverage GROUP BY status").fetchall())
        assert statuses.get("covered", 0) > 0
        orphan = con.execute(
            "SELECT count(*) FROM coverage c LEFT JOIN clauses k ON k.clause_id = c.evidence_clause_id "
            "WHERE c.status IN ('covered', 'partial') AND (k.clause_id IS NULL OR k.doc_id <> c.doc_id)"
        ).fetchone()
        assert orphan == (0,)
        n_clauses = con.execute(  # boilerplate and fragments are neither embedded nor matched
            "SELECT count(*) FROM clauses WHERE doc_id = ? AND kind NOT IN ('boilerplate', 'fragment')",
            [ok_doc],
        ).fetchone()[0]
        assert n_clauses > 40
        assert con.execute("SELECT count(DISTINCT clause_id), max(rank) FROM matches").fetchone() == (
            n_clauses,
            3,
        )
        run = con.execute("SELECT status, n_documents, n_failed, models FROM runs").fetchall()
        assert run == [("partial", 2, 1, "e5-small,use")]
