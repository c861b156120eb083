"""The report's section on reuse between plans: what the template shows, from ``ReportData.diffusion``.

- ``network_svg``: the diffusion network. Documents are nodes, placed by province (the provinces
  around a circle in the national administrative order, a province's documents around its
  place; both layouts from ``networkx``), an edge from the earlier document to the later one
  reusing it (undirected when the dates tie or one is missing), its width the reusing
  document's share of items reused from the other. The SVG is written from networkx's
  positions (no plotting library).
- ``similarity_heatmap``: documents x documents, the share of the row document's items reused
  from (or shared with) the column document, in an order from hierarchical clustering
  (scikit-learn's ``AgglomerativeClustering``, average linkage, on 1 - the larger of the two
  shares), so documents that copy each other sit together.
- ``homogeneity_views``: the most and least homogeneous measures, each with a pair of the
  provinces' evidence clauses side by side, the characters they share (runs of at least
  ``SHINGLE`` characters found in the other) marked.
- ``localization_rows``: per document, the shares of its items that are its own or reused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import markupsafe
import networkx as nx
import numpy as np
import pandas as pd

from compare.report.data import (
    LABEL_JOINER,
    PROVINCE_ORDER,
    Diffusion,
    ReportData,
    doc_anchor,
    measure_anchor,
)
from compare.report.views import share_colour

#: Measures shown at each end of the homogeneity ranking.
HOMOGENEITY_SHOWN = 3
#: A character is shared when a run of this many characters around it is in the other clause.
SHINGLE = 4
#: The network drawing, in SVG user units.
NETWORK_SIZE = 720
NETWORK_MARGIN = 90
#: Radius of a province's documents around its place, as a share of the whole circle's.
PROVINCE_SPREAD = 0.3
NODE_RADIUS = 9
#: Edge width for a reused share of 0 and of 1.
EDGE_MIN_WIDTH = 0.8
EDGE_MAX_WIDTH = 9.0
#: Edges below this share are not drawn (a stray shared sentence).
MIN_EDGE_SHARE = 0.02
NODE_COLOURS = {"provincial": "#1f5f8b", "city": "#d9822b", "county": "#7a9a3a"}
OTHER_NODE_COLOUR = "#777777"
EDGE_COLOUR = "#555555"


def _label(row: Any) -> str:
    if isinstance(row.city, str) and row.city and isinstance(row.province, str) and row.province:
        return f"{row.province}{LABEL_JOINER}{row.city}"
    return str(row.jurisdiction)


def _province_key(province: Any) -> tuple[int, str]:
    if isinstance(province, str) and province in PROVINCE_ORDER:
        return PROVINCE_ORDER.index(province), province
    return len(PROVINCE_ORDER), str(province) if isinstance(province, str) else ""


def _edges(diffusion: Diffusion) -> list[tuple[str, str, float, bool]]:
    """(source, target, share, directed): one per pair joined by reuse; source the earlier
    document, share the later one's share of items reused from it (undirected: the larger share)."""
    shares = {(r.doc_id, r.other_doc_id): float(r.reused_share) for r in diffusion.pairs.itertuples()}
    earlier = {(r.doc_id, r.other_doc_id): r.other_is_earlier for r in diffusion.pairs.itertuples()}
    edges = []
    for a, b in sorted({tuple(sorted(pair)) for pair in shares}):
        flag = earlier.get((a, b), earlier.get((b, a)))
        if flag is None or pd.isna(flag):
            edges.append((a, b, max(shares.get((a, b), 0.0), shares.get((b, a), 0.0)), False))
            continue
        a_later = bool(earlier[(a, b)]) if (a, b) in earlier else not bool(earlier[(b, a)])
        source, target = (b, a) if a_later else (a, b)
        edges.append((source, target, shares.get((target, source), 0.0), True))
    return [e for e in edges if e[2] >= MIN_EDGE_SHARE]


def network_graph(diffusion: Diffusion) -> nx.DiGraph:
    """The diffusion network: a node per document (label, province), an edge per reuse relation."""
    graph = nx.DiGraph()
    for row in diffusion.documents.itertuples():
        graph.add_node(
            row.doc_id,
            label=_label(row),
            province=row.province,
            level=row.issuer_level,
            anchor=doc_anchor(row.doc_id),
        )
    for source, target, share, directed in _edges(diffusion):
        if source in graph and target in graph:
            graph.add_edge(source, target, share=share, directed=directed)
    return graph


