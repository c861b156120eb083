"""What each part of the committee report shows, as plain dicts for the templates.

Every function takes a ``ReportData`` and returns the rows of one part of the report: the
two heatmaps, the page of each document, the block of each national measure, the evidence
(every quoted clause once, with what it is evidence for). Links between them are anchors
from ``compare.report.data``.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from typing import Any

import pandas as pd

from compare.report.data import ReportData, clause_anchor, measure_anchor, section_anchor
from compare.report.objectives import national_objective
from compare.report.reviews import review_mark

#: Cell status -> (Chinese, English, symbol). The symbol keeps the status readable in grey print.
STATUS_LABELS: dict[str, tuple[str, str, str]] = {
    "covered": ("覆盖", "covered", "●"),
    "partial": ("部分", "partial", "◐"),
    "absent": ("缺失", "absent", "○"),
}
#: Cell status -> (background, text colour); their greys differ too.
STATUS_COLOURS: dict[str, tuple[str, str]] = {
    "covered": ("#1b7837", "#ffffff"),
    "partial": ("#f6c350", "#3d2800"),
    "absent": ("#eeeeee", "#8a8a8a"),
}
#: Sequential scale for a section's share of measures implemented (ColorBrewer Greens).
SHARE_SCALE: tuple[tuple[float, str], ...] = (
    (0.0, "#f7fcf5"),
    (0.25, "#c7e9c0"),
    (0.5, "#74c476"),
    (0.75, "#238b45"),
    (1.0, "#00441b"),
)
#: Above this share, the cell's text is white.
LIGHT_TEXT_FROM = 0.6
#: A partial measure counts this much towards a section's share.
PARTIAL_WEIGHT = 0.5
#: Characters of a clause shown where the clause is only pointed at (the evidence quotes it whole).
PREVIEW_CHARS = 48
#: The national marker that section titles share, left out of short column labels.
TITLE_PREFIX = "“互联网+”"
IMPLEMENTED = ("covered", "partial")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a frame as dicts, with missing values (NaN, NaT, NA) as None."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def share_colour(share: float) -> str:
    """The background of a section cell: the share (0..1) on the sequential scale."""
    share = min(max(share, 0.0), 1.0)
    for (lo, lo_colour), (hi, hi_colour) in pairwise(SHARE_SCALE):
        if share <= hi:
            t = (share - lo) / (hi - lo)
            a, b = _hex(lo_colour), _hex(hi_colour)
            return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))
    return SHARE_SCALE[-1][1]


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def number(value: float | None) -> str:
    """A target value as printed: no trailing .0, at most four decimals."""
    if value is None or pd.isna(value):
        return ""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4f}".rstrip("0")


def status_view(status: str) -> dict[str, Any]:
    zh, en, symbol = STATUS_LABELS[status]
    bg, fg = STATUS_COLOURS[status]
    return {"status": status, "zh": zh, "en": en, "symbol": symbol, "bg": bg, "fg": fg}


def sections(data: ReportData) -> list[dict[str, Any]]:
    """The 11 actions and 7 support sections, in order, with their measures."""
    result = []
    for section_id, group in data.measures.groupby("section_id", sort=False):
        first = group.iloc[0]
        zh = str(first["section_title_zh"] or "")
        result.append(
            {
                "section_id": section_id,
                "part": first["part"],
                "zh": zh,
                "zh_short": zh.replace(TITLE_PREFIX, "") or zh,
                "en": str(first["section_title_en"] or ""),
                "anchor": section_anchor(section_id),
                "measures": [
                    {"measure_id": m, "measure_no": int(n), "title_en": t, "anchor": measure_anchor(m)}
                    for m, n, t in zip(
                        group["measure_id"], group["measure_no"], group["title_en"], strict=True
                    )
                ],
            }
        )
    return result


def _cells(data: ReportData) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["doc_id"], r["measure_id"]): r for r in records(data.coverage)}


def _cell_view(data: ReportData, cell: dict[str, Any] | None, label: str, measure_id: str) -> dict[str, Any]:
    status = cell["status"] if cell else "absent"
    view = status_view(status)
    score = cell["score"] if cell and pd.notna(cell["score"]) else None
    evidence = cell["evidence_clause_id"] if cell and isinstance(cell["evidence_clause_id"], str) else None
    page = int(data.clauses.at[evidence, "page"]) if evidence and evidence in data.clauses.index else None
    view.update(
        measure_id=measure_id,
        measure_anchor=measure_anchor(measure_id),
        score=score,
        href="#" + (clause_anchor(evidence) if evidence else measure_anchor(measure_id)),
        page=page,
        title=f"{label} · {measure_id} · {view['zh']} {view['en']}"
        + (f" · score {score:.1f}" if score is not None else "")
        + (f" · p.{page}" if page else ""),
    )
    view.update(review_mark(cell))
    if view["mark"]:
        view["title"] += f" · {view['mark_text']}"
    return view


def heatmap_rows(data: ReportData) -> list[dict[str, Any]]:
    """One row per document: a cell per section (share implemented) and per measure (status)."""
    cells = _cells(data)
    groups = sections(data)
    rows = []
    for doc in records(data.documents):
        measure_cells = [
            _cell_view(data, cells.get((doc["doc_id"], m)), doc["label"], m)
            for m in data.measures["measure_id"]
        ]
        by_measure = {c["measure_id"]: c for c in measure_cells}
        section_cells = []
        for group in groups:
            statuses = [by_measure[m["measure_id"]]["status"] for m in group["measures"]]
            covered, partial, n = statuses.count("covered"), statuses.count("partial"), len(statuses)
            share = (covered + PARTIAL_WEIGHT * partial) / n
            section_cells.append(
                {
                    "section_id": group["section_id"],
                    "share": share,
                    "bg": share_colour(share),
                    "fg": "#ffffff" if share >= LIGHT_TEXT_FROM else "#1a1a1a",
                    "text": f"{covered}+{partial}/{n}" if partial else f"{covered}/{n}",
                    "title": f"{doc['label']} · {group['section_id']} {group['zh']}: "
                    f"覆盖 covered {covered}, 部分 partial {partial}, of {n}",
                    "href": f"#{doc['anchor']}-{group['anchor']}",
                }
            )
        rows.append({**doc, "section_cells": section_cells, "measure_cells": measure_cells})
    return rows


def section_means(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The share of each section over the rows given (the heatmap's mean row: the local plans)."""
    if not rows:
        return []
    result = []
    for i, cell in enumerate(rows[0]["section_cells"]):
        share = sum(r["section_cells"][i]["share"] for r in rows) / len(rows)
        result.append(
            {
                "section_id": cell["section_id"],
                "share": share,
                "bg": share_colour(share),
                "fg": "#ffffff" if share >= LIGHT_TEXT_FROM else "#1a1a1a",
                "text": f"{100 * share:.0f}%",
            }
        )
    return result


