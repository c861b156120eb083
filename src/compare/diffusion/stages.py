"""The pipeline stages this package uses, imported in one place.

Reuse detection reads what the run already made: parsed documents and their clauses, the
normalized text, the clause vectors in the embedding cache, the catalogue. When a stage module
moves, this is the one file to change.
"""

from __future__ import annotations

from pathlib import Path

from compare.ingest.normalize import for_matching
from compare.ingest.numbering import marker_of
from compare.match.catalogue import Catalogue, load_catalogue
from compare.match.embed import EmbeddingCache, embeddings
from compare.match.encoders import Encoder, HashingEncoder, load_encoder
from compare.match.scoring import MATCHABLE_KINDS, clause_query
from compare.records import Clause, ClauseKind, ParsedDocument

__all__ = [
    "MATCHABLE_KINDS",
    "Catalogue",
    "Clause",
    "ClauseKind",
    "EmbeddingCache",
    "Encoder",
    "HashingEncoder",
    "ParsedDocument",
    "clause_query",
    "embeddings",
    "for_matching",
    "load_catalogue",
    "load_encoder",
    "marker_of",
    "parse_document",
]


def parse_document(path: Path) -> ParsedDocument:
    """``compare.ingest.parse.parse_document`` (imported when first needed: it brings the whole pipeline)."""
    from compare.ingest.parse import parse_document as parse

    return parse(path)
