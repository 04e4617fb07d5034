"""What edge attribution patching needs from a model: every writer's output and the metric's
gradient at every reader's input.

- :func:`outputs`: ``[batch, upstream, token, d_model]``, what each node of the graph added to the
  residual stream (the embeddings, each head, each MLP), from one forward pass.
- :func:`input_gradients`: ``[batch, downstream, token, d_model]``, the metric's gradient with
  respect to the residual stream *as one reader sees it*. Readers share the residual stream, so
  one backward pass gives the gradient at each projection's output; a query head's gradient at its
  input is its slice of that gradient times its slice of the projection weight, carried back
  through the block's norm (a vector-Jacobian product at the residual stream the block saw). An
  MLP's and the logits' inputs get their own copy of the residual stream in the forward pass.

EAP scores edge ``u -> d`` with ``(corrupted - clean output of u) . gradient at d's input`` summed
over tokens; EAP-IG averages the gradients at inputs interpolated between the corrupted and the
clean input embeddings (Hanna et al. 2024).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack

import torch

from ...hooks import first_of, hooked, replace_first
from .graph import Graph
from .parts import CircuitParts


def embed(parts: CircuitParts, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return parts.model.model.get_input_embeddings()(ids.to(parts.model.device))


def run(parts: CircuitParts, embeds: torch.Tensor) -> torch.Tensor:
    """Float32 last-position logits ``[batch, vocab]`` of the model on input embeddings."""
    from ..attribution.core import _takes_logits_to_keep

    kwargs = {"logits_to_keep": 1} if _takes_logits_to_keep(parts.model.model) else {}
    out = parts.model.model(inputs_embeds=embeds, use_cache=False, **kwargs)
    return out.logits[:, -1].float()


def outputs(parts: CircuitParts, graph: Graph, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Of ``ids[batch, token]``, float32 on the CPU: ``out[batch, upstream, token, d_model]``,
    ``resid[layer, batch, token, d_model]`` (block ``layer``'s input; ``n_layers``: the final
    norm's) and ``logits[batch, vocab]``."""
    batch, n_tokens = ids.shape
    d_model = parts.model.config.hidden_size
    out = torch.zeros(batch, graph.n_upstream, n_tokens, d_model)
    resid = torch.zeros(graph.n_layers + 1, batch, n_tokens, d_model)
    n_heads = graph.n_heads

    def block_input(layer):
        def hook(_m, args, kwargs):
            resid[layer] = (first_of(args) if args else kwargs["hidden_states"]).detach().float().cpu()
        return hook

    def heads(layer):
        def hook(_m, args, kwargs):
            z = args[0] if args else kwargs["input"]
            start = graph.head_out(layer, 0)
            out[:, start : start + n_heads] = parts.head_outputs(layer, z.detach().float()).cpu()
        return hook

    def mlp(layer):
        def hook(_m, _a, output):
            out[:, graph.mlp_out(layer)] = first_of(output).detach().float().cpu()
        return hook

    with ExitStack() as stack, torch.inference_mode():
        for layer in range(graph.n_layers):
            stack.enter_context(hooked(parts.layers[layer], block_input(layer), pre=True))
            stack.enter_context(hooked(parts.out_proj[layer], heads(layer), pre=True))
            stack.enter_context(hooked(parts.mlp[layer], mlp(layer)))
        stack.enter_context(hooked(parts.final_norm, block_input(graph.n_layers), pre=True))
        logits = run(parts, embed(parts, ids))
    out[:, 0] = resid[0]
    return out, resid, logits.cpu()


