"""A command's processes: Ctrl-C and SIGTERM stop it cleanly, and no process outlives it.

``guarded_run(warehouse, cache_dir)`` wraps a flow run (``compare run``):

- Ctrl-C (SIGINT, sent to the command alone or to its whole process group) and SIGTERM stop
  the run. The first signal raises ``KeyboardInterrupt`` where the run is, and the run unwinds:
  a snapshot being written is removed, the live warehouse is untouched. It also sets
  ``warehouse.STOP_REQUESTED``, so that no snapshot is swapped in afterwards: DuckDB turns an
  interrupt during a query into an ordinary ``RuntimeError``, which a Prefect task with retries
  retries, and the run would otherwise go on to publish. The block then ends with
  ``Interrupted``: exit code 130 (SIGINT) or 143 (SIGTERM) and a line saying what the
  warehouse holds. A run still going ``STOP_GRACE_S`` after the signal, or a second signal,
  is stopped at once: every child process is stopped, the snapshot files this process holds
  open are removed, and the process exits with the same code and line.
- Prefect's temporary server (its ``SubprocessASGIServer``: a ``uvicorn`` child process that
  Prefect starts when no ``PREFECT_API_URL`` is set, and stops at exit) is started before the
  flow (``flows.server.temporary_server``, passed in as ``start_server``), with two changes to how it is started: in a session of its
  own, so that Ctrl-C to the process group does not stop it under a run that still reports to
  it (that left minutes of "connection refused" retries), and, on Linux, with
  ``PR_SET_PDEATHSIG``, so that it dies with the command even when the command is killed with
  ``kill -9``. Its pid, start time and command line are recorded under
  ``<cache_dir>/prefect-servers``: a later run stops a recorded server whose command is gone,
  after checking that the process is still that server (same start time and command line).

Nothing here imports Prefect: ``flows.server`` launches the server's process with
``ServerPopen``, then hands it to Prefect's instance; the rest is plain process handling with
psutil.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from compare.errors import Interrupted
from compare.store import warehouse

#: The signals that stop a run cleanly.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Seconds a run has to unwind after a stop signal before it is stopped at once.
STOP_GRACE_S = 10.0
#: Seconds a child process has between SIGTERM and SIGKILL.
CHILD_GRACE_S = 3.0
#: Folder under the cache directory that records the temporary servers of running commands.
SERVERS_FOLDER = "prefect-servers"
#: Two start times of one process differ by less than this (psutil computes them from clock ticks).
SAME_START_S = 0.05
#: ``prctl`` option: the signal a process gets when its parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1
NOTHING_PUBLISHED = "interrupted: nothing was published; the warehouse is as it was"


# --- stopping processes ---------------------------------------------------------------------------


def stop_processes(processes: Iterable[psutil.Process], grace: float = CHILD_GRACE_S) -> None:
    """SIGTERM, then SIGKILL to those still running after ``grace`` seconds; waits for them."""
    processes = list(processes)
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=grace)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=grace)


def stop_descendants(grace: float = CHILD_GRACE_S) -> list[int]:
    """Stop every descendant of this process (``stop_processes``); their pids."""
    children = psutil.Process().children(recursive=True)
    stop_processes(children, grace)
    return [child.pid for child in children]


def _same_process(pid: int, started: float, cmdline: tuple[str, ...] | None = None) -> psutil.Process | None:
    """The running process ``pid`` if it started at ``started`` (and runs ``cmdline``), else None."""
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - started) > SAME_START_S or process.status() == psutil.STATUS_ZOMBIE:
            return None
        if cmdline is not None and tuple(process.cmdline()) != cmdline:
            return None
        return process
    except psutil.Error:
        return None


# --- recorded temporary servers -------------------------------------------------------------------


@dataclass(frozen=True)
class ServerRecord:
    """A temporary server and the command that started it, as recorded in ``SERVERS_FOLDER``."""

    pid: int
    started: float
    cmdline: tuple[str, ...]
    owner: int
    owner_started: float

    @classmethod
    def of(cls, pid: int) -> ServerRecord:
        """The record of process ``pid``, started by this process."""
        server, owner = psutil.Process(pid), psutil.Process()
        return cls(pid, server.create_time(), tuple(server.cmdline()), owner.pid, owner.create_time())

    @classmethod
    def read(cls, path: Path) -> ServerRecord | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                int(data["pid"]),
                float(data["started"]),
                tuple(str(a) for a in data["cmdline"]),
                int(data["owner"]),
                float(data["owner_started"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def record_server(folder: Path, pid: int) -> Path:
    """Record process ``pid`` as a temporary server of this process; the record's file."""
    record = ServerRecord.of(pid)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record.owner}-{record.pid}.json"
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(asdict(record)), encoding="utf-8")
    os.replace(partial, path)
    return path


