"""What NeuronView puts on the wire, and the rules its screen and its figures share: the colour
scale (a quantile of |activation|), the column order (neuron index, or highest activation first)
and the "top neurons" columns (the union of every token's top-k). The JS twins live in
js/core/neuroncolumns.ts; tests/test_neuron_widget.py checks the two agree."""

from __future__ import annotations

import numpy as np

from ..wire import encode

QUANTIZE = ("float16", "uint8")
SORTS = ("index", "max")


def color_max(values: np.ndarray, clip: float) -> float:
    """End of the symmetric colour scale ``-c..+c``: the ``clip`` quantile of ``|values|``
    (sorted ascending, the entry at ``floor(clip * (n - 1))``, no interpolation; 1 = the maximum).
    SwiGLU neurons have heavy tails (a few fire 100x harder than the rest, mostly at the first
    token), so the default 0.999 keeps the other cells from all looking white. 1 if all zero."""
    flat = np.abs(np.asarray(values, dtype=np.float32)).ravel()
    flat = flat[np.isfinite(flat)]
    if not flat.size:
        return 1.0
    index = min(flat.size - 1, int(np.floor(float(clip) * (flat.size - 1))))
    c = float(np.partition(flat, index)[index])
    return c if c > 0 else 1.0


def column_order(values: np.ndarray, sort: str) -> np.ndarray:
    """Neuron ids in column order: by index, or by their highest activation over the tokens
    (highest first; ties keep the lower id)."""
    n = values.shape[1]
    if sort == "index":
        return np.arange(n)
    if sort == "max":
        return np.argsort(-values.max(axis=0), kind="stable")
    raise ValueError(f"sort must be one of {', '.join(map(repr, SORTS))}, got {sort!r}")


def top_union(top: np.ndarray, k: int, order: np.ndarray) -> np.ndarray:
    """The "top neurons" columns: every neuron among some token's ``k`` most active (``top[token,
    rank]``), in the order of ``order``."""
    chosen = np.zeros(len(order), dtype=bool)
    ids = top[:, : max(1, int(k))]
    chosen[ids[ids >= 0]] = True
    return order[chosen[order]]


def columns_for(mode: str, sort: str, values: np.ndarray, top: np.ndarray, k: int) -> np.ndarray:
    order = column_order(values, sort)
    return top_union(top, k, order) if mode == "top" else order


def aggregate_bins(values: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``values[r, c]`` shrunk to at most ``rows`` x ``cols`` bins, each the value of largest
    magnitude (sign kept) among the cells it covers: the rule the screen uses when more than
    one cell falls on a pixel (js/core/neurongrid.ts), so a lone strong neuron stays visible."""
    out = np.asarray(values, dtype=np.float32)
    for axis, limit in ((0, rows), (1, cols)):
        work = out if axis == 0 else out.T  # bins along the first axis, by slices
        n = work.shape[0]
        if n <= limit:
            continue
        edges = np.floor(np.arange(limit + 1) * (n / limit)).astype(int)
        edges[-1] = n
        merged = np.empty((limit, work.shape[1]), dtype=np.float32)
        for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
            block = work[a:max(b, a + 1)]
            pick = np.argmax(np.where(np.isnan(block), -1.0, np.abs(block)), axis=0)
            merged[i] = block[pick, np.arange(block.shape[1])]
        out = merged if axis == 0 else merged.T
    return out


def neuron_dtype(n_neurons: int) -> type:
    return np.uint16 if n_neurons < 2**16 else np.uint32


def layer_payload(layer: int, values: np.ndarray, top: np.ndarray, quantize: str) -> dict:
    """One layer's slice: ``activations[token, neuron]`` (float16: 3 significant digits; or uint8
    over the slice's min..max), ``top[token, rank]`` (the most active neurons at each token) and
    ``order[column]`` (neuron ids, highest activation first)."""
    if quantize not in QUANTIZE:
        raise ValueError(f"quantize must be one of {', '.join(map(repr, QUANTIZE))}, got {quantize!r}")
    ids = neuron_dtype(values.shape[1])
    return {
        "layer": int(layer),
        "activations": encode(values, quantize=quantize),
        "top": encode(top.astype(ids)),
        "order": encode(column_order(values, "max").astype(ids)),
    }


def examples_payload(found, layer: int, neuron: int) -> dict:
    """Top-activating corpus tokens (:class:`~llmxai_widgets.methods.neurons.TopActivations`):
    windows of token strings plus a wire tensor ``[example, position]`` of the neuron's
    activation (NaN past each window's end)."""
    width = max((len(e.window) for e in found.examples), default=0)
    windows = np.full((len(found.examples), width), np.nan, dtype=np.float32)
    for i, e in enumerate(found.examples):
        windows[i, : len(e.window)] = e.window_activations
    return {
        "layer": int(layer), "neuron": int(neuron), "n_texts": found.n_texts, "texts_done": found.texts_done,
        "complete": bool(found.complete),
        "examples": [{"text": e.text_index, "position": e.position, "activation": e.activation,
                      "window": list(e.window), "center": e.center} for e in found.examples],
        "windows": encode(windows),
    }


def factors_payload(result, layer: int, k: int, n_top: int = 5) -> dict:
    """NMF factors of one layer: ``token_factors[factor, token]`` (uint8 over 0..1: each factor is
    scaled to its own maximum) and each factor's ``n_top`` heaviest neurons."""
    heaviest = np.argsort(-result.neuron_factors, axis=1, kind="stable")[:, :n_top]
    return {
        "layer": int(layer), "k": int(k), "relative_error": float(result.relative_error),
        "token_factors": encode(result.token_factors, quantize="uint8", value_range=(0.0, 1.0)),
        "neurons": [[int(result.neuron_index[c]) for c in row] for row in heaviest],
    }
