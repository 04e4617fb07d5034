"""The edit figure: what was edited, the new and old answers' probabilities before and after on
every prompt (a light bar before, a solid bar after), CounterFact's scores, and the greedy
continuations before and after (the screen: js/widgets/edit.ts)."""

from __future__ import annotations

from .cells import fit_text
from .figure import THEMES, Figure, Rect, Text, parse_length, text_width, wrap
from .matrix import GAP, PAD, FigureOptions
from .text import display_token

NEW, OLD = "#c62828", "#1565c0"  # the new answer red, the old one blue (as on screen)
KIND_LABEL = {"prompt": "prompt", "paraphrase": "paraphrase", "neighbour": "neighbour"}
SCORES = (("efficacy", "prompt"), ("generalisation", "paraphrase"), ("specificity", "neighbour"))


def quoted(token: str) -> str:
    return f"\u201c{display_token(token, 24)}\u201d"


def summary(view) -> tuple[str, str]:
    """Two lines: what was edited and where; how the block was chosen and the covariance."""
    return (f"{quoted(view.subject)}: {quoted(view.old_target)} \u2192 {quoted(view.new_target)}, MLP output "
            f"projection of block {view.layer}", f"block: {view.layer_from}; covariance: {view.covariance}")


def score_line(scores: dict) -> str:
    return " \u00b7 ".join(f"{name} {scores[name]:.2f}" for name, _ in SCORES if scores.get(name) is not None)


def edit_figure(view, options: FigureOptions | None = None) -> Figure:
    o = options or FigureOptions()
    colors, fs, family = THEMES[o.theme], float(o.font_size), o.font_family
    width = parse_length(o.width) if o.width is not None else 6.5 * 72
    fig = Figure(width=width, height=0, font_family=family, theme=o.theme)
    text = lambda x, y, s, **kw: fig.items.append(Text(x, y, s, kw.pop("size", fs), kw.pop("color", colors["text"]), **kw))  # noqa: E731
    y = PAD
    if o.title:
        text(PAD, y + fs * 1.2, o.title, size=fs * 1.15, weight="bold")
        y += fs * 1.5 + GAP
    first, second = summary(view)
    text(PAD, y + fs, fit_text(first, width - 2 * PAD, fs * 1.12, family), weight="bold")  # bold: wider than measured
    y += fs * 1.5
    for line in wrap(second, width - 2 * PAD, fs * 0.9, family):
        text(PAD, y + fs * 0.9, line, size=fs * 0.9, color=colors["muted"])
        y += fs * 1.3
    y += fs * 0.5
    bar_w = 70.0
    cols = {"kind": PAD, "prompt": PAD + 58, "new": width - PAD - 2 * (bar_w + 48), "old": width - PAD - (bar_w + 48)}
    text(cols["new"], y + fs, f"p({display_token(view.new_target, 16)})", color=NEW, weight="bold")
    text(cols["old"], y + fs, f"p({display_token(view.old_target, 16)})", color=OLD, weight="bold")
    text(cols["prompt"], y + fs, "before (light) and after (solid) the edit", color=colors["muted"])
    y += fs * 1.6
    row_h = fs * 2.4
    for row in view.rows:
        text(cols["kind"], y + fs, KIND_LABEL.get(row["kind"], row["kind"]), color=colors["muted"])
        text(cols["prompt"], y + fs, fit_text(display_token(row["prompt"], 200), cols["new"] - cols["prompt"] - 8, fs, family))
        for key, color in (("new", NEW), ("old", OLD)):
            x = cols[key]
            before, after = row[f"p_{key}_before"], row[f"p_{key}_after"]
            fig.items.append(Rect(x, y + 1, max(before, 0.0) * bar_w, fs * 0.7, fill=_light(color), line_width=0))
            fig.items.append(Rect(x, y + 2 + fs * 0.75, max(after, 0.0) * bar_w, fs * 0.7, fill=color, line_width=0))
            fig.items.append(Rect(x, y + 1, bar_w, fs * 1.45 + 1, edge=colors["muted"], line_width=0.3))
            text(x + bar_w + 4, y + fs * 0.9, f"{before:.2f}\u2192{after:.2f}", size=fs * 0.9)
        y += row_h
    scores = score_line(view.scores)
    if scores:
        text(PAD, y + fs, scores, weight="bold")
        y += fs * 1.8
    for g in view.generations:
        prompt = fit_text(display_token(g["prompt"], 200), width - 2 * PAD - 60, fs, family)
        text(PAD, y + fs, f"{g['kind']}: {prompt}", color=colors["muted"])
        y += fs * 1.5
        for when, words in (("before", g["before"]), ("after", g["after"])):
            label = f"{when}:"
            text(PAD + 8, y + fs, label, color=colors["muted"])
            shown = fit_text(display_token(" ".join(words.split()), 400), width - 2 * PAD - 16 - text_width("before: ", fs, family),
                             fs, family)
            text(PAD + 12 + text_width("before: ", fs, family), y + fs, shown)
            y += fs * 1.5
        y += GAP
    fig.height = y + PAD
    return fig


def _light(color: str) -> str:
    r, g, b = (int(color[i: i + 2], 16) for i in (1, 3, 5))
    return "#%02x%02x%02x" % tuple(round(c + (255 - c) * 0.6) for c in (r, g, b))


__all__ = ["edit_figure", "score_line", "summary"]
