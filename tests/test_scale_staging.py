"""Staged runs: the same warehouse as ``pipeline.run``, whatever the batching, in bounded memory.

Model-free (the hashing encoder); a few generated city and county plans and a broken file.
"""

from __future__ import annotations

import dataclasses
import shutil

import duckdb
import numpy as np
import pytest

from compare.errors import CompareError, WarehouseError
from compare.ingest import parse as ingest_parse
from compare.match import scorer as match_scorer
from compare.match.embed import EmbeddingCache, embeddings, text_key
from compare.match.encoders import HashingEncoder
from compare.match.scoring import UNSCORED_KINDS, clause_query
from compare.run import pipeline
from compare.scale import docscore, staging, synthetic
from compare.settings import Settings
from compare.store import plan as store_plan
from compare.store import warehouse

pytestmark = pytest.mark.slow
DOCUMENTS = 4
#: Scores of a document scored alone and inside a batch differ by float32 rounding only.
BATCH_ROUNDING = 1e-5


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    try:
        synthetic._prepare_renderer(None)
    except CompareError as exc:
        pytest.skip(str(exc))
    folder = tmp_path_factory.mktemp("corpus")
    synthetic.generate(folder, DOCUMENTS, seed=5)
    (folder / "broken.pdf").write_bytes(b"this is not a pdf at all")
    return folder


@pytest.fixture(scope="module")
def settings(corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return Settings(
        corpus=corpus, warehouse=root / "staged.duckdb", models=("hashing",), cache_dir=root / "cache"
    )


@pytest.fixture(scope="module")
def staged(settings):
    summary = staging.run(settings, settings.warehouse.parent / "stage", batch_size=3)
    return summary, staging.published_rows(settings.warehouse)


def test_staged_columns_are_the_warehouse_columns_less_the_run_columns():
    con = duckdb.connect()
    warehouse.apply_schema(con)
    for table, schema in staging.table_schemas().items():
        columns = [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table]
            ).fetchall()
        ]
        assert schema.names == [c for c in columns if c not in staging.RUN_COLUMNS]


def test_a_staged_run_publishes_what_the_single_process_pipeline_publishes(settings, staged):
    summary, rows = staged
    reference = dataclasses.replace(settings, warehouse=settings.warehouse.with_name("pipeline.duckdb"))
    expected = pipeline.run(reference)
    assert (summary.n_files, summary.n_processed, summary.n_failed) == (DOCUMENTS + 1, DOCUMENTS + 1, 1)
    assert summary.failures == expected.failures and summary.failures[0].startswith("broken.pdf:")
    theirs = staging.published_rows(reference.warehouse)
    assert staging.differences(rows, theirs, atol=BATCH_ROUNDING) == []
    for table in ("coverage", "clause_decisions"):  # every decision and its evidence, exactly
        keys = [c for c in rows[table].columns if c != "score"]
        assert rows[table][keys].equals(theirs[table][keys])
    assert len(rows["coverage"]) == DOCUMENTS * 65 and (rows["coverage"]["status"] == "covered").any()
    with warehouse.read_only(settings.warehouse) as con:
        run = con.execute("SELECT * FROM runs").df().iloc[0]
    with warehouse.read_only(reference.warehouse) as con:
        their_run = con.execute("SELECT * FROM runs").df().iloc[0]
    assert [c for c in their_run.index if their_run.notna()[c] and run.isna()[c]] == []
    assert (run["scoring_key"], run["model_ids"], run["n_clauses"]) == (
        their_run["scoring_key"],
        their_run["model_ids"],
        their_run["n_clauses"],
    )


def test_batching_does_not_change_a_bit(settings, staged, monkeypatch):
    _, rows = staged
    monkeypatch.setattr(staging, "FILES_PER_INSERT", 2)  # and the load reads its files two at a time
    other = dataclasses.replace(settings, warehouse=settings.warehouse.with_name("batch1.duckdb"))
    staging.run(other, other.warehouse.parent / "stage-batch1", batch_size=1)
    assert staging.differences(rows, staging.published_rows(other.warehouse)) == []


