"""Attention weights, captured layer by layer as the forward pass runs."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import numpy as np
import torch

from ..hooks import capture, select
from ..models.wrapped import LoadedModel, Tokens
from ..results import AttentionResult
from .registry import register


class Cancelled(Exception):
    """Raised inside a computation to stop it; partial results are kept."""


def check_index(value: object, count: int, what: str, owner: str) -> int:
    """Validate a layer/head index with an error that names the valid range."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {type(value).__name__} {value!r}")
    if not 0 <= int(value) < count:
        raise IndexError(
            f"{what} {value} is out of range: {owner} has {count} {what}s, numbered 0-{count - 1}"
        )
    return int(value)


def resolve_layers(model: LoadedModel, layers) -> list[int]:
    if layers is None:
        return list(range(model.n_layers))
    if isinstance(layers, (int, np.integer)):
        layers = [layers]
    out = [check_index(layer, model.n_layers, "layer", model.name) for layer in layers]
    if not out:
        raise ValueError("layers is empty; pass None for every layer or a list such as [0, 5]")
    return sorted(set(out))


@contextmanager
def eager_attention(model: LoadedModel):
    """Run the model with eager attention (which returns its weights), then restore.

    SDPA and flash kernels never materialise the weights; issue 3 replaces this with a
    recomputation from captured queries and keys so the fast kernel can stay on.
    """
    before = getattr(model.config, "_attn_implementation", None)
    switch = before not in (None, "eager")
    if switch:
        model.model.set_attn_implementation("eager")
    try:
        yield
    finally:
        if switch:
            model.model.set_attn_implementation(before)


@register("attention")
def attention(
    model: LoadedModel,
    text: str | Tokens,
    layers=None,
    *,
    on_layer: Callable[[int, np.ndarray], None] | None = None,
    keep_partial: bool = False,
) -> AttentionResult:
    """Attention weights ``pattern[layer, head, query, key]`` of ``text`` for ``layers``.

    ``on_layer(layer, weights[head, query, key])`` runs as each layer finishes (in forward
    order); raising :class:`Cancelled` there stops the pass and returns the layers done so far
    with ``complete=False``. With ``keep_partial``, an error after some layers finished also
    returns them (``complete=False``, the error in ``failure``) instead of losing them.
    """
    tokens = text if isinstance(text, Tokens) else model.tokenize(text)
    model.check_length(tokens)
    wanted = resolve_layers(model, layers)
    modules = {str(layer): model.attention_module(layer) for layer in wanted}
    done: dict[int, np.ndarray] = {}

    def arrived(name: str, weights: torch.Tensor) -> None:
        layer = int(name)
        done[layer] = weights[0].to(torch.float32).numpy()
        if on_layer is not None:
            on_layer(layer, done[layer])

    ids = torch.as_tensor(tokens.ids, device=model.device)[None]
    complete = True
    failure = None
    with eager_attention(model), torch.inference_mode():
        picker = select(model.architecture.attention_weights_index)
        with capture(modules, pick=picker, on_capture=arrived, keep=False):
            try:
                _forward(model, ids)
            except Cancelled:
                complete = False
            except Exception as err:
                if not (keep_partial and done):
                    raise
                complete, failure = False, f"{type(err).__name__}: {err}"
    if complete and len(done) != len(wanted):
        raise RuntimeError(
            f"{model.name}: the attention modules returned no weights for layers "
            f"{sorted(set(wanted) - set(done))}; this architecture's attention is not supported yet"
        )
    got = [layer for layer in wanted if layer in done]
    n = len(tokens)
    pattern = (
        np.stack([done[layer] for layer in got])
        if got
        else np.zeros((0, model.n_heads, n, n), np.float32)
    )
    return AttentionResult(
        tokens=tokens,
        pattern=pattern,
        layers=got,
        kv_group=model.kv_group,
        model_name=model.name,
        n_model_layers=model.n_layers,
        complete=complete,
        failure=failure,
    )


def _forward(model: LoadedModel, ids: torch.Tensor) -> None:
    if model.kind == "seq2seq":
        # Decoder self-attention over the same text (teacher forcing); cross-attention is issue 3.
        model.model(input_ids=ids, decoder_input_ids=ids)
    else:
        model.model(input_ids=ids)
