"""A synthetic warehouse of 31 provinces and 10 cities, made from the six sample plans' published rows.

The committee report must stay readable at the size of the real corpus (every province and
many cities), while the sample corpus has six plans. This script copies the rows the pipeline
published for the samples (documents, pages, clauses, departments, targets, matches, decisions,
coverage) to one document per province and city, renaming the place in the texts and
perturbing the coverage (a covered cell turns partial or absent, whole actions are skipped),
so that the report can be rendered and looked at without running the pipeline. The
national measures, runs and evaluations are copied as they are. ``matches.channel_scores`` is
left NULL (the report does not show it).

    python scripts/synthetic_corpus.py export --source warehouse/compare.duckdb --out tests/data/report/sample-warehouse
    python scripts/synthetic_corpus.py build --source tests/data/report/sample-warehouse --out /tmp/synthetic.duckdb

``export`` writes the published tables as Parquet files (the test fixture); ``build`` writes
the synthetic warehouse from a warehouse file or such a folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd

from compare.report.data import PROVINCE_ORDER
from compare.store import warehouse

#: Tables copied from the source, in schema order.
TABLES = (
    "runs", "national_measures", "documents", "pages", "clauses", "departments", "targets",
    "matches", "clause_decisions", "coverage", "evaluations", "evaluation_measures",
)  # fmt: skip
#: Tables whose rows belong to one document (copied per synthetic document).
PER_DOCUMENT = ("pages", "clauses", "departments", "targets", "clause_decisions", "coverage")
#: Abbreviations used in provincial document numbers (浙政发…), in PROVINCE_ORDER.
PROVINCE_ABBREVIATIONS = "京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川黔滇藏陕甘青宁新"
#: Cities with their own plans: (province, city).
CITIES: tuple[tuple[str, str], ...] = (
    ("四川", "成都"), ("浙江", "杭州"), ("浙江", "宁波"), ("广东", "广州"), ("广东", "深圳"),
    ("湖北", "武汉"), ("江苏", "南京"), ("陕西", "西安"), ("山东", "青岛"), ("福建", "厦门"),
)  # fmt: skip
DEFAULT_PROVINCES = len(PROVINCE_ORDER)
DEFAULT_CITIES = len(CITIES)
#: Chances that a copied covered cell becomes partial or absent, and that a whole action is skipped.
P_PARTIAL = 0.04
P_ABSENT = 0.12
P_SKIP_SECTION = 0.08
#: Score moves: jitter of kept scores, and how far below a threshold a degraded cell falls.
SCORE_JITTER = 0.6
BELOW_THRESHOLD = 1.5
CITY_LEVEL = "city"
#: How each province-level division is named in full where it is not a 省.
PROVINCE_SUFFIXES = {
    "北京": "市", "天津": "市", "上海": "市", "重庆": "市", "内蒙古": "自治区", "广西": "壮族自治区",
    "西藏": "自治区", "宁夏": "回族自治区", "新疆": "维吾尔自治区",
}  # fmt: skip


def export_tables(source: Path, out: Path) -> list[Path]:
    """Write every table of the warehouse ``source`` as ``out/<table>.parquet``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with warehouse.read_only(source) as con:
        for table in TABLES:
            path = out / f"{table}.parquet"
            columns = "* EXCLUDE (channel_scores)" if table == "matches" else "*"
            con.execute(
                f"COPY (SELECT {columns} FROM {table}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)"
            )
            written.append(path)
    return written


def load_tables(source: Path) -> dict[str, pd.DataFrame]:
    """The tables of a warehouse file, or of a folder of ``<table>.parquet`` files."""
    if source.is_dir():
        missing = [t for t in TABLES if not (source / f"{t}.parquet").is_file()]
        if missing:
            raise FileNotFoundError(f"{source}: missing {', '.join(t + '.parquet' for t in missing)}")
        with duckdb.connect() as con:
            return {
                t: con.execute(f"SELECT * FROM read_parquet('{source / (t + '.parquet')}')").df()
                for t in TABLES
            }
    with warehouse.read_only(source) as con:
        return {
            t: con.execute(f"SELECT {'* EXCLUDE (channel_scores)' if t == 'matches' else '*'} FROM {t}").df()
            for t in TABLES
        }


