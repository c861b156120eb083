"""What a run has to do, decided without running it: ``store_plan.plan`` and ``store_plan.changes``.

The end-to-end runs of ``test_incremental.py`` (marked slow) show that the warehouse follows the
plan; these show the plan itself, from files of a few bytes and a ``known`` documents table.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from compare.ingest import parse as ingest_parse
from compare.records import DocStatus
from compare.store import plan as store_plan
from compare.store import warehouse

#: Stand-ins for two plans: ``plan`` only hashes the files.
ALPHA, BETA = b"alpha plan", b"beta plan"
KEY = "scoring-key"


def doc_id(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[: ingest_parse.DOC_ID_HEX]


def write(corpus: Path, name: str, content: bytes) -> Path:
    path = corpus / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def known(*documents: tuple[bytes, str, str], scoring_key: str = KEY) -> pd.DataFrame:
    """The warehouse's documents table as ``plan`` reads it: (content, file name, status) rows."""
    return pd.DataFrame(
        [
            {
                "doc_id": doc_id(content),
                "file_name": name,
                "sha256": hashlib.sha256(content).hexdigest(),
                "status": status,
                "scoring_key": scoring_key,
            }
            for content, name, status in documents
        ],
        columns=list(warehouse.KNOWN_COLUMNS),
    )


NOTHING = known()


def plan_of(corpus: Path, documents: pd.DataFrame, **options) -> store_plan.Plan:
    options.setdefault("scoring_key", KEY)
    return store_plan.plan(
        sorted(p for p in corpus.rglob("*") if p.is_file()), documents, corpus=corpus, **options
    )


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    return folder


def test_a_new_file_is_processed_and_a_known_one_is_not(corpus):
    a = write(corpus, "a.pdf", ALPHA)
    b = write(corpus, "b.pdf", BETA)
    found = plan_of(corpus, known((ALPHA, "a.pdf", DocStatus.OK)))
    assert found.to_process == (b,) and found.reasons == {"b.pdf": store_plan.Reason.NEW}
    assert found.unchanged == (doc_id(ALPHA),)
    assert (found.withdrawn, found.replaced, found.renamed) == ((), (), {})
    assert a not in found.to_process


def test_a_changed_file_replaces_the_document_it_held(corpus):
    path = write(corpus, "plan.pdf", BETA)
    found = plan_of(corpus, known((ALPHA, "plan.pdf", DocStatus.OK)))
    assert found.to_process == (path,) and found.reasons == {"plan.pdf": store_plan.Reason.CHANGED}
    assert (found.replaced, found.withdrawn) == ((doc_id(ALPHA),), ())


def test_a_removed_file_is_withdrawn_and_comes_back_as_returned(corpus):
    write(corpus, "b.pdf", BETA)
    gone = plan_of(corpus, known((ALPHA, "a.pdf", DocStatus.OK), (BETA, "b.pdf", DocStatus.OK)))
    assert (gone.to_process, gone.withdrawn) == ((), (doc_id(ALPHA),))
    back = write(corpus, "a.pdf", ALPHA)
    found = plan_of(corpus, known((ALPHA, "a.pdf", DocStatus.WITHDRAWN), (BETA, "b.pdf", DocStatus.OK)))
    assert found.to_process == (back,) and found.reasons == {"a.pdf": store_plan.Reason.RETURNED}
    assert found.withdrawn == ()


def test_a_renamed_file_is_renamed_not_processed(corpus):
    write(corpus, "renamed.pdf", ALPHA)
    found = plan_of(corpus, known((ALPHA, "a.pdf", DocStatus.OK)))
    assert (found.to_process, found.withdrawn) == ((), ())
    assert found.renamed == {doc_id(ALPHA): "renamed.pdf"}


