"""Attention weights without eager attention: record what the attention kernel is given.

transformers routes attention through ``ALL_ATTENTION_FUNCTIONS[config._attn_implementation]``
with the queries and keys already projected, normed and rotated (RoPE), the key/value heads not
yet repeated (grouped-query attention), the scaling and the mask. We register one more
implementation that records those inputs for the layers asked for and then runs the fast SDPA
kernel for the model's own output. The weights of any head are recomputed later, on demand, with
the same formula as eager attention (``softmax(q k^T * scaling + bias + mask)``), so a long
input costs one forward pass plus the small query/key tensors, never every layer's T x T
weights at once.

Models whose attention needs more than that formula (logit soft-capping, attention sinks) are
not listed in ``CAPTURE_TYPES``; ``attention()`` runs them with eager attention instead.
"""

from __future__ import annotations

import ctypes
import os
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
import torch

CAPTURE = "llmxai_capture"

# Model types checked against eager output_attentions in tests/test_attention.py.
CAPTURE_TYPES = frozenset({"llama", "mistral", "qwen2", "gpt2", "bert", "roberta", "t5"})


@dataclass
class QueryKey:
    """What one layer's attention kernel was given, enough to recompute any head's weights.

    - ``query[head, query_pos, dim]``, ``key[kv_head, key_pos, dim]`` (float32).
    - ``mask[query_pos, key_pos]``: bool (True = may attend) or float (added), or None.
    - ``causal``: no mask was given because the kernel applied a causal mask itself.
    - ``bias[head, query_pos, key_pos]``: relative position bias (T5) or None.
    """

    query: np.ndarray
    key: np.ndarray
    scaling: float
    mask: np.ndarray | None
    bias: np.ndarray | None
    causal: bool = False

    def weights(self, head: int, kv_head: int) -> np.ndarray:
        """``[query_pos, key_pos]`` softmax weights of one head (float32)."""
        return self._softmax(
            torch.from_numpy(self.query[head]), torch.from_numpy(self.key[kv_head]), [head]
        )[0]

    def all_weights(self, kv_group: np.ndarray) -> np.ndarray:
        """``[head, query_pos, key_pos]`` for every head at once (one batched matmul)."""
        keys = torch.from_numpy(self.key)[torch.as_tensor(kv_group)]
        return self._softmax(torch.from_numpy(self.query), keys, list(range(len(kv_group))))

    def _softmax(self, query: torch.Tensor, key: torch.Tensor, heads: list[int]) -> np.ndarray:
        # The formula of transformers' eager attention: softmax(q k^T * scaling + bias + mask).
        scores = torch.matmul(query, key.transpose(-1, -2)) * self.scaling
        if scores.dim() == 2:
            scores = scores[None]
        if self.bias is not None:
            scores += torch.from_numpy(self.bias[heads])
        if self.mask is not None:
            mask = torch.from_numpy(self.mask)
            if mask.dtype == torch.bool:
                scores.masked_fill_(~mask, float("-inf"))
            else:
                scores += mask
        elif self.causal:
            n_query, n_key = scores.shape[-2:]
            future = torch.ones(n_query, n_key, dtype=torch.bool).triu_(n_key - n_query + 1)
            scores.masked_fill_(future, float("-inf"))
        # softmax in place: long inputs make each head's scores tens of MB
        scores -= scores.amax(dim=-1, keepdim=True)
        scores.exp_()
        scores /= scores.sum(dim=-1, keepdim=True)
        return scores.numpy()

    @property
    def nbytes(self) -> int:
        return self.query.nbytes + self.key.nbytes + (self.bias.nbytes if self.bias is not None else 0)


