"""One bad document never takes a run down.

- a file name whose bytes are not UTF-8 (GBK, from a zip made on Windows) is stored as a
  readable name and the file is read by its real path;
- a document that fails unexpectedly in any step is published as ``failed`` with a message
  naming the file and the step, the others are published, and the next run tries it again
  (the flow never caches a failed parse);
- a corpus folder that is missing, or holds no PDF while the warehouse has documents, is refused;
- ``compare run`` exits 0 (clean), 1 (published with bad files), 2 (refused), 3 (nothing published);
- nothing already in the warehouse is lost.

Runs use the model-free ``hashing`` encoder and copies of two small sample plans.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from typer.testing import CliRunner

from compare.errors import CorpusError, display_name
from compare.ingest import parse as ingest_parse
from compare.ingest.extract import sha256_of
from compare.match import scorer as match_scorer
from compare.match.scoring import clause_query
from compare.run import pipeline
from compare.scale import staging
from compare.settings import Settings
from compare.store import plan as store_plan
from compare.store import publish as store_publish
from compare.store import warehouse
from tests.conftest import CORPUS

A, B = "ningbo-2016-29.pdf", "guizhou-2015-35.pdf"
#: 湖南.pdf as a Windows zip names it: GBK bytes, not UTF-8.
GBK_NAME = "湖南.pdf".encode("gbk")
#: Bytes that are neither UTF-8 nor GB18030 (0xFF never occurs in either).
UNDECODABLE_NAME = b"\xff\xfe-plan.pdf"


def doc_id(sample: str) -> str:
    return sha256_of(CORPUS / sample)[: ingest_parse.DOC_ID_HEX]


def add(corpus: Path, sample: str, name: str | bytes | None = None) -> Path:
    """Copy a sample plan into the corpus, under ``name`` (bytes: a raw file-system name)."""
    if isinstance(name, bytes):
        target = Path(os.fsdecode(os.path.join(os.fsencode(corpus), name)))
    else:
        target = corpus / (name or sample)
    shutil.copyfile(CORPUS / sample, target)
    return target


def rows(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.read_only(path) as con:
        return con.execute(sql, params or []).fetchall()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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


# --- file names that are not UTF-8 ------------------------------------------------------------------


@pytest.mark.slow
def test_a_gbk_file_name_is_stored_decoded_and_its_document_lives_like_any_other(settings, corpus):
    path = add(corpus, A, GBK_NAME)
    add(corpus, B)
    first = pipeline.run(settings)
    assert (first.n_processed, first.n_failed) == (2, 0), first.failures
    assert sorted(rows(settings.warehouse, "SELECT file_name, status FROM documents")) == [
        (B, "ok"),
        ("湖南.pdf", "ok"),
    ]
    assert rows(settings.warehouse, "SELECT count(*) FROM coverage WHERE doc_id = ?", [doc_id(A)]) == [(65,)]
    again = pipeline.run(settings)  # the name is the same every run: nothing to do
    assert (again.n_processed, again.n_unchanged, again.n_withdrawn, again.n_replaced) == (0, 2, 0, 0)
    shutil.copyfile(CORPUS / B, path)  # new content under the GBK name: the old document is replaced
    replaced = pipeline.run(settings)
    assert replaced.n_replaced == 1
    assert rows(settings.warehouse, "SELECT count(*) FROM documents WHERE doc_id = ?", [doc_id(A)]) == [(0,)]
    path.unlink()
    gone = pipeline.run(settings)
    assert gone.n_withdrawn == 0  # the content is still there as guizhou-2015-35.pdf
    assert rows(settings.warehouse, "SELECT file_name FROM documents") == [(B,)]


@pytest.mark.slow
def test_a_gbk_named_file_that_leaves_the_corpus_is_withdrawn(settings, corpus):
    path = add(corpus, A, GBK_NAME)
    add(corpus, B)
    pipeline.run(settings)
    path.unlink()
    gone = pipeline.run(settings)
    assert gone.n_withdrawn == 1
    assert rows(
        settings.warehouse, "SELECT status, message FROM documents WHERE doc_id = ?", [doc_id(A)]
    ) == [("withdrawn", "湖南.pdf: file no longer in the corpus")]


@pytest.mark.slow
def test_an_undecodable_name_is_stored_with_its_bytes_escaped(settings, corpus):
    add(corpus, A, UNDECODABLE_NAME)
    summary = pipeline.run(settings)
    assert summary.n_failed == 0
    assert rows(settings.warehouse, "SELECT file_name, status FROM documents") == [
        (r"\xff\xfe-plan.pdf", "ok")
    ]


@pytest.mark.slow
def test_a_bad_file_with_a_gbk_name_gets_its_status_and_a_message_naming_it(settings, corpus):
    target = Path(os.fsdecode(os.path.join(os.fsencode(corpus), GBK_NAME)))
    target.write_bytes(b"not a pdf at all")
    summary = pipeline.run(settings)
    assert summary.n_failed == 1 and summary.failures[0].startswith("湖南.pdf: not a PDF")
    assert rows(settings.warehouse, "SELECT file_name, status FROM documents") == [("湖南.pdf", "not_pdf")]


@pytest.mark.slow
def test_a_gbk_name_beside_the_same_name_in_utf8_keeps_both_files_apart(settings, corpus):
    add(corpus, A, GBK_NAME)
    add(corpus, B, "湖南.pdf")
    summary = pipeline.run(settings)
    assert (summary.n_files, summary.n_processed) == (2, 2)
    assert dict(rows(settings.warehouse, "SELECT doc_id, file_name FROM documents")) == {
        doc_id(A): r"\xba\xfe\xc4\xcf.pdf",
        doc_id(B): "湖南.pdf",
    }


@pytest.mark.slow
def test_a_staged_run_stores_a_gbk_name_decoded(settings, corpus, tmp_path):
    add(corpus, A, GBK_NAME)
    summary = staging.run(settings, tmp_path / "staging")
    assert summary.n_failed == 0
    assert rows(settings.warehouse, "SELECT file_name, status FROM documents") == [("湖南.pdf", "ok")]


@hsettings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b and b"\0" not in b))
def test_any_file_name_can_be_stored_and_a_utf8_one_is_kept_as_it_is(raw):
    name = os.fsdecode(raw)
    shown = display_name(name)
    shown.encode("utf-8")  # never raises
    assert shown == display_name(name)
    try:
        assert shown == raw.decode("utf-8")
    except UnicodeDecodeError:
        assert shown != name


@hsettings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=8).filter(lambda b: b"/" not in b and b"\0" not in b), min_size=1)
)
def test_a_path_with_any_bytes_travels_as_a_flow_parameter_and_back(parts):
    from flows.compare_flow import local, portable

    path = Path(os.fsdecode(b"/corpus/" + b"/".join(parts)))
    carried = portable(path)
    carried.encode("utf-8")  # what Prefect's API takes
    assert local(carried) == path


# --- one document failing in one step -------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_queries() -> set[str]:
    """What the scorer embeds for the clauses of A and not for those of B."""

    def queries(sample: str) -> set[str]:
        return {clause_query(c) for c in ingest_parse.parse_document(CORPUS / sample).clauses}

    return queries(A) - queries(B)


def _raise_for_a(monkeypatch, step: str, bad_queries: set[str]) -> None:
    """Make one function of ``step`` raise ValueError for sample A only."""
    bad = doc_id(A)

    def wrap(module, name, is_bad):
        original = getattr(module, name)

        def wrapped(*args, **kwargs):
            if is_bad(*args, **kwargs):
                raise ValueError(f"{step} broke")
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapped)

    targets = {
        "parse": (ingest_parse, "extract_pages", lambda path, *a, **k: path.name == A),
        "segment": (ingest_parse, "segment_clauses", lambda doc, pages, *a, **k: doc == bad),
        "metadata": (ingest_parse, "metadata", lambda text, pages, *a, **k: "宁波" in text),
        "structure": (ingest_parse, "clause_departments", lambda clauses, *a, **k: clauses[0].doc_id == bad),
        # the clauses' own embedding (the call that counts embedded texts), not the exemplars'
        "embed": (
            match_scorer,
            "embeddings",
            lambda encoder, texts, *a, **k: "stats" in k and bool(bad_queries & set(texts)),
        ),
        "score": (match_scorer, "coverage", lambda doc_ids, *a, **k: bad in doc_ids),
    }
    wrap(*targets[step])


STEPS = ["parse", "segment", "metadata", "structure", "embed", "score"]


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
def test_a_document_failing_in_one_step_is_failed_and_named_and_the_others_publish(
    settings, corpus, monkeypatch, bad_queries, step
):
    add(corpus, A)
    add(corpus, B)
    with monkeypatch.context() as patch:
        _raise_for_a(patch, step, bad_queries)
        summary = pipeline.run(settings)
    assert (summary.n_processed, summary.n_failed) == (2, 1)
    (message,) = summary.failures
    assert message.startswith(f"{A}: {step}: ValueError: {step} broke (at ") and "next run" in message
    assert dict(rows(settings.warehouse, "SELECT doc_id, status FROM documents")) == {
        doc_id(A): "failed",
        doc_id(B): "ok",
    }
    assert rows(settings.warehouse, "SELECT message FROM documents WHERE doc_id = ?", [doc_id(A)]) == [
        (message,)
    ]
    assert rows(settings.warehouse, "SELECT doc_id, count(*) FROM coverage GROUP BY doc_id") == [
        (doc_id(B), 65)
    ]
    assert rows(settings.warehouse, "SELECT count(*) FROM clauses WHERE doc_id = ?", [doc_id(A)]) == [(0,)]
    retried = pipeline.run(settings)
    assert (retried.n_processed, retried.n_failed, retried.n_unchanged) == (1, 0, 1)
    assert rows(settings.warehouse, "SELECT status FROM documents WHERE doc_id = ?", [doc_id(A)]) == [("ok",)]


@pytest.mark.slow
def test_a_batch_whose_scoring_fails_for_one_document_scores_the_others_as_a_clean_run_does(
    tmp_path, settings, corpus, monkeypatch, bad_queries
):
    add(corpus, A)
    add(corpus, B)
    with monkeypatch.context() as patch:
        _raise_for_a(patch, "score", bad_queries)
        pipeline.run(settings)
    (corpus / A).unlink()
    clean = settings.with_overrides(warehouse=tmp_path / "clean.duckdb")
    pipeline.run(clean)
    sql = "SELECT measure_id, status, round(score, 5), evidence_clause_id FROM coverage ORDER BY measure_id"
    assert rows(settings.warehouse, sql) == rows(clean.warehouse, sql)


@pytest.mark.slow
def test_a_document_that_was_ok_keeps_its_rows_when_it_fails_on_a_rescore(
    settings, corpus, monkeypatch, bad_queries
):
    add(corpus, A)
    add(corpus, B)
    first = pipeline.run(settings)
    rescore = settings.with_overrides(top_k=2)
    with monkeypatch.context() as patch:
        _raise_for_a(patch, "score", bad_queries)
        failed = pipeline.run(rescore)
    assert (failed.n_processed, failed.n_failed) == (2, 1)
    assert failed.failures[0].startswith(f"{A}: score: ") and failed.failures[0].endswith(
        store_publish.KEPT_NOTE
    )
    assert rows(
        settings.warehouse,
        "SELECT status, run_id, scoring_key IS NULL FROM documents WHERE doc_id = ?",
        [doc_id(A)],
    ) == [("ok", first.run_id, True)]
    assert rows(
        settings.warehouse, "SELECT count(*), max(run_id) FROM coverage WHERE doc_id = ?", [doc_id(A)]
    ) == [(65, first.run_id)]
    retried = pipeline.run(rescore)  # its key was cleared: the next run scores it again
    assert (retried.n_processed, retried.n_failed) == (1, 0)
    assert rows(
        settings.warehouse, "SELECT max(rank) FROM matches WHERE clause_id LIKE ?", [doc_id(A) + "%"]
    ) == [(2,)]


# --- the staged run (the Dask scale-out does the same per batch) ------------------------------------


@pytest.mark.slow
def test_a_staged_document_whose_scoring_fails_is_staged_failed_and_staged_again_next_run(
    settings, corpus, tmp_path, monkeypatch, bad_queries
):
    add(corpus, A)
    add(corpus, B)
    folder = tmp_path / "staging"
    with monkeypatch.context() as patch:
        _raise_for_a(patch, "embed", bad_queries)
        summary = staging.run(settings, folder)
    assert (summary.n_processed, summary.n_failed) == (2, 1)
    assert summary.failures[0].startswith(f"{A}: embed: ValueError: embed broke")
    assert dict(rows(settings.warehouse, "SELECT doc_id, status FROM documents")) == {
        doc_id(A): "failed",
        doc_id(B): "ok",
    }
    again = staging.run(settings, folder)
    assert (again.n_processed, again.n_failed) == (1, 0)
    assert rows(settings.warehouse, "SELECT count(*) FROM coverage WHERE doc_id = ?", [doc_id(A)]) == [(65,)]


@pytest.mark.slow
def test_a_lost_batch_is_staged_as_failed_documents_and_staged_again_next_run(settings, corpus, tmp_path):
    add(corpus, A)
    folder = tmp_path / "staging"
    catalogue = match_scorer.load_run_catalogue(settings)
    planned = store_plan.plan_run(settings, catalogue)
    stage = staging.prepare(settings, folder)
    lost = staging.failed_batch(stage, planned.plan.to_process, RuntimeError("worker lost"))
    assert [(d.doc_id, d.status) for d in lost] == [(doc_id(A), "failed")]
    assert lost[0].message.startswith(f"{A}: stage: RuntimeError: worker lost")
    summary = staging.load(planned, stage, lost, store_plan.Clock())
    assert summary.n_failed == 1
    assert rows(settings.warehouse, "SELECT status FROM documents") == [("failed",)]
    again = staging.run(settings, folder)
    assert (again.n_processed, again.n_failed) == (1, 0)
    assert rows(settings.warehouse, "SELECT status FROM documents") == [("ok",)]


# --- an empty or missing corpus -----------------------------------------------------------------------


@pytest.mark.slow
def test_an_emptied_corpus_is_refused_unless_allowed(settings, corpus):
    nothing = pipeline.run(settings)  # an empty folder and an empty warehouse: nothing to withdraw
    assert (nothing.n_files, nothing.n_failed) == (0, 0)
    add(corpus, A)
    add(corpus, B)
    pipeline.run(settings)
    before = digest(settings.warehouse)
    for path in corpus.iterdir():
        path.unlink()
    with pytest.raises(CorpusError) as caught:
        pipeline.run(settings)
    message = str(caught.value)
    assert str(corpus) in message and "no PDF" in message and "2 document(s)" in message
    assert "--allow-empty-corpus" in message and "mounted" in message
    with pytest.raises(CorpusError):
        staging.run(settings, corpus.parent / "staging")
    assert digest(settings.warehouse) == before
    allowed = pipeline.run(settings, allow_empty_corpus=True)
    assert allowed.n_withdrawn == 2
    assert rows(settings.warehouse, "SELECT DISTINCT status FROM documents") == [("withdrawn",)]
    assert pipeline.run(settings).n_withdrawn == 0  # nothing live is left to withdraw: no refusal


def test_a_missing_corpus_folder_is_an_error_naming_it(settings, tmp_path):
    missing = tmp_path / "share" / "plans"
    with pytest.raises(CorpusError) as caught:
        pipeline.run(settings.with_overrides(corpus=missing))
    assert str(missing) in str(caught.value) and "does not exist" in str(caught.value)


# --- nothing already published is lost ------------------------------------------------------------


@pytest.mark.slow
def test_a_publish_that_fails_leaves_the_previous_warehouse_as_it_was(settings, corpus, monkeypatch):
    add(corpus, A)
    pipeline.run(settings)
    before = digest(settings.warehouse)
    add(corpus, B)

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(warehouse, "write_coverage", broken)
    with pytest.raises(OSError):
        pipeline.run(settings)
    assert digest(settings.warehouse) == before
    assert sorted(p.name for p in settings.warehouse.parent.iterdir() if "tmp" in p.name) == []


# --- the flow and `compare run` -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture
def flow_env(tmp_path, monkeypatch) -> Path:
    """A cache folder of the test's own (the flow's parse cache lives there), and the library
    settings ``compare run`` sets, restored after the test."""
    from compare.settings import LIBRARY_ENV_DEFAULTS

    for name, value in LIBRARY_ENV_DEFAULTS.items():
        monkeypatch.setenv(name, os.environ.get(name, value))
    monkeypatch.setenv("COMPARE_CACHE_DIR", str(tmp_path / "flow-cache"))
    return tmp_path / "flow-cache"


def _raising(monkeypatch, module, name: str, is_bad, error: Exception) -> None:
    original = getattr(module, name)

    def wrapped(*args, **kwargs):
        if is_bad(*args, **kwargs):
            raise error
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapped)


@pytest.mark.flow
@pytest.mark.slow
def test_the_flow_parses_again_a_file_whose_parse_failed_and_stores_a_gbk_name(
    harness, flow_env, tmp_path, corpus, monkeypatch
):
    from flows.compare_flow import compare_run

    add(corpus, A)
    add(corpus, B, GBK_NAME)
    path = tmp_path / "w.duckdb"
    with monkeypatch.context() as patch:  # A is read while it is being rewritten
        _raising(
            patch, ingest_parse, "extract_pages", lambda p, *a, **k: p.name == A, RuntimeError("stream ended")
        )
        first = compare_run(corpus=str(corpus), warehouse_path=str(path), models=["hashing"])
    assert (first.n_processed, first.n_failed) == (2, 1)
    assert first.failures[0].startswith(f"{A}: parse: RuntimeError: stream ended")
    assert sorted(rows(path, "SELECT file_name, status FROM documents")) == [
        (A, "failed"),
        ("湖南.pdf", "ok"),
    ]
    second = compare_run(corpus=str(corpus), warehouse_path=str(path), models=["hashing"])
    assert (second.n_processed, second.n_failed, second.n_unchanged) == (1, 0, 1)
    assert rows(path, "SELECT status FROM documents WHERE doc_id = ?", [doc_id(A)]) == [("ok",)]


def _flat(output: str) -> str:
    return " ".join(output.split())


@pytest.mark.flow
@pytest.mark.slow
def test_compare_run_exits_0_clean_1_bad_files_2_refused_3_nothing_published(
    harness, flow_env, tmp_path, corpus, monkeypatch
):
    import flows.compare_flow

    from compare.cli.main import app

    runner = CliRunner()
    path = tmp_path / "w.duckdb"
    args = ["run", "--corpus", str(corpus), "--warehouse", str(path), "--models", "hashing"]
    add(corpus, A)
    with monkeypatch.context() as patch:  # an artifact that cannot be made does not undo the run
        _raising(patch, flows.compare_flow, "committee_summary_markdown", lambda *a: True, KeyError("label"))
        clean = runner.invoke(app, args)
    assert clean.exit_code == 0, clean.output
    assert "note: report: the committee summary artifact was not made (KeyError: 'label')" in _flat(
        clean.output
    )

    add(corpus, B)
    with monkeypatch.context() as patch:
        _raising(
            patch, ingest_parse, "segment_clauses", lambda d, *a: d == doc_id(B), ValueError("no numbering")
        )
        partial = runner.invoke(app, args)
    assert partial.exit_code == 1, partial.output
    assert f"failed: {B}: segment: ValueError: no numbering" in _flat(partial.output)
    published = digest(path)

    with monkeypatch.context() as patch:  # B is tried again; scoring cannot even start
        _raising(
            patch, match_scorer.Scorer, "from_settings", lambda *a, **k: True, RuntimeError("out of memory")
        )
        stopped = runner.invoke(app, args)
    assert stopped.exit_code == 3, stopped.output
    assert "RuntimeError: out of memory" in _flat(stopped.output)
    assert "nothing was published" in _flat(stopped.output)
    assert digest(path) == published

    away = tmp_path / "away"
    corpus.rename(away)
    corpus.mkdir()  # the share's mount point, nothing mounted
    plans = []
    _raising(monkeypatch, store_plan, "plan_run", lambda *a, **k: plans.append(1) and False, RuntimeError())
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2, refused.output
    assert f"{corpus}: the corpus folder holds no PDF" in _flat(refused.output)
    assert "--allow-empty-corpus" in _flat(refused.output)
    assert len(plans) == 1  # a refusal is not retried
    assert digest(path) == published
    corpus.rmdir()
    missing = runner.invoke(app, args)
    assert missing.exit_code == 2 and f"{corpus}: the corpus folder does not exist" in _flat(missing.output)

    corpus.mkdir()
    allowed = runner.invoke(app, [*args, "--allow-empty-corpus"])
    assert allowed.exit_code == 0, allowed.output
    assert rows(path, "SELECT DISTINCT status FROM documents") == [("withdrawn",)]
