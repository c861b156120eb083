"""Reuse between plans in the warehouse: the persistent reuse index, and its tables in each snapshot.

**Where the index lives.** The index (``compare.diffusion.index.ReuseIndex``: the LSH index, the
passage groups, the clause table and vectors, the links) is saved in the cache folder, one
folder per state: ``<cache_dir>/reuse/<warehouse key>/<index_id>``, the warehouse key being a
hash of the warehouse's path. The warehouse names the state it goes with (table
``reuse_index``, latest row), and the tables it holds (``clause_reuse`` and the measures) are
that state's. A run:

1. ``find_reuse`` (after scoring, outside the writer lock): opens the index the published
   warehouse names, checks it (its documents' hash, its encoder), takes out the documents the
   plan withdraws or replaces, and compares this run's new or changed documents with it (their
   clause vectors come from the run's embedding cache: the scorer embedded them). A document
   already in the index with the same clauses is not compared again. An index that is missing,
   out of step or of another encoder is rebuilt from the warehouse's clauses.
2. ``write_reuse`` (inside the publish snapshot, under the writer lock): checks that the
   snapshot still names the index the step started from (else another run published since,
   and the index is rebuilt from the snapshot), brings it in line with the snapshot's documents
   (status ``ok``), saves it under a new ``index_id``, and writes the links, the measures and
   the ``reuse_index`` row into the snapshot. The staged loader (``compare.scale.staging``) has
   no parsed documents: it names the documents it loads (``find_reuse(..., loaded=...)``), and
   this step compares them from their rows in the snapshot, as a rebuild reads documents.

The folder is written before the snapshot is swapped in: a run that fails to publish leaves a
folder nobody names (the next publish removes it) and the warehouse still naming the previous
one, which is kept until a later publish replaces it. So the warehouse never names an index
ahead of it, and an index can always be rebuilt from it.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from compare.diffusion.documents import (
    REUSE_KINDS,
    clause_vectors,
    national_document,
    national_status,
    reuse_documents,
)
from compare.diffusion.index import (
    NATIONAL_DOC_ID,
    ReuseClause,
    ReuseDocument,
    ReuseIndex,
    ReuseLink,
    issue_date,
)
from compare.diffusion.measures import DocumentInfo, document_similarity, homogeneity, localization
from compare.diffusion.paraphrase import rule_for
from compare.errors import CompareError
from compare.match.catalogue import Catalogue
from compare.match.embed import EmbeddingCache
from compare.match.encoders import Encoder, load_encoder
from compare.records import Clause, ClauseKind, ParsedDocument
from compare.settings import Settings
from compare.store import warehouse
from compare.store.reuse_tables import (
    clause_reuse_rows,
    document_localization_rows,
    document_similarity_rows,
    measure_homogeneity_rows,
)

#: Folder under the cache directory that holds the reuse indexes, one subfolder per warehouse.
REUSE_FOLDER = "reuse"
#: Hex digits of the warehouse path's hash that name its subfolder.
WAREHOUSE_KEY_HEX = 12
#: Evidence documents per province and measure the homogeneity index compares (the best scored):
#: bounds its pairs at a few thousand per measure however many cities a province has.
HOMOGENEITY_DOCS_PER_PROVINCE = 3
#: The measure tables computed again from the links whenever a run changes them.
MEASURE_TABLES = ("document_similarity", "document_localization", "measure_homogeneity")


def warehouse_key(path: Path) -> str:
    """The subfolder name of a warehouse's indexes: a hash of its absolute path."""
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:WAREHOUSE_KEY_HEX]


def index_root(settings: Settings) -> Path:
    """Where the warehouse's reuse indexes are saved."""
    return settings.cache_dir / REUSE_FOLDER / warehouse_key(settings.warehouse)


def documents_hash(doc_ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(doc_ids)).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class IndexState:
    """The index a warehouse names (latest ``reuse_index`` row)."""

    index_id: str
    model_id: str | None
    documents_hash: str | None


