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
from .forward import no_cache
from .registry import register


class Cancelled(Exception):
    """Raised inside a computation to stop it; partial results are kept."""


class _Finished(Exception):
    """Every layer asked for is done: stop the forward pass early."""


def check_index(value: object, count: int, what: str, owner: str, plural: str | None = None) -> int:
    """Validate a layer/head index with an error that names the valid range (``owner`` has
    ``count`` ``plural``, default ``what`` + "s")."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {type(value).__name__} {value!r}")
    if not 0 <= int(value) < count:
        raise IndexError(
            f"{what} {value} is out of range: {owner} has {count} {plural or what + 's'}, numbered 0-{count - 1}"
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


PARTS = ("self", "encoder", "decoder", "cross")
"""Which attention an :class:`AttentionResult` holds: a single-stack model's "self"-attention, or
an encoder-decoder's "encoder" self-attention, "decoder" self-attention, or "cross"-attention
(decoder tokens reading encoder tokens)."""
SEQ2SEQ_PARTS = ("encoder", "decoder", "cross")


@register("attention")
def attention(
    model: LoadedModel,
    text: str | Tokens,
    layers=None,
    *,
    target: str | Tokens | None = None,
    part: str | None = None,
    max_new_tokens: int = 32,
    on_layer: Callable[[int, AttentionResult], None] | None = None,
    keep_partial: bool = False,
    method: str = "auto",
) -> AttentionResult:
    """Attention weights of ``text`` for ``layers`` (all by default), as an :class:`AttentionResult`.

    ``method="auto"`` records each layer's queries and keys while the model runs its fast SDPA
    kernel and recomputes weights per head on demand (see ``attention_capture``); models it does
    not cover run with eager attention and store each layer's weights. ``method="eager"``
    forces the latter.

    Encoder-decoder models (T5, BART): ``text`` is the encoder's input and ``target`` what the
    decoder reads (teacher forcing; None: the model's greedy output of up to ``max_new_tokens``
    tokens); ``part`` picks "cross" (default: decoder tokens reading encoder tokens),
    "encoder" or "decoder" self-attention. :func:`encoder_decoder_attention` returns all three
    from one forward pass.

    ``on_layer(layer, result)`` runs as each layer finishes (in forward order; ``result.head``
    already works for it); raising :class:`Cancelled` there stops the pass and returns the layers
    done so far with ``complete=False``. With ``keep_partial``, an error after some layers
    finished also returns them (``complete=False``, the error in ``failure``) instead of losing
    them.
    """
    if model.kind == "seq2seq":
        part = "cross" if part is None else part
        if part not in SEQ2SEQ_PARTS:
            raise ValueError(f"part must be one of {', '.join(map(repr, SEQ2SEQ_PARTS))} for {model.name}, got {part!r}")
        callback = None if on_layer is None else (lambda _part, layer, result: on_layer(layer, result))
        return encoder_decoder_attention(
            model, text, target, layers, parts=(part,), max_new_tokens=max_new_tokens,
            on_layer=callback, keep_partial=keep_partial, method=method,
        )[part]
    if part not in (None, "self"):
        raise ValueError(
            f"part={part!r} is for encoder-decoder models; {model.name} is a {model.kind} model with one "
            f"attention stack: leave part out"
        )
    if target is not None:
        raise ValueError(
            f"target= is the decoder text of an encoder-decoder model; {model.name} is a {model.kind} "
            f"model: put the whole text in text"
        )
    _check_method(method)
    tokens = text if isinstance(text, Tokens) else model.tokenize(text)
    model.check_length(tokens)
    wanted = resolve_layers(model, layers)
    result = _empty_result(model, "self", tokens, None, model.n_layers, causal=model.kind == "causal")
    modules = {("self", layer): model.attention_module(layer) for layer in wanted}
    callback = None if on_layer is None else (lambda _part, layer, r: on_layer(layer, r))
    ids = torch.as_tensor(tokens.ids, device=model.device)[None]
    extra = {}
    if tokens.segments is not None and getattr(model.config, "type_vocab_size", 1) > 1:
        extra["token_type_ids"] = torch.as_tensor(tokens.segments, device=ids.device)[None]

    def forward() -> None:
        # The base model: no language-model head, whose logits over the whole vocabulary cost
        # more than every attention layer together on long inputs.
        model.model.base_model(input_ids=ids, **extra, **no_cache(model))

    _run(model, {"self": result}, modules, forward, callback, keep_partial, method)
    return result


def encoder_decoder_attention(
    model: LoadedModel,
    text: str | Tokens,
    target: str | Tokens | None = None,
    layers=None,
    *,
    parts=SEQ2SEQ_PARTS,
    max_new_tokens: int = 32,
    on_layer: Callable[[str, int, AttentionResult], None] | None = None,
    keep_partial: bool = False,
    method: str = "auto",
) -> dict[str, AttentionResult]:
    """Encoder self-attention, decoder self-attention and cross-attention of an encoder-decoder
    model, from one forward pass: ``{"encoder": ..., "decoder": ..., "cross": ...}`` (the
    ``parts`` asked for).

    ``text`` is the encoder's input. The decoder reads ``target`` (teacher forcing: its start
    token, then ``target``'s tokens) or, when ``target`` is None, the model's greedy output of up
    to ``max_new_tokens`` tokens. In the "cross" result, ``tokens`` are the decoder's (queries)
    and ``key_tokens`` the encoder's. ``layers`` counts the blocks of each stack (a layer missing
    from the encoder is skipped there). ``on_layer(part, layer, result)`` runs as each finishes.
    """
    if model.kind != "seq2seq":
        raise ValueError(f"{model.name} is a {model.kind} model, not an encoder-decoder; use attention()")
    _check_method(method)
    parts = tuple(parts)
    unknown = [p for p in parts if p not in SEQ2SEQ_PARTS]
    if unknown or not parts:
        raise ValueError(f"parts must be chosen from {', '.join(map(repr, SEQ2SEQ_PARTS))}, got {parts!r}")
    source = text if isinstance(text, Tokens) else model.tokenize(text)
    model.check_length(source)
    if isinstance(target, Tokens):
        decoded = target
    elif target is not None:
        decoded = model.decoder_tokens(target)
    else:
        decoded = _greedy_decoder_tokens(model, source, max_new_tokens)
    n_enc, n_dec = model.n_layers_of("encoder"), model.n_layers_of("decoder")
    deepest = max(n_enc, n_dec)
    if layers is None:
        asked = list(range(deepest))
    else:
        asked = [check_index(l, deepest, "layer", model.name) for l in ([layers] if isinstance(layers, (int, np.integer)) else layers)]
    wanted = {"encoder": [l for l in asked if l < n_enc], "decoder": [l for l in asked if l < n_dec]}
    results, modules = {}, {}
    for part in parts:
        stack = "encoder" if part == "encoder" else "decoder"
        queries, keys = (source, None) if part == "encoder" else (decoded, source if part == "cross" else None)
        results[part] = _empty_result(model, part, queries, keys, n_enc if part == "encoder" else n_dec,
                                      causal=part == "decoder")
        for layer in wanted[stack]:
            modules[(part, layer)] = model.attention_module(layer, stack, cross=part == "cross")
    if not modules:
        raise ValueError(f"no layer asked for exists in the parts {parts!r} of {model.name}")
    enc_ids = torch.as_tensor(source.ids, device=model.device)[None]
    dec_ids = torch.as_tensor(decoded.ids, device=model.device)[None]

    def forward() -> None:
        model.model(input_ids=enc_ids, decoder_input_ids=dec_ids, use_cache=False)

    _run(model, results, modules, forward, on_layer, keep_partial, method)
    return results


def _greedy_decoder_tokens(model: LoadedModel, source: Tokens, max_new_tokens: int) -> Tokens:
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
    ids = torch.as_tensor(source.ids, device=model.device)[None]
    with model.lock, torch.inference_mode():
        out = model.model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=int(max_new_tokens), do_sample=False
        )[0].tolist()
    eos = getattr(model.config, "eos_token_id", None)
    eos = set(eos if isinstance(eos, (list, tuple)) else [eos])
    if len(out) > 1 and out[-1] in eos:
        out = out[:-1]  # predicted after the last token, never read by the decoder
    return model.tokens_from_ids(out)


def _check_method(method: str) -> None:
    if method not in ("auto", "eager"):
        raise ValueError(f"method must be 'auto' or 'eager', got {method!r}")


def _empty_result(model, part, tokens, key_tokens, n_model_layers, *, causal) -> AttentionResult:
    return AttentionResult(
        tokens=tokens,
        layers=[],
        kv_group=model.kv_group,
        model_name=model.name,
        n_model_layers=n_model_layers,
        n_heads=model.n_heads,
        complete=False,
        part=part,
        key_tokens=key_tokens,
        causal=causal,
    )


def _forward_order(key: tuple[str, int]) -> tuple[int, int, int]:
    # every encoder (or single-stack) layer, then each decoder block's self- then cross-attention
    part, layer = key
    return (0 if part in ("self", "encoder") else 1, layer, 1 if part == "cross" else 0)


def _run(model, results: dict, modules: dict, forward, on_layer, keep_partial: bool, method: str) -> None:
    """Run ``forward`` recording the attention of ``modules`` ((part, layer) -> module) into
    ``results[part]``; stop as soon as the last one asked for has arrived."""
    last = max(modules, key=_forward_order)

    def arrived(key, source) -> None:
        part, layer = key
        result = results[part]
        result.sources[layer] = source
        result.layers.append(layer)
        if on_layer is not None:
            on_layer(part, layer, result)
        if key == last:
            raise _Finished  # the layers above the last one asked for are not needed

    if method == "auto" and supports_capture(model):
        runner = recording(model, modules, arrived)
    else:
        runner = _eager_weights(model, modules, arrived)
    try:
        with model.lock, runner, torch.inference_mode():
            forward()
    except _Finished:
        for result in results.values():
            result.complete = True
    except Cancelled:
        pass
    except Exception as err:
        if not (keep_partial and any(r.layers for r in results.values())):
            raise
        for result in results.values():
            result.failure = f"{type(err).__name__}: {err}"
    else:  # the pass ended without reaching the last layer asked for
        missing = [key for key in modules if key[1] not in results[key[0]].sources]
        raise RuntimeError(
            f"{model.name}: no attention was recorded for {missing[:6]}; this architecture is not supported yet"
        )
    for result in results.values():
        result.layers.sort()


@contextmanager
def _eager_weights(model: LoadedModel, modules: dict, arrived):
    """Eager attention, taking each layer's weights from its attention module's output."""
    picker = select(model.architecture.attention_weights_index)

    keys = {f"{part}.{layer}": (part, layer) for part, layer in modules}

    def on_capture(name: str, weights: torch.Tensor) -> None:
        arrived(keys[name], StoredWeights(weights[0].to(torch.float32).numpy()))

    named = {f"{part}.{layer}": module for (part, layer), module in modules.items()}
    with eager_attention(model), capture(named, pick=picker, on_capture=on_capture, keep=False):
        yield
