"""Exact runs with edges corrupted: the clean run, except that some readers see, for some
writers, the writer's output from the corrupted run instead of its output in this run.

Reader ``d`` of a run gets ``x - sum over its missing edges (u -> d) of (out_u - corrupted out_u)``
where ``x`` is the residual stream it would read and ``out_u`` is what writer ``u`` added in this
run (which may itself have changed, downstream of another corrupted edge). Everything else runs as
the model runs it. One row of a batch per set of kept edges: one edge left out (an edge's exact
score), or everything outside a circuit (faithfulness).

Rows start at the lowest block any of their missing edges reads (blocks below are the clean run,
passed through as in :mod:`~llmxai_widgets.methods.locate.engine`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np
import torch

from ..attention import Cancelled
from ...hooks import first_of, hooked, replace_first, skipping, with_output
from ..locate.engine import MAX_BATCH_TOKENS
from .gradients import run
from .graph import Graph
from .parts import CircuitParts

MAX_BATCH_BYTES = 256 * 2**20
"""Bound on the writers' outputs a batch keeps (rows x writers x tokens x d_model float32)."""


@dataclass
class PairRuns:
    """One prompt pair, run once each: the clean tokens, the clean residual stream at each block's
    input, both runs' writer outputs, their metric values."""

    ids: torch.Tensor  # [token]
    resid: torch.Tensor  # [layer + 1, token, d_model] of the clean run
    clean_out: torch.Tensor  # [upstream, token, d_model]
    corrupt_out: torch.Tensor
    metric: Callable[[torch.Tensor], torch.Tensor]  # logits [row, vocab] -> [row]
    clean_metric: float
    corrupt_metric: float


