"""Attention weights, captured layer by layer as the forward pass runs."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import numpy as np
import torch

from ..hooks import capture, select
from ..models.wrapped import LoadedModel, Tokens
from ..results import AttentionResult, StoredWeights
from .attention_capture import recording, supports_capture
from .registry import register


class Cancelled(Exception):
    """Raised inside a computation to stop it; partial results are kept."""


class _Finished(Exception):
    """Every layer asked for is done: stop the forward pass early."""


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
    """Run the model with eager attention (which returns its weights), then restore."""
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
    on_layer: Callable[[int, AttentionResult], None] | None = None,
    keep_partial: bool = False,
    method: str = "auto",
) -> AttentionResult:
    """Attention weights of ``text`` for ``layers`` (all by default), as an :class:`AttentionResult`.

    ``method="auto"`` records each layer's queries and keys while the model runs its fast SDPA
    kernel and recomputes weights per head on demand (see ``attention_capture``); models it does
    not cover run with eager attention and store each layer's weights. ``method="eager"``
    forces the latter.

    ``on_layer(layer, result)`` runs as each layer finishes (in forward order; ``result.head``
    already works for it); raising :class:`Cancelled` there stops the pass and returns the layers
    done so far with ``complete=False``. With ``keep_partial``, an error after some layers
    finished also returns them (``complete=False``, the error in ``failure``) instead of losing
    them.
    """
    if method not in ("auto", "eager"):
        raise ValueError(f"method must be 'auto' or 'eager', got {method!r}")
    tokens = text if isinstance(text, Tokens) else model.tokenize(text)
    model.check_length(tokens)
    wanted = resolve_layers(model, layers)
    result = AttentionResult(
        tokens=tokens,
        layers=[],
        kv_group=model.kv_group,
        model_name=model.name,
        n_model_layers=model.n_layers,
        n_heads=model.n_heads,
        complete=False,
    )

    last = max(wanted)

    def arrived(layer: int, source) -> None:
        result.sources[layer] = source
        result.layers.append(layer)
        if on_layer is not None:
            on_layer(layer, result)
        if layer == last:
            raise _Finished  # the layers above the last one asked for are not needed

    modules = {layer: model.attention_module(layer) for layer in wanted}
    ids = torch.as_tensor(tokens.ids, device=model.device)[None]
    if method == "auto" and supports_capture(model):
        runner = recording(model, modules, arrived)
    else:
        runner = _eager_weights(model, modules, arrived)
    try:
        with model.lock, runner, torch.inference_mode():
            _forward(model, ids, tokens)
    except _Finished:
        result.complete = True
    except Cancelled:
        pass
    except Exception as err:
        if not (keep_partial and result.layers):
            raise
        result.failure = f"{type(err).__name__}: {err}"
    else:  # the pass ended without reaching the last layer asked for
        raise RuntimeError(
            f"{model.name}: no attention was recorded for layers "
            f"{sorted(set(wanted) - set(result.layers))}; this architecture is not supported yet"
        )
    result.layers.sort()
    return result


@contextmanager
def _eager_weights(model: LoadedModel, modules: dict, arrived):
    """Eager attention, taking each layer's weights from its attention module's output."""
    picker = select(model.architecture.attention_weights_index)

    def on_capture(name: str, weights: torch.Tensor) -> None:
        arrived(int(name), StoredWeights(weights[0].to(torch.float32).numpy()))

    named = {str(layer): module for layer, module in modules.items()}
    with eager_attention(model), capture(named, pick=picker, on_capture=on_capture, keep=False):
        yield


def _forward(model: LoadedModel, ids: torch.Tensor, tokens: Tokens) -> None:
    extra = {}
    if tokens.segments is not None and getattr(model.config, "type_vocab_size", 1) > 1:
        extra["token_type_ids"] = torch.as_tensor(tokens.segments, device=ids.device)[None]
    if model.kind == "seq2seq":
        # Decoder self-attention over the same text (teacher forcing); cross-attention is next.
        model.model(input_ids=ids, decoder_input_ids=ids)
    else:
        # The base model: no language-model head, whose logits over the whole vocabulary cost
        # more than every attention layer together on long inputs.
        model.model.base_model(input_ids=ids, **extra)