def input_gradients(parts: CircuitParts, graph: Graph, clean: torch.Tensor, corrupt: torch.Tensor,
                    metric: Callable[[torch.Tensor], torch.Tensor], alphas) -> torch.Tensor:
    """``[batch, downstream, token, d_model]``: d metric / d (each reader's input), averaged over
    the inputs ``corrupt + alpha * (clean - corrupt)`` of the input embeddings for each ``alpha``
    (``[1.0]``: at the clean run, EAP). ``metric(logits[batch, vocab]) -> [batch]``."""
    e_clean, e_corrupt = embed(parts, clean), embed(parts, corrupt)
    batch, n_tokens = clean.shape
    d_model = e_clean.shape[-1]
    total = torch.zeros(batch, graph.n_downstream, n_tokens, d_model)
    for alpha in alphas:
        total += _gradients_at(parts, graph, (e_corrupt + alpha * (e_clean - e_corrupt)).detach(), metric)
    return total / len(alphas)


def _gradients_at(parts: CircuitParts, graph: Graph, embeds: torch.Tensor, metric) -> torch.Tensor:
    n_layers = graph.n_layers
    block_in: list = [None] * n_layers
    projected: list = [{} for _ in range(n_layers)]  # module -> its output (in the graph)
    own_copy: list = [None] * (n_layers + 1)  # the MLPs' and the final norm's own residual stream

    def keep_block_input(layer):
        def hook(_m, args, kwargs):
            block_in[layer] = (first_of(args) if args else kwargs["hidden_states"]).detach()
        return hook

    def keep_projection(layer):
        def hook(module, _a, output):
            projected[layer][module] = first_of(output)
        return hook

    def copy_input(index):
        def hook(_m, args, kwargs):
            x = (first_of(args) if args else kwargs["hidden_states"]).clone()
            own_copy[index] = x
            return replace_first(args, kwargs, x)
        return hook

    with ExitStack() as stack, torch.enable_grad():
        for layer in range(n_layers):
            stack.enter_context(hooked(parts.layers[layer], keep_block_input(layer), pre=True))
            for module in {p.module for p in (parts.q[layer], parts.k[layer], parts.v[layer])}:
                stack.enter_context(hooked(module, keep_projection(layer)))
            stack.enter_context(hooked(parts.mlp_norm[layer], copy_input(layer), pre=True))
        stack.enter_context(hooked(parts.final_norm, copy_input(n_layers), pre=True))
        embeds = embeds.requires_grad_(True)  # a graph even when every weight is frozen
        value = metric(run(parts, embeds)).sum()
    modules = [list(p) for p in projected]
    wanted = [t for layer in range(n_layers) for t in projected[layer].values()] + own_copy
    grads = iter(torch.autograd.grad(value, wanted, allow_unused=True))
    at_projection = [{m: next(grads) for m in modules[layer]} for layer in range(n_layers)]
    copies = [next(grads) for _ in own_copy]

    batch, n_tokens, d_model = embeds.shape
    out = torch.zeros(batch, graph.n_downstream, n_tokens, d_model)
    for layer in range(n_layers):
        per_head = []
        for p in (parts.q[layer], parts.k[layer], parts.v[layer]):
            g = at_projection[layer][p.module][..., p.offset : p.offset + p.size].float()
            g = g.reshape(batch, n_tokens, p.heads, -1)
            per_head.append(torch.einsum("bthd,hdx->bhtx", g, p.per_head().float()))
        out[:, graph.attention_inputs(layer)] = _through_norm(parts.attention_norm[layer], block_in[layer],
                                                               torch.cat(per_head, 1)).cpu()
        out[:, graph.mlp_in(layer)] = _or_zero(copies[layer], block_in[layer]).cpu()
    out[:, graph.logits_in] = _or_zero(copies[n_layers], block_in[0]).cpu()
    return out


def _or_zero(grad: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(like, dtype=torch.float32) if grad is None else grad.float()


def _through_norm(norm: torch.nn.Module, x: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """``vectors[batch, n, token, d_model]`` (gradients at the norm's output, one per reader)
    carried back to the norm's input ``x[batch, token, d_model]``: vector-Jacobian products."""
    n = vectors.shape[1]
    with torch.enable_grad():
        xs = x[:, None].expand(-1, n, -1, -1).clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(norm(xs), xs, vectors.to(x.dtype))
    return grad.float()
