"""NeuronView's figures, drawn as the screen draws them: the token x neuron heatmap (rows and
columns sized apart, as 1,536 neurons need), a neuron's activation over the text (and its
top-activating corpus windows) as coloured tokens, and NMF factors (a factor x token heatmap and
the text coloured by each token's strongest factor, ecco-style)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..colors import color_index, lut
from .attribution import symmetric_max
from .figure import THEMES, Figure, Image, Rect, Text, parse_length, text_width
from .matrix import GAP, PAD, FigureOptions, _format, _signed
from .text import display_token
from .views import HEAD_COLORS


def heatmap_figure(values: np.ndarray, row_labels: list[str], col_labels: list[str], *, vrange: tuple[float, float],
                   axes: tuple[str, str] = ("tokens {}-{}", "columns {}-{}"), first: tuple[int, int] = (0, 0),
                   options: FigureOptions | None = None) -> Figure:
    """A labelled heatmap of ``values[row, col]`` with cells as wide as the figure allows and as
    tall as a label (12 pt by default; shorter when the rows would pass ``max_size``). Labels are
    left out when cells get smaller than the font (``axes`` then says which rows and columns
    are shown, numbered from ``first``); more cells than points are merged, keeping the value of
    largest magnitude (the screen's rule)."""
    from ..widgets.neuron_panes import aggregate_bins

    o = options or FigureOptions(colormap="RdBu_r")
    values = np.asarray(values, dtype=np.float32)
    n_rows, n_cols = values.shape
    if (n_rows, n_cols) != (len(row_labels), len(col_labels)):
        raise ValueError(f"values have shape {values.shape} but there are {len(row_labels)} x {len(col_labels)} labels")
    colors, fs, family = THEMES[o.theme], float(o.font_size), o.font_family
    vmin, vmax = vrange
    cell, limit = parse_length(o.cell, "cell"), parse_length(o.max_size, "max_size")
    row_h = (parse_length(o.height, "height") if o.height is not None else min(n_rows * cell, limit)) / n_rows
    rows_labelled = row_h >= fs * 0.8
    shown_rows = [display_token(t, o.label_chars) for t in row_labels] if rows_labelled else []
    left = PAD + (max(text_width(t, fs, family) for t in shown_rows) if shown_rows else fs * 1.3) + GAP
    ticks = [_signed(vmax), _signed(vmin)] if vmin < 0 else [_format(vmax), _format(vmin)]
    bar_w = max(6.0, fs)
    bar_label = o.colorbar_label if o.colorbar else ""
    right = (GAP * 2.5 + bar_w + 3 + max(text_width(t, fs * 0.9, family) for t in ticks) + GAP
             + (fs * 1.3 if bar_label else 0)) if o.colorbar else 0.0
    right += PAD
    grid_w = (parse_length(o.width) - left - right) if o.width is not None else min(n_cols * cell, limit)
    if grid_w <= 0 or row_h <= 0:
        raise ValueError(f"the figure is too small for {n_rows} x {n_cols} cells; make it larger or show fewer")
    col_w = grid_w / n_cols
    cols_labelled = col_w >= fs * 0.9
    shown_cols = [display_token(t, o.label_chars) for t in col_labels] if cols_labelled else []
    angle = math.radians(o.rotation)
    col_h = (max(text_width(t, fs, family) for t in shown_cols) * math.sin(angle) + fs * math.cos(angle)) \
        if shown_cols else fs * 1.3
    title_h = fs * 1.5 + GAP if o.title else 0.0
    top = PAD + title_h + col_h + GAP
    grid_h = n_rows * row_h
    bar_h = min(max(grid_h, 40.0), 160.0)
    width = left + grid_w + right
    height = top + max(grid_h, bar_h if o.colorbar else 0.0) + PAD
    fig = Figure(width=width, height=height, font_family=family, theme=o.theme)
    text, muted = colors["text"], colors["muted"]
    if o.title:
        fig.items.append(Text(PAD, PAD + fs * 1.2, o.title, fs * 1.15, text, weight="bold"))
    binned = aggregate_bins(values, max(1, int(grid_h)), max(1, int(grid_w)))
    rgb = lut(o.colormap)[color_index(np.nan_to_num(binned), vmin, vmax)]
    rgb[np.isnan(binned)] = colors["masked"]
    fig.items.append(Image(left, top, grid_w, grid_h, rgb))
    for i, label in enumerate(shown_rows):
        fig.items.append(Text(left - GAP, top + (i + 0.5) * row_h, label, fs, text, ha="right", va="center"))
    for j, label in enumerate(shown_cols):
        fig.items.append(Text(left + (j + 0.5) * col_w, top - GAP, label, fs, text, va="center", rotation=o.rotation))
    if not cols_labelled:
        fig.items.append(Text(left, top - GAP, axes[1].format(first[1], first[1] + n_cols - 1), fs, muted, va="bottom"))
    if not rows_labelled:
        fig.items.append(Text(left - GAP, top, axes[0].format(first[0], first[0] + n_rows - 1), fs, muted, ha="right",
                              va="bottom", rotation=90))
    if o.colorbar:
        x = left + grid_w + GAP * 2.5
        fig.items.append(Image(x, top, bar_w, bar_h, lut(o.colormap)[::-1][:, None, :]))
        fig.items.append(Text(x + bar_w + 3, top, ticks[0], fs * 0.9, muted, va="top"))
        fig.items.append(Text(x + bar_w + 3, top + bar_h, ticks[1], fs * 0.9, muted, va="bottom"))
        if bar_label:
            lx = x + bar_w + 3 + max(text_width(t, fs * 0.9, family) for t in ticks) + GAP + fs * 0.6
            fig.items.append(Text(lx, top + bar_h / 2, bar_label, fs * 0.9, muted, ha="center", va="center", rotation=90))
    fig.left, fig.top, fig.row_h, fig.col_w, fig.vmin, fig.vmax = left, top, row_h, col_w, vmin, vmax
    return fig


def _ink(r: int, g: int, b: int) -> str:
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 else "#ffffff"


def token_boxes(fig: Figure, tokens: list[str], fills: list, y: float, *, x0: float = PAD, width: float | None = None,
                outline: int | None = None, space_before=None, options: FigureOptions) -> float:
    """Tokens as boxes (``fills[j]``: an RGB triple or None), wrapped from ``x0`` to ``width``;
    returns the y below the last line. The same boxes as the attribution text heatmap."""
    colors, fs, family = THEMES[options.theme], float(options.font_size), options.font_family
    right = (width or fig.width) - PAD
    line_h = fs * 1.9
    x = x0
    for j, token in enumerate(tokens):
        label = display_token(token, options.label_chars).replace("\u2423", " ")
        w = text_width(label, fs, family) * (1.1 if j == outline else 1.0) + 3  # bold is wider
        if x + w > right and x > x0:
            x, y = x0, y + line_h
        elif space_before is not None and space_before[j] and x > x0:
            x += text_width(" ", fs, family)
        fill = fills[j]
        hexfill = None if fill is None else "#%02x%02x%02x" % tuple(int(c) for c in fill)
        ink = colors["muted"] if fill is None else _ink(*(int(c) for c in fill))
        fig.items.append(Rect(x, y, w, line_h - 4, fill=hexfill, edge="#1976d2" if j == outline else None, line_width=1.2))
        fig.items.append(Text(x + 1.5, y + (line_h - 4) / 2, label, fs, ink, va="center",
                              weight="bold" if j == outline else "normal"))
        x += w + 1
    return y + line_h


def _bar_row(fig: Figure, y: float, vmax: float, label: str, o: FigureOptions) -> float:
    colors, fs, family = THEMES[o.theme], float(o.font_size), o.font_family
    lo, hi = _signed(-vmax), _signed(vmax)
    x0 = PAD + text_width(lo, fs * 0.9, family) + 4
    bar_w = min(160.0, fig.width - 2 * PAD - 80)
    fig.items.append(Text(PAD, y + 4, lo, fs * 0.9, colors["muted"], va="center"))
    fig.items.append(Image(x0, y, bar_w, 8, lut(o.colormap)[None, :, :]))
    fig.items.append(Text(x0 + bar_w + 4, y + 4, hi, fs * 0.9, colors["muted"], va="center"))
    fig.items.append(Text(x0 + bar_w + 8 + text_width(hi, fs * 0.9, family), y + 4, label, fs * 0.9, colors["muted"],
                          va="center"))
    return y + 8 + GAP * 2


def _fills(values, vmax: float, colormap: str) -> list:
    table = lut(colormap)
    return [None if not np.isfinite(v) else table[int(color_index(v, -vmax, vmax))] for v in values]


def neuron_detail_figure(tokens: list[str], values: np.ndarray, *, space_before=None, examples: dict | None = None,
                         options: FigureOptions | None = None) -> Figure:
    """One neuron: its activation at every token (``values[token]``, colours from -max|a| to
    +max|a|, the strongest token outlined) and, with ``examples`` (NeuronView's corpus payload:
    ``examples`` list + ``windows[example, position]``), its top-activating corpus windows on
    their own scale, the firing token outlined."""
    o = options or FigureOptions(colormap="RdBu_r")
    colors, fs = THEMES[o.theme], float(o.font_size)
    width = parse_length(o.width) if o.width is not None else 6.5 * 72
    fig = Figure(width=width, height=0, font_family=o.font_family, theme=o.theme)
    y = PAD
    if o.title:
        fig.items.append(Text(PAD, y + fs * 1.2, o.title, fs * 1.15, colors["text"], weight="bold"))
        y += fs * 1.5 + GAP
    values = np.asarray(values, dtype=np.float64)
    vmax = symmetric_max(values)
    fig.items.append(Text(PAD, y + fs, "On this text", fs, colors["muted"]))
    y = token_boxes(fig, tokens, _fills(values, vmax, o.colormap), y + fs * 1.6, outline=int(np.nanargmax(values)),
                    space_before=space_before, options=o)
    y = _bar_row(fig, y + GAP, vmax, "activation", o)
    fig.vmax = vmax
    if examples:
        from ..wire import decode

        windows = decode(examples["windows"]) if examples["examples"] else np.zeros((0, 0))
        cmax = symmetric_max(windows) if windows.size else 1.0
        found = examples["examples"]
        searched = examples["texts_done"], examples["n_texts"]
        head = f"Where it fires most in the corpus: its top {len(found)} tokens in {searched[1]} texts" + \
            ("" if searched[0] == searched[1] else f" (search stopped after {searched[0]})")
        fig.items.append(Text(PAD, y + fs, head, fs, colors["muted"]))
        y += fs * 1.8
        value_w = max([text_width(f"{e['activation']:.3g}", fs, o.font_family) for e in found] + [0]) + 2 * GAP
        for i, e in enumerate(found):
            n = len(e["window"])
            fig.items.append(Text(PAD, y + fs * 0.95, f"{e['activation']:.3g}", fs, colors["text"], weight="bold"))
            y = token_boxes(fig, e["window"], _fills(windows[i, :n], cmax, o.colormap), y, x0=PAD + value_w,
                            outline=int(e["center"]), options=o)
        if not found:
            fig.items.append(Text(PAD, y + fs, "(no examples yet)", fs, colors["muted"]))
            y += fs * 1.9
        y = _bar_row(fig, y + GAP, cmax, "activation (corpus windows)", o)
        fig.cmax = cmax
    fig.height = y + PAD
    return fig


def blend(color: str, strength: float, background: str) -> tuple[int, int, int]:
    """``color`` over ``background`` at opacity ``strength`` (0..1), as the screen's rgba()."""
    c = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    b = [int(background[i:i + 2], 16) for i in (1, 3, 5)]
    a = min(1.0, max(0.0, float(strength)))
    return tuple(int(round(bb + (cc - bb) * a)) for cc, bb in zip(c, b))


def factors_figure(token_factors: np.ndarray, tokens: list[str], *, neurons: list[list[int]] | None = None,
                   space_before=None, options: FigureOptions | None = None) -> Figure:
    """NMF factors of a layer: ``token_factors[factor, token]`` (0..1, each factor scaled to its
    maximum) as a factor x token heatmap, then the text with each token coloured by its strongest
    factor (opacity: that factor's strength there) and a legend naming each factor's heaviest
    ``neurons``."""
    o = options or FigureOptions(colormap="viridis")
    tf = np.asarray(token_factors, dtype=np.float32)
    k = tf.shape[0]
    rows = [f"F{i}" for i in range(k)]
    grid = heatmap_figure(tf, rows, list(tokens), vrange=(0.0, 1.0), axes=("factors {}-{}", "tokens {}-{}"),
                          options=replace(o, colorbar_label=o.colorbar_label if o.colorbar_label else ""))
    colors, fs = THEMES[o.theme], float(o.font_size)
    width = max(grid.width, parse_length(o.width) if o.width is not None else 6.5 * 72)
    fig = Figure(width=width, height=0, font_family=o.font_family, theme=o.theme, items=list(grid.items))
    y = grid.height + GAP
    fig.items.append(Text(PAD, y + fs, "Each token coloured by its strongest factor (opacity: its strength)", fs,
                          colors["muted"]))
    dominant, strength = tf.argmax(axis=0), tf.max(axis=0)
    fills = [blend(HEAD_COLORS[int(f) % len(HEAD_COLORS)], s, colors["background"]) for f, s in zip(dominant, strength)]
    y = token_boxes(fig, list(tokens), fills, y + fs * 1.6, space_before=space_before, options=replace(o, width=None))
    x = PAD
    for i in range(k):
        label = f"F{i}" + (f": neurons {', '.join(map(str, neurons[i][:3]))}" if neurons else "")
        w = text_width(label, fs * 0.9, o.font_family) + fs + 10
        if x + w > width - PAD and x > PAD:
            x, y = PAD, y + fs * 1.6
        fig.items.append(Rect(x, y + 2, fs * 0.8, fs * 0.8, fill=HEAD_COLORS[i % len(HEAD_COLORS)]))
        fig.items.append(Text(x + fs, y + 2 + fs * 0.4, label, fs * 0.9, colors["muted"], va="center"))
        x += w
    fig.height = y + fs * 1.6 + PAD
    fig.grid = grid
    return fig


__all__ = ["blend", "factors_figure", "heatmap_figure", "neuron_detail_figure", "token_boxes"]
