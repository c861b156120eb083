"""Prefect's temporary server for one command, started the way ``compare.run.lifecycle`` says:
in a session of its own, killed with the command (even by ``kill -9``), and recorded so that a later
command stops one a killed command left."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from compare.run import lifecycle

API_URL = "PREFECT_API_URL"
PROFILES_PATH = "PREFECT_PROFILES_PATH"


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
    this one (it is Prefect's own instance), and Prefect stops it at exit."""
    from prefect.server.api import server as prefect_server
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return None
    server = prefect_server.SubprocessASGIServer()
    if not server.running:
        original = prefect_server.subprocess
        prefect_server.subprocess = lifecycle.ServerPopen(folder)  # type: ignore[assignment]
        try:
            server.start()
        finally:
            prefect_server.subprocess = original
    return server