class _Recorder:
    def __init__(self, layer_of: dict[int, object], on_record):
        self.layer_of = layer_of  # id(attention module) -> its key (layer index, or (part, layer))
        self.on_record = on_record
        self._masks: dict[object, np.ndarray | None] = {}  # converted once per shared tensor
        self._alive: list[torch.Tensor] = []

    def record(self, module, query, key, attention_mask, kwargs) -> None:
        layer = self.layer_of.get(id(module))
        if layer is None:
            return
        scaling = kwargs.get("scaling")
        if scaling is None:
            scaling = query.shape[-1] ** -0.5
        bias = self._bias(kwargs.get("position_bias"))
        # SDPA's own rule: with no mask, a causal module lets the kernel apply the causal mask.
        is_causal = kwargs.get("is_causal")
        if is_causal is None:
            is_causal = getattr(module, "is_causal", True)
        causal = attention_mask is None and bool(is_causal) and query.shape[-2] > 1
        self.on_record(
            layer,
            QueryKey(
                query=np.ascontiguousarray(query[0].detach().float().cpu().numpy()),
                key=np.ascontiguousarray(key[0].detach().float().cpu().numpy()),
                scaling=float(scaling),
                mask=self._mask(attention_mask, query.shape[-2], key.shape[-2]),
                bias=bias,
                causal=causal,
            ),
        )

    def _bias(self, bias) -> np.ndarray | None:
        # T5's layers share one position-bias tensor (convert it once); cross-attention gets an
        # all-zero one (drop it).
        if bias is None:
            return None
        key = ("bias", id(bias))
        if key not in self._masks:
            array = bias[0].detach().float().cpu().numpy()
            self._masks[key] = array if array.any() else None
            self._alive.append(bias)  # an id stays this tensor's while it is cached
        return self._masks[key]

    def _mask(self, mask, n_query: int, n_key: int) -> np.ndarray | None:
        # Layers share one mask tensor: convert it once.
        if mask is None:
            return None
        if id(mask) not in self._masks:
            m = mask[0, 0] if mask.dim() == 4 else mask
            self._masks[id(mask)] = m[:n_query, :n_key].detach().cpu().numpy()
            self._alive.append(mask)  # an id stays this tensor's while it is cached
        return self._masks[id(mask)]


_ACTIVE: ContextVar[_Recorder | None] = ContextVar("llmxai_attention_recorder", default=None)


def _capture_attention(module, query, key, value, attention_mask, **kwargs):
    recorder = _ACTIVE.get()
    if recorder is not None:
        recorder.record(module, query, key, attention_mask, kwargs)
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


_registered = False


def _register() -> None:
    global _registered
    if _registered:
        return
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
    from transformers.modeling_utils import AttentionInterface

    AttentionInterface.register(CAPTURE, _capture_attention)
    # SDPA's masks, causal shortcut included: the kernel then runs its memory-lean causal path
    # and the recomputation applies the causal mask itself (QueryKey.causal).
    AttentionMaskInterface.register(CAPTURE, sdpa_mask)
    _registered = True


def supports_capture(model) -> bool:
    return model.config.model_type in CAPTURE_TYPES


_ALLOCATOR_TUNED = False


def _keep_large_allocations_returnable() -> None:
    """Pin glibc's mmap threshold at 128 KB (once per process, Linux/glibc only).

    A long input's forward pass frees tens of MB per layer while the recorded queries and keys
    stay; with glibc's default (a threshold that grows up to 32 MB after large frees) the freed
    blocks end up in the heap between the kept ones and are never returned: measured at 4,096
    tokens on SmolLM2, peak RSS 2.05 GB by default, 1.36 GB with the fixed threshold. Set
    LLMXAI_WIDGETS_KEEP_MALLOC=1 to leave the allocator alone.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED or os.environ.get("LLMXAI_WIDGETS_KEEP_MALLOC") or not sys.platform.startswith("linux"):
        return
    _ALLOCATOR_TUNED = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        pass


@contextmanager
def recording(model, modules_by_layer: dict[object, torch.nn.Module], on_record):
    """Run forward passes of ``model`` (a LoadedModel) with the recording attention; restore after.
    ``on_record(key, QueryKey)`` gets the key ``modules_by_layer`` gives each module."""
    _register()
    _keep_large_allocations_returnable()
    hf = model.model
    before = getattr(model.config, "_attn_implementation", None)
    token = _ACTIVE.set(_Recorder({id(m): layer for layer, m in modules_by_layer.items()}, on_record))
    hf.set_attn_implementation(CAPTURE)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
        hf.set_attn_implementation(before or "sdpa")
