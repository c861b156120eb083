"""Results are keyed by the code of the stages that decide them, not by every file of the package.

A parsed document is keyed by the ingest stage's source (``provenance.PARSE_STAGES``), a
document's scores by the ingest and match stages' (``SCORE_STAGES``). Editing the command line,
the report, the review or the warehouse code re-extracts and re-scores nothing; editing a parser
re-extracts and re-scores, editing a scorer re-scores.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compare.match import provenance
from compare.run import pipeline
from compare.settings import Settings
from tests.conftest import CORPUS

#: Modules whose edits must leave every result where it is.
OUTSIDE = ("cli/main.py", "report/render.py", "review/queue.py", "store/warehouse.py", "run/pipeline.py")
PLAN = "ningbo-2016-29.pdf"


def package_copy(tmp_path: Path) -> Path:
    root = tmp_path / "compare"
    shutil.copytree(provenance.PACKAGE_DIR, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def edit(root: Path, module: str) -> None:
    path = root / module
    path.write_text(path.read_text(encoding="utf-8") + "\n# an edit\n", encoding="utf-8")
    provenance.fingerprint_of.cache_clear()  # a process hashes its code once; this one edits it


def keys(root: Path) -> tuple[str, str]:
    return (
        provenance.fingerprint_of(root, provenance.PARSE_STAGES),
        provenance.fingerprint_of(root, provenance.SCORE_STAGES),
    )


def test_the_copy_has_the_keys_of_the_package(tmp_path) -> None:
    assert keys(package_copy(tmp_path)) == (provenance.parse_fingerprint(), provenance.score_fingerprint())


@pytest.mark.parametrize("module", OUTSIDE)
def test_editing_the_cli_report_review_or_store_changes_no_key(tmp_path, module) -> None:
    root = package_copy(tmp_path)
    before = keys(root)
    edit(root, module)
    assert keys(root) == before
    assert provenance.fingerprint_of(root) != provenance.fingerprint_of(package_copy(tmp_path / "clean"))


def test_editing_a_parser_changes_both_keys_and_a_scorer_only_the_score_key(tmp_path) -> None:
    parser, scorer = package_copy(tmp_path / "p"), package_copy(tmp_path / "s")
    parse_key, score_key = keys(parser)
    edit(parser, "ingest/segment.py")
    edit(scorer, "match/scoring.py")
    assert keys(parser)[0] != parse_key and keys(parser)[1] != score_key
    assert keys(scorer) == (parse_key, keys(scorer)[1]) and keys(scorer)[1] != score_key


def test_a_top_level_module_counts_for_every_stage(tmp_path) -> None:
    root = package_copy(tmp_path)
    before = keys(root)
    edit(root, "records.py")
    assert all(a != b for a, b in zip(keys(root), before, strict=True))


def test_a_run_after_editing_the_cli_and_report_extracts_and_scores_nothing(tmp_path, monkeypatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / PLAN, corpus / PLAN)
    settings = Settings.from_env(
        corpus=corpus, warehouse=tmp_path / "w.duckdb", models=("hashing",), cache_dir=tmp_path / "cache"
    )
    assert pipeline.run(settings).n_processed == 1

    edited = package_copy(tmp_path)
    for module in OUTSIDE:
        edit(edited, module)
    monkeypatch.setattr(provenance, "PACKAGE_DIR", edited)
    rerun = pipeline.run(settings)
    assert (rerun.n_processed, rerun.n_embedded, rerun.n_unchanged) == (0, 0, 1)

    edit(edited, "match/scoring.py")  # a scorer edited: the document is scored again
    rescored = pipeline.run(settings)
    assert rescored.n_processed == 1
