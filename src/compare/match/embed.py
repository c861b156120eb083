"""The embedding stage: texts to unit vectors, through a cache keyed by model id and text hash.

A rerun embeds only text it has not seen with that model. The cache is a folder of Parquet
files per model (``<cache_dir>/embeddings/<model>/part-*.parquet``), appended to, never rewritten.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from compare.match.encoders import Encoder

Role = Literal["query", "passage"]
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def text_key(text: str, role: Role) -> str:
    """The cache key of a text as embedded in a role."""
    return hashlib.sha1(f"{role}\x00{text}".encode()).hexdigest()


@dataclass
class EmbeddingCache:
    """Vectors by text key for one model, loaded from and appended to a Parquet folder."""

    folder: Path | None
    dim: int
    vectors: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def open(cls, root: Path | None, model_id: str, dim: int) -> EmbeddingCache:
        folder = None if root is None else root / "embeddings" / _UNSAFE.sub("_", model_id)
        cache = cls(folder=folder, dim=dim)
        if folder is not None and folder.is_dir():
            for part in sorted(folder.glob("part-*.parquet")):
                table = pq.read_table(part)
                keys = table.column("key").to_pylist()
                matrix = np.asarray(table.column("vector").to_pylist(), dtype=np.float32)
                if matrix.ndim == 2 and matrix.shape[1] == dim:
                    cache.vectors.update(zip(keys, matrix, strict=True))
        return cache

    def add(self, keys: Sequence[str], matrix: np.ndarray) -> None:
        if not keys:
            return
        self.vectors.update(zip(keys, matrix, strict=True))
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        table = pa.table({"key": list(keys), "vector": [row.tolist() for row in matrix]})
        tmp = self.folder / f".part-{uuid.uuid4().hex}.tmp"
        pq.write_table(table, tmp)
        tmp.rename(self.folder / f"part-{uuid.uuid4().hex}.parquet")


@dataclass
class EmbeddingStats:
    """What one call of ``embeddings`` did."""

    requested: int = 0
    embedded: int = 0


def embeddings(
    encoder: Encoder,
    texts: Sequence[str],
    *,
    role: Role,
    cache: EmbeddingCache,
    stats: EmbeddingStats | None = None,
) -> np.ndarray:
    """Unit vectors for ``texts`` (rows in order); only texts missing from the cache are encoded."""
    keys = [text_key(t, role) for t in texts]
    missing: dict[str, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if key not in cache.vectors and key not in missing:
            missing[key] = text
    if missing:
        matrix = encoder.encode(list(missing.values()), role=role)
        cache.add(list(missing), matrix)
    if stats is not None:
        stats.requested += len(texts)
        stats.embedded += len(missing)
    if not texts:
        return np.zeros((0, cache.dim), dtype=np.float32)
    return np.stack([cache.vectors[k] for k in keys]).astype(np.float32, copy=False)
