"""The evaluation figure, as js/widgets/evaluation.ts draws it: the faithfulness table of one
target (a row per method, then the random ranking and the leave-one-out oracle), the deletion and
insertion curves side by side under one legend, and the methods' agreement matrix. Method names
and token texts are data: ``Text`` items (the SVG writer escapes them)."""

from __future__ import annotations

import math

from .cells import _segment, fit_text, ink, line_chart
from .figure import THEMES, Figure, Rect, Text, parse_length, text_width, wrap
from .matrix import GAP, PAD, FigureOptions
from .text import display_token

METHOD_COLORS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442")
"""Okabe & Ito's colour-blind-safe palette, one per method (js/core/evaluation.ts COLORS)."""
RANDOM_COLOR = "#8c8c8c"
ORACLE_COLOR = "#7b3294"
COLUMNS = (("aopc_comprehensiveness", "AOPC|comp. \u2191"), ("aopc_sufficiency", "AOPC|suff. \u2193"),
           ("deletion_auc", "deletion|AUC \u2193"), ("insertion_auc", "insertion|AUC \u2191"))
"""(key, header): the header's two lines split at "|" (js/core/evaluation.ts COLUMNS)."""
MEASURE_NAMES = {"spearman": "Spearman's \u03c1", "kendall": "Kendall's \u03c4-b", "top_k": "top-{k} overlap"}


def rankings(evaluations: list[dict], target: int) -> list[tuple[str, dict, str, bool]]:
    """``[(name, ranking json, colour, dashed)]`` for ``target``: each method, then random and
    the leave-one-out oracle (from whichever evaluation holds them)."""
    out = []
    for m, ev in enumerate(evaluations):
        out.append((ev["method"].replace("_", " "), ev["targets"][target]["explanation"],
                    METHOD_COLORS[m % len(METHOD_COLORS)], False))
    for key, name, color in (("random", "random ranking", RANDOM_COLOR), ("loo", "leave-one-out (oracle)", ORACLE_COLOR)):
        found = next((ev["targets"][target][key] for ev in evaluations if ev["targets"][target].get(key)), None)
        if found is not None:
            out.append((name, found, color, True))
    return out


def _value(v) -> str:
    return "\u2013" if v is None else f"{v:.3f}"


def evaluation_figure(evaluations: list[dict], agreement: dict, *, target: int = 0, measure: str = "spearman",
                      plausibility: list | None = None, model_name: str = "",
                      options: FigureOptions | None = None) -> Figure:
    """A :class:`Figure` of ``EvaluationView``'s data (``FaithfulnessResult.to_json()`` per
    method, ``agreement_json``), for target ``target``."""
    o = options or FigureOptions()
    colors, fs, family = THEMES[o.theme], float(o.font_size), o.font_family
    width = parse_length(o.width) if o.width is not None else 6.5 * 72
    inner = width - 2 * PAD - 8
    fig = Figure(width=width, height=0, font_family=family, theme=o.theme)
    first = evaluations[0]
    entry = first["targets"][target]
    y = PAD
    if o.title:
        fig.items.append(Text(PAD, y + fs * 1.2, o.title, fs * 1.15, colors["text"], weight="bold"))
        y += fs * 1.5 + GAP
    bins = ", ".join(f"{b * 100:g}%" for b in first["bins"])
    how = "removed" if first["mode"] == "remove" else f"replaced by {first['replacement']!r}"
    head = (f"Faithfulness on {model_name}: target {display_token(entry['text'], 30)!r} (p = {entry['full']:.3f}); "
            f"{len(entry['positions'])} tokens {how}; AOPC over bins {bins} ({first['bins_name']}).")
    for line in wrap(head, inner, fs * 0.9, family):
        fig.items.append(Text(PAD, y + fs, line, fs * 0.9, colors["muted"]))
        y += fs * 1.3
    y = _table(fig, evaluations, target, plausibility, y + GAP, inner, o)
    y = _curves(fig, evaluations, target, y + GAP * 2, inner, o)
    if agreement:
        y = _matrix(fig, agreement, measure, y + GAP * 2, inner, o)
    fig.height = y + PAD
    return fig


