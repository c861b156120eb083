"""``compare scale``: a large synthetic corpus, and runs spread over a Dask cluster.

Registered on the main ``compare`` app in ``compare.cli.main``; see docs/scale.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from compare.cli.console import FusedModelsOption, PublishOption, TopKOption, command_group, console, fail
from compare.errors import CompareError
from compare.settings import Settings, library_env, setting_help

DEFAULT_SEED = 2015
DEFAULT_WORKERS = 2
#: Documents per task (compare.scale.staging.DEFAULT_BATCH_SIZE; not imported here, to keep `compare --help` fast).
DEFAULT_BATCH_SIZE = 16
#: Batches in flight (flows.scale_flow.DEFAULT_IN_FLIGHT).
DEFAULT_IN_FLIGHT = 16

scale_app = command_group("Scale out: generate a large synthetic corpus; run the pipeline on a Dask cluster.")


@scale_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the PDFs (and sources/, synthetic.json) into.")],
    documents: Annotated[int, typer.Option(help="How many documents.")] = 300,
    seed: Annotated[
        int, typer.Option(help="Corpus seed: the same seed gives the same files.")
    ] = DEFAULT_SEED,
    jobs: Annotated[int, typer.Option(help="Processes drawing PDFs.")] = 1,
    font: Annotated[Path | None, typer.Option(help="CJK font file (default: fonts-wqy-zenhei).")] = None,
) -> None:
    """Generate city and county plans by recombining and perturbing the sample plans.

    Document i depends only on the seed and i: the first 30 of 300 documents are the 30-document
    corpus. Unchanged PDFs are kept when the command runs again.

    Example: compare scale generate --out /data/synthetic --documents 3000 --seed 2015 --jobs 2
    """
    from compare.scale import synthetic

    try:
        result = synthetic.generate(out, documents, seed, jobs=jobs, font=str(font) if font else None)
    except CompareError as exc:
        fail(exc)
    console.print(
        f"{result.folder}: {result.documents} documents (seed {seed}; drawn {result.rendered}, kept {result.reused}) "
        f"in {result.seconds:.1f} s",
        highlight=False,
    )


@scale_app.command("run")
def run(
    corpus: Annotated[
        Path | None, typer.Option(help=f"Folder of plan PDFs {setting_help('corpus')}.")
    ] = None,
    warehouse: PublishOption = None,
    staging: Annotated[
        Path | None,
        typer.Option(help="Folder for the per-document Parquet files (default: <warehouse>.staging)."),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="Dask worker processes on this machine; 0 runs everything in this process.")
    ] = DEFAULT_WORKERS,
    address: Annotated[
        str | None, typer.Option(help="Scheduler of an existing Dask cluster, e.g. tcp://scheduler:8786.")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Documents per task.")] = DEFAULT_BATCH_SIZE,
    in_flight: Annotated[
        int, typer.Option(help="Batches submitted at a time (a few times the number of workers).")
    ] = DEFAULT_IN_FLIGHT,
    models: FusedModelsOption = None,
    top_k: TopKOption = None,
    force: Annotated[bool, typer.Option(help="Reprocess and restage every file.")] = False,
    allow_empty_corpus: Annotated[
        bool, typer.Option(help="Let a corpus folder with no PDF mark every document withdrawn.")
    ] = False,
) -> None:
    """Stage new or changed PDFs in batches on a Dask cluster, then load them into the warehouse.

    Results are the same, bit for bit, whatever the number of workers or the batch size.

    Example: compare scale run --corpus /data/synthetic --warehouse warehouse/scale.duckdb --workers 2
    """
    library_env()
    from compare.report.summary import DOCUMENT_STATUS_SQL
    from compare.store.warehouse import read_only

    try:
        settings = Settings.from_env(corpus=corpus, warehouse=warehouse, models=models, top_k=top_k)
        from flows.scale_flow import run_scale

        summary = run_scale(
            workers=workers,
            address=address,
            corpus=str(settings.corpus),
            warehouse_path=str(settings.warehouse),
            staging_dir=str(staging) if staging else None,
            models=list(settings.models),
            top_k=settings.top_k,
            batch_size=batch_size,
            in_flight=in_flight,
            force=force,
            allow_empty_corpus=allow_empty_corpus,
        )
        with read_only(summary.warehouse) as con:
            documents = con.execute(DOCUMENT_STATUS_SQL).fetchall()
            cells = con.execute(
                "SELECT status, count(*) FROM coverage GROUP BY status ORDER BY status"
            ).fetchall()
    except CompareError as exc:
        fail(exc)
    staged = summary.timings.get("stage", 0.0)
    rate = (
        f"{summary.n_processed / staged:.2f} documents/s staged"
        if staged and summary.n_processed
        else "nothing staged"
    )
    console.print(
        f"warehouse: {summary.warehouse.resolve()}  (files {summary.n_files}, processed {summary.n_processed}, "
        f"unchanged {summary.n_unchanged}, failed {summary.n_failed}; {rate}; seconds: "
        + ", ".join(f"{k} {v:.1f}" for k, v in summary.timings.items())
        + ")",
        highlight=False,
    )
    console.print(
        "documents: "
        + ", ".join(f"{s} {n}" for s, n in documents)
        + "; cells: "
        + ", ".join(f"{s} {n}" for s, n in cells),
        highlight=False,
    )
    for message in summary.failures:
        console.print(f"[yellow]failed:[/yellow] {escape(message)}", highlight=False)
    if summary.n_failed:
        raise typer.Exit(1)