def test_identical_files_are_processed_once_and_a_known_name_is_kept(corpus):
    write(corpus, "a.pdf", ALPHA)
    write(corpus, "copy.pdf", ALPHA)
    fresh = plan_of(corpus, NOTHING)
    assert len(fresh.to_process) == 1
    assert fresh.names == {doc_id(ALPHA): "a.pdf"} and fresh.duplicates == {"copy.pdf": "a.pdf"}
    kept = plan_of(corpus, known((ALPHA, "copy.pdf", DocStatus.OK)))
    assert kept.to_process == () and kept.duplicates == {"a.pdf": "copy.pdf"}


def test_files_in_subfolders_are_named_by_their_path(corpus):
    write(corpus, "2016/plan.pdf", ALPHA)
    write(corpus, "plan.pdf", BETA)
    found = plan_of(corpus, NOTHING)
    assert sorted(found.names.values()) == ["2016/plan.pdf", "plan.pdf"]


def test_other_scoring_settings_and_force_process_known_files(corpus):
    path = write(corpus, "a.pdf", ALPHA)
    documents = known((ALPHA, "a.pdf", DocStatus.OK))
    assert plan_of(corpus, documents).to_process == ()
    rescored = plan_of(corpus, documents, scoring_key="other")
    assert rescored.to_process == (path,) and rescored.reasons == {"a.pdf": store_plan.Reason.RESCORE}
    forced = plan_of(corpus, documents, force=True)
    assert forced.to_process == (path,) and forced.reasons == {"a.pdf": store_plan.Reason.FORCED}


def test_a_warehouse_older_than_scoring_keys_is_scored_again_once(corpus):
    path = write(corpus, "a.pdf", ALPHA)
    older = known((ALPHA, "a.pdf", DocStatus.OK)).drop(columns="scoring_key")
    found = plan_of(corpus, older)
    assert found.to_process == (path,) and found.reasons == {"a.pdf": store_plan.Reason.RESCORE}
    assert plan_of(corpus, known((ALPHA, "a.pdf", DocStatus.OK))).to_process == ()


def test_an_unreadable_file_is_a_failure_and_its_known_document_stays(corpus, monkeypatch):
    write(corpus, "a.pdf", ALPHA)
    write(corpus, "b.pdf", BETA)
    readable = store_plan.sha256_of

    def hashing(path: Path) -> str:
        if path.name == "a.pdf":
            raise PermissionError(13, "Permission denied", str(path))
        return readable(path)

    monkeypatch.setattr(store_plan, "sha256_of", hashing)
    found = plan_of(corpus, known((ALPHA, "a.pdf", DocStatus.OK), (BETA, "b.pdf", DocStatus.OK)))
    assert (found.to_process, found.withdrawn, found.replaced) == ((), (), ())
    assert list(found.unreadable) == ["a.pdf"] and "Permission denied" in found.failures[0]


def test_changes_leave_processed_kept_and_withdrawn_documents_alone():
    documents = known(
        (ALPHA, "a.pdf", DocStatus.OK),
        (BETA, "b.pdf", DocStatus.OK),
        (b"gamma", "c.pdf", DocStatus.WITHDRAWN),
        (b"delta", "d.pdf", DocStatus.OK),
    )
    hashes = {"a.pdf": hashlib.sha256(b"new").hexdigest(), "e.pdf": hashlib.sha256(ALPHA).hexdigest()}
    names = {doc_id(b"new"): "a.pdf", doc_id(ALPHA): "e.pdf"}
    found = store_plan.changes(hashes, names, documents, processed={doc_id(b"new")}, keep={"d.pdf"})
    assert found.renamed == {doc_id(ALPHA): "e.pdf"}  # its content moved to another name
    assert found.withdrawn == (doc_id(BETA),)  # c.pdf was withdrawn already, d.pdf is kept
    assert found.replaced == ()
    replaced = store_plan.changes({"a.pdf": hashes["a.pdf"]}, {}, documents.iloc[:1], processed=set())
    assert replaced.replaced == (doc_id(ALPHA),)
