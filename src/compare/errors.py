"""Every error that compare raises on purpose.

The tree::

    CompareError                      base: anything a user can cause
    ├── SettingsError                 a setting, flag or COMPARE_* variable has a bad value
    ├── CatalogueError                the national catalogue is missing, malformed or the wrong shape
    │   └── SeedFormatError           the national seed text cannot be parsed into 65 measures
    ├── ModelError                    an embedding model cannot be built, verified or loaded
    ├── CorpusError                   the corpus folder is missing, or holds no PDF while the warehouse has documents
    ├── DocumentError                 one input document cannot be read (carries the file and a status)
    ├── LabelError                    a gold label file is malformed or points at unknown measures
    ├── ReviewError                   a review workbook cannot be imported (lists every bad sheet and row)
    ├── WarehouseError                the DuckDB warehouse cannot be opened, migrated or published
    │   └── WarehouseLockedError      another process holds the warehouse file open read-write
    ├── LimitError                    a resource limit stopped the work (names the limit and its setting)
    └── ReportError                   the committee report cannot be rendered (e.g. no Chromium)

    StepError                         an unexpected exception in one step of one document (parse,
                                      segment, embed, score, …), with the step's name: not a user's
                                      error, so not a CompareError
    Interrupted                       the command was stopped by SIGINT (Ctrl-C) or SIGTERM: not an
                                      error; a BaseException, so that no ``except Exception`` takes it

Neither a ``DocumentError`` nor a ``StepError`` stops a run: the pipeline records a status and
a message against the document and carries on with the next file. Messages name files with
``display_name``, which every file name can be stored and shown as.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The encoding tried for a file name whose bytes are not UTF-8: a zip made on a Chinese Windows
#: and unpacked on Linux gives GBK names, which GB18030 (a superset of GBK) decodes.
LEGACY_NAME_ENCODING = "gb18030"


def _readable_part(part: str, *, decode: bool) -> str:
    try:
        raw = os.fsencode(part)
    except UnicodeEncodeError:  # a lone surrogate that no file system gave: escape it as it is
        return part.encode("utf-8", "backslashreplace").decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if decode:
        try:
            return raw.decode(LEGACY_NAME_ENCODING)
        except UnicodeDecodeError:
            pass
    return raw.decode("utf-8", "backslashreplace")


def display_name(name: str, *, decode: bool = True) -> str:
    """A file name (or a ``/``-separated path) as it can be stored in the warehouse and shown.

    Python gives a name whose bytes are not UTF-8 as a ``str`` with lone surrogates
    (``os.fsdecode``), which no UTF-8 writer accepts. Each such part of the path is decoded as
    GB18030 when its bytes are valid GB18030 (``decode``), else its undecodable bytes are
    written as ``\\xNN`` escapes; a UTF-8 name comes back unchanged. The file itself is still
    opened by its real path.
    """
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return "/".join(_readable_part(part, decode=decode) for part in name.split("/"))


class CompareError(Exception):
    """Base class: an error with a message that says what was wrong and what to do."""


class SettingsError(CompareError, ValueError):
    """A setting has a value that cannot work."""


class CatalogueError(CompareError):
    """The national measure catalogue is missing or not of the expected shape."""


class SeedFormatError(CatalogueError):
    """The seed translation of the national plan does not have the expected structure."""


class ModelError(CompareError):
    """An embedding model cannot be built, verified or loaded."""


class LabelError(CompareError):
    """A gold label file cannot be used."""


class ReviewError(CompareError):
    """A review workbook cannot be imported or exported; ``problems`` names each sheet and row."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        super().__init__(message + "".join(f"\n  {p}" for p in self.problems))


class WarehouseError(CompareError):
    """The warehouse cannot be opened, migrated or published."""


class WarehouseLockedError(WarehouseError):
    """Another process holds the warehouse file open read-write (DuckDB's lock); ``pid`` is that
    process when DuckDB names it."""

    def __init__(self, path: Path, pid: int | None = None, waited: float = 0.0) -> None:
        self.path = Path(path)
        self.pid = pid
        holder = f" (pid {pid})" if pid is not None else ""
        after = f" (waited {waited:.0f} s)" if waited else ""
        super().__init__(
            f"the warehouse {path} is locked by another process{holder}{after}: close read-write "
            "connections to it, or open them read_only=True"
        )


class LimitError(CompareError):
    """A resource limit stopped the work; the message names the limit, and ``setting`` the
    ``COMPARE_*`` variable (or flag) that raises it."""

    def __init__(self, message: str, setting: str) -> None:
        self.setting = setting
        super().__init__(message)


class CorpusError(CompareError):
    """The corpus folder cannot be used: it does not exist, or it holds no PDF while the warehouse
    has documents (a run would mark them all withdrawn: an unmounted share looks like this)."""


class DocumentError(CompareError):
    """One input document cannot be processed.

    ``status`` is the value stored in ``documents.status`` (for example ``encrypted``,
    ``corrupt``, ``not_pdf``); the message names the file and the problem.
    """

    def __init__(self, path: Path | str, status: str, problem: str) -> None:
        self.path = Path(path)
        self.status = status
        self.problem = problem
        super().__init__(f"{display_name(self.path.name)}: {problem}")


class StepError(Exception):
    """An unexpected exception in one step of processing one document; ``step`` names the step
    (``parse``, ``segment``, ``metadata``, ``embed``, ``score``, …), ``cause`` is the exception."""

    def __init__(self, step: str, cause: BaseException) -> None:
        super().__init__(step, cause)
        self.step = step
        self.cause = cause

    def __str__(self) -> str:
        return f"{self.step}: {type(self.cause).__name__}: {self.cause}"


class ReportError(CompareError):
    """The committee report cannot be rendered."""


class Interrupted(BaseException):
    """The command was stopped by a signal (SIGINT: Ctrl-C, or SIGTERM). Not an error and not a
    ``CompareError``: it passes every ``except Exception``. ``exit_code`` is 128 + the signal
    number (130, 143), as a shell reports a process a signal ended; the message says what the
    warehouse holds."""

    def __init__(self, signum: int, message: str) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(message)
