"""An independent reference for causal tracing and activation patching: one plain transformers
forward pass per cell, with forward hooks on the modules named here directly (not through
llmxai_widgets' architecture table or engine)."""

from __future__ import annotations

import torch


class Parts:
    """Where a GPT-2 or LLaMA-style transformers model keeps what the reference hooks."""

    def __init__(self, hf):
        self.hf = hf
        self.gpt2 = hf.config.model_type == "gpt2"
        base = hf.transformer if self.gpt2 else hf.model
        self.blocks = base.h if self.gpt2 else base.layers
        self.embed = base.wte if self.gpt2 else base.embed_tokens
        cfg = hf.config
        self.n_heads = cfg.num_attention_heads
        self.n_kv = getattr(cfg, "num_key_value_heads", None) or self.n_heads
        self.head_dim = cfg.hidden_size // self.n_heads

    def attention(self, layer):
        block = self.blocks[layer]
        return block.attn if self.gpt2 else block.self_attn

    def mlp(self, layer):
        return self.blocks[layer].mlp

    def out_proj(self, layer):
        return self.attention(layer).c_proj if self.gpt2 else self.attention(layer).o_proj


def _first(x):
    return x[0] if isinstance(x, tuple) else x


def run(hf, ids, hooks=(), embed_noise=None):
    """Last-position float32 logits of ``ids[batch, token]`` with ``hooks`` [(module, fn, pre)]."""
    parts = Parts(hf)
    handles = []
    try:
        if embed_noise is not None:
            handles.append(parts.embed.register_forward_hook(embed_noise))
        for module, fn, pre in hooks:
            handles.append(module.register_forward_pre_hook(fn) if pre else module.register_forward_hook(fn))
        with torch.inference_mode():
            return hf(input_ids=ids).logits[:, -1].float()
    finally:
        for h in handles:
            h.remove()


def record(hf, ids, embed_noise=None):
    """Clean activations of ``ids[1, token]``: block outputs, attention and MLP outputs, the output
    projection's input, and keys/values per key/value head (from the key/value projections)."""
    parts = Parts(hf)
    out = {"block": {}, "attention": {}, "mlp": {}, "z": {}, "k": {}, "v": {}}
    hooks = []
    for layer in range(len(parts.blocks)):
        def keep(where, l):
            return lambda m, a, o: out[where].__setitem__(l, _first(o).clone())
        hooks += [(parts.blocks[layer], keep("block", layer), False), (parts.attention(layer), keep("attention", layer), False),
                  (parts.mlp(layer), keep("mlp", layer), False),
                  (parts.out_proj(layer), (lambda l: lambda m, a: out["z"].__setitem__(l, a[0].clone()))(layer), True)]
        if parts.gpt2:
            hooks.append((parts.attention(layer).c_attn, (lambda l: lambda m, a, o: out["k"].__setitem__(l, o.clone()))(layer), False))
        else:
            hooks += [(parts.attention(layer).k_proj, keep("k", layer), False), (parts.attention(layer).v_proj, keep("v", layer), False)]
    logits = run(hf, ids, hooks, embed_noise)
    return out, logits


def replace_at(positions_values):
    """A forward hook putting ``values`` at ``position`` of every batch row of a module's output."""
    def hook(_m, _a, output):
        x = _first(output).clone()
        for position, value in positions_values:
            x[:, position] = value
        return (x, *output[1:]) if isinstance(output, tuple) else x
    return hook


def head_output_hook(parts, head, z):
    def hook(_m, args):
        x = args[0].clone()
        sl = slice(head * parts.head_dim, (head + 1) * parts.head_dim)
        x[..., sl] = z[..., sl]
        return (x, *args[1:])
    return hook


def kv_hooks(parts, layer, group, clean):
    """Hooks putting key/value head ``group``'s clean keys and values in (pre rotary embedding:
    the same positions get the same rotation, so this equals patching the rotated keys)."""
    d = parts.head_dim
    sl = slice(group * d, (group + 1) * d)
    if parts.gpt2:
        width = parts.n_heads * d
        def fused(_m, _a, o):
            x = o.clone()
            for offset in (width, 2 * width):
                x[..., offset + sl.start: offset + sl.stop] = clean["k"][layer][..., offset + sl.start: offset + sl.stop]
            return x
        return [(parts.attention(layer).c_attn, fused, False)]

    def one(name):
        def hook(_m, _a, o):
            x = o.clone()
            x[..., sl] = clean[name][layer][..., sl]
            return x
        return hook
    attn = parts.attention(layer)
    return [(attn.k_proj, one("k"), False), (attn.v_proj, one("v"), False)]
