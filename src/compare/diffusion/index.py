"""The reuse index: every clause seen so far, searchable for verbatim and paraphrased reuse.

Adding a document compares each of its clauses with the index, and nothing else:

- **verbatim**: each passage (sentence) of the clause is looked up in a MinHash LSH index
  (``datasketch.MinHashLSH``) of the passages seen so far. A passage that resembles an indexed
  one (estimated Jaccard >= ``lsh_threshold``) joins the group of the most alike, and only a
  passage that resembles none enters the LSH index as a new group's representative, so a
  passage copied into hundreds of plans (their names and figures changed) is one entry, not
  hundreds; a group remembers the clauses holding it, the ``max_group_sources`` earliest-dated
  first. The clauses of the (at most ``max_group_matches``) groups
  a clause's passages fall into are its candidates, ranked by the passage text they share;
  the best ``max_verify`` are verified exactly: shingle containment (share of the shorter
  clause's 4-character shingles found in the other) and the longest shared stretch (the longest
  passage of the clause whose every 4-character shingle is in the other).
  A pair is ``verbatim`` when its containment reaches ``verbatim_min_overlap`` or its longest
  shared run reaches ``verbatim_min_run`` characters (a copied sentence inside a longer item).
- **paraphrase**: a rewording shares few character runs, and high semantic similarity alone
  does not tell a paraphrase of another plan from an independent restatement of the same
  national measure (two provinces writing up 农村电子商务 sound alike). So paraphrase is looked
  for where copying is established: in each document pair joined by at least ``min_anchors``
  verbatim links (the ``max_anchored_documents`` with most), the remaining clauses of the two
  documents are compared as one small block (a blocked nearest-neighbour search: cosines of the
  run's clause vectors), and a pair of clauses that are each other's nearest is a paraphrase
  when the encoder's fitted rule says so (``compare.diffusion.paraphrase``).

Each clause keeps at most ``max_links`` links per kind (the strongest). A link's direction comes
from the documents' issue dates: earlier -> later; undirected when they tie or one is missing.
A document already in the index is not compared again (it is skipped), so a rerun over an
unchanged corpus compares nothing. ``save``/``open`` keep the index in a folder: the LSH index,
the groups, the clause table and vectors, and the links found so far.

Cost per added document: one LSH query per passage, at most ``max_verify`` exact checks per
clause and at most ``max_anchored_documents`` blocks; none grows with the number of documents
the index holds, so building the index over N documents grows about linearly in N.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import pickle
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from compare.diffusion.paraphrase import ParaphraseRule
from compare.diffusion.text import (
    MINHASH_SCHEME,
    MINHASH_SEED,
    MinHasher,
    bigram_overlap,
    estimated_jaccard,
    passages,
    reuse_text,
    shared_stretch,
    shingles,
)
from compare.errors import SettingsError

VERBATIM = "verbatim"
PARAPHRASE = "paraphrase"
KINDS = (VERBATIM, PARAPHRASE)
#: Doc id of the Chinese national plan when its text is indexed.
NATIONAL_DOC_ID = "national"
NATIONAL_ISSUE_DATE = "2015-07-01"
INDEX_FORMAT = 1
_FILES = ("lsh.pkl", "groups.pkl", "vectors.npy", "clauses.parquet", "links.parquet", "index.json")


@dataclass(frozen=True)
class ReuseSettings:
    """How reuse is searched and decided. Defaults are the calibrated ones (docs/diffusion.md)."""

    #: MinHash permutations and the LSH threshold (estimated Jaccard of two passages).
    num_perm: int = 64
    lsh_threshold: float = 0.3
    #: Groups a passage is matched with at most (the most alike).
    max_group_matches: int = 4
    #: Clauses a group keeps as candidate sources (the earliest-dated).
    max_group_sources: int = 16
    #: Candidate clauses verified exactly per clause, the ones sharing the most passage text.
    max_verify: int = 12
    #: A pair is verbatim when this share of the shorter clause's shingles is in the other and
    #: they share a run of at least ``verbatim_min_run`` characters ...
    verbatim_min_overlap: float = 0.6
    verbatim_min_run: int = 20
    #: ... or when they share a run of at least this many characters (a copied sentence).
    verbatim_passage_run: int = 40
    #: Verbatim links that make a document pair one where paraphrase is looked for.
    min_anchors: int = 2
    #: Anchored documents compared per added document for paraphrase (the most anchored).
    max_anchored_documents: int = 8
    #: Links kept per clause and kind, the strongest.
    max_links: int = 5

    def __post_init__(self) -> None:
        problems = []
        for name in (
            "num_perm",
            "max_group_sources",
            "max_verify",
            "verbatim_min_run",
            "verbatim_passage_run",
            "min_anchors",
            "max_anchored_documents",
            "max_links",
        ):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("lsh_threshold", "verbatim_min_overlap"):
            if not 0.0 < getattr(self, name) <= 1.0:
                problems.append(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if problems:
            raise SettingsError("reuse settings: " + "; ".join(problems))


@dataclass(frozen=True)
class ReuseClause:
    """One clause as reuse sees it."""

    clause_id: str
    doc_id: str
    text: str

    @property
    def key_text(self) -> str:
        return reuse_text(self.text)


@dataclass(frozen=True)
class ReuseDocument:
    """A document's reusable clauses, their vectors (rows in order) and what dates and places it."""

    doc_id: str
    name: str
    clauses: tuple[ReuseClause, ...]
    vectors: np.ndarray
    province: str | None = None
    level: str | None = None
    issue_date: str | None = None

    def __post_init__(self) -> None:
        if len(self.vectors) != len(self.clauses):
            raise ValueError(f"{self.name}: {len(self.clauses)} clauses but {len(self.vectors)} vectors")


