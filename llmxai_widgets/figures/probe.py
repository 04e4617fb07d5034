"""The probe figure: held-out accuracy, the control task's accuracy, chance and selectivity by
layer (a 0..1 line chart), and for one layer its confusion table and its most confident
mistakes, as js/widgets/probe.ts draws them. Texts and labels are data: they are ``Text`` items,
written as text (the SVG writer escapes them)."""

from __future__ import annotations

import numpy as np

from .cells import fit_text, line_chart
from .figure import THEMES, Figure, Rect, Text, parse_length, text_width, wrap
from .matrix import GAP, PAD, FigureOptions
from .text import display_token

ACCURACY = "#1976d2"  # js/widgets/probe.ts COLORS
CONTROL = "#e65100"
CHANCE = "#8c8c8c"
SELECTIVITY = "#2e7d32"


def layer_label(layer: int) -> str:
    """``L12``, as the view labels its layers."""
    return f"L{layer}"


def probe_series(result, *, short: bool = False) -> list[tuple]:
    """``[(values, colour, name, alpha)]`` for :func:`line_chart`: accuracy, the control task's
    accuracy (with the control task), chance, selectivity; NaN where a layer is not done.
    ``short``: shorter names, for a narrow chart's legend."""
    n = len(result.layers)
    series = [(result.accuracy, ACCURACY, "accuracy" if short else "held-out accuracy", 1.0)]
    if result.control_accuracy is not None:
        series.append((result.control_accuracy, CONTROL, "control" if short else "control task", 1.0))
    series.append((np.full(n, result.chance), CHANCE, "chance" if short else "chance (majority class)", 0.9))
    if result.selectivity is not None:
        series.append((result.selectivity, SELECTIVITY, "selectivity", 1.0))
    return series


def _legend_width(series, size: float, family: str) -> float:
    """What :func:`line_chart`'s one-row legend takes after the tick labels."""
    return text_width("0.75", size * 0.85, family) + 6 + sum(30 + text_width(s[2], size * 0.85, family) for s in series)


def probe_figure(result, *, layer: int | None = None, wrong: int = 8, dataset: str = "",
                 options: FigureOptions | None = None) -> Figure:
    """A :class:`Figure` of a :class:`~llmxai_widgets.ProbeResult` (the layers done so far);
    ``layer``: also that layer's confusion table and its ``wrong`` most confident mistakes."""
    o = options or FigureOptions()
    colors, fs, family = THEMES[o.theme], float(o.font_size), o.font_family
    width = parse_length(o.width) if o.width is not None else 6.5 * 72
    inner = width - 2 * PAD - 8  # a margin: the renderer's text can run a little wider than measured
    fig = Figure(width=width, height=0, font_family=family, theme=o.theme)
    if layer is not None:
        result.row(layer)  # an error naming the layers this result holds, or that it is not done
    y = PAD
    if o.title:
        fig.items.append(Text(PAD, y + fs * 1.2, o.title, fs * 1.15, colors["text"], weight="bold"))
        y += fs * 1.5 + GAP
    classes = " / ".join(display_token(str(c), 20) for c in result.classes)
    source = f" ({dataset})" if dataset else ""
    head = (f"Linear probe on {result.model_name}: {len(result.texts)} texts{source}, classes {classes}; residual "
            f"stream after each block at the {'last token' if result.position == 'last' else 'mean over the tokens'}; "
            f"held out by {result.folds}-fold cross-validation.")
    for line in wrap(head, inner, fs * 0.9, family):
        fig.items.append(Text(PAD, y + fs, line, fs * 0.9, colors["muted"]))
        y += fs * 1.3
    y += GAP
    height, chart_w = 170.0, min(inner - 8, 480.0)  # the last x label stays inside
    series = probe_series(result)
    if _legend_width(series, fs, family) > chart_w:
        series = probe_series(result, short=True)
    line_chart(fig, x=PAD, y=y, width=chart_w, height=height, labels=[layer_label(la) for la in result.layers],
               series=series, size=fs, title="probe accuracy by layer")
    y += height + GAP
    notes = ["Decodable is not used: a layer the probe reads a label from need not be one the model relies on."]
    if result.selectivity is not None:
        notes.append("Selectivity = accuracy \u2212 control-task accuracy (Hewitt & Liang): how much comes from the "
                     "property rather than from memorising word types.")
        if np.nanmin(result.selectivity) < 0:
            notes.append("Selectivity below 0 is drawn at 0.")
    for line in wrap(" ".join(notes), inner, fs * 0.85, family):
        fig.items.append(Text(PAD, y + fs, line, fs * 0.85, colors["muted"]))
        y += fs * 1.25
    if layer is not None:
        y = _confusion(fig, result, layer, y + GAP * 2, inner, o)
        y = _mistakes(fig, result, layer, y + GAP, wrong, inner, o)
    fig.height = y + PAD
    return fig


