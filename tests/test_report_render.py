"""The committee report as Chromium renders it: the screen (a PNG screenshot) and the PDF.

The heatmap is checked in the picture, not in the HTML: every cell of the measure heatmap is
found as a patch of its status colour, rows of such patches are the documents. The PDF is
checked for its size, its CJK font, the landscape heatmap page and content that stays inside
the page. Run on the six sample plans and on the synthetic corpus of 31 provinces and 10 cities.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from scripts import synthetic_corpus

from compare.errors import CompareError
from compare.report.data import report_data
from compare.report.pdf import chromium_binary, screenshot_from_html
from compare.report.render import write_report
from compare.report.views import STATUS_COLOURS
from tests.test_report import MEASURES, SAMPLE_DOCUMENTS, SAMPLE_TABLES, SYNTHETIC_DOCUMENTS

pytestmark = pytest.mark.slow

try:
    chromium_binary()
except CompareError as exc:
    pytest.skip(
        f"headless Chromium is needed (apt-get install chromium fonts-wqy-zenhei): {exc}",
        allow_module_level=True,
    )
if not shutil.which("pdftoppm"):
    pytest.skip("pdftoppm and pdffonts are needed (apt-get install poppler-utils)", allow_module_level=True)

SCREEN_WIDTH = 1280
#: Tall enough to hold the measure heatmap below the summary and the section heatmap.
SAMPLE_SCREEN_HEIGHT = 2600
LARGE_SCREEN_HEIGHT = 4200
#: A heatmap cell is at least this many pixels of its status colour (a cell is about 18 x 17).
MIN_CELL_PIXELS = 40
#: A row of the measure heatmap holds at least this many cells (legend rows hold one per status).
MIN_ROW_CELLS = 30
CJK_FONT = re.compile(
    r"\+(WenQuanYi\w*|Noto\w*CJK\w*|SourceHan\w*|DroidSansFallback\w*)\s+CID (TrueType|Type 0C?)\s+\S+\s+yes"
)
#: Width of the strip at each side of a page that must stay blank (the margins are 9-12 mm).
EDGE_MM = 4
RENDER_DPI = 40
MM_PER_INCH = 25.4
LANDSCAPE = "841.92 x 594.96"


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def heatmap_rows(png: Path) -> list[Counter[str]]:
    """Per row of the measure heatmap in the picture (top to bottom), the number of cells per status.

    A cell is a patch of its status colour around the status symbol; a patch inside another
    one (the inside of the ○ symbol) is part of that cell.
    """
    image = np.asarray(Image.open(png).convert("RGB"))
    boxes: list[tuple[int, int, int, int, str]] = []
    for status, (background, _) in STATUS_COLOURS.items():
        mask = np.all(image == _rgb(background), axis=-1)
        labels, n = ndimage.label(mask)
        sizes = ndimage.sum(mask, labels, range(1, n + 1))
        for box, size in zip(ndimage.find_objects(labels), sizes, strict=True):
            if size >= MIN_CELL_PIXELS:
                boxes.append((box[0].start, box[0].stop, box[1].start, box[1].stop, status))
    cells = [
        b
        for b in boxes
        if not any(
            o is not b and o[0] <= b[0] and b[1] <= o[1] and o[2] <= b[2] and b[3] <= o[3] for o in boxes
        )
    ]
    by_row: dict[int, Counter[str]] = {}
    for y0, y1, _, _, status in sorted(cells):
        y = (y0 + y1) // 2
        row = next((r for r in by_row if abs(r - y) <= 2), y)
        by_row.setdefault(row, Counter())[status] += 1
    return [by_row[y] for y in sorted(by_row) if sum(by_row[y].values()) >= MIN_ROW_CELLS]


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page of the PDF."""
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text.split("\f")[:-1]


def page_sizes(pdf: Path, first: int, last: int) -> dict[int, str]:
    info = subprocess.run(
        ["pdfinfo", "-f", str(first), "-l", str(last), str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"Page\s+(\d+) size:\s+([\d.]+ x [\d.]+)", info)}


