"""What every ``compare`` command prints with: the console, its tables, and how a command fails.

The command modules (``compare.cli.main``, ``cli_report``, ``cli_review``, ``cli_scale``,
``cli_warehouse``) print through ``console`` and stop on a user's error with ``fail``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from compare.errors import CompareError
from compare.safe_text import printable
from compare.settings import setting_help

#: Width used when output is not a terminal (logs, CI), so tables are not cut.
PIPE_WIDTH = 150
#: Characters of a cell shown in a terminal table (``compare query --format csv`` or ``json`` shows all).
MAX_CELL = 80
#: Exit code of a command refused before anything was done (a flag, a setting, a file to change).
EXIT_REFUSED = 2

console = Console() if sys.stdout.isatty() else Console(width=PIPE_WIDTH)

# Options that several commands take alike (``None``: the setting decides).
CorpusOption = Annotated[
    Path | None, typer.Option(help=f"Folder of provincial plan PDFs {setting_help('corpus')}.")
]
PublishOption = Annotated[
    Path | None, typer.Option(help=f"DuckDB warehouse file to publish {setting_help('warehouse')}.")
]
PublishedOption = Annotated[
    Path | None, typer.Option(help=f"Published DuckDB warehouse {setting_help('warehouse')}.")
]
FusedModelsOption = Annotated[
    str | None, typer.Option(help=f"Comma-separated embedding models, fused {setting_help('models')}.")
]
TopKOption = Annotated[int | None, typer.Option(help=f"Matches kept per clause {setting_help('top_k')}.")]


def command_group(summary: str) -> typer.Typer:
    """A group of subcommands (``compare review``, ``compare scale``): with no command, its help."""
    return typer.Typer(help=summary, no_args_is_help=True, rich_markup_mode=None)


def print_error(message: str) -> None:
    """``error: <message>``, the message as plain text (never read as rich markup)."""
    console.print(f"[red]error:[/red] {escape(printable(message))}", highlight=False)


def fail(exc: CompareError) -> NoReturn:
    """Print the error and leave with ``EXIT_REFUSED``."""
    print_error(str(exc))
    raise typer.Exit(EXIT_REFUSED) from exc


def _cell(value: Any) -> Text:
    """A value as plain text for a terminal: no markup, no control character (see ``safe_text``)."""
    text = "" if value is None or (isinstance(value, float) and value != value) else printable(str(value))
    return Text(text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…")


def frame_table(frame: Any, title: str | None = None) -> Table:
    """A rich table of a DataFrame; cells are shown as plain text, never read as rich markup."""
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(_cell(column))
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    return table
