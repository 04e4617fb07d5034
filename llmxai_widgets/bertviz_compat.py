"""Drop-in replacements for bertviz's ``head_view`` and ``model_view``.

Change ``from bertviz import head_view, model_view`` to
``from llmxai_widgets import head_view, model_view``: the same arguments (a tuple of per-layer
attention tensors ``[batch, head, query, key]`` as transformers returns with
``output_attentions=True``, and the token strings) open our canvas views, which stay fast on long
inputs. Encoder-decoder arguments (``encoder_attention=`` ...) pick one of the three attentions.
"""

from __future__ import annotations

import numpy as np

from .models.wrapped import Tokens
from .results import AttentionResult, StoredWeights
from .widgets.attention import AttentionView

_MARKERS = ("\u0120", "\u2581", "\u010a")  # GPT-2 space, SentencePiece space, GPT-2 newline


def _pretty(token: str) -> str:
    if token.startswith("##"):
        return token[2:]
    for marker, plain in zip(_MARKERS, (" ", " ", "\n")):
        token = token.replace(marker, plain)
    return token


def _as_numpy(layer) -> np.ndarray:
    array = layer.detach().float().cpu().numpy() if hasattr(layer, "detach") else np.asarray(layer, np.float32)
    if array.ndim == 4:
        if array.shape[0] != 1:
            raise ValueError(
                f"attention has batch size {array.shape[0]}; pass one example, e.g. "
                f"tuple(a[:1] for a in attention)"
            )
        array = array[0]
    if array.ndim != 3:
        raise ValueError(f"each layer's attention must be [batch, head, query, key]; got shape {array.shape}")
    return array.astype(np.float32, copy=False)


def _result(attention, tokens, *, prettify: bool, include_layers=None) -> AttentionResult:
    if attention is None or tokens is None:
        raise ValueError("pass attention= (a tuple of per-layer tensors) and tokens= (their strings)")
    layers = [_as_numpy(a) for a in attention]
    if not layers:
        raise ValueError("attention is empty: pass the model's output.attentions (one tensor per layer)")
    n_heads, n_query, n_key = layers[0].shape
    text = [_pretty(t) if prettify else str(t) for t in tokens]
    if n_key != len(text):
        raise ValueError(f"attention covers {n_key} tokens but {len(text)} tokens were given")
    keep = list(range(len(layers))) if include_layers is None else sorted(include_layers)
    n = len(text)
    return AttentionResult(
        tokens=Tokens(
            source="".join(text), ids=np.zeros(n, np.int64), text=text,
            offsets=np.full((n, 2), -1, np.int64), special=np.zeros(n, bool),
        ),
        layers=keep,
        kv_group=np.arange(n_heads),
        model_name="attention",
        n_model_layers=len(layers),
        n_heads=n_heads,
        sources={layer: StoredWeights(layers[layer]) for layer in keep},
    )


def _pick(attention, tokens, encoder_attention, decoder_attention, cross_attention,
          encoder_tokens, decoder_tokens):
    if attention is not None:
        return attention, tokens
    for weights, toks in ((encoder_attention, encoder_tokens), (decoder_attention, decoder_tokens)):
        if weights is not None:
            return weights, toks
    if cross_attention is not None:
        raise NotImplementedError(
            "cross-attention (decoder queries over encoder keys) is not shown yet; pass "
            "encoder_attention= or decoder_attention="
        )
    return None, tokens


def _view(result: AttentionResult, *, layer: int, head: int, mode: str, sentence_b_start) -> AttentionView:
    n = len(result.tokens)
    first = result.sources[result.layers[0]].array
    causal = n > 1 and bool(np.all(np.triu(first, 1) == 0))
    view = AttentionView.from_result(result, layer=layer, head=head)
    with view.hold_sync():
        view.causal = causal
        if sentence_b_start is not None:
            view.segments = [0 if i < sentence_b_start else 1 for i in range(n)]
        view.mode = mode
    return view


def head_view(attention=None, tokens=None, sentence_b_start=None, prettify_tokens=True, layer=None,
              heads=None, encoder_attention=None, decoder_attention=None, cross_attention=None,
              encoder_tokens=None, decoder_tokens=None, include_layers=None, html_action="view"):
    """bertviz's ``head_view`` arguments; opens the attention matrix of ``layer`` (first of ``heads``)."""
    attention, tokens = _pick(attention, tokens, encoder_attention, decoder_attention, cross_attention,
                              encoder_tokens, decoder_tokens)
    result = _result(attention, tokens, prettify=prettify_tokens, include_layers=include_layers)
    layer = result.layers[0] if layer is None else layer
    head = heads[0] if heads else 0
    return _view(result, layer=layer, head=head, mode="matrix", sentence_b_start=sentence_b_start)


def model_view(attention=None, tokens=None, sentence_b_start=None, prettify_tokens=True, display_mode="dark",
               encoder_attention=None, decoder_attention=None, cross_attention=None, encoder_tokens=None,
               decoder_tokens=None, include_layers=None, include_heads=None, html_action="view"):
    """bertviz's ``model_view`` arguments; opens the layers x heads grid of thumbnails."""
    attention, tokens = _pick(attention, tokens, encoder_attention, decoder_attention, cross_attention,
                              encoder_tokens, decoder_tokens)
    result = _result(attention, tokens, prettify=prettify_tokens, include_layers=include_layers)
    head = include_heads[0] if include_heads else 0
    return _view(result, layer=result.layers[0], head=head, mode="model", sentence_b_start=sentence_b_start)
