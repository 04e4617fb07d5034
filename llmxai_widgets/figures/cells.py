"""Pieces of the "inside the blocks" figures (logit lens, direct logit attribution): a grid of
rectangular cells with text written in them, a vertical colour bar and a small line chart, laid
out in points. The screen twins are js/core/cellgrid.ts and js/core/linechart.ts: the same
colour tables, the same ink rule for text on a coloured cell, the same 1-unit gaps."""

from __future__ import annotations

import math

import numpy as np

from ..colors import lut
from .figure import THEMES, Figure, Image, Line, Rect, Text, text_width

ELLIPSIS = "\u2026"


def hex_color(rgb) -> str:
    r, g, b = (int(c) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def ink(rgb) -> str:
    """Black or white text on a cell of colour ``rgb`` (js/core/cellgrid.ts ``inkFor``)."""
    r, g, b = (int(c) for c in rgb)
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 else "#ffffff"


def fit_text(text: str, width: float, size: float, family: str) -> str:
    """``text`` shortened with "…" until it fits ``width`` points (the screen's ``fitText``)."""
    if width <= 0:
        return ""
    if text_width(text, size, family) <= width:
        return text
    chars = list(text)
    lo, hi = 0, len(chars)
    while lo < hi:  # the longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if text_width("".join(chars[:mid]) + ELLIPSIS, size, family) <= width:
            lo = mid
        else:
            hi = mid - 1
    return "".join(chars[:lo]) + ELLIPSIS if lo else ""


def cell_grid(fig: Figure, *, x: float, y: float, cell_w: float, cell_h: float, col_x: list[float], rgb: np.ndarray,
              texts=None, size: float, bold_cols=()) -> None:
    """Cells ``rgb[row, col]`` at ``(x + col_x[col], y + row * cell_h)``, each ``cell_w`` x
    ``cell_h`` less a gap of 1 pt (the page shows between them, as on screen), with
    ``texts[row][col]`` written in black or white, shortened to fit."""
    rows, cols = rgb.shape[:2]
    for r in range(rows):
        for c in range(cols):
            cx, cy = x + col_x[c], y + r * cell_h
            fig.items.append(Rect(cx, cy, cell_w - 1, cell_h - 1, fill=hex_color(rgb[r, c]), line_width=0))
            if texts is None or not texts[r][c]:
                continue
            label = fit_text(texts[r][c], cell_w - 4, size, fig.font_family)
            fig.items.append(Text(cx + (cell_w - 1) / 2, cy + (cell_h - 1) / 2, label, size, ink(rgb[r, c]),
                                  ha="center", va="center", weight="bold" if c in bold_cols else "normal"))


def colorbar(fig: Figure, *, x: float, y: float, height: float, colormap: str, top: str, bottom: str, label: str,
             size: float) -> float:
    """A vertical colour bar (top = the map's last entry), its end labels and its units written
    upright beside it; returns the width it takes."""
    muted = THEMES[fig.theme]["muted"]
    bar_w = max(6.0, size)
    fig.items.append(Image(x, y, bar_w, height, lut(colormap)[::-1][:, None, :]))
    fig.items.append(Text(x + bar_w + 3, y, top, size * 0.9, muted, va="top"))
    fig.items.append(Text(x + bar_w + 3, y + height, bottom, size * 0.9, muted, va="bottom"))
    ticks_w = max(text_width(top, size * 0.9, fig.font_family), text_width(bottom, size * 0.9, fig.font_family))
    label_x = x + bar_w + 3 + ticks_w + 4 + size * 0.6
    fig.items.append(Text(label_x, y + height / 2, label, size * 0.9, muted, ha="center", va="center", rotation=90))
    return label_x + size * 0.6 - x


def colorbar_width(top: str, bottom: str, size: float, family: str) -> float:
    ticks_w = max(text_width(top, size * 0.9, family), text_width(bottom, size * 0.9, family))
    return max(6.0, size) + 3 + ticks_w + 4 + size * 1.2


def line_chart(fig: Figure, *, x: float, y: float, width: float, height: float, labels: list[str], series,
               size: float, log_decades: int = 0, title: str = "", legend: bool = True) -> None:
    """A chart of ``series`` (``[(values, colour, name, alpha[, dashed])]``, one value per label; by
    default every series after the first is dashed) on a
    y axis from 0 to 1 (or, with ``log_decades``, 10^-decades to 1), as js/core/linechart.ts
    draws it: grid lines at the y ticks, x labels thinned to fit, a legend above (unless
    ``legend=False``: the caller draws one legend for several charts)."""
    colors = THEMES[fig.theme]
    family = fig.font_family
    tick_w = text_width("1e-6" if log_decades else "0.75", size * 0.85, family)
    left = x + tick_w + 6
    top = y + (size * 1.4 if title else 0) + (size * 1.4 if legend else size * 0.6)
    bottom = y + height - size * 1.6
    right = x + width
    if title:
        fig.items.append(Text(x, y + size, title, size, colors["text"], weight="bold"))
    lx = left
    for n, (values, color, name, alpha, *dash) in enumerate(series if legend else []):  # legend
        _segment(fig, lx, top - size * 0.7, lx + 14, top - size * 0.7, color, alpha, dashed=dash[0] if dash else n > 0)
        fig.items.append(Text(lx + 18, top - size * 0.7, name, size * 0.85, colors["muted"], va="center"))
        lx += 18 + text_width(name, size * 0.85, family) + 12

    def ypos(v: float) -> float:
        if log_decades:
            t = (math.log10(max(v, 10.0**-log_decades)) + log_decades) / log_decades
        else:
            t = min(max(v, 0.0), 1.0)
        return bottom - t * (bottom - top)

    ticks = [10.0**-d for d in range(log_decades, -1, -1)] if log_decades else [0, 0.25, 0.5, 0.75, 1.0]
    for v in ticks:
        yy = ypos(v)
        fig.items.append(Line(left, yy, right, yy, colors["muted"], alpha=0.25, width=0.5))
        text = (f"1e-{round(-math.log10(v))}" if v < 1 else "1") if log_decades else f"{v:g}"
        fig.items.append(Text(left - 3, yy, text, size * 0.85, colors["muted"], ha="right", va="center"))
    n = len(labels)
    step = (right - left) / max(1, n - 1)
    xs = [left + i * step for i in range(n)]
    widest = max((text_width(t, size * 0.85, family) for t in labels), default=0.0)
    every = max(1, math.ceil((widest + 4) / max(step, 1e-6)))  # labels thinned so they never touch
    for i, label in enumerate(labels):
        if i % every == 0 or i == n - 1:
            fig.items.append(Text(xs[i], bottom + 3, label, size * 0.85, colors["muted"], ha="center", va="top"))
    for n, (values, color, _name, alpha, *dash) in enumerate(series):
        points = [(xs[i], ypos(float(v))) for i, v in enumerate(values) if np.isfinite(v)]
        for (x1, y1), (x2, y2) in zip(points, points[1:]):
            _segment(fig, x1, y1, x2, y2, color, alpha, dashed=dash[0] if dash else n > 0)
        for px, py in points:
            fig.items.append(Rect(px - 1.2, py - 1.2, 2.4, 2.4, fill=color, line_width=0))


def _segment(fig: Figure, x1: float, y1: float, x2: float, y2: float, color: str, alpha: float, *,
             dashed: bool) -> None:
    """A line, or dashes along it (4 pt on, 3 pt off; the screen's second series is dashed too)."""
    length = math.hypot(x2 - x1, y2 - y1)
    if not dashed or length < 7:
        fig.items.append(Line(x1, y1, x2, y2, color, alpha=alpha, width=1.5))
        return
    t = 0.0
    while t < length:
        a, b = t / length, min(t + 4.0, length) / length
        fig.items.append(Line(x1 + (x2 - x1) * a, y1 + (y2 - y1) * a, x1 + (x2 - x1) * b, y1 + (y2 - y1) * b,
                              color, alpha=alpha, width=1.5))
        t += 7.0