def index_state(con: duckdb.DuckDBPyConnection) -> IndexState | None:
    """The index the warehouse of ``con`` names; None when it names none (or predates reuse)."""
    try:
        row = con.execute(
            "SELECT index_id, model_id, documents_hash FROM reuse_index "
            "ORDER BY created_at DESC, run_id DESC LIMIT 1"
        ).fetchone()
    except duckdb.CatalogException:
        return None
    return IndexState(*row) if row else None


class RunEncoder:
    """The run's first encoder and its embedding cache, loaded when first needed (a run that
    compares nothing loads no model)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._loaded: tuple[Encoder, EmbeddingCache] | None = None

    def get(self) -> tuple[Encoder, EmbeddingCache]:
        if self._loaded is None:
            s = self.settings
            encoder = load_encoder(s.models[0], s.cache_dir, e5_backend=s.e5_backend)
            self._loaded = encoder, EmbeddingCache.open(s.cache_dir, encoder.model_id, encoder.dim)
        return self._loaded


@dataclass
class ReuseUpdate:
    """What a run does to the reuse index; ``write_reuse`` publishes it."""

    settings: Settings
    catalogue: Catalogue
    #: None: there is no index and nothing to put in one.
    index: ReuseIndex | None
    #: The index the published warehouse named when the step began.
    base_id: str | None
    model_id: str | None
    #: Links found by this run (every link of the index when it was rebuilt).
    links: list[ReuseLink] = field(default_factory=list)
    #: Documents compared with the index by this run, and those taken out of it.
    compared: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    rebuilt: bool = False
    #: Documents this run writes into the snapshot whose rows ``write_reuse`` compares with the
    #: index (the staged loader's): those the index lacks, or holds with other clauses.
    loaded: set[str] = field(default_factory=set)
    national_text: str = ""
    notes: list[str] = field(default_factory=list)
    encoder: RunEncoder | None = None

    @property
    def changed(self) -> bool:
        return self.rebuilt or bool(self.compared) or bool(self.removed)


def _live_ok(con: duckdb.DuckDBPyConnection) -> set[str]:
    try:
        return {r[0] for r in con.execute("SELECT doc_id FROM documents WHERE status = 'ok'").fetchall()}
    except duckdb.CatalogException:
        return set()


def _clause(row: dict[str, Any]) -> Clause:
    values: dict[str, Any] = {k: v for k, v in row.items() if k in Clause.__dataclass_fields__}
    return Clause(**{**values, "kind": ClauseKind(values["kind"])})


def stored_documents(
    con: duckdb.DuckDBPyConnection, doc_ids: Iterable[str], encoder: Encoder, cache: EmbeddingCache
) -> list[ReuseDocument]:
    """Documents of the warehouse as the index takes them (earliest issued first), their clause
    vectors from the embedding cache (texts it lacks are embedded)."""
    ids = pd.DataFrame({"doc_id": sorted(set(doc_ids))})
    if ids.empty:
        return []
    con.register("_reuse_ids", ids)
    try:
        docs = con.execute(
            "SELECT doc_id, file_name, province, level, CAST(issue_date AS VARCHAR) AS issue_date FROM documents "
            "WHERE doc_id IN (SELECT doc_id FROM _reuse_ids) ORDER BY issue_date NULLS LAST, doc_id"
        ).df()
        kinds = ", ".join(f"'{k}'" for k in sorted(str(k) for k in REUSE_KINDS))
        clauses = con.execute(
            "SELECT * FROM clauses WHERE doc_id IN (SELECT doc_id FROM _reuse_ids) "
            f"AND kind IN ({kinds}) ORDER BY doc_id, seq"
        ).df()
    finally:
        con.unregister("_reuse_ids")
    by_doc: dict[str, list[Clause]] = {}
    for row in clauses.to_dict("records"):
        by_doc.setdefault(row["doc_id"], []).append(_clause(row))
    result = []
    for row in docs.itertuples():
        chosen = by_doc.get(row.doc_id, [])
        result.append(
            ReuseDocument(
                doc_id=row.doc_id,
                name=row.file_name,
                clauses=tuple(ReuseClause(c.clause_id, c.doc_id, c.text) for c in chosen),
                vectors=clause_vectors(chosen, encoder, cache),
                province=row.province if isinstance(row.province, str) else None,
                level=row.level if isinstance(row.level, str) else None,
                issue_date=issue_date(row.issue_date if isinstance(row.issue_date, str) else None),
            )
        )
    return result


def _new_index(update: ReuseUpdate) -> ReuseIndex:
    """An empty index for the run's encoder (with the national text first, when it is measured)."""
    assert update.encoder is not None
    encoder, cache = update.encoder.get()
    rule = rule_for(encoder.model_id)
    if rule is None:
        update.notes.append(
            f"paraphrase not measured: no fitted rule for {encoder.model_id} (docs/diffusion.md)"
        )
    index = ReuseIndex(encoder.dim, paraphrase=rule)
    update.model_id = encoder.model_id
    national = national_document(update.catalogue, encoder, cache)
    if national is not None:
        index.add(national)
    return index