def _clause_link(data: ReportData, clause_id: str) -> dict[str, Any]:
    clause = data.clauses.loc[clause_id]
    return {
        "href": "#" + clause_anchor(clause_id),
        "page": int(clause["page"]) if pd.notna(clause["page"]) else None,
        "path": clause["path"] or "",
        "preview": preview(clause["text"]),
    }


def _departments(data: ReportData, doc_id: str) -> list[dict[str, Any]]:
    rows = data.departments[data.departments["doc_id"] == doc_id]
    result = []
    for name, group in rows.groupby("name", sort=False):
        roles = group["role"].value_counts()
        links = [_clause_link(data, c) for c in dict.fromkeys(group["clause_id"])]
        result.append(
            {
                "name": name,
                "lead": int(roles.get("lead", 0)),
                "responsible": int(roles.get("responsible", 0)),
                "support": int(roles.get("support", 0)),
                "links": links,
            }
        )
    return sorted(
        result, key=lambda d: (-d["lead"], -(d["lead"] + d["responsible"] + d["support"]), d["name"])
    )


def _targets(data: ReportData, doc_id: str) -> list[dict[str, Any]]:
    rows = data.targets[data.targets["doc_id"] == doc_id]
    result = []
    for t in records(rows):
        year = int(t["year"]) if pd.notna(t["year"]) else None
        objective = national_objective(t["indicator"], year)
        result.append(
            {
                "indicator": t["indicator"],
                "value": number(t["value"]),
                "unit": t["unit"] or "",
                "year": year,
                "text": t["text"],
                "link": _clause_link(data, t["clause_id"]),
                "objective": objective,
            }
        )
    return sorted(result, key=lambda t: (t["year"] or 9999, t["link"]["page"] or 0))


