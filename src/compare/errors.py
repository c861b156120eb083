"""Every error that compare raises on purpose.

The tree::

    CompareError                      base: anything a user can cause
    ├── SettingsError                 a setting, flag or COMPARE_* variable has a bad value
    ├── CatalogueError                the national catalogue is missing, malformed or the wrong shape
    │   └── SeedFormatError           the national seed text cannot be parsed into 65 measures
    ├── ModelError                    an embedding model cannot be built, verified or loaded
    ├── DocumentError                 one input document cannot be read (carries the file and a status)
    ├── LabelError                    a gold label file is malformed or points at unknown measures
    ├── ReviewError                   a review workbook cannot be imported (lists every bad sheet and row)
    ├── WarehouseError                the DuckDB warehouse cannot be opened, migrated or published
    └── ReportError                   the committee report cannot be rendered (e.g. no Chromium)

A ``DocumentError`` never stops a run: the pipeline records its status and message
against the document and carries on with the next file.
"""

from __future__ import annotations

from pathlib import Path


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


class DocumentError(CompareError):
    """One input document cannot be processed.

    ``status`` is the value stored in ``documents.status`` (for example ``encrypted``,
    ``corrupt``, ``not_pdf``); the message names the file and the problem.
    """

    def __init__(self, path: Path | str, status: str, problem: str) -> None:
        self.path = Path(path)
        self.status = status
        self.problem = problem
        super().__init__(f"{self.path.name}: {problem}")


class ReportError(CompareError):
    """The committee report cannot be rendered."""
