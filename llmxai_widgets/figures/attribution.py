"""Attribution figures: the text heatmap (tokens as coloured boxes, wrapped to the figure's
width, the target outlined) and the target x source matrix, on the diverging scale the view uses
(symmetric around zero: red raised the target, blue lowered it)."""

from __future__ import annotations

import numpy as np

from ..colors import color_index, lut
from .figure import THEMES, Figure, Image, Rect, Text, parse_length, text_width
from .matrix import GAP, PAD, FigureOptions, _format
from .text import display_token


def _diverging(values: np.ndarray, vmax: float, colormap: str, masked) -> np.ndarray:
    rgb = lut(colormap)[color_index(np.nan_to_num(values), -vmax, vmax)]
    rgb[np.isnan(values)] = masked
    return rgb


def text_heatmap_figure(tokens: list[str], scores: np.ndarray, *, target: int | None = None, hidden=None,
                        label: str = "score", options: FigureOptions | None = None) -> Figure:
    """``tokens`` as boxes coloured by ``scores`` (NaN: not scored), wrapped to ``width``
    (default 6.5 in), ``target`` outlined; a colour bar from -max|score| to +max|score|."""
    o = options or FigureOptions(colormap="RdBu_r")
    colors = THEMES[o.theme]
    fs, family = float(o.font_size), o.font_family
    scores = np.asarray(scores, dtype=np.float64)
    hidden = hidden if hidden is not None else [False] * len(tokens)
    shown = [j for j in range(len(tokens)) if not hidden[j]]
    finite = [abs(scores[j]) for j in shown if np.isfinite(scores[j])]
    vmax = max(finite) if finite and max(finite) > 0 else 1.0
    width = parse_length(o.width) if o.width is not None else 6.5 * 72
    line_h = fs * 1.9
    top = PAD + (fs * 1.5 + GAP if o.title else 0)
    x, y = PAD, top
    fig = Figure(width=width, height=0, font_family=family, theme=o.theme)
    if o.title:
        fig.items.append(Text(PAD, PAD + fs * 1.2, o.title, fs * 1.15, colors["text"], weight="bold"))
    table = lut(o.colormap)
    boxes = []
    for j in shown:
        text = display_token(tokens[j], o.label_chars).replace("\u2423", " ")
        w = text_width(text, fs, family) + 3
        if x + w > width - PAD and x > PAD:
            x, y = PAD, y + line_h
        value = scores[j]
        if np.isfinite(value) and j != target:
            idx = int(color_index(value, -vmax, vmax))
            r, g, b = (int(c) for c in table[idx])
            fill = f"#{r:02x}{g:02x}{b:02x}"
            ink = "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 else "#ffffff"
        else:
            fill, ink = None, colors["muted"] if j != target else colors["text"]
        boxes.append((j, x, y, w, fill, ink, text))
        x += w + 1
    for j, bx, by, w, fill, ink, text in boxes:
        fig.items.append(Rect(bx, by, w, line_h - 4, fill=fill, edge="#1976d2" if j == target else None,
                              line_width=1.2))
        fig.items.append(Text(bx + 1.5, by + (line_h - 4) / 2, text, fs, ink, va="center",
                              weight="bold" if j == target else "normal"))
    y += line_h + GAP
    if o.colorbar:
        bar_w = min(160.0, width - 2 * PAD - 80)
        lo, hi = f"\u2212{_format(vmax)}", f"+{_format(vmax)}"
        x0 = PAD + text_width(lo, fs * 0.9, family) + 4
        fig.items.append(Text(PAD, y + 4, lo, fs * 0.9, colors["muted"], va="center"))
        fig.items.append(Image(x0, y, bar_w, 8, table[None, :, :]))
        fig.items.append(Text(x0 + bar_w + 4, y + 4, hi, fs * 0.9, colors["muted"], va="center"))
        if o.colorbar_label:
            fig.items.append(Text(x0 + bar_w + 8 + text_width(hi, fs * 0.9, family), y + 4, label, fs * 0.9,
                                  colors["muted"], va="center"))
        y += 8 + GAP
    fig.height = y + PAD
    fig.vmax = vmax
    return fig
