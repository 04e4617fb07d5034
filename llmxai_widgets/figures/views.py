"""Figures of the attention explorer's other views: the model view (layers x heads thumbnails),
the head summary (one score per head, written in each cell) and the head view (a line per head
from each query token to the keys it reads). Same colour tables, labels and themes as the matrix
figure and the screen."""

from __future__ import annotations

import numpy as np

from ..colors import color_index, lut
from ..methods.attention_views import thumbnail
from ..results import AttentionResult
from .figure import THEMES, Figure, Image, Line, Rect, Text, parse_length, text_width
from .matrix import GAP, PAD, FigureOptions
from .text import display_token

HEAD_COLORS = [
    # js/core/headview.ts HEAD_COLORS: Okabe-Ito (grey for its black), then Tol's muted
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#8C8C8C",
    "#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255",
]


def _pick(values, count: int, what: str) -> list[int]:
    if values is None:
        return list(range(count))
    out = sorted({int(v) for v in ([values] if isinstance(values, (int, np.integer)) else values)})
    bad = [v for v in out if not 0 <= v < count]
    if bad or not out:
        raise ValueError(f"{what} {bad or values!r} out of range: choose from 0-{count - 1}")
    return out


def grid_figure(result: AttentionResult, *, layers=None, heads=None, resolution: int = 64,
                options: FigureOptions | None = None) -> Figure:
    """The model view: a thumbnail of every head in ``layers`` x ``heads`` (default all
    computed), each scaled to its own maximum (shapes, not values, are compared), heads that
    share a key/value head grouped. ``cell`` sets a thumbnail's side (default 12 pt x 3)."""
    o = options or FigureOptions()
    layer_list = [l for l in _pick(layers, result.n_model_layers, "layers") if l in result.sources]
    if not layer_list:
        raise ValueError(f"none of layers {layers!r} is computed in this result (computed: {result.layers})")
    head_list = _pick(heads, result.n_heads, "heads")
    colors = THEMES[o.theme]
    fs, family = float(o.font_size), o.font_family
    thumb = parse_length(o.cell, "cell") * 3
    gap = max(2.0, thumb * 0.08)
    kv = [int(result.kv_group[h]) for h in head_list]
    grouped = len(set(result.kv_group.tolist())) < result.n_heads
    left = PAD + text_width(f"L{max(layer_list)}", fs, family) + GAP
    top = PAD + (fs * 1.5 + GAP if o.title else 0) + (fs * 1.4 if grouped else 0) + fs + GAP
    xs, x = [], left
    for i, h in enumerate(head_list):
        if i and grouped and kv[i] != kv[i - 1]:
            x += gap * 3
        xs.append(x)
        x += thumb + gap
    if o.width is not None:  # scale thumbnails to the width asked for
        scale = (parse_length(o.width) - left - PAD) / (x - left)
        thumb, gap = thumb * scale, gap * scale
        xs = [left + (xx - left) * scale for xx in xs]
        x = left + (x - left) * scale
    width = x + PAD
    height = top + len(layer_list) * (thumb + gap) + PAD
    fig = Figure(width=width, height=height, font_family=family, theme=o.theme)
    text = colors["text"]
    if o.title:
        fig.items.append(Text(width / 2, PAD + fs * 1.2, o.title, fs * 1.15, text, ha="center", weight="bold"))
    table = lut(o.colormap)
    for i, h in enumerate(head_list):
        fig.items.append(Text(xs[i] + thumb / 2, top - GAP, f"H{h}", fs, text, ha="center", va="bottom"))
    if grouped:
        for g in sorted(set(kv)):
            members = [xs[i] for i in range(len(head_list)) if kv[i] == g]
            fig.items.append(Text((members[0] + members[-1] + thumb) / 2, top - GAP - fs * 1.4, f"key/value head {g}",
                                  fs * 0.9, colors["muted"], ha="center", va="bottom"))
    for r, layer in enumerate(layer_list):
        y = top + r * (thumb + gap)
        fig.items.append(Text(left - GAP, y + thumb / 2, f"L{layer}", fs, text, ha="right", va="center"))
        weights = result.layer(layer)
        for i, h in enumerate(head_list):
            t = thumbnail(weights[h], resolution)
            top_value = float(t.max()) or 1.0
            rgb = table[color_index(t / top_value, 0.0, 1.0)]
            cell = thumb / max(t.shape)
            fig.items.append(Image(xs[i], y, t.shape[1] * cell, t.shape[0] * cell, rgb))
    fig.layers, fig.heads, fig.thumb, fig.xs, fig.top = layer_list, head_list, thumb, xs, top
    return fig


SCORE_LABELS = {
    "sink": "attention sink (weight on the first token)",
    "previous_token": "previous token",
    "induction": "induction (repeated random sequence)",
    "entropy": "entropy (nats; low = focused)",
    "entropy_normalised": "entropy / its maximum",
}


