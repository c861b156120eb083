"""The one scorer factory (``Scorer.from_settings``) and what a run scores with (``scoring_setup``).

``Scorer.score`` embeds clauses and measures, scores every clause against every measure and decides
coverage; ``Scorer.isolated`` finds the document a failing batch fails on, and scores the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from compare.errors import CatalogueError
from compare.ingest.parse import Step, failure_message, in_step, parse_document
from compare.ingest.segment import full_text
from compare.match import provenance, relevance
from compare.match.calibration import Calibration, load_calibration
from compare.match.catalogue import Catalogue, load_catalogue
from compare.match.embed import EmbeddingCache, EmbeddingStats, Role, embeddings
from compare.match.encoders import Encoder, load_encoder
from compare.match.exemplars import EXEMPLAR_SUFFIX, ExemplarBank, exemplar_bank, exemplar_channels
from compare.match.national_zh import chinese_texts, national_pdfs, with_chinese
from compare.match.relevance import Verdict
from compare.match.scoring import (
    ABSOLUTE_SUFFIX,
    LEXICAL,
    UNSCORED_KINDS,
    clause_query,
    coverage,
    decisions,
    lexical,
    lexical_cosines,
    measure_passages,
    row_z,
    top_matches,
)
from compare.records import Clause, ClauseDecision, CoverageCell, Match, ParsedDocument
from compare.settings import Settings


@dataclass
class Scored:
    """The scorer's output for a batch of documents. ``failed``: doc_id -> message of each
    document whose scoring raised (it has no rows here; ``publish`` records it as failed)."""

    matches: list[Match]
    cells: list[CoverageCell]
    decisions: list[ClauseDecision] = field(default_factory=list)
    embedding: EmbeddingStats = field(default_factory=EmbeddingStats)
    failed: dict[str, str] = field(default_factory=dict)
    #: doc_id -> what the document is (``compare.match.relevance``).
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    #: The scorer's method (``Scorer.method``), set by ``score_documents``; None when nothing was scored.
    method: str | None = None


def merged(parts: Sequence[Scored]) -> Scored:
    """Several documents' ``Scored`` as one."""
    return Scored(
        matches=[m for part in parts for m in part.matches],
        cells=[c for part in parts for c in part.cells],
        decisions=[d for part in parts for d in part.decisions],
        embedding=EmbeddingStats(
            requested=sum(part.embedding.requested for part in parts),
            embedded=sum(part.embedding.embedded for part in parts),
        ),
        failed={k: v for part in parts for k, v in part.failed.items()},
        verdicts={k: v for part in parts for k, v in part.verdicts.items()},
    )


def channel_names(models: Sequence[str], catalogue: Catalogue, *, with_exemplars: bool) -> list[str]:
    """The channels a scorer produces, in order."""
    exemplar = [EXEMPLAR_SUFFIX, EXEMPLAR_SUFFIX + ABSOLUTE_SUFFIX] if with_exemplars else []
    suffixes = [*measure_passages(catalogue), ABSOLUTE_SUFFIX, *exemplar]
    lexical_channels = [LEXICAL] + [LEXICAL + suffix for suffix in exemplar]
    return [spec + suffix for spec in models for suffix in suffixes] + lexical_channels


def fixed_texts(catalogue: Catalogue, bank: ExemplarBank) -> list[tuple[Role, list[str]]]:
    """The texts every document is compared with, grouped as the scorer embeds them."""
    groups: list[tuple[Role, list[str]]] = [
        ("passage", list(p.texts)) for p in measure_passages(catalogue).values()
    ]
    if len(bank):
        groups.append(("query", list(bank.texts)))
    return groups


@dataclass(frozen=True)
class LoadedModel:
    """One of the settings' models, loaded: its encoder and its embedding cache."""

    encoder: Encoder
    cache: EmbeddingCache

    @classmethod
    def load(cls, settings: Settings, spec: str, *, cached: bool = True) -> LoadedModel:
        """The model ``spec`` of the settings; ``cached``: with the embedding cache of
        ``settings.cache_dir`` (every vector stored there, loaded); without it, an empty one."""
        encoder = load_encoder(spec, settings.cache_dir, e5_backend=settings.e5_backend)
        cache = (
            EmbeddingCache.open(settings.cache_dir, encoder.model_id, encoder.dim)
            if cached
            else EmbeddingCache(folder=None, dim=encoder.dim)
        )
        return cls(encoder, cache)

    def embed_clauses(self, doc: ParsedDocument) -> EmbeddingStats:
        """Embed one parsed document's clauses into the cache now, exactly as ``Scorer.score``
        would embed them, so that scoring finds them there: what lets a run embed one document
        while it parses the next (``compare.run.pipeline.EmbedAhead``)."""
        stats = EmbeddingStats()
        if doc.ok:
            queries = [clause_query(c) for c in doc.clauses if c.kind not in UNSCORED_KINDS]
            embeddings(self.encoder, queries, role="query", cache=self.cache, stats=stats)
        return stats


