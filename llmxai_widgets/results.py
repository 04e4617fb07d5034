"""Results: plain dataclasses of numpy arrays and token strings, no widget code."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .models.wrapped import Tokens


@dataclass
class AttentionResult:
    """Attention weights of one text.

    - ``pattern[layer, head, query, key]``: float32 softmax weights; each row sums to 1 over keys.
      Layer ``i`` of the array is model layer ``layers[i]``.
    - ``kv_group[head]``: the key/value head that query head reads (grouped-query attention).
    - ``complete``: False when the computation was cancelled or failed part-way; ``layers`` then
      lists only the layers that finished.
    """

    tokens: Tokens
    pattern: np.ndarray
    layers: list[int]
    kv_group: np.ndarray
    model_name: str
    n_model_layers: int
    complete: bool = True
    failure: str | None = None
    """Why the computation stopped early, when it failed after some layers finished."""

    @property
    def n_heads(self) -> int:
        return int(self.pattern.shape[1])

    def layer(self, layer: int) -> np.ndarray:
        """``[head, query, key]`` weights of model layer ``layer``."""
        if layer not in self.layers:
            raise IndexError(
                f"layer {layer} is not in this result (computed layers: {_ranges(self.layers)}); "
                f"compute it with layers=[{layer}] or layers=None for all"
            )
        return self.pattern[self.layers.index(layer)]


    def head(self, layer: int, head: int) -> np.ndarray:
        """``[query, key]`` weights of one head of model layer ``layer``."""
        if not 0 <= head < self.n_heads:
            raise IndexError(f"head {head} is out of range: {self.model_name} has {self.n_heads} heads, numbered 0-{self.n_heads - 1}")
        return self.layer(layer)[head]


def _ranges(values: list[int]) -> str:
    if not values:
        return "none"
    if values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}-{values[-1]}" if len(values) > 1 else str(values[0])
    return ", ".join(map(str, values))
