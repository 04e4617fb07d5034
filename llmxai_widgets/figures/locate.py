"""Causal tracing and activation patching as a figure, as js/widgets/locate.ts draws them: the
token grids side by side (ROME's layout: one row per token, one column per layer), the head grids
below them (one row per layer, one column per head), one colour bar, a line per run saying what
was compared. Layers whose exact values had not arrived are drawn from the linear estimate and
their column labels start with "≈"."""

from __future__ import annotations

import numpy as np

from ..colors import color_index, lut
from .cells import cell_grid, colorbar, colorbar_width, hex_color
from .figure import THEMES, Figure, Text, parse_length, text_width
from .matrix import GAP, PAD, FigureOptions
from .text import display_token

TOKEN_SITES = ("residual", "mlp", "attention")
LABELS = {"residual": "Residual stream", "mlp": "MLP output", "attention": "Attention output",
          "heads": "Query heads (output)", "kv_heads": "Key/value heads"}


def shown_values(result, site: str, estimate: bool = False) -> np.ndarray:
    """``[layer, column]``: the exact values where a layer is done, the estimate elsewhere
    (everywhere with ``estimate``); what the view and the figure colour."""
    exact, guess = np.asarray(result.scores[site], np.float64), np.asarray(result.estimate[site], np.float64)
    if estimate:
        return guess
    done = np.asarray(result.done, bool)[:, None]
    return np.where(done, exact, guess)


def layer_labels(n_layers: int, done, every: int = 5) -> list[str]:
    """Column labels: every ``every``-th layer and the last ("≈" where the layer is estimated)."""
    labels = []
    for layer in range(n_layers):
        show = layer % every == 0 or layer == n_layers - 1
        labels.append(("" if done[layer] else "\u2248") + str(layer) if show else "")
    return labels


def marked_tokens(result) -> list[int]:
    if hasattr(result, "subject"):
        return list(range(*result.subject))
    return [i for i, (a, b) in enumerate(zip(result.clean.ids, result.corrupt.ids)) if a != b]


def _rgb(values: np.ndarray, vmin: float, vmax: float, colormap: str, theme: str) -> np.ndarray:
    rgb = lut(colormap)[color_index(np.nan_to_num(values, nan=vmin), vmin, vmax)].copy()
    rgb[np.isnan(values)] = THEMES[theme]["masked"]
    return rgb


