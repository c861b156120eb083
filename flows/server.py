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


def _profile_api_url(home: Path) -> str | None:
    """PREFECT_API_URL of the active profile in ``<PREFECT_HOME>/profiles.toml``, if any."""
    try:
        profiles = tomllib.loads((home / "profiles.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active")
    profile = profiles.get("profiles", {}).get(active, {}) if isinstance(active, str) else {}
    value = profile.get(API_URL) if isinstance(profile, dict) else None
    return value if isinstance(value, str) and value else None


def _file_api_url(folder: Path) -> str | None:
    """An API url set in ``prefect.toml`` (``[api] url``) of the working folder, if any."""
    try:
        config = tomllib.loads((folder / "prefect.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    api = config.get("api", {})
    value = api.get("url") if isinstance(api, dict) else None
    return value if isinstance(value, str) and value else None


def api_configured() -> bool:
    """Whether runs report to a configured Prefect server (``PREFECT_API_URL`` in the environment,
    the active Prefect profile, or ``prefect.toml``), found without importing Prefect (seconds)."""
    if os.environ.get(API_URL):
        return True
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    return _profile_api_url(home) is not None or _file_api_url(Path.cwd()) is not None


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
