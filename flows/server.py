"""Prefect's temporary server for one command, started the way ``compare.run.lifecycle`` says:
in a session of its own, killed with the command (even by ``kill -9``), and recorded so that a later
command stops one a killed command left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compare.run import lifecycle


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
