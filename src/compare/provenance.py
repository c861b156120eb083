"""What a run's results depend on, as short hashes stored in the warehouse.

- ``code_version``: the package version, the git commit when the code runs from a checkout,
  and a hash of the package's source files (so an edited working tree is told apart);
- ``source_fingerprint``: that hash alone; with a file's content hash it keys the cross-run
  cache of parsed documents (``parse_key``);
- ``scoring_key``: everything that decides a document's scores (the package's source files,
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
from compare.calibration import Calibration
from compare.catalogue import Catalogue
from compare.exemplars import ExemplarBank
from compare.extract import sha256_of
from compare.settings import Settings

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parents[1]
#: Hex digits kept of each hash: short enough to read, long enough never to collide here.
KEY_HEX = 16
COMMIT_HEX = 10
GIT_TIMEOUT_S = 5


@cache
def source_fingerprint() -> str:
    """A hash of every Python source file of the package (names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:KEY_HEX]


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
    return f"parse-{sha256_of(path)}-{source_fingerprint()}"


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
            "code": source_fingerprint(),
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