def _records(folder: Path) -> list[tuple[Path, ServerRecord | None]]:
    if not folder.is_dir():
        return []
    return [(path, ServerRecord.read(path)) for path in sorted(folder.glob("*.json"))]


def reap_servers(folder: Path) -> list[int]:
    """Stop the recorded servers whose command is gone (a command killed with ``kill -9``), each
    checked to be that server by its start time and command line, and forget their records;
    the pids stopped. Servers of commands still running are left alone."""
    stopped = []
    for path, record in _records(folder):
        if record is not None and _same_process(record.owner, record.owner_started) is not None:
            continue
        if record is not None and (server := _same_process(record.pid, record.started, record.cmdline)):
            stop_processes([server])
            stopped.append(record.pid)
        path.unlink(missing_ok=True)
    return stopped


def forget_servers(folder: Path) -> None:
    """Stop this process's recorded servers that still run (Prefect stops them at exit) and forget their records."""
    me = psutil.Process()
    for path, record in _records(folder):
        if (
            record is None
            or record.owner != me.pid
            or abs(record.owner_started - me.create_time()) > SAME_START_S
        ):
            continue
        if server := _same_process(record.pid, record.started, record.cmdline):
            stop_processes([server])
        path.unlink(missing_ok=True)


@functools.cache
def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _die_with_parent(libc: Any, parent: int) -> None:
    """In a new child, before it runs its program: be killed when the parent dies (Linux)."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request: nothing will kill this child
        os._exit(1)


class ServerPopen:
    """Launches the temporary server's process: its ``Popen`` starts it in a session of its own,
    to die with this process, and records it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.parent = os.getpid()

    def Popen(self, *args: Any, **kwargs: Any) -> subprocess.Popen[Any]:  # subprocess.Popen stand-in
        kwargs["start_new_session"] = True
        if sys.platform.startswith("linux"):
            kwargs["preexec_fn"] = functools.partial(_die_with_parent, _libc(), self.parent)
        process = subprocess.Popen(*args, **kwargs)
        record_server(self.folder, process.pid)
        return process


# --- stop signals ---------------------------------------------------------------------------------


