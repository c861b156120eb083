"""The pipeline's operations as plain functions: what the Prefect flows wire together.

A run is four steps, each a function that ``run`` calls in turn and the flows call as tasks:

- ``plan_run`` (``corpus_files`` / ``plan``, ``scoring_setup``): which files are new, changed,
  unchanged or gone, and what they are scored with; gives the ``PlannedRun`` later steps use;
- ``parse_documents`` / ``parse_document``: one file to a ``ParsedDocument`` (never raises for
  a bad file);
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

from collections.abc import Callable, Sequence
from dataclasses import replace

from compare.ingest.parse import parse_documents
from compare.match.scorer import Scored, Scorer, load_run_catalogue
from compare.records import ParsedDocument
from compare.settings import Settings
from compare.store.plan import Clock, PlannedRun, plan_run
from compare.store.publish import RunSummary, publish
from compare.store.reuse import ReuseUpdate
from compare.store.reuse import find_reuse as reuse_update


def score_documents(planned: PlannedRun, docs: Sequence[ParsedDocument]) -> Scored:
    """The documents' scores (``Scorer.isolated``), with the scorer's method; no model is loaded
    when no document needs scoring."""
    if not any(d.ok for d in docs):
        return Scored(matches=[], cells=[])
    scorer = Scorer.from_settings(planned.settings, planned.catalogue, planned.setup)
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
        docs = parse_documents(planned.plan.to_process, progress)
    with clock.step("score"):
        scored = score_documents(planned, docs)
    with clock.step("reuse"):
        reuse = find_reuse(planned, [d for d in docs if d.doc_id not in scored.failed])
    return publish(planned, docs, scored, clock, reuse=reuse)
