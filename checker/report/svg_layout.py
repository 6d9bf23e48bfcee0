"""The lock graph as an SVG, laid out in Python: layered, top to bottom, deterministic.

Layering follows Sugiyama's scheme with networkx doing the graph work:
1. break cycles by reversing the back edges of a depth-first search taken in
   name order, so every cycle is drawn as downward edges plus one edge
   climbing back on the right (the one that closes the deadlock);
2. put each lock class on the layer of its longest path from a root
   (outer locks above inner ones, as in `order a -> b -> c`);
3. order each layer by the barycentre of its neighbours, a few sweeps down
   and up, ties broken by name;
4. place boxes sized to their monospace labels.
The same graph always gives the same bytes. Marked edges and nodes (the
cycle of a deadlock) are drawn in red, with a CSS class for the DOM.
"""
from __future__ import annotations

import networkx as nx
from markupsafe import Markup, escape

from checker.report.graph_view import GraphView

CHAR_WIDTH = 7.3       # 12px monospace
KIND_CHAR_WIDTH = 5.6  # 9px sans-serif
NODE_HEIGHT = 34
LAYER_GAP = 56
NODE_GAP = 28
MARGIN = 24
SWEEPS = 4
RED = "#c62828"
GREY = "#607080"


def _acyclic(view: GraphView) -> tuple[nx.DiGraph, set[tuple[str, str]]]:
    """The graph with its DFS back edges reversed; returns it and the reversed edges."""
    graph = nx.DiGraph()
    graph.add_nodes_from(view.names)
    edges = [(e.source, e.target) for e in view.edges if e.source != e.target]
    successors: dict[str, list[str]] = {name: [] for name in view.names}
    for source, target in edges:
        successors[source].append(target)
    state: dict[str, int] = {}          # 1 on the DFS stack, 2 done
    back: set[tuple[str, str]] = set()
    for root in view.names:
        if root in state:
            continue
        stack = [(root, iter(sorted(successors[root])))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                back.add((node, child))
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(sorted(successors[child]))))
    for source, target in edges:
        if (source, target) in back:
            graph.add_edge(target, source)
        else:
            graph.add_edge(source, target)
    return graph, back


def _layers(graph: nx.DiGraph) -> list[list[str]]:
    layer: dict[str, int] = {}
    for node in nx.lexicographical_topological_sort(graph):
        layer[node] = max((layer[p] + 1 for p in graph.predecessors(node)), default=0)
    rows: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for node in sorted(layer):
        rows[layer[node]].append(node)
    return rows


def _order(graph: nx.DiGraph, rows: list[list[str]]) -> list[list[str]]:
    position = {node: i for row in rows for i, node in enumerate(row)}
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        indices = range(1, len(rows)) if downward else range(len(rows) - 2, -1, -1)
        for index in indices:
            neighbours = graph.predecessors if downward else graph.successors

            def barycentre(node: str) -> tuple[float, int, str]:
                placed = [position[n] for n in neighbours(node)]
                centre = sum(placed) / len(placed) if placed else position[node]
                return (centre, position[node], node)
            rows[index] = sorted(rows[index], key=barycentre)
            position.update({node: i for i, node in enumerate(rows[index])})
    return rows


def _width(label: str, kind: str = "") -> int:
    return max(int(len(label) * CHAR_WIDTH), int(len(kind) * KIND_CHAR_WIDTH)) + 24


Box = tuple[int, int, int]          # centre x, top y, width


