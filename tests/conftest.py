"""Shared fixtures: the shipped catalogue, the seed, and temporary warehouses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

# Prefect configures logging when ``prefect.main`` is first imported (``from prefect import
# flow``), and its console handler (also the root logger's) keeps the sys.stderr of that moment.
# Imported first inside a CliRunner or capsys test, it would write to a stream closed after that
# test, and every later log record (ours, Prefect's, any library's) would raise. Importing it
# here binds it to pytest's session-long stream.
import prefect.main  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seeds" / "001_9829cb079ef84c7a.txt"
CATALOGUE = ROOT / "corpora" / "national" / "catalogue.json"
CORPUS = ROOT / "corpora" / "provincial"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def catalogue():
    from compare.match.catalogue import load_catalogue

    return load_catalogue(CATALOGUE)


@pytest.fixture(scope="session")
def seed_text() -> str:
    if not SEED.is_file():
        pytest.skip(f"seed not found at {SEED}")
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def two_plans(tmp_path_factory) -> tuple[Path, Path]:
    """(corpus, warehouse): the two sample plans of ``review_helpers.SAMPLES``, scored once for
    the whole session with the hashing encoder. Read it as it is; copy it to change it."""
    from tests.review_helpers import corpus_with_samples, run

    folder = tmp_path_factory.mktemp("two-plans")
    corpus, path = corpus_with_samples(folder / "corpus"), folder / "w.duckdb"
    run(corpus, path)
    return corpus, path


@pytest.fixture
def reuse_corpus(tmp_path) -> Path:
    """A corpus folder of ``reuse_helpers.FIRST``: Hubei, the Wuhan plan written from it, Guizhou."""
    from tests.reuse_helpers import corpus_of_first

    return corpus_of_first(tmp_path / "corpus")


@pytest.fixture
def compared(monkeypatch) -> list[str]:
    """Doc ids of every document compared with a reuse index, in order (``reuse_helpers.counting_adds``)."""
    from tests.reuse_helpers import counting_adds

    return counting_adds(monkeypatch)