def rebuild(update: ReuseUpdate, con: duckdb.DuckDBPyConnection) -> None:
    """A new index over the documents of ``con`` whose status is ok; every link is new."""
    assert update.encoder is not None
    index = _new_index(update)
    encoder, cache = update.encoder.get()
    index.add_all(stored_documents(con, _live_ok(con), encoder, cache))
    update.index, update.rebuilt = index, True
    update.links = list(index.links)
    update.compared = {d for d in index.documents()["doc_id"] if d != NATIONAL_DOC_ID}


def _opened(root: Path, state: IndexState) -> ReuseIndex | None:
    """The saved index ``state`` names, or None when it is missing, unreadable or out of step."""
    try:
        index = ReuseIndex.open(root / state.index_id)
    except (CompareError, OSError, ValueError, KeyError, EOFError):
        return None
    return index if documents_hash(index.documents()["doc_id"]) == state.documents_hash else None


def find_reuse(
    settings: Settings,
    catalogue: Catalogue,
    docs: Sequence[ParsedDocument],
    gone: Iterable[str] = (),
    loaded: Iterable[str] = (),
) -> ReuseUpdate:
    """Compare this run's documents with the reuse index the published warehouse names (see the
    module docstring). ``gone``: documents the plan withdraws or replaces. ``loaded``: documents
    the run writes without parsing them here (the staged loader's), compared from their rows in
    the publish snapshot (``write_reuse``)."""
    update = ReuseUpdate(settings, catalogue, None, None, None, national_text=national_status(catalogue))
    update.loaded = set(loaded)
    update.encoder = RunEncoder(settings)
    fresh = [d for d in docs if d.ok]
    published = settings.warehouse.exists()
    con = warehouse.read_only(settings.warehouse) if published else None
    try:
        state = index_state(con) if con is not None else None
        live = _live_ok(con) if con is not None else set()
        update.base_id = state.index_id if state else None
        update.model_id = state.model_id if state else None
        if (
            state is not None
            and not fresh
            and not update.loaded
            and _in_step(settings, state, live - set(gone), update.national_text)
        ):
            return update  # nothing to compare or take out: the index is not even opened
        if state is not None:
            update.index = _opened(index_root(settings), state)
        model_changed = (
            bool(fresh or update.loaded)
            and state is not None
            and update.encoder.get()[0].model_id != state.model_id
        )
        if (update.index is None or model_changed) and (live or fresh or update.loaded):
            if con is not None and live:
                rebuild(update, con)
            else:
                update.index = _new_index(update)
                update.rebuilt = state is not None
    finally:
        if con is not None:
            con.close()
    if update.index is None:
        return update
    keep = (live - set(gone)) | {d.doc_id for d in fresh} | update.loaded | {NATIONAL_DOC_ID}
    _remove(update, [d for d in update.index.documents()["doc_id"] if d not in keep])
    _compare(update, fresh)
    return update


