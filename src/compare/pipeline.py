"""The pipeline's operations as plain functions: what the Prefect flows wire together.

A run is four steps, each a function that ``run`` calls in turn and the flows call as tasks:

- ``plan_run`` (``corpus_files`` / ``plan``, ``scoring_setup``): which files are new, changed,
  unchanged or gone, and what they are scored with; gives the ``PlannedRun`` later steps use;
- ``parse_documents`` / ``parse_document``: one file to a ``ParsedDocument`` (never raises for
  a bad file);
- ``score_documents``: parsed documents to matches and coverage cells, with the one scorer
  factory (``Scorer.from_settings``); ``Scorer.isolated`` finds the document a failing batch
  fails on, and scores the others;
- ``publish`` (``publish_outcomes``, which the staged loader shares): everything into a new
  warehouse snapshot, atomically.

A ``Clock`` times the steps for the run's record.

One bad document never takes a run down: an unexpected exception in any step of one document
(``Step``) leaves that document ``failed``, with a message naming the file and the step, and
the next run tries it again; a document that was fine before keeps its previous rows.
"""

from __future__ import annotations

import hashlib
import os
import time
import traceback
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compare import provenance, relevance, warehouse
from compare.calibration import Calibration, load_calibration
from compare.catalogue import Catalogue, load_catalogue
from compare.embed import EmbeddingCache, EmbeddingStats, embeddings
from compare.encoders import Encoder, load_encoder
from compare.errors import CatalogueError, CorpusError, DocumentError, StepError, display_name
from compare.exemplars import EXEMPLAR_SUFFIX, ExemplarBank, exemplar_bank, exemplar_channels
from compare.extract import pages as extract_pages
from compare.extract import sha256_of
from compare.match import (
    ABSOLUTE_SUFFIX,
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
from compare.relevance import Verdict
from compare.segment import clauses as segment_clauses
from compare.segment import full_text
from compare.settings import Settings
from compare.structure import clause_departments, clause_targets

DOC_ID_HEX = 16
#: Below this share of CJK characters a document is not a Chinese plan.
MIN_CJK_SHARE = 0.3
#: A text layer with fewer characters than this per page counts as no text.
MIN_CHARS_PER_PAGE = 20


def _unreadable(exc: OSError) -> CorpusError:
    return CorpusError(
        f"{exc.filename}: a folder of the corpus cannot be read ({exc.strerror}); give the user running "
        "compare read access to it, or move it out of the corpus (skipped, its documents would count as withdrawn)"
    )


def corpus_files(corpus: Path) -> list[Path]:
    """Every ``*.pdf`` under the corpus folder, sorted (case-insensitive suffix); a ``CorpusError``
    naming the corpus folder, or a folder in it, that cannot be read."""
    try:
        is_folder = corpus.is_dir()
    except PermissionError as exc:
        raise _unreadable(exc) from exc
    if not is_folder:
        what = "is not a folder" if corpus.exists() else "does not exist"
        raise CorpusError(
            f"{corpus.absolute()}: the corpus folder {what} (a share not mounted?); "
            "pass an existing folder with --corpus or COMPARE_CORPUS"
        )
    unreadable: list[OSError] = []
    found = [
        path
        for folder, _, names in os.walk(corpus, onerror=unreadable.append)
        for path in (Path(folder, name) for name in names)
        if path.suffix.lower() == ".pdf" and path.is_file()
    ]
    if unreadable:
        raise _unreadable(unreadable[0])
    return sorted(found)


def _raw_name(path: Path, corpus: Path | None) -> str:
    if corpus is not None:
        try:
            return path.relative_to(corpus).as_posix()
        except ValueError:
            pass
    return path.name


def corpus_name(path: Path, corpus: Path | None) -> str:
    """A file's name as stored in ``documents.file_name``: its path inside the corpus folder,
    as ``display_name`` shows it (a GBK name decoded; the file is read by its real path)."""
    return display_name(_raw_name(path, corpus))


def corpus_names(files: Sequence[Path], corpus: Path | None) -> dict[Path, str]:
    """``corpus_name`` of every file, each name given once: a decoded name that another file
    already bears (a GBK ``湖南.pdf`` beside a UTF-8 one) is shown with its bytes escaped instead."""
    names = {path: corpus_name(path, corpus) for path in files}
    plain = {name for path, name in names.items() if name == _raw_name(path, corpus)}
    taken: set[str] = set(plain)
    for path, name in names.items():
        if name != _raw_name(path, corpus):
            if name in taken:
                name = names[path] = display_name(_raw_name(path, corpus), decode=False)
            taken.add(name)
    return names


class Reason:
    """Why a run processes a file (``Plan.reasons``)."""

    NEW = "new"
    CHANGED = "changed"
    RETRY = "failed before"
    RETURNED = "withdrawn before"
    RESCORE = "scored under other settings"
    FORCED = "forced"


@dataclass(frozen=True)
class Plan:
    """What a run has to do, given the files and the warehouse.

    Documents are keyed by content: ``doc_id`` is the head of the file's sha256. ``names``
    maps every doc_id in the corpus to its file name (the first, when identical files lie
    under several names; the others are in ``duplicates``).
    """

    to_process: tuple[Path, ...]
    unchanged: tuple[str, ...]
    withdrawn: tuple[str, ...]
    replaced: tuple[str, ...]
    hashes: dict[str, str]
    names: dict[str, str] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    duplicates: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    scoring_key: str | None = None
    #: Files of the corpus that could not be read (name -> message): not processed, reported as
    #: failures; a document already known under such a name is left as it is.
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def failures(self) -> tuple[str, ...]:
        return tuple(self.unreadable.values())

    @property
    def corpus_hash(self) -> str:
        return hashlib.sha256("".join(sorted(self.hashes.values())).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Changes:
    """What publishing does to documents already in the warehouse."""

    withdrawn: tuple[str, ...]
    replaced: tuple[str, ...]
    renamed: dict[str, str]


def changes(
    hashes: dict[str, str],
    names: dict[str, str],
    known: pd.DataFrame,
    processed: set[str],
    keep: Collection[str] = (),
) -> Changes:
    """Known live documents that left the corpus (withdrawn), whose file now holds other
    content (replaced), or whose content now lies under another name (renamed). Documents
    whose file name is in ``keep`` (files present but unreadable this time) stay as they are."""
    withdrawn, replaced, renamed = [], [], {}
    for row in known.itertuples():
        if row.status == DocStatus.WITHDRAWN or row.doc_id in processed or row.file_name in keep:
            continue
        if row.doc_id in names:
            if names[row.doc_id] != row.file_name:
                renamed[row.doc_id] = names[row.doc_id]
        elif row.file_name in hashes:
            replaced.append(row.doc_id)
        else:
            withdrawn.append(row.doc_id)
    return Changes(tuple(withdrawn), tuple(replaced), renamed)


def _reason(row: Any, scoring_key: str | None, replaces: bool) -> str | None:
    """Why a file whose content the warehouse may know must be processed (None: it need not be)."""
    if row is None:
        return Reason.CHANGED if replaces else Reason.NEW
    if row.status == DocStatus.WITHDRAWN:
        return Reason.RETURNED
    if row.status == DocStatus.FAILED:
        return Reason.RETRY
    if row.status == DocStatus.OK and scoring_key is not None and row.scoring_key != scoring_key:
        return Reason.RESCORE
    return None


def plan(
    files: Sequence[Path],
    known: pd.DataFrame,
    *,
    force: bool = False,
    corpus: Path | None = None,
    scoring_key: str | None = None,
) -> Plan:
    """Split the corpus into files to process and documents to keep, withdraw, replace or rename.

    A file is processed when its content is new, was withdrawn before, failed unexpectedly
    before (``failed``: other statuses are decided by the content and stay), or was scored
    under another ``scoring_key``; every file with ``force``. Identical files are processed once.
    """
    file_names = corpus_names(files, corpus)
    hashes, unreadable = _hashes(file_names)
    paths = {name: path for path, name in file_names.items()}
    if "scoring_key" not in known.columns:
        known = known.assign(scoring_key=None)
    rows = {row.doc_id: row for row in known.itertuples()}
    known_names = {row.file_name for row in rows.values() if row.status != DocStatus.WITHDRAWN}
    names: dict[str, str] = {}
    for name, sha in hashes.items():
        names.setdefault(sha[:DOC_ID_HEX], name)
    for doc_id, row in rows.items():  # keep a known name while that file still holds the content
        if doc_id in names and hashes.get(row.file_name, "")[:DOC_ID_HEX] == doc_id:
            names[doc_id] = row.file_name
    duplicates = {n: names[sha[:DOC_ID_HEX]] for n, sha in hashes.items() if names[sha[:DOC_ID_HEX]] != n}
    to_process, unchanged, reasons = [], [], {}
    for doc_id, name in names.items():
        why = Reason.FORCED if force else _reason(rows.get(doc_id), scoring_key, name in known_names)
        if why is None:
            unchanged.append(doc_id)
        else:
            to_process.append(paths[name])
            reasons[name] = why
    todo = {hashes[file_names[p]][:DOC_ID_HEX] for p in to_process}
    found = changes(hashes, names, known, todo, keep=unreadable)
    return Plan(
        to_process=tuple(sorted(to_process)),
        unchanged=tuple(sorted(unchanged)),
        withdrawn=found.withdrawn,
        replaced=found.replaced,
        hashes=hashes,
        names=names,
        renamed=found.renamed,
        duplicates=duplicates,
        reasons=reasons,
        scoring_key=scoring_key,
        unreadable=unreadable,
    )


def _hashes(file_names: dict[Path, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The sha256 of each file by corpus name, and a message for each file that cannot be read."""
    hashes, unreadable = {}, {}
    for path, name in file_names.items():
        try:
            hashes[name] = sha256_of(path)
        except OSError as exc:
            unreadable[name] = (
                f"{name}: cannot be read ({exc.strerror or exc}); check that the file is readable, then run again"
            )
    return hashes, unreadable


class Step:
    """The steps a document goes through; a document that fails in one is ``failed``, and its
    message names the step (``plan.pdf: segment: ValueError: …``)."""

    PARSE = "parse"  # reading the file: text layer, OCR, the checks on its text
    SEGMENT = "segment"  # clauses along the numbering hierarchy
    METADATA = "metadata"  # title, issuer, document number, date; whether it is a plan
    STRUCTURE = "structure"  # departments and targets of the clauses
    EMBED = "embed"  # clause vectors and their similarity channels
    SCORE = "score"  # fused scores, matches, coverage cells, clause decisions
    STAGE = "stage"  # a staged run: writing the document's rows
    SUMMARY = "summary"  # the run's summary artifacts (after publishing)
    REPORT = "report"  # the committee summary (after publishing)


@contextmanager
def in_step(step: str) -> Iterator[None]:
    """The block is step ``step``: an unexpected exception leaves it as a ``StepError`` naming
    the step. A ``DocumentError`` (a bad file) and a ``StepError`` raised inside pass unchanged."""
    try:
        yield
    except (DocumentError, StepError):
        raise
    except Exception as exc:
        raise StepError(step, exc) from exc


def failure_message(name: str, exc: BaseException, step: str = Step.PARSE) -> str:
    """``<file>: <step>: <exception type>: <exception> (at <module>:<line>)``, and what happens next.

    ``step`` is the step when ``exc`` is not a ``StepError`` (which names its own)."""
    if isinstance(exc, StepError):
        step, exc = exc.step, exc.cause
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return (
        f"{display_name(name)}: {step}: {type(exc).__name__}: {exc}{where}; it is tried again on the next run"
    )


def failed_document(doc: ParsedDocument, message: str) -> ParsedDocument:
    """The document as a failure: its identity and the message, none of its pages or clauses."""
    return ParsedDocument(
        doc_id=doc.doc_id,
        file_name=doc.file_name,
        sha256=doc.sha256,
        status=DocStatus.FAILED,
        message=message,
    )


def _unreadable_document(path: Path, name: str, exc: OSError) -> ParsedDocument:
    sha = hashlib.sha256(f"unreadable:{path}".encode(errors="surrogateescape")).hexdigest()
    message = (
        f"{name}: cannot be read ({exc.strerror or exc}); check that the file is readable, then run again"
    )
    return ParsedDocument(
        doc_id=sha[:DOC_ID_HEX], file_name=name, sha256=sha, status=DocStatus.FAILED, message=message
    )


def failed_file(path: Path, exc: BaseException, step: str = Step.PARSE) -> ParsedDocument:
    """A file whose processing raised ``exc`` outside ``parse_document`` (a lost worker process,
    a failed task), as a failed document keyed by its content like any other."""
    name = display_name(path.name)
    try:
        sha = sha256_of(path)
    except OSError as unreadable:
        return _unreadable_document(path, name, unreadable)
    doc = ParsedDocument(doc_id=sha[:DOC_ID_HEX], file_name=name, sha256=sha, status=DocStatus.FAILED)
    return failed_document(doc, failure_message(name, exc, step))


def parse_document(path: Path) -> ParsedDocument:
    """Extract, check and segment one file. A bad file gives a status and a message, never an
    exception; an unexpected exception in one step gives ``failed`` and a message naming the step."""
    name = display_name(path.name)
    try:
        sha = sha256_of(path)
    except OSError as exc:  # gone or unreadable since the plan: a failure the next run tries again
        return _unreadable_document(path, name, exc)
    doc_id = sha[:DOC_ID_HEX]
    try:
        with in_step(Step.PARSE):
            pages = extract_pages(path)
            text = full_text(pages)
            if len(text.strip()) < MIN_CHARS_PER_PAGE * len(pages):
                raise DocumentError(
                    path, DocStatus.NO_TEXT, f"no text layer on {len(pages)} page(s) and no OCR text"
                )
            if cjk_share(text) < MIN_CJK_SHARE:
                raise DocumentError(
                    path, DocStatus.NOT_CHINESE, "the text is not Chinese; expected a Chinese plan"
                )
        with in_step(Step.SEGMENT):
            clauses = segment_clauses(doc_id, pages)
        with in_step(Step.METADATA):
            if problem := not_a_plan_reason(text, clauses):
                raise DocumentError(path, DocStatus.NOT_A_PLAN, problem)
            meta = metadata(text, pages)
        with in_step(Step.STRUCTURE):
            departments, targets = clause_departments(clauses), clause_targets(clauses)
        return ParsedDocument(
            doc_id=doc_id,
            file_name=name,
            sha256=sha,
            status=DocStatus.OK,
            meta=meta,
            pages=pages,
            clauses=clauses,
            departments=departments,
            targets=targets,
        )
    except DocumentError as exc:
        return ParsedDocument(doc_id=doc_id, file_name=name, sha256=sha, status=exc.status, message=str(exc))
    except Exception as exc:  # one bad document never stops a run
        doc = ParsedDocument(doc_id=doc_id, file_name=name, sha256=sha, status=DocStatus.FAILED)
        return failed_document(doc, failure_message(name, exc))


@dataclass
class Scored:
    """The scorer's output for a batch of documents. ``failed``: doc_id -> message of each
    document whose scoring raised (it has no rows here; ``publish`` records it as failed)."""

    matches: list[Match]
    cells: list[CoverageCell]
    decisions: list[ClauseDecision] = field(default_factory=list)
    embedding: EmbeddingStats = field(default_factory=EmbeddingStats)
    failed: dict[str, str] = field(default_factory=dict)
    #: doc_id -> what the document is (``compare.relevance``).
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
    ) -> Scorer:
        """The scorer of the settings: every scorer is made here (a run, a staging worker, the
        evaluation). ``setup``: what a plan found (``scoring_setup``), so that the exemplar bank and
        the calibration are read once per run. ``cached``: with the embedding cache of
        ``settings.cache_dir`` (every vector stored there, loaded); without it, an empty one."""
        setup = setup or scoring_setup(settings, catalogue)
        encoders = {
            spec: load_encoder(spec, settings.cache_dir, e5_backend=settings.e5_backend)
            for spec in settings.models
        }
        caches = {
            spec: EmbeddingCache.open(settings.cache_dir, enc.model_id, enc.dim)
            if cached
            else EmbeddingCache(folder=None, dim=enc.dim)
            for spec, enc in encoders.items()
        }
        return cls(
            catalogue=catalogue,
            encoders=encoders,
            caches=caches,
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
        stats = EmbeddingStats()
        with in_step(Step.EMBED):
            channels = self.channels(clauses, stats)
        with in_step(Step.SCORE):
            fused = self.calibration.fusion.fused(channels)
            ids = self.catalogue.ids
            matches = top_matches(clauses, fused, channels, ids, k=self.top_k, method=self.method)
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
        last bits of a float (see ``compare.docscore``), so a fallback run keeps them all."""
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
    n_unchanged: int = 0
    n_withdrawn: int = 0
    n_replaced: int = 0
    n_embedded: int = 0
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.n_failed == 0


#: How long a run waits for another run to finish publishing the same warehouse.
PUBLISH_LOCK_WAIT_S = 300.0
#: Said of a document that failed this time but keeps the rows of an earlier run.
KEPT_NOTE = " (its earlier results are kept until then)"


def kept_on_failure(known: pd.DataFrame, outcomes: Sequence[tuple[str, str]]) -> set[str]:
    """Documents (doc_id, status) that failed unexpectedly this run but are ``ok`` in the
    warehouse: the same content, processed before. Their rows stay as they were, marked for
    rescoring (``warehouse.mark_for_rescoring``), so the next run tries them again."""
    ok_before = set(known.loc[known["status"] == DocStatus.OK, "doc_id"])
    return {doc_id for doc_id, status in outcomes if status == DocStatus.FAILED and doc_id in ok_before}


def kept_renamed(kept: Collection[str], run_plan: Plan, known: pd.DataFrame) -> dict[str, str]:
    """The kept documents whose content now lies under another name."""
    names = dict(zip(known["doc_id"], known["file_name"], strict=True))
    return {d: run_plan.names[d] for d in kept if d in run_plan.names and run_plan.names[d] != names.get(d)}


@dataclass(frozen=True)
class Outcome:
    """What became of one processed document, as the run's record counts it."""

    doc_id: str
    status: str
    message: str
    n_clauses: int


#: ``write(con, run_id, kept)``: writes a run's processed documents into the snapshot ``con``,
#: but for those in ``kept`` (``kept_on_failure``), whose earlier rows stay.
Writer = Callable[[Any, str, set[str]], None]


def publish_outcomes(
    planned: PlannedRun,
    clock: Clock,
    outcomes: Sequence[Outcome],
    write: Writer,
    *,
    step: str,
    n_embedded: int,
    model_ids: str | None,
    thresholds: dict[str, Any],
    run_id: str | None = None,
    lock_wait: float = PUBLISH_LOCK_WAIT_S,
) -> RunSummary:
    """Write one run into a new warehouse snapshot and swap it in (all or nothing): ``write``
    writes the processed documents (``publish`` from memory, the staged loader from Parquet),
    this does the rest, and ``step`` names the time it took in the run's timings.

    What happens to documents already in the warehouse (withdrawn, replaced, renamed) is
    decided again against the snapshot itself, under the writer lock, so a run that published
    between this run's plan and now is taken into account.
    """
    tick = time.perf_counter()
    run_id = run_id or warehouse.new_run_id()
    settings, run_plan = planned.settings, planned.plan
    processed = {o.doc_id for o in outcomes}
    with warehouse.snapshot(settings.warehouse, wait=lock_wait) as con:
        known = warehouse.documents_in(con)
        found = changes(run_plan.hashes, run_plan.names, known, processed, keep=run_plan.unreadable)
        kept = kept_on_failure(known, [(o.doc_id, o.status) for o in outcomes])
        warehouse.write_catalogue(con, planned.catalogue)
        warehouse.delete_documents(con, list(found.replaced))
        write(con, run_id, kept)
        warehouse.mark_withdrawn(con, list(found.withdrawn), run_id)
        warehouse.rename_documents(con, {**found.renamed, **kept_renamed(kept, run_plan, known)})
        warehouse.mark_for_rescoring(con, sorted(kept))
        warehouse.accept_documents(con, settings.accept, run_id)
        return record_run(
            con,
            settings,
            planned.catalogue,
            run_plan,
            found,
            run_id=run_id,
            started_at=clock.started,
            timings={**clock.timings, step: time.perf_counter() - tick},
            processed=processed,
            failed=[
                o.message + (KEPT_NOTE if o.doc_id in kept else "")
                for o in outcomes
                if o.status != DocStatus.OK
            ],
            n_clauses=sum(o.n_clauses for o in outcomes),
            n_embedded=n_embedded,
            model_ids=model_ids,
            thresholds=thresholds,
        )


def publish(
    planned: PlannedRun,
    docs: Sequence[ParsedDocument],
    scored: Scored,
    clock: Clock,
    run_id: str | None = None,
    *,
    lock_wait: float = PUBLISH_LOCK_WAIT_S,
) -> RunSummary:
    """The run's parsed and scored documents into a new warehouse snapshot (``publish_outcomes``)."""
    docs = [failed_document(d, scored.failed[d.doc_id]) if d.doc_id in scored.failed else d for d in docs]
    docs = [replace(d, file_name=planned.plan.names.get(d.doc_id, d.file_name)) for d in docs]
    docs = with_verdicts(docs, scored.verdicts)

    def write(con: Any, run_id: str, kept: set[str]) -> None:
        warehouse.write_documents(
            con, [d for d in docs if d.doc_id not in kept], run_id, scoring_key=planned.plan.scoring_key
        )
        warehouse.write_matches(con, scored.matches, run_id)
        warehouse.write_coverage(con, scored.cells, run_id)
        warehouse.write_decisions(con, scored.decisions, run_id)

    return publish_outcomes(
        planned,
        clock,
        [Outcome(d.doc_id, str(d.status), d.message, len(d.clauses)) for d in docs],
        write,
        step="publish",
        n_embedded=scored.embedding.embedded,
        model_ids=scored.method,
        thresholds=planned.setup.calibration.as_record(),
        run_id=run_id,
        lock_wait=lock_wait,
    )


def record_run(
    con: Any,
    settings: Settings,
    catalogue: Catalogue,
    run_plan: Plan,
    found: Changes,
    *,
    run_id: str,
    started_at: float,
    timings: dict[str, float],
    processed: set[str],
    failed: Sequence[str],
    n_clauses: int,
    n_embedded: int,
    model_ids: str | None,
    thresholds: dict[str, Any],
) -> RunSummary:
    """Write the run's row into the snapshot ``con`` and give its summary (``publish_outcomes``
    ends here). ``failed``: the messages of processed documents that failed."""
    failures = (*failed, *run_plan.failures)
    unchanged = sum(1 for doc_id in run_plan.names if doc_id not in processed)
    n_files = len(run_plan.hashes) + len(run_plan.unreadable)
    record = {
        "run_id": run_id,
        "started_at": pd.Timestamp(started_at, unit="s"),
        "finished_at": pd.Timestamp(time.time(), unit="s"),
        "status": "partial" if failures else "ok",
        "code_version": provenance.code_version(),
        "catalogue_fingerprint": catalogue.fingerprint,
        "models": ",".join(settings.models),
        "model_ids": model_ids,
        "thresholds": thresholds,
        "settings": settings.as_record(),
        "scoring_key": run_plan.scoring_key,
        "corpus_hash": run_plan.corpus_hash,
        "n_documents": n_files,
        "n_processed": len(processed),
        "n_failed": len(failures),
        "n_unchanged": unchanged,
        "n_withdrawn": len(found.withdrawn),
        "n_replaced": len(found.replaced),
        "n_clauses": n_clauses,
        "n_embedded": n_embedded,
        "timings": timings,
    }
    warehouse.write_run(con, record)
    return RunSummary(
        run_id=run_id,
        warehouse=settings.warehouse,
        n_files=n_files,
        n_processed=len(processed),
        n_failed=len(failures),
        failures=failures,
        timings=timings,
        record=record,
        n_unchanged=unchanged,
        n_withdrawn=len(found.withdrawn),
        n_replaced=len(found.replaced),
        n_embedded=n_embedded,
        notes=tuple(
            f"{dup}: same content as {kept}; stored once, as {kept}"
            for dup, kept in sorted(run_plan.duplicates.items())
        ),
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


#: The flag that lets a run over a corpus folder with no PDF withdraw every document.
ALLOW_EMPTY_FLAG = "--allow-empty-corpus"


def check_not_empty(corpus: Path, files: Sequence[Path], known: pd.DataFrame) -> None:
    """Raise ``CorpusError`` when the corpus holds no PDF while the warehouse has live documents:
    a run would mark every one of them withdrawn, which is what an unmounted share looks like."""
    live = int((known["status"] != DocStatus.WITHDRAWN).sum()) if len(known) else 0
    if not files and live:
        raise CorpusError(
            f"{corpus.absolute()}: the corpus folder holds no PDF, and this run would mark all {live} "
            "document(s) of the warehouse withdrawn; check that the folder (or the share it is on) is "
            f"there and mounted, or pass {ALLOW_EMPTY_FLAG} to withdraw them all"
        )


@dataclass
class Clock:
    """When a run started, and how long each of its steps took (seconds, by step)."""

    started: float = field(default_factory=time.time)
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block as step ``name``."""
        tick = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - tick


@dataclass(frozen=True)
class PlannedRun:
    """A run once planned: what every later step (parse, score, publish; stage, load) works from."""

    settings: Settings
    catalogue: Catalogue
    plan: Plan
    setup: ScoringSetup


def plan_run(
    settings: Settings, catalogue: Catalogue, *, force: bool = False, allow_empty_corpus: bool = False
) -> PlannedRun:
    """The plan of a run over the settings' corpus and warehouse, and what it will score with.

    A corpus folder that does not exist, or (unless ``allow_empty_corpus``) holds no PDF while
    the warehouse has documents, is refused with a ``CorpusError``.
    """
    setup = scoring_setup(settings, catalogue)
    files = corpus_files(settings.corpus)
    known = warehouse.known_documents(settings.warehouse)
    if not allow_empty_corpus:
        check_not_empty(settings.corpus, files, known)
    found = plan(files, known, force=force, corpus=settings.corpus, scoring_key=setup.key)
    return PlannedRun(settings, catalogue, found, setup)


def parse_documents(
    paths: Sequence[Path], progress: Callable[[ParsedDocument], None] | None = None
) -> list[ParsedDocument]:
    """``parse_document`` of each file, in order; ``progress`` is called with each document."""
    docs = []
    for path in paths:
        docs.append(parse_document(path))
        if progress is not None:
            progress(docs[-1])
    return docs


def score_documents(planned: PlannedRun, docs: Sequence[ParsedDocument]) -> Scored:
    """The documents' scores (``Scorer.isolated``), with the scorer's method; no model is loaded
    when no document needs scoring."""
    if not any(d.ok for d in docs):
        return Scored(matches=[], cells=[])
    scorer = Scorer.from_settings(planned.settings, planned.catalogue, planned.setup)
    return replace(scorer.isolated(docs), method=scorer.method)


def run(
    settings: Settings,
    *,
    force: bool = False,
    allow_empty_corpus: bool = False,
    progress: Callable[[ParsedDocument], None] | None = None,
) -> RunSummary:
    """The whole pipeline in one process, without an orchestrator: plan, parse, score, publish
    (the flow runs the same steps as tasks).

    Only new or changed files are extracted and scored (see ``plan``); ``force`` redoes all;
    ``allow_empty_corpus`` lets a corpus with no PDF withdraw every document (``plan_run``).
    ``progress`` is called with each document as it is parsed.
    """
    clock = Clock()
    with clock.step("plan"):
        planned = plan_run(
            settings, load_run_catalogue(settings), force=force, allow_empty_corpus=allow_empty_corpus
        )
    with clock.step("extract"):
        docs = parse_documents(planned.plan.to_process, progress)
    with clock.step("score"):
        scored = score_documents(planned, docs)
    return publish(planned, docs, scored, clock)
