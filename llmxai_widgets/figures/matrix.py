"""The attention matrix as a figure: the same picture the matrix view draws (colour tables,
colour scale rules, label text, masked cells, 60-degree key labels), laid out in points."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..colors import color_index, lut
from .figure import THEMES, Figure, Image, Text, parse_length, text_width
from .text import display_token


@dataclass
class FigureOptions:
    """How a figure looks. Lengths: a number of inches or a string with a unit ("3.5in",
    "252pt", "9cm").

    - ``width`` / ``height``: the figure's size; the cells shrink or grow to fit (square cells).
      Without them each cell is ``cell`` (default 12 pt) and the figure takes the size it needs,
      up to ``max_size`` (default 10 in) for the matrix's longer side: long texts get smaller
      cells. Token labels are left out when cells get smaller than the font (as on screen).
    - ``font_family`` (default "DejaVu Sans", shipped with matplotlib, so every machine draws
      the same glyphs), ``font_size`` in points.
    - ``colormap``: "viridis" (default), "cividis", "magma" (sequential, colour-blind safe) or
      "RdBu_r" (diverging); ``colorbar`` and its ``colorbar_label`` (units).
    - ``title``; ``rotation`` of the key labels in degrees (60 like the screen; 90 is upright).
    - ``log``: colour by log10 over three decades below the maximum; ``exclude_first``: leave
      the first token's column out of the colour scale (attention sinks).
    - ``theme``: "light" or "dark"; ``dpi`` for PNG.
    - ``label_chars``: longer tokens are shortened to this many characters with "…", as on
      screen (24); raise it to print long tokens whole.
    """

    width: float | str | None = None
    height: float | str | None = None
    cell: float | str = "12pt"
    font_family: str = "DejaVu Sans"
    font_size: float = 8.0
    colormap: str = "viridis"
    colorbar: bool = True
    colorbar_label: str = "attention weight"
    title: str | None = None
    rotation: float = 60.0
    log: bool = False
    exclude_first: bool = False
    theme: str = "light"
    dpi: float = 200.0
    label_chars: int = 24
    max_size: float | str = "10in"

    def __post_init__(self) -> None:
        lut(self.colormap)  # a clear error naming the valid maps
        if self.theme not in THEMES:
            raise ValueError(f"theme must be one of {', '.join(THEMES)}, got {self.theme!r}")
        if not (isinstance(self.font_size, (int, float)) and self.font_size > 0):
            raise ValueError(f"font_size must be a positive number of points, got {self.font_size!r}")
        if not 0 <= float(self.rotation) <= 90:
            raise ValueError(f"rotation must be between 0 and 90 degrees, got {self.rotation!r}")
        if isinstance(self.label_chars, bool) or not isinstance(self.label_chars, int) or self.label_chars < 2:
            raise ValueError(f"label_chars must be an integer of at least 2, got {self.label_chars!r}")
        if not (isinstance(self.dpi, (int, float)) and self.dpi > 0):
            raise ValueError(f"dpi must be positive, got {self.dpi!r}")


PAD = 4.0
GAP = 4.0
DECADES = 3


def color_scale(values: np.ndarray, *, log: bool, exclude_first: bool, first_key: int = 0) -> tuple[float, float]:
    """(vmin, vmax) of the colour bar for ``values`` ([rows, cols] shown, masked cells NaN) by
    the rules of js/core/scale.ts: linear 0..max (optionally without the first token's column),
    or log10 over three decades below the maximum."""
    region = values[:, 1:] if exclude_first and first_key == 0 and values.shape[1] > 1 else values
    vmax = float(np.nanmax(region)) if np.isfinite(region).any() else 0.0
    if vmax <= 0:
        vmax = 1.0
    if not log:
        return 0.0, vmax
    return 10 ** (math.log10(vmax) - DECADES), vmax


def colors_of(values: np.ndarray, vmin: float, vmax: float, *, log: bool, colormap: str, masked) -> np.ndarray:
    table = lut(colormap)
    if log:
        top = math.log10(vmax)
        with np.errstate(divide="ignore", invalid="ignore"):
            index = np.where(values > 0, color_index(np.log10(np.where(values > 0, values, 1)), top - DECADES, top), 0)
    else:
        index = color_index(np.nan_to_num(values), vmin, vmax)
    rgb = table[index]
    rgb[np.isnan(values)] = masked
    return rgb


def matrix_figure(
    weights: np.ndarray,
    rows: list[str],
    cols: list[str],
    *,
    causal: bool = False,
    row_range: tuple[int, int] | None = None,
    col_range: tuple[int, int] | None = None,
    vrange: tuple[float, float] | None = None,
    axes: tuple[str, str] = ("queries: tokens {}-{}", "keys: tokens {}-{}"),
    options: FigureOptions | None = None,
) -> Figure:
    """A labelled heatmap of ``weights[row, col]`` (rows: query tokens, columns: key tokens),
    limited to ``row_range`` / ``col_range`` (``(start, stop)`` token indices). ``vrange``:
    the colour bar's ends (linear; a signed range such as attribution's ``(-m, m)`` writes
    signed ends), instead of the attention rules of :func:`color_scale`. ``axes``: what the
    axes say when cells are too small for token labels (filled with the first and last index)."""
    o = options or FigureOptions()
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (len(rows), len(cols)):
        raise ValueError(f"weights have shape {weights.shape} but there are {len(rows)} x {len(cols)} tokens")
    r0, r1 = _span(row_range, len(rows), "row_range")
    c0, c1 = _span(col_range, len(cols), "col_range")
    shown = weights[r0:r1, c0:c1].copy()
    if causal:
        q = np.arange(r0, r1)[:, None]
        k = np.arange(c0, c1)[None, :]
        shown[k > q] = np.nan
    colors = THEMES[o.theme]
    log = o.log and vrange is None
    vmin, vmax = color_scale(shown, log=log, exclude_first=o.exclude_first, first_key=c0) if vrange is None else vrange
    rgb = colors_of(shown, vmin, vmax, log=log, colormap=o.colormap, masked=colors["masked"])

    fs, family = float(o.font_size), o.font_family
    n_rows, n_cols = r1 - r0, c1 - c0
    angle = math.radians(o.rotation)
    ticks = [_signed(vmax), _signed(vmin)] if vmin < 0 else [_format(vmax), _format(vmin)]
    bar_w = max(6.0, fs)
    bar_label = o.colorbar_label + (" (log scale)" if log else "") if o.colorbar and o.colorbar_label else ""
    ticks_w = max(text_width(t, fs * 0.9, family) for t in ticks)
    label_w = text_width(bar_label, fs * 0.9, family)
    title_h = fs * 1.5 + GAP if o.title else 0.0

    def bar_block(across: bool) -> float:
        # the colour bar, its end labels and its label: along the bar, or across it (a short bar)
        label = (GAP + label_w if across else fs * 1.3 + GAP) if bar_label else 0.0
        return GAP * 2.5 + bar_w + 3 + ticks_w + label if o.colorbar else 0.0

    def layout(labelled: bool, across: bool):
        rows_l = [display_token(t, o.label_chars) for t in rows[r0:r1]] if labelled else []
        cols_l = [display_token(t, o.label_chars) for t in cols[c0:c1]] if labelled else []
        widest = lambda labels: max((text_width(t, fs, family) for t in labels), default=0.0)  # noqa: E731
        row_w, col_w = widest(rows_l), widest(cols_l)
        # without token labels, one line says which tokens the axes cover
        col_h = col_w * math.sin(angle) + fs * math.cos(angle) if labelled else fs * 1.3
        left = PAD + (row_w if labelled else fs * 1.3) + GAP
        top = PAD + title_h + col_h + GAP
        lean = col_w * math.cos(angle) if labelled else 0.0  # the last key label leans right
        right = max(bar_block(across), lean) + PAD
        cell = parse_length(o.cell, "cell")
        if o.width is not None:
            cell = (parse_length(o.width) - left - right) / n_cols
        elif o.height is None:
            cell = min(cell, parse_length(o.max_size, "max_size") / max(n_rows, n_cols))
        if o.height is not None:
            cell = min(cell, (parse_length(o.height, "height") - top - PAD) / n_rows)
        return rows_l, cols_l, left, top, right, cell

    def fit(across: bool):
        parts = layout(True, across)
        labelled = parts[-1] >= fs * 0.8
        return (parts if labelled else layout(False, across)), labelled

    (row_labels, col_labels, left, top, right, cell), labelled = fit(False)
    bar_h = lambda: max(min(n_rows * cell, 160.0), 40.0)  # noqa: E731  (as tall as the cells, 40-160 pt)
    across = bool(bar_label) and label_w + 2 * GAP > bar_h()  # the label would stick out of a short bar
    if across:
        (row_labels, col_labels, left, top, right, cell), labelled = fit(True)
    if cell <= 0:
        raise ValueError(
            f"the figure is too small for {n_rows} x {n_cols} tokens with {fs:g} pt labels; make it wider, "
            f"use a smaller font_size, or show fewer tokens (row_range/col_range, tokens=)"
        )
    width = parse_length(o.width) if o.width is not None else left + n_cols * cell + right
    height = parse_length(o.height, "height") if o.height is not None else \
        top + max(n_rows * cell, bar_h() if o.colorbar else 0.0) + PAD
    bar_h = min(bar_h(), height - top - PAD)
    fig = Figure(width=width, height=height, font_family=family, theme=o.theme)
    text_color = colors["text"]
    if o.title:
        fig.items.append(Text(left + n_cols * cell / 2, PAD + fs * 1.2, o.title, fs * 1.15, text_color, ha="center",
                              weight="bold"))
    fig.items.append(Image(left, top, n_cols * cell, n_rows * cell, rgb))
    for i, label in enumerate(row_labels):
        fig.items.append(Text(left - GAP, top + (i + 0.5) * cell, label, fs, text_color, ha="right", va="center"))
    for j, label in enumerate(col_labels):
        fig.items.append(Text(left + (j + 0.5) * cell, top - GAP, label, fs, text_color, ha="left", va="center",
                              rotation=o.rotation))
    if not labelled:
        muted = colors["muted"]
        fig.items.append(Text(left, top - GAP, axes[1].format(c0, c1 - 1), fs, muted, va="bottom"))
        fig.items.append(Text(left - GAP, top, axes[0].format(r0, r1 - 1), fs, muted, ha="right", va="bottom",
                              rotation=90))
    if o.colorbar:
        x = left + n_cols * cell + GAP * 2.5
        ramp = lut(o.colormap)[::-1][:, None, :].repeat(1, axis=1)
        fig.items.append(Image(x, top, bar_w, bar_h, ramp))
        fig.items.append(Text(x + bar_w + 3, top, ticks[0], fs * 0.9, colors["muted"], va="top"))
        fig.items.append(Text(x + bar_w + 3, top + bar_h, ticks[1], fs * 0.9, colors["muted"], va="bottom"))
        label_x = x + bar_w + 3 + ticks_w + GAP
        if bar_label and across:
            fig.items.append(Text(label_x, top + bar_h / 2, bar_label, fs * 0.9, colors["muted"], va="center"))
        elif bar_label:
            fig.items.append(Text(label_x + fs * 0.6, top + bar_h / 2, bar_label, fs * 0.9, colors["muted"],
                                  ha="center", va="center", rotation=90))
    fig.cell, fig.left, fig.top = cell, left, top  # where the cells are (tests, pixel checks)
    fig.vmin, fig.vmax = vmin, vmax
    return fig


def _span(span, n: int, what: str) -> tuple[int, int]:
    if span is None:
        return 0, n
    try:
        start, stop = (int(v) for v in span)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be (start, stop) token indices, got {span!r}") from None
    start, stop = max(0, start), min(n, stop)
    if stop <= start:
        raise ValueError(f"{what} {span!r} selects no tokens: the text has {n} tokens, numbered 0-{n - 1}")
    return start, stop


def _format(v: float) -> str:
    # the colour bar's end labels, as js/core/scale.ts formatWeight writes them
    if v == 0:
        return "0"
    return f"{v:.3f}" if v >= 0.01 else f"{v:.1e}".replace("e-0", "e-")


def _signed(v: float) -> str:
    # a signed colour bar's ends, as the attribution view writes them ("\u22120.120", "+0.120")
    return ("+" if v > 0 else "\u2212" if v < 0 else "") + _format(abs(v))