@dataclass
class Scorer:
    """Embeds clauses and measures, scores every clause against every measure, decides coverage."""

    catalogue: Catalogue
    encoders: dict[str, Encoder]
    caches: dict[str, EmbeddingCache]
    calibration: Calibration
    top_k: int
    bank: ExemplarBank

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        catalogue: Catalogue,
        setup: ScoringSetup | None = None,
        *,
        cached: bool = True,
        loaded: Mapping[str, LoadedModel] | None = None,
    ) -> Scorer:
        """The scorer of the settings: every scorer is made here (a run, a staging worker, the
        evaluation). ``setup``: what a plan found (``scoring_setup``), so that the exemplar bank and
        the calibration are read once per run. ``cached``: with the embedding cache of
        ``settings.cache_dir`` (every vector stored there, loaded); without it, an empty one.
        ``loaded``: models of these settings already loaded (``LoadedModel.load``), by spec."""
        setup = setup or scoring_setup(settings, catalogue)
        loaded = loaded or {}
        models = {
            spec: loaded[spec] if spec in loaded else LoadedModel.load(settings, spec, cached=cached)
            for spec in settings.models
        }
        return cls(
            catalogue=catalogue,
            encoders={spec: model.encoder for spec, model in models.items()},
            caches={spec: model.cache for spec, model in models.items()},
            calibration=setup.calibration,
            top_k=settings.top_k,
            bank=setup.bank,
        )

    @property
    def method(self) -> str:
        return "fused(" + ",".join(f"{e.model_id}" for e in self.encoders.values()) + f",{LEXICAL})"

    def channels(
        self,
        clauses: Sequence[Clause],
        stats: EmbeddingStats | None = None,
        excluded: frozenset[str] = frozenset(),
    ) -> dict[str, np.ndarray]:
        """Every channel's clause x measure scores.

        Semantic channels: per model, one per kind of measure passage (``<model>``,
        ``<model>:sent``, ``<model>:zh``) and the exemplar channel (``<model>:ex``), each
        z-normalized per clause; plus the lexical channel. Exemplars from a clause's own
        document, or from ``excluded`` documents, never count.
        """
        result = self.measure_channels(clauses, stats)
        cosines = self.exemplar_cosines(clauses)
        result.update(exemplar_channels(cosines, self.bank, [c.doc_id for c in clauses], excluded))
        return result

    def measure_channels(
        self, clauses: Sequence[Clause], stats: EmbeddingStats | None = None
    ) -> dict[str, np.ndarray]:
        """The channels that compare clauses with the national measures' own texts."""
        passages = measure_passages(self.catalogue)
        queries = [clause_query(c) for c in clauses]
        n_measures = len(self.catalogue)
        result: dict[str, np.ndarray] = {}
        for spec, encoder in self.encoders.items():
            cache = self.caches[spec]
            clause_vectors = embeddings(encoder, queries, role="query", cache=cache, stats=stats)
            for suffix, group in passages.items():
                measure_vectors = embeddings(encoder, group.texts, role="passage", cache=cache)
                scores = group.scores(clause_vectors @ measure_vectors.T, n_measures)
                result[spec + suffix] = row_z(scores)
                if suffix == "":
                    result[spec + ABSOLUTE_SUFFIX] = np.asarray(scores, dtype=np.float32)
        result[LEXICAL] = lexical([c.text_norm for c in clauses], self.catalogue)
        return result

    def exemplar_cosines(self, clauses: Sequence[Clause]) -> dict[str, np.ndarray]:
        """Per model, the cosine of every clause (as embedded for matching) with every exemplar;
        under ``lexical``, their character n-gram TF-IDF cosine (verbatim reuse between provinces)."""
        if len(self.bank) == 0:
            return {}
        queries = [clause_query(c) for c in clauses]
        result = {}
        for spec, encoder in self.encoders.items():
            cache = self.caches[spec]
            clause_vectors = embeddings(encoder, queries, role="query", cache=cache)
            exemplar_vectors = embeddings(encoder, list(self.bank.texts), role="query", cache=cache)
            result[spec] = clause_vectors @ exemplar_vectors.T
        result[LEXICAL] = lexical_cosines([c.text_norm for c in clauses], list(self.bank.texts))
        return result

    def score(self, docs: Sequence[ParsedDocument]) -> Scored:
        """The batch's matches, cells and clause decisions; an exception leaves as a ``StepError``
        naming the step (``embed`` or ``score``). ``isolated`` finds the document it comes from."""
        ok_docs = [d for d in docs if d.ok]
        clauses = [c for d in ok_docs for c in d.clauses]
        scored = np.array([c.kind not in UNSCORED_KINDS for c in clauses], dtype=bool)
        scored_clauses = [c for c, keep in zip(clauses, scored, strict=True) if keep]
        stats = EmbeddingStats()
        with in_step(Step.EMBED):
            channels = self.channels(scored_clauses, stats)
        with in_step(Step.SCORE):
            ids = self.catalogue.ids
            # every clause's row, NaN for the unscored kinds (no decision, cell or verdict reads them)
            fused = np.full((len(clauses), len(ids)), np.nan, dtype=np.float32)
            fused[scored] = self.calibration.fusion.fused(channels)
            matches = top_matches(
                scored_clauses, fused[scored], channels, ids, k=self.top_k, method=self.method
            )
            thresholds = self.calibration.thresholds
            cells = coverage([d.doc_id for d in ok_docs], clauses, fused, ids, thresholds)
            chosen = decisions(clauses, fused, ids, thresholds)
            verdicts = document_verdicts(ok_docs, fused, cells, self.calibration)
            by_doc: dict[str, list[CoverageCell]] = {}
            for cell in cells:
                by_doc.setdefault(cell.doc_id, []).append(cell)
            cells = [
                cell
                for doc_id, doc_cells in by_doc.items()
                for cell in relevance.published_cells(doc_cells, verdicts.get(doc_id))
            ]
        return Scored(matches=matches, cells=cells, decisions=chosen, embedding=stats, verdicts=verdicts)

    def isolated(self, docs: Sequence[ParsedDocument]) -> Scored:
        """``score`` of the batch; when the batch raises, each document is scored on its own, and
        the documents that raise alone are left out as ``Scored.failed`` (with the step and the
        exception), the others scored. A document's scores depend on its batch-mates only in the
        last bits of a float (see ``compare.scale.docscore``), so a fallback run keeps them all."""
        try:
            return self.score(docs)
        except Exception:  # which document? each is scored alone below
            pass
        parts = []
        for doc in docs:
            if not doc.ok:
                continue
            try:
                parts.append(self.score([doc]))
            except Exception as exc:
                parts.append(
                    Scored([], [], failed={doc.doc_id: failure_message(doc.file_name, exc, Step.SCORE)})
                )
        return merged(parts)


