"""Batches of patched runs for a grid's cells: one row per (cell, base run).

A cell patches ``donor``'s activation into ``base``: a token of the residual stream after a block,
what the attention or MLP wrote at a token (in a window of blocks for causal tracing), one query
head's output, or one key/value head's keys and values. ``base`` may hold several runs (causal
tracing's noise samples); ``donor`` holds one.

A patch at token ``t`` cannot change tokens before ``t`` (the model is causal), so a batch of
cells at tokens ``t >= p`` reuses ``base``'s keys and values of tokens ``0..p-1`` and computes
only the rest. Token cells are batched in small groups of neighbouring tokens for that reason;
head cells share the prefix the two prompts have in common.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ...models.wrapped import LoadedModel
from ..attention import Cancelled
from . import engine

TOKEN_SITES = ("residual", "attention", "mlp")
GROUP_ROWS = 8
"""Rows per batch of token cells: small groups keep each group's shared prefix long."""


def cell_batch(model: LoadedModel, kind: str, layers: Sequence[int], cells: Sequence[int], base: engine.States,
               donor: engine.States, prefix: int = 0):
    """``(start block, hidden[row, token, d_model], patches, past)`` for ``cells`` (tokens for
    "residual"/"attention"/"mlp", query heads for "head", key/value heads for "kv") patched at
    ``layers`` (one block, or causal tracing's window); tokens before ``prefix`` come from
    ``base``'s cached keys and values (``past``, None when ``prefix`` is 0). Row ``i * runs + r`` is
    cell ``i`` on base run ``r``."""
    runs = base.resid.shape[1]
    at = torch.as_tensor(list(cells)).repeat_interleave(runs)
    rows = torch.arange(len(at))
    past = None
    if prefix:
        of_run = torch.arange(runs).repeat(len(cells))
        past = (base.key[:, of_run, :, :prefix], base.value[:, of_run, :, :prefix])
    tail = slice(prefix, None)
    if kind == "residual":
        (layer,) = layers
        hidden = base.resid[layer + 1][:, tail].repeat(len(cells), 1, 1)
        hidden[rows, at - prefix] = donor.resid[layer + 1][0, at]
        return layer + 1, hidden, [], past
    hidden = base.resid[layers[0]][:, tail].repeat(len(cells), 1, 1)
    if kind in TOKEN_SITES:
        site = donor.site(kind)
        return layers[0], hidden, [engine.Patch(kind, l, rows, site[l][0, at], positions=at - prefix) for l in layers], past
    (layer,) = layers
    if kind == "head":
        size = donor.z.shape[-1] // model.n_heads
        z = donor.z[layer, 0, tail].reshape(hidden.shape[1], model.n_heads, size).transpose(0, 1)  # [head, token, dim]
        return layer, hidden, [engine.Patch("head", layer, rows, z[at], index=at)], past
    if kind == "kv":
        keys, values = donor.key[layer, 0][at], donor.value[layer, 0][at]  # every token: the kernel sees them all
        return layer, hidden, [engine.Patch("kv", layer, rows, (keys, values), index=at)], past
    raise ValueError(f"unknown site {kind!r}")


