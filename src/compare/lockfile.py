"""The install lock: every distribution of the environment, transitive ones included, pinned.

``requirements.lock`` is a pip requirements file of ``name==version`` lines, written from an
environment that passed the suite (``make lock``) and installed by ``make setup`` (so by
``make run`` and ``make test``, and by CI). ``pyproject.toml`` keeps the direct pins; the lock
adds everything they pull in, so a new release of an indirect dependency (SQLAlchemy 2.1 broke
Prefect's scheduler) never reaches an install unnoticed.

Versions are compared without their local label: the lock says ``torch==2.13.0`` and the CPU
build installs as ``2.13.0+cpu``. The installer's own tools and the project itself are not
locked::

    python -m compare.lockfile requirements.lock           # exit 1 and name every drift
    python -m compare.lockfile --write requirements.lock   # pin this environment
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

DEFAULT_LOCK = Path("requirements.lock")
#: Distributions an environment has whatever the project asks for, and the project itself.
UNLOCKED = frozenset({"pip", "setuptools", "wheel", "compare"})
_HEADER = """\
# Every distribution the project installs, transitive ones included, at the versions the test
# suite passed with. Written by `make lock` (python -m compare.lockfile --write); installed by
# `make setup`, so by `make run`, `make test` and CI. Edit pyproject.toml, not this file.
"""
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)\s*(?:#.*)?$")


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def public_version(version: str) -> str:
    """The version without its local label (``2.13.0+cpu`` -> ``2.13.0``)."""
    return version.split("+", 1)[0]


def locked(path: Path) -> dict[str, str]:
    """Canonical name -> version of every pin in the lock file; a line that is not a pin is an error."""
    pins: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        match = _PIN.match(text)
        if match is None:
            raise ValueError(f"{path}:{number}: not a `name==version` pin: {text!r}")
        pins[canonical(match.group(1))] = match.group(2)
    return pins


def installed() -> dict[str, str]:
    """Canonical name -> public version of every distribution in this environment but the unlocked ones."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and canonical(name) not in UNLOCKED:
            found[canonical(name)] = public_version(dist.version)
    return found


def drift(lock: Mapping[str, str], environment: Mapping[str, str]) -> list[str]:
    """One line per difference between the lock and the environment; empty when they agree."""
    lines = []
    for name in sorted(lock.keys() | environment.keys()):
        want, have = lock.get(name), environment.get(name)
        if want == have:
            continue
        if have is None:
            lines.append(f"{name}: locked at {want}, not installed")
        elif want is None:
            lines.append(f"{name}: {have} installed, not in the lock")
        else:
            lines.append(f"{name}: locked at {want}, {have} installed")
    return lines


def lock_text(environment: Mapping[str, str]) -> str:
    """The lock file for an environment, sorted by name."""
    return _HEADER + "".join(f"{name}=={environment[name]}\n" for name in sorted(environment))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check this environment against the lock, or write it.")
    parser.add_argument("lock", nargs="?", type=Path, default=DEFAULT_LOCK)
    parser.add_argument("--write", action="store_true", help="pin this environment into the lock file")
    args = parser.parse_args(argv)
    if args.write:
        args.lock.write_text(lock_text(installed()), encoding="utf-8")
        print(f"{args.lock}: {len(installed())} distributions pinned")
        return 0
    problems = drift(locked(args.lock), installed())
    for line in problems:
        print(f"{args.lock}: {line}", file=sys.stderr)
    if problems:
        print(
            f"the environment differs from {args.lock} in {len(problems)} distributions: "
            "reinstall with `make setup`, or refresh the lock with `make lock` and run `make test`",
            file=sys.stderr,
        )
        return 1
    print(f"{args.lock}: the environment matches ({len(installed())} distributions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
