"""``compare run`` stopped by Ctrl-C, SIGTERM or ``kill -9``: it exits within seconds with 130 or
143 and one line saying what the warehouse holds, publishes nothing, leaves no snapshot file and
no process (its temporary Prefect server included), and a run killed with ``kill -9`` leaves
nothing that outlives the next run.

The end-to-end tests run ``compare run`` in its own process, on a copy of two sample plans, with
its own ``PREFECT_HOME`` and cache (``flow``, ``slow``). The rest check ``compare.run.lifecycle`` in
small processes of its own, without Prefect.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict
from pathlib import Path

import httpx
import psutil
import pytest

from compare.run import pipeline
from compare.run.lifecycle import NOTHING_PUBLISHED, SERVERS_FOLDER, ServerRecord, reap_servers
from compare.settings import Settings
from compare.store import warehouse
from tests.conftest import CORPUS, ROOT

SAMPLES = ("ningbo-2016-29.pdf", "guizhou-2015-35.pdf")
#: Seconds the temporary server may take to answer (a first start on a busy 2-core machine).
SERVER_UP_S = 240.0
#: Seconds an interrupted run may take to exit, on a busy machine ("within seconds" is ~3 s idle).
EXITS_WITHIN_S = 45.0
#: Seconds a process that was stopped may take to disappear from the process table.
GONE_WITHIN_S = 10.0
#: The program of Prefect's temporary server, in its command line.
SERVER_APP = "prefect.server.api.server:create_app"

#: ``guarded_run`` around a block that misbehaves as libraries do; ``ready`` once it is inside.
GUARDED = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from compare.store import warehouse
    from compare.errors import Interrupted
    from compare.run.lifecycle import guarded_run

    path, cache, mode, grace = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    try:
        with guarded_run(path, cache, start_server=None, grace=grace):
            if mode == "swallow":  # as DuckDB does: the interrupt becomes an error, a retry goes on
                try:
                    print("ready", flush=True)
                    time.sleep(60)
                except KeyboardInterrupt:
                    pass
                with warehouse.snapshot(path) as con:
                    con.execute("DELETE FROM documents")
            elif mode == "stuck":  # a snapshot is open, and the block never unwinds
                with warehouse.snapshot(path) as con:
                    con.execute("DELETE FROM documents")
                    ready = True
                    while True:
                        try:
                            if ready:
                                print("ready", flush=True)
                                ready = False
                            time.sleep(60)
                        except KeyboardInterrupt:
                            pass
    except Interrupted as stopped:
        print(stopped, file=sys.stderr, flush=True)
        sys.exit(stopped.exit_code)
    """
)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _contents(path: Path) -> dict[str, list[tuple]]:
    with warehouse.read_only(path) as con:
        return {
            table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            for table in ("documents", "coverage", "runs")
        }


def _snapshots(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}{warehouse.TMP_MARKER}*"))


def _alive(processes: list[psutil.Process]) -> list[int]:
    """The pids of ``processes`` still running once ``GONE_WITHIN_S`` has passed."""
    deadline = time.monotonic() + GONE_WITHIN_S
    while True:
        alive = []
        for process in processes:
            try:
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(process.pid)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


