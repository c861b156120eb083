"""The scheduled deployment against a real Prefect server.

Starts ``prefect server start`` on a free port (its own PREFECT_HOME), serves
``compare-run/<name>`` with ``compare serve --cron``, triggers a run with
``prefect deployment run``, waits for it, checks the warehouse, and stops everything.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from compare import warehouse
from tests.conftest import CORPUS, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.flow]

SAMPLE = "ningbo-2016-29.pdf"
NAME = "test-schedule"
CRON = "0 3 * * *"
SERVER_START_S = 180
DEPLOYMENT_S = 120
RUN_S = 240
POLL_S = 0.5
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
PREFECT = str(Path(sys.executable).with_name("prefect"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait(what: str, seconds: float, check, *processes: subprocess.Popen):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, (
                f"{process.args[:3]} exited with {process.returncode} while waiting for {what}"
            )
        if result := check():
            return result
        time.sleep(POLL_S)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[str, dict[str, str]]]:
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": api,
        "COMPARE_CACHE_DIR": str(tmp_path / "cache"),
    }
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=log,
    )

    def healthy() -> bool:
        try:
            return httpx.get(f"{api}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait("the Prefect server", SERVER_START_S, healthy, process)
        yield api, env
    finally:
        _stop(process)
        log.close()


def test_a_served_deployment_runs_on_demand_and_publishes(server, tmp_path):
    api, env = server
    corpus, path = tmp_path / "corpus", tmp_path / "w.duckdb"
    corpus.mkdir()
    shutil.copy(CORPUS / SAMPLE, corpus / SAMPLE)
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "compare.cli", "serve", "--cron", CRON, "--name", NAME, "--corpus", str(corpus),
         "--warehouse", str(path), "--models", "hashing"],
        env=env, cwd=ROOT, stdout=log, stderr=log,
    )  # fmt: skip
    try:

        def deployment() -> dict | None:
            response = httpx.get(f"{api}/deployments/name/compare-run/{NAME}", timeout=5)
            return response.json() if response.status_code == 200 else None

        found = _wait("the deployment", DEPLOYMENT_S, deployment, serve)
        schedules = [s["schedule"] for s in found["schedules"]]
        assert schedules and schedules[0]["cron"] == CRON and found["parameters"]["models"] == ["hashing"]

        triggered = subprocess.run(
            [PREFECT, "deployment", "run", f"compare-run/{NAME}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert triggered.returncode == 0, triggered.stdout + triggered.stderr
        (run_id,) = [
            line.split("UUID:")[1].strip() for line in triggered.stdout.splitlines() if "UUID:" in line
        ]

        def finished() -> str | None:
            state = httpx.get(f"{api}/flow_runs/{run_id}", timeout=5).json()["state"]["type"]
            return state if state in FINAL else None

        assert _wait("the flow run", RUN_S, finished, serve) == "COMPLETED", (
            tmp_path / "serve.log"
        ).read_text()[-3000:]
        response = httpx.post(
            f"{api}/artifacts/filter", json={"flow_runs": {"id": {"any_": [run_id]}}}, timeout=10
        )
        artifacts = {a["key"]: a for a in response.json()}
        assert {k: artifacts[k]["type"] for k in sorted(artifacts)} == {
            "compare-committee-summary": "markdown",
            "compare-coverage": "table",
            "compare-run-counts": "table",
            "compare-run-summary": "markdown",
        }
        committee = artifacts["compare-committee-summary"]["data"]
        assert "甬政发〔2016〕29号" in committee, committee
        assert "processed now: 1;" in artifacts["compare-run-summary"]["data"], artifacts[
            "compare-run-summary"
        ]["data"]
    finally:
        _stop(serve)
        log.close()
    with warehouse.read_only(path) as con:
        assert con.execute("SELECT n_processed, models FROM runs").fetchall() == [(1, "hashing")]
        assert con.execute("SELECT count(*) FROM coverage_by_document").fetchall() == [(65,)]
