"""Figures for papers and notebooks: every view's picture as SVG, PDF or PNG, headless.

The screen (canvas, js/) and the files (matplotlib's renderer, here) share what makes the
picture: the colour tables (``colormaps.json``), the colour-scale rules (linear 0..max, first
token left out, log over three decades), the label text (``display_token``), the masked-cell
rule and the key-label angle. See docs/design.md, "Figures".
"""

from __future__ import annotations

from ..methods.attention_views import aggregate as _aggregate
from ..results import AttentionResult
from .figure import FORMATS, Figure, parse_length
from .matrix import FigureOptions, matrix_figure
from .text import display_token


def attention_figure(
    result: AttentionResult,
    layer: int,
    head: int = 0,
    *,
    aggregate: str = "head",
    tokens: tuple[int, int] | None = None,
    rows: tuple[int, int] | None = None,
    cols: tuple[int, int] | None = None,
    weights=None,
    **options,
) -> Figure:
    """The matrix view of ``result`` at ``layer``/``head`` (or an ``aggregate``: "mean", "max",
    "rollout", "flow") as a :class:`Figure` (``.save("fig.pdf")``, ``.svg()``, ``.png()``).

    ``tokens=(start, stop)`` limits queries and keys to a token range (self-attention);
    ``rows``/``cols`` limit them separately. ``options``: see :class:`FigureOptions` (size, font,
    colour map, colour bar, title, rotation, log, exclude_first, theme, dpi).
    """
    o = FigureOptions(**options)
    if weights is None:
        weights = _aggregate(result, layer, aggregate, head)
    if tokens is not None:
        rows = rows or tokens
        cols = cols or tokens
    return matrix_figure(
        weights, list(result.tokens.text), list(result.keys.text), causal=result.causal,
        row_range=rows, col_range=cols, options=o,
    )


def save_attention(result: AttentionResult, path, layer: int, head: int = 0, **kwargs):
    """Write :func:`attention_figure` to ``path`` (.svg, .pdf or .png)."""
    dpi = kwargs.get("dpi", 200)
    return attention_figure(result, layer, head, **kwargs).save(path, dpi=dpi)


__all__ = ["FORMATS", "Figure", "FigureOptions", "attention_figure", "display_token", "matrix_figure",
           "parse_length", "save_attention"]
