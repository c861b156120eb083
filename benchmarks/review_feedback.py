"""How much the matching figures move as expert reviews accumulate (compare.review.simulation).

Leave-one-document-out over the labelled sample plans: for each held-out document, the next
``--seed-docs`` documents (in cyclic order) keep their label files, the others are a pool of
unlabelled documents that simulated experts review — answering from the gold labels — in
review-priority order or at random, in cumulative batches of 0, 10, 25, 50, 100, 200 reviews
per fold. After each batch the calibration (fusion weights and thresholds) is refitted on the
seed documents plus the reviewed cells, and the held-out document is judged on its full gold
labels. The held-out document never supplies a review, a label or an exemplar to its fold.

    .venv/bin/python benchmarks/review_feedback.py [--seed-docs 2] [--models e5-small,use]

Prints the figures and writes benchmarks/results/review_feedback.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from compare.match.catalogue import load_catalogue
from compare.match.evaluate import labelled_documents, leave_one_out
from compare.match.scorer import Scorer
from compare.review.simulation import ORDERS, feedback_curve
from compare.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results" / "review_feedback.json"
STEPS = (0, 10, 25, 50, 100, 200)
FIGURES = ("cell_f1", "cell_precision", "cell_recall", "top1", "top3", "none_recall")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seed-docs", type=int, default=2, help="labelled documents per fold besides the held-out one"
    )
    parser.add_argument("--models", default=",".join(Settings().models))
    parser.add_argument(
        "--steps", default=",".join(str(s) for s in STEPS), help="cumulative reviews per fold"
    )
    parser.add_argument("--random-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    tick = time.perf_counter()
    settings = Settings.from_env(models=args.models)
    catalogue = load_catalogue(settings.catalogue)
    scorer = Scorer.from_settings(settings, catalogue)
    docs, _ = labelled_documents(settings.corpus, None, scorer, catalogue)
    channel_names = list(docs[0].in_fold(frozenset()).channels)
    models = tuple(scorer.encoders)
    loading = time.perf_counter() - tick

    reference, _ = leave_one_out(docs, channel_names, models, catalogue.ids)
    results: dict[str, object] = {
        "documents": [d.doc.file_name for d in docs],
        "models": list(models),
        "seed_docs": args.seed_docs,
        "pool_docs": len(docs) - 1 - args.seed_docs,
        "steps": steps,
        "protocol": (
            "leave-one-document-out; per fold: seed documents labelled, pool documents reviewed by "
            "simulated experts answering from gold labels; held-out document judged on its full labels"
        ),
        "all_labelled_reference": {k: getattr(reference, k) for k in FIGURES},
        "orders": {},
    }
    print(
        f"{len(docs)} labelled documents, models {', '.join(models)}; seed {args.seed_docs}, pool {len(docs) - 1 - args.seed_docs} per fold"
    )
    print(
        "reference, every other document labelled: "
        + ", ".join(f"{k} {getattr(reference, k):.3f}" for k in FIGURES)
    )
    header = f"{'order':<9}{'reviews':>8}{'F1':>8}{'prec':>8}{'recall':>8}{'top1':>8}{'top3':>8}{'errors':>8}{'t_cov':>8}"
    print(header)
    for order in ORDERS:
        curve, traces = feedback_curve(
            docs,
            steps,
            seed_docs=args.seed_docs,
            order=order,
            channel_names=channel_names,
            models=models,
            random_seed=args.random_seed,
        )
        for trace, held in zip(traces, docs, strict=True):
            assert all(held.doc.doc_id not in supplied for supplied in trace.review_docs), (
                "a fold reviewed its own document"
            )
        rows = []
        for step in curve:
            m = step.metrics
            rows.append(
                {
                    "reviews_per_fold": step.reviews,
                    **{k: getattr(m, k) for k in FIGURES},
                    "machine_errors_found": step.errors_found,
                    "mean_covered_threshold": step.mean_covered_threshold,
                }
            )
            print(
                f"{order:<9}{step.reviews:>8}{m.cell_f1:>8.3f}{m.cell_precision:>8.3f}{m.cell_recall:>8.3f}"
                f"{m.top1:>8.3f}{m.top3:>8.3f}{step.errors_found:>8}{step.mean_covered_threshold:>8.2f}"
            )
        results["orders"][order] = rows  # type: ignore[index]
    results["seconds"] = {"loading_and_scoring": loading, "total": time.perf_counter() - tick}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"written: {args.out}  ({time.perf_counter() - tick:.0f} s)")


if __name__ == "__main__":
    main()
