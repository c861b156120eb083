"""The command line: every command's help has an example; status, query, export and run work,
and query cannot write or reach other files."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from compare.cli.main import app
from compare.run import pipeline
from compare.settings import Settings
from compare.store import warehouse
from tests.conftest import CORPUS, ROOT

SAMPLE, OTHER = "ningbo-2016-29.pdf", "guizhou-2015-35.pdf"
runner = CliRunner()


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every leaf command, as the words that call it."""
    if hasattr(command, "commands"):
        return [p for name, sub in sorted(command.commands.items()) for p in _commands(sub, (*path, name))]
    return [path]


COMMANDS = _commands(typer.main.get_command(app))


def test_the_command_tree_has_the_warehouse_commands():
    assert {("run",), ("status",), ("export",), ("query",), ("serve",)} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"compare {' '.join(command)} --help shows no example"


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    (folder / "corpus").mkdir()
    shutil.copy(CORPUS / SAMPLE, folder / "corpus" / SAMPLE)
    settings = Settings.from_env(
        corpus=folder / "corpus",
        warehouse=folder / "w.duckdb",
        models=("hashing",),
        cache_dir=folder / "cache",
    )
    pipeline.run(settings)
    pipeline.run(settings)
    return settings.warehouse


def test_status_shows_documents_runs_and_the_last_run(path):
    result = runner.invoke(app, ["status", "--warehouse", str(path)])
    assert result.exit_code == 0, result.output
    assert "Last 2 runs" in result.output and "last run" in result.output and SAMPLE in result.output
    assert re.search(r"^seconds: .*publish \d+\.\d", result.output, re.MULTILINE), result.output


