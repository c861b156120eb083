"""The pipeline's operations as plain functions: what the Prefect flows wire together.

A run is four steps, each a function that ``run`` calls in turn and the flows call as tasks:

- ``plan_run`` (``corpus_files`` / ``plan``, ``scoring_setup``): which files are new, changed,
  unchanged or gone, and what they are scored with; gives the ``PlannedRun`` later steps use;
- ``parse_documents`` / ``parse_document``: one file to a ``ParsedDocument`` (never raises for
  a bad file); ``EmbedAhead`` embeds each parsed document's clauses in a thread of its own while
  the next file is parsed (ONNX Runtime and numpy release the GIL: the two cores both work);
- ``score_documents``: parsed documents to matches and coverage cells, with the one scorer
  factory (``Scorer.from_settings``); ``Scorer.isolated`` finds the document a failing batch
  fails on, and scores the others;
- ``find_reuse``: this run's new or changed documents compared with the persistent reuse index
  (``compare.store.reuse``: clause-to-clause reuse between plans, from the clause vectors the
  scorer embedded); unchanged documents are not compared again;
- ``publish`` (``publish_outcomes``, which the staged loader shares): everything into a new
  warehouse snapshot, atomically, the reuse tables with it.

A ``Clock`` times the steps for the run's record.

One bad document never takes a run down: an unexpected exception in any step of one document
(``Step``) leaves that document ``failed``, with a message naming the file and the step, and
the next run tries it again; a document that was fine before keeps its previous rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from compare.ingest.parse import parse_documents
from compare.match.embed import EmbeddingStats
from compare.match.scorer import LoadedModel, Scored, Scorer, load_run_catalogue
from compare.records import ParsedDocument
from compare.settings import Settings
from compare.store.plan import Clock, PlannedRun, plan_run
from compare.store.publish import RunSummary, publish
from compare.store.reuse import ReuseUpdate
from compare.store.reuse import find_reuse as reuse_update

LOG = logging.getLogger(__name__)


class EmbedAhead:
    """Embeds each parsed document's clauses into the embedding caches as soon as it is parsed,
    so that a run embeds while it parses the next file; scoring then finds the vectors in the
    caches (``LoadedModel.embed_clauses``) and goes on with the models loaded here (``scorer``).

    The models load side by side, each in a thread of its own; one thread embeds, a document at
    a time, with every model loaded so far, and a model that loads later catches up on the
    documents it missed, in their order, before any later one. So e5 (loaded in about a second)
    embeds beside the parse while USE's pure-Python tokenizer still loads, and the two models
    never embed at once (each keeps both cores busy on its own; together they thrash). The order
    matters: USE batches a call's texts by length, so a vector's last bits depend on the texts
    embedded with it. The measures and exemplars are left to scoring: embedded ahead too, they ran against the parsing for the two cores (36 s of stages
    against 33 s for a cold run of the sample corpus, benchmarks/sample_run.py). Best effort: a
    model that fails to load here, or a document whose embedding fails, is loaded or embedded
    again when scored, where the failure is named and kept to that document."""

    def __init__(self, planned: PlannedRun) -> None:
        self.planned = planned
        self.stats = EmbeddingStats()
        self._lock = threading.Lock()
        self._models: dict[str, LoadedModel] = {}
        self._missed: dict[str, list[ParsedDocument]] = {}
        self._loaders: ThreadPoolExecutor | None = None
        self._embedder: ThreadPoolExecutor | None = None
        self._scorer: Scorer | None = None

    def __call__(self, doc: ParsedDocument) -> None:
        """Queue ``doc`` (a document that failed to parse has nothing to embed)."""
        if not doc.ok:
            return
        if self._embedder is None:  # the first document: load the models
            specs = self.planned.settings.models
            self._missed = {spec: [] for spec in specs}
            self._embedder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-ahead")
            self._loaders = ThreadPoolExecutor(max_workers=len(specs), thread_name_prefix="load-model")
            for spec in specs:
                self._loaders.submit(self._load, spec)
        self._embedder.submit(self._embed_document, doc)

    def _load(self, spec: str) -> None:
        try:
            model = LoadedModel.load(self.planned.settings, spec)
        except Exception as exc:  # scoring loads it again, and names the failure there
            LOG.debug("loading %s ahead failed: %s", spec, exc)
            with self._lock:
                self._missed.pop(spec, None)  # nothing will catch up: stop collecting documents
            return
        with self._lock:
            self._models[spec] = model
        if self._embedder is not None:
            self._embedder.submit(self._catch_up, spec, model)

    def _catch_up(self, spec: str, model: LoadedModel) -> None:
        with self._lock:
            missed = self._missed.pop(spec, [])
        self._embed_all(spec, model, missed)

    def _embed_document(self, doc: ParsedDocument) -> None:
        for spec in self.planned.settings.models:
            with self._lock:
                model = self._models.get(spec)
                # not loaded, or loaded and not caught up yet: the model embeds the documents in
                # their order (a text in two documents is embedded with the first, as in scoring)
                if model is None or spec in self._missed:
                    if spec in self._missed:
                        self._missed[spec].append(doc)
                    continue
            self._embed_all(spec, model, [doc])

    def _embed_all(self, spec: str, model: LoadedModel, docs: Sequence[ParsedDocument]) -> None:
        for doc in docs:
            try:
                done = model.embed_clauses(doc)
            except Exception as exc:  # scoring embeds it again, and names the failure there
                LOG.debug("embedding %s ahead with %s failed: %s", doc.file_name, spec, exc)
                continue
            with self._lock:
                self.stats.requested += done.requested
                self.stats.embedded += done.embedded

    def finish(self) -> EmbeddingStats:
        """Wait for the models to load and every queued document; what was embedded ahead."""
        if self._loaders is not None:
            self._loaders.shutdown(wait=True)  # a late model queues its catch-up first
        if self._embedder is not None:
            self._embedder.shutdown(wait=True)
        return self.stats

    @property
    def scorer(self) -> Scorer | None:
        """A scorer of the plan with the models loaded here, their caches holding every vector so
        far (None when no document was queued): scoring goes on with it rather than loading the
        models and their caches again. Call after ``finish``."""
        if self._scorer is None and self._models:
            planned = self.planned
            self._scorer = Scorer.from_settings(
                planned.settings, planned.catalogue, planned.setup, loaded=self._models
            )
        return self._scorer

    def cancel(self) -> None:
        """Drop the queued documents (a stopping run does not wait for them)."""
        for pool in (self._loaders, self._embedder):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)


def parse_and_embed(
    planned: PlannedRun, paths: Sequence[Path], progress: Callable[[ParsedDocument], None] | None = None
) -> tuple[list[ParsedDocument], EmbedAhead]:
    """``parse_documents`` of the files, with ``EmbedAhead`` embedding each parsed document while
    the next is parsed; the documents and the finished ``EmbedAhead``."""
    ahead = EmbedAhead(planned)

    def parsed(doc: ParsedDocument) -> None:
        ahead(doc)
        if progress is not None:
            progress(doc)

    try:
        docs = parse_documents(paths, parsed)
    except BaseException:
        ahead.cancel()
        raise
    ahead.finish()
    return docs, ahead


def with_ahead(scored: Scored, ahead: EmbeddingStats) -> Scored:
    """``scored`` counting the texts embedded ahead as embedded by the run (scoring found them cached)."""
    return replace(
        scored,
        embedding=EmbeddingStats(scored.embedding.requested, scored.embedding.embedded + ahead.embedded),
    )


def score_documents(
    planned: PlannedRun, docs: Sequence[ParsedDocument], scorer: Scorer | None = None
) -> Scored:
    """The documents' scores (``Scorer.isolated``), with the scorer's method; no model is loaded
    when no document needs scoring. ``scorer``: one of this plan already loaded (``EmbedAhead``'s)."""
    if not any(d.ok for d in docs):
        return Scored(matches=[], cells=[])
    scorer = scorer or Scorer.from_settings(planned.settings, planned.catalogue, planned.setup)
    return replace(scorer.isolated(docs), method=scorer.method)


def find_reuse(planned: PlannedRun, docs: Sequence[ParsedDocument]) -> ReuseUpdate:
    """Reuse between this run's documents and those already in the reuse index; the documents the
    plan withdraws or replaces leave it (``compare.store.reuse.find_reuse``)."""
    gone = (*planned.plan.withdrawn, *planned.plan.replaced)
    return reuse_update(planned.settings, planned.catalogue, docs, gone)


def run(
    settings: Settings,
    *,
    force: bool = False,
    allow_empty_corpus: bool = False,
    progress: Callable[[ParsedDocument], None] | None = None,
    planned: PlannedRun | None = None,
) -> RunSummary:
    """The whole pipeline in one process, without an orchestrator: plan, parse, score, publish
    (the flow runs the same steps as tasks). ``planned``: a plan already made (``plan_run``) of
    these settings, timed as the plan step.

    Only new or changed files are extracted and scored (see ``plan``); ``force`` redoes all;
    ``allow_empty_corpus`` lets a corpus with no PDF withdraw every document (``plan_run``).
    ``progress`` is called with each document as it is parsed.
    """
    clock = Clock()
    with clock.step("plan"):
        planned = planned or plan_run(
            settings, load_run_catalogue(settings), force=force, allow_empty_corpus=allow_empty_corpus
        )
    with clock.step("extract"):
        docs, ahead = parse_and_embed(planned, planned.plan.to_process, progress)
    with clock.step("score"):
        scored = with_ahead(score_documents(planned, docs, ahead.scorer), ahead.stats)
    with clock.step("reuse"):
        reuse = find_reuse(planned, [d for d in docs if d.doc_id not in scored.failed])
    return publish(planned, docs, scored, clock, reuse=reuse)
