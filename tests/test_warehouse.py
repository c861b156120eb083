"""The warehouse: documented schema, atomic snapshots, readers during writes."""

from __future__ import annotations

import pytest

from compare import warehouse
from compare.errors import WarehouseError


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