def _indexed(live: set[str], national_text: str) -> set[str]:
    """The documents an index in step with a warehouse whose ok documents are ``live`` holds."""
    return live | ({NATIONAL_DOC_ID} if national_text == "measured" else set())


def _in_step(settings: Settings, state: IndexState, live: set[str], national_text: str) -> bool:
    """Whether the saved index ``state`` names holds exactly ``live`` (and is there)."""
    folder = index_root(settings) / state.index_id
    return (
        documents_hash(_indexed(live, national_text)) == state.documents_hash
        and (folder / "index.json").is_file()
    )


def _remove(update: ReuseUpdate, doc_ids: Sequence[str]) -> None:
    assert update.index is not None
    dropped = update.index.remove(doc_ids)
    update.removed |= set(doc_ids)
    update.compared -= set(doc_ids)
    gone = set(doc_ids)
    update.links = [
        link for link in update.links if link.source_doc_id not in gone and link.target_doc_id not in gone
    ]
    del dropped  # their rows leave clause_reuse by document (``write_reuse``)


def _compare(update: ReuseUpdate, docs: Sequence[ParsedDocument]) -> None:
    """Add the documents the index lacks, or holds with other clauses; documents it holds as they are
    are not compared again."""
    index = update.index
    assert index is not None and update.encoder is not None
    todo = []
    for doc in docs:
        if doc.doc_id in index:
            wanted = tuple(c.clause_id for c in doc.clauses if c.kind in REUSE_KINDS)
            if index.document_clause_ids(doc.doc_id) == wanted:
                continue
            _remove(update, [doc.doc_id])
        todo.append(doc)
    if not todo:
        return
    encoder, cache = update.encoder.get()
    todo.sort(key=lambda d: (issue_date(d.meta.issue_date) or "9999", d.doc_id))
    for prepared in reuse_documents(todo, encoder, cache):
        update.links += index.add(prepared)
        update.compared.add(prepared.doc_id)


