"""``compare report``: the committee's coverage report as HTML and PDF.

Registered on the main ``compare`` app in ``compare.cli.main``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from compare.cli.console import console, fail
from compare.errors import CompareError
from compare.settings import PROJECT_ROOT, Settings, setting_help

#: Where reports go by default: ``reports/`` in the project.
DEFAULT_REPORT_DIR = Path("reports") if Path.cwd().resolve() == PROJECT_ROOT else PROJECT_ROOT / "reports"


def report(
    warehouse: Annotated[
        Path | None,
        typer.Option(help=f"Published DuckDB warehouse to report on {setting_help('warehouse')}."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for report.html and report.pdf.")] = DEFAULT_REPORT_DIR,
    pdf: Annotated[
        bool, typer.Option("--pdf/--no-pdf", help="Also print report.pdf with headless Chromium.")
    ] = True,
) -> None:
    """Write the coverage report for the expert committee: one self-contained HTML page and its PDF.

    Heatmaps of every document against the 11 actions, 7 support sections and 65 national
    measures; a page per document (gaps, additions beyond the national plan, targets beside
    the national objectives, departments); a block per measure; the method, evaluation figures
    and provenance; and every quoted clause with its page and score, linked from each claim.
    The PDF needs Chromium and a TrueType CJK font (apt-get install chromium fonts-wqy-zenhei).

    Example: compare report --warehouse warehouse/compare.duckdb --out reports
    """
    from compare.report.render import write_report
    from compare.store.export import output_folder

    try:
        settings = Settings.from_env(warehouse=warehouse)
        output_folder(out, create=False)
        files = write_report(settings.warehouse, out, pdf=pdf)
    except CompareError as exc:
        fail(exc)
    console.print(
        f"report of {files.documents} documents: {files.html}" + (f"  {files.pdf}" if files.pdf else "")
    )
