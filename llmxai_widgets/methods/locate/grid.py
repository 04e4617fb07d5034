"""Batches of patched runs for a grid's cells: one row per (cell, base run).

A cell patches ``donor``'s activation into ``base``: a token of the residual stream after a block,
what the attention or MLP wrote at a token (in a window of blocks for causal tracing), one query
head's output, or one key/value head's keys and values. ``base`` may hold several runs (causal
tracing's noise samples); ``donor`` holds one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ...models.wrapped import LoadedModel
from ..attention import Cancelled
from . import engine


def cell_batch(model: LoadedModel, kind: str, layers: Sequence[int], cells: Sequence[int], base: engine.States,
               donor: engine.States) -> tuple[int, torch.Tensor, list[engine.Patch]]:
    """``(start block, hidden[row, token, d_model], patches)`` for ``cells`` (tokens for
    "residual"/"attention"/"mlp", query heads for "head", key/value heads for "kv") patched at
    ``layers`` (one block, or causal tracing's window). Row ``i * runs + r`` is cell ``i`` on base run ``r``."""
    runs = base.resid.shape[1]
    at = torch.as_tensor(list(cells)).repeat_interleave(runs)
    rows = torch.arange(len(at))
    if kind == "residual":
        (layer,) = layers
        hidden = base.resid[layer + 1].repeat(len(cells), 1, 1)
        hidden[rows, at] = donor.resid[layer + 1][0, at]
        return layer + 1, hidden, []
    hidden = base.resid[layers[0]].repeat(len(cells), 1, 1)
    if kind in ("attention", "mlp"):
        site = donor.site(kind)
        return layers[0], hidden, [engine.Patch(kind, l, rows, site[l][0, at], positions=at) for l in layers]
    (layer,) = layers
    if kind == "head":
        size = donor.z.shape[-1] // model.n_heads
        z = donor.z[layer, 0].reshape(donor.z.shape[2], model.n_heads, size).transpose(0, 1)  # [head, token, dim]
        return layer, hidden, [engine.Patch("head", layer, rows, z[at], index=at)]
    if kind == "kv":
        keys, values = donor.key[layer, 0][at], donor.value[layer, 0][at]
        return layer, hidden, [engine.Patch("kv", layer, rows, (keys, values), index=at)]
    raise ValueError(f"unknown site {kind!r}")


def run_cells(model: LoadedModel, ids: torch.Tensor, kind: str, layers: Sequence[int], cells: Sequence[int],
              base: engine.States, donor: engine.States, read: Callable[[torch.Tensor], torch.Tensor],
              cancelled: Callable[[], bool] | None = None) -> torch.Tensor:
    """``read(logits)`` of every cell, averaged over the base runs: ``[cell]`` float32.

    ``read`` maps last-position logits ``[row, vocab]`` to one value per row. Batches hold at most
    :data:`engine.MAX_BATCH_TOKENS` tokens; ``cancelled()`` is asked before each batch."""
    runs, n_tokens = base.resid.shape[1], len(ids)
    per_batch = max(1, engine.MAX_BATCH_TOKENS // (n_tokens * runs))
    out = torch.empty(len(cells))
    for i in range(0, len(cells), per_batch):
        if cancelled is not None and cancelled():
            raise Cancelled
        chunk = list(cells[i : i + per_batch])
        start, hidden, patches = cell_batch(model, kind, layers, chunk, base, donor)
        with model.lock, torch.inference_mode():
            logits = engine.run_patched(model, ids, start, hidden, patches)
        out[i : i + len(chunk)] = read(logits).reshape(len(chunk), runs).mean(1)
    return out


def cell_logits(model: LoadedModel, ids: torch.Tensor, kind: str, layers: Sequence[int], cell: int,
                base: engine.States, donor: engine.States) -> torch.Tensor:
    """Last-position logits ``[run, vocab]`` of one cell's patched runs (its top tokens, on a click)."""
    start, hidden, patches = cell_batch(model, kind, layers, [cell], base, donor)
    with model.lock, torch.inference_mode():
        return engine.run_patched(model, ids, start, hidden, patches)