def document_views(data: ReportData, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The page of each document: figures, gaps, partial cells, additions, targets, departments."""
    groups = sections(data)
    measures = data.measures.set_index("measure_id")
    views = []
    for row in rows:
        doc_id = row["doc_id"]
        by_measure = {c["measure_id"]: c for c in row["measure_cells"]}
        gaps = []
        for group, cell in zip(groups, row["section_cells"], strict=True):
            absent = [
                {**m, "score": by_measure[m["measure_id"]]["score"]}
                for m in group["measures"]
                if by_measure[m["measure_id"]]["status"] == "absent"
            ]
            if absent:
                gaps.append(
                    {**group, "absent": absent, "whole": len(absent) == len(group["measures"]), "cell": cell}
                )
        partial = [
            {**c, "title_en": measures.at[c["measure_id"], "title_en"]}
            for c in row["measure_cells"]
            if c["status"] == "partial"
        ]
        additions = [
            {
                **_clause_link(data, a["clause_id"]),
                "heading": data.clauses.at[a["clause_id"], "heading"] or "",
                "score": a["score"],
                "closest": a["closest_measure_id"] if isinstance(a["closest_measure_id"], str) else None,
                "closest_anchor": measure_anchor(a["closest_measure_id"])
                if isinstance(a["closest_measure_id"], str)
                else None,
                "closest_title": measures.at[a["closest_measure_id"], "title_en"]
                if isinstance(a["closest_measure_id"], str) and a["closest_measure_id"] in measures.index
                else "",
            }
            for a in records(data.additions[data.additions["doc_id"] == doc_id])
        ]
        views.append(
            {
                **row,
                "gaps": gaps,
                "n_gap_sections": sum(1 for g in gaps if g["whole"]),
                "partial_cells": partial,
                "additions": additions,
                "targets": _targets(data, doc_id),
                "departments": _departments(data, doc_id),
                "sections": groups,
            }
        )
    return views


def _group_counts(rows: list[dict[str, Any]], implemented: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per group of documents (local plans first), how many implement the measure, of how many."""
    counts: dict[str, dict[str, Any]] = {}
    for row in rows:
        group = counts.setdefault(
            row["group"], {"group": row["group"], "zh": row["group_zh"], "en": row["group_en"], "local": row["local"],
                           "implemented": 0, "covered": 0, "total": 0}
        )  # fmt: skip
        group["total"] += 1
    for entry in implemented:
        counts[entry["group"]]["implemented"] += 1
        counts[entry["group"]]["covered"] += entry["status"] == "covered"
    return list(counts.values())


def measure_views(data: ReportData, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The block of each national measure: which documents implement it, how closely, and where not.

    ``n_local`` / ``n_local_implemented`` / ``n_local_covered`` count the plans of provinces,
    cities and counties only: national and ministry documents are not ranked with them."""
    per_measure = data.evaluation.per_measure.set_index("measure_id") if data.evaluation else pd.DataFrame()
    views = []
    for i, m in enumerate(records(data.measures)):
        implemented: list[dict[str, Any]] = []
        absent: list[dict[str, Any]] = []
        for row in rows:
            cell = row["measure_cells"][i]
            entry = {"label": row["label"], "doc_anchor": row["anchor"], "group": row["group"], **cell}
            (implemented if cell["status"] in IMPLEMENTED else absent).append(entry)
        implemented.sort(key=lambda c: -(c["score"] or 0.0))
        groups = _group_counts(rows, implemented)
        local = [g for g in groups if g["local"]]
        figures = per_measure.loc[m["measure_id"]].to_dict() if m["measure_id"] in per_measure.index else None
        views.append(
            {
                **m,
                "anchor": measure_anchor(m["measure_id"]),
                "section_anchor": section_anchor(m["section_id"]),
                "implemented": implemented,
                "absent": absent,
                "n_covered": sum(1 for c in implemented if c["status"] == "covered"),
                "n_partial": sum(1 for c in implemented if c["status"] == "partial"),
                "n_local": sum(g["total"] for g in local),
                "n_local_implemented": sum(g["implemented"] for g in local),
                "n_local_covered": sum(g["covered"] for g in local),
                "other_groups": [g for g in groups if not g["local"]],
                "evaluation": figures,
            }
        )
    return views


def evidence_views(data: ReportData, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per document, every clause the report points at, once, with what it is evidence for."""
    uses: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for cell in records(data.coverage):
        if isinstance(cell["evidence_clause_id"], str) and cell["status"] in IMPLEMENTED:
            uses[cell["evidence_clause_id"]].append(
                {
                    "kind": "measure",
                    "measure_id": cell["measure_id"],
                    "anchor": measure_anchor(cell["measure_id"]),
                    "score": cell["score"],
                    **status_view(cell["status"]),
                }
            )
    for a in records(data.additions):
        closest = a["closest_measure_id"] if isinstance(a["closest_measure_id"], str) else None
        uses[a["clause_id"]].append(
            {
                "kind": "addition",
                "score": a["score"],
                "measure_id": closest,
                "anchor": measure_anchor(closest) if closest else None,
            }
        )
    for t in records(data.targets):
        uses[t["clause_id"]].append({"kind": "target", "indicator": t["indicator"]})
    for d in records(data.departments):
        uses[d["clause_id"]].append({"kind": "department", "name": d["name"], "role": d["role"]})
    views = []
    for row in rows:
        clauses = data.clauses[data.clauses["doc_id"] == row["doc_id"]].sort_values("seq")
        entries = []
        for clause in records(clauses):
            used = uses.get(clause["clause_id"], [])
            entries.append(
                {
                    **clause,
                    "anchor": clause_anchor(clause["clause_id"]),
                    "measures": [u for u in used if u["kind"] == "measure"],
                    "addition": next((u for u in used if u["kind"] == "addition"), None),
                    "targets": [u["indicator"] for u in used if u["kind"] == "target"],
                    "departments": [u for u in used if u["kind"] == "department"],
                }
            )
        views.append(
            {
                "label": row["label"],
                "anchor": row["anchor"],
                "doc_number": row["doc_number"],
                "entries": entries,
            }
        )
    return views
