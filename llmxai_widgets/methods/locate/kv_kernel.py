"""The attention kernel that records and patches keys and values per key/value head.

transformers hands ``ALL_ATTENTION_FUNCTIONS[config._attn_implementation]`` the keys and values
after rotary embeddings and before grouped-query repetition (``[batch, kv_head, token, dim]``);
a registered implementation records them, puts patched ones in, then runs SDPA for the output.
A grouped-query model's key/value head is so patched once for every query head that reads it.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from ...models.wrapped import LoadedModel

PATCH_ATTENTION = "llmxai_patch"


class KVState:
    """What the kernel does in the current forward pass: record (``record``), patch (``plan``)."""

    def __init__(self, layer_of: dict[int, int]):
        self.layer_of = layer_of
        self.record: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None
        self.plan = None  # engine._Plan while patching
        self.live = False
        """Keep the recorded keys and values on their graph (gradients for attribution patching)."""


_ACTIVE: ContextVar[KVState | None] = ContextVar("llmxai_patch_kv", default=None)


def _patch_attention(module, query, key, value, attention_mask, **kwargs):
    state = _ACTIVE.get()
    layer = None if state is None else state.layer_of.get(id(module))
    if layer is not None:
        if state.plan is not None:
            patches = state.plan.get("kv", layer)
            if patches:
                key, value = key.clone(), value.clone()
                for p in patches:
                    keys, values = p.values
                    key[p.rows, p.index] = keys.to(key.dtype)
                    value[p.rows, p.index] = values.to(value.dtype)
        if state.record is not None and state.live:
            key.retain_grad()
            value.retain_grad()
            state.record[layer] = (key, value)
        elif state.record is not None:
            state.record[layer] = (key.detach().float().cpu(), value.detach().float().cpu())
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


_registered = False


@contextmanager
def kv_kernel(model: LoadedModel, state: KVState):
    global _registered
    if not _registered:
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
        from transformers.modeling_utils import AttentionInterface

        AttentionInterface.register(PATCH_ATTENTION, _patch_attention)
        AttentionMaskInterface.register(PATCH_ATTENTION, sdpa_mask)
        _registered = True
    before = getattr(model.config, "_attn_implementation", None)
    token = _ACTIVE.set(state)
    model.model.set_attn_implementation(PATCH_ATTENTION)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
        model.model.set_attn_implementation(before or "sdpa")
