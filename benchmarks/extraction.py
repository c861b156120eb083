"""Extraction speed and accuracy: ``compare.ingest.extract.pages`` against raw pypdfium2 text.

Text pages: the sample corpus (corpora/provincial/*.pdf) and the text-layer fixtures
(tests/data/pdfs). OCR pages: a scan of the first pages of one corpus plan, made in memory
the way the scanned fixture is (120 dpi, rotated 1°, noise; scripts/render_fixtures.py),
plus the scanned fixtures. For each set, pages per second of ``extract.pages`` (layout,
cleaning, fallbacks, OCR) and of raw pypdfium2 (``get_text_bounded`` on every page of the
same files; it finds no text on scans). Medians of several runs.

Character error rate (edit distance over reference length, whitespace removed) against the
source text of every fixture, for ours and for raw pdfium; for the scanned corpus plan, against
the text layer of the same pages (itself at CER 0 against its source).

    .venv/bin/python benchmarks/extraction.py [--runs 3] [--scan-pages 4]

Prints the figures and writes benchmarks/results/extraction.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pypdfium2 as pdfium
from rapidfuzz.distance import Levenshtein

from compare.ingest.extract import pages

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "extraction.json"
CORPUS = ROOT / "corpora" / "provincial"
FIXTURES = ROOT / "tests" / "data" / "pdfs"
SCAN_SOURCE = "guizhou-2015-35"


def _fixture_script():
    spec = importlib.util.spec_from_file_location("render_fixtures", ROOT / "scripts" / "render_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def raw_pdfium(path: Path) -> list[str]:
    """Every page's text as pypdfium2 gives it, nothing else."""
    document = pdfium.PdfDocument(str(path))
    try:
        return [page.get_textpage().get_text_bounded() for page in document]
    finally:
        document.close()


def ours(path: Path) -> list[str]:
    return [page.text for page in pages(path)]


def pages_per_second(read, files: list[Path], runs: int) -> tuple[float, int]:
    n_pages = sum(len(read(f)) for f in files)  # also warms up (fonts, OCR models)
    rates = []
    for _ in range(runs):
        tick = time.perf_counter()
        for path in files:
            read(path)
        rates.append(n_pages / (time.perf_counter() - tick))
    return statistics.median(rates), n_pages


def cer(found: str, reference: str) -> float:
    found, reference = re.sub(r"\s", "", found), re.sub(r"\s", "", reference)
    return Levenshtein.distance(found, reference) / len(reference)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs per figure (the median is kept)")
    parser.add_argument("--scan-pages", type=int, default=4, help="pages of the corpus plan to scan for OCR")
    args = parser.parse_args()
    fixtures = _fixture_script()
    fixtures.register_font()
    sources = sorted((FIXTURES / "sources").glob("*.txt"))
    scanned = [s for s in sources if "scan" in s.stem]  # scanned.pdf, variant-scan-*.pdf: no text layer
    text_files = sorted(CORPUS.glob("*.pdf")) + [
        FIXTURES / f"{s.stem}.pdf" for s in sources if s not in scanned
    ]
    with tempfile.TemporaryDirectory() as folder:
        scan = Path(folder) / f"{SCAN_SOURCE}-scanned.pdf"
        scan.write_bytes(fixtures.scan_of((CORPUS / f"{SCAN_SOURCE}.pdf").read_bytes(), args.scan_pages))
        ocr_files = [scan, *(FIXTURES / f"{s.stem}.pdf" for s in scanned)]
        results: dict[str, object] = {
            "runs": args.runs,
            "machine": {"python": platform.python_version(), "processor": platform.machine(), "cpus": 2},
        }
        for label, files in (("text", text_files), ("ocr", ocr_files)):
            ours_rate, n_pages = pages_per_second(ours, files, args.runs)
            raw_rate, _ = pages_per_second(raw_pdfium, files, args.runs)
            results[label] = {
                "files": len(files),
                "pages": n_pages,
                "ours_pages_per_s": round(ours_rate, 2),
                "raw_pdfium_pages_per_s": round(raw_rate, 2),
                "raw_pdfium_chars": sum(len(t.strip()) for f in files for t in raw_pdfium(f)),
            }
        rates: dict[str, dict[str, float]] = {}
        for source in sources:
            pdf = FIXTURES / f"{source.stem}.pdf"
            reference = fixtures.reference_text(source)
            rates[source.stem] = {
                "ours": round(cer("\n".join(ours(pdf)), reference), 4),
                "raw_pdfium": round(cer("\n".join(raw_pdfium(pdf)), reference), 4),
            }
        scanned_pages = ours(scan)
        corpus_text = "\n".join(ours(CORPUS / f"{SCAN_SOURCE}.pdf")[: args.scan_pages])
        rates[f"{SCAN_SOURCE} (scanned, {args.scan_pages} pages)"] = {
            "ours": round(cer("\n".join(scanned_pages), corpus_text), 4),
            "raw_pdfium": 1.0,
        }
        results["cer"] = rates
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for label in ("text", "ocr"):
        r = results[label]
        print(
            f"{label:4s}: {r['pages']:3d} pages in {r['files']:2d} files  ours {r['ours_pages_per_s']:7.2f} pages/s  "
            f"raw pypdfium2 {r['raw_pdfium_pages_per_s']:8.2f} pages/s ({r['raw_pdfium_chars']} chars)"
        )
    print("character error rate (ours / raw pypdfium2):")
    for name, value in rates.items():
        print(f"  {name:40s} {value['ours']:.4f}  {value['raw_pdfium']:.4f}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
