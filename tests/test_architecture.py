"""The package tree is the architecture: each stage imports only the stages below it.

Stages, lowest first (a module may import its own stage and any lower one, never a higher one):

    base      compare/*.py: errors, settings, records, safe_text, lockfile
    ingest    PDF -> pages -> clauses, metadata
    match     catalogue, encoders, model builds, embeddings, exemplars, calibration, scoring, evaluation
    diffusion clause-to-clause reuse between documents
    store     the warehouse, plan/publish, export, provenance (with its SQL as package data)
    run       the run sequence (plan -> parse -> score -> publish) and a run's process lifecycle
    report | review   (siblings: neither imports the other)
    scale     staging for distributed runs, the synthetic corpus
    cli       the command line: the only place under compare/ that imports flows

Every import counts, including those inside functions (lazy imports are still dependencies).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "compare"
RANK = {
    "base": 0,
    "ingest": 1,
    "match": 2,
    "diffusion": 3,
    "store": 4,
    "run": 5,
    "report": 6,
    "review": 6,
    "scale": 7,
    "cli": 8,
}


def stage_of_module(dotted: str) -> str | None:
    """The stage of an absolute module name under compare (None outside the package)."""
    parts = dotted.split(".")
    if parts[0] != "compare":
        return None
    if len(parts) == 1:
        return "base"
    return parts[1] if parts[1] in RANK else "base"


def stage_of_file(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else "base"


def imports(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """Every module ``path`` imports (its ``source``, read when not given), absolute, with its line
    number; relative imports are resolved against the file's package (``flows`` for flows/*.py)."""
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, filename=str(path))
    inside = path.is_relative_to(PACKAGE)
    package = ["compare", *path.relative_to(PACKAGE).parts[:-1]] if inside else [path.parent.name]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # ``from compare import report`` imports the subpackage ``compare.report``
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names if module == "compare"]
    return found


def violations(path: Path, source: str | None = None) -> list[str]:
    own = stage_of_file(path)
    bad = []
    for line, module in imports(path, source):
        if module == "flows" or module.startswith("flows."):
            if own != "cli":
                bad.append(
                    f"{path.relative_to(PACKAGE)}:{line} imports {module} (only compare/cli may import flows)"
                )
            continue
        target = stage_of_module(module)
        if target is None or target == own:
            continue
        if own in ("report", "review") and target in ("report", "review"):
            bad.append(
                f"{path.relative_to(PACKAGE)}:{line} imports {module} (report and review are siblings)"
            )
        elif RANK[target] > RANK[own]:
            bad.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}: {own} may not import {target}")
    return bad


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_stage_is_a_package_of_the_tree() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert folders == set(RANK) - {"base"}


def test_the_top_holds_only_the_base_modules() -> None:
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == {"__init__", "errors", "settings", "records", "safe_text", "lockfile"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_upward(path: Path) -> None:
    assert violations(path) == []


def test_flows_import_no_command_line() -> None:
    """The CLI imports the flows; the flows import library stages, never the CLI."""
    flows = PACKAGE.parents[1] / "flows"
    users = [
        f"flows/{path.name}:{line} imports {module}"
        for path in sorted(flows.glob("*.py"))
        for line, module in imports(path)
        if module == "compare.cli" or module.startswith("compare.cli.")
    ]
    assert users == []


def test_prefect_stays_out_of_the_library() -> None:
    users = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in MODULES
        for line, module in imports(path)
        if module.split(".")[0] == "prefect"
    ]
    assert users == []


def test_the_check_sees_an_upward_import() -> None:
    """The checker itself: ingest importing match (also relatively, or inside a function), report
    importing review, or anything but the CLI importing flows, is caught."""
    probe = PACKAGE / "ingest" / "probe.py"
    source = (
        "from compare.match import scoring\n"
        "def f():\n    from ..match.scorer import Scorer\n"
        "import flows.compare_flow\n"
        "from compare import store\n"
    )
    found = sorted(violations(probe, source))
    assert found == [
        "ingest/probe.py:1 imports compare.match: ingest may not import match",
        "ingest/probe.py:3 imports compare.match.scorer: ingest may not import match",
        "ingest/probe.py:4 imports flows.compare_flow (only compare/cli may import flows)",
        "ingest/probe.py:5 imports compare.store: ingest may not import store",
    ]
    assert violations(PACKAGE / "report" / "probe.py", "from compare.review import queue\n")
    assert (
        violations(PACKAGE / "cli" / "probe.py", "import flows.serve\nfrom compare.report import render\n")
        == []
    )
