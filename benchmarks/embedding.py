"""Embedding stage throughput against the raw encoders on the same texts.

The stage (``compare.match.embed.embeddings``) adds cache look-ups, hashing and Parquet writes
around ``encode()``. This measures clauses/s for both, per model, on the clauses of the
sample corpus (as embedded for matching, with their headings), with an empty cache each time,
alternating the two in the same process. Medians of several runs; the ratio is stage / raw.

    .venv/bin/python benchmarks/embedding.py [--runs 3] [--models e5-small,use]

Prints the figures and writes benchmarks/results/embedding.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from compare.ingest.parse import corpus_files, parse_document
from compare.match.embed import EmbeddingCache, EmbeddingStats, embeddings
from compare.match.encoders import load_encoder
from compare.match.scoring import clause_query
from compare.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results" / "embedding.json"


def clause_texts(corpus: Path) -> list[str]:
    texts = [clause_query(c) for path in corpus_files(corpus) for c in parse_document(path).clauses]
    return list(dict.fromkeys(texts))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--models", default="e5-small,use")
    args = parser.parse_args()
    settings = Settings()
    texts = clause_texts(settings.corpus)
    results: dict[str, dict[str, float]] = {}
    for spec in args.models.split(","):
        encoder = load_encoder(spec, settings.cache_dir)
        encoder.encode(texts[:16], role="query")  # warm up
        raw, stage = [], []
        for _ in range(args.runs):
            tick = time.perf_counter()
            encoder.encode(texts, role="query")
            raw.append(len(texts) / (time.perf_counter() - tick))
            with tempfile.TemporaryDirectory() as folder:
                cache = EmbeddingCache.open(Path(folder), encoder.model_id, encoder.dim)
                stats = EmbeddingStats()
                tick = time.perf_counter()
                embeddings(encoder, texts, role="query", cache=cache, stats=stats)
                stage.append(len(texts) / (time.perf_counter() - tick))
                assert stats.embedded == len(texts)
                tick = time.perf_counter()
                rerun = EmbeddingStats()
                embeddings(
                    encoder,
                    texts,
                    role="query",
                    cache=EmbeddingCache.open(Path(folder), encoder.model_id, encoder.dim),
                    stats=rerun,
                )
                assert rerun.embedded == 0
        results[spec] = {
            "texts": len(texts),
            "raw_clauses_per_s": statistics.median(raw),
            "stage_clauses_per_s": statistics.median(stage),
            "ratio": statistics.median(stage) / statistics.median(raw),
            "runs": args.runs,
        }
        r = results[spec]
        print(
            f"{spec:10s} {r['texts']} clauses: raw encode {r['raw_clauses_per_s']:.0f}/s, "
            f"embedding stage {r['stage_clauses_per_s']:.0f}/s, ratio {r['ratio']:.2f} (median of {args.runs})"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