@dataclass(frozen=True)
class ReuseLink:
    """Two clauses of two documents, one reusing the other."""

    kind: str
    source_doc_id: str
    source_clause_id: str
    target_doc_id: str
    target_clause_id: str
    #: True when the dates differ: source is the earlier document. False: the dates tie or one
    #: is missing, and source/target are in doc id order.
    directed: bool
    #: Share of the shorter clause's shingles found in the other (verbatim evidence).
    overlap: float
    #: Longest passage the two clauses share, in characters (``shared_stretch``).
    shared_chars: int
    #: Cosine of the two clause vectors (the run's encoder).
    similarity: float
    #: Share of the shorter clause's character bigrams found in the other.
    wording: float


@dataclass(frozen=True)
class Candidate:
    """A pair of clauses the index examined, with what it measured."""

    clause_id: str
    other_clause_id: str
    overlap: float
    shared_chars: int
    similarity: float
    wording: float
    #: ``verbatim`` (an LSH candidate) or ``paraphrase`` (a mutually nearest pair of an anchored block).
    stage: str = VERBATIM


@dataclass
class _Doc:
    doc_id: str
    name: str
    province: str | None
    level: str | None
    issue_date: str | None
    n_clauses: int
    centroid: list[float] = field(default_factory=list)


def direction(date_a: str | None, date_b: str | None) -> int:
    """-1 when a is earlier, 1 when b is earlier, 0 when they tie or one is missing."""
    if not date_a or not date_b or date_a == date_b:
        return 0
    return -1 if date_a < date_b else 1


def _lean(signature: np.ndarray) -> object:
    from datasketch import LeanMinHash

    return LeanMinHash(seed=MINHASH_SEED, hashvalues=signature, scheme=MINHASH_SCHEME)


def _date_key(date: str | None) -> str:
    return date or "9999-99-99"


