"""The record types that flow between stages. Each is declared once, here.

Extraction produces a ``ParsedDocument`` (metadata, pages, clauses, departments, targets);
matching produces ``Match`` rows and ``CoverageCell`` rows. The warehouse stores them as the
tables described in ``src/compare/store/sql/schema.sql``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class DocStatus(StrEnum):
    """``documents.status``: ``ok`` or why a document produced no clauses."""

    OK = "ok"
    ENCRYPTED = "encrypted"
    CORRUPT = "corrupt"
    EMPTY = "empty"
    NOT_PDF = "not_pdf"
    NO_TEXT = "no_text"
    TOO_LARGE = "too_large"
    NOT_CHINESE = "not_chinese"
    NOT_A_PLAN = "not_a_plan"
    FAILED = "failed"
    WITHDRAWN = "withdrawn"


class ClauseKind(StrEnum):
    """What a clause is, which decides whether it can implement a national measure."""

    MEASURE = "measure"
    HEADING = "heading"
    GOAL = "goal"
    PRINCIPLE = "principle"
    BOILERPLATE = "boilerplate"
    FRAGMENT = "fragment"
    """Text too short or too bare to state anything: a lone number, code or standard number, a
    table cell, a caption, a name without a verb (``compare.ingest.fragments``). Never evidence."""


class CoverageStatus(StrEnum):
    COVERED = "covered"
    PARTIAL = "partial"
    ABSENT = "absent"


@dataclass(frozen=True)
class Page:
    """One page of extracted text (original script), and how it was obtained."""

    number: int
    text: str
    method: str


@dataclass(frozen=True)
class DocumentMeta:
    """What the document says about itself."""

    title: str | None = None
    issuer: str | None = None
    province: str | None = None
    city: str | None = None
    level: str | None = None
    doc_number: str | None = None
    issue_date: str | None = None
    script: str = "simplified"
    ocr_used: bool = False
    page_count: int = 0


@dataclass(frozen=True)
class Clause:
    """A unit of text that may implement a national measure.

    ``text`` is the original text (evidence); ``text_norm`` is normalized for matching
    (simplified script, half-width digits and letters). ``char_start``/``char_end`` are
    offsets into the document's full text (pages joined with a newline).
    """

    clause_id: str
    doc_id: str
    seq: int
    path: str
    heading: str
    kind: ClauseKind
    text: str
    text_norm: str
    page: int
    char_start: int
    char_end: int


@dataclass(frozen=True)
class Department:
    """A department named as responsible for a clause."""

    clause_id: str
    doc_id: str
    name: str
    role: str


@dataclass(frozen=True)
class Target:
    """A quantitative target stated in a document."""

    clause_id: str
    doc_id: str
    indicator: str
    value: float
    unit: str
    year: int | None
    text: str


@dataclass(frozen=True)
class ParsedDocument:
    """Everything extraction and segmentation learn about one file."""

    doc_id: str
    file_name: str
    sha256: str
    status: str
    message: str = ""
    meta: DocumentMeta = field(default_factory=DocumentMeta)
    pages: tuple[Page, ...] = ()
    clauses: tuple[Clause, ...] = ()
    departments: tuple[Department, ...] = ()
    targets: tuple[Target, ...] = ()
    #: Set by scoring (``compare.match.relevance``): plan, related or off_topic, and why.
    relevance: str | None = None
    relevance_reasons: str = ""

    @property
    def ok(self) -> bool:
        return self.status == DocStatus.OK

    @property
    def page_count(self) -> int:
        return len(self.pages)


@dataclass(frozen=True)
class Match:
    """One of the top-k national measures for a clause."""

    clause_id: str
    measure_id: str
    rank: int
    score: float
    channels: tuple[tuple[str, float], ...]
    method: str


@dataclass(frozen=True)
class CoverageCell:
    """One document x national measure decision."""

    doc_id: str
    measure_id: str
    status: CoverageStatus
    score: float
    evidence_clause_id: str | None


@dataclass(frozen=True)
class ClauseDecision:
    """Whether a clause implements a national measure (its best match) or none."""

    clause_id: str
    doc_id: str
    decision: str
    measure_id: str | None
    score: float
