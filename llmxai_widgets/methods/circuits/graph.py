"""The computation graph of a pre-norm decoder, as circuits see it.

Every block adds to the residual stream; every reader takes the sum of what was added before it.
So the graph has *upstream* nodes (what writes into the residual stream) and *downstream* nodes
(what reads it), and an edge from each writer to each later reader:

- upstream: the input embeddings ("emb"), each attention head's output ("a{L}.h{H}": its slice of
  the output projection), each MLP's output ("m{L}");
- downstream: each query head's query input ("a{L}.h{H}.q"), each key/value head's key and value
  inputs ("a{L}.kv{G}.k", "a{L}.kv{G}.v": a grouped-query model's key/value head is one node, read
  by every query head of its group), each MLP's input ("m{L}") and the logits ("logits").

Head ``H`` of block ``L`` reads what the embeddings and blocks ``0..L-1`` wrote; the MLP of block
``L`` also reads the heads of block ``L``; the logits read everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Graph:
    n_layers: int
    n_heads: int
    n_kv_heads: int

    # -- upstream nodes (writers): emb, then per layer its heads and its MLP ----------------------
    @property
    def n_upstream(self) -> int:
        return 1 + self.n_layers * (self.n_heads + 1)

    def head_out(self, layer: int, head: int) -> int:
        return 1 + layer * (self.n_heads + 1) + head

    def mlp_out(self, layer: int) -> int:
        return 1 + layer * (self.n_heads + 1) + self.n_heads

    def upstream_before(self, layer: int) -> int:
        """Writers that come before block ``layer``'s attention (a prefix of the upstream order)."""
        return 1 + layer * (self.n_heads + 1)

    # -- downstream nodes (readers): per layer q heads, k and v per kv head, MLP; then logits -----
    @property
    def per_layer_in(self) -> int:
        return self.n_heads + 2 * self.n_kv_heads + 1

    @property
    def n_downstream(self) -> int:
        return self.n_layers * self.per_layer_in + 1

    def q_in(self, layer: int, head: int) -> int:
        return layer * self.per_layer_in + head

    def k_in(self, layer: int, group: int) -> int:
        return layer * self.per_layer_in + self.n_heads + group

    def v_in(self, layer: int, group: int) -> int:
        return layer * self.per_layer_in + self.n_heads + self.n_kv_heads + group

    def mlp_in(self, layer: int) -> int:
        return layer * self.per_layer_in + self.per_layer_in - 1

    @property
    def logits_in(self) -> int:
        return self.n_layers * self.per_layer_in

    def attention_inputs(self, layer: int) -> slice:
        """Block ``layer``'s q, k and v inputs (contiguous)."""
        start = layer * self.per_layer_in
        return slice(start, start + self.n_heads + 2 * self.n_kv_heads)

    # -- names and facts ------------------------------------------------------------------------
    def upstream_names(self) -> list[str]:
        names = ["emb"]
        for layer in range(self.n_layers):
            names += [f"a{layer}.h{h}" for h in range(self.n_heads)] + [f"m{layer}"]
        return names

    def downstream_names(self) -> list[str]:
        names = []
        for layer in range(self.n_layers):
            names += [f"a{layer}.h{h}.q" for h in range(self.n_heads)]
            names += [f"a{layer}.kv{g}.k" for g in range(self.n_kv_heads)]
            names += [f"a{layer}.kv{g}.v" for g in range(self.n_kv_heads)]
            names.append(f"m{layer}")
        return names + ["logits"]

    def upstream_layer(self) -> np.ndarray:
        """Block of each writer (-1 for the embeddings)."""
        out = np.full(self.n_upstream, -1, np.int64)
        for layer in range(self.n_layers):
            out[self.head_out(layer, 0) : self.mlp_out(layer) + 1] = layer
        return out

    def downstream_layer(self) -> np.ndarray:
        """Block of each reader (``n_layers`` for the logits)."""
        out = np.repeat(np.arange(self.n_layers), self.per_layer_in)
        return np.append(out, self.n_layers)

    def valid(self) -> np.ndarray:
        """``[upstream, downstream]`` bool: the edges that exist."""
        ul, dl = self.upstream_layer(), self.downstream_layer()
        is_mlp_in = np.zeros(self.n_downstream, bool)
        is_mlp_in[[self.mlp_in(l) for l in range(self.n_layers)]] = True
        is_head_out = np.zeros(self.n_upstream, bool)
        for layer in range(self.n_layers):
            is_head_out[self.head_out(layer, 0) : self.head_out(layer, 0) + self.n_heads] = True
        before = ul[:, None] < dl[None, :]
        same_block = (ul[:, None] == dl[None, :]) & is_head_out[:, None] & is_mlp_in[None, :]
        return before | same_block

    @property
    def n_edges(self) -> int:
        return int(self.valid().sum())