def summary_figure(scores: np.ndarray, layers: list[int], name: str, *, options: FigureOptions | None = None,
                   digits: int = 2) -> Figure:
    """The head summary: one score per head as a layers x heads heatmap with the value written
    in each cell (the screen's table), a colour bar and the score's name."""
    o = options or FigureOptions()
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape[0] != len(layers):
        raise ValueError(f"scores have {scores.shape[0]} rows but {len(layers)} layers were given")
    colors = THEMES[o.theme]
    fs, family = float(o.font_size), o.font_family
    n_rows, n_heads = scores.shape
    finite = scores[np.isfinite(scores)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    cell_w = max(parse_length(o.cell, "cell") * 2.4, text_width("0." + "0" * digits, fs * 0.85, family) + 6)
    cell_h = max(parse_length(o.cell, "cell") * 1.2, fs * 1.6)
    left = PAD + text_width(f"L{max(layers)}", fs, family) + GAP
    title = o.title or SCORE_LABELS.get(name, name)
    top = PAD + fs * 1.5 + GAP + fs + GAP
    if o.width is not None:
        scale = (parse_length(o.width) - left - PAD) / (n_heads * cell_w)
        cell_w, cell_h = cell_w * scale, cell_h * scale
    width = left + n_heads * cell_w + PAD
    height = top + n_rows * cell_h + PAD
    fig = Figure(width=width, height=height, font_family=family, theme=o.theme)
    fig.items.append(Text(left, PAD + fs * 1.2, title, fs * 1.1, colors["text"], weight="bold"))
    index = color_index(np.nan_to_num(scores, nan=lo), lo, hi)
    rgb = lut(o.colormap)[index]
    rgb[~np.isfinite(scores)] = colors["masked"]
    fig.items.append(Image(left, top, n_heads * cell_w, n_rows * cell_h, rgb))
    for h in range(n_heads):
        fig.items.append(Text(left + (h + 0.5) * cell_w, top - GAP, f"H{h}", fs, colors["muted"], ha="center", va="bottom"))
    for r, layer in enumerate(layers):
        y = top + (r + 0.5) * cell_h
        fig.items.append(Text(left - GAP, y, f"L{layer}", fs, colors["muted"], ha="right", va="center"))
        for h in range(n_heads):
            v = scores[r, h]
            ink = "#000000" if index[r, h] > 150 else "#ffffff"  # readable on both ends, as on screen
            fig.items.append(Text(left + (h + 0.5) * cell_w, y, "-" if not np.isfinite(v) else f"{v:.{digits}f}",
                                  fs * 0.85, ink, ha="center", va="center"))
    fig.left, fig.top, fig.cell_w, fig.cell_h, fig.vmin, fig.vmax = left, top, cell_w, cell_h, lo, hi
    return fig


def head_view_figure(weights: np.ndarray, tokens: list[str], keys: list[str] | None = None, *, start: int = 0,
                     key_start: int | None = None, heads=None, focus: int | None = None,
                     options: FigureOptions | None = None, threshold: float = 0.02) -> Figure:
    """The head view: ``weights[head, query, key]`` of a window of tokens as lines from each query
    (left) to the keys it reads (right), one colour per head, opacity = weight; ``focus`` keeps
    one query's lines only; ``heads`` picks heads."""
    o = options or FigureOptions()
    weights = np.asarray(weights, dtype=np.float64)
    n_heads, n_q, n_k = weights.shape
    keys = tokens if keys is None else keys
    key_start = start if key_start is None else key_start
    head_list = _pick(heads, n_heads, "heads")
    colors = THEMES[o.theme]
    fs, family = float(o.font_size), o.font_family
    left_labels = [display_token(t, 18) for t in tokens[start:start + n_q]]
    right_labels = [display_token(t, 18) for t in keys[key_start:key_start + n_k]]
    label_w = max(text_width(t, fs, family) for t in left_labels + right_labels)
    row = max(parse_length(o.cell, "cell") * 1.3, fs * 1.5)
    gap_w = max(120.0, label_w * 2)
    left = PAD + label_w + GAP
    top = PAD + (fs * 1.5 + GAP if o.title else 0) + fs * 1.6 + GAP
    width = left + gap_w + GAP + label_w + PAD
    if o.width is not None:
        gap_w = max(40.0, parse_length(o.width) - 2 * (PAD + label_w + GAP))
        width = parse_length(o.width)
    height = top + max(n_q, n_k) * row + PAD
    fig = Figure(width=width, height=height, font_family=family, theme=o.theme)
    if o.title:
        fig.items.append(Text(width / 2, PAD + fs * 1.2, o.title, fs * 1.15, colors["text"], ha="center", weight="bold"))
    x = left
    for h in head_list:  # a legend of head colours
        fig.items.append(Rect(x, top - GAP - fs * 1.2, fs, fs, fill=HEAD_COLORS[h % len(HEAD_COLORS)]))
        fig.items.append(Text(x + fs + 2, top - GAP - fs * 0.7, f"H{h}", fs * 0.85, colors["muted"], va="center"))
        x += fs + 4 + text_width(f"H{h}", fs * 0.85, family) + 6
    y = lambda i: top + (i + 0.5) * row  # noqa: E731
    spread = row * 0.6
    for n, h in enumerate(head_list):
        offset = (n / (len(head_list) - 1) - 0.5) * spread if len(head_list) > 1 else 0.0
        for q in range(n_q):
            if focus is not None and start + q != focus:
                continue
            for k in range(n_k):
                w = weights[h, q, k]
                if w < threshold:
                    continue
                fig.items.append(Line(left, y(q) + offset, left + gap_w, y(k) + offset,
                                      HEAD_COLORS[h % len(HEAD_COLORS)], alpha=float(min(1.0, w)), width=1.2))
    for i, label in enumerate(left_labels):
        bold = "bold" if focus is not None and start + i == focus else "normal"
        fig.items.append(Text(left - GAP, y(i), label, fs, colors["text"], ha="right", va="center", weight=bold))
    for i, label in enumerate(right_labels):
        fig.items.append(Text(left + gap_w + GAP, y(i), label, fs, colors["text"], va="center"))
    return fig


def query_key_figure(parts: dict, tokens: list[str], keys: list[str], query: int, *,
                     options: FigureOptions | None = None) -> Figure:
    """The query-key view (``methods.attention_views.query_key`` output): the query vector,
    each readable key's vector and the products q x k x scale per dimension (diverging colours:
    red adds to the score, blue takes away), the score as a signed bar and the weight."""
    o = options or FigureOptions()
    colors = THEMES[o.theme]
    fs, family = float(o.font_size), o.font_family
    key_ids = [int(k) for k in parts["keys"]]
    q_vec = np.asarray(parts["query_vector"], np.float64)
    k_vecs = np.asarray(parts["key_vectors"], np.float64)
    products = np.asarray(parts["products"], np.float64)
    scores = np.asarray(parts["scores"], np.float64)
    weights = np.asarray(parts["weights"], np.float64)
    dim = q_vec.shape[0]
    cell_w = max(0.8, min(3.0, 160.0 / dim))
    row = max(parse_length(o.cell, "cell") * 0.9, fs * 1.3)
    labels = [f"#{k} {display_token(keys[k], 14)}" for k in key_ids]
    query_label = f"query {display_token(tokens[query], 14)}"
    left = PAD + max(text_width(t, fs, family) for t in [*labels, query_label]) + GAP
    block, gap, bar = dim * cell_w, 10.0, 60.0
    top = PAD + (fs * 1.5 + GAP if o.title else 0) + fs * 1.4 + GAP
    x1, x2 = left, left + block + gap
    x3 = x2 + block + gap
    x4 = x3 + bar + gap
    width = x4 + bar + GAP + text_width("0.000", fs, family) + PAD
    height = top + row * (len(key_ids) + 1) + PAD
    fig = Figure(width=width, height=height, font_family=family, theme=o.theme)
    text, muted = colors["text"], colors["muted"]
    if o.title:
        fig.items.append(Text(width / 2, PAD + fs * 1.2, o.title, fs * 1.15, text, ha="center", weight="bold"))
    for x, name in ((x1, "key vector"), (x2, "q \u00d7 k \u00d7 scale"), (x3, "score"), (x4, "weight")):
        fig.items.append(Text(x, top - GAP, name, fs, muted, va="bottom"))
    table = lut("RdBu_r")

    def diverging(values: np.ndarray, extent: float) -> np.ndarray:
        return table[color_index(values / (extent or 1.0) * 0.5 + 0.5, 0.0, 1.0)]

    vec_extent = float(max(np.abs(k_vecs).max(initial=0), np.abs(q_vec).max(initial=0)))
    prod_extent = float(np.abs(products).max(initial=0))
    fig.items.append(Text(left - GAP, top + row / 2, query_label, fs, text, ha="right", va="center", weight="bold"))
    fig.items.append(Image(x1, top, block, row * 0.9, diverging(q_vec, vec_extent)[None]))
    y0 = top + row
    fig.items.append(Image(x1, y0, block, row * len(key_ids), diverging(k_vecs, vec_extent)))
    fig.items.append(Image(x2, y0, block, row * len(key_ids), diverging(products, prod_extent)))
    span = float(max(np.abs(scores).max(initial=0), 1e-6))
    for i, label in enumerate(labels):
        y = y0 + i * row
        fig.items.append(Text(left - GAP, y + row / 2, label, fs, text, ha="right", va="center"))
        w = abs(scores[i]) / span * bar / 2
        fig.items.append(Rect(x3 + bar / 2 - (0 if scores[i] >= 0 else w), y + 1, w, row - 2,
                              fill="#c0392b" if scores[i] >= 0 else "#2e6da4"))
        fig.items.append(Rect(x4, y + 1, weights[i] * bar, row - 2, fill="#7b6fd0"))
        fig.items.append(Text(x4 + bar + GAP, y + row / 2, f"{weights[i]:.3f}", fs, text, va="center"))
    return fig


__all__ = ["grid_figure", "head_view_figure", "query_key_figure", "summary_figure"]