def write_warehouse(tables: dict[str, pd.DataFrame], out: Path) -> Path:
    """A fresh warehouse file at ``out`` (replaced if present) holding ``tables``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with duckdb.connect(str(out)) as con:
        warehouse.apply_schema(con)
        for table in TABLES:
            frame = tables.get(table)
            if frame is None or frame.empty:
                continue
            con.register("_frame", frame)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _frame")
            con.unregister("_frame")
        con.execute("CHECKPOINT")
    return out


def _doc_id(name: str, seed: int) -> str:
    return hashlib.sha256(f"synthetic:{seed}:{name}".encode()).hexdigest()[:16]


def _thresholds(runs: pd.DataFrame) -> tuple[float, float]:
    calibration = json.loads(runs.sort_values("finished_at").iloc[-1]["thresholds"])
    return float(calibration["thresholds"]["covered"]), float(calibration["thresholds"]["partial"])


def _perturbed_coverage(
    cells: pd.DataFrame, measures: pd.DataFrame, rng: random.Random, covered_at: float, partial_at: float
) -> pd.DataFrame:
    cells = cells.copy()
    section_of = dict(zip(measures["measure_id"], measures["section_id"], strict=True))
    skipped = {
        s for s in measures["section_id"].unique() if s.startswith("II.") and rng.random() < P_SKIP_SECTION
    }
    for i in cells.index:
        if cells.at[i, "status"] != "covered":
            continue
        draw = rng.random()
        if section_of[cells.at[i, "measure_id"]] in skipped or draw < P_ABSENT:
            cells.loc[i, ["status", "evidence_clause_id"]] = ["absent", None]
            cells.at[i, "score"] = partial_at - BELOW_THRESHOLD * rng.random()
        elif draw < P_ABSENT + P_PARTIAL:
            cells.at[i, "status"] = "partial"
            cells.at[i, "score"] = partial_at + (covered_at - partial_at) * rng.random()
        else:
            cells.at[i, "score"] = max(
                covered_at, cells.at[i, "score"] + rng.uniform(-SCORE_JITTER, SCORE_JITTER)
            )
    return cells


def _copy_document(
    tables: dict[str, pd.DataFrame],
    template: pd.Series,
    place: tuple[str, str | None],
    number: str,
    index: int,
    rng: random.Random | None,
    seed: int,
) -> dict[str, pd.DataFrame]:
    province, city = place
    old, name = template["doc_id"], f"{province}{city or ''}"
    new = _doc_id(name, seed)
    old_place = template["city"] if template["level"] == CITY_LEVEL else template["province"]
    new_place = city or province

    full_name = f"{province}{PROVINCE_SUFFIXES.get(province, '省')}"

    def rename(text: object) -> object:
        if not isinstance(text, str) or not old_place:
            return text
        if not city:
            text = text.replace(f"{old_place}省", full_name)
        return text.replace(old_place, new_place)

    def new_clause(clause_id: object) -> object:
        return f"{new}:{str(clause_id).split(':', 1)[1]}" if isinstance(clause_id, str) else clause_id

    doc = template.to_frame().T.copy()
    year = pd.Timestamp(template["issue_date"]).year if pd.notna(template["issue_date"]) else 2016
    doc = doc.assign(
        doc_id=new,
        file_name=f"synthetic-{index:02d}-{year}.pdf",
        sha256=hashlib.sha256(new.encode()).hexdigest(),
        province=province,
        city=city,
        level=CITY_LEVEL if city else "province",
        title=rename(template["title"]),
        issuer=rename(template["issuer"]),
        doc_number=number,
    )
    out = {"documents": doc}
    for table in PER_DOCUMENT:
        rows = tables[table][tables[table]["doc_id"] == old].copy()
        rows["doc_id"] = new
        for column in ("clause_id", "evidence_clause_id"):
            if column in rows:
                rows[column] = rows[column].map(new_clause)
        for column in ("text", "text_norm", "heading", "name", "indicator"):
            if column in rows:
                rows[column] = rows[column].map(rename)
        out[table] = rows
    matches = tables["matches"]
    out["matches"] = matches[matches["clause_id"].str.startswith(f"{old}:")].assign(
        clause_id=lambda m: m["clause_id"].map(new_clause)
    )
    if rng is not None:
        covered_at, partial_at = _thresholds(tables["runs"])
        out["coverage"] = _perturbed_coverage(
            out["coverage"], tables["national_measures"], rng, covered_at, partial_at
        )
    return out


def synthetic_tables(
    tables: dict[str, pd.DataFrame],
    provinces: int = DEFAULT_PROVINCES,
    cities: int = DEFAULT_CITIES,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """One document per province (the first ``provinces`` in administrative order) and per city.

    A province or city that has a sample plan keeps it unchanged; the others copy a sample of
    their level in turn, with the place renamed and the coverage perturbed.
    """
    rng = random.Random(seed)
    docs = tables["documents"][tables["documents"]["status"] == "ok"]
    by_place = {(r.province, r.city if r.level == CITY_LEVEL else None): r for _, r in docs.iterrows()}
    province_templates = [r for _, r in docs.iterrows() if r["level"] != CITY_LEVEL]
    city_templates = [r for _, r in docs.iterrows() if r["level"] == CITY_LEVEL] or province_templates
    places: list[tuple[str, str | None, str]] = [
        (p, None, PROVINCE_ABBREVIATIONS[i] + "政发") for i, p in enumerate(PROVINCE_ORDER[:provinces])
    ]
    places += [(p, c, c[0] + "府发") for p, c in CITIES[:cities]]
    parts: list[dict[str, pd.DataFrame]] = []
    for index, (province, city, prefix) in enumerate(places):
        own = by_place.get((province, city))
        pool = city_templates if city else province_templates
        template = own if own is not None else pool[index % len(pool)]
        year = pd.Timestamp(template["issue_date"]).year if pd.notna(template["issue_date"]) else 2016
        number = template["doc_number"] if own is not None else f"{prefix}〔{year}〕{10 + index}号"
        parts.append(
            _copy_document(
                tables, template, (province, city), number, index, None if own is not None else rng, seed
            )
        )
    result = {
        t: tables[t].copy() for t in ("runs", "national_measures", "evaluations", "evaluation_measures")
    }
    result["runs"]["n_documents"] = len(places)
    for table in ("documents", "matches", *PER_DOCUMENT):
        result[table] = pd.concat([p[table] for p in parts], ignore_index=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write a warehouse's tables as Parquet files (the test fixture)")
    export.add_argument("--source", type=Path, required=True, help="warehouse file (.duckdb)")
    export.add_argument("--out", type=Path, required=True, help="folder for <table>.parquet")
    build = sub.add_parser("build", help="write a synthetic warehouse of provinces and cities")
    build.add_argument(
        "--source", type=Path, required=True, help="warehouse file or folder of <table>.parquet"
    )
    build.add_argument("--out", type=Path, required=True, help="warehouse file to write (.duckdb)")
    build.add_argument(
        "--provinces", type=int, default=DEFAULT_PROVINCES, help="provinces, in administrative order"
    )
    build.add_argument("--cities", type=int, default=DEFAULT_CITIES, help=f"cities (at most {len(CITIES)})")
    build.add_argument("--seed", type=int, default=0, help="seed of the perturbations")
    args = parser.parse_args(argv)
    if args.command == "export":
        paths = export_tables(args.source, args.out)
        print(f"{args.out}: {len(paths)} tables")
        return 0
    tables = synthetic_tables(load_tables(args.source), args.provinces, args.cities, args.seed)
    write_warehouse(tables, args.out)
    print(f"{args.out}: {len(tables['documents'])} documents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
