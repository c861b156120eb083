"""Reuse in staged runs (``compare.scale.staging.load``): the loader compares the staged documents
with the persistent reuse index in its snapshot, as ``compare run`` does after scoring; the same
links and measures, and unchanged documents are never compared again.

Real sample plans (Hubei, the Wuhan plan written from it, Guizhou; Ningbo added later), scored
with the model-free hashing encoder; each test has its own cache folder, so its own index.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pandas as pd
import pytest

from compare.diffusion.documents import reusable
from compare.ingest import parse as ingest_parse
from compare.match import scorer as match_scorer
from compare.match.encoders import HashingEncoder
from compare.match.scoring import clause_query
from compare.run import pipeline
from compare.scale import staging
from compare.settings import Settings
from compare.store import plan as store_plan
from compare.store import warehouse
from tests.conftest import CORPUS
from tests.reuse_helpers import ADDED, latest_state, rows

#: The reuse tables a run publishes, and the columns that name the run rather than the result.
REUSE_TABLES = ("clause_reuse", "document_similarity", "document_localization", "measure_homogeneity")
RUN_DEPENDENT = ("run_id",)
#: A clause vector embedded with its document alone or inside a batch differs by float32 rounding only.
BATCH_ROUNDING = 1e-5


@pytest.fixture
def settings(reuse_corpus: Path, tmp_path: Path) -> Settings:
    return Settings.from_env(
        corpus=reuse_corpus,
        warehouse=tmp_path / "staged.duckdb",
        models="hashing",
        cache_dir=tmp_path / "cache",
    )


def staged_run(settings: Settings) -> staging.RunSummary:
    return staging.run(settings, settings.warehouse.with_name("stage"), batch_size=2)


def reuse_rows(path: Path) -> dict[str, pd.DataFrame]:
    """The reuse tables of a warehouse, rows sorted, without the run's id (as ``staging.published_rows``)."""
    result = {}
    with warehouse.read_only(path) as con:
        for table in REUSE_TABLES:
            frame = con.execute(f"SELECT * EXCLUDE ({', '.join(RUN_DEPENDENT)}) FROM {table}").df()
            result[table] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return result


@pytest.mark.slow
def test_a_staged_run_publishes_the_reuse_a_single_process_run_publishes(settings, compared):
    summary = staged_run(settings)
    assert summary.ok and summary.n_processed == 3
    assert len(compared) == 3
    assert latest_state(settings.warehouse)[1:5] == (3, 3, 0, False)
    reference = dataclasses.replace(settings, warehouse=settings.warehouse.with_name("pipeline.duckdb"))
    pipeline.run(reference)
    ours, theirs = reuse_rows(settings.warehouse), reuse_rows(reference.warehouse)
    assert len(ours["clause_reuse"]) >= 20  # the city plan copies and paraphrases its province's items
    assert staging.differences(ours, theirs, atol=BATCH_ROUNDING) == []
    assert latest_state(settings.warehouse)[1:] == latest_state(reference.warehouse)[1:]
    assert "reuse" in summary.timings


@pytest.mark.slow
def test_a_staged_rerun_compares_nothing_and_a_new_document_alone_is_compared(
    settings, reuse_corpus, compared
):
    staged_run(settings)
    first = latest_state(settings.warehouse)
    before = reuse_rows(settings.warehouse)

    compared.clear()
    summary = staged_run(settings)
    assert summary.n_processed == 0 and compared == []
    again = latest_state(settings.warehouse)
    assert again[0] == first[0] and again[2:5] == (0, 0, False)  # the same saved index, nothing compared
    assert staging.differences(reuse_rows(settings.warehouse), before) == []

    compared.clear()
    staging.run(settings, settings.warehouse.with_name("stage"), batch_size=2, force=True)
    assert compared == []  # loaded again with the same clauses: not compared again
    assert latest_state(settings.warehouse)[2:5] == (0, 0, False)

    shutil.copy(CORPUS / ADDED, reuse_corpus / ADDED)
    compared.clear()
    staged_run(settings)
    (ningbo,) = rows(settings.warehouse, f"SELECT doc_id FROM documents WHERE file_name = '{ADDED}'")[0]
    assert compared == [ningbo]  # the new document alone; none of the three is compared again
    added = latest_state(settings.warehouse)
    assert added[0] != first[0] and added[1:5] == (4, 1, 0, False)
    assert rows(settings.warehouse, "SELECT count(*) FROM localization_by_document") == [(4,)]


@pytest.mark.slow
def test_a_withdrawn_document_leaves_the_index_in_a_staged_run(settings, reuse_corpus, compared):
    staged_run(settings)
    sql = "SELECT doc_id FROM documents WHERE file_name = 'wuhan-2016-18.pdf'"
    (wuhan,) = rows(settings.warehouse, sql)[0]
    (reuse_corpus / "wuhan-2016-18.pdf").unlink()
    compared.clear()
    staged_run(settings)
    assert compared == []
    assert latest_state(settings.warehouse)[1:4] == (2, 0, 1)
    assert rows(
        settings.warehouse,
        f"SELECT count(*) FROM clause_reuse WHERE '{wuhan}' IN (source_doc_id, target_doc_id)",
    ) == [(0,)]


@pytest.mark.slow
def test_staged_and_single_process_runs_share_one_index(settings, reuse_corpus, compared):
    """A staged run over a warehouse ``compare run`` published adds its new documents to the same index."""
    pipeline.run(settings)
    first = latest_state(settings.warehouse)
    shutil.copy(CORPUS / ADDED, reuse_corpus / ADDED)
    compared.clear()
    staged_run(settings)
    (ningbo,) = rows(settings.warehouse, f"SELECT doc_id FROM documents WHERE file_name = '{ADDED}'")[0]
    assert compared == [ningbo]
    state = latest_state(settings.warehouse)
    assert state[0] != first[0] and state[1:5] == (4, 1, 0, False)
    compared.clear()
    pipeline.run(settings)
    assert compared == [] and latest_state(settings.warehouse)[0] == state[0]


@pytest.mark.slow
def test_the_loader_takes_the_staged_clause_vectors_and_embeds_no_clause(settings, reuse_corpus, monkeypatch):
    planned = store_plan.plan_run(settings, match_scorer.load_run_catalogue(settings))
    stage, staged = staging.staged_documents(planned, settings.warehouse.with_name("stage"))
    assert stage is not None
    queries = {
        clause_query(c)
        for p in sorted(reuse_corpus.iterdir())
        for c in reusable(ingest_parse.parse_document(p))
    }
    encoded: list[str] = []
    encode = HashingEncoder.encode

    def counting(self, texts, *, role):
        encoded.extend(texts)
        return encode(self, texts, role=role)

    monkeypatch.setattr(HashingEncoder, "encode", counting)
    staging.load(planned, stage, staged, store_plan.Clock())
    assert latest_state(settings.warehouse)[1:3] == (3, 3)
    assert queries and not queries & set(encoded)  # every clause vector came from the stage
