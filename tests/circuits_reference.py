"""An independent reference for circuit scores, with plain transformers hooks and autograd: a
reader's input gets ``+ eps`` (its own copy of the residual stream: a query/key/value head's
projection columns are recomputed from ``norm(x + eps)``, an MLP's and the logits' norm input
gets ``+ eps``). EAP = (corrupted - clean output of the writer) . d metric / d eps at eps = 0;
an exact edge score = metric with eps = (corrupted - clean output) minus the clean metric."""

from __future__ import annotations

import torch

LLAMA = {"blocks": lambda m: m.model.layers, "attn_norm": "input_layernorm", "mlp_norm": "post_attention_layernorm",
         "mlp": "mlp", "out": "self_attn.o_proj", "final": lambda m: m.model.norm}
GPT2 = {"blocks": lambda m: m.transformer.h, "attn_norm": "ln_1", "mlp_norm": "ln_2", "mlp": "mlp",
        "out": "attn.c_proj", "final": lambda m: m.transformer.ln_f}


def _get(module, path):
    for part in path.split("."):
        module = getattr(module, part)
    return module


def _weight(module):
    return module.weight if isinstance(module, torch.nn.Linear) else module.weight.T  # Conv1D stores [in, out]


class Reference:
    def __init__(self, hf):
        self.hf = hf
        self.gpt2 = hf.config.model_type == "gpt2"
        self.parts = GPT2 if self.gpt2 else LLAMA
        self.blocks = self.parts["blocks"](hf)
        cfg = hf.config
        self.n_heads = cfg.num_attention_heads
        self.n_kv = getattr(cfg, "num_key_value_heads", None) or self.n_heads
        self.d = cfg.hidden_size
        self.hd = self.d // self.n_heads

    def projection(self, layer, kind, index):
        """(module, output columns) of one head's queries / one group's keys or values."""
        block = self.blocks[layer]
        hd = self.hd
        if self.gpt2:
            base = {"q": 0, "k": self.d, "v": 2 * self.d}[kind]
            return block.attn.c_attn, slice(base + index * hd, base + (index + 1) * hd)
        return _get(block, f"self_attn.{kind}_proj"), slice(index * hd, (index + 1) * hd)

    def run(self, ids, metric, reader=None, eps=None):
        """metric of ids with ``eps`` added to ``reader``'s input: ("attn", layer, kind, index),
        ("mlp", layer) or ("logits",)."""
        handles = []
        if reader is not None:
            if reader[0] == "attn":
                _, layer, kind, index = reader
                block = self.blocks[layer]
                norm = _get(block, self.parts["attn_norm"])
                module, cols = self.projection(layer, kind, index)
                seen = {}
                handles.append(block.register_forward_pre_hook(
                    lambda _m, a, k: seen.__setitem__("x", a[0] if a else k["hidden_states"]), with_kwargs=True))

                def add(_m, _a, out):
                    extra = (norm(seen["x"] + eps) - norm(seen["x"])) @ _weight(module)[cols].T
                    out = out.clone()
                    out[..., cols] = out[..., cols] + extra
                    return out
                handles.append(module.register_forward_hook(add))
            else:
                target = (_get(self.blocks[reader[1]], self.parts["mlp_norm"]) if reader[0] == "mlp"
                          else self.parts["final"](self.hf))
                handles.append(target.register_forward_pre_hook(lambda _m, a: (a[0] + eps,)))
        try:
            return metric(self.hf(input_ids=ids[None]).logits[:, -1].float())[0]
        finally:
            for h in handles:
                h.remove()

    def writers(self, ids):
        """[writer, token, d]: embeddings, then per block each head's output and the MLP's."""
        out = []
        keep = {}
        handles = [self.blocks[0].register_forward_pre_hook(
            lambda _m, a, k: keep.__setitem__("emb", (a[0] if a else k["hidden_states"])[0]), with_kwargs=True)]
        for layer, block in enumerate(self.blocks):
            o = _get(block, self.parts["out"])
            handles.append(o.register_forward_pre_hook(lambda _m, a, layer=layer: keep.__setitem__(("z", layer), a[0][0])))
            handles.append(_get(block, self.parts["mlp"]).register_forward_hook(
                lambda _m, _a, out, layer=layer: keep.__setitem__(("m", layer), out[0])))
        with torch.no_grad():
            self.hf(input_ids=ids[None])
        for h in handles:
            h.remove()
        out.append(keep["emb"])
        for layer, block in enumerate(self.blocks):
            w = _weight(_get(block, self.parts["out"]))  # [d, heads * hd]
            z = keep[("z", layer)]
            for h in range(self.n_heads):
                cols = slice(h * self.hd, (h + 1) * self.hd)
                out.append(z[:, cols] @ w[:, cols].T)
            out.append(keep[("m", layer)])
        return torch.stack(out).detach()

    def readers(self):
        """Readers in the graph's order."""
        out = []
        for layer in range(len(self.blocks)):
            out += [("attn", layer, "q", h) for h in range(self.n_heads)]
            out += [("attn", layer, "k", g) for g in range(self.n_kv)]
            out += [("attn", layer, "v", g) for g in range(self.n_kv)]
            out.append(("mlp", layer))
        return out + [("logits",)]

    def gradient(self, ids, metric, reader):
        eps = torch.zeros(len(ids), self.d, requires_grad=True)
        (grad,) = torch.autograd.grad(self.run(ids, metric, reader, eps), eps)
        return grad