def _confusion(fig: Figure, result, layer: int, y: float, width: float, o: FigureOptions) -> float:
    """The confusion table at ``layer``: rows the true class, columns the predicted one."""
    colors, fs, family = THEMES[o.theme], float(o.font_size), o.font_family
    row = result.layers.index(layer)
    counts = result.confusion(layer)
    heading = (f"{layer_label(layer)}: held-out accuracy {result.accuracy[row]:.3f}; confusion (rows: true class, "
               f"columns: predicted)")
    for line in wrap(heading, width, fs * 1.05, family):  # bold runs wider than measured at fs
        fig.items.append(Text(PAD, y + fs, line, fs, colors["text"], weight="bold"))
        y += fs * 1.35
    y += fs * 0.25
    names = [display_token(str(c), 18) for c in result.classes]
    label_w = max(text_width(n, fs, family) for n in names) + 10
    cell_w = max(36.0, max(text_width(n, fs * 0.9, family) for n in names) + 8)
    cell_h = fs * 1.7
    for c, name in enumerate(names):  # predicted, across the top
        fig.items.append(Text(PAD + label_w + (c + 0.5) * cell_w, y + fs, name, fs * 0.9, colors["muted"], ha="center"))
    y += fs * 1.4
    top = max(1, int(counts.max()))
    for r, name in enumerate(names):
        fig.items.append(Text(PAD, y + cell_h / 2, name, fs, colors["text"], va="center"))
        for c in range(len(names)):
            x = PAD + label_w + c * cell_w
            share = counts[r, c] / top
            fill = ACCURACY if r == c else CONTROL
            if counts[r, c]:
                fig.items.append(Rect(x, y, cell_w - 1, cell_h - 1, fill=_tint(fill, 0.15 + 0.45 * share, o.theme),
                                      line_width=0))
            fig.items.append(Rect(x, y, cell_w - 1, cell_h - 1, edge=colors["muted"], line_width=0.4))
            fig.items.append(Text(x + (cell_w - 1) / 2, y + (cell_h - 1) / 2, str(int(counts[r, c])), fs, colors["text"],
                                  ha="center", va="center", weight="bold" if r == c else "normal"))
        y += cell_h
    return y


def _mistakes(fig: Figure, result, layer: int, y: float, wrong: int, inner: float, o: FigureOptions) -> float:
    """The first ``wrong`` mistakes at ``layer``: true label -> predicted (probability), the text."""
    colors, fs, family = THEMES[o.theme], float(o.font_size), o.font_family
    mistakes = result.wrong(layer)
    shown = mistakes[: max(0, int(wrong))]
    more = f", the {len(shown)} most confident" if len(shown) < len(mistakes) else ""
    fig.items.append(Text(PAD, y + fs, f"{len(mistakes)} wrong at {layer_label(layer)}{more}:", fs, colors["text"],
                          weight="bold"))
    y += fs * 1.5
    tags = [f"{display_token(str(w['label']), 14)} \u2192 {display_token(str(w['predicted']), 14)} "
            f"({w['probability']:.2f})" for w in shown]
    tag_w = max((text_width(tag, fs * 0.9, family) for tag in tags), default=0.0) + 10
    for w, tag in zip(shown, tags):
        fig.items.append(Text(PAD, y + fs, tag, fs * 0.9, colors["muted"]))
        text = fit_text(display_token(w["text"], 200), inner - tag_w, fs, family)
        fig.items.append(Text(PAD + tag_w, y + fs, text, fs, colors["text"]))
        y += fs * 1.45
    return y


def _tint(color: str, strength: float, theme: str) -> str:
    """``color`` mixed into the page's background (``strength`` 0: background, 1: the colour)."""
    back = THEMES[theme]["background"]
    mix = [round(int(back[i: i + 2], 16) * (1 - strength) + int(color[i: i + 2], 16) * strength) for i in (1, 3, 5)]
    return "#" + "".join(f"{v:02x}" for v in mix)


__all__ = ["layer_label", "probe_figure", "probe_series", "wrap"]
