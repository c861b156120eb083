"""The embedding cache: a rerun with no new text embeds nothing."""

from __future__ import annotations

import numpy as np

from compare.match.embed import EmbeddingCache, EmbeddingStats, embeddings
from compare.match.encoders import HashingEncoder


class CountingEncoder(HashingEncoder):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def encode(self, texts, *, role):
        self.calls.append(len(texts))
        return super().encode(texts, role=role)


def test_only_new_text_is_embedded_and_the_cache_persists(tmp_path):
    encoder = CountingEncoder()
    cache = EmbeddingCache.open(tmp_path, encoder.model_id, encoder.dim)
    stats = EmbeddingStats()
    first = embeddings(
        encoder, ["建设农业云", "发展电子商务", "建设农业云"], role="query", cache=cache, stats=stats
    )
    assert encoder.calls == [2] and stats.embedded == 2 and stats.requested == 3
    assert np.allclose(first[0], first[2]) and np.allclose(np.linalg.norm(first, axis=1), 1.0)

    reopened = EmbeddingCache.open(tmp_path, encoder.model_id, encoder.dim)
    again = EmbeddingStats()
    second = embeddings(encoder, ["发展电子商务", "建设农业云"], role="query", cache=reopened, stats=again)
    assert encoder.calls == [2] and again.embedded == 0
    assert np.allclose(second, first[[1, 0]])


def test_roles_are_cached_apart(tmp_path):
    encoder = CountingEncoder()
    cache = EmbeddingCache.open(tmp_path, encoder.model_id, encoder.dim)
    embeddings(encoder, ["文本"], role="query", cache=cache)
    embeddings(encoder, ["文本"], role="passage", cache=cache)
    assert encoder.calls == [1, 1]


def test_empty_input(tmp_path):
    encoder = CountingEncoder()
    cache = EmbeddingCache.open(None, encoder.model_id, encoder.dim)
    assert embeddings(encoder, [], role="query", cache=cache).shape == (0, encoder.dim)
    assert encoder.calls == []
