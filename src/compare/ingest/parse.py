"""One file to a ``ParsedDocument``: the corpus listing, and parsing that never raises for a bad file.

An unexpected exception in one step of one document (``Step``) leaves that document ``failed``,
with a message naming the file and the step.
"""

from __future__ import annotations

import hashlib
import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from compare.errors import CorpusError, DocumentError, StepError, display_name
from compare.ingest.extract import pages as extract_pages
from compare.ingest.extract import sha256_of
from compare.ingest.metadata import metadata, not_a_plan_reason
from compare.ingest.normalize import cjk_share
from compare.ingest.segment import clauses as segment_clauses
from compare.ingest.segment import full_text
from compare.ingest.structure import clause_departments, clause_targets
from compare.records import DocStatus, ParsedDocument

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
