"""The warehouse commands of the ``compare`` command line: status, export, query, serve.

``register(app)`` adds them to the main application; imports stay inside the commands so
``compare --help`` stays quick.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from compare.cli.console import CorpusOption, TopKOption, console, fail, frame_table
from compare.errors import CompareError, SettingsError
from compare.settings import Settings, library_env, setting_help

QUERY_FORMATS = ("table", "csv", "json")
WAREHOUSE_HELP = f"DuckDB warehouse file {setting_help('warehouse')}."


def status(
    warehouse: Annotated[Path | None, typer.Option(help=WAREHOUSE_HELP)] = None,
    runs: Annotated[int, typer.Option(help="How many recent runs to list.")] = 5,
) -> None:
    """Show the warehouse: documents by status, recent runs, and the last run's summary.

    Example: compare status --warehouse warehouse/compare.duckdb --runs 10
    """
    from compare.report.summary import warehouse_status

    try:
        path = Settings.from_env(warehouse=warehouse).warehouse
        state = warehouse_status(path, recent=runs)
    except CompareError as exc:
        fail(exc)
    console.print(f"warehouse: {path}")
    console.print(frame_table(state.documents, title="Documents by status"))
    console.print(frame_table(state.runs, title=f"Last {len(state.runs)} runs"))
    if state.last_run is not None:
        last = state.last_run
        console.print(
            f"last run {last['run_id']} ({last.get('status')}), finished {last.get('finished_at')} UTC; "
            f"code {last.get('code_version')}; models {last.get('models')}"
        )
        timings = last.get("timings")
        if isinstance(timings, str):
            timings = json.loads(timings)
        if isinstance(timings, dict):
            console.print("seconds: " + ", ".join(f"{stage} {float(s):.1f}" for stage, s in timings.items()))
    if not state.coverage.empty:
        console.print(
            frame_table(state.coverage, title="Coverage of the 65 national measures (current documents)")
        )


def export(
    out: Annotated[Path, typer.Option(help="Folder to write <table>.<format> files into.")],
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    tables: Annotated[
        list[str] | None,
        typer.Option("--tables", help="Tables or views to write (repeat the option; default: all)."),
    ] = None,
    warehouse: Annotated[Path | None, typer.Option(help=WAREHOUSE_HELP)] = None,
) -> None:
    """Write tables and views of the warehouse to Parquet or CSV files, one per table.

    Example: compare export --format parquet --out exports/ --tables province_summary --tables coverage_by_province
    """
    from rich.progress import Progress

    from compare.store import export as exporting

    try:
        path = Settings.from_env(warehouse=warehouse).warehouse
        names = tables or sorted(exporting.relations(path))
        with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
            bar = progress.add_task("export", total=len(names))
            written = exporting.export(
                path, out, fmt=fmt, tables=names, progress=lambda _: progress.advance(bar)
            )
    except CompareError as exc:
        fail(exc)
    for path in written:
        console.print(f"{path}  ({path.stat().st_size:,} bytes)")


def query(
    sql: Annotated[str, typer.Argument(help="One SELECT (or EXPLAIN) statement.")],
    warehouse: Annotated[Path | None, typer.Option(help=WAREHOUSE_HELP)] = None,
    limit: Annotated[
        int | None, typer.Option(help=f"Rows to show at most {setting_help('query_rows')}.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    timeout: Annotated[
        float | None,
        typer.Option(help=f"Seconds before the query is stopped {setting_help('query_timeout_s')}."),
    ] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option(help=f"DuckDB memory for the query, e.g. 4GB {setting_help('query_memory_limit')}."),
    ] = None,
) -> None:
    """Run one read-only SQL query on the warehouse (it cannot write, attach, or read other files).

    The query is held to a memory limit (nothing is spilled to disk beyond it) and a time limit;
    one that reaches a limit stops with an error naming it and the setting that raises it.

    Example: compare query "SELECT jurisdiction, covered_pct, n_gaps FROM province_summary ORDER BY covered_pct DESC"
    """
    from compare.store import export as exporting

    try:
        if fmt not in QUERY_FORMATS:
            raise SettingsError(f"--format must be one of {', '.join(QUERY_FORMATS)}, got {fmt!r}")
        settings = Settings.from_env(
            warehouse=warehouse, query_rows=limit, query_timeout_s=timeout, query_memory_limit=memory_limit
        )
        limit = settings.query_rows
        result = exporting.query(
            settings.warehouse, sql, limit=limit, limits=exporting.QueryLimits.from_settings(settings)
        )
    except CompareError as exc:
        fail(exc)
    if fmt == "csv":
        sys.stdout.write(exporting.csv_text(result.frame))
    elif fmt == "json":
        sys.stdout.write(result.frame.to_json(orient="records", force_ascii=False, date_format="iso") + "\n")
    else:
        console.print(frame_table(result.frame))
    if result.truncated:
        print(f"(first {limit} rows shown; raise --limit to see more)", file=sys.stderr)


def serve(
    cron: Annotated[str, typer.Option(help='Cron schedule, e.g. "0 3 * * *" for 03:00 every day.')],
    name: Annotated[str, typer.Option(help="Deployment name: compare-run/<name>.")] = "scheduled",
    timezone: Annotated[str, typer.Option(help="IANA timezone of the schedule.")] = "UTC",
    corpus: CorpusOption = None,
    warehouse: Annotated[Path | None, typer.Option(help=WAREHOUSE_HELP)] = None,
    models: Annotated[
        str | None, typer.Option(help=f"Comma-separated embedding models {setting_help('models')}.")
    ] = None,
    top_k: TopKOption = None,
    workers: Annotated[int, typer.Option(help="Parsing processes (1: parse in the flow's process).")] = 1,
) -> None:
    """Serve a scheduled deployment of the run against a Prefect server, until stopped (Ctrl-C).

    Needs `prefect server start` running and PREFECT_API_URL set. Scheduled runs, and runs
    started with `prefect deployment run compare-run/<name>`, execute here one at a time.

    Example: PREFECT_API_URL=http://127.0.0.1:4200/api compare serve --cron "0 3 * * *" --timezone Asia/Shanghai
    """
    library_env()
    try:
        settings = Settings.from_env(corpus=corpus, warehouse=warehouse, models=models, top_k=top_k)
        from flows import serve as serving

        serving.schedule(cron, timezone)
        serving.api_url()
        if "e5-small" in settings.models:
            from compare.match.modelbuild import ensure_e5_model

            ensure_e5_model(settings.cache_dir)
        parameters = serving.parameters(
            settings.corpus, settings.warehouse, list(settings.models), settings.top_k, workers
        )
        console.print(f"serving compare-run/{name} on {cron!r} ({timezone}); parameters: {parameters}")
        serving.serve(cron, parameters, name=name, timezone=timezone)
    except CompareError as exc:
        fail(exc)


def register(app: typer.Typer) -> None:
    """Add the warehouse commands to ``app``."""
    app.command("status")(status)
    app.command("export")(export)
    app.command("query")(query)
    app.command("serve")(serve)