def _fingerprint(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _signal_of(exc: BaseException) -> int | None:
    """The stop signal behind ``exc``: SIGINT for ``KeyboardInterrupt``, or Prefect's ``TerminationSignal``'s."""
    if isinstance(exc, KeyboardInterrupt):
        return signal.SIGINT
    number = getattr(exc, "signal", None)
    return number if number in STOP_SIGNALS else None


class StopGuard:
    """The stop-signal handling of one ``guarded_run`` (see the module docstring)."""

    def __init__(self, warehouse_path: Path, servers: Path, grace: float = STOP_GRACE_S) -> None:
        self.warehouse = warehouse_path
        self.servers = servers
        self.grace = grace
        self.signum: int | None = None
        self._before = _fingerprint(warehouse_path)
        self._previous: dict[int, Any] = {}
        self._disarmed = threading.Event()

    def install(self) -> None:
        for number in STOP_SIGNALS:
            self._previous[number] = signal.signal(number, self._on_signal)

    def restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def disarm(self) -> None:
        """No hard stop from now on, and the signal handlers as they were before (for a process
        that goes on after an interrupted run)."""
        self._disarmed.set()
        self.restore()
        warehouse.STOP_REQUESTED.clear()

    def message(self) -> str:
        """What the warehouse holds now: as it was, or replaced while the run stopped."""
        if _fingerprint(self.warehouse) == self._before:
            return NOTHING_PUBLISHED
        return (
            f"interrupted: the warehouse {self.warehouse} was replaced while the run stopped (a publish "
            "had finished); `compare status` shows the run it holds"
        )

    def interrupted(self, signum: int) -> Interrupted:
        """The ``Interrupted`` the run ends with; snapshot files left beside the warehouse are removed first."""
        warehouse.remove_stale_snapshots(self.warehouse)
        return Interrupted(signum, self.message())

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            self.hard_stop()
        self.signum = signum
        warehouse.STOP_REQUESTED.set()
        threading.Thread(target=self._watch, name="compare-stop", daemon=True).start()
        raise KeyboardInterrupt

    def _watch(self) -> None:
        if not self._disarmed.wait(self.grace):
            self.hard_stop()

    def hard_stop(self) -> None:
        """Stop every child process, remove the snapshot files this process holds open, say what
        the warehouse holds, and exit with 128 + the signal's number."""
        signum = self.signum or signal.SIGINT
        with contextlib.suppress(Exception):
            stop_descendants()
        with contextlib.suppress(Exception):
            _remove_open_snapshots(self.warehouse)
        with contextlib.suppress(Exception):
            forget_servers(self.servers)
        with contextlib.suppress(Exception):
            os.write(sys.stderr.fileno(), (self.message() + "\n").encode())
        os._exit(128 + signum)

    def at_exit(self) -> None:
        """At the process's exit: forget this process's servers; after a stop signal, stop every child too."""
        with contextlib.suppress(Exception):
            forget_servers(self.servers)
            if self.signum is not None and not self._disarmed.is_set():
                stop_descendants()


def _remove_open_snapshots(path: Path) -> list[Path]:
    """Remove the snapshot files of ``path`` (and their WAL) that this process holds open."""
    folder = os.path.realpath(path.parent)
    prefix = path.name + warehouse.TMP_MARKER
    removed = []
    for handle in psutil.Process().open_files():
        if os.path.dirname(handle.path) == folder and os.path.basename(handle.path).startswith(prefix):
            snapshot = Path(handle.path)
            snapshot.unlink(missing_ok=True)
            snapshot.with_name(snapshot.name + ".wal").unlink(missing_ok=True)
            removed.append(snapshot)
    return removed


@contextmanager
def guarded_run(
    warehouse_path: Path,
    cache_dir: Path,
    *,
    start_server: Callable[[Path], Any] | None = None,
    notify: Callable[[str], None] | None = None,
    grace: float = STOP_GRACE_S,
) -> Iterator[StopGuard]:
    """Run the block under ``StopGuard``, with the temporary server started by ``start_server``
    (None: none), after stopping the servers killed runs left (each named to ``notify``).

    Ends with ``Interrupted`` when a stop signal arrived, whatever the block did after it; the
    guard then stays armed while the process exits (``StopGuard.disarm`` for one that goes on).
    Must be entered in the main thread (signal handlers are set there)."""
    folder = cache_dir / SERVERS_FOLDER
    guard = StopGuard(warehouse_path, folder, grace)
    guard.install()
    atexit.register(guard.at_exit)  # before the server's own stop: runs after it
    try:
        for pid in reap_servers(folder):
            if notify is not None:
                notify(
                    f"stopped Prefect's temporary server (pid {pid}) that an earlier, killed run left running"
                )
        if start_server is not None:
            start_server(folder)
        yield guard
    except BaseException as exc:
        signum = guard.signum or _signal_of(exc)
        if signum is None:
            raise
        guard.signum = signum
        raise guard.interrupted(signum) from exc
    else:
        if guard.signum is not None:
            raise guard.interrupted(guard.signum)
    finally:
        if guard.signum is None:
            guard.restore()  # after a stop signal, a second one still stops the exiting process at once
