"""A circuit as a figure, in the layout js/core/circuitgraph.ts draws on screen: one row per
block (bottom to top), heads left to right and the MLP at the right of each row, the embeddings
below and the logits above; the top ``n`` edges as curves (width by |score|, red when corrupting
the edge raises the metric, blue when it lowers it), and a line saying what was computed and how
faithful the drawn circuit is."""

from __future__ import annotations

import numpy as np

from .figure import THEMES, Circle, Curve, Figure, Rect, Text, parse_length
from .matrix import FigureOptions

ROW = 24.0  # points per block, as the screen's px
MARGIN = {"left": 44.0, "right": 16.0, "top": 26.0, "bottom": 26.0}
NODE_R = 5.0
RED, BLUE = "#c82828", "#1e5ac8"


class _Layout:
    def __init__(self, graph, width: float, top: float):
        self.g, self.width, self.top = graph, width, top

    def x(self, column: float) -> float:
        w = (self.width - MARGIN["left"] - MARGIN["right"]) / (self.g.n_heads + 2)
        return MARGIN["left"] + (column + 0.5) * w

    def y(self, layer: int) -> float:
        return self.top + MARGIN["top"] + (self.g.n_layers - layer) * ROW

    def writer(self, index: int) -> tuple[float, float, str]:
        g = self.g
        if index == 0:
            return self.x((g.n_heads + 1) / 2), self.y(-1), "emb"
        layer, within = divmod(index - 1, g.n_heads + 1)
        if within == g.n_heads:
            return self.x(g.n_heads + 1), self.y(layer), "mlp"
        return self.x(within), self.y(layer), "head"

    def reader(self, index: int) -> tuple[float, float, int]:
        g = self.g
        per = g.per_layer_in
        if index >= g.n_layers * per:
            return self.x((g.n_heads + 1) / 2), self.y(g.n_layers) + NODE_R, g.n_layers
        layer, at = divmod(index, per)
        y = self.y(layer) + NODE_R
        if at < g.n_heads:
            return self.x(at), y, layer
        if at == per - 1:
            return self.x(g.n_heads + 1), y, layer
        kv = at - g.n_heads
        size = g.n_heads // g.n_kv_heads
        centre = self.x((kv % g.n_kv_heads) * size + (size - 1) / 2)
        return centre + (-3 if kv < g.n_kv_heads else 3), y, layer

    def curve(self, up: int, down: int) -> list[tuple[float, float]]:
        ax, ay, _ = self.writer(up)
        bx, by, reader_layer = self.reader(down)
        writer_layer = -1 if up == 0 else (up - 1) // (self.g.n_heads + 1)
        start = (ax, ay - NODE_R)
        if reader_layer == writer_layer:
            lift = ROW * 0.6
            return [start, (ax, start[1] - lift), (bx, by - 2 * NODE_R - lift), (bx, by - 2 * NODE_R)]
        dy = (start[1] - by) * 0.45
        bend = bulge(reader_layer - writer_layer) if abs(bx - ax) < 1 else 0.0
        return [start, (ax + bend, start[1] - dy), (bx + bend, by + dy), (bx, by)]


def bulge(rows: int) -> float:
    """How far right an edge between nodes stacked in one column bows out (js/core/circuitgraph.ts)."""
    return min(48.0, 8.0 * rows) if rows > 1 else 0.0


def circuit_figure(result, n: int, *, faithfulness: float | None = None, options: FigureOptions | None = None) -> Figure:
    """The top ``n`` edges of ``result`` (:class:`~llmxai_widgets.CircuitResult`) as a layered graph."""
    o = options or FigureOptions()
    colors = THEMES[o.theme]
    width = parse_length(o.width) if o.width is not None else 600.0
    g = result.graph
    title_h = 2.6 * o.font_size
    height = title_h + MARGIN["top"] + MARGIN["bottom"] + (g.n_layers + 1) * ROW + 2 * o.font_size
    fig = Figure(width, height, o.font_family, theme=o.theme)
    fig.items.append(Rect(0, 0, width, height, fill=colors["background"]))
    what = {"eap": "EAP", "eap_ig": f"EAP-IG ({result.steps} steps)", "exact": "exact patching"}[result.method]
    line = f"{o.title + ': ' if o.title else ''}top {n:,} of {result.n_edges:,} edges by {what}, {result.metric}"
    if faithfulness is not None:
        line += f"; faithfulness {faithfulness:.3f}"
    fig.items.append(Text(MARGIN["left"], 1.4 * o.font_size, line, o.font_size, colors["text"], weight="bold"))
    layout = _Layout(g, width, title_h)
    circuit = result.top(n)
    scores = result.scores[circuit.upstream, circuit.downstream]
    biggest = float(np.max(np.abs(scores))) if len(scores) else 0.0
    for i in range(len(scores) - 1, -1, -1):  # the strongest drawn last, on top
        s = float(scores[i])
        fig.items.append(Curve(layout.curve(int(circuit.upstream[i]), int(circuit.downstream[i])), RED if s >= 0 else BLUE,
                               alpha=0.75, width=0.4 + 3.6 * (abs(s) / biggest if biggest else 0.0)))
    for layer in range(g.n_layers):
        fig.items.append(Text(6, layout.y(layer), f"L{layer}", o.font_size * 0.9, colors["muted"], va="center"))
    node = colors["text"]
    for index in range(g.n_upstream):
        x, y, kind = layout.writer(index)
        fig.items.append(Rect(x - NODE_R, y - NODE_R, 2 * NODE_R, 2 * NODE_R, fill=node, edge=node)
                         if kind == "mlp" else Circle(x, y, NODE_R, node))
    centre = layout.x((g.n_heads + 1) / 2)
    fig.items.append(Text(centre, layout.y(g.n_layers) - 2, "logits", o.font_size * 0.9, colors["text"], ha="center"))
    fig.items.append(Text(centre, layout.y(-1) + 13, "embeddings", o.font_size * 0.9, colors["text"], ha="center", va="center"))
    return fig
