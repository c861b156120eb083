"""The scheduled deployment against a real Prefect server.

One ``prefect server start`` on a free port (its own PREFECT_HOME) serves the module. The
schedule test serves ``compare-run/<name>`` with a per-minute cron, triggers nothing, and waits
for the run the server's scheduler creates to publish the warehouse; then a run triggered with
``prefect deployment run`` publishes too. The stop tests send SIGTERM or SIGINT to
``compare serve`` while a run is in flight: it must stop within seconds, leave no process
behind, and leave the warehouse readable and as it was (or as the finished run left it).
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
import psutil
import pytest

from compare.store import warehouse
from tests.conftest import CORPUS, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.flow]

SAMPLE = "ningbo-2016-29.pdf"
#: Scanned in the stop tests: OCR keeps that run busy for longer than stopping may take.
SCANNED = ("chengdu-2016-12.pdf", "hubei-2016-8.pdf")
EVERY_MINUTE = "* * * * *"
NEVER_IN_TESTS = "0 3 1 1 *"
SERVER_START_S = 180
DEPLOYMENT_S = 120
#: The scheduler's first per-minute run starts at the next minute; it must publish well within 2 min.
SCHEDULED_RUN_S = 240
RUN_S = 240
#: A stop takes about 5 s; the bound leaves room for a loaded machine, and a serve that waits for
#: the scanned run to finish (what SIGTERM did before) exceeds it.
STOP_S = 30
POLL_S = 0.25
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
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
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


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    home = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": api,
        "COMPARE_CACHE_DIR": str(home / "cache"),
    }
    log = (home / "server.log").open("w")
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
    assert "bulk DML" not in (home / "server.log").read_text(), "the scheduler service failed"


def _scanned(source: Path, out: Path, scale: float = 2.0) -> Path:
    """An image-only copy of ``source`` (every page rendered to a picture): read by OCR, so slow."""
    import pypdfium2

    document = pypdfium2.PdfDocument(str(source))
    images = [page.render(scale=scale).to_pil().convert("RGB") for page in document]
    images[0].save(out, save_all=True, append_images=images[1:], resolution=72 * scale)
    return out


def _serve(env: dict[str, str], tmp_path: Path, name: str, cron: str, *files: str):
    corpus, path = tmp_path / "corpus", tmp_path / "w.duckdb"
    corpus.mkdir()
    for file in files:
        shutil.copy(CORPUS / file, corpus / file)
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "compare.cli.main", "serve", "--cron", cron, "--name", name, "--corpus", str(corpus),
         "--warehouse", str(path), "--models", "hashing"],
        env=env, cwd=ROOT, stdout=log, stderr=log,
    )  # fmt: skip
    return process, corpus, path, log


def _deployment(api: str, name: str, process: subprocess.Popen) -> dict:
    def found() -> dict | None:
        response = httpx.get(f"{api}/deployments/name/compare-run/{name}", timeout=5)
        return response.json() if response.status_code == 200 else None

    return _wait("the deployment", DEPLOYMENT_S, found, process)


def _runs(api: str, deployment_id: str) -> list[dict]:
    response = httpx.post(
        f"{api}/flow_runs/filter", json={"deployments": {"id": {"any_": [deployment_id]}}}, timeout=10
    )
    response.raise_for_status()
    return response.json()


def _trigger(env: dict[str, str], name: str) -> str:
    triggered = subprocess.run(
        [PREFECT, "deployment", "run", f"compare-run/{name}"], env=env, capture_output=True, text=True, timeout=120
    )  # fmt: skip
    assert triggered.returncode == 0, triggered.stdout + triggered.stderr
    (run_id,) = [line.split("UUID:")[1].strip() for line in triggered.stdout.splitlines() if "UUID:" in line]
    return run_id


def _state(api: str, run_id: str) -> str:
    return httpx.get(f"{api}/flow_runs/{run_id}", timeout=5).json()["state"]["type"]


def _artifacts(api: str, run_id: str) -> dict[str, dict]:
    response = httpx.post(
        f"{api}/artifacts/filter", json={"flow_runs": {"id": {"any_": [run_id]}}}, timeout=10
    )
    return {a["key"]: a for a in response.json()}


def test_the_scheduler_creates_a_run_that_publishes_and_a_triggered_run_does_too(server, tmp_path):
    api, env = server
    name = "test-tick"
    serve, _, path, log = _serve(env, tmp_path, name, EVERY_MINUTE, SAMPLE)
    started = time.monotonic()
    try:
        found = _deployment(api, name, serve)
        assert [s["schedule"]["cron"] for s in found["schedules"]] == [EVERY_MINUTE]
        assert found["parameters"]["models"] == ["hashing"]

        def scheduled_and_finished() -> dict | None:
            done = [r for r in _runs(api, found["id"]) if r["auto_scheduled"] and r["state_type"] in FINAL]
            return done[0] if done else None

        run = _wait("a run created by the scheduler", SCHEDULED_RUN_S, scheduled_and_finished, serve)
        elapsed = time.monotonic() - started
        assert run["state_type"] == "COMPLETED", (tmp_path / "serve.log").read_text()[-3000:]
        artifacts = _artifacts(api, run["id"])
        assert {k: artifacts[k]["type"] for k in sorted(artifacts)} == {
            "compare-committee-summary": "markdown",
            "compare-coverage": "table",
            "compare-run-counts": "table",
            "compare-run-summary": "markdown",
        }
        assert "甬政发〔2016〕29号" in artifacts["compare-committee-summary"]["data"]
        assert "processed now: 1;" in artifacts["compare-run-summary"]["data"]
        with warehouse.read_only(path) as con:
            assert con.execute("SELECT n_processed, models FROM runs").fetchall() == [(1, "hashing")]
            assert con.execute("SELECT count(*) FROM coverage_by_document").fetchall() == [(65,)]
        print(f"scheduler-created run published {elapsed:.0f} s after `compare serve` started")

        run_id = _trigger(env, name)

        def triggered_and_finished() -> str | None:
            state = _state(api, run_id)
            return state if state in FINAL else None

        assert _wait("the triggered run", RUN_S, triggered_and_finished, serve) == "COMPLETED"
        triggered = httpx.get(f"{api}/flow_runs/{run_id}", timeout=5).json()
        assert triggered["auto_scheduled"] is False
        assert "processed now: 0;" in _artifacts(api, run_id)["compare-run-summary"]["data"]
    finally:
        _stop(serve)
        log.close()
    with warehouse.read_only(path) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] >= 2
        assert con.execute("SELECT count(*) FROM coverage_by_document").fetchall() == [(65,)]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stops_on_a_signal_mid_run_without_debris(server, tmp_path, stop_signal):
    api, env = server
    name = f"test-stop-{stop_signal.name.lower()}"
    serve, corpus, path, log = _serve(env, tmp_path, name, NEVER_IN_TESTS, SAMPLE)
    try:
        _deployment(api, name, serve)
        first = _trigger(env, name)
        assert _wait("the first run", RUN_S, lambda: _state(api, first) in FINAL, serve)
        assert _state(api, first) == "COMPLETED"
        before = path.read_bytes()
        for scanned in SCANNED:
            _scanned(CORPUS / scanned, corpus / scanned)
        second = _trigger(env, name)
        _wait("the second run to start", RUN_S, lambda: _state(api, second) == "RUNNING", serve)
        family = [serve.pid, *(p.pid for p in psutil.Process(serve.pid).children(recursive=True))]
        assert len(family) > 1, "the run in flight has no process of its own"
        sent = time.monotonic()
        serve.send_signal(stop_signal)
        code = serve.wait(timeout=STOP_S)
        stopped_in = time.monotonic() - sent
    finally:
        _stop(serve)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert stopped_in < STOP_S, output[-3000:]
    assert code == 0, output[-3000:]
    left = [pid for pid in family if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert left == [], f"processes left behind: {left}"
    state = _wait("the second run's final state", 30, lambda: (s := _state(api, second)) in FINAL and s)
    print(f"{stop_signal.name}: stopped in {stopped_in:.1f} s; the run in flight ended {state}")
    with warehouse.read_only(path) as con:
        files = sorted(r[0] for r in con.execute("SELECT file_name FROM documents").fetchall())
    if state == "COMPLETED":  # it finished before the signal reached it: its warehouse is whole
        assert files == sorted([SAMPLE, *SCANNED])
    else:
        assert state in {"CANCELLED", "CRASHED", "FAILED"}
        assert path.read_bytes() == before, "a stopped run changed the warehouse"
        assert files == [SAMPLE]
    assert not list(path.parent.glob(f"{path.name}{warehouse.TMP_MARKER}*")), "a snapshot was left behind"


def test_idle_serve_stops_on_sigterm(server, tmp_path):
    api, env = server
    name = "test-stop-idle"
    serve, _, _, log = _serve(env, tmp_path, name, NEVER_IN_TESTS, SAMPLE)
    try:
        deployment = _deployment(api, name, serve)
        time.sleep(2)  # serving: the runner polls
        family = [serve.pid, *(p.pid for p in psutil.Process(serve.pid).children(recursive=True))]
        sent = time.monotonic()
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(timeout=STOP_S)
        stopped_in = time.monotonic() - sent
    finally:
        _stop(serve)
        log.close()
    assert code == 0 and stopped_in < STOP_S, (tmp_path / "serve.log").read_text()[-3000:]
    assert [pid for pid in family if psutil.pid_exists(pid)] == []
    paused = httpx.get(f"{api}/deployments/{deployment['id']}", timeout=5).json()["paused"]
    assert paused, "the schedule of a stopped serve keeps piling up runs"
    print(f"idle SIGTERM: stopped in {stopped_in:.1f} s")


def _flow_runs(api: str) -> list[dict]:
    response = httpx.post(f"{api}/flow_runs/filter", json={"flow_runs": {}}, timeout=10)
    response.raise_for_status()
    return response.json()


def test_every_compare_run_shows_on_a_configured_server_even_one_with_nothing_to_do(server, tmp_path):
    """With PREFECT_API_URL set, compare run goes through the flow each time, a rerun that finds
    nothing new included (without it, such a rerun is published in-process: tests/test_cli.py)."""
    api, env = server
    corpus, path = tmp_path / "corpus", tmp_path / "w.duckdb"
    corpus.mkdir()
    shutil.copy(CORPUS / "ningbo-2016-29.pdf", corpus)
    command = [sys.executable, "-m", "compare.cli.main", "run", "--corpus", str(corpus), "--warehouse", str(path),
               "--models", "hashing"]  # fmt: skip
    before = {r["id"] for r in _flow_runs(api)}
    for _ in range(2):
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    assert "processed 0, unchanged 1" in " ".join(done.stdout.split())
    new = [r for r in _flow_runs(api) if r["id"] not in before]
    assert len(new) == 2 and {r["state"]["type"] for r in new} == {"COMPLETED"}
    assert not list((Path(env["COMPARE_CACHE_DIR"]) / "prefect-servers").glob("*"))
