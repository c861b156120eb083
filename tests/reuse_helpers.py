"""What the reuse tests of a run (test_reuse_run) and of a staged run (test_scale_reuse) share.

Real sample plans: Hubei, the Wuhan plan written from it, Guizhou; Ningbo added later. The
``reuse_corpus`` and ``compared`` fixtures are in conftest.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from compare.diffusion.index import ReuseIndex
from compare.store import warehouse
from tests.conftest import CORPUS

FIRST = ("hubei-2016-8.pdf", "wuhan-2016-18.pdf", "guizhou-2015-35.pdf")
ADDED = "ningbo-2016-29.pdf"


def corpus_of_first(folder: Path) -> Path:
    folder.mkdir()
    for name in FIRST:
        shutil.copy(CORPUS / name, folder / name)
    return folder


def counting_adds(monkeypatch) -> list[str]:
    """Doc ids of every document compared with a reuse index (``ReuseIndex.add`` of a document it lacks)."""
    seen: list[str] = []
    add = ReuseIndex.add

    def counting(self, doc):
        if doc.doc_id not in self:
            seen.append(doc.doc_id)
        return add(self, doc)

    monkeypatch.setattr(ReuseIndex, "add", counting)
    return seen


def rows(path: Path, sql: str) -> list[tuple]:
    with warehouse.read_only(path) as con:
        return con.execute(sql).fetchall()


def latest_state(path: Path) -> tuple:
    """The newest ``reuse_index`` row: index id, documents, compared, removed, rebuilt, links."""
    return rows(
        path,
        "SELECT index_id, n_documents, n_compared, n_removed, rebuilt, n_links FROM reuse_index "
        "ORDER BY created_at DESC LIMIT 1",
    )[0]
