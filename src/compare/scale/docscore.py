"""Scoring one document at a time, with the same bits wherever it runs.

``match_scorer.Scorer`` scores any batch of documents, and its arithmetic is per clause (cosines,
per-clause z-scores, a lexical vocabulary fitted on the references alone, per-document
coverage). Two things still make a clause's scores depend on its batch-mates, in the last
bits of a float32:

- a matrix product is not bitwise independent of its other rows: OpenBLAS picks kernels and
  blocking by the shape and the thread count (scoring a document alone or inside a batch
  moves its cosines by ~1e-7, its z-scores by ~1e-6);
- a transformer pads a batch to its longest text, and its matrix products change shape with it.

A ``DocumentScorer`` removes both by construction. Every document is scored on its own with
one BLAS (and torch) thread; its clauses are embedded together, never taken from another
document's embeddings; the measure passages and exemplars are embedded once (the *fixed*
vectors) and every worker uses those same vectors, read from the staging folder. A document's
rows then do not depend on the batch, the worker or the number of workers that scored it.

Memory: ``compare.match.embed.EmbeddingCache`` keeps every vector it ever loaded or made in one dict
(all stored parts are read when it opens). At 3,000 documents that is ~200,000 clause
vectors, about 0.3 GB per model per process and growing with the corpus. A DocumentScorer
keeps only the fixed vectors (~1,200 per model) and one document's clause vectors; stored
vectors are read key by key in slices, never all at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from compare.errors import WarehouseError
from compare.match import provenance
from compare.match.catalogue import Catalogue
from compare.match.embed import EmbeddingCache, Role, embeddings, text_key
from compare.match.encoders import Encoder
from compare.match.scorer import Scored, Scorer, ScoringSetup, fixed_texts, load_run_catalogue, scoring_setup
from compare.records import ParsedDocument
from compare.settings import Settings
from compare.store.plan import PlannedRun

#: Threads a document is scored with (BLAS and torch): results must not depend on the machine's core count.
SCORING_THREADS = 1
#: Rows read at a time when looking up stored vectors.
STORED_SLICE_ROWS = 4096
#: Bump when the way documents are scored or staged changes without a code change elsewhere.
FORMAT = 1
KEY_HEX = 16
FIXED_FOLDER = "fixed"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def cache_folder(root: Path, model_id: str) -> Path:
    """Where ``compare.match.embed.EmbeddingCache`` keeps the stored vectors of a model."""
    return root / "embeddings" / _UNSAFE.sub("_", model_id)


def stored_vectors(folder: Path, wanted: set[str], dim: int) -> dict[str, np.ndarray]:
    """The stored vectors of the ``wanted`` keys, read slice by slice (never the whole cache)."""
    found: dict[str, np.ndarray] = {}
    if not wanted or not folder.is_dir():
        return found
    value_set = pa.array(sorted(wanted))
    for part in sorted(folder.glob("part-*.parquet")):
        for piece in pq.ParquetFile(part).iter_batches(
            batch_size=STORED_SLICE_ROWS, columns=["key", "vector"]
        ):
            hits = piece.filter(pc.is_in(piece.column("key"), value_set=value_set))
            if hits.num_rows == 0:
                continue
            flat = pc.list_flatten(hits.column("vector")).to_numpy(zero_copy_only=False)
            if flat.size != hits.num_rows * dim:
                continue  # vectors of another dimension: not this model's
            matrix = flat.astype(np.float32).reshape(hits.num_rows, dim)
            found.update(zip(hits.column("key").to_pylist(), matrix, strict=True))
    return found


@contextmanager
def single_threaded() -> Iterator[None]:
    """BLAS and (when loaded) torch limited to ``SCORING_THREADS`` for the block."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=SCORING_THREADS):
        if torch is not None:
            torch.set_num_threads(SCORING_THREADS)
        try:
            yield
        finally:
            if torch is not None and before is not None:
                torch.set_num_threads(before)


def fixed_vectors(
    encoder: Encoder, groups: Sequence[tuple[Role, list[str]]], cache_root: Path
) -> dict[str, np.ndarray]:
    """The fixed vectors of one model: from the embedding cache where stored, else embedded (and stored)."""
    folder = cache_folder(cache_root, encoder.model_id)
    cache = EmbeddingCache(folder=folder, dim=encoder.dim)
    wanted = {text_key(t, role) for role, texts in groups for t in texts}
    cache.vectors.update(stored_vectors(folder, wanted, encoder.dim))
    with single_threaded():
        for role, texts in groups:
            embeddings(encoder, texts, role=role, cache=cache)
    return {k: cache.vectors[k] for k in sorted(wanted)}


def _fixed_file(folder: Path, spec: str) -> Path:
    return folder / FIXED_FOLDER / f"{_UNSAFE.sub('_', spec)}.npz"


