"""The logit lens as a figure: the layers x positions grid with each cell's top token written in
it and coloured by its probability (0..1 on a sequential map), and under it the chart of the
followed token's probability across layers at the selected position, as js/widgets/logit_lens.ts
draws them."""

from __future__ import annotations

import numpy as np

from ..colors import color_index, lut
from .cells import cell_grid, colorbar, colorbar_width, fit_text, line_chart
from .figure import THEMES, Figure, Rect, Text, parse_length, text_width
from .matrix import GAP, PAD, FigureOptions
from .text import display_token

TARGET_COLOR = "#1976d2"  # the screen's --jp-brand-color1: the followed token's line, the selected column
TOP_COLOR = "#8c8c8c"


def row_label(label: str) -> str:
    """"embed" or "L<layer>", as the view labels its rows."""
    return label if label == "embed" else f"L{label}"


def quoted(token: str, chars: int = 24) -> str:
    return f"\u201c{display_token(token, chars)}\u201d"


def logit_lens_figure(result, *, selected: int | None = None, chart: bool = True, log: bool = False,
                      options: FigureOptions | None = None) -> Figure:
    """``result`` (a :class:`~llmxai_widgets.LogitLensResult`) as the view draws it: rows are its
    layers (the embeddings first), columns its positions; each cell shows the top token and is
    coloured by that token's probability. ``selected``: the token position (an entry of
    ``result.positions``; default the last) whose column is outlined and whose followed token's
    probability across layers is charted under the grid (``chart=False`` leaves the chart out;
    ``log=True`` draws it on a log scale over six decades). ``options``: :class:`FigureOptions`;
    ``cell`` is the cells' height (they are 3.5 times as wide), ``width`` fits the grid."""
    o = options or FigureOptions(colorbar_label="probability of the top token")
    positions = [int(p) for p in result.positions]
    selected = positions[-1] if selected is None else int(selected)
    if selected not in positions:
        shown = f"{positions[0]}-{positions[-1]}" if len(positions) > 1 else str(positions[0])
        raise ValueError(f"selected position {selected} is not in this result (positions {shown}); pick one of "
                         f"them, or compute the lens with positions= that include it")
    col = positions.index(selected)
    colors = THEMES[o.theme]
    fs, family = float(o.font_size), o.font_family
    n_rows, n_cols = len(result.layers), len(positions)
    cell_h = max(parse_length(o.cell, "cell"), fs * 1.5)
    row_labels = [row_label(label) for label in result.labels]
    left = PAD + max(text_width(t, fs, family) for t in row_labels) + GAP
    bar_w = colorbar_width("1", "0", fs, family) if o.colorbar else 0.0
    cell_w = cell_h * 3.5
    if o.width is not None:
        cell_w = (parse_length(o.width) - left - bar_w - 2 * GAP - PAD) / n_cols
        if cell_w < fs * 2:
            raise ValueError(f"width {o.width!r} leaves {cell_w:.1f} pt per position; give a larger width or a "
                             f"result with fewer positions (logit_lens(..., positions=...))")
    title_h = fs * 1.5 + GAP if o.title else 0.0
    top = PAD + title_h + fs * 2.4 + GAP
    grid_w = n_cols * cell_w
    width = left + grid_w + (2 * GAP + bar_w if o.colorbar else 0) + PAD
    chart_h = 130.0 if chart else 0.0
    height = top + n_rows * cell_h + (GAP * 3 + chart_h if chart else 0) + PAD
    fig = Figure(width=width, height=height, font_family=family, theme=o.theme)
    if o.title:
        fig.items.append(Text(PAD, PAD + fs * 1.2, o.title, fs * 1.15, colors["text"], weight="bold"))
    tokens = result.tokens.text
    for j, p in enumerate(positions):  # column headers: the input token (what comes after it is predicted)
        cx = left + (j + 0.5) * cell_w
        fig.items.append(Text(cx, top - GAP - fs * 1.2, f"#{p}", fs * 0.8, colors["muted"], ha="center",
                              va="bottom"))
        fig.items.append(Text(cx, top - GAP, fit_text(display_token(tokens[p]), cell_w - 2, fs, family), fs,
                              colors["text"], ha="center", va="bottom", weight="bold" if j == col else "normal"))
    for i, label in enumerate(row_labels):
        fig.items.append(Text(left - GAP, top + (i + 0.5) * cell_h, label, fs, colors["text"], ha="right",
                              va="center"))
    probs = np.asarray(result.top_probs[:, :, 0], dtype=np.float64)
    rgb = lut(o.colormap)[color_index(probs, 0.0, 1.0)]
    texts = [[display_token(str(t)) for t in row] for row in result.top_text[:, :, 0]]
    cell_grid(fig, x=left, y=top, cell_w=cell_w, cell_h=cell_h, col_x=[j * cell_w for j in range(n_cols)],
              rgb=rgb, texts=texts, size=fs * 0.85)
    fig.items.append(Rect(left + col * cell_w - 1, top - 1, cell_w + 1, n_rows * cell_h + 1, edge=TARGET_COLOR,
                          line_width=1.2))
    if o.colorbar:
        colorbar(fig, x=left + grid_w + 2 * GAP, y=top, height=min(n_rows * cell_h, 160.0), colormap=o.colormap,
                 top="1", bottom="0", label=o.colorbar_label, size=fs)
    if chart:
        target = result.target_text[col]
        title = f"p({quoted(target)}) after #{selected} {quoted(tokens[selected])}, by layer"
        series = [(result.target_probs[:, col], TARGET_COLOR, f"p({quoted(target, 16)})", 1.0),
                  (result.top_probs[:, col, 0], TOP_COLOR, "top token's p", 0.8)]
        line_chart(fig, x=PAD, y=top + n_rows * cell_h + GAP * 3, width=max(grid_w + left - PAD, 260.0),
                   height=chart_h, labels=row_labels, series=series, size=fs, log_decades=6 if log else 0,
                   title=title)
        fig.width = max(fig.width, PAD + max(grid_w + left - PAD, 260.0) + PAD)
    fig.left, fig.top, fig.cell_w, fig.cell_h = left, top, cell_w, cell_h  # where the cells are (tests)
    return fig


__all__ = ["logit_lens_figure", "row_label"]