def document_verdicts(
    docs: Sequence[ParsedDocument], fused: np.ndarray, cells: Sequence[CoverageCell], calibration: Calibration
) -> dict[str, Verdict]:
    """Each document's relevance verdict, from its text and its rows of ``fused`` (the documents'
    clauses in order, as scored) and its coverage cells. None under an uncalibrated calibration:
    the verdict's cut-offs mean something only for scores fitted on labelled documents, so such a
    run judges no document (``relevance`` is NULL, and every document stays in the views)."""
    result: dict[str, Verdict] = {}
    if not calibration.fitted:
        return result
    start = 0
    by_doc: dict[str, list[CoverageCell]] = {}
    for cell in cells:
        by_doc.setdefault(cell.doc_id, []).append(cell)
    for doc in docs:
        rows = fused[start : start + len(doc.clauses)]
        start += len(doc.clauses)
        best = rows.max(axis=1) if rows.size else np.zeros(len(doc.clauses), dtype=np.float32)
        found = relevance.signals(
            doc.meta.title,
            full_text(doc.pages),
            doc.clauses,
            by_doc.get(doc.doc_id, []),
            best,
            calibration.thresholds.clause,
        )
        result[doc.doc_id] = relevance.verdict(found, calibration.relevance)
    return result


def with_verdicts(docs: Sequence[ParsedDocument], verdicts: Mapping[str, Verdict]) -> list[ParsedDocument]:
    """The documents with their relevance verdicts set (those without one unchanged)."""
    return [
        replace(d, relevance=str(v.relevance), relevance_reasons=v.reason_text)
        if (v := verdicts.get(d.doc_id)) is not None
        else d
        for d in docs
    ]


@dataclass(frozen=True)
class ScoringSetup:
    """What a run scores with, known before any model loads: the calibration, the exemplar bank
    and the key documents are compared on."""

    calibration: Calibration
    key: str
    bank: ExemplarBank


def scoring_setup(settings: Settings, catalogue: Catalogue) -> ScoringSetup:
    """The calibration and exemplar bank the scorer will use, and the ``scoring_key``."""
    bank = exemplar_bank(settings.exemplars, catalogue)
    channels = channel_names(settings.models, catalogue, with_exemplars=len(bank) > 0)
    calibration = load_calibration(settings.calibration, settings.models, channels)
    return ScoringSetup(calibration, provenance.scoring_key(settings, catalogue, calibration, bank), bank)


def load_run_catalogue(settings: Settings) -> Catalogue:
    """The national catalogue, with the official Chinese text when a Chinese plan PDF lies beside it."""
    catalogue = load_catalogue(settings.catalogue)
    pdfs = national_pdfs(settings.catalogue.parent)
    if not pdfs:
        return catalogue
    if len(pdfs) > 1:
        raise CatalogueError(
            f"{settings.catalogue.parent}: more than one national PDF ({', '.join(p.name for p in pdfs)}); keep one"
        )
    parsed = parse_document(pdfs[0])
    if not parsed.ok:
        raise CatalogueError(f"national plan {parsed.message}")
    return with_chinese(catalogue, chinese_texts(parsed.clauses), pdfs[0])
