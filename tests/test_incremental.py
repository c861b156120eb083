"""Incremental runs: documents keyed by content; only new or changed files are processed.

Runs use the model-free ``hashing`` encoder and copies of small sample plans.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from compare.ingest import parse as ingest_parse
from compare.ingest.extract import sha256_of
from compare.match import provenance
from compare.records import DocStatus
from compare.run import pipeline
from compare.settings import Settings
from compare.store import plan as store_plan
from compare.store import warehouse
from tests.conftest import CORPUS

A, B = "ningbo-2016-29.pdf", "guizhou-2015-35.pdf"


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """One embedding cache for the module: it is keyed by model and text, so sharing it is safe."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def settings(tmp_path, corpus, cache_dir) -> Settings:
    return Settings.from_env(
        corpus=corpus, warehouse=tmp_path / "w.duckdb", models=("hashing",), cache_dir=cache_dir
    )


def add(corpus: Path, sample: str, name: str | None = None) -> Path:
    return Path(shutil.copy(CORPUS / sample, corpus / (name or sample)))


def rows(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.read_only(path) as con:
        return con.execute(sql, params or []).fetchall()


def doc_id(sample: str) -> str:
    return sha256_of(CORPUS / sample)[: ingest_parse.DOC_ID_HEX]


def coverage_table(path: Path) -> pd.DataFrame:
    """The coverage of current documents, without run ids: what a clean run must reproduce."""
    with warehouse.read_only(path) as con:
        frame = con.execute(
            "SELECT doc_id, measure_id, status, round(score, 9) AS score, evidence_clause_id FROM coverage "
            "WHERE doc_id IN (SELECT doc_id FROM documents WHERE status <> 'withdrawn') ORDER BY doc_id, measure_id"
        ).df()
    return frame.reset_index(drop=True)


@pytest.mark.slow
def test_a_rerun_with_no_new_file_extracts_and_embeds_nothing(settings, corpus):
    add(corpus, A)
    add(corpus, B)
    first = pipeline.run(settings)
    second = pipeline.run(settings)
    assert first.n_processed == 2
    assert (second.n_processed, second.n_embedded, second.n_unchanged) == (0, 0, 2)
    runs = rows(
        settings.warehouse, "SELECT n_processed, n_embedded, n_unchanged, model_ids FROM runs ORDER BY run_id"
    )
    assert runs[1] == (0, 0, 2, None)  # no model was even loaded
    assert rows(settings.warehouse, "SELECT DISTINCT run_id FROM coverage") == [(first.run_id,)]


@pytest.mark.slow
def test_a_new_file_is_processed_on_its_own(settings, corpus):
    add(corpus, A)
    first = pipeline.run(settings)
    add(corpus, B)
    second = pipeline.run(settings)
    assert (second.n_processed, second.n_unchanged) == (1, 1)
    by_doc = dict(rows(settings.warehouse, "SELECT doc_id, any_value(run_id) FROM coverage GROUP BY doc_id"))
    assert by_doc == {doc_id(A): first.run_id, doc_id(B): second.run_id}


@pytest.mark.slow
def test_a_changed_file_replaces_its_old_rows(settings, corpus):
    add(corpus, A, "plan.pdf")
    pipeline.run(settings)
    add(corpus, B, "plan.pdf")  # same name, new content
    summary = pipeline.run(settings)
    assert (summary.n_processed, summary.n_replaced) == (1, 1)
    assert rows(settings.warehouse, "SELECT doc_id, file_name, status FROM documents") == [
        (doc_id(B), "plan.pdf", "ok")
    ]
    for table in ("clauses", "coverage", "clause_decisions", "pages", "departments", "targets"):
        assert rows(settings.warehouse, f"SELECT count(*) FROM {table} WHERE doc_id = ?", [doc_id(A)]) == [
            (0,)
        ]
    assert rows(
        settings.warehouse, "SELECT count(*) FROM matches WHERE clause_id LIKE ?", [doc_id(A) + "%"]
    ) == [(0,)]


@pytest.mark.slow
def test_a_removed_file_is_withdrawn_not_deleted_and_comes_back(settings, corpus):
    path = add(corpus, A)
    add(corpus, B)
    pipeline.run(settings)
    path.unlink()
    gone = pipeline.run(settings)
    assert (gone.n_withdrawn, gone.n_processed) == (1, 0)
    assert rows(settings.warehouse, "SELECT status FROM documents WHERE doc_id = ?", [doc_id(A)]) == [
        ("withdrawn",)
    ]
    assert rows(settings.warehouse, "SELECT count(*) FROM coverage WHERE doc_id = ?", [doc_id(A)]) == [(65,)]
    add(corpus, A)
    back = pipeline.run(settings)
    assert (back.n_processed, back.n_embedded) == (1, 0)  # its clauses' vectors are in the cache
    assert store_plan.plan(
        [corpus / A],
        pd.DataFrame({"doc_id": [doc_id(A)], "file_name": [A], "sha256": ["x"], "status": ["withdrawn"]}),
    ).reasons == {A: store_plan.Reason.RETURNED}
    assert rows(
        settings.warehouse, "SELECT status, message FROM documents WHERE doc_id = ?", [doc_id(A)]
    ) == [("ok", "")]


@pytest.mark.slow
def test_a_renamed_identical_file_is_not_processed_again(settings, corpus):
    path = add(corpus, A)
    pipeline.run(settings)
    path.rename(corpus / "renamed.pdf")
    summary = pipeline.run(settings)
    assert (summary.n_processed, summary.n_withdrawn) == (0, 0)
    assert rows(settings.warehouse, "SELECT file_name, status FROM documents") == [("renamed.pdf", "ok")]


@pytest.mark.slow
def test_identical_files_are_stored_once(settings, corpus):
    add(corpus, A)
    add(corpus, A, "copy-of-ningbo.pdf")
    summary = pipeline.run(settings)
    assert summary.n_processed == 1
    assert rows(settings.warehouse, "SELECT file_name FROM documents") == [("copy-of-ningbo.pdf",)]
    assert summary.notes == (f"{A}: same content as copy-of-ningbo.pdf; stored once, as copy-of-ningbo.pdf",)


@pytest.mark.slow
def test_files_in_subfolders_are_named_by_their_path(settings, corpus):
    (corpus / "2016").mkdir()
    add(corpus, A, "2016/plan.pdf")
    add(corpus, B, "plan.pdf")
    summary = pipeline.run(settings)
    assert summary.n_processed == 2
    assert sorted(rows(settings.warehouse, "SELECT file_name FROM documents")) == [
        ("2016/plan.pdf",),
        ("plan.pdf",),
    ]


@pytest.mark.slow
def test_a_broken_file_that_is_fixed_is_processed(settings, corpus):
    (corpus / "plan.pdf").write_bytes(b"not a pdf yet")
    broken = pipeline.run(settings)
    assert broken.n_failed == 1
    add(corpus, A, "plan.pdf")
    fixed = pipeline.run(settings)
    assert (fixed.n_processed, fixed.n_replaced, fixed.n_failed) == (1, 1, 0)
    assert rows(settings.warehouse, "SELECT file_name, status FROM documents") == [("plan.pdf", "ok")]


def _unreadable(name: str):
    """``sha256_of`` as it behaves on a file this process may not read (root reads any file)."""

    def hashing(path: Path) -> str:
        if path.name == name:
            raise PermissionError(13, "Permission denied", str(path))
        return sha256_of(path)

    return hashing


@pytest.mark.slow
def test_an_unreadable_file_is_a_named_failure_and_its_known_rows_stay(settings, corpus, monkeypatch):
    add(corpus, A)
    add(corpus, B)
    first = pipeline.run(settings)
    (corpus / "new.pdf").write_bytes((CORPUS / "hunan-2015-86.pdf").read_bytes())
    monkeypatch.setattr(store_plan, "sha256_of", _unreadable("new.pdf"))
    second = pipeline.run(settings)
    assert (second.n_files, second.n_processed, second.n_failed, second.n_withdrawn) == (3, 0, 1, 0)
    assert second.failures == (
        "new.pdf: cannot be read (Permission denied); check that the file is readable, then run again",
    )
    assert rows(settings.warehouse, "SELECT status, n_failed FROM runs ORDER BY run_id DESC LIMIT 1") == [
        ("partial", 1)
    ]
    assert rows(settings.warehouse, "SELECT DISTINCT run_id FROM coverage") == [(first.run_id,)]
    monkeypatch.setattr(store_plan, "sha256_of", _unreadable(A))  # a known file becomes unreadable
    third = pipeline.run(settings)
    assert (third.n_processed, third.n_failed, third.n_withdrawn) == (1, 1, 0)
    assert rows(settings.warehouse, "SELECT count(*) FROM documents WHERE status = 'ok'") == [(3,)]


def test_a_file_gone_before_it_is_parsed_is_a_failure_not_a_crash(tmp_path):
    parsed = ingest_parse.parse_document(tmp_path / "gone.pdf")
    assert parsed.status == DocStatus.FAILED and parsed.message.startswith("gone.pdf: cannot be read")


def test_a_file_that_failed_unexpectedly_is_tried_again_but_a_bad_file_is_not(corpus):
    path = add(corpus, A)
    sha = sha256_of(path)
    for status, expected in ((DocStatus.FAILED, (path,)), (DocStatus.NOT_PDF, ())):
        known = pd.DataFrame(
            {"doc_id": [sha[:16]], "file_name": [A], "sha256": [sha], "status": [str(status)]}
        )
        assert store_plan.plan([path], known, corpus=corpus).to_process == expected


@pytest.mark.slow
def test_other_scoring_settings_score_every_document_again(settings, corpus):
    add(corpus, A)
    pipeline.run(settings)
    summary = pipeline.run(settings.with_overrides(top_k=2))
    assert summary.n_processed == 1
    assert rows(settings.warehouse, "SELECT max(rank) FROM matches") == [(2,)]
    assert pipeline.run(settings.with_overrides(top_k=2)).n_processed == 0


@pytest.mark.slow
def test_new_code_scores_every_document_again_without_embedding_it_again(settings, corpus, monkeypatch):
    add(corpus, A)
    pipeline.run(settings)
    monkeypatch.setattr(provenance, "score_fingerprint", lambda: "an-upgraded-scorer")
    upgraded = pipeline.run(settings)
    assert (upgraded.n_processed, upgraded.n_embedded) == (1, 0)
    assert rows(settings.warehouse, "SELECT DISTINCT run_id FROM coverage") == [(upgraded.run_id,)]
    assert pipeline.run(settings).n_processed == 0


@pytest.mark.slow
def test_force_processes_everything(settings, corpus):
    add(corpus, A)
    pipeline.run(settings)
    assert pipeline.run(settings, force=True).n_processed == 1


@pytest.mark.slow
def test_an_incremental_warehouse_equals_a_clean_one(tmp_path, settings, corpus):
    add(corpus, A)
    pipeline.run(settings)
    add(corpus, B)
    pipeline.run(settings)
    clean = settings.with_overrides(warehouse=tmp_path / "clean.duckdb")
    pipeline.run(clean)
    pd.testing.assert_frame_equal(coverage_table(settings.warehouse), coverage_table(clean.warehouse))


@pytest.mark.slow
def test_every_coverage_row_belongs_to_a_recorded_run(settings, corpus):
    add(corpus, A)
    pipeline.run(settings)
    add(corpus, B)
    pipeline.run(settings)
    orphans = rows(
        settings.warehouse,
        "SELECT count(*) FROM coverage c LEFT JOIN runs r USING (run_id) WHERE r.run_id IS NULL",
    )
    assert orphans == [(0,)]
    (record,) = rows(
        settings.warehouse,
        "SELECT code_version, models, scoring_key, corpus_hash, thresholds, timings FROM runs ORDER BY run_id DESC LIMIT 1",
    )
    code_version, models, key, corpus_hash, thresholds, timings = record
    assert code_version.startswith("0.") and "src" in code_version and models == "hashing"
    assert key and corpus_hash and '"clause"' in thresholds and '"publish"' in timings


@pytest.mark.slow
def test_an_older_warehouse_gains_the_new_columns_and_is_rescored_once(settings, corpus):
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(
            "CREATE TABLE documents (doc_id VARCHAR PRIMARY KEY, file_name VARCHAR, sha256 VARCHAR, status VARCHAR)"
        )
    add(corpus, A)
    assert pipeline.run(settings).n_processed == 1
    assert pipeline.run(settings).n_processed == 0
    assert rows(settings.warehouse, "SELECT count(*) FROM documents WHERE scoring_key IS NOT NULL") == [(1,)]


# --- the plan alone, on arbitrary corpora and histories -------------------------------------------

CONTENTS = st.sampled_from([b"alpha", b"beta", b"gamma", b"delta"])
NAMES = st.sampled_from(["a.pdf", "b.pdf", "c.pdf"])
CORPORA = st.dictionaries(NAMES, CONTENTS, max_size=3)


def _apply(known: pd.DataFrame, run_plan: store_plan.Plan) -> pd.DataFrame:
    """What publishing does to the documents table, in miniature (every processed file is ok)."""
    processed = {p.name for p in run_plan.to_process}
    found = store_plan.changes(
        run_plan.hashes, run_plan.names, known, {run_plan.hashes[n][:16] for n in processed}
    )
    table = {r.doc_id: r._asdict() for r in known.itertuples(index=False)}
    for doc_id in found.replaced:
        table.pop(doc_id)
    for doc_id in found.withdrawn:
        table[doc_id]["status"] = "withdrawn"
    for doc_id, name in found.renamed.items():
        table[doc_id]["file_name"] = name
    for name in processed:
        sha = run_plan.hashes[name]
        table[sha[:16]] = {
            "doc_id": sha[:16],
            "file_name": name,
            "sha256": sha,
            "status": "ok",
            "scoring_key": "k",
        }
    return pd.DataFrame(list(table.values()), columns=list(warehouse.KNOWN_COLUMNS))


@hsettings(max_examples=60, deadline=None)
@given(st.lists(CORPORA, min_size=1, max_size=4))
def test_any_history_of_corpora_ends_where_a_clean_run_would(tmp_path_factory, history):
    folder = tmp_path_factory.mktemp("corpus")
    known = pd.DataFrame(columns=list(warehouse.KNOWN_COLUMNS))
    for files in history:
        for old in folder.iterdir():
            old.unlink()
        for name, content in files.items():
            (folder / name).write_bytes(content)
        paths = sorted(folder.iterdir())
        run_plan = store_plan.plan(paths, known, corpus=folder, scoring_key="k")
        known = _apply(known, run_plan)
        again = store_plan.plan(paths, known, corpus=folder, scoring_key="k")
        assert (
            again.to_process == () and again.withdrawn == () and again.replaced == () and again.renamed == {}
        )
    live = known[known["status"] != "withdrawn"]
    empty = known.iloc[0:0]
    clean = _apply(empty, store_plan.plan(paths, empty, corpus=folder, scoring_key="k"))
    assert sorted(live["doc_id"]) == sorted(clean["doc_id"])
    names_of = {}
    for name, content in history[-1].items():
        names_of.setdefault(hashlib.sha256(content).hexdigest()[:16], set()).add(name)
    assert all(
        row.file_name in names_of[row.doc_id] for row in live.itertuples()
    )  # a live name holds that content
    assert known["doc_id"].is_unique
