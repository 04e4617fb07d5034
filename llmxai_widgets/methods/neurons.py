"""MLP neuron activations: what each hidden unit of each block does at each token.

A "neuron" is one unit of a block's MLP hidden layer after its non-linearity (the architecture
table's ``mlp_activation``): for LLaMA's gated units ``act(gate) * up``, the input of
``down_proj``; for GPT-2 the output of ``mlp.act``; for BERT the output of the intermediate
activation. Values are in the model's own units (unnormalised).

- :func:`neurons`: every neuron of the layers asked for at every token of one text, streamed
  layer by layer from one forward pass.
- :func:`top_activating`: the tokens of a corpus where one neuron fires most.
- :func:`nmf` (in ``neuron_factors``): ecco-style non-negative factors of the activations.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..models.wrapped import LoadedModel, Tokens
from .attention import Cancelled, check_index, resolve_layers
from ..lazy import check_fits
from .forward import check_count, first_tensor, release_freed_memory, run_hooked, tokens_of
from .neuron_factors import NMFResult, factorize, nmf
from .registry import register

__all__ = [
    "NMFResult", "NeuronExample", "NeuronResult", "TopActivations", "factorize", "neurons", "nmf",
    "top_activating",
]


@dataclass
class NeuronResult:
    """MLP activations of one text.

    - ``activations[layer_index, token, neuron]``: float32, after the MLP non-linearity. Row ``i``
      is model layer ``layers[i]``; rows of layers not finished yet (``layers_done``) are zeros.
    - ``top[layer_index, token, rank]``: int64 ids of the ``top_k`` neurons with the highest
      activation at that token, highest first (``-1`` in rows not finished yet).
    - ``complete``: False when the pass was cancelled; ``layers_done`` lists the finished layers.
    """

    tokens: Tokens
    layers: list[int]
    activations: np.ndarray
    top: np.ndarray
    top_k: int
    model_name: str
    n_model_layers: int
    layers_done: list[int] = field(default_factory=list)
    complete: bool = False

    def row(self, layer: int) -> int:
        """Index into ``activations``/``top`` of model layer ``layer`` (it must have finished)."""
        if layer not in self.layers_done:
            raise ValueError(
                f"layer {layer} is not in this result (it holds layers {self.layers_done}); "
                f"compute it with neurons(model, text, layers=[{layer}])"
            )
        return self.layers.index(layer)

    def layer(self, layer: int) -> np.ndarray:
        """``[token, neuron]`` activations of model layer ``layer``."""
        return self.activations[self.row(layer)]

    def top_neurons(self, token: int, k: int | None = None, *, layer: int | None = None) -> list[tuple[int, int, float]]:
        """The ``k`` (default ``top_k``) most active neurons at ``token`` as ``[(layer, neuron,
        activation)]``, highest first: in model layer ``layer``, or over every finished layer."""
        token = check_index(token, len(self.tokens), "token", "the text")
        k = check_count(self.top_k if k is None else k, "k", "top_neurons(0, k=5)")
        rows = [self.row(layer)] if layer is not None else [self.layers.index(l) for l in self.layers_done]
        found = []
        for r in rows:
            values = self.activations[r, token]
            ids = np.argsort(-values, kind="stable")[:k]
            found += [(self.layers[r], int(n), float(values[n])) for n in ids]
        return sorted(found, key=lambda item: -item[2])[:k]


@register("neurons")
def neurons(
    model: LoadedModel,
    text: str | Tokens,
    layers=None,
    *,
    top_k: int = 10,
    on_layer: Callable[[int, np.ndarray], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> NeuronResult:
    """MLP activations of ``text`` for ``layers`` (all by default) from one forward pass.

    ``on_layer(layer, activations)`` runs as each layer finishes (forward order) with that
    layer's ``[token, neuron]`` float32 array, so a view can draw before the pass ends. When
    ``cancelled()`` turns True (checked after each layer) or ``on_layer`` raises
    :class:`~llmxai_widgets.methods.Cancelled`, the pass stops and the finished layers are
    returned with ``complete=False``. The pass stops after the last layer asked for.
    """
    tokens = tokens_of(model, text)
    wanted = resolve_layers(model, layers)
    top_k = min(check_count(top_k, "top_k", "top_k=10"), model.n_neurons)
    n_tokens = len(tokens)
    check_fits(
        len(wanted) * n_tokens * (model.n_neurons * 4 + top_k * 8),
        f"neurons() of {len(wanted)} layers x {n_tokens:,} tokens x {model.n_neurons:,} neurons",
        f"Ask for fewer layers, e.g. neurons(model, text, layers=[{wanted[-1]}]), or a shorter text.",
    )
    result = NeuronResult(
        tokens=tokens,
        layers=wanted,
        activations=np.zeros((len(wanted), n_tokens, model.n_neurons), dtype=np.float32),
        top=np.full((len(wanted), n_tokens, top_k), -1, dtype=np.int64),
        top_k=top_k,
        model_name=model.name,
        n_model_layers=model.n_layers,
    )
    modules, what = {}, {}
    for layer in wanted:
        modules[str(layer)], what[str(layer)] = model.mlp_activation_module(layer)

    def arrived(name: str, tensor: torch.Tensor) -> None:
        layer = int(name)
        row = wanted.index(layer)
        values = tensor[0].to(torch.float32)
        result.activations[row] = values.numpy()
        result.top[row] = torch.topk(values, top_k, dim=-1).indices.numpy()
        result.layers_done.append(layer)
        if n_tokens >= 1024:
            del values
            release_freed_memory()
        if on_layer is not None:
            on_layer(layer, result.activations[row])
        if cancelled():
            raise Cancelled

    try:
        reached = run_hooked(model, tokens, modules, arrived, what=what, pick=first_tensor, last=str(wanted[-1]))
    except Cancelled:
        return result
    if not reached:
        raise RuntimeError(f"{model.name}: no MLP activation was recorded for layer {wanted[-1]}; "
                           f"check ARCHITECTURES[{model.config.model_type!r}].mlp_activation")
    result.complete = True
    return result


@dataclass
class NeuronExample:
    """One token where a neuron fired.

    - ``text_index``: which corpus text; ``position``: the token's index in it.
    - ``window[i]``: the token strings from ``position - context`` to ``position + context``
      (clipped to the text); ``center``: the index of the token itself in ``window``.
    - ``window_activations[i]``: float32, the neuron's activation at each window token.
    """

    text_index: int
    position: int
    token: str
    activation: float
    window: list[str]
    window_activations: np.ndarray
    center: int


@dataclass
class TopActivations:
    """The tokens of a corpus where neuron ``neuron`` of layer ``layer`` fires most.

    - ``examples``: at most ``k`` :class:`NeuronExample`, highest activation first.
    - ``texts_done`` of ``n_texts`` were read; ``complete`` is False when cancelled part-way.
    """

    layer: int
    neuron: int
    examples: list[NeuronExample]
    model_name: str
    n_texts: int
    texts_done: int = 0
    complete: bool = False

    @property
    def activations(self) -> np.ndarray:
        """``[example]`` float32 activations, highest first."""
        return np.asarray([e.activation for e in self.examples], dtype=np.float32)


@register("top_activating")
def top_activating(
    model: LoadedModel,
    corpus: Sequence[str],
    layer: int,
    neuron: int,
    *,
    k: int = 20,
    context: int = 8,
    include_special: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> TopActivations:
    """The ``k`` tokens of ``corpus`` (a list of texts) where MLP ``neuron`` of ``layer`` is
    highest, each with ``context`` tokens either side.

    One forward pass per text, stopped after ``layer``. ``on_progress(done, total)`` runs after
    each text; when ``cancelled()`` turns True (checked before each text) the examples found so
    far are returned with ``complete=False``. Special tokens (BOS, [CLS], ...) are not candidates
    unless ``include_special``.
    """
    texts = _check_corpus(corpus)
    layer = check_index(layer, model.n_layers, "layer", model.name)
    neuron = check_index(neuron, model.n_neurons, "neuron", f"layer {layer} of {model.name}")
    k = check_count(k, "k", "k=20")
    if isinstance(context, bool) or not isinstance(context, (int, np.integer)) or context < 0:
        raise ValueError(f"context must be a non-negative integer (tokens either side), got {context!r}")
    module, what = model.mlp_activation_module(layer)
    result = TopActivations(layer, neuron, [], model.name, len(texts))
    heap: list[tuple[float, int, int, NeuronExample]] = []  # min-heap of the best k so far
    corpus_tokens = [model.tokenize(text) for text in texts]
    for index, tokens in enumerate(corpus_tokens):  # every text is checked before the first pass
        try:
            model.check_length(tokens)
        except ValueError as err:
            raise ValueError(f"corpus[{index}]: {err}") from None
    for index, tokens in enumerate(corpus_tokens):
        if cancelled():
            break
        found: list[np.ndarray] = []
        run_hooked(model, tokens, {"mlp": module}, lambda _n, t: found.append(t[0, :, neuron].float().numpy()),
                   what=what, pick=first_tensor, last="mlp")
        values = found[0]
        for position in np.argsort(-values, kind="stable")[: k + int(tokens.special.sum())]:
            if tokens.special[position] and not include_special:
                continue
            # ties keep the earlier text and position (the heap key orders them after)
            key = (float(values[position]), -index, -int(position))
            if len(heap) == k and key <= heap[0][:3]:
                break
            example = _example(tokens, values, index, int(position), int(context))
            item = (*key, example)
            heapq.heappush(heap, item) if len(heap) < k else heapq.heapreplace(heap, item)
        result.texts_done = index + 1
        if on_progress is not None:
            on_progress(index + 1, len(texts))
    result.examples = [item[3] for item in sorted(heap, key=lambda item: item[:3], reverse=True)]
    result.complete = result.texts_done == len(texts)
    return result


def _example(tokens: Tokens, values: np.ndarray, index: int, position: int, context: int) -> NeuronExample:
    start, end = max(0, position - context), min(len(tokens), position + context + 1)
    return NeuronExample(
        text_index=index,
        position=position,
        token=tokens.text[position],
        activation=float(values[position]),
        window=list(tokens.text[start:end]),
        window_activations=values[start:end].astype(np.float32),
        center=position - start,
    )


def _check_corpus(corpus: object) -> list[str]:
    if isinstance(corpus, str):
        raise TypeError("corpus must be a list of texts, not one string; pass [text] for a single text")
    try:
        texts = list(corpus)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"corpus must be a list of texts, got {type(corpus).__name__}") from None
    if not texts:
        raise ValueError("corpus is empty; pass a list of texts, e.g. ['The cat sat.', 'Paris is in France.']")
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"corpus[{i}] is {text!r}; every corpus entry must be a non-empty string")
    return texts
