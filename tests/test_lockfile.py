"""The installed environment is the locked one, and the lock agrees with pyproject.toml's pins."""

from __future__ import annotations

import re
import tomllib

import pytest

from compare import lockfile
from tests.conftest import ROOT

LOCK = ROOT / "requirements.lock"


def test_the_installed_environment_is_the_locked_one():
    problems = lockfile.drift(lockfile.locked(LOCK), lockfile.installed())
    assert problems == [], "\n".join(problems) + "\nreinstall with `make setup`, or `make lock` and re-test"


def test_every_direct_pin_of_pyproject_is_locked_at_the_same_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    lock = lockfile.locked(LOCK)
    for pin in pins:
        name, version = re.split(r"==", pin)
        assert lock.get(lockfile.canonical(name)) == version, pin


def test_the_scheduler_breaking_sqlalchemy_is_locked_out():
    major, minor = (int(part) for part in lockfile.locked(LOCK)["sqlalchemy"].split(".")[:2])
    assert (major, minor) < (2, 1)


def test_drift_names_missing_extra_and_changed_distributions():
    lock = {"a": "1.0", "b": "2.0", "torch": "2.13.0"}
    environment = {"a": "1.0", "b": "2.1", "c": "0.1", "torch": lockfile.public_version("2.13.0+cpu")}
    assert lockfile.drift(lock, environment) == [
        "b: locked at 2.0, 2.1 installed",
        "c: 0.1 installed, not in the lock",
    ]
    assert lockfile.drift({**lock, "d": "3"}, {**lock}) == ["d: locked at 3, not installed"]


def test_lock_text_round_trips_and_a_bad_line_is_named(tmp_path):
    path = tmp_path / "requirements.lock"
    path.write_text(lockfile.lock_text({"sqlalchemy": "2.0.58", "prefect": "3.8.8"}), encoding="utf-8")
    assert lockfile.locked(path) == {"prefect": "3.8.8", "sqlalchemy": "2.0.58"}
    path.write_text("prefect>=3\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"requirements.lock:1: not a `name==version` pin"):
        lockfile.locked(path)


def test_check_exits_non_zero_on_drift(tmp_path, capsys):
    path = tmp_path / "requirements.lock"
    path.write_text(lockfile.lock_text({**lockfile.installed(), "sqlalchemy": "2.1.9"}), encoding="utf-8")
    assert lockfile.main([str(path)]) == 1
    assert "sqlalchemy: locked at 2.1.9, 2.0.58 installed" in capsys.readouterr().err