# --- compare run in its own process -----------------------------------------------------------------


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Two sample plans and the warehouse a run published from them."""
    folder = tmp_path_factory.mktemp("published")
    corpus = folder / "corpus"
    corpus.mkdir()
    for name in SAMPLES:
        shutil.copy(CORPUS / name, corpus / name)
    settings = Settings.from_env(
        corpus=corpus, warehouse=folder / "w.duckdb", models=("hashing",), cache_dir=folder / "cache"
    )
    pipeline.run(settings)
    return folder


class Run:
    """``compare run --force`` in its own process group, with its own Prefect home and cache."""

    def __init__(self, published: Path, folder: Path) -> None:
        shutil.copytree(published / "corpus", folder / "corpus")
        shutil.copy(published / "w.duckdb", folder / "w.duckdb")
        self.folder = folder
        self.warehouse = folder / "w.duckdb"
        self.cache = folder / "cache"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PREFECT_HOME": str(folder / "prefect"),
            "COMPARE_CACHE_DIR": str(self.cache),
            "COMPARE_MODELS": "hashing",
        }
        self.before = _digest(self.warehouse)
        self.contents = _contents(self.warehouse)

    def start(self, *extra: str) -> subprocess.Popen[str]:
        args = [sys.executable, "-m", "compare.cli.main", "run", "--corpus", str(self.folder / "corpus")]
        self.out = (self.folder / "out.txt").open("w")
        self.err = (self.folder / "err.txt").open("w")
        return subprocess.Popen(
            [*args, "--warehouse", str(self.warehouse), *extra],
            cwd=ROOT,
            env=self.env,
            stdout=self.out,
            stderr=self.err,
            text=True,
            start_new_session=True,  # its own process group, as a terminal gives a command
        )

    def output(self) -> tuple[str, str]:
        self.out.close()
        self.err.close()
        return (self.folder / "out.txt").read_text(), (self.folder / "err.txt").read_text()

    def server_up(self, process: subprocess.Popen[str]) -> psutil.Process:
        """The run's temporary server, once it answers: the run is under way."""
        deadline = time.monotonic() + SERVER_UP_S
        while time.monotonic() < deadline:
            assert process.poll() is None, self.output()
            for child in psutil.Process(process.pid).children(recursive=True):
                try:
                    command = child.cmdline()
                except psutil.Error:
                    continue
                if SERVER_APP in command:
                    port = command[command.index("--port") + 1]
                    try:
                        if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                            return child
                    except httpx.HTTPError:
                        pass
            time.sleep(0.2)
        raise AssertionError("the temporary server did not come up")

    def records(self) -> list[str]:
        folder = self.cache / SERVERS_FOLDER
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def a_run(published, tmp_path):
    return Run(published, tmp_path)


def _interrupt(a_run: Run, send) -> tuple[subprocess.Popen[str], list[psutil.Process]]:
    """Start a run, and once its server is up, ``send`` a signal; the process and its family then."""
    process = a_run.start("--force")
    a_run.server_up(process)
    family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    send(process.pid)
    try:
        process.wait(timeout=EXITS_WITHIN_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError(f"the run did not exit within {EXITS_WITHIN_S} s: {a_run.output()}") from None
    return process, family


@pytest.mark.flow
@pytest.mark.slow
@pytest.mark.parametrize(
    ("send", "code"),
    [
        (lambda pid: os.kill(pid, signal.SIGINT), 130),  # Ctrl-C sent to the command alone
        (lambda pid: os.killpg(pid, signal.SIGINT), 130),  # Ctrl-C in a terminal: the whole group
        (lambda pid: os.kill(pid, signal.SIGTERM), 143),  # what systemd, supervisors and kill send
    ],
    ids=["sigint", "sigint-group", "sigterm"],
)
def test_a_stopped_run_exits_publishing_nothing_and_leaving_nothing(a_run, send, code):
    process, family = _interrupt(a_run, send)
    out, err = a_run.output()
    assert process.returncode == code, out + err[-3000:]
    assert err.strip().splitlines()[-1] == NOTHING_PUBLISHED, err[-3000:]
    assert _alive(family) == []
    assert _digest(a_run.warehouse) == a_run.before
    assert _contents(a_run.warehouse) == a_run.contents
    assert _snapshots(a_run.warehouse) == []
    assert a_run.records() == []


@pytest.mark.flow
@pytest.mark.slow
def test_a_run_killed_with_kill_9_leaves_nothing_past_the_next_run(a_run):
    process, family = _interrupt(a_run, lambda pid: os.kill(pid, signal.SIGKILL))
    a_run.output()
    assert process.returncode == -signal.SIGKILL
    assert _digest(a_run.warehouse) == a_run.before and _contents(a_run.warehouse) == a_run.contents
    killed = [f"{process.pid}-{member.pid}.json" for member in family[1:]]

    again = a_run.start()
    try:
        again.wait(timeout=SERVER_UP_S)
    finally:
        if again.poll() is None:
            os.killpg(again.pid, signal.SIGKILL)
    out, err = a_run.output()
    assert again.returncode == 0, out + err[-3000:]
    assert _alive(family) == []  # the killed run's server died with it, or the next run stopped it
    assert not set(killed) & set(a_run.records())
    assert _snapshots(a_run.warehouse) == []


# --- compare.run.lifecycle in small processes -----------------------------------------------------------


@pytest.fixture
def guarded(tmp_path):
    """A published warehouse and a runner of ``GUARDED`` on it."""
    path = tmp_path / "w.duckdb"
    with warehouse.snapshot(path) as con:
        con.execute(
            "INSERT INTO documents (doc_id, file_name, sha256, status) VALUES ('d', 'd.pdf', 's', 'ok')"
        )
    script = tmp_path / "guarded.py"
    script.write_text(GUARDED, encoding="utf-8")
    started: list[subprocess.Popen[str]] = []

    def start(mode: str, grace: float) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, str(script), str(path), str(tmp_path / "cache"), mode, str(grace)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        return process

    yield path, start
    for process in started:  # a failed test leaves no process that ignores Ctrl-C
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_an_interrupt_a_library_swallows_still_publishes_nothing(guarded):
    path, start = guarded
    before = _digest(path)
    process = start("swallow", grace=30.0)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=EXITS_WITHIN_S)
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == NOTHING_PUBLISHED, err
    assert _digest(path) == before and _snapshots(path) == []


