"""Embedding ahead: each parsed document is embedded while the next parses, with every model
loaded so far; a model that loads late catches up, and one that fails leaves scoring to it."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from compare.ingest.parse import parse_document
from compare.match.embed import EmbeddingCache, text_key
from compare.match.encoders import HashingEncoder
from compare.match.scorer import LoadedModel
from compare.match.scoring import UNSCORED_KINDS, clause_query
from compare.records import ParsedDocument
from compare.run import pipeline

#: three of the quickest sample plans to parse
SAMPLES = [
    Path("corpora/provincial") / f"{name}.pdf"
    for name in ("chengdu-2016-12", "guizhou-2015-35", "ningbo-2016-29")
]
WAIT_S = 60


@pytest.fixture(scope="module")
def docs() -> list[ParsedDocument]:
    parsed = [parse_document(path) for path in SAMPLES]
    assert all(d.ok for d in parsed)
    return parsed


def _queries(doc: ParsedDocument) -> set[str]:
    return {text_key(clause_query(c), "query") for c in doc.clauses if c.kind not in UNSCORED_KINDS}


def _requested(docs: list[ParsedDocument]) -> int:
    return sum(1 for d in docs for c in d.clauses if c.kind not in UNSCORED_KINDS)


def _ahead(
    monkeypatch: pytest.MonkeyPatch, load: Any, models: tuple[str, ...] = ("fast", "slow")
) -> pipeline.EmbedAhead:
    monkeypatch.setattr(pipeline.LoadedModel, "load", staticmethod(load))
    planned: Any = SimpleNamespace(settings=SimpleNamespace(models=models))
    return pipeline.EmbedAhead(planned)


def _model(dim: int) -> LoadedModel:
    return LoadedModel(HashingEncoder(dim), EmbeddingCache(folder=None, dim=dim))


def test_a_model_that_loads_late_catches_up_on_the_documents_it_missed(
    monkeypatch: pytest.MonkeyPatch, docs: list[ParsedDocument]
) -> None:
    release = threading.Event()
    embedded_by_fast = threading.Event()
    fast = _model(64)
    original = fast.embed_clauses

    def counting(doc: ParsedDocument) -> Any:
        done = original(doc)
        embedded_by_fast.set()
        return done

    object.__setattr__(fast, "embed_clauses", counting)

    def load(settings: Any, spec: str) -> LoadedModel:
        if spec == "slow":
            assert release.wait(WAIT_S)
            return _model(32)
        return fast

    ahead = _ahead(monkeypatch, load)
    for doc in docs:
        ahead(doc)
    # the fast model embeds before the slow one has loaded
    assert embedded_by_fast.wait(WAIT_S)
    release.set()
    stats = ahead.finish()
    wanted = set().union(*(_queries(d) for d in docs))
    assert set(ahead._models) == {"fast", "slow"}
    for model in ahead._models.values():
        assert set(model.cache.vectors) == wanted
    assert (stats.embedded, stats.requested) == (2 * len(wanted), 2 * _requested(docs))


def test_a_model_that_fails_to_load_is_left_to_scoring(
    monkeypatch: pytest.MonkeyPatch, docs: list[ParsedDocument]
) -> None:
    def load(settings: Any, spec: str) -> LoadedModel:
        if spec == "slow":
            raise RuntimeError("no such model")
        return _model(64)

    ahead = _ahead(monkeypatch, load)
    for doc in docs:
        ahead(doc)
    stats = ahead.finish()
    assert set(ahead._models) == {"fast"}
    wanted = set().union(*(_queries(d) for d in docs))
    assert (stats.embedded, stats.requested) == (len(wanted), _requested(docs))


def test_a_document_whose_embedding_fails_does_not_stop_the_others(
    monkeypatch: pytest.MonkeyPatch, docs: list[ParsedDocument]
) -> None:
    bad = docs[1]
    model = _model(64)
    original = model.embed_clauses

    def failing(doc: ParsedDocument) -> Any:
        if doc.doc_id == bad.doc_id:
            raise ValueError("odd text")
        return original(doc)

    object.__setattr__(model, "embed_clauses", failing)
    ahead = _ahead(monkeypatch, lambda settings, spec: model if spec == "fast" else _model(32))
    for doc in docs:
        ahead(doc)
    ahead.finish()
    keys = set(ahead._models["fast"].cache.vectors)
    assert _queries(docs[0]) | _queries(docs[2]) <= keys
    assert not (_queries(bad) - _queries(docs[0]) - _queries(docs[2])) & keys


def test_a_late_model_embeds_the_documents_in_their_order(
    monkeypatch: pytest.MonkeyPatch, docs: list[ParsedDocument]
) -> None:
    """Documents queued before the late model loaded, but not yet embedded when it did, wait for
    its catch-up: the model embeds every document in order (USE's last bits depend on it)."""
    loaded, unblock = threading.Event(), threading.Event()
    order: list[str] = []
    fast, slow = _model(64), _model(32)
    fast_embed, slow_embed = fast.embed_clauses, slow.embed_clauses

    def blocked(doc: ParsedDocument) -> Any:
        assert unblock.wait(WAIT_S)
        return fast_embed(doc)

    def recorded(doc: ParsedDocument) -> Any:
        order.append(doc.doc_id)
        return slow_embed(doc)

    object.__setattr__(fast, "embed_clauses", blocked)
    object.__setattr__(slow, "embed_clauses", recorded)

    def load(settings: Any, spec: str) -> LoadedModel:
        if spec == "slow":
            assert loaded.wait(WAIT_S)
            return slow
        return fast

    ahead = _ahead(monkeypatch, load, ("slow", "fast"))
    for doc in docs:  # the slow model misses the first document; the embedder is held on its fast one
        ahead(doc)
    loaded.set()
    while "slow" not in ahead._models:
        threading.Event().wait(0.01)
    unblock.set()
    ahead.finish()
    assert order == [d.doc_id for d in docs]