def _table(fig: Figure, evaluations, target: int, plausibility, y: float, width: float, o: FigureOptions) -> float:
    colors, fs, family = THEMES[o.theme], float(o.font_size), o.font_family
    columns = list(COLUMNS)
    plaus = bool(plausibility)
    if plaus:
        columns += [("token_f1", "token|F1"), ("auprc", "|AUPRC")]
    rows = rankings(evaluations, target)
    name_w = max(text_width(r[0], fs, family) for r in rows) + 24
    col_w = min((width - name_w) / len(columns), 80.0)
    x0 = PAD
    for c, (_, label) in enumerate(columns):
        for k, part in enumerate(label.split("|")):
            fig.items.append(Text(x0 + name_w + (c + 1) * col_w - 4, y + fs * (1 + 1.15 * k),
                                  fit_text(part, col_w - 6, fs * 0.85, family), fs * 0.85, colors["muted"], ha="right"))
    y += fs * 2.6
    for r, (name, ranking, color, dashed) in enumerate(rows):
        _segment(fig, x0, y + fs * 0.6, x0 + 14, y + fs * 0.6, color, 1.0, dashed=dashed)
        fig.items.append(Text(x0 + 20, y + fs * 0.6, name, fs, colors["text"], va="center"))
        for c, (key, _) in enumerate(columns):
            if key in ("token_f1", "auprc"):
                value = plausibility[r][target][key] if r < len(plausibility) else None
            else:
                value = ranking.get(key)
            fig.items.append(Text(x0 + name_w + (c + 1) * col_w - 4, y + fs * 0.6, _value(value), fs, colors["text"],
                                  ha="right", va="center"))
        y += fs * 1.5
    note = ("\u2191 higher is more faithful, \u2193 lower is. Comprehensiveness: the drop in the target's probability "
            "when the top tokens are removed; sufficiency: the drop when only they are kept (ERASER, DeYoung et al. "
            "2020); deletion/insertion: the probability as the top tokens are removed / put back (Petsiuk et al. 2018).")
    if plaus:
        note += " Token F1 and AUPRC: agreement with the person's rationale."
    for line in wrap(note, width, fs * 0.8, family):
        fig.items.append(Text(PAD, y + fs * 0.9, line, fs * 0.8, colors["muted"]))
        y += fs * 1.2
    return y


def _curves(fig: Figure, evaluations, target: int, y: float, width: float, o: FigureOptions) -> float:
    colors, fs, family = THEMES[o.theme], float(o.font_size), o.font_family
    rows = rankings(evaluations, target)
    lx = PAD  # one legend for both charts, wrapped to the width
    for name, _, color, dashed in rows:
        w = 20 + text_width(name, fs * 0.85, family) + 12
        if lx + w > PAD + width and lx > PAD:
            lx, y = PAD, y + fs * 1.3
        _segment(fig, lx, y + fs * 0.6, lx + 14, y + fs * 0.6, color, 1.0, dashed=dashed)
        fig.items.append(Text(lx + 18, y + fs * 0.6, name, fs * 0.85, colors["muted"], va="center"))
        lx += w
    y += fs * 1.6
    chart_w, height = (width - GAP * 2) / 2, 160.0
    for k, (key, title) in enumerate((("deletion", "deletion: top tokens removed \u2192"),
                                      ("insertion", "insertion: top tokens put back \u2192"))):
        n = len(rows[0][1][key]) - 1
        labels = [f"{round(100 * j / max(n, 1))}%" for j in range(n + 1)]
        series = [([float("nan") if v is None else v for v in r[1][key]], r[2], r[0], 1.0, r[3]) for r in rows]
        line_chart(fig, x=PAD + k * (chart_w + GAP * 2), y=y, width=chart_w - 8, height=height, labels=labels,
                   series=series, size=fs, title=title, legend=False)
    y += height + fs * 0.4
    fig.items.append(Text(PAD, y + fs * 0.9, "y: probability of the target; x: share of the tokens, in the ranking's order.",
                          fs * 0.8, colors["muted"]))
    return y + fs * 1.3


def _matrix(fig: Figure, agreement: dict, measure: str, y: float, width: float, o: FigureOptions) -> float:
    colors, fs, family = THEMES[o.theme], float(o.font_size), o.font_family
    names = [m.replace("_", " ") for m in agreement["methods"]]
    values = agreement[measure]
    title = f"Agreement between methods: {MEASURE_NAMES[measure].format(k=agreement['k'])} (mean over the targets)"
    fig.items.append(Text(PAD, y + fs, title, fs, colors["text"], weight="bold"))
    y += fs * 1.6
    label_w = max(text_width(n, fs * 0.9, family) for n in names) + 10
    cell = max(44.0, min(64.0, (width - label_w) / max(1, len(names))))
    cell_h = fs * 1.9
    for c, name in enumerate(names):
        fig.items.append(Text(PAD + label_w + (c + 0.5) * cell, y + fs * 0.8, fit_text(name, cell - 4, fs * 0.75, family),
                              fs * 0.75, colors["muted"], ha="center"))
    y += fs * 1.3
    for r, name in enumerate(names):
        fig.items.append(Text(PAD, y + cell_h / 2, name, fs * 0.9, colors["text"], va="center"))
        for c in range(len(names)):
            v = values[r][c]
            rgb = _agreement_rgb(v)
            x = PAD + label_w + c * cell
            fig.items.append(Rect(x, y, cell - 2, cell_h - 2, fill="#%02x%02x%02x" % rgb, line_width=0))
            fig.items.append(Text(x + (cell - 2) / 2, y + cell_h / 2 - 1, f"{v:.2f}", fs * 0.85, ink(rgb),
                                  ha="center", va="center"))
        y += cell_h
    return y + GAP


def _agreement_rgb(v: float) -> tuple[int, int, int]:
    """-1 (orange) .. 0 (white) .. 1 (blue): the view's colours (js/core/evaluation.ts agreementRgb)."""
    t = max(-1.0, min(1.0, float(v)))
    end = (0, 114, 178) if t >= 0 else (230, 159, 0)
    a = abs(t)
    return tuple(int(math.floor(255 + (e - 255) * a + 0.5)) for e in end)  # JS Math.round


__all__ = ["METHOD_COLORS", "evaluation_figure", "rankings"]