@pytest.mark.slow
def test_a_run_that_does_not_unwind_is_stopped_after_the_grace_period(guarded):
    path, start = guarded
    before = _digest(path)
    process = start("stuck", grace=1.0)
    assert _snapshots(path)  # the snapshot (and its WAL) being written
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=EXITS_WITHIN_S)
    assert process.returncode == 143, err
    assert 1.0 <= time.monotonic() - sent < EXITS_WITHIN_S, err
    assert err.strip().splitlines()[-1] == NOTHING_PUBLISHED, err
    assert _digest(path) == before and _snapshots(path) == []


@pytest.mark.slow
def test_a_second_ctrl_c_stops_at_once(guarded):
    path, start = guarded
    process = start("stuck", grace=600.0)
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=EXITS_WITHIN_S)
    assert process.returncode == 130 and err.strip().splitlines()[-1] == NOTHING_PUBLISHED, err
    assert _snapshots(path) == []


def _sleeper(*marks: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *marks])


def _dead_process() -> tuple[int, float]:
    """The pid and start time of a process that has exited."""
    process = _sleeper()
    started = psutil.Process(process.pid).create_time()
    process.kill()
    process.wait()
    return process.pid, started


def _record(folder: Path, record: ServerRecord) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record.owner}-{record.pid}.json"
    path.write_text(json.dumps(asdict(record)), encoding="utf-8")
    return path


@pytest.fixture
def server():
    process = _sleeper("uvicorn", "--factory", SERVER_APP)
    yield process
    process.kill()
    process.wait()


def test_a_recorded_server_whose_command_was_killed_is_stopped(server, tmp_path):
    owner, owner_started = _dead_process()
    record = ServerRecord.of(server.pid)
    path = _record(tmp_path, ServerRecord(record.pid, record.started, record.cmdline, owner, owner_started))
    assert reap_servers(tmp_path) == [server.pid]
    assert server.wait(timeout=GONE_WITHIN_S) is not None
    assert not path.exists()


def test_a_recorded_pid_that_is_another_process_now_is_left_alone(server, tmp_path):
    owner, owner_started = _dead_process()
    record = ServerRecord.of(server.pid)
    for changed in (
        ServerRecord(record.pid, record.started, ("python", "-m", "uvicorn"), owner, owner_started),
        ServerRecord(record.pid, record.started - 60, record.cmdline, owner, owner_started),
    ):
        path = _record(tmp_path, changed)
        assert reap_servers(tmp_path) == []
        assert server.poll() is None and not path.exists()


def test_the_server_of_a_command_still_running_is_left_alone(server, tmp_path):
    record = ServerRecord.of(server.pid)  # recorded by this process, which runs
    path = _record(tmp_path, record)
    assert reap_servers(tmp_path) == []
    assert server.poll() is None and path.exists()
