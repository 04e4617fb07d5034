"""Derived attention pictures: head aggregates, attention rollout, thumbnails for the model view."""

from __future__ import annotations

import numpy as np

from ..results import AttentionResult

AGGREGATES = ("head", "mean", "max", "rollout", "flow")
"""What the matrix view can show: one head, the mean or max over a layer's heads, or attention
rollout or attention flow from the first layer up to the chosen one."""


def aggregate(result: AttentionResult, layer: int, how: str, head: int = 0) -> np.ndarray:
    """``[query, key]`` weights: one ``head``, or the ``mean``/``max`` over heads of ``layer``, or
    ``rollout`` or ``flow`` through layers ``0..layer`` (Abnar and Zuidema 2020; flow is slow:
    see ``attention_flow``)."""
    if how == "head":
        return result.head(layer, head)
    if how == "mean":
        return _mean_heads(result, layer)
    if how == "max":
        return result.layer(layer).max(axis=0)
    if how == "rollout":
        return rollout(result, layer)
    if how == "flow":
        from .attention_flow import attention_flow  # imports this module

        _self_attention_only(result, "attention flow")
        return attention_flow(result, layer)
    raise ValueError(f"unknown aggregate {how!r}; choose one of {', '.join(AGGREGATES)}")


def _mean_heads(result: AttentionResult, layer: int) -> np.ndarray:
    # One batched recomputation of the layer (not one per head), summed in float64.
    return result.layer(layer).mean(axis=0, dtype=np.float64).astype(np.float32)


def rollout(result: AttentionResult, upto_layer: int) -> np.ndarray:
    """Attention rollout: ``prod_l (0.5 * mean_heads(A_l) + 0.5 * I)`` (rows renormalised) over
    layers ``0..upto_layer``, the residual connection counted as half of each layer's mixing.
    Row ``q`` says how much token ``q``'s representation after ``upto_layer`` draws on each input
    token. Needs every layer from 0 to ``upto_layer`` in ``result``."""
    _self_attention_only(result, "rollout")
    _check_layers_up_to(result, upto_layer, "rollout")
    n = len(result.tokens)
    eye = np.eye(n)
    joint = eye
    for layer in range(upto_layer + 1):
        mixed = 0.5 * _mean_heads(result, layer).astype(np.float64) + 0.5 * eye
        mixed /= mixed.sum(axis=-1, keepdims=True)
        joint = mixed @ joint
    return joint.astype(np.float32)


def _self_attention_only(result: AttentionResult, what: str) -> None:
    if result.part == "cross":
        raise ValueError(
            f"{what} follows self-attention through the layers; cross-attention has no such chain: "
            "choose a head, mean or max, or part='encoder'/'decoder'"
        )


def _check_layers_up_to(result: AttentionResult, upto_layer: int, what: str) -> None:
    missing = [layer for layer in range(upto_layer + 1) if layer not in result.sources]
    if missing:
        raise ValueError(
            f"{what} to layer {upto_layer} needs layers 0-{upto_layer}; this result lacks {missing[:5]}"
            f"{'...' if len(missing) > 5 else ''}: compute with layers=None"
        )


def thumbnail(weights: np.ndarray, size: int) -> np.ndarray:
    """At most ``[size, size]`` picture of a ``[query, key]`` matrix: the max of each block, so a
    few strong weights in a long input stay visible. Sides shorter than ``size`` are kept."""
    out = weights
    for axis in (0, 1):
        n = out.shape[axis]
        if n > size:
            edges = np.linspace(0, n, size + 1).round().astype(int)
            out = np.maximum.reduceat(out, edges[:-1], axis=axis)
    return out.astype(np.float32, copy=False)


def thumbnails(result: AttentionResult, size: int = 48, on_layer=None, cancelled=lambda: False) -> np.ndarray:
    """``[layer_index, head, s, s]`` thumbnails of every computed layer and head, each scaled to
    its own maximum (shapes, not values, are compared in the model view)."""
    rows, cols = min(len(result.tokens), size), min(len(result.keys), size)
    out = np.zeros((len(result.layers), result.n_heads, rows, cols), np.float32)
    for i, layer in enumerate(result.layers):
        weights = result.layer(layer)
        for h in range(result.n_heads):
            thumb = thumbnail(weights[h], size)
            top = thumb.max()
            out[i, h] = thumb / top if top > 0 else thumb
        if on_layer is not None:
            on_layer(layer, out[i])
        if cancelled():
            break
    return out


def query_key(result: AttentionResult, layer: int, head: int, query: int, max_keys: int = 128) -> dict:
    """What makes up one query's attention scores in one head (bertviz's neuron view, any model).

    Returns ``keys`` (token positions shown, ascending), ``query_vector[dim]``,
    ``key_vectors[key, dim]``, ``products[key, dim] = query_vector * key_vector * scaling``
    (summing a row gives the score), ``scores[key]`` (before softmax, with any position bias) and
    ``weights[key]`` (after softmax). Only keys the query may read are shown; past
    ``max_keys`` of them, the ones with the largest weights.
    """
    source = result._source(layer)
    if not hasattr(source, "query"):
        raise ValueError(
            "the query-key view needs the queries and keys recorded during the forward pass; this "
            "result holds eager weights only (a model type outside attention_capture.CAPTURE_TYPES, "
            "or method='eager')"
        )
    n = len(result.tokens)
    if not 0 <= query < n:
        raise IndexError(f"query {query} is out of range: the text has {n} tokens, numbered 0-{n - 1}")
    weights = result.head(layer, head)[query]
    readable = np.flatnonzero(weights > 0) if source.causal or source.mask is not None else np.arange(len(weights))
    if len(readable) > max_keys:
        readable = np.sort(readable[np.argsort(weights[readable])[-max_keys:]])
    kv = int(result.kv_group[head])
    q_vec = source.query[head, query]
    k_vecs = source.key[kv, readable]
    products = (k_vecs * q_vec) * np.float32(source.scaling)
    scores = products.sum(axis=1)
    if source.bias is not None:
        scores = scores + source.bias[head, query, readable]
    return {
        "keys": readable.astype(np.int64),
        "query_vector": q_vec.astype(np.float32),
        "key_vectors": k_vecs.astype(np.float32),
        "products": products.astype(np.float32),
        "scores": scores.astype(np.float32),
        "weights": weights[readable].astype(np.float32),
    }
