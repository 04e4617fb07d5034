"""Attribution patching (Nanda 2023; Syed et al. 2023): the whole grid from one forward and one
backward pass, as the first-order estimate

    metric(base with site := donor) ~ metric(base) + (donor - base) . d metric / d site |base

It is exact for a site whose effect on the metric is linear and drifts where attention patterns or
saturated probabilities bend it; the views show it first and replace it with exact values.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ...models.wrapped import LoadedModel
from . import engine


def gradients(model: LoadedModel, ids: torch.Tensor, metric: Callable[[torch.Tensor], torch.Tensor], *,
              embed: Callable | None = None, heads: bool = False, kv: bool = False) -> dict[str, torch.Tensor]:
    """``d metric / d site`` on the runs ``ids[run, token]`` (``embed`` edits their embeddings).

    Returns CPU float32 tensors: "residual" ``[layer, run, token, d_model]`` (each block's output),
    "attention", "mlp" (same shape), "z" ``[layer, run, token, heads * head_dim]`` with ``heads``,
    "key"/"value" ``[layer, run, kv_head, token, head_dim]`` with ``kv``.
    """

    def leaf(embeddings):
        out = embeddings.detach().requires_grad_()
        return embed(out) if embed is not None else out

    with model.lock, torch.enable_grad():
        live = engine.record(model, ids, embed=leaf, heads=heads, kv=kv, grad=True)
        metric(live.logits).backward()
    grad = lambda xs: torch.stack([_grad_of(x) for x in xs])  # noqa: E731
    out = {"residual": grad(live.resid[1:]), "attention": grad(live.attention), "mlp": grad(live.mlp)}
    if heads:
        out["z"] = grad(live.z)
    if kv:
        out["key"], out["value"] = grad(live.key), grad(live.value)
    return out


def _grad_of(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.grad is None:  # the metric does not depend on it (e.g. a position after the last)
        return torch.zeros(tensor.shape, dtype=torch.float32)
    return tensor.grad.detach().float().cpu()


def per_position(delta: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """``[layer, token]`` estimated change of the metric from ``delta[layer, run, token, d]``
    (donor - base), summed over the runs the metric averages."""
    return (delta * grad).sum(dim=(1, 3))


def per_head(delta: torch.Tensor, grad: torch.Tensor, n_heads: int) -> torch.Tensor:
    """``[layer, head]`` from the heads' outputs side by side ``[layer, run, token, heads * dim]``."""
    layers, runs, tokens, width = delta.shape
    product = (delta * grad).reshape(layers, runs, tokens, n_heads, width // n_heads)
    return product.sum(dim=(1, 2, 4))


def per_kv_head(delta_key, grad_key, delta_value, grad_value) -> torch.Tensor:
    """``[layer, kv_head]`` from keys and values ``[layer, run, kv_head, token, dim]``."""
    return (delta_key * grad_key).sum(dim=(1, 3, 4)) + (delta_value * grad_value).sum(dim=(1, 3, 4))
