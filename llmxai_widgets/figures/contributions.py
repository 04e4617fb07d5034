"""Direct logit attribution as a figure: the layers x [heads..., attention bias, MLP] grid of
what each part wrote into the target's logit (diverging colours symmetric around 0, the value in
each cell), the embeddings and the constant as a strip above it, and the line saying that
everything sums to the model's own logit, as js/widgets/contributions.ts draws them."""

from __future__ import annotations

import numpy as np

from ..colors import color_index, lut
from .cells import cell_grid, colorbar, colorbar_width
from .figure import THEMES, Figure, Rect, Text, parse_length, text_width
from .logit_lens import TARGET_COLOR, quoted
from .matrix import GAP, PAD, FigureOptions, _signed


def format_value(v: float) -> str:
    """A contribution as written in its cell (js/widgets/contributions.ts ``formatValue``)."""
    text = f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
    return "0.00" if text == "-0.00" else text


def column_labels(n_heads: int) -> list[str]:
    return [*(f"H{h}" for h in range(n_heads)), "bias", "MLP"]


def contribution_grid(result) -> np.ndarray:
    """``[layer, column]`` float64: heads, then the attention bias, then the MLP."""
    return np.column_stack([result.heads, result.attention_bias, result.mlp]).astype(np.float64)


def symmetric_extent(result) -> float:
    """The colour scale's end: max |contribution| over every part (1 if all are 0)."""
    values = np.concatenate([contribution_grid(result).ravel(), [result.embed, result.constant]])
    top = float(np.abs(values).max())
    return top if top > 0 else 1.0


def sum_line(result) -> str:
    return (f"logit {result.logit:.3f} = embeddings + heads + attention biases + MLPs + constant "
            f"= {result.total:.3f}")


def contributions_figure(result, *, picked: tuple[int, int] | None = None,
                         options: FigureOptions | None = None) -> Figure:
    """``result`` (a :class:`~llmxai_widgets.ContributionResult`) as the view draws it. ``picked``:
    ``(layer, column)`` of a cell to outline (columns: heads, then "bias", then "MLP").
    ``options``: :class:`FigureOptions` (``cell`` is the cells' height; ``width`` fits the grid)."""
    o = options or FigureOptions(colormap="RdBu_r", colorbar_label="logit contribution")
    colors = THEMES[o.theme]
    fs, family = float(o.font_size), o.font_family
    grid = contribution_grid(result)
    n_layers, n_cols = grid.shape
    n_heads = n_cols - 2
    vmax = symmetric_extent(result)
    cell_h = max(parse_length(o.cell, "cell"), fs * 1.5)
    value_fs = fs * 0.8
    cell_w = max(cell_h * 2.6, text_width("-0.00", value_fs, family) + 6)
    gap = cell_w * 0.3  # the attention bias and the MLP stand apart from the heads
    row_labels = [f"L{layer}" for layer in range(n_layers)]
    left = PAD + max(text_width(t, fs, family) for t in row_labels) + GAP
    ticks = (_signed(vmax), _signed(-vmax))
    bar_w = colorbar_width(*ticks, fs, family) if o.colorbar else 0.0
    if o.width is not None:
        cell_w = (parse_length(o.width) - left - bar_w - 2 * GAP - PAD) / (n_cols + 0.3)
        gap = cell_w * 0.3
        if cell_w < fs * 2:
            raise ValueError(f"width {o.width!r} leaves {cell_w:.1f} pt per column; give a larger width")
    col_x = [c * cell_w + (gap if c >= n_heads else 0.0) for c in range(n_cols)]
    grid_w = col_x[-1] + cell_w
    lines = [f"Direct logit attribution of {quoted(result.target_text)} after #{result.position} "
             f"{quoted(result.tokens.text[result.position])}", sum_line(result)]
    title_h = fs * 1.5 + GAP if o.title else 0.0
    caption_top = PAD + title_h
    strip_top = caption_top + len(lines) * fs * 1.4 + GAP + fs * 1.2
    top = strip_top + cell_h + GAP * 2 + fs * 1.2
    caption_w = max(text_width(t, fs, family) for t in lines)
    width = max(left + grid_w + (2 * GAP + bar_w if o.colorbar else 0) + PAD, PAD + caption_w + PAD)
    height = top + n_layers * cell_h + PAD
    fig = Figure(width=width, height=height, font_family=family, theme=o.theme)
    table = lut(o.colormap)
    if o.title:
        fig.items.append(Text(PAD, PAD + fs * 1.2, o.title, fs * 1.15, colors["text"], weight="bold"))
    for i, line in enumerate(lines):
        fig.items.append(Text(PAD, caption_top + (i + 1) * fs * 1.4 - fs * 0.3, line, fs,
                              colors["text"] if i == 0 else colors["muted"]))
    strip = np.array([[result.embed, result.constant]], dtype=np.float64)
    strip_x = [0.0, cell_w * 1.3]
    for c, name in enumerate(("embed", "constant")):
        fig.items.append(Text(left + strip_x[c] + cell_w / 2, strip_top - GAP, name, fs * 0.9, colors["muted"],
                              ha="center", va="bottom"))
    cell_grid(fig, x=left, y=strip_top, cell_w=cell_w, cell_h=cell_h, col_x=strip_x,
              rgb=table[color_index(strip, -vmax, vmax)], texts=[[format_value(v) for v in strip[0]]],
              size=value_fs)
    for c, name in enumerate(column_labels(n_heads)):
        fig.items.append(Text(left + col_x[c] + cell_w / 2, top - GAP, name, fs, colors["text"], ha="center",
                              va="bottom"))
    for r, label in enumerate(row_labels):
        fig.items.append(Text(left - GAP, top + (r + 0.5) * cell_h, label, fs, colors["text"], ha="right",
                              va="center"))
    cell_grid(fig, x=left, y=top, cell_w=cell_w, cell_h=cell_h, col_x=col_x,
              rgb=table[color_index(grid, -vmax, vmax)],
              texts=[[format_value(v) for v in row] for row in grid], size=value_fs)
    if picked is not None:
        layer, column = (int(v) for v in picked)
        if not (0 <= layer < n_layers and 0 <= column < n_cols):
            raise ValueError(f"picked {picked!r} is outside the {n_layers} layers x {n_cols} columns")
        fig.items.append(Rect(left + col_x[column] - 1, top + layer * cell_h - 1, cell_w + 1, cell_h + 1,
                              edge=TARGET_COLOR, line_width=1.5))
    if o.colorbar:
        colorbar(fig, x=left + grid_w + 2 * GAP, y=top, height=min(n_layers * cell_h, 160.0), colormap=o.colormap,
                 top=ticks[0], bottom=ticks[1], label=o.colorbar_label, size=fs)
    fig.left, fig.top, fig.cell_w, fig.cell_h, fig.col_x = left, top, cell_w, cell_h, col_x  # tests
    fig.strip_top, fig.strip_x, fig.vmax = strip_top, strip_x, vmax
    return fig


__all__ = ["column_labels", "contribution_grid", "contributions_figure", "format_value", "symmetric_extent"]
