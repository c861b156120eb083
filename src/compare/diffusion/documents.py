"""Reuse documents from what a run has: parsed documents, their clause vectors, the catalogue.

Clause vectors are the run's own: each clause embedded as the matcher embeds it
(``compare.match.scoring.clause_query``, role ``query``) through the run's embedding cache, so a run that
has scored a document has already embedded everything reuse needs (cache hits, no model call).

The national plan is indexed as one more document (``national``, issued 2015-07-01) when the
catalogue has the official Chinese text of every measure (``corpora/national/`` holds the
Chinese PDF, ``compare.match.national_zh``); otherwise reuse of the national text is not measured,
and ``national_status`` says why.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from compare.diffusion.index import (
    NATIONAL_DOC_ID,
    NATIONAL_ISSUE_DATE,
    ReuseClause,
    ReuseDocument,
    issue_date,
)
from compare.diffusion.stages import (
    MATCHABLE_KINDS,
    Catalogue,
    Clause,
    EmbeddingCache,
    Encoder,
    ParsedDocument,
    clause_query,
    embeddings,
)

#: The clause kinds compared for reuse: the items that can state a measure (headings, goals,
#: principles and boilerplate recur by genre, not by copying).
REUSE_KINDS = frozenset(MATCHABLE_KINDS)
NATIONAL_NAME = "国发〔2015〕40号"


def reusable(doc: ParsedDocument) -> list[Clause]:
    """The clauses of a document that reuse compares."""
    return [c for c in doc.clauses if c.kind in REUSE_KINDS] if doc.ok else []


def clause_vectors(clauses: Sequence[Clause], encoder: Encoder, cache: EmbeddingCache) -> np.ndarray:
    """The run's vectors of ``clauses`` (from the cache; only texts it lacks are encoded)."""
    return embeddings(encoder, [clause_query(c) for c in clauses], role="query", cache=cache)


def reuse_document(
    doc: ParsedDocument, vectors: np.ndarray | None = None, clauses: Sequence[Clause] | None = None
) -> ReuseDocument:
    """``doc`` as the reuse index takes it; ``vectors`` are the rows of ``clauses`` (default: ``reusable(doc)``)."""
    chosen = list(clauses) if clauses is not None else reusable(doc)
    matrix = vectors if vectors is not None else np.zeros((len(chosen), 0), dtype=np.float32)
    return ReuseDocument(
        doc_id=doc.doc_id,
        name=doc.file_name,
        clauses=tuple(ReuseClause(c.clause_id, c.doc_id, c.text) for c in chosen),
        vectors=matrix,
        province=doc.meta.province,
        level=doc.meta.level,
        issue_date=issue_date(doc.meta.issue_date),
    )


def reuse_documents(
    docs: Sequence[ParsedDocument], encoder: Encoder, cache: EmbeddingCache
) -> list[ReuseDocument]:
    """Every readable document with its reusable clauses and their vectors."""
    result = []
    for doc in docs:
        if not doc.ok:
            continue
        clauses = reusable(doc)
        result.append(reuse_document(doc, clause_vectors(clauses, encoder, cache), clauses))
    return result


def national_status(catalogue: Catalogue) -> str:
    """``measured``, or why reuse of the national text is not measured."""
    have = sum(1 for m in catalogue.measures if m.text_zh)
    if have == len(catalogue.measures):
        return "measured"
    return (
        f"not measured: the catalogue has the official Chinese text of {have} of {len(catalogue.measures)} "
        "national measures; put the Chinese 国发〔2015〕40号 PDF into corpora/national/ to measure it"
    )


def national_document(catalogue: Catalogue, encoder: Encoder, cache: EmbeddingCache) -> ReuseDocument | None:
    """The national plan's measures as a document, or None when its Chinese text is incomplete."""
    if national_status(catalogue) != "measured":
        return None
    texts = [m.text_zh or "" for m in catalogue.measures]
    vectors = embeddings(encoder, texts, role="query", cache=cache)
    clauses = tuple(
        ReuseClause(f"{NATIONAL_DOC_ID}:{m.measure_id}", NATIONAL_DOC_ID, t)
        for m, t in zip(catalogue.measures, texts, strict=True)
    )
    return ReuseDocument(
        NATIONAL_DOC_ID, NATIONAL_NAME, clauses, vectors, None, "national", NATIONAL_ISSUE_DATE
    )
