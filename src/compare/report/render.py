"""The coverage report for the expert committee: one self-contained HTML file and its PDF.

``write_report(warehouse, out)`` reads the published warehouse, renders the Jinja2 templates
in ``compare/templates`` into ``out/report.html`` (inline CSS, no script, no external file)
and prints it to ``out/report.pdf`` with headless Chromium (``compare.report.pdf``).
``committee_summary_markdown(warehouse)`` is the short version that goes out after each run.

Documents are shown in groups by the kind of their issuer (``compare.report.data.ISSUER_GROUPS``):
the plans of provinces, cities and counties, which the summary figures compare and rank, then
national and ministry documents and documents whose issuer was not read, shown apart and
never ranked with the provinces.

Every value a template prints passes through ``safe_text.printable`` (the environment's
``finalize``) before it is escaped: a control character or noncharacter in stored text (a
glyph with no Unicode mapping, an escape in a file name) shows as U+FFFD instead of being
dropped by the HTML parser, which would join the characters around it in the quoted evidence.
The PDF is printed from that HTML.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import pandas as pd

from compare import __version__
from compare.report.data import ISSUER_GROUPS, ReportData, report_data
from compare.report.diffusion import diffusion_context
from compare.report.objectives import NATIONAL_OBJECTIVES, NATIONAL_OBJECTIVES_SOURCE
from compare.report.pdf import pdf_from_html
from compare.report.reviews import review_progress
from compare.report.views import (
    LIGHT_TEXT_FROM,
    STATUS_LABELS,
    document_views,
    evidence_views,
    heatmap_rows,
    measure_views,
    records,
    section_means,
    sections,
    share_colour,
    status_view,
)
from compare.safe_text import printable

TEMPLATE_PACKAGE = "compare.report"
TEMPLATE_FOLDER = "templates"
REPORT_TEMPLATE = "report.html.j2"
HTML_NAME = "report.html"
PDF_NAME = "report.pdf"
#: Measures named in the summary as the least implemented across documents.
LEAST_IMPLEMENTED = 8
#: Documents named in the summary as adding the most beyond the national plan.
MOST_ADDITIONS = 5
#: Evaluation figures: key -> (Chinese, English), in the order shown.
EVALUATION_FIGURES: dict[str, tuple[str, str]] = {
    "cell_precision": ("单元格精确率", "cell precision (covered cells that are covered in the labels)"),
    "cell_recall": ("单元格召回率", "cell recall (labelled covered cells found)"),
    "cell_f1": ("单元格F1", "cell F1"),
    "top1": ("条目首选准确率", "clause top-1 accuracy"),
    "top3": ("条目前三准确率", "clause top-3 accuracy"),
    "none_precision": ("“无对应”精确率", "none precision (items predicted to implement no measure)"),
    "none_recall": ("“无对应”召回率", "none recall"),
    "items": ("标注条目", "labelled items"),
    "located": ("定位条目", "items found among the clauses"),
    "cells": ("判定单元格", "document × measure cells judged"),
}
#: Thresholds in the order the method section explains them.
THRESHOLD_ORDER = ("covered", "partial", "clause")
#: Shares shown in the legend of the section heatmap.
LEGEND_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
#: A measure whose dev-set F1 is below this is flagged in the method section.
WEAK_MEASURE_F1 = 0.8


@dataclass(frozen=True)
class ReportFiles:
    """What ``write_report`` wrote."""

    html: Path
    pdf: Path | None
    documents: int


def _printed(value: Any) -> Any:
    """What a template prints: text ``printable``; markup (a macro's output, already printed) as it
    is; nothing for a missing value (a document without 文号, an issuer not read)."""
    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return printable(value)
    return value


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(TEMPLATE_PACKAGE, TEMPLATE_FOLDER),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_printed,
    )
    env.filters["score"] = lambda v: "" if v is None or pd.isna(v) else f"{v:.1f}"
    env.filters["pct"] = lambda v: "" if v is None or pd.isna(v) else f"{v:.0f}%"
    env.filters["figure"] = lambda v: (
        "" if v is None or pd.isna(v) else (f"{v:.3f}" if isinstance(v, float) else str(v))
    )
    env.filters["day"] = lambda v: "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d")
    env.filters["minute"] = lambda v: (
        "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d %H:%M")
    )
    return env


def _timings(text: Any) -> str:
    try:
        timings = json.loads(text) if isinstance(text, str) else {}
    except json.JSONDecodeError:
        return str(text)
    return ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())


def document_groups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups of documents present (``ISSUER_GROUPS`` order), each with its rows."""
    return [
        {"key": g.key, "zh": g.zh, "en": g.en, "local": g.local, "rows": members}
        for g in ISSUER_GROUPS
        if (members := [r for r in rows if r["group"] == g.key])
    ]


def glance(data: ReportData, rows: list[dict[str, Any]], measures: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures the summary at the top of the report states, each with where to look.

    Coverage is compared over the local plans (provinces, cities, counties) only: national and
    ministry documents, and documents whose issuer was not read, are counted apart."""
    docs = data.documents
    local = [r for r in rows if r["local"]]
    n_local = len(local)
    by_local = sorted(measures, key=lambda m: (m["n_local_implemented"], m["n_local_covered"]))
    least = by_local[:LEAST_IMPLEMENTED]
    everywhere = [m for m in measures if n_local and m["n_local_covered"] == n_local]
    additions = data.additions.groupby("doc_id").size()
    top_additions = [
        {"label": r["label"], "anchor": r["anchor"], "n": int(additions.get(r["doc_id"], 0))}
        for r in sorted(local, key=lambda r: -int(additions.get(r["doc_id"], 0)))[:MOST_ADDITIONS]
        if additions.get(r["doc_id"], 0)
    ]
    lowest = min(local, key=lambda r: r["covered_pct"]) if local else None
    highest = max(local, key=lambda r: r["covered_pct"]) if local else None
    group = docs["group"] if len(docs) else pd.Series(dtype=object)
    return {
        "n_documents": len(docs),
        "n_local": n_local,
        "n_provinces": int((group == "provincial").sum()),
        "n_cities": int((group == "city").sum()),
        "n_counties": int((group == "county").sum()),
        "n_central": int((group == "central").sum()),
        "n_unknown": int((group == "unknown").sum()),
        "n_related": int((group == "related").sum()),
        "n_failed": len(data.failed),
        "median_pct": statistics.median(r["covered_pct"] for r in local) if local else None,
        "lowest": lowest,
        "highest": highest,
        "least": least,
        "n_everywhere": len(everywhere),
        "n_additions": len(data.additions),
        "top_additions": top_additions,
        "n_partial": int((data.coverage["status"] == "partial").sum()),
        "n_targets": len(data.targets),
    }


def method(data: ReportData) -> dict[str, Any]:
    """Models, thresholds, weights, evaluation figures and provenance of the runs shown."""
    calibration = data.calibration
    weights = sorted((calibration.get("weights") or {}).items(), key=lambda kv: -abs(kv[1]))
    evaluation = data.evaluation
    figures = []
    weak = []
    if evaluation is not None:
        figures = [
            {"key": k, "zh": zh, "en": en, "value": evaluation.figures.get(k)}
            for k, (zh, en) in EVALUATION_FIGURES.items()
            if evaluation.figures.get(k) is not None
        ]
        pm = evaluation.per_measure
        if not pm.empty:
            weak = records(pm[(pm["support"] > 0) & (pm["f1"] < WEAK_MEASURE_F1)].sort_values("f1"))
    runs = [{**r, "timings_text": _timings(r.get("timings"))} for r in records(data.runs)]
    settings = (
        json.loads(data.latest_run["settings"]) if isinstance(data.latest_run.get("settings"), str) else {}
    )
    return {
        "run": data.latest_run,
        "runs": runs,
        "settings": settings,
        "thresholds": sorted(
            (calibration.get("thresholds") or {}).items(),
            key=lambda kv: THRESHOLD_ORDER.index(kv[0]) if kv[0] in THRESHOLD_ORDER else len(THRESHOLD_ORDER),
        ),
        "weights": weights,
        "calibration_source": calibration.get("source", ""),
        "evaluation": evaluation,
        "figures": figures,
        "weak_measures": weak,
        "weak_f1": WEAK_MEASURE_F1,
    }


def report_context(data: ReportData) -> dict[str, Any]:
    """Everything the report template needs."""
    rows = heatmap_rows(data)
    measures = measure_views(data, rows)
    return {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "warehouse": str(data.warehouse),
        "n_measures": data.n_measures,
        "sections": sections(data),
        "rows": rows,
        "groups": document_groups(rows),
        "section_means": section_means([r for r in rows if r["local"]]),
        "documents": document_views(data, rows),
        "measures": measures,
        "evidence": evidence_views(data, rows),
        "glance": glance(data, rows, measures),
        "method": method(data),
        "failed": records(data.failed),
        "statuses": [status_view(s) for s in STATUS_LABELS],
        "share_scale": [
            {
                "pct": round(100 * v),
                "bg": share_colour(v),
                "fg": "#ffffff" if v >= LIGHT_TEXT_FROM else "#1a1a1a",
            }
            for v in LEGEND_SHARES
        ],
        "objectives": NATIONAL_OBJECTIVES,
        "objectives_source": NATIONAL_OBJECTIVES_SOURCE,
        "reviews": review_progress(data.coverage),
        "diffusion": diffusion_context(data),
    }


def report_html(data: ReportData) -> str:
    """The whole report as one self-contained HTML page."""
    return _environment().get_template(REPORT_TEMPLATE).render(**report_context(data))


def write_report(warehouse_path: Path, out: Path, *, pdf: bool = True) -> ReportFiles:
    """Write ``out/report.html`` and, unless ``pdf`` is False, ``out/report.pdf``."""
    data = report_data(warehouse_path)
    out.mkdir(parents=True, exist_ok=True)
    html_path = out / HTML_NAME
    html_path.write_text(report_html(data), encoding="utf-8")
    pdf_path = pdf_from_html(html_path, out / PDF_NAME) if pdf else None
    return ReportFiles(html=html_path, pdf=pdf_path, documents=len(data.documents))


def _documents_sentence(g: dict[str, Any]) -> str:
    """How many documents, by group: "7 documents (1 provincial, 1 city, 3 national or ministry, …)"."""
    parts = [f"{g['n_provinces']} provincial", f"{g['n_cities']} city"]
    parts += [f"{g['n_counties']} county"] if g["n_counties"] else []
    parts += [f"{g['n_central']} national or ministry"] if g["n_central"] else []
    parts += [f"{g['n_unknown']} with no issuer identified"] if g["n_unknown"] else []
    parts += [f"{g['n_related']} related policies (not plans)"] if g["n_related"] else []
    failed = f", {g['n_failed']} could not be read" if g["n_failed"] else ""
    return f"{g['n_documents']} documents ({', '.join(parts)}){failed}"


def _summary_table(data: ReportData, rows: list[dict[str, Any]], *, issuer: bool) -> pd.DataFrame:
    """The summary's table of one group of documents; ``issuer`` adds the kind of issuer."""
    additions = data.additions.groupby("doc_id").size()
    return pd.DataFrame(
        [
            {
                "document": r["label"],
                **({"issuer": f"{r['issuer_level_zh']} {r['issuer_level']}"} if issuer else {}),
                "number": r["doc_number"] or "—",
                "覆盖 covered": r["covered"],
                "部分 partial": r["partial"],
                "缺失 absent": r["absent"],
                "covered %": round(r["covered_pct"], 1),
                "新增 additions": int(additions.get(r["doc_id"], 0)),
            }
            for r in rows
        ]
    )


def committee_summary_markdown(warehouse_path: Path | str) -> str:
    """A short markdown summary for the committee: coverage per document, common gaps, trust."""
    data = report_data(Path(warehouse_path))
    rows = heatmap_rows(data)
    measures = measure_views(data, rows)
    g = glance(data, rows, measures)
    run = data.latest_run
    lines = [
        f"# Coverage of 国发〔2015〕40号 — run {run['run_id']}",
        "",
        _documents_sentence(g)
        + (
            f"; median coverage {g['median_pct']:.1f}% of the {data.n_measures} national measures"
            + (" (local plans)" if g["n_local"] < g["n_documents"] else "")
            + "."
            if g["median_pct"] is not None
            else "."
        ),
    ]
    if not rows:
        lines += ["", "(no documents)"]
    if local := [r for r in rows if r["local"]]:
        lines += ["", _summary_table(data, local, issuer=False).to_markdown(index=False)]
    for group in document_groups(rows):
        if not group["local"]:
            lines += [
                "",
                f"**{group['en']} {group['zh']}** (shown apart, not ranked with the provinces)",
                "",
                _summary_table(data, group["rows"], issuer=True).to_markdown(index=False),
            ]
    if measures and g["n_local"]:
        lines += ["", "**Least implemented measures 最少落实的措施**", ""]
        lines += [
            f"- {m['measure_id']} {m['section_title_zh']} — {m['title_en']} "
            f"({m['n_local_implemented']}/{g['n_local']} local plans)"
            for m in g["least"]
        ]
    if data.evaluation is not None:
        f = data.evaluation.figures
        lines += [
            "",
            f"**Trust 可信度**: cell precision {f.get('cell_precision', float('nan')):.3f}, "
            f"recall {f.get('cell_recall', float('nan')):.3f}, F1 {f.get('cell_f1', float('nan')):.3f} "
            f"({data.evaluation.protocol} on {len(data.evaluation.documents)} labelled documents — a small dev set; "
            "figures on other documents will be lower). "
            f"{g['n_partial']} partial cells are questions for a reviewer.",
        ]
    progress = review_progress(data.coverage)
    lines += [
        "",
        f"**Expert review 专家审核**: {progress.reviewed} of {progress.cells} cells decided by reviewers "
        f"({100 * progress.share:.1f}%; {progress.overturned} overturned the machine"
        + (f", {progress.stale} reviews stale after a file changed" if progress.stale else "")
        + f"); {progress.machine_only} cells are machine-only.",
    ]
    lines += ["", f"Full report with evidence: `compare report --warehouse {warehouse_path}`"]
    return printable("\n".join(lines) + "\n")
