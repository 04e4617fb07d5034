"""The modules and weights circuits read in each block, from the architecture table: the norms
before the attention and the MLP, the query/key/value projections (separate or fused), the
attention's output projection per head, the MLP, the final norm.

Only what the model computes is used: a head's output is its slice of the output projection's
input times its slice of the weight; a query/key/value input is whatever the projection is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...models.wrapped import LoadedModel

PARALLEL = ("gpt_neox", "gptj", "phi", "falcon", "cohere")
"""Model types whose attention and MLP may read the same residual stream in parallel."""


@dataclass
class Projection:
    """Queries, keys or values of one block: ``module``'s output columns ``offset..offset+size``
    are ``x @ weight.T + bias`` (``weight [size, d_model]``), ``heads`` heads of ``size // heads``."""

    module: torch.nn.Module
    weight: torch.Tensor
    bias: torch.Tensor | None
    offset: int
    heads: int

    @property
    def size(self) -> int:
        return self.weight.shape[0]

    def per_head(self) -> torch.Tensor:
        """``[head, head_dim, d_model]``."""
        return self.weight.reshape(self.heads, -1, self.weight.shape[-1])

    def of_heads(self, normed: torch.Tensor) -> torch.Tensor:
        """Each head's projection of its own normed input: ``normed[..., head, token, d_model]``
        -> ``[..., token, head * head_dim]`` (this projection's part of the module output)."""
        out = torch.einsum("...htx,hdx->...thd", normed, self.per_head().to(normed.dtype))
        out = out.reshape(*out.shape[:-2], -1)
        return out if self.bias is None else out + self.bias.to(out.dtype)


def _matrix(module: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(weight [out, in], bias)`` of a Linear or of GPT-2's Conv1D (which stores ``[in, out]``)."""
    if isinstance(module, torch.nn.Linear):
        return module.weight, module.bias
    if type(module).__name__ == "Conv1D":
        return module.weight.T, module.bias
    raise ValueError(f"circuit() reads projection weights from Linear or Conv1D modules, not {type(module).__name__}")


class CircuitParts:
    """Per block: ``attention_norm``, ``mlp_norm``, ``q``/``k``/``v`` :class:`Projection`, the
    output projection ``out_proj`` and ``out_heads [head, d_model, head_dim]``, the ``mlp``."""

    def __init__(self, model: LoadedModel, purpose: str = "circuit()"):
        check_supported(model, purpose)
        arch = model.architecture
        self.model = model
        self.layers = model.layers()
        self.final_norm = model.final_norm_module(purpose)
        n_heads, n_kv = model.n_heads, model.n_kv_heads
        self.attention_norm, self.mlp_norm, self.mlp, self.out_proj, self.out_heads = [], [], [], [], []
        self.q, self.k, self.v = [], [], []
        for layer in range(model.n_layers):
            block = self.layers[layer]
            self.attention_norm.append(model.module(arch.attention_norm, root=block))
            self.mlp_norm.append(model.module(arch.mlp_norm, root=block))
            self.mlp.append(model.mlp_output_module(layer, purpose))
            out = model.attention_output_module(layer, purpose)
            self.out_proj.append(out)
            weight, _ = _matrix(out)  # [d_model, heads * head_dim]
            self.out_heads.append(weight.reshape(weight.shape[0], n_heads, -1).permute(1, 0, 2))
            if len(arch.qkv) == 3:
                projections = []
                for path, heads in zip(arch.qkv, (n_heads, n_kv, n_kv)):
                    module = model.module(path, root=block)
                    w, b = _matrix(module)
                    projections.append(Projection(module, w, b, 0, heads))
            else:
                module = model.module(arch.qkv[0], root=block)
                w, b = _matrix(module)
                head_dim = w.shape[0] // (n_heads + 2 * n_kv)
                sizes = (n_heads * head_dim, n_kv * head_dim, n_kv * head_dim)
                starts = (0, sizes[0], sizes[0] + sizes[1])
                projections = [Projection(module, w[s : s + n], None if b is None else b[s : s + n], s, heads)
                               for s, n, heads in zip(starts, sizes, (n_heads, n_kv, n_kv))]
            for where, projection in zip((self.q, self.k, self.v), projections):
                where.append(projection)

    def head_outputs(self, layer: int, z: torch.Tensor) -> torch.Tensor:
        """What each head adds to the residual stream: ``z[..., token, heads * head_dim]`` (the
        output projection's input) -> ``[..., head, token, d_model]`` (bias left out: it is no head's)."""
        w = self.out_heads[layer]  # [head, d_model, head_dim]
        z = z.reshape(*z.shape[:-1], w.shape[0], w.shape[2])
        return torch.einsum("...thd,hxd->...htx", z, w.to(z.dtype))


def check_supported(model: LoadedModel, purpose: str = "circuit()") -> None:
    """Circuits need a causal, pre-norm model whose attention and MLP run one after the other,
    with every module below known; otherwise say what is missing."""
    if model.kind != "causal":
        raise ValueError(f"{purpose} reads the next-token prediction of a causal language model; {model.name} is a "
                         f"{model.kind} model. Load one with lx.load_model('smollm2') or a causal model id.")
    model_type = model.config.model_type
    if model_type in PARALLEL or getattr(model.config, "use_parallel_residual", False) or getattr(
            model.config, "parallel_attn", False):
        raise ValueError(f"{purpose} needs blocks whose MLP reads the attention's output; {model.name} "
                         f"({model_type!r}) runs attention and MLP in parallel, so its graph has different edges. "
                         f"Use a LLaMA-, Mistral-, Qwen- or GPT-2-style model.")
    for name in ("attention_norm", "mlp_norm", "qkv", "attention_output", "mlp_output", "final_norm"):
        model._needs(name, purpose)
    if model.offloaded:
        raise ValueError(f"{purpose} reads every block's projection weights directly, and {model.name} is dispatched "
                         f"by accelerate with the weights of {', '.join(model.offloaded)} offloaded (device_map with "
                         f"'disk' or CPU offload: they are loaded only during a forward pass); load the model with "
                         f"every weight in memory (no 'disk' in device_map) to find circuits")