def run_masked(parts: CircuitParts, graph: Graph, pair: PairRuns, missing: torch.Tensor,
               at: torch.Tensor | None = None) -> torch.Tensor:
    """Metric ``[row]`` of runs of the clean prompt with ``missing[row, upstream, downstream]``
    (bool, existing edges only) corrupted; ``at[row, token]`` (0/1, default all 1) limits that
    to some tokens (the writer's output at the others stays this run's)."""
    rows = missing.shape[0]
    writers = torch.nonzero(missing.any(0).any(1)).flatten()
    if len(writers) == 0:
        return torch.full((rows,), pair.clean_metric)
    miss = missing[:, writers].float()  # [row, writer, reader]
    read_layers = graph.downstream_layer()[missing.any(0).any(0).numpy()]
    start = int(read_layers.min())
    device = parts.model.device
    current = pair.clean_out[writers].to(device).expand(rows, -1, -1, -1).clone()  # filled in as the run goes
    corrupt = pair.corrupt_out[writers].to(device)
    at = None if at is None else at.to(device)[:, None, :, None]
    slot = {int(u): i for i, u in enumerate(writers)}
    block_in: dict[int, torch.Tensor] = {}
    normed: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def correction(readers: slice | int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows that miss an edge into ``readers`` and their inputs ``[row, reader, token, d]``."""
        m = miss[:, :, readers]
        m = m[:, :, None] if m.dim() == 2 else m
        which = torch.nonzero(m.any(1).any(1)).flatten()
        delta = current[which] - corrupt
        if at is not None:
            delta = delta * at[which]
        fixed = x[which, None].float() - torch.einsum("rwd,rwtx->rdtx", m[which].to(device), delta)
        return which, fixed

    def keep_block_input(layer):
        def hook(_m, args, kwargs):
            block_in[layer] = first_of(args) if args else kwargs["hidden_states"]
        return hook

    def keep_heads(layer):
        first = graph.head_out(layer, 0)
        heads = [(h, slot[first + h]) for h in range(graph.n_heads) if first + h in slot]

        def hook(_m, args, kwargs):
            z = args[0] if args else kwargs["input"]
            out = parts.head_outputs(layer, z.float())
            for h, i in heads:
                current[:, i] = out[:, h]
        return hook if heads else None

    def keep_mlp(layer):
        i = slot.get(graph.mlp_out(layer))

        def hook(_m, _a, output):
            current[:, i] = first_of(output).float()
        return None if i is None else hook

    def attention_inputs(layer, module):
        span = graph.attention_inputs(layer)
        projections = [p for p in (parts.q[layer], parts.k[layer], parts.v[layer]) if p.module is module]
        starts = np.cumsum([0, graph.n_heads, graph.n_kv_heads])
        of = {id(parts.q[layer]): 0, id(parts.k[layer]): 1, id(parts.v[layer]): 2}

        def hook(_m, _a, output):
            if layer not in normed:
                which, x = correction(span, block_in[layer])
                normed[layer] = (which, parts.attention_norm[layer](x.to(block_in[layer].dtype)))
            which, y = normed[layer]
            out = first_of(output).clone()
            for p in projections:
                k = of[id(p)]
                ys = y[:, starts[k] : starts[k] + p.heads]
                out[which, :, p.offset : p.offset + p.size] = p.of_heads(ys).to(out.dtype)
            return with_output(output, out)
        return hook

    def reader_input(index):
        def hook(_m, args, kwargs):
            x = first_of(args) if args else kwargs["hidden_states"]
            which, fixed = correction(index, x)
            x = x.clone()
            x[which] = fixed[:, 0].to(x.dtype)
            return replace_first(args, kwargs, x)
        return hook

    reads = missing.any(0).any(0)
    with ExitStack() as stack, torch.inference_mode():
        hidden = pair.resid[start].to(device).expand(rows, -1, -1).contiguous()
        stack.enter_context(skipping(parts.model, start, hidden))  # first: block ``start`` then sees ``hidden``
        for layer in range(start, graph.n_layers):
            stack.enter_context(hooked(parts.layers[layer], keep_block_input(layer), pre=True))
            for hook, module, pre in ((keep_heads(layer), parts.out_proj[layer], True), (keep_mlp(layer), parts.mlp[layer], False)):
                if hook is not None:
                    stack.enter_context(hooked(module, hook, pre=pre))
            if reads[graph.attention_inputs(layer)].any():
                for module in {p.module for p in (parts.q[layer], parts.k[layer], parts.v[layer])}:
                    stack.enter_context(hooked(module, attention_inputs(layer, module)))
            if reads[graph.mlp_in(layer)]:
                stack.enter_context(hooked(parts.mlp_norm[layer], reader_input(graph.mlp_in(layer)), pre=True))
        if reads[graph.logits_in]:
            stack.enter_context(hooked(parts.final_norm, reader_input(graph.logits_in), pre=True))
        dummy = torch.zeros(rows, len(pair.ids), hidden.shape[-1], dtype=hidden.dtype, device=device)
        logits = run(parts, dummy)  # the blocks below ``start`` pass ``hidden`` on; embeddings unused
    return pair.metric(logits.cpu())


Row = tuple
"""A run's missing edges: ``(upstream indices, downstream indices)``, optionally with a third
item, the one token at which they are corrupted (the pairs must then share a length)."""


def batches(rows: list[Row], n_tokens: int, d_model: int) -> list[list[int]]:
    """Rows grouped so that a batch runs at most MAX_BATCH_TOKENS tokens and keeps at most
    MAX_BATCH_BYTES of writer outputs (rows x distinct writers x tokens x d_model floats)."""
    row_bytes = n_tokens * d_model * 4
    out, batch, writers = [], [], set()
    for index, (us, *_) in enumerate(rows):
        union = writers | set(np.unique(us).tolist())
        size = len(batch) + 1
        if batch and (size * n_tokens > MAX_BATCH_TOKENS or size * len(union) * row_bytes > MAX_BATCH_BYTES):
            out.append(batch)
            batch, union = [], set(np.unique(us).tolist())
        batch.append(index)
        writers = union
    if batch:
        out.append(batch)
    return out


def metric_with(parts: CircuitParts, graph: Graph, pairs: list[PairRuns], rows: list[Row],
                cancelled: Callable[[], bool] | None = None) -> np.ndarray:
    """``[row]``: the metric averaged over ``pairs`` with each row's missing edges corrupted."""
    total = np.zeros(len(rows))
    d_model = parts.model.config.hidden_size
    for pair in pairs:
        for batch in batches(rows, len(pair.ids), d_model):
            if cancelled is not None and cancelled():
                raise Cancelled
            missing = torch.zeros(len(batch), graph.n_upstream, graph.n_downstream, dtype=torch.bool)
            at = None
            for i, r in enumerate(batch):
                us, ds, *token = rows[r]
                missing[i, torch.as_tensor(us, dtype=torch.long), torch.as_tensor(ds, dtype=torch.long)] = True
                if token:
                    at = torch.ones(len(batch), len(pair.ids)) if at is None else at
                    at[i] = 0.0
                    at[i, int(token[0])] = 1.0
            total[batch] += run_masked(parts, graph, pair, missing, at).double().numpy()
    return total / len(pairs)
