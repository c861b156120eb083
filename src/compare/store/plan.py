"""Which files of the corpus are new, changed, unchanged or gone (``plan``), and the ``PlannedRun``
every later step of a run works from (``plan_run``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from compare.errors import CorpusError
from compare.ingest.extract import sha256_of
from compare.ingest.parse import DOC_ID_HEX, corpus_files, corpus_names
from compare.match.catalogue import Catalogue
from compare.match.scorer import ScoringSetup, scoring_setup
from compare.records import DocStatus
from compare.settings import Settings
from compare.store import warehouse


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