def write_fixed(folder: Path, spec: str, vectors: dict[str, np.ndarray]) -> Path:
    """Store one model's fixed vectors in a stage folder (atomically)."""
    path = _fixed_file(folder, spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}-{uuid.uuid4().hex}.tmp.npz")
    keys = sorted(vectors)
    np.savez(tmp, keys=np.asarray(keys), vectors=np.stack([vectors[k] for k in keys]).astype(np.float32))
    os.replace(tmp, path)
    return path


def read_fixed(folder: Path, spec: str) -> dict[str, np.ndarray] | None:
    """One model's fixed vectors from a stage folder, or None when they are not there yet."""
    path = _fixed_file(folder, spec)
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        return dict(zip(data["keys"].tolist(), data["vectors"], strict=True))


@dataclass
class DocumentScorer:
    """A ``match_scorer.Scorer`` that scores one document at a time against fixed vectors.

    ``key`` names everything the rows of a document depend on besides its bytes: the scoring
    key (models, top-k, catalogue, calibration, exemplars), the model ids, the code, ``FORMAT``.
    """

    scorer: Scorer
    fixed: dict[str, dict[str, np.ndarray]]
    key: str
    folder: Path
    #: The clause vectors of the document last scored, by the first model (text key -> vector):
    #: staged with it for reuse (``compare.scale.staging.write_vectors``).
    clause_vectors: dict[str, np.ndarray] = field(default_factory=dict)

    def score(self, doc: ParsedDocument) -> Scored:
        """The document's matches, coverage cells and clause decisions (nothing for a failed document)."""
        self.clause_vectors = {}
        if not doc.ok:
            return Scored(matches=[], cells=[])
        for spec, cache in self.scorer.caches.items():
            cache.vectors = dict(self.fixed[spec])
        try:
            with single_threaded():
                return self.scorer.score([doc])
        finally:
            first = next(iter(self.scorer.caches))
            made = self.scorer.caches[first].vectors
            self.clause_vectors = {k: v for k, v in made.items() if k not in self.fixed[first]}
            for cache in self.scorer.caches.values():
                cache.vectors = {}

    @property
    def model_id(self) -> str:
        """The first model's id: the encoder of ``clause_vectors`` (and of reuse)."""
        return next(iter(self.scorer.encoders.values())).model_id


def _configuration(settings: Settings, catalogue: Catalogue, setup: ScoringSetup) -> tuple[Scorer, str]:
    """The scorer (with an empty embedding cache: a document's vectors are its own) and its key."""
    scorer = Scorer.from_settings(settings, catalogue, setup, cached=False)
    blob = {
        "format": FORMAT,
        "scoring_key": setup.key,
        "method": scorer.method,
        "source": provenance.staged_fingerprint(),
    }
    key = hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:KEY_HEX]
    return scorer, key


#: The scorer of this process (a worker loads its models once, for every batch it is given).
_PROCESS_SCORER: dict[str, DocumentScorer] = {}


def document_scorer(settings: Settings, staging: Path, planned: PlannedRun | None = None) -> DocumentScorer:
    """This process's scorer for the settings (built once per process).

    ``planned``: the run's plan, when this process made it: its catalogue, exemplar bank and
    calibration are used rather than read again. Elsewhere (a worker) the catalogue is loaded
    here rather than passed in: a task that carries it costs the orchestrator and the cluster
    memory per task, for the whole run. Its stage folder is ``staging/<key>``; the fixed vectors
    are read from there, or embedded (from the embedding cache where stored) and written there
    by the first process that needs them.
    """
    ident = json.dumps([settings.as_record(), str(staging)], sort_keys=True)
    if ident in _PROCESS_SCORER:
        return _PROCESS_SCORER[ident]
    if planned is not None and planned.settings.as_record() == settings.as_record():
        catalogue, setup = planned.catalogue, planned.setup
    else:
        catalogue = load_run_catalogue(settings)
        setup = scoring_setup(settings, catalogue)
    scorer, key = _configuration(settings, catalogue, setup)
    folder = staging / key
    groups = fixed_texts(catalogue, scorer.bank)
    expected = {text_key(t, role) for role, texts in groups for t in texts}
    fixed: dict[str, dict[str, np.ndarray]] = {}
    for spec, encoder in scorer.encoders.items():
        if read_fixed(folder, spec) is None:
            write_fixed(folder, spec, fixed_vectors(encoder, groups, settings.cache_dir))
        stored = read_fixed(folder, spec)  # what every process uses, whoever wrote it
        if stored is None or set(stored) != expected:
            raise WarehouseError(
                f"{_fixed_file(folder, spec)}: the fixed vectors do not match the measures and exemplars of this "
                "configuration; delete the stage folder and run again"
            )
        fixed[spec] = stored
    _PROCESS_SCORER.clear()  # one configuration per process: a new one frees the old models' vectors
    _PROCESS_SCORER[ident] = DocumentScorer(scorer, fixed, key, folder)
    return _PROCESS_SCORER[ident]
