"""Runs and readers in separate processes: all-or-nothing publishing under ``kill -9``,
readers that keep querying while runs publish, and one writer at a time.

Every run uses the model-free ``hashing`` encoder on copies of small sample plans.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from compare.errors import WarehouseError
from compare.run import pipeline
from compare.settings import Settings
from compare.store import warehouse
from tests.conftest import CORPUS, ROOT

#: Every test here runs pipelines in other processes and waits on them.
pytestmark = pytest.mark.slow

A, B, C = "ningbo-2016-29.pdf", "guizhou-2015-35.pdf", "chengdu-2016-12.pdf"

#: A run in its own process, killed with SIGKILL at a named point (or never, for "none").
RUN_AND_DIE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from compare.ingest import parse as ingest_parse
    from compare.run import pipeline
    from compare.store import warehouse
    from compare.settings import Settings

    corpus, path, cache, point = sys.argv[1:5]
    settings = Settings.from_env(corpus=Path(corpus), warehouse=Path(path), models=("hashing",), cache_dir=Path(cache))

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def after(module, name):
        original = getattr(module, name)
        def wrapped(*args, **kwargs):
            result = original(*args, **kwargs)
            die()
            return result
        setattr(module, name, wrapped)

    def before(module, name):
        def wrapped(*args, **kwargs):
            die()
        setattr(module, name, wrapped)

    if point == "extract":        # after the first document is parsed
        after(ingest_parse, "parse_document")
    elif point == "score":        # as scoring starts
        before(pipeline, "score_documents")
    elif point == "copy":         # while the snapshot is a fresh copy of the warehouse
        after(warehouse, "apply_schema")
    elif point == "write":        # half-way through writing the snapshot
        after(warehouse, "write_documents")
    elif point == "commit":       # every row written, not yet committed
        after(warehouse, "write_run")
    elif point == "rename":       # committed and checkpointed, not yet renamed into place
        before(warehouse.os, "replace")
    elif point == "fsync":        # renamed into place, folder not yet synced
        before(warehouse, "_fsync_dir")
    print("published", pipeline.run(settings).run_id, flush=True)
    """
)
#: Points at which the previous warehouse must be left as it was, byte for byte.
BEFORE_PUBLISHING = ("extract", "score", "copy", "write", "commit", "rename")

#: A reader in its own process, until told to stop: with mode "held", one connection opened at the
#: start and kept; with mode "fresh", a connection opened and closed for every query.
READER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import duckdb

    path, mode, stop = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    count = "SELECT count(*) FROM coverage_by_document"
    held = duckdb.connect(path, read_only=True) if mode == "held" else None
    print("ready", flush=True)
    seen, errors = [], []

    def read():
        try:
            if held is not None:
                seen.append(held.execute(count).fetchall()[0][0])
            else:
                with duckdb.connect(path, read_only=True) as fresh:
                    seen.append(fresh.execute(count).fetchall()[0][0])
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    while not stop.exists():
        read()
        time.sleep(0.01)
    read()
    print(json.dumps({"seen": seen, "errors": errors}), flush=True)
    """
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def _script(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _coverage(path: Path) -> pd.DataFrame:
    with warehouse.read_only(path) as con:
        return con.execute(
            "SELECT doc_id, measure_id, status, round(score, 9) AS score, evidence_clause_id FROM coverage "
            "WHERE doc_id IN (SELECT doc_id FROM documents WHERE status <> 'withdrawn') ORDER BY doc_id, measure_id"
        ).df()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def clean_coverage(tmp_path_factory, cache_dir) -> pd.DataFrame:
    """The coverage of a clean run on the final corpus (B and C)."""
    folder = tmp_path_factory.mktemp("clean")
    (folder / "corpus").mkdir()
    for sample in (B, C):
        shutil.copy(CORPUS / sample, folder / "corpus" / sample)
    settings = Settings.from_env(
        corpus=folder / "corpus", warehouse=folder / "clean.duckdb", models=("hashing",), cache_dir=cache_dir
    )
    pipeline.run(settings)
    return _coverage(settings.warehouse)


def _previous_state(tmp_path: Path, cache_dir: Path) -> tuple[Settings, str]:
    """A warehouse holding A and B; then the corpus changes to B and C (one new, one withdrawn)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for sample in (A, B):
        shutil.copy(CORPUS / sample, corpus / sample)
    settings = Settings.from_env(
        corpus=corpus, warehouse=tmp_path / "w.duckdb", models=("hashing",), cache_dir=cache_dir
    )
    pipeline.run(settings)
    (corpus / A).unlink()
    shutil.copy(CORPUS / C, corpus / C)
    return settings, _digest(settings.warehouse)