def test_staged_documents_are_reused_and_unchanged_files_are_not_staged_again(settings, staged):
    _, rows = staged
    fresh = dataclasses.replace(settings, warehouse=settings.warehouse.with_name("reuse.duckdb"))
    folder = settings.warehouse.parent / "stage"
    stage = staging.prepare(fresh, folder)
    pdfs = ingest_parse.corpus_files(fresh.corpus)
    again = staging.stage_batch(fresh, stage, pdfs)
    assert len(again) == DOCUMENTS + 1 and all(d.reused for d in again)
    summary = staging.run(fresh, folder)
    assert staging.differences(rows, staging.published_rows(fresh.warehouse)) == []
    assert summary.n_processed == DOCUMENTS + 1
    rerun = staging.run(fresh, folder)  # nothing new in the corpus: nothing staged or loaded
    assert (rerun.n_processed, rerun.n_unchanged) == (0, DOCUMENTS + 1)


def test_memory_holds_the_fixed_vectors_and_never_a_staged_documents(settings, staged):
    scorer = docscore.document_scorer(settings, settings.warehouse.parent / "stage")
    groups = match_scorer.fixed_texts(scorer.scorer.catalogue, scorer.scorer.bank)
    n_fixed = len({text_key(t, role) for role, texts in groups for t in texts})
    assert all(len(vectors) == n_fixed for vectors in scorer.fixed.values())
    for pdf in sorted(settings.corpus.glob("0*.pdf"))[:2]:
        doc = ingest_parse.parse_document(pdf)
        scored = scorer.score(doc)
        assert scored.cells and all(len(cache.vectors) == 0 for cache in scorer.scorer.caches.values())
        embedded = [c for c in doc.clauses if c.kind not in UNSCORED_KINDS]  # boilerplate is never embedded
        own = {text_key(clause_query(c), "query") for c in embedded} - set(scorer.fixed["hashing"])
        assert scored.embedding.embedded == len(own) > 0  # its own clauses, embedded together, then dropped
    assert all(len(vectors) == n_fixed for vectors in scorer.fixed.values())


def test_stored_vectors_are_read_by_key_from_the_embedding_cache(tmp_path):
    encoder = HashingEncoder()
    cache = EmbeddingCache.open(tmp_path, encoder.model_id, encoder.dim)
    texts = [f"互联网+第{i}项" for i in range(50)]
    vectors = embeddings(encoder, texts, role="query", cache=cache)
    assert docscore.cache_folder(tmp_path, encoder.model_id) == cache.folder
    wanted = {text_key(texts[3], "query"), text_key(texts[40], "query"), "not-stored"}
    found = docscore.stored_vectors(cache.folder, wanted, encoder.dim)  # type: ignore[arg-type]
    assert set(found) == wanted - {"not-stored"}
    assert np.array_equal(found[text_key(texts[40], "query")], vectors[40])


def test_the_loader_refuses_missing_files_and_workers_of_another_configuration(settings, staged, tmp_path):
    catalogue = match_scorer.load_run_catalogue(settings)
    planned = store_plan.plan_run(dataclasses.replace(settings, warehouse=tmp_path / "w.duckdb"), catalogue)
    copy = tmp_path / "stage"
    shutil.copytree(settings.warehouse.parent / "stage", copy)
    stage = staging.prepare(settings, copy)
    pdf = planned.plan.to_process[0]
    done = staging.stage_batch(settings, stage, [pdf])
    staging.staged_file(stage.folder, "documents", done[0].doc_id).unlink()
    with pytest.raises(WarehouseError, match="were not staged"):
        staging.load(planned, stage, done, store_plan.Clock())
    with pytest.raises(WarehouseError, match="every worker needs the same"):
        staging.stage_batch(settings, dataclasses.replace(stage, key="0" * 16), [pdf])
