"""Reuse in the run (compare.store.reuse): the persistent index across runs, kept in step with the
warehouse; unchanged documents are never compared again.

Real sample plans (Hubei, the Wuhan plan written from it, Guizhou; Ningbo added later), scored
with the model-free hashing encoder; each test has its own cache folder, so its own index.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compare.diffusion.index import ReuseIndex
from compare.run import pipeline
from compare.settings import Settings
from compare.store import publish as store_publish
from compare.store import reuse as store_reuse
from tests.conftest import CORPUS
from tests.reuse_helpers import ADDED, latest_state, rows


@pytest.fixture
def settings(reuse_corpus: Path, tmp_path: Path) -> Settings:
    return Settings.from_env(
        corpus=reuse_corpus, warehouse=tmp_path / "w.duckdb", models="hashing", cache_dir=tmp_path / "cache"
    )


def links(settings: Settings) -> set[tuple]:
    return set(
        rows(
            settings.warehouse, "SELECT kind, source_clause_id, target_clause_id, directed FROM clause_reuse"
        )
    )


def test_a_rerun_compares_nothing_and_a_new_document_alone_is_compared(settings, reuse_corpus, compared):
    pipeline.run(settings)
    assert len(compared) == 3
    first = latest_state(settings.warehouse)
    assert first[1:5] == (3, 3, 0, False)
    before = links(settings)
    wuhan_hubei = rows(
        settings.warehouse,
        "SELECT count(*) FROM reuse_links WHERE target_file = 'wuhan-2016-18.pdf' "
        "AND source_file = 'hubei-2016-8.pdf' AND directed",
    )[0][0]
    assert wuhan_hubei >= 20  # the city plan copies and paraphrases its province's items, and is later

    compared.clear()
    summary = pipeline.run(settings)
    assert summary.n_processed == 0
    assert compared == []
    again = latest_state(settings.warehouse)
    assert again[0] == first[0] and again[2:5] == (0, 0, False)  # the same saved index, nothing compared
    assert links(settings) == before

    shutil.copy(CORPUS / ADDED, reuse_corpus / ADDED)
    compared.clear()
    pipeline.run(settings)
    (ningbo,) = rows(settings.warehouse, f"SELECT doc_id FROM documents WHERE file_name = '{ADDED}'")[0]
    assert compared == [ningbo]  # the new document alone; none of the three is compared again
    added = latest_state(settings.warehouse)
    assert added[0] != first[0] and added[1:5] == (4, 1, 0, False)
    assert before <= links(settings)
    assert rows(settings.warehouse, "SELECT count(*) FROM localization_by_document") == [(4,)]


@pytest.mark.slow
def test_a_withdrawn_document_leaves_the_index_and_the_tables(settings, reuse_corpus, compared):
    pipeline.run(settings)
    (wuhan,) = rows(settings.warehouse, "SELECT doc_id FROM documents WHERE file_name = 'wuhan-2016-18.pdf'")[
        0
    ]
    (reuse_corpus / "wuhan-2016-18.pdf").unlink()
    compared.clear()
    pipeline.run(settings)
    assert compared == []
    state = latest_state(settings.warehouse)
    assert state[1:4] == (2, 0, 1)
    assert rows(
        settings.warehouse,
        f"SELECT count(*) FROM clause_reuse WHERE '{wuhan}' IN (source_doc_id, target_doc_id)",
    ) == [(0,)]
    assert rows(
        settings.warehouse, f"SELECT count(*) FROM document_localization WHERE doc_id = '{wuhan}'"
    ) == [(0,)]
    index = ReuseIndex.open(store_reuse.index_root(settings) / state[0])
    assert wuhan not in index and len(index) == 2


@pytest.mark.slow
def test_a_lost_index_is_rebuilt_from_the_warehouse_with_the_same_links(settings):
    pipeline.run(settings)
    (guizhou,) = rows(
        settings.warehouse, "SELECT doc_id FROM documents WHERE file_name = 'guizhou-2015-35.pdf'"
    )[0]
    kept = set(
        rows(
            settings.warehouse,
            "SELECT kind, source_clause_id, target_clause_id, directed FROM clause_reuse "
            f"WHERE '{guizhou}' NOT IN (source_doc_id, target_doc_id)",
        )
    )
    shutil.rmtree(store_reuse.index_root(settings))
    (settings.corpus / "guizhou-2015-35.pdf").unlink()  # a change, so that the run has something to do
    pipeline.run(settings)
    state = latest_state(settings.warehouse)
    assert state[4] is True and state[1] == 2
    assert kept and links(settings) == kept


@pytest.mark.slow
def test_a_run_that_fails_to_publish_leaves_the_warehouse_naming_an_index_in_step(
    settings, reuse_corpus, monkeypatch
):
    pipeline.run(settings)
    first = latest_state(settings.warehouse)
    shutil.copy(CORPUS / ADDED, reuse_corpus / ADDED)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    with monkeypatch.context() as patched:
        patched.setattr(store_publish, "record_run", broken)
        with pytest.raises(RuntimeError):
            pipeline.run(settings)
    assert latest_state(settings.warehouse) == first
    assert ReuseIndex.open(store_reuse.index_root(settings) / first[0]).documents().shape[0] == 3
    pipeline.run(settings)
    state = latest_state(settings.warehouse)
    assert state[1:5] == (4, 1, 0, False)  # opened as the warehouse named it, not rebuilt
    folders = sorted(p.name for p in store_reuse.index_root(settings).iterdir())
    assert state[0] in folders and len(folders) <= 2  # the unpublished run's folder was removed