def _stored_clause_ids(con: duckdb.DuckDBPyConnection, doc_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The ids of the clauses reuse compares (``REUSE_KINDS``) of documents of ``con``, in order."""
    ids = pd.DataFrame({"doc_id": sorted(set(doc_ids))})
    kinds = ", ".join(f"'{k}'" for k in sorted(str(k) for k in REUSE_KINDS))
    con.register("_reuse_ids", ids)
    try:
        rows = con.execute(
            "SELECT doc_id, clause_id FROM clauses WHERE doc_id IN (SELECT doc_id FROM _reuse_ids) "
            f"AND kind IN ({kinds}) ORDER BY doc_id, seq"
        ).fetchall()
    finally:
        con.unregister("_reuse_ids")
    result: dict[str, tuple[str, ...]] = {d: () for d in ids["doc_id"]}
    for doc_id, clause_id in rows:
        result[doc_id] += (clause_id,)
    return result


def _compare_stored(update: ReuseUpdate, con: duckdb.DuckDBPyConnection, doc_ids: set[str]) -> None:
    """``_compare`` for documents of the snapshot ``con`` (their rows, their vectors from the
    embedding cache): those the index holds with the same clauses are not compared again."""
    index = update.index
    assert index is not None and update.encoder is not None
    wanted = _stored_clause_ids(con, doc_ids) if doc_ids else {}
    todo = [
        d for d, clause_ids in wanted.items() if d not in index or index.document_clause_ids(d) != clause_ids
    ]
    stale = [d for d in todo if d in index]
    if stale:
        _remove(update, stale)
    if not todo:
        return
    encoder, cache = update.encoder.get()
    for prepared in stored_documents(con, todo, encoder, cache):
        update.links += index.add(prepared)
        update.compared.add(prepared.doc_id)


def _prune(root: Path, keep: Iterable[str | None]) -> None:
    """Remove the saved indexes the warehouse does not name (left by runs that did not publish)."""
    if not root.is_dir():
        return
    kept = {k for k in keep if k}
    for folder in root.iterdir():
        if folder.is_dir() and folder.name not in kept:
            shutil.rmtree(folder, ignore_errors=True)


def write_reuse(
    con: duckdb.DuckDBPyConnection, update: ReuseUpdate | None, run_id: str, *, scored: bool = False
) -> None:
    """Publish ``update`` into the snapshot ``con`` (under the writer lock; see the module
    docstring). ``scored``: the run wrote coverage, so the measures are computed again even when
    the index did not change."""
    if update is None:
        return
    state = index_state(con)
    moved = (state.index_id if state else None) != update.base_id
    if not moved and update.index is None and state is not None:
        if not update.loaded and _in_step(update.settings, state, _live_ok(con), update.national_text):
            _write_unchanged(con, state.index_id, run_id)  # the step found nothing to do
            return
        update.index = _opened(index_root(update.settings), state)
    if moved:
        rebuild(update, con)  # another run published since this run's step: start from what it left
    if update.index is None:
        if not _live_ok(con):
            return
        rebuild(update, con)
    index = update.index
    assert index is not None
    live = _live_ok(con) | {NATIONAL_DOC_ID}
    indexed = set(index.documents()["doc_id"])
    extra = sorted(indexed - live)
    if extra:
        _remove(update, extra)
    _compare_stored(update, con, (live - indexed - {NATIONAL_DOC_ID}) | (update.loaded & live))
    index_id = state.index_id if state else None
    if update.changed or index_id is None:
        root = index_root(update.settings)
        _prune(root, [index_id])
        index_id = run_id
        index.save(root / index_id)
        _write_links(con, update, run_id)
    if update.changed or scored:
        _write_measures(con, index, run_id, update.national_text)
    _write_state(con, update, index, index_id, run_id)


def _write_links(con: duckdb.DuckDBPyConnection, update: ReuseUpdate, run_id: str) -> None:
    if update.rebuilt:
        con.execute("DELETE FROM clause_reuse")
    else:
        touched = pd.DataFrame({"doc_id": sorted(update.removed | update.compared)})
        con.register("_touched", touched)
        try:
            con.execute(
                "DELETE FROM clause_reuse WHERE source_doc_id IN (SELECT doc_id FROM _touched) "
                "OR target_doc_id IN (SELECT doc_id FROM _touched)"
            )
        finally:
            con.unregister("_touched")
    _insert(con, "clause_reuse", clause_reuse_rows(update.links, run_id))


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    con.register("_reuse_frame", frame)
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM _reuse_frame")
    finally:
        con.unregister("_reuse_frame")


def _write_measures(
    con: duckdb.DuckDBPyConnection, index: ReuseIndex, run_id: str, national_text: str
) -> None:
    """Document similarity, localization and homogeneity, computed again from the index's links
    and the snapshot's decisions and coverage."""
    indexed = index.documents()
    provinces = dict(con.execute("SELECT doc_id, province FROM documents WHERE status = 'ok'").fetchall())
    infos = {
        d: DocumentInfo(d, provinces.get(d), int(n), index.document_clause_ids(d))
        for d, n in zip(indexed["doc_id"], indexed["n_clauses"], strict=True)
    }
    beyond = {
        clause_id: decision == "none"
        for clause_id, decision in con.execute(
            "SELECT cd.clause_id, cd.decision FROM clause_decisions cd JOIN documents d USING (doc_id) "
            "WHERE d.status = 'ok'"
        ).fetchall()
    }
    evidence_rows = con.execute(
        f"""
        SELECT measure_id, doc_id, evidence_clause_id FROM (
            SELECT c.measure_id, c.doc_id, c.evidence_clause_id,
                   row_number() OVER (PARTITION BY c.measure_id, d.province ORDER BY c.score DESC, c.doc_id) AS n
            FROM coverage c JOIN documents d USING (doc_id)
            WHERE d.status = 'ok' AND d.province IS NOT NULL AND c.status IN ('covered', 'partial')
              AND c.evidence_clause_id IS NOT NULL AND d.relevance IS DISTINCT FROM 'off_topic'
        ) WHERE n <= {HOMOGENEITY_DOCS_PER_PROVINCE}
        """
    ).fetchall()
    evidence: dict[str, dict[str, str]] = {}
    for measure_id, doc_id, clause_id in evidence_rows:
        evidence.setdefault(measure_id, {})[doc_id] = clause_id
    wanted = pd.DataFrame({"clause_id": sorted({c for _, _, c in evidence_rows})})
    texts: dict[str, str] = {}
    if not wanted.empty:
        con.register("_wanted", wanted)
        try:
            texts = dict(
                con.execute(
                    "SELECT clause_id, text FROM clauses WHERE clause_id IN (SELECT clause_id FROM _wanted)"
                ).fetchall()
            )
        finally:
            con.unregister("_wanted")
    rows = {c: r for c, r in index.clause_rows().items() if c in texts}
    vectors = dict(zip(rows, index.clause_vectors(list(rows.values())), strict=True))
    evidence = {m: {d: c for d, c in by_doc.items() if c in texts} for m, by_doc in evidence.items()}
    measures = homogeneity(evidence, provinces, texts, vectors if vectors else None)
    for table in MEASURE_TABLES:
        con.execute(f"DELETE FROM {table}")
    _insert(
        con,
        "document_similarity",
        document_similarity_rows(document_similarity(index.links, infos, index.centroids()), run_id),
    )
    _insert(
        con,
        "document_localization",
        document_localization_rows(localization(index.links, infos, national_text, beyond), run_id),
    )
    _insert(con, "measure_homogeneity", measure_homogeneity_rows(measures, run_id))  # fmt: skip


def _write_unchanged(con: duckdb.DuckDBPyConnection, index_id: str, run_id: str) -> None:
    """The ``reuse_index`` row of a run that left the index as it was."""
    con.execute(
        "INSERT INTO reuse_index SELECT index_id, ? AS run_id, model_id, n_documents, n_clauses, n_links, "
        "0 AS n_compared, 0 AS n_removed, false AS rebuilt, documents_hash, national_text, note, ? AS created_at "
        "FROM reuse_index WHERE index_id = ? ORDER BY created_at DESC LIMIT 1",
        [run_id, datetime.now(UTC).replace(tzinfo=None), index_id],
    )


def _write_state(
    con: duckdb.DuckDBPyConnection, update: ReuseUpdate, index: ReuseIndex, index_id: str, run_id: str
) -> None:
    indexed = index.documents()
    row = {
        "index_id": index_id,
        "run_id": run_id,
        "model_id": update.model_id,
        "n_documents": len(indexed),
        "n_clauses": int(indexed["n_clauses"].sum()) if len(indexed) else 0,
        "n_links": len(index.links),
        "n_compared": len(update.compared),
        "n_removed": len(update.removed),
        "rebuilt": update.rebuilt,
        "documents_hash": documents_hash(indexed["doc_id"]),
        "national_text": update.national_text,
        "note": "; ".join(dict.fromkeys(update.notes)) or None,
        "created_at": datetime.now(UTC).replace(tzinfo=None),
    }
    _insert(con, "reuse_index", pd.DataFrame([row]))


__all__ = [
    "IndexState",
    "ReuseUpdate",
    "find_reuse",
    "index_root",
    "index_state",
    "rebuild",
    "stored_documents",
    "write_reuse",
]
