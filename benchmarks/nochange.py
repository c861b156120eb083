"""A run that finds nothing new against ``compare status`` on the same warehouse.

One untimed ``compare run`` publishes the sample corpus (corpora/provincial) into a fresh
warehouse; then, alternately, ``compare run`` over the unchanged corpus and ``compare status``,
each in its own process, ``--runs`` times. No Prefect server is configured (``PREFECT_API_URL``
unset), as on a researcher's machine: such a rerun is published in-process.

    .venv/bin/python benchmarks/nochange.py [--runs 5]

Prints the medians and their ratio, and writes benchmarks/results/nochange.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import tempfile
from pathlib import Path

from commands import COMPARE, compare_env, timed

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "nochange.json"
CORPUS = ROOT / "corpora" / "provincial"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = compare_env()
    with tempfile.TemporaryDirectory(prefix="compare-bench-nochange-") as tmp:
        warehouse = str(Path(tmp) / "w.duckdb")
        run = [str(COMPARE), "run", "--corpus", str(CORPUS), "--warehouse", warehouse]
        status = [str(COMPARE), "status", "--warehouse", warehouse]
        first, _ = timed(run, env)
        print(f"first run (untimed for the ratio): {first:.1f} s", flush=True)
        runs, statuses = [], []
        for index in range(args.runs):
            wall, out = timed(run, env)
            if "processed 0," not in " ".join(out.split()):
                raise SystemExit(f"the rerun processed something:\n{out[-1500:]}")
            runs.append(wall)
            wall_status, _ = timed(status, env)
            statuses.append(wall_status)
            print(f"#{index + 1}: run {runs[-1]:.2f} s, status {wall_status:.2f} s", flush=True)
    record = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "loadavg": os.getloadavg()},
        "runs": args.runs,
        "rerun_s": [round(w, 2) for w in runs],
        "status_s": [round(w, 2) for w in statuses],
        "median_rerun_s": round(statistics.median(runs), 2),
        "median_status_s": round(statistics.median(statuses), 2),
    }
    record["ratio_rerun_to_status"] = round(record["median_rerun_s"] / record["median_status_s"], 2)
    print(
        f"median: rerun {record['median_rerun_s']} s, status {record['median_status_s']} s, "
        f"ratio {record['ratio_rerun_to_status']}"
    )
    RESULTS.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
