"""Results: plain dataclasses of numpy arrays and token strings, no widget code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .lazy import LazyArray4
from .models.wrapped import Tokens


class HeadSource(Protocol):
    """Where one layer's weights come from (stored, or recomputed from queries and keys)."""

    nbytes: int

    def weights(self, head: int, kv_head: int) -> np.ndarray: ...


@dataclass
class StoredWeights:
    """A layer's weights as the model returned them: ``weights[head, query, key]``."""

    array: np.ndarray

    def weights(self, head: int, kv_head: int) -> np.ndarray:
        return self.array[head]

    @property
    def nbytes(self) -> int:
        return self.array.nbytes


@dataclass
class AttentionResult:
    """Attention weights of one text, computed per layer and per head on demand.

    - ``head(layer, head)[query, key]``: float32 softmax weights; each row sums to 1 over keys.
    - ``layer(layer)[head, query, key]`` and ``pattern[layer_index, head, query, key]``
      (``pattern`` computes only what is indexed; as a whole it is n_layers x n_heads x T x T
      floats). Row ``i`` of ``pattern`` is model layer ``layers[i]``.
    - ``kv_group[head]``: the key/value head that query head reads (grouped-query attention).
    - ``complete``: False when the computation was cancelled or failed part-way; ``layers`` then
      lists only the layers that finished, and ``failure`` says why when it failed.
    - ``sources[layer]``: what each layer's weights are computed from (queries and keys captured
      during the forward pass, or weights stored by eager attention).
    - ``part``: "self" (a single-stack model), or an encoder-decoder's "encoder", "decoder" or
      "cross" attention. Cross-attention's queries are the decoder's ``tokens`` and its keys the
      encoder's ``key_tokens`` (``keys`` is ``key_tokens`` or, for self-attention, ``tokens``).
    - ``causal``: a query reads only itself and earlier keys (the rest are masked).
    """

    tokens: Tokens
    layers: list[int]
    kv_group: np.ndarray
    model_name: str
    n_model_layers: int
    n_heads: int
    sources: dict[int, HeadSource] = field(repr=False, default_factory=dict)
    complete: bool = True
    failure: str | None = None
    part: str = "self"
    key_tokens: Tokens | None = None
    causal: bool = False

    @property
    def keys(self) -> Tokens:
        """The key tokens (the encoder's for cross-attention, else ``tokens``)."""
        return self.tokens if self.key_tokens is None else self.key_tokens

    def _source(self, layer: int) -> HeadSource:
        if layer not in self.sources:
            raise IndexError(
                f"layer {layer} is not in this result (computed layers: {_ranges(self.layers)}); "
                f"compute it with layers=[{layer}] or layers=None for all"
            )
        return self.sources[layer]

    def head(self, layer: int, head: int) -> np.ndarray:
        """``[query, key]`` weights of one head of model layer ``layer``."""
        source = self._source(layer)
        if not 0 <= head < self.n_heads:
            raise IndexError(
                f"head {head} is out of range: {self.model_name} has {self.n_heads} heads, "
                f"numbered 0-{self.n_heads - 1}"
            )
        return source.weights(head, int(self.kv_group[head]))

    def layer(self, layer: int) -> np.ndarray:
        """``[head, query, key]`` weights of model layer ``layer``."""
        source = self._source(layer)
        if hasattr(source, "all_weights"):
            return source.all_weights(self.kv_group)
        return np.stack([self.head(layer, h) for h in range(self.n_heads)])

    @property
    def pattern(self) -> LazyArray4:
        """``[layer_index, head, query, key]`` for every computed layer, as an array-like that
        computes what is indexed: ``pattern[l, h]`` is one head, ``pattern[l, :, q]`` one
        query's row in every head of a layer; ``np.asarray(pattern)`` (or a reduction such as
        ``pattern.sum(-1)``) computes everything. A request larger than half the free memory is
        refused before allocating, with its size."""
        n, keys = len(self.tokens), len(self.keys)
        return LazyArray4(
            (len(self.layers), self.n_heads, n, keys),
            lambda i, h: self.head(self.layers[i], h),
            block=lambda i: self.layer(self.layers[i]),
            name="pattern",
            cheaper=(f"Index fewer layers and heads (pattern[layer_index, head] is one {n} x {keys} head, "
                     f"result.head(layer, head) the same by model layer), or compute fewer layers: "
                     f"lx.attention(model, text, layers=[...])."),
        )

    @property
    def nbytes(self) -> int:
        """Memory held by the result's sources (not counting weights materialised on access)."""
        seen, total = set(), 0
        for source in self.sources.values():
            if id(source) not in seen:
                seen.add(id(source))
                total += source.nbytes
        return total


def _ranges(values: list[int]) -> str:
    if not values:
        return "none"
    if values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}-{values[-1]}" if len(values) > 1 else str(values[0])
    return ", ".join(map(str, values))