def network_positions(graph: nx.DiGraph) -> dict[str, np.ndarray]:
    """Node positions in [-1, 1]: provinces around a circle, a province's documents around its place."""
    provinces = sorted({graph.nodes[n]["province"] for n in graph}, key=_province_key)
    places = nx.circular_layout(nx.path_graph(len(provinces))) if len(provinces) > 1 else {0: np.zeros(2)}
    positions: dict[str, np.ndarray] = {}
    for i, province in enumerate(provinces):
        members = sorted(n for n in graph if graph.nodes[n]["province"] == province)
        around = (
            nx.circular_layout(graph.subgraph(members), scale=PROVINCE_SPREAD)
            if len(members) > 1
            else {members[0]: np.zeros(2)}
        )
        for node in members:
            positions[node] = np.asarray(places[i]) * (1 - PROVINCE_SPREAD) + np.asarray(around[node])
    return positions


def network_svg(diffusion: Diffusion) -> markupsafe.Markup:
    """The diffusion network as inline SVG (see the module docstring)."""
    graph = network_graph(diffusion)
    positions = network_positions(graph) if len(graph) else {}
    half = (NETWORK_SIZE - 2 * NETWORK_MARGIN) / 2

    def xy(node: str) -> tuple[float, float]:
        x, y = positions[node]
        return NETWORK_SIZE / 2 + half * float(x), NETWORK_SIZE / 2 + half * float(y)

    esc = markupsafe.escape
    parts = [
        f'<svg class="network" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {NETWORK_SIZE} {NETWORK_SIZE}" '
        f'width="{NETWORK_SIZE}" height="{NETWORK_SIZE}" role="img" aria-label="diffusion network">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="14" markerHeight="14" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{EDGE_COLOUR}"/></marker></defs>',
    ]
    for source, target, attrs in sorted(graph.edges(data=True)):
        (x1, y1), (x2, y2) = xy(source), xy(target)
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        shrink = (NODE_RADIUS + 2) / length
        x1, y1 = x1 + (x2 - x1) * shrink, y1 + (y2 - y1) * shrink
        x2, y2 = x2 - (x2 - x1) * shrink, y2 - (y2 - y1) * shrink
        width = EDGE_MIN_WIDTH + (EDGE_MAX_WIDTH - EDGE_MIN_WIDTH) * attrs["share"]
        marker = ' marker-end="url(#arrow)"' if attrs["directed"] else ""
        a, b = graph.nodes[source]["label"], graph.nodes[target]["label"]
        title = f"{b} ← {a}" if attrs["directed"] else f"{a} — {b}"
        parts.append(
            f'<line class="reuse-edge" data-source="{esc(source)}" data-target="{esc(target)}" '
            f'x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{EDGE_COLOUR}" '
            f'stroke-opacity="0.7" stroke-width="{width:.1f}"{marker}>'
            f"<title>{esc(title)}: {attrs['share']:.0%} of the later plan's items reused</title></line>"
        )
    for node in sorted(graph):
        x, y = xy(node)
        info = graph.nodes[node]
        colour = NODE_COLOURS.get(str(info["level"]), OTHER_NODE_COLOUR)
        anchor = "start" if x >= NETWORK_SIZE / 2 else "end"
        dx = NODE_RADIUS + 3 if anchor == "start" else -(NODE_RADIUS + 3)
        parts.append(
            f'<a href="#{esc(info["anchor"])}"><circle class="doc-node" data-doc-id="{esc(node)}" cx="{x:.1f}" '
            f'cy="{y:.1f}" r="{NODE_RADIUS}" fill="{colour}"><title>{esc(info["label"])}</title></circle>'
            f'<text x="{x + dx:.1f}" y="{y + 4:.1f}" text-anchor="{anchor}" font-size="13">{esc(info["label"])}</text></a>'
        )
    parts.append("</svg>")
    return markupsafe.Markup("".join(parts))


