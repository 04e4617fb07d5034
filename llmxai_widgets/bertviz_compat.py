"""Drop-in replacements for bertviz's ``head_view`` and ``model_view``.

Change ``from bertviz import head_view, model_view`` to
``from llmxai_widgets import head_view, model_view``: the same arguments (a tuple of per-layer
attention tensors ``[batch, head, query, key]`` as transformers returns with
``output_attentions=True``, and the token strings) open our canvas views, which stay fast on long
inputs. Encoder-decoder arguments (``encoder_attention=``, ``decoder_attention=``,
``cross_attention=`` with ``encoder_tokens=``/``decoder_tokens=``) open a view that switches
between the attentions given, cross-attention first.
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


def _tokens(tokens, prettify: bool, sentence_b_start=None) -> Tokens:
    text = [_pretty(t) if prettify else str(t) for t in tokens]
    n = len(text)
    segments = None
    if sentence_b_start is not None:
        segments = np.asarray([0 if i < sentence_b_start else 1 for i in range(n)], np.int64)
    return Tokens(
        source="".join(text), ids=np.zeros(n, np.int64), text=text,
        offsets=np.full((n, 2), -1, np.int64), special=np.zeros(n, bool), segments=segments,
    )


def _result(attention, tokens, *, prettify: bool, include_layers=None, part: str = "self",
            key_tokens=None, sentence_b_start=None, what: str = "attention") -> AttentionResult:
    if attention is None or tokens is None:
        raise ValueError(f"pass {what}= (a tuple of per-layer tensors) and its tokens= (their strings)")
    layers = [_as_numpy(a) for a in attention]
    if not layers:
        raise ValueError(f"{what} is empty: pass the model's output.attentions (one tensor per layer)")
    n_heads, n_query, n_key = layers[0].shape
    queries = _tokens(tokens, prettify, sentence_b_start)
    keys = None if key_tokens is None else _tokens(key_tokens, prettify)
    if n_query != len(queries) or n_key != len(keys if keys is not None else queries):
        raise ValueError(
            f"{what} covers {n_query} x {n_key} tokens but {len(queries)}"
            f"{'' if keys is None else f' x {len(keys)}'} tokens were given"
        )
    keep = list(range(len(layers))) if include_layers is None else sorted(include_layers)
    first = layers[keep[0]]
    causal = keys is None and n_query > 1 and bool(np.all(np.triu(first, 1) == 0))
    return AttentionResult(
        tokens=queries,
        layers=keep,
        kv_group=np.arange(n_heads),
        model_name="attention",
        n_model_layers=len(layers),
        n_heads=n_heads,
        sources={layer: StoredWeights(layers[layer]) for layer in keep},
        part=part,
        key_tokens=keys,
        causal=causal,
    )


def _results(attention, tokens, sentence_b_start, prettify, include_layers, encoder_attention, decoder_attention,
             cross_attention, encoder_tokens, decoder_tokens) -> dict[str, AttentionResult]:
    if attention is not None or (encoder_attention is None and decoder_attention is None and cross_attention is None):
        return {"self": _result(attention, tokens, prettify=prettify, include_layers=include_layers,
                                sentence_b_start=sentence_b_start)}
    out = {}
    if cross_attention is not None:
        if encoder_tokens is None or decoder_tokens is None:
            raise ValueError("cross_attention needs encoder_tokens= (its keys) and decoder_tokens= (its queries)")
        out["cross"] = _result(cross_attention, decoder_tokens, prettify=prettify, include_layers=include_layers,
                               part="cross", key_tokens=encoder_tokens, what="cross_attention")
    if encoder_attention is not None:
        out["encoder"] = _result(encoder_attention, encoder_tokens, prettify=prettify, part="encoder",
                                 include_layers=include_layers, what="encoder_attention")
    if decoder_attention is not None:
        out["decoder"] = _result(decoder_attention, decoder_tokens, prettify=prettify, part="decoder",
                                 include_layers=include_layers, what="decoder_attention")
    return out


def _view(results: dict, *, layer, head: int, mode: str) -> AttentionView:
    first = next(iter(results.values()))
    return AttentionView.from_result(results, layer=first.layers[0] if layer is None else layer, head=head, mode=mode)


def head_view(attention=None, tokens=None, sentence_b_start=None, prettify_tokens=True, layer=None,
              heads=None, encoder_attention=None, decoder_attention=None, cross_attention=None,
              encoder_tokens=None, decoder_tokens=None, include_layers=None, html_action="view"):
    """bertviz's ``head_view`` arguments; opens our head view (lines per head) of ``layer``,
    the first of ``heads`` selected for the other views."""
    results = _results(attention, tokens, sentence_b_start, prettify_tokens, include_layers, encoder_attention,
                       decoder_attention, cross_attention, encoder_tokens, decoder_tokens)
    return _view(results, layer=layer, head=heads[0] if heads else 0, mode="head")


def model_view(attention=None, tokens=None, sentence_b_start=None, prettify_tokens=True, display_mode="dark",
               encoder_attention=None, decoder_attention=None, cross_attention=None, encoder_tokens=None,
               decoder_tokens=None, include_layers=None, include_heads=None, html_action="view"):
    """bertviz's ``model_view`` arguments; opens the layers x heads grid of thumbnails."""
    results = _results(attention, tokens, sentence_b_start, prettify_tokens, include_layers, encoder_attention,
                       decoder_attention, cross_attention, encoder_tokens, decoder_tokens)
    return _view(results, layer=None, head=include_heads[0] if include_heads else 0, mode="model")