def test_status_of_a_missing_warehouse_says_what_to_do(tmp_path):
    result = runner.invoke(app, ["status", "--warehouse", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 2 and "compare run" in result.output


def test_query_prints_a_table_csv_or_json(path):
    sql = "SELECT jurisdiction, covered + partial + absent AS cells FROM province_summary"
    table = runner.invoke(app, ["query", "--warehouse", str(path), sql])
    assert table.exit_code == 0 and "宁波" in table.output and "65" in table.output
    csv = runner.invoke(app, ["query", "--warehouse", str(path), "--format", "csv", sql])
    assert csv.output.splitlines() == ["jurisdiction,cells", "宁波,65"]
    rows = json.loads(runner.invoke(app, ["query", "--warehouse", str(path), "--format", "json", sql]).output)
    assert rows == [{"jurisdiction": "宁波", "cells": 65}]


def test_query_stops_at_the_limit_and_says_so(path):
    result = runner.invoke(
        app, ["query", "--warehouse", str(path), "--format", "csv", "--limit", "3", "SELECT * FROM range(10)"]
    )
    assert result.stdout.splitlines() == ["range", "0", "1", "2"]
    assert "raise --limit" in result.stderr


@pytest.mark.parametrize(
    "sql",
    [
        "ATTACH '{tmp}/other.duckdb' AS other",
        "COPY coverage TO '{tmp}/out.csv'",
        "EXPORT DATABASE '{tmp}/dump'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SELECT * FROM read_csv('{tmp}/secret.csv')",
        "SELECT * FROM read_parquet('{tmp}/*.parquet')",
        "SELECT * FROM read_text('{tmp}/secret.csv')",
        "SELECT * FROM glob('{tmp}/*')",
        "SELECT * FROM '{tmp}/secret.csv'",
        "SET enable_external_access = true",
        "PRAGMA enable_external_access",
        "DELETE FROM coverage",
        "DROP TABLE coverage",
        "CREATE TABLE x AS SELECT 1",
        "UPDATE documents SET status = 'ok'",
        "CHECKPOINT",
        "SELECT 1; DROP TABLE coverage",
    ],
)
def test_query_cannot_write_or_reach_other_files(path, tmp_path, sql):
    (tmp_path / "secret.csv").write_text("a\n1\n")
    before = warehouse.known_documents(path)
    result = runner.invoke(app, ["query", "--warehouse", str(path), sql.format(tmp=tmp_path)])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.csv"]
    pd.testing.assert_frame_equal(warehouse.known_documents(path), before)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_writes_one_file_per_table(path, tmp_path, fmt):
    out = tmp_path / "export"
    result = runner.invoke(
        app,
        [
            "export",
            "--warehouse",
            str(path),
            "--out",
            str(out),
            "--format",
            fmt,
            "--tables",
            "coverage_by_document",
            "--tables",
            "runs",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [f"coverage_by_document.{fmt}", f"runs.{fmt}"]
    read = pq.read_table if fmt == "parquet" else pd.read_csv
    assert len(read(out / f"coverage_by_document.{fmt}")) == 65
    assert len(read(out / f"runs.{fmt}")) == 2


def test_export_without_tables_writes_every_table_and_view(path, tmp_path):
    result = runner.invoke(app, ["export", "--warehouse", str(path), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = {p.stem for p in tmp_path.glob("*.parquet")}
    assert {
        "coverage",
        "documents",
        "runs",
        "province_summary",
        "measure_summary",
        "beyond_national_plan",
    } <= written


def test_export_of_an_unknown_table_names_the_choices(path, tmp_path):
    result = runner.invoke(
        app, ["export", "--warehouse", str(path), "--out", str(tmp_path), "--tables", "nope"]
    )
    assert (
        result.exit_code == 2
        and "no table or view named nope" in result.output
        and "province_summary" in result.output
    )


def test_serve_without_a_server_says_how_to_start_one(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = runner.invoke(app, ["serve", "--cron", "0 3 * * *"])
    assert result.exit_code == 2 and "prefect server start" in result.output


def test_serve_rejects_a_bad_schedule():
    result = runner.invoke(app, ["serve", "--cron", "0 3 * *"])
    assert result.exit_code == 2 and "five cron fields" in result.output


@pytest.mark.flow
@pytest.mark.slow
def test_run_processes_only_new_files_and_exits_1_on_a_bad_one(tmp_path):
    """``compare run`` as a user runs it: its own process, the flow on a temporary Prefect server."""
    env = {
        **os.environ,
        "COMPARE_CACHE_DIR": str(tmp_path / "cache"),
        "PREFECT_HOME": str(tmp_path / "prefect"),
    }
    corpus, path = tmp_path / "corpus", tmp_path / "w.duckdb"
    corpus.mkdir()
    shutil.copy(CORPUS / SAMPLE, corpus / SAMPLE)
    pipeline.run(
        Settings.from_env(corpus=corpus, warehouse=path, models=("hashing",), cache_dir=tmp_path / "cache")
    )
    shutil.copy(CORPUS / OTHER, corpus / OTHER)
    (corpus / "broken.pdf").write_bytes(b"not a pdf at all")
    args = [
        sys.executable,
        "-m",
        "compare.cli.main",
        "run",
        "--corpus",
        str(corpus),
        "--warehouse",
        str(path),
    ]
    done = subprocess.run(  # the models come from the environment: a flag left out takes the setting
        args, env={**env, "COMPARE_MODELS": "hashing"}, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]  # 1: a partial failure, reported
    assert re.search(r"processed 2, unchanged 1, .*\sfailed\s+1;", done.stdout, re.DOTALL), done.stdout
    assert "failed: broken.pdf: " in done.stdout, done.stdout
    with warehouse.read_only(path) as con:
        assert con.execute(
            "SELECT n_processed, n_unchanged, models FROM runs ORDER BY run_id"
        ).fetchall() == [
            (1, 0, "hashing"),
            (2, 1, "hashing"),
        ]
        assert con.execute("SELECT status FROM documents WHERE file_name = 'broken.pdf'").fetchall() == [
            ("not_pdf",)
        ]
        assert con.execute("SELECT count(*) FROM coverage_by_document").fetchall() == [(130,)]
    assert (tmp_path / "prefect" / "prefect.db").is_file()  # the flow ran on a temporary server

    # nothing to parse or score (the broken file is gone: only a withdrawal to publish), and no
    # server configured: published in this process, with no temporary server started
    (tmp_path / "prefect" / "prefect.db").unlink()
    (corpus / "broken.pdf").unlink()
    done = subprocess.run(args, env={**env, "COMPARE_MODELS": "hashing"}, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert re.search(r"processed 0, unchanged 2, withdrawn 1", " ".join(done.stdout.split())), done.stdout
    assert not (tmp_path / "prefect" / "prefect.db").exists()
    with warehouse.read_only(path) as con:
        assert con.execute("SELECT n_processed, n_withdrawn FROM runs ORDER BY run_id").fetchall()[-1] == (
            0,
            1,
        )
        assert con.execute("SELECT status FROM documents WHERE file_name = 'broken.pdf'").fetchall() == [
            ("withdrawn",)
        ]