def rendered_pages(pdf: Path, out: Path, first: int, last: int) -> list[Path]:
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            str(RENDER_DPI),
            "-png",
            "-f",
            str(first),
            "-l",
            str(last),
            str(pdf),
            str(out / "page"),
        ],
        check=True,
    )
    return sorted(out.glob("page-*.png"))


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    synthetic = synthetic_corpus
    folder = tmp_path_factory.mktemp("sample")
    path = synthetic.write_warehouse(synthetic.load_tables(SAMPLE_TABLES), folder / "compare.duckdb")
    files = write_report(path, folder / "report")
    shot = screenshot_from_html(files.html, folder / "screen.png", SCREEN_WIDTH, SAMPLE_SCREEN_HEIGHT)
    return path, files, shot


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    synthetic = synthetic_corpus
    folder = tmp_path_factory.mktemp("large")
    tables = synthetic.synthetic_tables(synthetic.load_tables(SAMPLE_TABLES))
    path = synthetic.write_warehouse(tables, folder / "compare.duckdb")
    files = write_report(path, folder / "report")
    shot = screenshot_from_html(files.html, folder / "screen.png", SCREEN_WIDTH, LARGE_SCREEN_HEIGHT)
    return path, files, shot


def test_screenshot_shows_the_measure_heatmap_cell_by_cell(sample):
    path, _, shot = sample
    image = np.asarray(Image.open(shot).convert("L"))
    assert (image < 250).mean() > 0.05, "the page looks blank"
    rows = heatmap_rows(shot)
    assert len(rows) == SAMPLE_DOCUMENTS
    coverage = report_data(path).coverage
    expected = Counter(coverage["status"])
    assert sum(rows, Counter()) == expected
    assert all(sum(row.values()) == MEASURES for row in rows)


def test_pdf_has_pages_a_landscape_heatmap_and_an_embedded_cjk_font(sample):
    _, files, _ = sample
    pages = pdf_pages(files.pdf)
    assert len(pages) >= 1 + 2 + SAMPLE_DOCUMENTS + 5
    fonts = subprocess.run(["pdffonts", str(files.pdf)], capture_output=True, text=True, check=True).stdout
    assert CJK_FONT.search(fonts), fonts
    assert "Type 3" not in fonts, "glyphs drawn as Type 3 procedures: a CFF CJK font was used"
    heat = next(i for i, text in enumerate(pages, start=1) if "Coverage by national measure" in text)
    assert page_sizes(files.pdf, heat, heat)[heat] == LANDSCAPE
    assert "覆盖 covered" in pages[0] and "国发〔2015〕40号" in pages[0]


def test_large_corpus_heatmap_on_screen_has_every_document(large):
    _, _, shot = large
    rows = heatmap_rows(shot)
    assert len(rows) == SYNTHETIC_DOCUMENTS
    assert all(sum(row.values()) == MEASURES for row in rows)


def test_large_corpus_heatmap_fits_one_landscape_page(large):
    path, files, _ = large
    pages = pdf_pages(files.pdf)
    heat = next(i for i, text in enumerate(pages, start=1) if "Coverage by national measure" in text)
    text = pages[heat - 1]
    assert page_sizes(files.pdf, heat, heat)[heat] == LANDSCAPE
    labels = report_data(path).documents["label"]
    missing = [label for label in labels if label not in text]
    assert missing == [], f"rows not on the heatmap page {heat}: {missing}"
    assert "III.7" in text and "覆盖" in text


def test_large_corpus_pages_keep_their_content_inside_the_margins(large, tmp_path):
    _, files, _ = large
    pages = pdf_pages(files.pdf)
    assert len(pages) > SYNTHETIC_DOCUMENTS * 2
    last_document_page = max(i for i, t in enumerate(pages, start=1) if "五、各项国家措施" in t)
    edge = round(EDGE_MM / MM_PER_INCH * RENDER_DPI)
    for png in rendered_pages(files.pdf, tmp_path, 1, min(last_document_page, 12)):
        image = np.asarray(Image.open(png).convert("L"))
        assert (image < 250).mean() > 0.005, f"{png.name} is blank"
        for side, strip in (("left", image[:, :edge]), ("right", image[:, -edge:])):
            assert strip.min() > 200, f"{png.name}: content reaches the {side} edge of the page"