class ReuseIndex:
    """Clauses of the documents added so far, searchable for reuse (see the module docstring)."""

    def __init__(
        self, dim: int, settings: ReuseSettings | None = None, paraphrase: ParaphraseRule | None = None
    ) -> None:
        from datasketch import MinHashLSH

        self.dim = dim
        self.settings = settings or ReuseSettings()
        self.paraphrase = paraphrase
        self._hasher = MinHasher(self.settings.num_perm)
        self._lsh = MinHashLSH(threshold=self.settings.lsh_threshold, num_perm=self.settings.num_perm)
        #: group (representative passage) -> its signature, and the clause rows holding it
        self._group_signatures: list[np.ndarray] = []
        self._group_members: list[list[int]] = []
        #: clause row -> clause id, doc id, text; each document's rows are consecutive
        self._clause_ids: list[str] = []
        self._clause_docs: list[str] = []
        self._clause_texts: list[str] = []
        self._clause_keys: list[str] = []
        #: clause vectors: the first ``n_clauses`` rows of a buffer that doubles when full
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        self._docs: dict[str, _Doc] = {}
        self._first_row: dict[str, int] = {}
        self.links: list[ReuseLink] = []
        #: When a list, every candidate pair examined is appended to it (``Candidate``): what a
        #: paraphrase rule is fitted on.
        self.candidate_log: list[Candidate] | None = None

    # ---- what is inside ----------------------------------------------------------------
    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs

    def __len__(self) -> int:
        return len(self._docs)

    @property
    def n_clauses(self) -> int:
        return len(self._clause_ids)

    @property
    def n_groups(self) -> int:
        return len(self._group_members)

    def documents(self) -> pd.DataFrame:
        """One row per indexed document: id, name, province, level, issue date, clauses."""
        rows = [{k: v for k, v in asdict(d).items() if k != "centroid"} for d in self._docs.values()]
        return pd.DataFrame(rows, columns=["doc_id", "name", "province", "level", "issue_date", "n_clauses"])

    def centroids(self) -> dict[str, np.ndarray]:
        """Doc id -> the unit mean of its clause vectors."""
        return {d.doc_id: np.asarray(d.centroid, dtype=np.float32) for d in self._docs.values() if d.centroid}

    def _matrix(self) -> np.ndarray:
        return self._vectors[: len(self._clause_ids)]

    def document_rows(self, doc_id: str) -> range:
        """The clause rows of an indexed document."""
        start = self._first_row[doc_id]
        return range(start, start + self._docs[doc_id].n_clauses)

    def clause_vectors(self, rows: Sequence[int] | range) -> np.ndarray:
        """The stored vectors of clause rows."""
        return self._matrix()[np.asarray(list(rows), dtype=np.int64)]

    def clause_texts(self) -> dict[str, str]:
        """Clause id -> text of every indexed clause (of documents still in the index)."""
        return {
            clause_id: text
            for clause_id, doc_id, text in zip(
                self._clause_ids, self._clause_docs, self._clause_texts, strict=True
            )
            if doc_id in self._docs
        }

    def document_clause_ids(self, doc_id: str) -> tuple[str, ...]:
        """The clause ids of an indexed document, in order."""
        return tuple(self._clause_ids[r] for r in self.document_rows(doc_id))

    def clause_rows(self) -> dict[str, int]:
        """Clause id -> row, for the clauses of documents still in the index."""
        return {self._clause_ids[r]: r for doc_id in self._docs for r in self.document_rows(doc_id)}

    # ---- removing ----------------------------------------------------------------------
    def remove(self, doc_ids: Iterable[str]) -> list[ReuseLink]:
        """Take documents out of the index (a withdrawn or replaced file); returns the links
        they were part of, which leave the index with them.

        Their clauses no longer count as candidates (they leave every passage group) and their
        links are dropped; their rows stay in the clause table, unused, until the index is
        rebuilt. A passage group they alone held stays, empty: a later passage joining it
        finds no candidate there."""
        gone = {d for d in doc_ids if d in self._docs}
        if not gone:
            return []
        rows: set[int] = set()
        for doc_id in gone:
            rows.update(self.document_rows(doc_id))
            del self._docs[doc_id]
            del self._first_row[doc_id]
        for members in self._group_members:
            if any(r in rows for r in members):
                members[:] = [r for r in members if r not in rows]
        dropped = [link for link in self.links if link.source_doc_id in gone or link.target_doc_id in gone]
        self.links = [
            link for link in self.links if link.source_doc_id not in gone and link.target_doc_id not in gone
        ]
        return dropped

    # ---- adding ------------------------------------------------------------------------
    def add(self, doc: ReuseDocument) -> list[ReuseLink]:
        """Compare ``doc`` with the index, then add it; returns the new links. A document already
        in the index is skipped (nothing is compared) and gives no link."""
        if doc.doc_id in self._docs:
            return []
        if doc.vectors.ndim != 2 or doc.vectors.shape[1] != self.dim:
            raise SettingsError(
                f"{doc.name}: clause vectors of dimension {doc.vectors.shape[-1]}, the index holds {self.dim}; "
                "use the encoder the index was built with, or build a new index"
            )
        vectors = np.ascontiguousarray(doc.vectors, dtype=np.float32)
        texts = [c.key_text for c in doc.clauses]
        clause_passages = [passages(c.text) for c in doc.clauses]
        flat = [p for ps in clause_passages for p in ps]
        signatures = self._hasher.signatures(flat)
        owner = np.repeat(np.arange(len(doc.clauses)), [len(ps) for ps in clause_passages])
        matched, joins = self._passage_groups(signatures)
        candidates = self._verbatim_candidates(owner, matched, [len(p) for p in flat], len(doc.clauses))
        links: list[ReuseLink] = []
        for row, clause in enumerate(doc.clauses):
            links += self._verbatim(doc, clause, texts[row], vectors[row], candidates[row])
        links += self._paraphrases(doc, texts, vectors, links)
        self._insert(doc, vectors, owner, joins, signatures)
        self.links += links
        return links

    def add_all(self, docs: Iterable[ReuseDocument]) -> list[ReuseLink]:
        """``add`` each document in turn; the new links."""
        found: list[ReuseLink] = []
        for doc in docs:
            found += self.add(doc)
        return found

    def _passage_groups(self, signatures: np.ndarray) -> tuple[list[list[int]], list[int | None]]:
        """For each passage, the groups it resembles (estimated Jaccard >= ``lsh_threshold``, the
        ``max_group_matches`` most alike) and the group it joins: the most alike (None: it resembles
        none and starts a group of its own)."""
        matched: list[list[int]] = []
        joins: list[int | None] = []
        for signature in signatures:
            keys = sorted(self._lsh.query(_lean(signature)))
            if not keys:
                matched.append([])
                joins.append(None)
                continue
            scores = estimated_jaccard(signature, np.stack([self._group_signatures[k] for k in keys]))
            order = np.argsort(-scores, kind="stable")[: self.settings.max_group_matches]
            alike = [keys[i] for i in order if scores[i] >= self.settings.lsh_threshold]
            matched.append(alike)
            joins.append(alike[0] if alike else None)
        return matched, joins

    def _verbatim_candidates(
        self, owner: np.ndarray, matched: list[list[int]], lengths: list[int], n: int
    ) -> list[list[int]]:
        """Per clause of the new document, the indexed clause rows sharing its passages, best first."""
        shared: list[dict[int, int]] = [defaultdict(int) for _ in range(n)]
        for passage, groups in enumerate(matched):
            rows = {row for group in groups for row in self._group_members[group]}
            for row in rows:
                shared[owner[passage]][row] += lengths[passage]
        limit = self.settings.max_verify
        return [sorted(s, key=lambda r: (-s[r], r))[:limit] for s in shared]

    def _measured(
        self, clause: ReuseClause, text: str, own: set[str], row: int, sim: float, stage: str = VERBATIM
    ) -> Candidate:
        other = self._clause_keys[row]
        theirs = shingles(other)
        shared = len(own & theirs)
        overlap = shared / min(len(own), len(theirs)) if own and theirs else 0.0
        run = shared_stretch(text, theirs) if shared else 0
        wording = (
            bigram_overlap(text, other) if stage == PARAPHRASE or self.candidate_log is not None else 0.0
        )
        found = Candidate(clause.clause_id, self._clause_ids[row], overlap, run, sim, wording, stage)
        if self.candidate_log is not None:
            self.candidate_log.append(found)
        return found

    def _exact(self, measured: Candidate, text: str, row: int) -> Candidate:
        return replace(measured, wording=bigram_overlap(text, self._clause_keys[row]))

    def is_verbatim(self, overlap: float, run: int) -> bool:
        s = self.settings
        return (
            overlap >= s.verbatim_min_overlap and run >= s.verbatim_min_run
        ) or run >= s.verbatim_passage_run

    def _verbatim(
        self, doc: ReuseDocument, clause: ReuseClause, text: str, vector: np.ndarray, rows: list[int]
    ) -> list[ReuseLink]:
        if not rows or not text:
            return []
        sims = self.clause_vectors(rows) @ vector
        own = shingles(text)
        found = []
        for row, sim in zip(rows, sims, strict=True):
            measured = self._measured(clause, text, own, row, float(sim))
            if self.is_verbatim(measured.overlap, measured.shared_chars):
                exact = self._exact(measured, text, row)
                found.append((measured.overlap, self._link(VERBATIM, doc, clause, row, exact)))
        found.sort(key=lambda s: (-s[0], s[1].source_clause_id, s[1].target_clause_id))
        return [link for _, link in found[: self.settings.max_links]]

    def _paraphrases(
        self, doc: ReuseDocument, texts: list[str], vectors: np.ndarray, verbatim: list[ReuseLink]
    ) -> list[ReuseLink]:
        """Mutually nearest clause pairs of the anchored document pairs that the rule calls paraphrases."""
        if self.paraphrase is None and self.candidate_log is None:
            return []
        anchors: dict[str, int] = defaultdict(int)
        copied: dict[str, set[str]] = defaultdict(set)
        for link in verbatim:
            other = link.source_doc_id if link.target_doc_id == doc.doc_id else link.target_doc_id
            anchors[other] += 1
            copied[other] |= {link.source_clause_id, link.target_clause_id}
        ranked = sorted(
            (d for d, n in anchors.items() if n >= self.settings.min_anchors), key=lambda d: (-anchors[d], d)
        )
        own_row = {c.clause_id: i for i, c in enumerate(doc.clauses)}
        links = []
        for other in ranked[: self.settings.max_anchored_documents]:
            mine = [i for i, c in enumerate(doc.clauses) if c.clause_id not in copied[other] and texts[i]]
            theirs = [r for r in self.document_rows(other) if self._clause_ids[r] not in copied[other]]
            if not mine or not theirs:
                continue
            block = vectors[mine] @ self.clause_vectors(theirs).T
            best_col = block.argmax(axis=1)
            best_row = block.argmax(axis=0)
            for i, j in enumerate(best_col):
                if best_row[j] != i:
                    continue
                clause = doc.clauses[mine[i]]
                text = texts[own_row[clause.clause_id]]
                measured = self._measured(
                    clause, text, shingles(text), theirs[j], float(block[i, j]), PARAPHRASE
                )
                if self.paraphrase is not None and self.paraphrase.is_paraphrase(
                    measured.similarity, measured.wording
                ):
                    exact = self._exact(measured, text, theirs[j])
                    links.append(self._link(PARAPHRASE, doc, clause, theirs[j], exact))
        return links

    def _link(
        self, kind: str, doc: ReuseDocument, clause: ReuseClause, row: int, measured: Candidate
    ) -> ReuseLink:
        other_doc = self._docs[self._clause_docs[row]]
        new = (doc.doc_id, clause.clause_id)
        old = (other_doc.doc_id, self._clause_ids[row])
        order = direction(other_doc.issue_date, doc.issue_date)
        if order == 0:
            source, target = sorted([new, old])
        else:
            source, target = (old, new) if order < 0 else (new, old)
        return ReuseLink(
            kind=kind,
            source_doc_id=source[0],
            source_clause_id=source[1],
            target_doc_id=target[0],
            target_clause_id=target[1],
            directed=order != 0,
            overlap=round(measured.overlap, 4),
            shared_chars=measured.shared_chars,
            similarity=round(measured.similarity, 4),
            wording=round(measured.wording, 4),
        )

    def _insert(
        self,
        doc: ReuseDocument,
        vectors: np.ndarray,
        owner: np.ndarray,
        joins: list[int | None],
        signatures: np.ndarray,
    ) -> None:
        base = len(self._clause_ids)
        self._first_row[doc.doc_id] = base
        self._clause_ids += [c.clause_id for c in doc.clauses]
        self._clause_docs += [doc.doc_id] * len(doc.clauses)
        self._clause_texts += [c.text for c in doc.clauses]
        self._clause_keys += [c.key_text for c in doc.clauses]
        end = base + len(vectors)
        if end > len(self._vectors):
            grown = np.zeros((max(end, 2 * len(self._vectors)), self.dim), dtype=np.float32)
            grown[:base] = self._vectors[:base]
            self._vectors = grown
        self._vectors[base:end] = vectors
        centroid: list[float] = []
        if len(vectors):
            mean = vectors.mean(axis=0)
            norm = float(np.linalg.norm(mean))
            centroid = (mean / norm if norm > 0 else mean).tolist()
        self._docs[doc.doc_id] = _Doc(
            doc.doc_id, doc.name, doc.province, doc.level, doc.issue_date, len(doc.clauses), centroid
        )
        for passage, group in enumerate(joins):
            row = base + int(owner[passage])
            if group is None:
                group = len(self._group_members)
                self._group_signatures.append(signatures[passage])
                self._group_members.append([])
                self._lsh.insert(group, _lean(signatures[passage]), check_duplication=False)
            members = self._group_members[group]
            if row not in members:
                members.append(row)
                if len(members) > self.settings.max_group_sources:
                    members.sort(key=lambda r: (_date_key(self._docs[self._clause_docs[r]].issue_date), r))
                    del members[self.settings.max_group_sources :]

    # ---- persistence -------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write the index into ``folder`` (each file written aside, then renamed into place)."""
        folder.mkdir(parents=True, exist_ok=True)

        def write(name: str, writer: Callable[[Path], object]) -> None:
            tmp = folder / f".{name}.tmp"
            writer(tmp)
            os.replace(tmp, folder / name)

        state = {"signatures": np.asarray(self._group_signatures), "members": self._group_members}
        write("groups.pkl", lambda p: p.write_bytes(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)))
        write("lsh.pkl", lambda p: p.write_bytes(pickle.dumps(self._lsh, protocol=pickle.HIGHEST_PROTOCOL)))
        write("vectors.npy", lambda p: np.save(p.open("wb"), self._matrix()))
        clauses = pd.DataFrame(
            {"clause_id": self._clause_ids, "doc_id": self._clause_docs, "text": self._clause_texts}
        )
        write("clauses.parquet", lambda p: clauses.to_parquet(p, index=False))
        write("links.parquet", lambda p: links_frame(self.links).to_parquet(p, index=False))
        meta = {
            "format": INDEX_FORMAT,
            "dim": self.dim,
            "settings": asdict(self.settings),
            "paraphrase": asdict(self.paraphrase) if self.paraphrase else None,
            "documents": [asdict(d) for d in self._docs.values()],
            "first_rows": self._first_row,
        }
        write("index.json", lambda p: p.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8"))

    @classmethod
    def open(cls, folder: Path) -> ReuseIndex:
        """The index saved in ``folder``."""
        missing = [name for name in _FILES if not (folder / name).is_file()]
        if missing:
            raise SettingsError(
                f"{folder}: not a reuse index (missing {', '.join(missing)}); build one with ReuseIndex.save"
            )
        meta = json.loads((folder / "index.json").read_text(encoding="utf-8"))
        if meta.get("format") != INDEX_FORMAT:
            raise SettingsError(
                f"{folder}: reuse index format {meta.get('format')}, expected {INDEX_FORMAT}; rebuild it"
            )
        rule = ParaphraseRule(**meta["paraphrase"]) if meta["paraphrase"] else None
        index = cls(int(meta["dim"]), ReuseSettings(**meta["settings"]), rule)
        state = pickle.loads((folder / "groups.pkl").read_bytes())
        index._group_signatures = list(state["signatures"])
        index._group_members = state["members"]
        index._lsh = pickle.loads((folder / "lsh.pkl").read_bytes())
        index._vectors = np.load(folder / "vectors.npy")
        clauses = pd.read_parquet(folder / "clauses.parquet")
        index._clause_ids = clauses["clause_id"].tolist()
        index._clause_docs = clauses["doc_id"].tolist()
        index._clause_texts = clauses["text"].tolist()
        index._clause_keys = [reuse_text(t) for t in index._clause_texts]
        index._docs = {d["doc_id"]: _Doc(**d) for d in meta["documents"]}
        index._first_row = {k: int(v) for k, v in meta["first_rows"].items()}
        index.links = links_of(pd.read_parquet(folder / "links.parquet"))
        return index


LINK_COLUMNS = [f.name for f in ReuseLink.__dataclass_fields__.values()]


def links_frame(links: Sequence[ReuseLink]) -> pd.DataFrame:
    """Links as a frame, one row each, columns as ``ReuseLink``'s fields."""
    return pd.DataFrame([asdict(link) for link in links], columns=LINK_COLUMNS)


def links_of(frame: pd.DataFrame) -> list[ReuseLink]:
    return [
        ReuseLink(**{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()})
        for row in frame.to_dict("records")
    ]


def issue_date(value: str | dt.date | None) -> str | None:
    """An ISO date string (or None) from what metadata gives."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10] or None


__all__ = [
    "KINDS",
    "NATIONAL_DOC_ID",
    "PARAPHRASE",
    "VERBATIM",
    "ReuseClause",
    "ReuseDocument",
    "ReuseIndex",
    "ReuseLink",
    "ReuseSettings",
    "direction",
    "issue_date",
    "links_frame",
]
