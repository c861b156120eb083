"""The report's reuse section as Chromium renders it: the diffusion network's nodes and edges and
the similarity heatmap's cells, counted in the rendered page against the warehouse's reuse views,
and the network's nodes found in the screenshot.

Five sample plans (Hubei and the Wuhan plan written from it, Hunan and Shandong that share a
passage, Guizhou), scored with the hashing encoder.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile

import numpy as np
import pytest
from PIL import Image

from compare.errors import CompareError
from compare.report.diffusion import MIN_EDGE_SHARE, NODE_COLOURS
from compare.report.pdf import CHROMIUM_FLAGS, chromium_binary, screenshot_from_html
from compare.report.render import write_report
from compare.run import pipeline
from compare.settings import Settings
from compare.store import warehouse
from tests.conftest import CORPUS

pytestmark = pytest.mark.slow

try:
    chromium_binary()
except CompareError as exc:
    pytest.skip(f"headless Chromium is needed (apt-get install chromium): {exc}", allow_module_level=True)

PLANS = (
    "hubei-2016-8.pdf",
    "wuhan-2016-18.pdf",
    "hunan-2015-86.pdf",
    "shandong-2016-14.pdf",
    "guizhou-2015-35.pdf",
)
#: Pixels of a node's colour in the screenshot per node, at least (a node is a disc of radius 9).
MIN_NODE_PIXELS = 150


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diffusion-report")
    corpus = folder / "corpus"
    corpus.mkdir()
    for name in PLANS:
        shutil.copy(CORPUS / name, corpus / name)
    settings = Settings.from_env(
        corpus=corpus, warehouse=folder / "w.duckdb", models="hashing", cache_dir=folder / "cache"
    )
    pipeline.run(settings)
    files = write_report(settings.warehouse, folder / "report", pdf=False)
    html = files.html.read_text(encoding="utf-8")
    start = html.index('<section id="diffusion"')
    section = folder / "report" / "diffusion.html"  # the section alone, at the top of the page
    section.write_text(html[: html.index("<body>") + len("<body>")] + html[start:], encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="compare-chromium-") as profile:
        dom = subprocess.run(
            [str(chromium_binary()), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", files.html.resolve().as_uri()],
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout  # fmt: skip
    shot = screenshot_from_html(section, folder / "diffusion.png", 1280, 1400)
    return settings.warehouse, dom, shot


def test_the_network_and_the_heatmap_render_with_a_node_per_document_and_a_cell_per_pair(rendered):
    path, dom, _ = rendered
    with warehouse.read_only(path) as con:
        (n_docs,) = con.execute("SELECT count(*) FROM localization_by_document").fetchone()
        (n_edges,) = con.execute(
            "SELECT count(DISTINCT least(doc_id, other_doc_id) || greatest(doc_id, other_doc_id)) FROM document_reuse "
            f"WHERE reused_share >= {MIN_EDGE_SHARE}"
        ).fetchone()
        (directed,) = con.execute(
            "SELECT count(*) FROM document_reuse WHERE file_name = 'wuhan-2016-18.pdf' "
            "AND other_file = 'hubei-2016-8.pdf' AND other_is_earlier"
        ).fetchone()
    assert n_docs == len(PLANS)
    assert len(re.findall(r'<circle class="doc-node"', dom)) == n_docs
    assert len(re.findall(r'<td class="sim-cell"', dom)) == n_docs * n_docs
    assert len(re.findall(r'<line class="reuse-edge"', dom)) == n_edges >= 2  # Wuhan-Hubei, Shandong-Hunan
    assert directed == 1
    assert "<mark>" in dom


def test_the_network_nodes_show_in_the_screenshot(rendered):
    _, _, shot = rendered
    image = np.asarray(Image.open(shot).convert("RGB"))
    pixels = 0
    for colour in NODE_COLOURS.values():
        rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        pixels += int(np.all(image == rgb, axis=-1).sum())
    assert pixels >= MIN_NODE_PIXELS * len(PLANS)
