"""e5-small on ONNX Runtime: the export and its check against torch, the encoder, the backend setting.

Tests marked ``model`` use the built model and its ONNX export in the default cache
(``$COMPARE_CACHE_DIR`` or ``~/.cache/compare``); the export is built there the first time
(about a minute and a half) and reused afterwards.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from compare.errors import ModelError, SettingsError
from compare.match import modelbuild, onnxbuild, provenance
from compare.match.calibration import default_calibration
from compare.match.catalogue import Catalogue
from compare.match.embed import EmbeddingCache
from compare.match.encoders import (
    E5_SPEC,
    HASHING_SPEC,
    ONNX_BACKENDS,
    OnnxE5Encoder,
    SentenceTransformerEncoder,
    UniversalSentenceEncoder,
    encoder_threads,
    length_batches,
    load_encoder,
)
from compare.match.exemplars import exemplar_bank
from compare.settings import E5_BACKENDS, Settings

#: Texts with characters the tokenizer maps, drops or cannot spell, control characters, and a
#: text beyond the model's 512 tokens.
ODD = [
    "误差±0.5%，温度20°C，面积100m²\ufe0f。",
    "控制字符\x00\x01\x07\x1b\x7f之间\u200b零宽\ufeff",
    "",
    "<s>特殊</s><mask>记号",
    "表情😀与罕见字𠀀",
    "加快发展智能制造，推进工业互联网建设。" * 60,
    "Internet Plus efficient logistics: build an intelligent logistics information platform.",
]
UNIT_TOLERANCE = 1e-5


# --- fast: no model -------------------------------------------------------------------------


@given(
    lengths=st.lists(st.integers(min_value=1, max_value=600), max_size=60),
    batch_size=st.integers(min_value=1, max_value=40),
    max_tokens=st.integers(min_value=1, max_value=5000),
)
def test_length_batches_cover_every_row_once_within_their_limits(
    lengths: list[int], batch_size: int, max_tokens: int
) -> None:
    ordered = np.sort(np.asarray(lengths, dtype=np.int64))[::-1]
    parts = list(length_batches(ordered, batch_size, max_tokens))
    assert [i for part in parts for i in range(len(ordered))[part]] == list(range(len(ordered)))
    for part in parts:
        rows = ordered[part]
        assert 1 <= len(rows) <= batch_size
        assert len(rows) == 1 or len(rows) * rows[0] <= max_tokens


def test_backend_is_a_validated_setting_recorded_with_runs(
    monkeypatch: pytest.MonkeyPatch, catalogue: Catalogue
) -> None:
    assert Settings.from_env({"COMPARE_E5_BACKEND": "torch"}).e5_backend == "torch"
    assert Settings(e5_backend="onnx-fp32").as_record()["e5_backend"] == "onnx-fp32"
    with pytest.raises(SettingsError, match="COMPARE_E5_BACKEND"):
        Settings.from_env({"COMPARE_E5_BACKEND": "gpu"})
    monkeypatch.setenv("COMPARE_E5_BACKEND", "onnx-fp32")
    assert Settings().e5_backend == "onnx-fp32"
    with pytest.raises(ModelError, match="COMPARE_E5_BACKEND"):
        load_encoder(E5_SPEC, e5_backend="gpu")
    assert load_encoder(HASHING_SPEC, e5_backend="torch") is load_encoder(HASHING_SPEC)

    # documents scored on one backend are scored again on another
    calibration = default_calibration(("e5-small",), ["e5-small"])
    bank = exemplar_bank(None, catalogue)
    keys = {
        provenance.scoring_key(Settings(e5_backend=backend), catalogue, calibration, bank)
        for backend in E5_BACKENDS
    }
    assert len(keys) == len(E5_BACKENDS)


def test_threads_follow_omp_num_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert encoder_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "none")
    assert encoder_threads() == len(os.sched_getaffinity(0))
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert encoder_threads() == len(os.sched_getaffinity(0))


@pytest.mark.model
def test_use_threads_follow_omp_num_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Dask worker (OMP_NUM_THREADS=1) runs USE's matrix products on one thread."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert UniversalSentenceEncoder()._model.threads == 1


# --- the built export -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def onnx_dir() -> Path:
    return onnxbuild.ensure_e5_onnx()


@pytest.fixture(scope="module")
def torch_e5(onnx_dir: Path) -> SentenceTransformerEncoder:
    encoder = load_encoder(E5_SPEC, e5_backend="torch")
    assert isinstance(encoder, SentenceTransformerEncoder)
    return encoder


def _link(path: Path, link: Path) -> None:
    """A hard link (a symlink across devices): a test replaces a linked file, never writes to it."""
    link.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(path, link)
    except OSError:
        link.symlink_to(path)


@pytest.mark.model
def test_export_is_verified_against_torch(onnx_dir: Path, torch_e5: SentenceTransformerEncoder) -> None:
    record = onnxbuild.onnx_manifest(onnx_dir, modelbuild.e5_model_dir())
    assert record is not None and record["source_model_id"] == torch_e5.model_id
    for precision, entry in record["precisions"].items():
        assert entry["min_cosine"] >= onnxbuild.MIN_COSINE[precision] == entry["threshold"]
        assert entry["sha256"] == modelbuild._sha256(onnx_dir / entry["file"])
    fixed = len(onnxbuild.verification_texts(Path("/nonexistent"))["passage"])
    assert record["verification_texts"]["passage"] >= fixed + 200  # the corpus clauses too

    # the check itself: passes on the real files, names the text when a file falls short
    texts = {"query": ODD[:2], "passage": ODD}
    reference = {role: torch_e5.encode(batch, role=role) for role, batch in texts.items()}
    figures = onnxbuild._verify(onnx_dir, "int8", texts, reference)
    assert figures["min_cosine"] >= onnxbuild.MIN_COSINE["int8"]
    shuffled = {role: vectors[::-1] for role, vectors in reference.items()}
    with pytest.raises(ModelError, match="disagrees with the torch model: cosine"):
        onnxbuild._verify(onnx_dir, "fp32", texts, shuffled)


@pytest.mark.model
@pytest.mark.parametrize("backend", ["onnx-fp32", "onnx-int8"])
def test_onnx_vectors_are_within_the_threshold_of_torch(
    backend: str, onnx_dir: Path, torch_e5: SentenceTransformerEncoder
) -> None:
    encoder = load_encoder(E5_SPEC, e5_backend=backend)
    assert isinstance(encoder, OnnxE5Encoder) and encoder.dim == torch_e5.dim == 384
    for role in ("query", "passage"):
        ours = encoder.encode(ODD, role=role)
        assert ours.dtype == np.float32 and ours.shape == (len(ODD), 384)
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=UNIT_TOLERANCE)
        cosines = np.sum(ours * torch_e5.encode(ODD, role=role), axis=1)
        assert cosines.min() >= onnxbuild.MIN_COSINE[encoder.precision], (role, cosines)
    assert encoder.encode([], role="query").shape == (0, 384)
    query, passage = encoder.encode(ODD[:1], role="query"), encoder.encode(ODD[:1], role="passage")
    assert float(query[0] @ passage[0]) < 1 - UNIT_TOLERANCE  # the prompt is applied


@pytest.mark.model
def test_onnx_tokens_are_the_torch_paths(onnx_dir: Path, torch_e5: SentenceTransformerEncoder) -> None:
    tokenizer = torch_e5._model.tokenizer
    encoder = load_encoder(E5_SPEC, e5_backend="onnx-fp32")
    assert isinstance(encoder, OnnxE5Encoder)
    for text in ODD:
        expected = tokenizer("passage: " + text, truncation=True, max_length=512)["input_ids"]
        assert encoder._tokenizer.encode("passage: " + text).ids == expected


@pytest.mark.model
@pytest.mark.parametrize("backend", ["onnx-fp32", "onnx-int8"])
def test_a_text_gets_its_vector_whatever_its_batch(backend: str, onnx_dir: Path) -> None:
    """Batching by length pads and reorders; a text's vector must not depend on its neighbours
    (int8 runs each text alone: its activations are quantised per call)."""
    encoder = load_encoder(E5_SPEC, e5_backend=backend)
    together = encoder.encode(ODD, role="passage")
    alone = np.concatenate([encoder.encode([text], role="passage") for text in ODD])
    np.testing.assert_allclose(together, alone, atol=1e-5)


@pytest.mark.model
@pytest.mark.parametrize("backend", ["onnx-fp32", "onnx-int8"])
def test_parallel_batches_give_the_vectors_of_one_thread(backend: str, onnx_dir: Path) -> None:
    """Several threads run batches at once (one operator thread each): every vector is the
    one a single thread computes, bit for bit, in the order of the texts."""
    precision = ONNX_BACKENDS[backend]
    # every odd text but the one beyond 512 tokens (float32 on one thread takes seconds on it)
    texts = [t for t in ODD if len(t) < 512] + [
        f"第{i}条：推进“互联网+”{'现代农业' * (i % 7 + 1)}。" for i in range(24)
    ]
    one = OnnxE5Encoder(onnx_dir, precision, threads=1)
    two = OnnxE5Encoder(onnx_dir, precision, threads=2)
    assert (one.workers, two.workers) == (1, 2)
    for role in ("query", "passage"):
        np.testing.assert_array_equal(two.encode(texts, role=role), one.encode(texts, role=role))


@pytest.mark.model
def test_a_failing_batch_fails_the_parallel_encode(onnx_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = OnnxE5Encoder(onnx_dir, "int8", threads=2)

    def broken(*args: object) -> list[np.ndarray]:
        raise RuntimeError("onnx run failed")

    encoder.encode(ODD, role="query")  # both sessions made
    assert len(encoder._sessions) == 2
    monkeypatch.setattr(encoder._sessions[1], "run", broken)
    with pytest.raises(RuntimeError, match="onnx run failed"):
        encoder.encode(ODD, role="query")
    assert encoder._free.qsize() == 2  # every session is back for the next call


@pytest.mark.model
def test_model_ids_differ_per_backend_and_precision(onnx_dir: Path, tmp_path: Path) -> None:
    ids = {backend: load_encoder(E5_SPEC, e5_backend=backend).model_id for backend in E5_BACKENDS}
    assert len(set(ids.values())) == len(E5_BACKENDS)
    assert ids["onnx-fp32"].startswith(ids["torch"] + "-onnx-fp32-")
    assert ids["onnx-int8"].startswith(ids["torch"] + "-onnx-int8-")
    folders = {EmbeddingCache.open(tmp_path, model_id, 384).folder for model_id in ids.values()}
    assert len(folders) == len(E5_BACKENDS)


@pytest.mark.model
def test_export_is_rebuilt_only_when_missing_or_stale(
    onnx_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[Path] = []

    def fake_build(source_dir: Path, target_dir: Path) -> Path:
        builds.append(target_dir)
        return target_dir

    monkeypatch.setattr(onnxbuild, "build_e5_onnx", fake_build)
    source = modelbuild.e5_model_dir()
    cache = tmp_path / "cache"
    for folder, linked in (
        (onnx_dir, onnxbuild.e5_onnx_dir(cache)),
        (source, modelbuild.e5_model_dir(cache)),
    ):
        for path in folder.rglob("*"):
            if path.is_file():
                _link(path, linked / path.relative_to(folder))
    assert onnxbuild.ensure_e5_onnx(cache) == onnxbuild.e5_onnx_dir(cache) and builds == []

    # another ONNX Runtime: the export was verified with the old one
    manifest = onnxbuild.e5_onnx_dir(cache) / modelbuild.MANIFEST_FILE
    record = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.unlink()
    manifest.write_text(json.dumps({**record, "versions": {"onnxruntime": "0.0"}}), encoding="utf-8")
    onnxbuild.ensure_e5_onnx(cache)
    assert len(builds) == 1

    # the model folder was rebuilt since: its manifest changed
    manifest.unlink()
    manifest.write_text(json.dumps(record), encoding="utf-8")
    assert onnxbuild.onnx_manifest(onnxbuild.e5_onnx_dir(cache), modelbuild.e5_model_dir(cache)) is not None
    source_manifest = modelbuild.e5_model_dir(cache) / modelbuild.MANIFEST_FILE
    source_record = json.loads(source_manifest.read_text(encoding="utf-8"))
    source_manifest.unlink()
    source_manifest.write_text(json.dumps({**source_record, "built_at": "later"}), encoding="utf-8")
    onnxbuild.ensure_e5_onnx(cache)
    assert len(builds) == 2

    # a file cut short
    source_manifest.unlink()
    source_manifest.write_text(json.dumps(source_record, indent=2) + "\n", encoding="utf-8")
    assert onnxbuild.onnx_manifest(onnxbuild.e5_onnx_dir(cache), modelbuild.e5_model_dir(cache)) is not None
    tokenizer = onnxbuild.e5_onnx_dir(cache) / onnxbuild.TOKENIZER_FILE
    tokenizer.unlink()
    tokenizer.write_text("{}", encoding="utf-8")
    onnxbuild.ensure_e5_onnx(cache)
    assert len(builds) == 3
