"""The data each secondary pane of ``AttentionView`` needs, as wire-ready dicts.

Pure functions of an :class:`AttentionResult` (no widget state), so the widget stays a thin layer
of traits and the same payloads can feed exports.
"""

from __future__ import annotations

import numpy as np

from ..methods.attention_views import query_key, thumbnails
from ..methods.head_summary import head_summary, pattern_scores
from ..results import AttentionResult
from ..wire import to_wire

HEAD_VIEW_TOKENS = 96
"""The head view shows at most this many query (and key) tokens at a time."""


def wire_dict(values: np.ndarray, **kwargs) -> dict:
    header, data = to_wire(values, **kwargs)
    return {**header, "data": data}


def head_view_window(result: AttentionResult, layer: int, start: int) -> dict:
    """Every head of ``layer`` over a window of up to 96 query tokens from ``start`` (clamped),
    and the keys they read: the same window for self-attention, or for cross-attention the
    whole source when it fits, else the stretch of source at the same relative place."""
    n, n_keys = len(result.tokens), len(result.keys)
    size = min(n, HEAD_VIEW_TOKENS)
    start = max(0, min(int(start), n - size))
    key_size = min(n_keys, HEAD_VIEW_TOKENS)
    if result.key_tokens is None:
        key_start = start
    else:
        key_start = 0 if n_keys <= key_size else round(start / max(1, n - size) * (n_keys - key_size))
    window = result.layer(layer)[:, start : start + size, key_start : key_start + key_size]
    return {
        "layer": layer, "part": result.part, "start": start, "key_start": key_start,
        **wire_dict(window, quantize="uint8", value_range=(0.0, 1.0)),
    }


def query_key_payload(result: AttentionResult, layer: int, head: int, query: int) -> dict:
    """The query-key view's tensors for one query (-1: the last token)."""
    n = len(result.tokens)
    query = query if query >= 0 else n - 1
    parts = query_key(result, layer, head, query)
    return {
        "layer": layer, "head": head, "query": query, "part": result.part,
        **{name: wire_dict(values) for name, values in parts.items()},
    }


def summary_payload(result: AttentionResult, model=None, tokens=None) -> dict:
    """Per-head scores: with the model (a complete self-attention result), the full head summary
    including induction; otherwise what the weights alone can say."""
    if model is not None and result.complete and result.part == "self":
        hs = head_summary(model, tokens)
        scores = {name: hs.score(name) for name in hs.score_names}
    else:
        scores = pattern_scores(result)
    return {
        "layers": list(result.layers), "names": list(scores), "part": result.part,
        "scores": {name: wire_dict(values) for name, values in scores.items()},
    }


def thumbnail_grid(result: AttentionResult, on_layer=None) -> dict:
    """Thumbnails of every layer and head (``on_layer(layer, wire_header, data)`` as each is done)."""

    def each(layer, thumbs):
        if on_layer is not None:
            header, data = to_wire(thumbs, quantize="uint8", value_range=(0.0, 1.0))
            on_layer(layer, header, data)

    grid = thumbnails(result, on_layer=each)
    return {"layers": list(result.layers), "part": result.part, **wire_dict(grid, quantize="uint8", value_range=(0.0, 1.0))}