def cluster_order(similarity: np.ndarray) -> list[int]:
    """Rows in the leaf order of an average-linkage clustering on 1 - ``similarity``."""
    n = len(similarity)
    if n < 3:
        return list(range(n))
    from sklearn.cluster import AgglomerativeClustering

    distance = np.clip(1.0 - similarity, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    model = AgglomerativeClustering(
        metric="precomputed", linkage="average", distance_threshold=0.0, n_clusters=None
    ).fit(distance)
    children = model.children_

    def leaves(node: int) -> list[int]:
        order, stack = [], [node]
        while stack:
            current = stack.pop()
            if current < n:
                order.append(current)
            else:
                left, right = children[current - n]
                stack += [right, left]
        return order

    return leaves(n + len(children) - 1)


def similarity_heatmap(diffusion: Diffusion) -> dict[str, Any]:
    """Rows and columns in clustered order; cell (A, B): share of A's items reused from or shared with B."""
    docs = list(diffusion.documents.itertuples())
    ids = [d.doc_id for d in docs]
    position = {d: i for i, d in enumerate(ids)}
    share = np.zeros((len(ids), len(ids)))
    for r in diffusion.pairs.itertuples():
        if r.doc_id in position and r.other_doc_id in position:
            share[position[r.doc_id], position[r.other_doc_id]] = float(r.reused_share)
    symmetric = np.maximum(share, share.T)
    np.fill_diagonal(symmetric, 1.0)
    order = cluster_order(symmetric)
    labels = [_label(d) for d in docs]
    rows = []
    for i in order:
        cells = []
        for j in order:
            value = None if i == j else float(share[i, j])
            cells.append(
                {
                    "value": value,
                    "bg": "#eeeeee" if value is None else share_colour(value),
                    "fg": "#ffffff" if value is not None and value >= 0.5 else "#1a1a1a",
                    "text": "" if value is None or value < 0.005 else f"{round(100 * value)}",
                    "title": f"{labels[i]} ← {labels[j]}",
                }
            )
        rows.append({"label": labels[i], "anchor": doc_anchor(ids[i]), "cells": cells})
    return {"columns": [labels[j] for j in order], "rows": rows}


def shared_marked(text: str, other: str, size: int = SHINGLE) -> markupsafe.Markup:
    """``text`` with the characters it shares with ``other`` (inside a run of ``size`` found there) in ``<mark>``."""
    if not isinstance(text, str):
        return markupsafe.Markup("")
    grams = {other[i : i + size] for i in range(len(other) - size + 1)} if isinstance(other, str) else set()
    shared = [False] * len(text)
    for i in range(len(text) - size + 1):
        if text[i : i + size] in grams:
            shared[i : i + size] = [True] * size
    out, i = [], 0
    while i < len(text):
        j = i
        while j < len(text) and shared[j] == shared[i]:
            j += 1
        piece = markupsafe.escape(text[i:j])
        out.append(f"<mark>{piece}</mark>" if shared[i] else str(piece))
        i = j
    return markupsafe.Markup("".join(out))


def _pair(row: dict[str, Any], which: str) -> dict[str, Any]:
    a, b = row[f"{which}_text"], row[f"{which}_other_text"]
    return {
        "jurisdiction": row[f"{which}_jurisdiction"],
        "other_jurisdiction": row[f"{which}_other_jurisdiction"],
        "text": shared_marked(a, b),
        "other_text": shared_marked(b, a),
    }


def homogeneity_views(
    diffusion: Diffusion, shown: int = HOMOGENEITY_SHOWN
) -> dict[str, list[dict[str, Any]]]:
    """The ``shown`` most homogeneous measures with their most alike pair, the least with their least alike."""
    ranked = diffusion.homogeneity.to_dict("records")
    most = ranked[:shown]
    least = [r for r in ranked[-shown:][::-1] if r not in most]

    def view(row: dict[str, Any], which: str) -> dict[str, Any]:
        return {**row, "anchor": measure_anchor(row["measure_id"]), "pair": _pair(row, which)}

    return {"most": [view(r, "most_alike") for r in most], "least": [view(r, "least_alike") for r in least]}


def localization_rows(diffusion: Diffusion) -> list[dict[str, Any]]:
    rows = []
    for row in sorted(diffusion.documents.itertuples(), key=lambda r: (_province_key(r.province), _label(r))):
        rows.append({**row._asdict(), "label": _label(row), "anchor": doc_anchor(row.doc_id)})
    return rows


def diffusion_context(data: ReportData) -> dict[str, Any] | None:
    """What ``_diffusion.html.j2`` shows; None when the warehouse holds no reuse."""
    diffusion = data.diffusion
    if diffusion is None or diffusion.documents.empty:
        return None
    national = diffusion.documents["national_text"].dropna()
    return {
        "network": network_svg(diffusion),
        "n_nodes": len(diffusion.documents),
        "n_edges": network_graph(diffusion).number_of_edges(),
        "heatmap": similarity_heatmap(diffusion),
        "homogeneity": homogeneity_views(diffusion),
        "localization": localization_rows(diffusion),
        "national_text": str(national.iloc[0]) if len(national) else "",
        "state": diffusion.state,
        "node_colours": NODE_COLOURS,
    }


__all__: Sequence[str] = ["diffusion_context", "network_svg", "shared_marked", "similarity_heatmap"]