@pytest.mark.parametrize("point", [*BEFORE_PUBLISHING, "fsync"])
def test_a_run_killed_at_any_point_leaves_the_warehouse_whole_and_a_rerun_converges(
    tmp_path, cache_dir, clean_coverage, point
):
    settings, before = _previous_state(tmp_path, cache_dir)
    driver = _script(tmp_path, "run_and_die.py", RUN_AND_DIE)
    args = [sys.executable, str(driver), str(settings.corpus), str(settings.warehouse), str(cache_dir), point]
    done = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    if point in BEFORE_PUBLISHING:
        assert _digest(settings.warehouse) == before  # the previous warehouse, byte for byte
    else:
        with warehouse.read_only(settings.warehouse) as con:
            assert con.execute("SELECT count(*) FROM runs").fetchall() == [(2,)]  # the new run, whole
    rerun = pipeline.run(settings)
    assert not list(tmp_path.glob("w.duckdb.tmp-*"))  # the killed run's snapshot is cleared away
    pd.testing.assert_frame_equal(_coverage(settings.warehouse), clean_coverage)
    assert rerun.n_failed == 0


def test_runs_killed_at_random_moments_never_leave_half_a_warehouse(tmp_path, cache_dir, clean_coverage):
    settings, before = _previous_state(tmp_path, cache_dir)
    driver = _script(tmp_path, "run_and_die.py", RUN_AND_DIE)
    args = [
        sys.executable,
        str(driver),
        str(settings.corpus),
        str(settings.warehouse),
        str(cache_dir),
        "none",
    ]
    for delay in (0.8, 1.6, 2.4, 3.2):
        process = subprocess.Popen(args, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        if _digest(settings.warehouse) != before:  # it published before the kill: then wholly
            with warehouse.read_only(settings.warehouse) as con:
                assert con.execute("SELECT count(*) FROM runs").fetchall() == [(2,)]
            break
    pipeline.run(settings)
    pd.testing.assert_frame_equal(_coverage(settings.warehouse), clean_coverage)


def test_readers_in_other_processes_keep_querying_while_runs_publish(tmp_path, cache_dir):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / A, corpus / A)
    settings = Settings.from_env(
        corpus=corpus, warehouse=tmp_path / "w.duckdb", models=("hashing",), cache_dir=cache_dir
    )
    pipeline.run(settings)
    script, stop = _script(tmp_path, "reader.py", READER), tmp_path / "stop"
    readers = {
        mode: subprocess.Popen(
            [sys.executable, str(script), str(settings.warehouse), mode, str(stop)],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode in ("held", "fresh")
    }
    for reader in readers.values():
        assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
    published = []
    for sample in (B, C):  # two runs publish while the readers query
        shutil.copy(CORPUS / sample, corpus / sample)
        published.append(pipeline.run(settings))
    stop.touch()
    seen = {}
    for mode, reader in readers.items():
        out, err = reader.communicate(timeout=60)
        assert reader.returncode == 0, err[-2000:]
        seen[mode] = json.loads(out.strip().splitlines()[-1])
        assert seen[mode]["errors"] == []
    assert set(seen["held"]["seen"]) == {65}  # a connection held open reads the snapshot it opened
    fresh = seen["fresh"]["seen"]
    assert (
        fresh == sorted(fresh) and fresh[0] == 65 and fresh[-1] == 3 * 65
    )  # a new connection sees the last run
    assert all(s.n_processed == 1 for s in published)


HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from compare.store import warehouse

    with warehouse.snapshot(Path(sys.argv[1])):
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def test_a_second_writer_waits_for_the_first_or_says_what_to_do(tmp_path):
    path = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [sys.executable, str(_script(tmp_path, "hold.py", HOLD_LOCK)), str(path), "3"],
        env=_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    expected = re.escape("another run is writing this warehouse (waited 1 s); wait for it to finish")
    with pytest.raises(WarehouseError, match=expected), warehouse.snapshot(path, wait=1.0):
        pass
    started = time.monotonic()
    with warehouse.snapshot(path, wait=30.0) as con:
        con.execute("INSERT INTO documents (doc_id, file_name, status) VALUES ('x', 'x.pdf', 'ok')")
    assert time.monotonic() - started < 30
    holder.wait(timeout=30)
    with warehouse.read_only(path) as con:
        assert con.execute("SELECT doc_id FROM documents").fetchall() == [("x",)]
