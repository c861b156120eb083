"""Peak memory and time of the single writer loading N staged documents into a new warehouse.

Stages ``--sample`` synthetic plans with the hashing model (``compare.scale.staging``), then copies
their Parquet files under new document ids until there are as many staged documents as the
largest size asked for (the copies differ only in their ids, which is all the load sees of a
document). For each size, a fresh child process creates an empty warehouse and bulk-loads the
first N staged documents the way ``staging.load`` does (``staging.insert_staged`` and
``warehouse.check_keys`` in one transaction); it reports its RSS before the load, its
peak RSS during the load (sampled every 50 ms) and the load's seconds. Medians of
``--repeats`` runs.

    .venv/bin/python benchmarks/load_memory.py [--sizes 300,3000,30000] [--repeats 3]
    .venv/bin/python benchmarks/load_memory.py --with-keys --results benchmarks/results/load_memory_keys.json
    .venv/bin/python benchmarks/load_memory.py --memory-limit 64MB --results benchmarks/results/load_memory_64mb.json

Prints the figures and writes benchmarks/results/load_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "load_memory.json"
SAMPLE_EVERY_S = 0.05
ID_COLUMNS = ("doc_id", "clause_id", "evidence_clause_id")


def stage_sample(work: Path, n: int) -> tuple[Path, list[str]]:
    from compare.scale import staging, synthetic
    from compare.settings import Settings

    synthetic.generate(work / "corpus", n, 11, jobs=2)
    settings = Settings.from_env(corpus=work / "corpus", warehouse=work / "sample.duckdb", models=["hashing"])
    staging.run(settings, work / "sample")
    (folder,) = (m.parent for m in (work / "sample").glob(f"*/{staging.MARKER_TABLE}"))  # one stage: one key
    return folder, sorted(p.stem for p in (folder / staging.MARKER_TABLE).glob("*.parquet"))


def _renamed(table: pa.Table, prefix: str) -> pa.Table:
    """The table with every id starting with ``prefix`` instead (ids begin with the document's)."""
    for column in ID_COLUMNS:
        if column in table.column_names:
            renamed = pc.utf8_replace_slice(table[column], 0, len(prefix), prefix)
            table = table.set_column(table.schema.get_field_index(column), column, renamed)
    return table


def replicate(sample: Path, doc_ids: list[str], out: Path, total: int) -> None:
    """Copies of the sample's staged files under new ids, ``total`` documents in all."""
    from compare.scale import staging

    tables = {
        (doc_id, table): pq.read_table(path)
        for doc_id in doc_ids
        for table in staging.TABLES
        if (path := staging.staged_file(sample, table, doc_id)).is_file()
    }
    for table in staging.TABLES:
        (out / table).mkdir(parents=True, exist_ok=True)
    for n in range(total):
        doc_id = doc_ids[n % len(doc_ids)]
        prefix = f"{n // len(doc_ids):06x}"
        new = prefix + doc_id[len(prefix) :]
        for table in staging.TABLES:
            if (doc_id, table) in tables:
                pq.write_table(_renamed(tables[doc_id, table], prefix), staging.staged_file(out, table, new))


def child(folder: Path, n: int, warehouse_path: Path, with_keys: bool, memory_limit: str | None) -> None:
    """In a fresh process: load the first ``n`` staged documents of ``folder``; print the figures.

    ``with_keys``: declare the row tables' keys (``warehouse.ROW_KEYS``) as PRIMARY KEYs first,
    as the schema did before, to measure what their in-memory indexes cost. ``memory_limit``:
    DuckDB's limit for the load instead of ``staging.LOADER_MEMORY_LIMIT``."""
    import duckdb

    from compare.scale import staging
    from compare.store import warehouse

    if memory_limit:
        staging.LOADER_SETTINGS["memory_limit"] = f"'{memory_limit}'"

    marker = folder / staging.MARKER_TABLE
    doc_ids = sorted(p.stem for p in marker.glob("*.parquet"))[:n]
    me = psutil.Process()
    before = me.memory_info().rss / 2**20
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_EVERY_S):
            peak.append(me.memory_info().rss / 2**20)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tick = time.perf_counter()
    con = duckdb.connect(str(warehouse_path))
    warehouse.apply_schema(con)
    if with_keys:
        for table, columns in warehouse.ROW_KEYS.items():
            con.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({', '.join(columns)})")
    con.execute("BEGIN TRANSACTION")  # as warehouse.snapshot does
    names = {d: f"{d}.pdf" for d in doc_ids}
    staging.insert_staged(con, folder, doc_ids, names, {"run_id": "bench", "scoring_key": "bench"})
    warehouse.check_keys(con)
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("clauses", "matches")}
    con.close()
    seconds = time.perf_counter() - tick
    done.set()
    sampler.join()
    figures = {"seconds": seconds, "peak_rss_mb": max(peak), "before_load_mb": before}
    print(json.dumps({**figures, "load_mb": max(peak) - before, **rows}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="300,3000,30000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample", type=int, default=24)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--with-keys",
        action="store_true",
        help="declare the row tables' keys as PRIMARY KEYs (the old schema)",
    )
    parser.add_argument(
        "--memory-limit", help="DuckDB's memory limit for the load (default: the loader's own)"
    )
    parser.add_argument("--child", nargs=3, metavar=("FOLDER", "N", "WAREHOUSE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), int(args.child[1]), Path(args.child[2]), args.with_keys, args.memory_limit)
        return
    from compare.scale import staging

    sizes = sorted(int(s) for s in args.sizes.split(","))
    record: dict[str, object] = {
        "with_keys": args.with_keys,
        "sample": args.sample,
        "repeats": args.repeats,
        "memory_limit": args.memory_limit or staging.LOADER_MEMORY_LIMIT,
    }
    with tempfile.TemporaryDirectory(prefix="compare-load-") as tmp:
        work = Path(tmp)
        sample, doc_ids = stage_sample(work, args.sample)
        tick = time.perf_counter()
        replicate(sample, doc_ids, work / "staged", sizes[-1])
        print(f"staged {len(doc_ids)} documents, copied to {sizes[-1]} in {time.perf_counter() - tick:.0f} s")
        figures = []
        for n in sizes:
            runs = []
            for repeat in range(args.repeats):
                target = work / f"w-{n}-{repeat}.duckdb"
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(work / "staged"), str(n), str(target),
                     *(["--with-keys"] if args.with_keys else []),
                     *(["--memory-limit", args.memory_limit] if args.memory_limit else [])],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                target.unlink(missing_ok=True)
                if out.returncode != 0:
                    errors = [line for line in out.stderr.splitlines() if "Error" in line]
                    runs.append({"error": errors[-2:] or out.stderr.strip().splitlines()[-3:]})
                    continue
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            good = [r for r in runs if "error" not in r]
            row: dict[str, object] = {"documents": n, "runs": runs}
            if good:
                row |= {
                    "clauses": good[0]["clauses"],
                    "matches": good[0]["matches"],
                    "median_seconds": round(statistics.median(r["seconds"] for r in good), 2),
                    "median_peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in good)),
                    "median_before_load_mb": round(statistics.median(r["before_load_mb"] for r in good)),
                    "median_load_mb": round(statistics.median(r["load_mb"] for r in good)),
                }
                print(
                    f"{n:>6} documents ({row['clauses']} clauses): load {row['median_seconds']} s, "
                    f"peak RSS {row['median_peak_rss_mb']} MB, {row['median_load_mb']} MB above the "
                    f"{row['median_before_load_mb']} MB before the load",
                    flush=True,
                )
            else:
                print(f"{n:>6} documents: failed: {runs[0]['error']}", flush=True)
            figures.append(row)
        record["sizes"] = figures
    args.results.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"written: {args.results}")


if __name__ == "__main__":
    main()
