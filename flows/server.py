"""Prefect's temporary server for one command, started the way ``compare.run.lifecycle`` says:
in a session of its own, killed with the command (even by ``kill -9``), and recorded so that a later
command stops one a killed command left."""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from compare.run import lifecycle

API_URL = "PREFECT_API_URL"
PROFILES_PATH = "PREFECT_PROFILES_PATH"
#: Seconds between health checks of a starting temporary server (Prefect polls every 0.1 s).
HEALTH_POLL_S = 0.05


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def _text(config: Any, *keys: str) -> str | None:
    """The non-empty string at ``keys`` in nested tables, if any."""
    for key in keys:
        config = config.get(key) if isinstance(config, dict) else None
    return config if isinstance(config, str) and config else None


def _dotenv(folder: Path) -> dict[str, str | None]:
    if not (folder / ".env").is_file():
        return {}
    import dotenv

    return dict(dotenv.dotenv_values(folder / ".env"))


def _profiles_path(folder: Path, dotenv_values: dict[str, str | None]) -> Path:
    """Where Prefect reads its profiles, in its own order of sources."""
    named = (
        os.environ.get(PROFILES_PATH)
        or dotenv_values.get(PROFILES_PATH)
        or _text(_toml(folder / "prefect.toml"), "profiles_path")
        or _text(_toml(folder / "pyproject.toml"), "tool", "prefect", "profiles_path")
    )
    if named:
        return Path(named).expanduser()
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    return home / "profiles.toml"


def _profile_api_url(profiles_path: Path) -> str | None:
    """PREFECT_API_URL of the active profile in the profiles file, if any."""
    profiles = _toml(profiles_path)
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active")
    return _text(profiles, "profiles", active, API_URL) if isinstance(active, str) else None


def configured_api_url(folder: Path | None = None) -> str | None:
    """The Prefect API url that Prefect's settings would find for a command run in ``folder`` (the
    working folder), read from the same sources, without importing Prefect (a second): the
    environment, ``.env``, ``prefect.toml`` (``[api] url``), ``pyproject.toml``
    (``[tool.prefect.api] url``) and the active profile. ``tests/test_server_config.py`` checks
    it against Prefect's own settings."""
    folder = Path.cwd() if folder is None else folder
    if os.environ.get(API_URL):
        return os.environ[API_URL]
    dotenv_values = _dotenv(folder)
    return (
        dotenv_values.get(API_URL)
        or _text(_toml(folder / "prefect.toml"), "api", "url")
        or _text(_toml(folder / "pyproject.toml"), "tool", "prefect", "api", "url")
        or _profile_api_url(_profiles_path(folder, dotenv_values))
    )


def api_configured() -> bool:
    """Whether runs report to a configured Prefect server (:func:`configured_api_url`)."""
    return configured_api_url() is not None


def temporary_server(folder: Path) -> Any | None:
    """Start Prefect's temporary server for this process now, as the module docstring says, and
    record it in ``folder``; None when ``PREFECT_API_URL`` names a server. Prefect's clients use
    this one (it is Prefect's own instance), and Prefect stops it at exit.

    The server process is launched before this process imports Prefect's server module, with the
    command and environment Prefect's ``SubprocessASGIServer`` gives it; both then import that
    module at once, on the two cores, instead of one after the other (about 4 s each here). The
    instance is then handed the process and waits for it as its own ``start`` does."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return None
    popen = lifecycle.ServerPopen(folder)
    port = _free_port()
    process = popen.Popen(args=_server_command(port), env=_server_environment())
    from prefect.server.api import server as prefect_server

    server = prefect_server.SubprocessASGIServer()
    if server.running:  # started before in this process: ours is not needed
        process.terminate()
        process.wait()
        return server
    server.port, server.server_process, server.running = port, process, True
    atexit.register(server.stop)
    try:
        _wait_until_healthy(server)
    except BaseException:
        server.stop()
        raise
    return server


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_command(port: int) -> list[str]:
    """``SubprocessASGIServer._run_uvicorn_command``'s arguments (Prefect 3.8.8)."""
    import prefect

    return [
        sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent),
        "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip


def _server_environment() -> dict[str, str]:
    """``SubprocessASGIServer._run_uvicorn_command``'s environment (Prefect 3.8.8)."""
    from prefect.settings import get_current_settings

    return {
        **os.environ,
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
        **get_current_settings().to_environment_variables(exclude_unset=True),
    }


def _wait_until_healthy(server: Any) -> None:
    """Poll the server's health as ``SubprocessASGIServer.start`` does, until its startup timeout."""
    import httpx
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    deadline = time.monotonic() + PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
    with httpx.Client() as client:
        while time.monotonic() < deadline:
            if server.server_process.poll() is not None:
                raise RuntimeError(
                    f"the temporary Prefect server exited with code {server.server_process.returncode} "
                    "before it answered"
                )
            try:
                if client.get(f"{server.api_url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(HEALTH_POLL_S)
    raise RuntimeError("timed out waiting for the temporary Prefect server to answer")
