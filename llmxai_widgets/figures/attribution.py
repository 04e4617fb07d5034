"""Attribution figures: the text heatmap (tokens as coloured boxes, wrapped to the figure's
width, the target outlined) and the target x source matrix, on the diverging scale the view uses
(symmetric around zero: red raised the target, blue lowered it)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..colors import color_index, lut
from .figure import THEMES, Figure, Image, Rect, Text, parse_length, text_width
from .matrix import GAP, PAD, FigureOptions, _signed, matrix_figure
from .text import display_token


def symmetric_max(values) -> float:
    """The end of the diverging colour scale: max |score| over the finite scores (1 if none),
    as js/widgets/attribution.ts computes it."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


def aggregate_row(row, groups: list[int] | None, hidden: list[bool]) -> np.ndarray:
    """A target row's scores at a level: each token gets the sum over its group (``groups``: a
    group id per token; None: tokens themselves), NaN where hidden or unscored (the rule of
    js/widgets/attribution.ts ``aggregateRow``)."""
    row = np.asarray(row, dtype=np.float64)
    keep = np.isfinite(row) & ~np.asarray(hidden, dtype=bool)
    if groups is None:
        return np.where(keep, row, np.nan)
    ids = np.asarray(groups)
    sums = {g: float(row[keep & (ids == g)].sum()) for g in set(ids[keep].tolist())}
    return np.array([sums[g] if k else np.nan for g, k in zip(ids.tolist(), keep)])


def space_before(tokens) -> list[bool]:
    """Whether the source text has whitespace right before each token (its characters start
    after the previous token's end), or the token starts the second text of a pair. Tokens
    without a span (special tokens) get none."""
    out, prev_end, prev_segment = [], None, None
    segments = tokens.segments if tokens.segments is not None else [0] * len(tokens)
    for (start, end), segment in zip(tokens.offsets, segments):
        start, end = int(start), int(end)
        if start < 0 or end <= start:
            out.append(False)
            continue
        out.append(bool(prev_end is not None and (start > prev_end or segment != prev_segment)))
        prev_end, prev_segment = end, segment
    return out


def text_heatmap_figure(tokens: list[str], scores: np.ndarray, *, target: int | None = None, hidden=None,
                        space_before=None, label: str = "score", options: FigureOptions | None = None) -> Figure:
    """``tokens`` as boxes coloured by ``scores`` (NaN: not scored), wrapped to ``width``
    (default 6.5 in), ``target`` outlined; a colour bar from -max|score| to +max|score|.
    ``space_before[j]``: a word space before token ``j`` (tokenizers such as BERT's keep no
    whitespace in their tokens; see :func:`space_before`)."""
    o = options or FigureOptions(colormap="RdBu_r")
    colors = THEMES[o.theme]
    fs, family = float(o.font_size), o.font_family
    scores = np.asarray(scores, dtype=np.float64)
    hidden = hidden if hidden is not None else [False] * len(tokens)
    shown = [j for j in range(len(tokens)) if not hidden[j]]
    vmax = symmetric_max(scores[shown])
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
        elif space_before is not None and space_before[j] and x > PAD:
            x += text_width(" ", fs, family)
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
        lo, hi = _signed(-vmax), _signed(vmax)
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


def attribution_matrix_figure(scores: np.ndarray, tokens: list[str], targets: list[int], *, label: str = "score",
                              rows: tuple[int, int] | None = None, cols: tuple[int, int] | None = None,
                              row_labels: list[str] | None = None, causal: bool = True,
                              options: FigureOptions | None = None) -> Figure:
    """The target x source matrix the view draws under the text: row ``i`` is target token
    ``tokens[targets[i]]``, column ``j`` source token ``tokens[j]``, coloured by ``scores[i, j]``
    on the diverging scale -max|score|..+max|score| of the whole matrix (as on screen, also when
    ``rows``/``cols`` pick a window: ``(start, stop)`` target rows / token columns). Cells at or
    after their target (``causal``) and unscored ones (NaN) are masked. ``row_labels``: the
    targets' text when they are not tokens of the sequence (a classifier's labels, a masked LM's
    predictions). ``label``: the colour bar's units; ``options``: :class:`FigureOptions` (size, font, colour map, title, theme, ...)."""
    o = options or FigureOptions(colormap="RdBu_r")
    if o.log or o.exclude_first:
        raise ValueError("log= and exclude_first= are attention colour scales; attribution scores are signed and "
                         "always use the linear scale symmetric around 0")
    scores = np.array(scores, dtype=np.float64)
    targets = [int(t) for t in targets]
    if scores.shape != (len(targets), len(tokens)):
        raise ValueError(f"scores have shape {scores.shape} but there are {len(targets)} targets x {len(tokens)} tokens")
    if causal:  # a causal target draws on earlier tokens only
        scores[np.arange(len(tokens))[None, :] >= np.array(targets)[:, None]] = np.nan
    vmax = symmetric_max(scores)
    labels = list(row_labels) if row_labels is not None else [tokens[t] for t in targets]
    return matrix_figure(scores, labels, list(tokens), row_range=rows, col_range=cols,
                         vrange=(-vmax, vmax), axes=("targets {}-{}", "sources: tokens {}-{}"),
                         options=replace(o, colorbar_label=label if o.colorbar_label else ""))