def _groups(kind: str, cells: list[int], runs: int, n_tokens: int, shared: int, cached: bool) -> list[tuple[list[int], int]]:
    """Batches of cells with the prefix each can reuse."""
    limit = max(1, engine.MAX_BATCH_TOKENS // (n_tokens * runs))
    if kind not in TOKEN_SITES:
        return [(cells[i : i + limit], shared if cached else 0) for i in range(0, len(cells), limit)]
    size = min(limit, max(1, -(-GROUP_ROWS // runs))) if cached else limit
    ordered = sorted(cells)
    return [(ordered[i : i + size], ordered[i] if cached else 0) for i in range(0, len(ordered), size)]


def run_cells(model: LoadedModel, ids: torch.Tensor, kind: str, layers: Sequence[int], cells: Sequence[int],
              base: engine.States, donor: engine.States, read: Callable[[torch.Tensor], torch.Tensor],
              cancelled: Callable[[], bool] | None = None, shared: int = 0,
              keep: Callable[[list[int], torch.Tensor], None] | None = None) -> dict[int, float]:
    """``{cell: read(logits) averaged over the base runs}``.

    ``read`` maps last-position logits ``[row, vocab]`` to one value per row; ``shared``: how many
    leading tokens base and donor have in common (reused by head cells). Batches hold at most
    :data:`engine.MAX_BATCH_TOKENS` tokens; ``cancelled()`` is asked before each batch;
    ``keep(cells, logits)`` sees each batch's logits (:meth:`CellTops.keep`)."""
    runs, n_tokens = base.resid.shape[1], len(ids)
    cached = base.key is not None
    out: dict[int, float] = {}
    for group, prefix in _groups(kind, list(cells), runs, n_tokens, shared, cached):
        if cancelled is not None and cancelled():
            raise Cancelled
        start, hidden, patches, past = cell_batch(model, kind, layers, group, base, donor, prefix)
        with model.lock, torch.inference_mode():
            logits = engine.run_patched(model, ids, start, hidden, patches, past)
        values = read(logits).reshape(len(group), runs).mean(1)
        out.update(zip(group, values.tolist()))
        if keep is not None:
            keep(group, logits)
    return out


def cell_logits(model: LoadedModel, ids: torch.Tensor, kind: str, layers: Sequence[int], cell: int,
                base: engine.States, donor: engine.States) -> torch.Tensor:
    """Last-position logits ``[run, vocab]`` of one cell's patched runs (its top tokens, on a click)."""
    start, hidden, patches, past = cell_batch(model, kind, layers, [cell], base, donor)
    with model.lock, torch.inference_mode():
        return engine.run_patched(model, ids, start, hidden, patches, past)


TOP_K = 5
"""Next tokens kept per cell while a grid runs."""


class CellTops:
    """The :data:`TOP_K` most likely next tokens of each cell's patched run (probabilities averaged
    over the base runs), kept while the grid runs so that a click on a cell, ``cell_top`` and a
    saved page answer without running the cell again. ``ids`` is -1 where no run is kept."""

    def __init__(self, shapes: dict[str, tuple[int, int]], runs: int):
        self.runs = runs
        self.ids = {site: np.full((*shape, TOP_K), -1, np.int64) for site, shape in shapes.items()}
        self.probs = {site: np.zeros((*shape, TOP_K), np.float32) for site, shape in shapes.items()}

    def keep(self, site: str, layer: int, cells: list[int], logits: torch.Tensor) -> None:
        """Store the top tokens of ``logits`` (``[cell * runs + run, vocab]``) for ``cells`` at ``layer``."""
        self._put(site, layer, cells, torch.softmax(logits.float(), -1).reshape(len(cells), self.runs, -1).mean(1))

    def keep_base(self, site: str, cells: list[int], logits: torch.Tensor) -> None:
        """Cells whose run is the base run itself (``logits[run, vocab]``; tokens before the first
        change), at every layer."""
        if cells:
            self._put(site, slice(None), cells, torch.softmax(logits.float(), -1).mean(0, keepdim=True))

    def _put(self, site, layer, cells, probs) -> None:
        values, ids = torch.topk(probs, min(TOP_K, probs.shape[-1]))
        k = ids.shape[-1]
        self.ids[site][layer, cells, :k] = ids.numpy()
        self.probs[site][layer, cells, :k] = values.numpy()

    def get(self, site: str, layer: int, cell: int, k: int) -> list[tuple[int, float]] | None:
        """``[(token id, probability)] * k``, or None when the cell's run is not kept (or k > TOP_K)."""
        ids = self.ids[site][layer, cell]
        if k > TOP_K or ids[0] < 0:
            return None
        return [(int(i), float(p)) for i, p in zip(ids[:k], self.probs[site][layer, cell, :k]) if i >= 0]


SITE_KINDS = {"residual": "residual", "attention": "attention", "mlp": "mlp", "heads": "head", "kv_heads": "kv"}
"""A result's site names -> the kinds of cells above."""


@dataclass
class CellRuns:
    """What it takes to run one cell of a finished grid again (a view's click, ``result.cell_top``):
    the model, the tokens, the base and donor runs' activations, causal tracing's window."""

    model: LoadedModel
    ids: torch.Tensor
    base: engine.States
    donor: engine.States
    window: int | None = None
    tops: CellTops | None = None

    def _check(self, site: str, layer: int, cell: int) -> str:
        """The cell's kind, once ``site``, ``layer`` and ``cell`` are in range."""
        if site not in SITE_KINDS:
            raise ValueError(f"unknown site {site!r}; the sites are {', '.join(SITE_KINDS)}")
        kind = SITE_KINDS[site]
        n_layers = self.model.n_layers
        if not 0 <= layer < n_layers:
            raise IndexError(f"layer {layer} is out of range: the model has {n_layers} layers, numbered 0-{n_layers - 1}")
        count = {"residual": len(self.ids), "attention": len(self.ids), "mlp": len(self.ids),
                 "head": self.model.n_heads, "kv": self.model.n_kv_heads}[kind]
        if not 0 <= cell < count:
            raise IndexError(f"{site} cell {cell} is out of range: there are {count}, numbered 0-{count - 1}")
        return kind

    def logits(self, site: str, layer: int, cell: int) -> torch.Tensor:
        """Last-position logits ``[base run, vocab]`` with the cell patched."""
        kind = self._check(site, layer, cell)
        n_layers = self.model.n_layers
        layers = [layer]
        if self.window is not None and kind in ("attention", "mlp"):
            from .inputs import window_layers

            layers = list(window_layers(layer, self.window, n_layers))
        return cell_logits(self.model, self.ids, kind, layers, cell, self.base, self.donor)

    def top(self, site: str, layer: int, cell: int, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most likely next tokens of the patched run(s) (probabilities averaged over
        the base runs) with their probabilities."""
        self._check(site, layer, cell)
        decode = self.model.tokenizer.decode
        kept = self.tops.get(site, layer, cell, k) if self.tops is not None and site in self.tops.ids else None
        if kept is not None:
            return [(decode([i]), p) for i, p in kept]
        probs = torch.softmax(self.logits(site, layer, cell), -1).mean(0)
        values, ids = torch.topk(probs, k)
        return [(decode([int(i)]), float(v)) for v, i in zip(values, ids)]


class GridResult:
    """What causal tracing's and patching's results share (they keep ``done`` and ``runs``)."""

    done: np.ndarray
    runs: CellRuns | None

    @property
    def n_layers(self) -> int:
        return len(self.done)

    @property
    def exact(self) -> bool:
        """Every row computed exactly (not cancelled, not only the estimate)."""
        return bool(self.done.all())

    def cell_top(self, site: str, layer: int, cell: int, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most likely next tokens (and probabilities) of the run with that cell patched."""
        if self.runs is None:
            raise ValueError("this result keeps no runs to repeat; compute it with llmxai_widgets again")
        return self.runs.top(site, layer, cell, k)
