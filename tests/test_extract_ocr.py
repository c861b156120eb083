"""Scanned plans (image only, rotated a degree or so, noisy, 100-120 dpi): OCR page by page."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pdfplumber
import pytest
from scripts import render_fixtures

from compare.ingest.extract import MIN_TEXT_CHARS, pages
from compare.ingest.metadata import metadata
from compare.ingest.ocr import glyphs_from_boxes, skew_degrees
from compare.ingest.segment import clauses, full_text
from compare.records import Page
from tests.test_extract import OCR_FIXTURES, SOURCES, character_error_rate

PDFS = Path(__file__).resolve().parent / "data" / "pdfs"
GOLDEN = Path(__file__).resolve().parent / "data" / "golden"
#: Character error rate allowed on the scanned copy.
MAX_SCAN_CER = 0.05


@cache
def scanned(name: str = "scanned") -> tuple[Page, ...]:
    return pages(PDFS / f"{name}.pdf")


@pytest.mark.slow
def test_scanned_pages_are_read_by_ocr():
    assert [page.method for page in scanned()] == ["ocr"]
    with pdfplumber.open(PDFS / "variant-scan-with-notice.pdf") as pdf:
        assert len(pdf.pages[0].extract_text()) > MIN_TEXT_CHARS  # a text layer: the stamped notice
    assert [page.method for page in scanned("variant-scan-with-notice")] == ["ocr"]
    meta = metadata(full_text(scanned()), scanned())
    assert meta.ocr_used and meta.page_count == 1 and meta.province == "辽宁"


@pytest.mark.slow
@pytest.mark.parametrize("name", OCR_FIXTURES)
def test_character_error_rate_of_the_scans(name):
    reference = render_fixtures.reference_text(SOURCES / f"{name}.txt")
    assert character_error_rate(full_text(scanned(name)), reference) <= MAX_SCAN_CER


@pytest.mark.slow
@pytest.mark.parametrize("name", OCR_FIXTURES)
def test_scans_segment_like_their_golden_lists(name):
    golden = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))["clauses"]
    found = clauses("scan", scanned(name))
    assert [(c.path, str(c.kind)) for c in found] == [(g["path"], g["kind"]) for g in golden]
    text = "".join(c.text for c in found)
    assert character_error_rate(text, "".join(g["text"] for g in golden)) <= MAX_SCAN_CER


def test_ocr_boxes_are_straightened_and_scaled_to_points():
    angle = math.radians(1.0)

    def box(x: float, y: float, w: float, h: float) -> list[list[float]]:
        corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
        return [
            [cx * math.cos(angle) - cy * math.sin(angle), cx * math.sin(angle) + cy * math.cos(angle)]
            for cx, cy in corners
        ]

    boxes = np.array([box(100, 100, 600, 24), box(100, 150, 600, 24)])
    assert abs(skew_degrees(boxes) - 1.0) < 0.05
    glyphs = glyphs_from_boxes(boxes, ("一、重点行动", "(一)推进智能制造"), (0.99, 0.98), 2.0, (0.0, 0.0))
    assert [g.text for g in glyphs] == ["一、重点行动", "（一）推进智能制造"]
    assert abs(glyphs[0].top - 50) < 1 and abs((glyphs[0].bottom - glyphs[0].top) - 12) < 1
    assert abs(glyphs[0].x0 - glyphs[1].x0) < 0.5  # straightened: the lines start level
