"""The reuse stage at 30, 300 and 3,000 documents of the synthetic scale corpus; and adding one document.

Documents are the synthetic corpus of ``compare.scale.synthetic`` (seed 2015, as benchmarks/scale.py),
segmented by compare's own segmenter from their source text (each ``@pagebreak`` starts a
page; no PDF is drawn or read: rendering and extracting 3,000 PDFs measures extraction, which
benchmarks/scale.py does, not reuse). Clause vectors come from the model-free hashing encoder
(``hashing``, 256 dimensions): e5-small embeds ~20-90 clauses/s per core here, hours for the
~150,000 clauses of 3,000 documents, and the reuse stage reads vectors the run already has, so
the encoder's speed is not part of it. The paraphrase rule is the one fitted for that encoder.

Each size runs in a fresh child process, which times:

- ``prepare``: generating and segmenting the documents and encoding their clauses (not reuse);
- ``reuse``: ``ReuseIndex.add`` of every document, in file order (the reuse stage);
- ``save`` and ``open`` of the index folder;
- ``add_one``: adding one more document (number N of the corpus) to the opened index of N.

and reports its peak resident memory (``ru_maxrss``) and the resident memory before the reuse
stage. Results go to benchmarks/results/reuse_scale.json.

    .venv/bin/python benchmarks/reuse_scale.py                 # 30, 300, 3000 (~10 min on 2 cores)
    .venv/bin/python benchmarks/reuse_scale.py --sizes 30 300
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "reuse_scale.json"
SEED = 2015
SIZES = (30, 300, 3000)
MB = 1024 * 1024
_DIRECTIVE_TEXT = ("@red ", "@docno ", "@title ", "@center ", "@right ", "@cc ")


def _pages(text: str) -> list[str]:
    """A synthetic source as page texts: directives dropped, their text kept, @pagebreak splits."""
    pages, lines = [], []
    for line in text.splitlines():
        if line.startswith("@pagebreak"):
            pages.append("\n".join(lines))
            lines = []
        elif line.startswith("@row"):
            continue
        else:
            lines.append(next((line[len(d) :] for d in _DIRECTIVE_TEXT if line.startswith(d)), line))
    pages.append("\n".join(lines))
    return [p for p in pages if p.strip()]


def reuse_document(index: int):  # type: ignore[no-untyped-def]
    """Synthetic document ``index`` as a reuse document (hashing vectors)."""
    import hashlib

    from compare.diffusion.documents import reusable
    from compare.diffusion.documents import reuse_document as as_reuse
    from compare.diffusion.stages import HashingEncoder
    from compare.ingest.metadata import metadata
    from compare.ingest.segment import clauses
    from compare.records import DocStatus, Page, ParsedDocument
    from compare.scale.synthetic import document

    doc = document(index, SEED)
    pages = tuple(Page(n, text, "text") for n, text in enumerate(_pages(doc.text), start=1))
    doc_id = hashlib.sha256(doc.text.encode()).hexdigest()[:16]
    found = clauses(doc_id, pages)
    parsed = ParsedDocument(
        doc_id, doc.file_name, doc_id, DocStatus.OK, meta=metadata("\n".join(p.text for p in pages), pages),
        pages=pages, clauses=found,
    )  # fmt: skip
    chosen = reusable(parsed)
    encoder = HashingEncoder()
    from compare.diffusion.stages import clause_query

    vectors = encoder.encode([clause_query(c) for c in chosen], role="query")
    return as_reuse(parsed, vectors, chosen)


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / MB


def child(n: int) -> dict[str, Any]:
    from compare.diffusion.index import ReuseIndex
    from compare.diffusion.paraphrase import rule_for
    from compare.diffusion.stages import HashingEncoder

    encoder = HashingEncoder()
    started = time.perf_counter()
    docs = [reuse_document(i) for i in range(n)]
    extra = reuse_document(n)
    prepare = time.perf_counter() - started
    before = rss_mb()
    index = ReuseIndex(encoder.dim, paraphrase=rule_for(encoder.model_id))
    started = time.perf_counter()
    index.add_all(docs)
    reuse = time.perf_counter() - started
    after = rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "index"
        started = time.perf_counter()
        index.save(folder)
        save = time.perf_counter() - started
        size = sum(p.stat().st_size for p in folder.iterdir()) / MB
        del index
        started = time.perf_counter()
        opened = ReuseIndex.open(folder)
        open_s = time.perf_counter() - started
        started = time.perf_counter()
        added = opened.add(extra)
        add_one = time.perf_counter() - started
        again = opened.add(extra)
    kinds: dict[str, int] = {}
    for link in opened.links:
        kinds[link.kind] = kinds.get(link.kind, 0) + 1
    return {
        "documents": n,
        "clauses": opened.n_clauses - len(extra.clauses),
        "passage_groups": opened.n_groups,
        "links": kinds,
        "prepare_s": round(prepare, 2),
        "reuse_s": round(reuse, 2),
        "reuse_ms_per_document": round(1000 * reuse / n, 2),
        "rss_before_reuse_mb": round(before, 1),
        "rss_after_reuse_mb": round(after, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "index_mb": round(size, 1),
        "save_s": round(save, 2),
        "open_s": round(open_s, 2),
        "add_one_s": round(add_one, 3),
        "add_one_links": len(added),
        "add_again_links": len(again),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child)))
        return
    rows = []
    for n in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{n:>5} documents  {row['clauses']:>7} clauses  reuse {row['reuse_s']:>7.2f} s "
            f"({row['reuse_ms_per_document']:.1f} ms/document)  peak RSS {row['peak_rss_mb']:.0f} MB "
            f"(+{row['rss_after_reuse_mb'] - row['rss_before_reuse_mb']:.0f} MB in reuse)  index {row['index_mb']:.1f} MB  "
            f"add one: open {row['open_s']:.2f} s + add {row['add_one_s']:.3f} s  links {row['links']}",
            flush=True,
        )
    growth = {}
    by_n = {r["documents"]: r for r in rows}
    for a, b in zip(sorted(by_n), sorted(by_n)[1:], strict=False):
        growth[f"{a}->{b}"] = {
            "documents_x": round(b / a, 1),
            "reuse_time_x": round(by_n[b]["reuse_s"] / by_n[a]["reuse_s"], 2),
            "ms_per_document": [by_n[a]["reuse_ms_per_document"], by_n[b]["reuse_ms_per_document"]],
        }
        print(f"{a} -> {b}: documents x{b / a:.0f}, reuse time x{growth[f'{a}->{b}']['reuse_time_x']}")
    record = {
        "machine": {"cpus": psutil.cpu_count(), "python": platform.python_version()},
        "encoder": "hashing (256 dims)",
        "seed": SEED,
        "runs": rows,
        "growth": growth,
    }
    RESULTS.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
