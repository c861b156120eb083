"""The pipeline's operations as plain functions: what the Prefect flow wires together.

- ``corpus_files`` / ``plan``: which files are new, changed, unchanged or gone;
- ``parse_document``: one file to a ``ParsedDocument`` (never raises for a bad file);
- ``Scorer.score``: parsed documents to matches and coverage cells;
- ``publish``: everything into a new warehouse snapshot, atomically.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compare import __version__
from compare.calibration import Calibration, load_calibration
from compare.catalogue import Catalogue, load_catalogue
from compare.embed import EmbeddingCache, EmbeddingStats, embeddings
from compare.encoders import Encoder, load_encoder
from compare.errors import CatalogueError, DocumentError
from compare.exemplars import EXEMPLAR_SUFFIX, ExemplarBank, exemplar_bank, exemplar_channels
from compare.extract import pages as extract_pages
from compare.extract import sha256_of
from compare.match import (
    LEXICAL,
    clause_query,
    coverage,
    decisions,
    lexical,
    lexical_cosines,
    measure_passages,
    row_z,
    top_matches,
)
from compare.metadata import metadata, not_a_plan_reason
from compare.national_zh import chinese_texts, national_pdfs, with_chinese
from compare.normalize import cjk_share
from compare.records import Clause, ClauseDecision, CoverageCell, DocStatus, Match, ParsedDocument
from compare.segment import clauses as segment_clauses
from compare.segment import full_text
from compare.structure import clause_departments, clause_targets
from compare.settings import Settings
from compare import warehouse

DOC_ID_HEX = 16
#: Below this share of CJK characters a document is not a Chinese plan.
MIN_CJK_SHARE = 0.3
#: A text layer with fewer characters than this per page counts as no text.
MIN_CHARS_PER_PAGE = 20


def corpus_files(corpus: Path) -> list[Path]:
    """Every ``*.pdf`` under the corpus folder, sorted (case-insensitive suffix)."""
    if not corpus.is_dir():
        raise DocumentError(corpus, DocStatus.FAILED, "corpus folder does not exist")
    return sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix.lower() == ".pdf")


@dataclass(frozen=True)
class Plan:
    """What a run has to do, given the files and the warehouse."""

    to_process: tuple[Path, ...]
    unchanged: tuple[str, ...]
    withdrawn: tuple[str, ...]
    replaced: tuple[str, ...]
    hashes: dict[str, str]

    @property
    def corpus_hash(self) -> str:
        return hashlib.sha256("".join(sorted(self.hashes.values())).encode()).hexdigest()[:16]


def plan(files: Sequence[Path], known: pd.DataFrame, *, force: bool = False) -> Plan:
    """Split the corpus into files to process and documents to keep, withdraw or replace."""
    hashes = {str(p): sha256_of(p) for p in files}
    known_ok = known[known["status"] != DocStatus.WITHDRAWN] if not known.empty else known
    known_hashes = set(known_ok["sha256"]) if not known_ok.empty else set()
    to_process = tuple(p for p in files if force or hashes[str(p)] not in known_hashes)
    current = set(hashes.values())
    unchanged = tuple(sorted({h[:DOC_ID_HEX] for h in current} & {h[:DOC_ID_HEX] for h in known_hashes}))
    processed_names = {p.name for p in to_process}
    replaced, withdrawn = [], []
    for row in known_ok.itertuples() if not known_ok.empty else ():
        if row.sha256 in current:
            continue
        (replaced if row.file_name in processed_names else withdrawn).append(row.doc_id)
    return Plan(to_process, () if force else unchanged, tuple(withdrawn), tuple(replaced), hashes)


def parse_document(path: Path) -> ParsedDocument:
    """Extract, check and segment one file. A bad file gives a status and a message, never an exception."""
    sha = sha256_of(path)
    doc_id = sha[:DOC_ID_HEX]
    try:
        pages = extract_pages(path)
        text = full_text(pages)
        if len(text.strip()) < MIN_CHARS_PER_PAGE * len(pages):
            raise DocumentError(path, DocStatus.NO_TEXT, f"no text layer on {len(pages)} page(s) and no OCR text")
        if cjk_share(text) < MIN_CJK_SHARE:
            raise DocumentError(path, DocStatus.NOT_CHINESE, "the text is not Chinese; expected a Chinese plan")
        clauses = segment_clauses(doc_id, pages)
        if problem := not_a_plan_reason(text, clauses):
            raise DocumentError(path, DocStatus.NOT_A_PLAN, problem)
        return ParsedDocument(
            doc_id=doc_id,
            file_name=path.name,
            sha256=sha,
            status=DocStatus.OK,
            meta=metadata(text, pages),
            pages=pages,
            clauses=clauses,
            departments=clause_departments(clauses),
            targets=clause_targets(clauses),
        )
    except DocumentError as exc:
        return ParsedDocument(doc_id=doc_id, file_name=path.name, sha256=sha, status=exc.status, message=str(exc))
    except Exception as exc:  # one bad document never stops a run
        where = traceback.extract_tb(exc.__traceback__)[-1]
        message = f"{path.name}: unexpected {type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})"
        return ParsedDocument(doc_id=doc_id, file_name=path.name, sha256=sha, status=DocStatus.FAILED, message=message)


@dataclass
class Scored:
    """The scorer's output for a batch of documents."""

    matches: list[Match]
    cells: list[CoverageCell]
    decisions: list[ClauseDecision] = field(default_factory=list)
    embedding: EmbeddingStats = field(default_factory=EmbeddingStats)


