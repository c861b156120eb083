"""What the benchmarks that time ``compare`` as a user runs it share: the command in a process of
its own, its environment, a cache folder with the built models only, and the run's own record.

Imported by the benchmark scripts beside it (``python benchmarks/<name>.py`` puts this folder
first on the import path).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import duckdb

from compare.settings import default_cache_dir

ROOT = Path(__file__).resolve().parents[1]
COMPARE = ROOT / ".venv" / "bin" / "compare"
TIMEOUT_S = 1800


def compare_env(cache: Path | None = None, prefect_home: Path | None = None) -> dict[str, str]:
    """The environment of a researcher's machine: no Prefect server configured (each run starts
    the temporary one, or publishes in-process when it has nothing to do), no telemetry; with
    ``cache`` as compare's cache folder and ``prefect_home`` as Prefect's, when given."""
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    if cache is not None:
        env["COMPARE_CACHE_DIR"] = str(cache)
    if prefect_home is not None:
        env["PREFECT_HOME"] = str(prefect_home)
    return env


def models_only_cache(folder: Path) -> Path:
    """A cache folder in ``folder`` with no embeddings or parsed documents, sharing the built
    models of the compare cache (building them is not part of a run)."""
    cache = folder / "cache"
    cache.mkdir()
    models = default_cache_dir() / "models"
    if models.is_dir():
        (cache / "models").symlink_to(models)
    return cache


def timed(args: list[Any], env: dict[str, str], *, timeout: float = TIMEOUT_S) -> tuple[float, str]:
    """Run ``args`` in the project folder; its wall time and standard output. A command that fails
    stops the benchmark with its output."""
    command = [str(a) for a in args]
    tick = time.perf_counter()
    done = subprocess.run(
        command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    wall = time.perf_counter() - tick
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )
    return wall, done.stdout


def compare_run(corpus: Path, warehouse: Path, env: dict[str, str], *extra: str) -> float:
    """``compare run`` of ``corpus`` into ``warehouse`` in its own process; its wall time."""
    wall, _ = timed([COMPARE, "run", "--corpus", corpus, "--warehouse", warehouse, *extra], env)
    return wall


def last_run(warehouse: Path) -> dict[str, Any]:
    """What the newest run recorded in ``runs``: its stage seconds (``timings`` and their sum
    ``stages_s``) and counts."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(
            "SELECT n_processed, n_unchanged, n_embedded, n_clauses, timings FROM runs "
            "ORDER BY finished_at DESC LIMIT 1"
        ).fetchone()
    if row is None:
        raise SystemExit(f"{warehouse}: no run recorded")
    timings = json.loads(row[4]) if isinstance(row[4], str) else dict(row[4])
    return {
        "stages_s": round(sum(timings.values()), 2),
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "n_processed": row[0],
        "n_unchanged": row[1],
        "n_embedded": row[2],
        "n_clauses": row[3],
    }
