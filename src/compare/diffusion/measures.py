"""What the links say about documents and measures: similarity, localization, homogeneity.

- ``document_similarity``: for each ordered pair of documents joined by a link, the share of A's
  compared clauses reused from (or shared with) B, by kind, and the cosine of the two documents'
  mean clause vectors.
- ``localization``: per document, each compared clause in one of four exclusive classes — reused
  from the national text, reused from a document of its own province (a city from its province's
  plan), reused from another province's document, or original — with their shares, plus the share
  of clauses beyond the national plan (matching no national measure: ``clause_decisions`` with
  decision ``none``, as the ``beyond_national_plan`` view marks them), which cuts across the four.
  A clause counts as reused from a document that is earlier, or undated or of the same date (a
  link it is the *source* of, to a later document, leaves it original).
- ``homogeneity``: per national measure, how alike the evidence clauses of different provinces
  are in wording: the mean phrase similarity (Dice coefficient of the 4-character shingles of
  their reuse text, ``compare.diffusion.text.phrase_similarity``) over pairs of evidence clauses
  from different provinces, with their mean cosine beside it, and the most and least alike pair.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from compare.diffusion.index import KINDS, NATIONAL_DOC_ID, PARAPHRASE, VERBATIM, ReuseLink
from compare.diffusion.text import phrase_similarity, reuse_text

ORIGINAL = "original"
REUSED_NATIONAL = "reused_national"
REUSED_OWN_PROVINCE = "reused_own_province"
REUSED_OTHER_PROVINCE = "reused_other_province"
#: The exclusive classes of a compared clause, in order of precedence.
CLASSES = (REUSED_NATIONAL, REUSED_OWN_PROVINCE, REUSED_OTHER_PROVINCE, ORIGINAL)
#: A measure needs evidence from at least this many provinces to have a homogeneity index.
MIN_PROVINCES = 2


@dataclass(frozen=True)
class DocumentInfo:
    """What the measures need to know of a document."""

    doc_id: str
    province: str | None
    n_clauses: int
    clause_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class DocumentSimilarity:
    doc_id: str
    other_doc_id: str
    n_clauses: int
    verbatim_clauses: int
    paraphrase_clauses: int
    verbatim_share: float
    paraphrase_share: float
    reused_share: float
    semantic_similarity: float | None
    earlier: str | None


@dataclass(frozen=True)
class Localization:
    doc_id: str
    n_clauses: int
    original: int
    reused_own_province: int
    reused_other_province: int
    reused_national: int | None
    beyond_national_plan: int | None
    national_text: str

    def share(self, count: int | None) -> float | None:
        return None if count is None or self.n_clauses == 0 else round(count / self.n_clauses, 4)


@dataclass(frozen=True)
class Homogeneity:
    measure_id: str
    n_documents: int
    n_provinces: int
    n_pairs: int
    homogeneity: float
    semantic_similarity: float | None
    most_alike: tuple[str, str]
    least_alike: tuple[str, str]


def _other(link: ReuseLink, doc_id: str) -> tuple[str, str, str]:
    """(other doc, own clause, other clause) of a link seen from ``doc_id``."""
    if link.source_doc_id == doc_id:
        return link.target_doc_id, link.source_clause_id, link.target_clause_id
    return link.source_doc_id, link.target_clause_id, link.source_clause_id


def document_similarity(
    links: Sequence[ReuseLink],
    docs: Mapping[str, DocumentInfo],
    centroids: Mapping[str, np.ndarray] | None = None,
) -> list[DocumentSimilarity]:
    """One row per ordered pair of documents joined by at least one link."""
    reused: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: {k: set() for k in KINDS})
    earlier: dict[frozenset[str], str | None] = {}
    for link in links:
        for doc_id in (link.source_doc_id, link.target_doc_id):
            other, own, _ = _other(link, doc_id)
            reused[(doc_id, other)][link.kind].add(own)
        earlier[frozenset((link.source_doc_id, link.target_doc_id))] = (
            link.source_doc_id if link.directed else None
        )
    rows = []
    for (doc_id, other), kinds in sorted(reused.items()):
        info = docs.get(doc_id)
        n = info.n_clauses if info else 0
        semantic = None
        if centroids is not None and doc_id in centroids and other in centroids:
            semantic = round(float(centroids[doc_id] @ centroids[other]), 4)
        verbatim, paraphrase = kinds[VERBATIM], kinds[PARAPHRASE] - kinds[VERBATIM]
        rows.append(
            DocumentSimilarity(
                doc_id, other, n, len(verbatim), len(paraphrase),
                round(len(verbatim) / n, 4) if n else 0.0,
                round(len(paraphrase) / n, 4) if n else 0.0,
                round(len(verbatim | paraphrase) / n, 4) if n else 0.0,
                semantic, earlier[frozenset((doc_id, other))],
            )
        )  # fmt: skip
    return rows


def localization(
    links: Sequence[ReuseLink],
    docs: Mapping[str, DocumentInfo],
    national_text: str,
    beyond: Mapping[str, bool] | None = None,
) -> list[Localization]:
    """Per document, its compared clauses by class (see the module docstring).

    ``national_text`` is ``measured`` or why not (``compare.diffusion.documents.national_status``):
    when not measured, ``reused_national`` is None. ``beyond``: clause id -> True when the clause
    matches no national measure; None leaves ``beyond_national_plan`` None.
    """
    measured = national_text == "measured"
    by_doc: dict[str, dict[str, set[str]]] = defaultdict(lambda: {c: set() for c in CLASSES[:-1]})
    for link in links:
        if link.directed:
            sides = [(link.target_doc_id, link.source_doc_id, link.target_clause_id)]
        else:
            sides = [(link.source_doc_id, link.target_doc_id, link.source_clause_id),
                     (link.target_doc_id, link.source_doc_id, link.target_clause_id)]  # fmt: skip
        for doc_id, other, clause in sides:
            if other == NATIONAL_DOC_ID:
                by_doc[doc_id][REUSED_NATIONAL].add(clause)
            elif (
                docs.get(doc_id)
                and docs.get(other)
                and docs[doc_id].province
                and docs[doc_id].province == docs[other].province
            ):
                by_doc[doc_id][REUSED_OWN_PROVINCE].add(clause)
            else:
                by_doc[doc_id][REUSED_OTHER_PROVINCE].add(clause)
    rows = []
    for doc_id, info in sorted(docs.items()):
        if doc_id == NATIONAL_DOC_ID:
            continue
        found = by_doc[doc_id]
        taken: set[str] = set()
        counts = {}
        for name in CLASSES[:-1]:
            counts[name] = len(found[name] - taken)
            taken |= found[name]
        n_beyond = None
        if beyond is not None:
            n_beyond = sum(1 for c in info.clause_ids if beyond.get(c, False))
        rows.append(
            Localization(
                doc_id, info.n_clauses, info.n_clauses - len(taken), counts[REUSED_OWN_PROVINCE],
                counts[REUSED_OTHER_PROVINCE], counts[REUSED_NATIONAL] if measured else None, n_beyond, national_text,
            )
        )  # fmt: skip
    return rows


def homogeneity(
    evidence: Mapping[str, Mapping[str, str]],
    provinces: Mapping[str, str | None],
    texts: Mapping[str, str],
    vectors: Mapping[str, np.ndarray] | None = None,
) -> list[Homogeneity]:
    """Per measure, how alike its evidence clauses are across provinces.

    ``evidence``: measure id -> {doc id: evidence clause id} (cells covered or partial);
    ``provinces``: doc id -> province; ``texts``: clause id -> text; ``vectors``: clause id -> vector.
    Pairs of documents of the same province (a city and its province) are left out: the index
    is about provinces writing alike. Measures with evidence from fewer than ``MIN_PROVINCES``
    provinces get no row.
    """
    rows = []
    for measure_id, by_doc in sorted(evidence.items()):
        docs = sorted(d for d in by_doc if provinces.get(d))
        pairs = [(a, b) for a, b in itertools.combinations(docs, 2) if provinces[a] != provinces[b]]
        if len({provinces[d] for d in docs}) < MIN_PROVINCES or not pairs:
            continue
        keyed = {d: reuse_text(texts[by_doc[d]]) for d in docs}
        wording = [(phrase_similarity(keyed[a], keyed[b]), a, b) for a, b in pairs]
        semantic = None
        if vectors is not None and all(by_doc[d] in vectors for d in docs):
            semantic = round(float(np.mean([vectors[by_doc[a]] @ vectors[by_doc[b]] for a, b in pairs])), 4)
        most = max(wording)
        least = min(wording)
        rows.append(
            Homogeneity(
                measure_id, len(docs), len({provinces[d] for d in docs}), len(pairs),
                round(float(np.mean([w for w, _, _ in wording])), 4), semantic,
                (by_doc[most[1]], by_doc[most[2]]), (by_doc[least[1]], by_doc[least[2]]),
            )
        )  # fmt: skip
    return rows
