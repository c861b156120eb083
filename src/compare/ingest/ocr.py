"""Text of a scanned page: render it with pdfium, read it with RapidOCR (ONNX Runtime).

The Chinese detection and recognition models ship inside the ``rapidocr`` wheel, so OCR
needs no download. A page is rendered in grey at ``OCR_SCALE`` (about 108 dpi, which puts
a 16 pt body character at some 24 pixels: enough for the recognizer, and fast); the text
boxes found are straightened (scans are often a degree or so askew), converted back to
PDF points and returned as glyphs, so the layout rules that order pdfplumber's
characters also order OCR lines.
"""

from __future__ import annotations

import math
import statistics
from functools import lru_cache
from typing import Any

import numpy as np

from compare.ingest.layout import Glyph
from compare.ingest.normalize import chinese_punctuation

#: Render scale for OCR (1.0 = 72 dpi).
OCR_SCALE = 1.5
#: Text boxes recognized with less confidence than this are dropped (noise, stamps, specks).
MIN_BOX_SCORE = 0.6
#: A box at least this many times wider than high gives a reliable text angle.
MIN_ANGLE_BOX_RATIO = 5.0
#: Skew (degrees) below which boxes are left as they are.
MIN_SKEW_DEGREES = 0.1
#: Width, in ems, of an ASCII character in CJK text (digits, Latin letters, + and %).
HALF_WIDTH_EM = 0.5
ASCII_END = 0x80
#: Threads ONNX Runtime may use.
OCR_THREADS = 2


@lru_cache(maxsize=1)
def _engine() -> Any:
    from rapidocr import RapidOCR  # imported on first use: loading ONNX Runtime takes a moment

    return RapidOCR(
        params={
            "Global.use_cls": False,
            "Global.log_level": "critical",
            "EngineConfig.onnxruntime.intra_op_num_threads": OCR_THREADS,
        }
    )


def skew_degrees(boxes: np.ndarray) -> float:
    """Median angle of the top edges of the long text boxes (positive: text runs downhill)."""
    angles = []
    for box in boxes:
        (x0, y0), (x1, y1) = box[0], box[1]
        height = float(np.linalg.norm(box[3] - box[0]))
        if height and (x1 - x0) >= MIN_ANGLE_BOX_RATIO * height:
            angles.append(math.degrees(math.atan2(y1 - y0, x1 - x0)))
    return statistics.median(angles) if angles else 0.0


def glyphs_from_boxes(
    boxes: np.ndarray,
    texts: tuple[str, ...],
    scores: tuple[float, ...],
    scale: float,
    centre: tuple[float, float],
) -> list[Glyph]:
    """OCR text boxes (pixel quadrilaterals) as straightened glyph runs in PDF points."""
    angle = skew_degrees(boxes)
    rotation = -math.radians(angle) if abs(angle) >= MIN_SKEW_DEGREES else 0.0
    cos, sin = math.cos(rotation), math.sin(rotation)
    cx, cy = centre
    result = []
    for box, text, score in zip(boxes, texts, scores, strict=True):
        text = chinese_punctuation(text.strip())
        if score < MIN_BOX_SCORE or not text:
            continue
        xs = [cx + (x - cx) * cos - (y - cy) * sin for x, y in box]
        ys = [cy + (x - cx) * sin + (y - cy) * cos for x, y in box]
        top, bottom = min(ys) / scale, max(ys) / scale
        result.append(
            Glyph(
                text=text, x0=min(xs) / scale, x1=max(xs) / scale, top=top, bottom=bottom, size=bottom - top
            )
        )
    return result


def page_glyphs(image: np.ndarray, scale: float = OCR_SCALE) -> list[Glyph]:
    """The text OCR finds on a rendered page image (grey or RGB), as glyph runs in PDF points."""
    output = _engine()(image)
    if output.boxes is None or not output.txts:
        return []
    height, width = image.shape[:2]
    return glyphs_from_boxes(
        np.asarray(output.boxes, dtype=float),
        tuple(output.txts),
        tuple(float(s) for s in output.scores),
        scale,
        (width / 2, height / 2),
    )