def locate_figure(result, *, estimate: bool = False, sites=None, vmin: float | None = None, vmax: float | None = None,
                  options: FigureOptions | None = None) -> Figure:
    """``result`` (:class:`~llmxai_widgets.CausalTraceResult` or
    :class:`~llmxai_widgets.PatchingResult`) as the view draws it. ``sites``: the grids to draw
    (default all); ``vmin``/``vmax``: the colour scale (default: 0..clean probability for a
    trace, -1..1 for patching). ``options``: :class:`FigureOptions` (``cell``: a cell's height)."""
    o = options or FigureOptions()
    trace = hasattr(result, "subject")
    if vmin is None or vmax is None:
        vmin, vmax = (0.0, float(result.clean_prob)) if trace else (-1.0, 1.0)
    sites = [s for s in result.scores if sites is None or s in sites]
    if not sites:
        raise ValueError(f"sites must be some of {', '.join(result.scores)}")
    colors = THEMES[o.theme]
    fs, family = float(o.font_size), o.font_family
    cell_h = max(parse_length(o.cell, "cell"), fs * 1.3)
    cell_w = max(cell_h * 0.75, fs * 0.9)
    tokens = result.tokens if trace else result.clean
    marked = set(marked_tokens(result))
    names = [("*" if i in marked else "") + display_token(t, o.label_chars) for i, t in enumerate(tokens.text)]
    token_sites = [s for s in sites if s in TOKEN_SITES]
    head_sites = [s for s in sites if s not in TOKEN_SITES]
    n_layers = result.n_layers
    bold = 1.12  # bold runs about this much wider than text_width measures at the same size
    left = PAD + max(text_width(t, fs * (bold if i in marked else 1.0), family) for i, t in enumerate(names)) + GAP
    panel_w = n_layers * cell_w
    # a panel's place is as wide as its title too (a model with few layers has narrow grids)
    stride = max([panel_w, *(text_width(LABELS[s], fs * bold, family) for s in sites if s in TOKEN_SITES)])
    ticks = (f"{vmax:.3g}", f"{vmin:.3g}")
    bar_w = colorbar_width(*ticks, fs, family) if o.colorbar else 0.0
    lines = _summary(result)
    title_h = fs * 1.5 + GAP if o.title else 0.0
    top = PAD + title_h + len(lines) * fs * 1.4 + GAP + fs * 2.6
    gap = fs * 1.5
    width_tokens = left + len(token_sites) * (stride + gap)
    head_left = PAD + text_width("L00", fs, family) + GAP
    head_stride = {s: max(result.scores[s].shape[1] * cell_h * 1.2, text_width(LABELS[s], fs * bold, family))
                   for s in head_sites}
    head_w = sum(head_stride[s] + gap for s in head_sites)
    width = max(width_tokens + bar_w + GAP, head_left + head_w + (0 if token_sites else bar_w + GAP),
                PAD + max(text_width(t, fs, family) for t in lines)) + PAD
    token_h = len(names) * cell_h if token_sites else 0.0
    head_top = top + token_h + (fs * 3.2 if token_sites else 0.0)
    height = (head_top + n_layers * cell_h if head_sites else top + token_h) + PAD
    fig = Figure(width=width, height=height, font_family=family, theme=o.theme)
    if o.title:
        fig.items.append(Text(PAD, PAD + fs * 1.2, o.title, fs * 1.15, colors["text"], weight="bold"))
    for i, line in enumerate(lines):
        fig.items.append(Text(PAD, PAD + title_h + (i + 1) * fs * 1.4 - fs * 0.3, line, fs,
                              colors["text"] if i == 0 else colors["muted"]))
    cols = layer_labels(n_layers, result.done if not estimate else np.zeros(n_layers, bool))
    for i, site in enumerate(token_sites):
        x = left + i * (stride + gap)
        values = shown_values(result, site, estimate).T  # tokens down, layers across
        _panel(fig, x, top, LABELS[site], cols, [cell_w] * n_layers, cell_w, cell_h, values, vmin, vmax, o)
        if i == 0:
            for r, name in enumerate(names):
                fig.items.append(Text(x - GAP, top + (r + 0.5) * cell_h, name, fs, colors["text"], ha="right",
                                      va="center", weight="bold" if r in marked else "normal"))
    hx = head_left
    for site in head_sites:
        values = shown_values(result, site, estimate)
        n = values.shape[1]
        prefix = "KV" if site == "kv_heads" else "H"
        w = cell_h * 1.2
        _panel(fig, hx, head_top, LABELS[site], [f"{prefix}{h}" for h in range(n)], [w] * n, w, cell_h, values,
               vmin, vmax, o)
        if hx == head_left:
            for layer in range(n_layers):
                label = ("" if result.done[layer] or estimate else "\u2248") + f"L{layer}"
                fig.items.append(Text(hx - GAP, head_top + (layer + 0.5) * cell_h, label, fs * 0.8, colors["text"],
                                      ha="right", va="center"))
        hx += head_stride[site] + gap
    if o.colorbar:
        bar_x = width_tokens if token_sites else hx
        colorbar(fig, x=bar_x, y=top if token_sites else head_top, height=token_h if token_sites
                 else min(n_layers * cell_h, 160.0), colormap=o.colormap, top=ticks[0], bottom=ticks[1],
                 label=o.colorbar_label, size=fs)
    fig.top, fig.left, fig.cell_w, fig.cell_h, fig.head_top, fig.head_left = top, left, cell_w, cell_h, head_top, head_left
    return fig


def _panel(fig, x, y, title, col_labels, widths, cell_w, cell_h, values, vmin, vmax, o) -> None:
    colors = THEMES[o.theme]
    fs = float(o.font_size)
    fig.items.append(Text(x, y - fs * 1.6, title, fs, colors["text"], weight="bold", va="bottom"))
    col_x = list(np.cumsum([0.0, *widths[:-1]]))
    for c, label in enumerate(col_labels):
        if label:
            fig.items.append(Text(x + col_x[c] + cell_w / 2, y - GAP / 2, label, fs * 0.8, colors["muted"], ha="center",
                                  va="bottom"))
    cell_grid(fig, x=x, y=y, cell_w=cell_w, cell_h=cell_h, col_x=col_x,
              rgb=_rgb(values, vmin, vmax, o.colormap, o.theme), size=fs)


def _summary(result) -> list[str]:
    if hasattr(result, "subject"):
        subject = "".join(result.tokens.text[result.subject[0]:result.subject[1]])
        return [f"Causal trace of {display_token(result.target_text)!r}: p = {result.clean_prob:.3f} clean, "
                f"{result.corrupted_prob:.3f} with {display_token(subject, 40)!r} corrupted (* tokens)",
                f"MLP and attention cells restore a window of {result.window} layers; {result.samples} noise samples"]
    a, b = ([display_token(t) for t in result.answers] + [""])[:2]  # as labels show tokens: short, no raw bidi
    what = {"logit_diff": f"logit({a!r}) \u2212 logit({b!r})", "logprob": f"log p({a!r})", "prob": f"p({a!r})"}[result.metric]
    return [f"Activation patching ({result.direction}), {what}: {result.clean_metric:.3f} clean, "
            f"{result.corrupted_metric:.3f} corrupted (* tokens differ)",
            "0 = corrupted run, 1 = clean run"]


__all__ = ["hex_color", "layer_labels", "locate_figure", "shown_values"]
