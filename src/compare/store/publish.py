"""Publishing a run: everything into a new warehouse snapshot, atomically (``publish``, with
``publish_outcomes`` shared by the staged loader), and the run's record.

A document that was fine before and fails this time keeps its previous rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from compare.ingest.parse import failed_document
from compare.match import provenance
from compare.match.catalogue import Catalogue
from compare.match.scorer import Scored, with_verdicts
from compare.records import DocStatus, ParsedDocument
from compare.settings import Settings
from compare.store import warehouse
from compare.store.plan import Changes, Clock, Plan, PlannedRun, changes
from compare.store.reuse import ReuseUpdate, write_reuse


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
    reuse: ReuseUpdate | None = None,
) -> RunSummary:
    """Write one run into a new warehouse snapshot and swap it in (all or nothing): ``write``
    writes the processed documents (``publish`` from memory, the staged loader from Parquet),
    this does the rest, and ``step`` names the time it took in the run's timings.

    ``reuse``: what the run's reuse step did (``compare.store.reuse.find_reuse``), published in
    the same snapshot once the documents' statuses are settled; None leaves the reuse tables as
    they were.

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
        write_reuse(con, reuse, run_id, scored=any(o.status == DocStatus.OK for o in outcomes))
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
    reuse: ReuseUpdate | None = None,
) -> RunSummary:
    """The run's parsed and scored documents into a new warehouse snapshot (``publish_outcomes``),
    with the reuse the run found (``reuse``)."""
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
        reuse=reuse,
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
