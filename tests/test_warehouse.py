"""The warehouse: documented schema, atomic snapshots, readers during writes."""

from __future__ import annotations

import pytest

from compare.errors import WarehouseError
from compare.store import warehouse


def test_every_column_is_documented(tmp_path):
    path = tmp_path / "w.duckdb"
    with warehouse.snapshot(path):
        pass
    with warehouse.read_only(path) as con:
        rows = con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE NOT internal AND table_name IN "
            "(SELECT table_name FROM duckdb_tables())"
        ).fetchall()
    assert {r[0] for r in rows} >= {
        "runs",
        "national_measures",
        "documents",
        "clauses",
        "matches",
        "coverage",
    }
    undocumented = [(t, c) for t, c, comment in rows if not comment]
    assert undocumented == []


def test_failed_write_leaves_previous_state(tmp_path):
    path = tmp_path / "w.duckdb"
    with warehouse.snapshot(path) as con:
        con.execute("INSERT INTO documents (doc_id, file_name, status) VALUES ('a', 'a.pdf', 'ok')")
    with pytest.raises(RuntimeError), warehouse.snapshot(path) as con:
        con.execute("INSERT INTO documents (doc_id, file_name, status) VALUES ('b', 'b.pdf', 'ok')")
        raise RuntimeError("crash in the middle of a run")
    with warehouse.read_only(path) as con:
        assert con.execute("SELECT doc_id FROM documents").fetchall() == [("a",)]
    assert not list(tmp_path.glob("*.tmp-*"))


def test_reader_keeps_its_snapshot_while_a_run_publishes(tmp_path):
    path = tmp_path / "w.duckdb"
    with warehouse.snapshot(path) as con:
        con.execute("INSERT INTO documents (doc_id, file_name, status) VALUES ('a', 'a.pdf', 'ok')")
    reader = warehouse.read_only(path)
    try:
        with warehouse.snapshot(path) as con:
            con.execute("INSERT INTO documents (doc_id, file_name, status) VALUES ('b', 'b.pdf', 'ok')")
        assert reader.execute("SELECT count(*) FROM documents").fetchone() == (1,)
    finally:
        reader.close()
    with warehouse.read_only(path) as con:
        assert con.execute("SELECT count(*) FROM documents").fetchone() == (2,)


def test_one_writer_at_a_time(tmp_path):
    path = tmp_path / "w.duckdb"
    with (
        warehouse.snapshot(path),
        pytest.raises(WarehouseError, match="another run"),
        warehouse.snapshot(path),
    ):
        pass


def test_reading_a_missing_warehouse_says_what_to_do(tmp_path):
    with pytest.raises(WarehouseError, match="compare run"):
        warehouse.read_only(tmp_path / "none.duckdb")


def test_run_ids_sort_as_their_runs_started_even_within_a_second():
    import time

    ids = []
    for _ in range(5):
        ids.append(warehouse.new_run_id())
        time.sleep(0.002)
    assert ids == sorted(ids) and len(set(ids)) == 5


def test_row_tables_have_no_declared_key_but_a_duplicate_is_refused(tmp_path):
    """The per-clause tables hold no in-memory key index; a second row for a key fails the write."""
    path = tmp_path / "w.duckdb"
    with warehouse.snapshot(path) as con:
        con.execute("INSERT INTO clauses (clause_id, doc_id, seq, text) VALUES ('d:1', 'd', 1, '一')")
        keyed = con.execute(
            "SELECT DISTINCT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
        ).fetchall()
    assert not {t for (t,) in keyed} & set(warehouse.ROW_KEYS)
    with (
        pytest.raises(
            WarehouseError, match=r"clauses: more than one row for a key \(clause_id\), e.g. d:1 \(2 rows\)"
        ),
        warehouse.snapshot(path) as con,
    ):
        con.execute("INSERT INTO clauses (clause_id, doc_id, seq, text) VALUES ('d:1', 'd', 2, '二')")
    duplicate_cell = "INSERT INTO coverage (doc_id, measure_id, status) VALUES ('d', 'II.1.1', 'absent'), ('d', 'II.1.1', 'covered')"
    with (
        pytest.raises(WarehouseError, match=r"coverage: .*\(doc_id, measure_id\), e.g. d, II.1.1 \(2 rows\)"),
        warehouse.snapshot(path) as con,
    ):
        con.execute(duplicate_cell)
    with pytest.raises(Exception, match="NOT NULL"), warehouse.snapshot(path) as con:
        con.execute("INSERT INTO matches (clause_id, rank) VALUES (NULL, 1)")
    with warehouse.read_only(path) as con:  # none of the refused writes reached the warehouse
        assert con.execute("SELECT clause_id, text FROM clauses").fetchall() == [("d:1", "一")]
        assert con.execute("SELECT count(*) FROM coverage").fetchone() == (0,)


def test_an_older_warehouse_loses_its_row_keys_and_keeps_its_rows(tmp_path):
    import duckdb

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE clauses (clause_id VARCHAR PRIMARY KEY, doc_id VARCHAR, seq INTEGER, text VARCHAR)"
    )
    con.execute(
        "CREATE TABLE coverage (doc_id VARCHAR, measure_id VARCHAR, status VARCHAR, PRIMARY KEY (doc_id, measure_id))"
    )
    con.execute("INSERT INTO clauses VALUES ('d:1', 'd', 1, '一'), ('d:2', 'd', 2, '二')")
    con.execute("INSERT INTO coverage VALUES ('d', 'II.1.1', 'covered')")
    con.close()
    with warehouse.snapshot(path):
        pass
    with warehouse.read_only(path) as con:
        constraints = con.execute(
            "SELECT table_name, constraint_type, constraint_column_names FROM duckdb_constraints() "
            "WHERE table_name IN ('clauses', 'coverage') ORDER BY ALL"
        ).fetchall()
        assert con.execute("SELECT clause_id, seq, text, heading FROM clauses ORDER BY seq").fetchall() == [
            ("d:1", 1, "一", None),
            ("d:2", 2, "二", None),
        ]
        assert con.execute("SELECT doc_id, measure_id, status FROM coverage").fetchall() == [
            ("d", "II.1.1", "covered")
        ]
        comment = con.execute(
            "SELECT comment FROM duckdb_columns() WHERE table_name = 'clauses' AND column_name = 'clause_id'"
        ).fetchone()
    assert constraints == [
        ("clauses", "NOT NULL", ["clause_id"]),
        ("coverage", "NOT NULL", ["doc_id"]),
        ("coverage", "NOT NULL", ["measure_id"]),
    ]
    assert comment == ("doc_id:sequence",)
