"""e5-small on ONNX Runtime (float32, int8) against sentence-transformers on torch, same texts.

Encodes the same clause texts of the sample corpus (as the scorer embeds them: with their
headings, as queries) with each backend, back to back in one process, round after round; the
throughput of each is the median over the rounds, its ratio is against torch's median. The
vectors of each ONNX variant are compared with torch's (min and median cosine).

    .venv/bin/python benchmarks/onnx_encoders.py [--runs 5] [--texts 500]

Prints the figures and writes benchmarks/results/onnx_encoders.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from compare.ingest.parse import corpus_files, parse_document
from compare.match.encoders import E5_SPEC, ONNX_BACKENDS, ONNX_BATCH_SIZE, encoder_threads, load_encoder
from compare.match.scoring import clause_query
from compare.settings import E5_BACKENDS, Settings

RESULTS = Path(__file__).resolve().parent / "results" / "onnx_encoders.json"
WARM_UP_TEXTS = 16


def clause_texts(corpus: Path, limit: int) -> list[str]:
    """Up to ``limit`` distinct clause texts of the corpus, evenly spaced over its documents."""
    texts = [clause_query(c) for path in corpus_files(corpus) for c in parse_document(path).clauses]
    unique = list(dict.fromkeys(texts))
    if len(unique) <= limit:
        return unique
    return [unique[i] for i in np.unique(np.linspace(0, len(unique) - 1, limit).round().astype(int))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--texts", type=int, default=500)
    args = parser.parse_args()
    settings = Settings()
    texts = clause_texts(settings.corpus, args.texts)
    encoders = {
        backend: load_encoder(E5_SPEC, settings.cache_dir, e5_backend=backend) for backend in E5_BACKENDS
    }
    for encoder in encoders.values():
        encoder.encode(texts[:WARM_UP_TEXTS], role="query")
    load_before = os.getloadavg()
    speeds: dict[str, list[float]] = {backend: [] for backend in encoders}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.runs):
        for backend, encoder in encoders.items():
            tick = time.perf_counter()
            vectors[backend] = encoder.encode(texts, role="query")
            speeds[backend].append(len(texts) / (time.perf_counter() - tick))
    load_after = os.getloadavg()
    torch_speed = statistics.median(speeds["torch"])
    results: dict[str, dict[str, object]] = {}
    for backend, encoder in encoders.items():
        cosines = np.sum(vectors[backend] * vectors["torch"], axis=1)
        speed = statistics.median(speeds[backend])
        results[backend] = {
            "model_id": encoder.model_id,
            "texts_per_s": round(speed, 1),
            "runs_texts_per_s": [round(s, 1) for s in speeds[backend]],
            "ratio_to_torch": round(speed / torch_speed, 2),
            "min_cosine_to_torch": round(float(cosines.min()), 4),
            "median_cosine_to_torch": round(float(np.median(cosines)), 4),
        }
        if backend in ONNX_BACKENDS:
            results[backend]["batch_size"] = ONNX_BATCH_SIZE[ONNX_BACKENDS[backend]]
        r = results[backend]
        print(
            f"{backend:10s} {r['texts_per_s']:6.1f} texts/s  x{r['ratio_to_torch']:.2f} torch  "
            f"cosine to torch min {r['min_cosine_to_torch']:.4f} median {r['median_cosine_to_torch']:.4f}"
        )
    record = {
        "texts": len(texts),
        "mean_characters": round(float(np.mean([len(t) for t in texts])), 1),
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "encoder_threads": encoder_threads(),
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "backends": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"{len(texts)} texts, median of {args.runs} rounds; written to {RESULTS}")


if __name__ == "__main__":
    main()
