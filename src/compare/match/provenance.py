"""What a run's results depend on, as short hashes stored in the warehouse.

- ``code_version``: the package version, the git commit when the code runs from a checkout,
  and a hash of the package's source files (so an edited working tree is told apart);
- ``stage_fingerprint``: a hash of the source of some stages only. ``parse_key`` (the cross-run
  cache of parsed documents) takes the ingest stage's (``parse_fingerprint``) with the file's
  content hash; ``scoring_key`` takes the ingest and match stages' (``score_fingerprint``). So
  editing the CLI, the report, the review, the store or the docs re-extracts and re-scores
  nothing, while editing a parser or a scorer redoes what it decides;
- ``scoring_key``: everything that decides a document's scores (the ingest and match source,
  models, top-k, national catalogue, calibration, exemplars). A document scored under another
  key is scored again, so every current row of the warehouse comes from the code and settings
  of the latest run that touched it: after an upgrade, the next run re-scores the corpus
  (reusing the stored embeddings).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from functools import cache
from pathlib import Path

from compare import __version__
from compare.ingest.extract import sha256_of
from compare.match.calibration import Calibration
from compare.match.catalogue import Catalogue
from compare.match.exemplars import ExemplarBank
from compare.settings import Settings

#: The package's root folder (``src/compare``).
PACKAGE_DIR = Path(__file__).resolve().parents[1]
PROJECT_ROOT = PACKAGE_DIR.parents[1]
#: Hex digits kept of each hash: short enough to read, long enough never to collide here.
KEY_HEX = 16
COMMIT_HEX = 10
GIT_TIMEOUT_S = 5
#: The stages whose code decides a parsed document (the top-level modules always count).
PARSE_STAGES = ("ingest",)
#: The stages whose code decides a document's scores: parsing feeds them, so it counts too.
SCORE_STAGES = ("ingest", "match")
#: The stages whose code decides a staged document (parsed, scored, and turned into table rows).
STAGED_STAGES = ("ingest", "match", "store", "scale")


def _sources(root: Path, stages: tuple[str, ...] | None) -> list[Path]:
    """The Python files of the top-level modules and of ``stages`` (every file when None)."""
    if stages is None:
        return sorted(root.rglob("*.py"))
    files = list(root.glob("*.py"))
    for stage in stages:
        files += (root / stage).rglob("*.py")
    return sorted(files)


def stage_fingerprint(stages: tuple[str, ...] | None = None) -> str:
    """``fingerprint_of(PACKAGE_DIR, stages)``: of this package's code."""
    return fingerprint_of(PACKAGE_DIR, stages)


@cache
def fingerprint_of(root: Path, stages: tuple[str, ...] | None = None) -> str:
    """A hash of the Python source files (names and bytes) of the top-level modules and of the
    given stage packages (``compare/ingest``, ``compare/match``, ...); of the whole package when
    ``stages`` is None. Editing the CLI, the report or the review changes none of the keys built
    on ``PARSE_STAGES`` or ``SCORE_STAGES``."""
    digest = hashlib.sha256()
    for path in _sources(root, stages):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:KEY_HEX]


def source_fingerprint() -> str:
    """A hash of every Python source file of the package: which code a run was made with."""
    return stage_fingerprint(None)


def parse_fingerprint() -> str:
    """A hash of the code that parses a document (``PARSE_STAGES`` and the top-level modules)."""
    return stage_fingerprint(PARSE_STAGES)


def staged_fingerprint() -> str:
    """A hash of the code that stages a document for a distributed run (``STAGED_STAGES``)."""
    return stage_fingerprint(STAGED_STAGES)


def score_fingerprint() -> str:
    """A hash of the code that scores a document (``SCORE_STAGES`` and the top-level modules)."""
    return stage_fingerprint(SCORE_STAGES)


@cache
def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit[:COMMIT_HEX] if result.returncode == 0 and commit else None


def code_version() -> str:
    """``<version>+g<commit>.src<hash>`` (the commit only when run from a git checkout)."""
    commit = _git_commit()
    local = f"g{commit}." if commit else ""
    return f"{__version__}+{local}src{source_fingerprint()}"


def parse_key(path: Path) -> str:
    """The cache key of a parsed document: the file's content and the code that parses it.

    Models play no part in parsing (they only score), so they are not in the key: a change of
    models reuses the parsed documents, while the embedding cache is keyed by model id.
    """
    return f"parse-{sha256_of(path)}-{parse_fingerprint()}"


def exemplar_fingerprint(bank: ExemplarBank) -> str:
    """A hash of the exemplar texts, where they come from, and the measures they stand for."""
    digest = hashlib.sha256()
    for text, doc_id in zip(bank.texts, bank.doc_ids, strict=True):
        digest.update(f"{doc_id}\0{text}\0".encode())
    digest.update(bank.membership.tobytes())
    return digest.hexdigest()[:KEY_HEX]


def scoring_key(
    settings: Settings, catalogue: Catalogue, calibration: Calibration, bank: ExemplarBank
) -> str:
    """The hash of everything that decides a document's matches and coverage."""
    blob = json.dumps(
        {
            "code": score_fingerprint(),
            "models": list(settings.models),
            "e5_backend": settings.e5_backend,
            "top_k": settings.top_k,
            "catalogue": catalogue.fingerprint,
            "weights": calibration.weights,
            "thresholds": calibration.as_record()["thresholds"],
            "exemplars": exemplar_fingerprint(bank),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:KEY_HEX]