def channel_names(models: Sequence[str], catalogue: Catalogue, *, with_exemplars: bool) -> list[str]:
    """The channels a scorer produces, in order."""
    suffixes = list(measure_passages(catalogue)) + ([EXEMPLAR_SUFFIX] if with_exemplars else [])
    lexical_channels = [LEXICAL] + ([LEXICAL + EXEMPLAR_SUFFIX] if with_exemplars else [])
    return [spec + suffix for spec in models for suffix in suffixes] + lexical_channels


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
    def from_settings(cls, settings: Settings, catalogue: Catalogue) -> Scorer:
        encoders = {spec: load_encoder(spec, settings.cache_dir) for spec in settings.models}
        caches = {
            spec: EmbeddingCache.open(settings.cache_dir, enc.model_id, enc.dim) for spec, enc in encoders.items()
        }
        bank = exemplar_bank(settings.exemplars, catalogue)
        channels = channel_names(settings.models, catalogue, with_exemplars=len(bank) > 0)
        return cls(
            catalogue=catalogue,
            encoders=encoders,
            caches=caches,
            calibration=load_calibration(settings.calibration, settings.models, channels),
            top_k=settings.top_k,
            bank=bank,
        )

    @property
    def method(self) -> str:
        return "fused(" + ",".join(f"{e.model_id}" for e in self.encoders.values()) + f",{LEXICAL})"

    def channels(
        self, clauses: Sequence[Clause], stats: EmbeddingStats | None = None, excluded: frozenset[str] = frozenset()
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

    def measure_channels(self, clauses: Sequence[Clause], stats: EmbeddingStats | None = None) -> dict[str, np.ndarray]:
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
                result[spec + suffix] = row_z(group.scores(clause_vectors @ measure_vectors.T, n_measures))
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
        ok_docs = [d for d in docs if d.ok]
        clauses = [c for d in ok_docs for c in d.clauses]
        stats = EmbeddingStats()
        channels = self.channels(clauses, stats)
        fused = self.calibration.fusion.fused(channels)
        ids = self.catalogue.ids
        matches = top_matches(clauses, fused, channels, ids, k=self.top_k, method=self.method)
        thresholds = self.calibration.thresholds
        cells = coverage([d.doc_id for d in ok_docs], clauses, fused, ids, thresholds)
        chosen = decisions(clauses, fused, ids, thresholds)
        return Scored(matches=matches, cells=cells, decisions=chosen, embedding=stats)


@dataclass(frozen=True)
class RunSummary:
    """What a run did, for the CLI, the flow's artifacts and the runs table."""

    run_id: str
    warehouse: Path
    n_files: int
    n_processed: int
    n_failed: int
    failures: tuple[str, ...]
    timings: dict[str, float]
    record: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.n_failed == 0


def publish(
    settings: Settings,
    catalogue: Catalogue,
    run_plan: Plan,
    docs: Sequence[ParsedDocument],
    scored: Scored,
    scorer_method: str,
    calibration: Calibration,
    timings: dict[str, float],
    started_at: float,
    run_id: str | None = None,
) -> RunSummary:
    """Write one run into a new warehouse snapshot and swap it in."""
    run_id = run_id or warehouse.new_run_id()
    failed = [d for d in docs if not d.ok]
    record = {
        "run_id": run_id,
        "started_at": pd.Timestamp(started_at, unit="s"),
        "finished_at": pd.Timestamp(time.time(), unit="s"),
        "status": "partial" if failed else "ok",
        "code_version": __version__,
        "catalogue_fingerprint": catalogue.fingerprint,
        "models": ",".join(settings.models),
        "model_ids": scorer_method,
        "thresholds": calibration.as_record(),
        "settings": settings.as_record(),
        "corpus_hash": run_plan.corpus_hash,
        "n_documents": len(run_plan.hashes),
        "n_processed": len(docs),
        "n_failed": len(failed),
        "n_clauses": sum(len(d.clauses) for d in docs),
        "n_embedded": scored.embedding.embedded,
        "timings": timings,
    }
    with warehouse.snapshot(settings.warehouse) as con:
        warehouse.write_catalogue(con, catalogue)
        warehouse.delete_documents(con, list(run_plan.replaced))
        warehouse.write_documents(con, docs, run_id)
        warehouse.mark_withdrawn(con, list(run_plan.withdrawn), run_id)
        warehouse.write_matches(con, scored.matches, run_id)
        warehouse.write_coverage(con, scored.cells, run_id)
        warehouse.write_decisions(con, scored.decisions, run_id)
        warehouse.write_run(con, record)
    return RunSummary(
        run_id=run_id,
        warehouse=settings.warehouse,
        n_files=len(run_plan.hashes),
        n_processed=len(docs),
        n_failed=len(failed),
        failures=tuple(d.message for d in failed),
        timings=timings,
        record=record,
    )


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


def run(settings: Settings, *, force: bool = False) -> RunSummary:
    """The whole pipeline in one process, without an orchestrator (the flow does the same in tasks)."""
    started = time.time()
    timings: dict[str, float] = {}
    tick = time.perf_counter()
    catalogue = load_run_catalogue(settings)
    run_plan = plan(corpus_files(settings.corpus), warehouse.known_documents(settings.warehouse), force=force)
    timings["plan"] = time.perf_counter() - tick
    tick = time.perf_counter()
    docs = [parse_document(p) for p in run_plan.to_process]
    timings["extract"] = time.perf_counter() - tick
    tick = time.perf_counter()
    scorer = Scorer.from_settings(settings, catalogue)
    scored = scorer.score(docs)
    timings["score"] = time.perf_counter() - tick
    return publish(settings, catalogue, run_plan, docs, scored, scorer.method, scorer.calibration, timings, started)
