"""The steering figure: the prompt, one row of generated tokens per alpha coloured by where the
model puts each token along the direction (diverging, -scale..+scale), the colour scale, and the
concept's next-token probability by alpha (the screen: js/widgets/steering.ts)."""

from __future__ import annotations

import numpy as np

from .cells import line_chart
from .figure import THEMES, Figure, Text, parse_length, text_width
from .matrix import GAP, PAD, FigureOptions
from .neurons import _bar_row, _fills, token_boxes
from .text import display_token


def alpha_label(alpha: float) -> str:
    """``α = +4``, as the view's column headers write it."""
    return f"\u03b1 = {alpha:+g}" if alpha else "\u03b1 = 0"


def log_decades(probability) -> int:
    """0 (a linear axis from 0 to 1) when the largest probability reaches 0.25, else the decades
    below 1 a log axis needs to show the smallest (2 to 6): js/widgets/steering.ts ``logDecades``."""
    values = [p for p in probability if np.isfinite(p)]
    if not values or max(values) >= 0.25:
        return 0
    return int(min(6, max(2, np.ceil(-np.log10(max(min(values), 1e-6))))))


def steering_figure(result, curve: dict, center: float, scale: float, options: FigureOptions | None = None, *,
                    description: str = "") -> Figure:
    """A :class:`Figure` of a :class:`~llmxai_widgets.methods.use.steering_generate.SteeredGenerations`."""
    o = options or FigureOptions(colormap="RdBu_r")
    colors, fs, family = THEMES[o.theme], float(o.font_size), o.font_family
    width = parse_length(o.width) if o.width is not None else 6.5 * 72
    fig = Figure(width=width, height=0, font_family=family, theme=o.theme)
    y = PAD
    if o.title:
        fig.items.append(Text(PAD, y + fs * 1.2, o.title, fs * 1.15, colors["text"], weight="bold"))
        y += fs * 1.5 + GAP
    if description:
        fig.items.append(Text(PAD, y + fs, f"steering vector: {description}", fs * 0.9, colors["muted"]))
        y += fs * 1.4
    fig.items.append(Text(PAD, y + fs, "prompt:", fs, colors["muted"]))
    label_w = max(text_width(alpha_label(a), fs, family) for a in [*result.alphas, -88.0]) + 8
    shifted = lambda scores: np.clip(np.asarray(scores, np.float64) - center, -scale, scale)  # noqa: E731
    prompt = shifted(result.prompt_scores) if result.prompt_scores else np.full(len(result.prompt), np.nan)
    y = token_boxes(fig, list(result.prompt.text), _fills(prompt, scale, o.colormap), y, x0=PAD + label_w, options=o)
    y += GAP
    for column, alpha in enumerate(result.alphas):
        fig.items.append(Text(PAD, y + fs * 1.1, alpha_label(alpha), fs, colors["text"], weight="bold"))
        values = shifted(result.scores[column])
        tokens = list(result.tokens[column][: len(values)])
        y = token_boxes(fig, tokens, _fills(values, scale, o.colormap), y, x0=PAD + label_w, options=o) + GAP
    middle = "unsteered mean" if center else "between the examples"
    y = _bar_row(fig, y + GAP, scale, f"along the direction at block {result.read_layer} (0 = {middle})", o)
    if curve and curve.get("alphas"):
        words = ", ".join(repr(display_token(c)) for c in result.concept)  # short, no raw bidi or controls
        height = 120.0
        line_chart(fig, x=PAD, y=y, width=min(width - 2 * PAD, 360.0), height=height,
                   labels=[f"{a:g}" for a in curve["alphas"]],
                   series=[(curve["probability"], "#1976d2", f"P({words}) next after the prompt", 1.0)],
                   size=fs, title="concept probability by alpha", log_decades=log_decades(curve["probability"]))
        y += height + GAP
    fig.height = y + PAD
    return fig


__all__ = ["alpha_label", "log_decades", "steering_figure"]