def layout(view: GraphView) -> tuple[dict[str, Box], set[tuple[str, str]], int, int]:
    """Box of each node as (centre x, top y, width); the reversed edges; canvas size."""
    graph, back = _acyclic(view)
    rows = _order(graph, _layers(graph))
    kinds = dict(view.nodes)
    row_widths = [sum(_width(n, kinds[n]) for n in row) + NODE_GAP * (len(row) - 1)
                  for row in rows]
    canvas = max(row_widths, default=0) + 2 * MARGIN + 80   # room for edges climbing back
    boxes: dict[str, tuple[int, int, int]] = {}
    for index, (row, row_width) in enumerate(zip(rows, row_widths)):
        x = MARGIN + (canvas - 2 * MARGIN - 80 - row_width) // 2
        y = MARGIN + index * (NODE_HEIGHT + LAYER_GAP)
        for node in row:
            width = _width(node, kinds[node])
            boxes[node] = (x + width // 2, y, width)
            x += width + NODE_GAP
    height = MARGIN * 2 + len(rows) * NODE_HEIGHT + max(0, len(rows) - 1) * LAYER_GAP
    return boxes, back, canvas, height


def _edge_path(boxes, source: str, target: str, climbing: bool, both_ways: bool) -> str:
    sx, sy, sw = boxes[source]
    tx, ty, tw = boxes[target]
    if source == target:
        right, mid = sx + sw // 2, sy + NODE_HEIGHT // 2
        return (f"M{right},{mid - 8} C{right + 36},{mid - 30} {right + 36},{mid + 30} "
                f"{right},{mid + 8}")
    if climbing:
        # Out of the source's right side, up the right, into the target's right side.
        x1, y1 = sx + sw // 2, sy + NODE_HEIGHT // 2
        x2, y2 = tx + tw // 2, ty + NODE_HEIGHT // 2
        reach = max(x1, x2) + 40 + (y1 - y2) // 6
        return f"M{x1},{y1} C{reach},{y1} {reach},{y2} {x2},{y2}"
    x1, y1 = sx - (8 if both_ways else 0), sy + NODE_HEIGHT
    x2, y2 = tx - (8 if both_ways else 0), ty
    bend = (y2 - y1) // 2
    return f"M{x1},{y1} C{x1},{y1 + bend} {x2},{y2 - bend} {x2},{y2}"


def render_graph_svg(view: GraphView, ident: str = "lockgraph") -> Markup:
    boxes, back, width, height = layout(view)
    pairs = {(e.source, e.target) for e in view.edges}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="lock-graph" id="{ident}" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="lock graph">',
           "<defs>",
           f'<marker id="{ident}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
           f'fill="{GREY}"/></marker>',
           f'<marker id="{ident}-arrow-cycle" viewBox="0 0 10 10" refX="9" refY="5" '
           f'markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path '
           f'd="M0,0 L10,5 L0,10 z" fill="{RED}"/></marker>',
           "</defs>"]
    for edge in view.edges:
        out.append(_edge_svg(edge, boxes, back, pairs, view, ident))
    for name, kind in view.nodes:
        out.append(_node_svg(name, kind, boxes[name], name in view.marked_nodes))
    out.append("</svg>")
    return Markup("\n".join(out))


def _edge_svg(edge, boxes, back, pairs, view: GraphView, ident: str) -> str:
    key = (edge.source, edge.target)
    marked = key in view.marked_edges
    climbing = key in back or (boxes[edge.target][1] < boxes[edge.source][1])
    both_ways = (edge.target, edge.source) in pairs
    path = _edge_path(boxes, edge.source, edge.target, climbing, both_ways)
    colour, width = (RED, 2.5) if marked else (GREY, 1.2)
    arrow = f"{ident}-arrow-cycle" if marked else f"{ident}-arrow"
    title = escape(f"{edge.source} -> {edge.target} [{'/'.join(edge.types)}]\n"
                   + "\n".join(edge.origins))
    return (f'<g class="edge{" cycle" if marked else ""}" data-source="{escape(edge.source)}" '
            f'data-target="{escape(edge.target)}"><title>{title}</title>'
            f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="{width}" '
            f'marker-end="url(#{arrow})"/></g>')


def _node_svg(name: str, kind: str, box, marked: bool) -> str:
    cx, top, width = box
    stroke, fill, text = (RED, "#fdecea", RED) if marked else ("#37474f", "#f5f7fa", "#1c2733")
    return (f'<g class="node{" cycle" if marked else ""}" data-lock="{escape(name)}">'
            f'<title>{escape(name)} ({escape(kind)})</title>'
            f'<rect x="{cx - width // 2}" y="{top}" width="{width}" height="{NODE_HEIGHT}" '
            f'rx="6" fill="{fill}" stroke="{stroke}" stroke-width="{2.5 if marked else 1.2}"/>'
            f'<text x="{cx}" y="{top + 15}" text-anchor="middle" font-family="monospace" '
            f'font-size="12" fill="{text}">{escape(name)}</text>'
            f'<text x="{cx}" y="{top + 28}" text-anchor="middle" font-family="sans-serif" '
            f'font-size="9" fill="{GREY}">{escape(kind)}</text></g>')
