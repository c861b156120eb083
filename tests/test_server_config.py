"""Whether a Prefect server is configured, found without importing Prefect, agrees with Prefect.

``compare run`` publishes a run with nothing new in-process unless a Prefect server is
configured; a configured server must see every run, so the check must find a server wherever
Prefect itself would: each case below is one place a user can name it, and Prefect's own
settings (in a subprocess started in the folder) are the reference.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from flows.server import configured_api_url

URL = "http://127.0.0.1:4299/api"
OTHER = "http://127.0.0.1:4300/api"
PREFECT_VARIABLES = ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH", "PREFECT_HOME")


def _profiles(path: Path, active: str, **profiles: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f'active = "{active}"']
    for name, values in profiles.items():
        lines.append(f"[profiles.{name}]")
        lines += [f'{key} = "{value}"' for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _none(folder: Path, home: Path, env: dict[str, str]) -> None:
    (folder / "pyproject.toml").write_text('[tool.other]\nx = "y"\n', encoding="utf-8")


def _environment(folder: Path, home: Path, env: dict[str, str]) -> None:
    env["PREFECT_API_URL"] = URL


def _dotenv(folder: Path, home: Path, env: dict[str, str]) -> None:
    (folder / ".env").write_text(f"# a project's .env\nPREFECT_API_URL={URL}\n", encoding="utf-8")


def _prefect_toml(folder: Path, home: Path, env: dict[str, str]) -> None:
    (folder / "prefect.toml").write_text(f'[api]\nurl = "{URL}"\n', encoding="utf-8")


def _pyproject(folder: Path, home: Path, env: dict[str, str]) -> None:
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "x"\n\n[tool.prefect.api]\nurl = "{URL}"\n', encoding="utf-8"
    )


def _active_profile(folder: Path, home: Path, env: dict[str, str]) -> None:
    _profiles(home / "profiles.toml", "remote", local={}, remote={"PREFECT_API_URL": URL})


def _inactive_profile(folder: Path, home: Path, env: dict[str, str]) -> None:
    _profiles(home / "profiles.toml", "local", local={}, remote={"PREFECT_API_URL": URL})


def _profile_from_environment(folder: Path, home: Path, env: dict[str, str]) -> None:
    _inactive_profile(folder, home, env)
    env["PREFECT_PROFILE"] = "remote"


def _profiles_path_in_dotenv(folder: Path, home: Path, env: dict[str, str]) -> None:
    elsewhere = folder / "conf" / "profiles.toml"
    _profiles(elsewhere, "remote", remote={"PREFECT_API_URL": URL})
    (folder / ".env").write_text(f"PREFECT_PROFILES_PATH={elsewhere}\n", encoding="utf-8")


def _profiles_path_in_pyproject(folder: Path, home: Path, env: dict[str, str]) -> None:
    elsewhere = folder / "conf" / "profiles.toml"
    _profiles(elsewhere, "remote", remote={"PREFECT_API_URL": URL})
    (folder / "pyproject.toml").write_text(
        f'[tool.prefect]\nprofiles_path = "{elsewhere}"\n', encoding="utf-8"
    )


def _dotenv_over_profile(folder: Path, home: Path, env: dict[str, str]) -> None:
    _active_profile(folder, home, env)
    _dotenv(folder, home, env)
    (folder / ".env").write_text(f"PREFECT_API_URL={OTHER}\n", encoding="utf-8")


CASES: dict[str, Callable[[Path, Path, dict[str, str]], None]] = {
    "none": _none,
    "environment": _environment,
    "dotenv": _dotenv,
    "prefect_toml": _prefect_toml,
    "pyproject": _pyproject,
    "active_profile": _active_profile,
    "inactive_profile": _inactive_profile,
    "profile_from_environment": _profile_from_environment,
    "profiles_path_in_dotenv": _profiles_path_in_dotenv,
    "profiles_path_in_pyproject": _profiles_path_in_pyproject,
    "dotenv_over_profile": _dotenv_over_profile,
}


def _prefects_url(folder: Path, env: dict[str, str]) -> str | None:
    code = "from prefect.settings import get_current_settings; print(get_current_settings().api.url or '')"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip() or None


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_a_configured_server_is_found_where_prefect_finds_it(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, home = tmp_path / "project", tmp_path / "home"
    folder.mkdir()
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in PREFECT_VARIABLES and not k.startswith("PREFECT_TESTING")
    }
    env["PREFECT_HOME"] = str(home)
    CASES[case](folder, home, env)
    expected = _prefects_url(folder, env)
    for key in PREFECT_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        if key.startswith("PREFECT_"):
            monkeypatch.setenv(key, value)
    assert configured_api_url(folder) == expected
    assert (expected is not None) == (case not in {"none", "inactive_profile"})


def test_the_temporary_server_is_launched_as_prefect_launches_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """``temporary_server`` launches the server process itself, before importing Prefect's server
    module: its command and environment must stay those of Prefect's own ``SubprocessASGIServer``."""
    from flows.server import _server_command, _server_environment
    from prefect.server.api import server as prefect_server

    launched: dict[str, object] = {}

    def popen(*args: object, **kwargs: object) -> None:
        launched.update(kwargs)

    monkeypatch.setattr(prefect_server.subprocess, "Popen", popen)
    instance = prefect_server.SubprocessASGIServer(port=4242)
    instance._run_uvicorn_command()
    assert launched["args"] == _server_command(4242)
    assert launched["env"] == _server_environment()
