"""Causal tracing (Meng et al. 2022, "Locating and Editing Factual Associations in GPT"): corrupt
the subject of a factual prompt, then restore one clean activation at a time and see how much of
the answer's probability comes back.

The subject tokens' input embeddings get Gaussian noise (3 x the standard deviation of embeddings
over :data:`~.subjects.SUBJECTS` by default, as the paper measured it over its facts' subjects), the
same draw in every cell; ``samples`` draws are averaged. A cell (layer, token) of the "residual"
grid restores the residual stream after that block at that token; "mlp" and "attention" restore
what the MLP / attention wrote at that token in a window of ``window`` blocks centred on the layer
(the paper's ``window=10``), because one block's MLP alone moves little.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ...models.wrapped import LoadedModel, Tokens
from ..forward import check_count, token_id, tokens_of
from ..registry import register
from . import engine, estimate, grid
from .inputs import check_kinds, find_subject, noise_for, window_layers
from .subjects import SUBJECTS
from ..attention_capture import supports_capture

TRACE_KINDS = ("residual", "mlp", "attention")


@dataclass
class CausalTraceResult(grid.GridResult):
    """A causal trace of ``tokens`` with the subject ``tokens[subject[0]:subject[1]]`` corrupted.

    - ``scores[kind][layer, token]``: float32 probability of the target when that cell is restored
      (averaged over the noise samples); NaN where not computed yet (see ``done``).
    - ``estimate[kind][layer, token]``: the same from attribution patching's linear estimate (one
      forward and one backward pass for the whole grid), shown until the exact values arrive.
    - ``clean_prob``: the target's probability without noise; ``corrupted_prob``: with noise,
      nothing restored (averaged over samples).
    - ``done[layer]``: True once every kind's exact row of that layer is in ``scores``.
    - ``noise``: how the subject was corrupted, in words; ``noise_scale``: the Gaussian's standard
      deviation (None for resampled subjects).
    """

    tokens: Tokens
    subject: tuple[int, int]
    target_id: int
    target_text: str
    kinds: list[str]
    scores: dict[str, np.ndarray]
    estimate: dict[str, np.ndarray]
    clean_prob: float
    corrupted_prob: float
    noise: str
    noise_scale: float | None
    samples: int
    window: int
    seed: int
    model_name: str
    done: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    runs: grid.CellRuns | None = field(default=None, repr=False, compare=False)
    """Runs any cell again (``cell_top``); None on a result built by hand."""

    def indirect_effect(self, kind: str = "residual") -> np.ndarray:
        """``[layer, token]``: restored probability minus the corrupted one (the paper's indirect effect)."""
        return self.scores[kind] - self.corrupted_prob

    def best(self, kind: str = "residual") -> tuple[int, int]:
        """(layer, token) of the cell that restores the most."""
        values = np.nan_to_num(self.scores[kind], nan=-np.inf)
        layer, token = np.unravel_index(int(np.argmax(values)), values.shape)
        return int(layer), int(token)


def check_trace(model: LoadedModel, prompt, subject, target, kinds, samples, window):
    """Every argument checked before anything runs: ``(tokens, subject span, kinds, samples, window)``."""
    engine.check_patchable(model, kv=False, purpose="causal_trace")
    tokens = tokens_of(model, prompt)
    kinds = check_kinds(kinds, TRACE_KINDS, "kinds")
    samples = check_count(samples, "samples", "samples=10")
    window = check_count(window, "window", "window=10")
    if window > model.n_layers:
        raise ValueError(f"window={window} is more blocks than {model.name} has ({model.n_layers}); "
                         f"pass window=1..{model.n_layers} (the paper uses 10)")
    if target is not None:
        token_id(model, target)
    return tokens, find_subject(tokens, subject), kinds, samples, window


@register("causal_trace")
def causal_trace(model: LoadedModel, prompt: str | Tokens, subject: str | tuple[int, int], target=None, *,
                 kinds=TRACE_KINDS, noise="3sigma", samples: int = 10, window: int = 10, seed: int = 1,
                 noise_texts=None, replacements=None, on_layer: Callable | None = None,
                 cancelled: Callable[[], bool] | None = None) -> CausalTraceResult:
    """Causal trace of ``target`` (a one-token string such as ``" Paris"`` or an id; None: the
    model's top prediction on the clean prompt) after ``prompt`` with ``subject`` corrupted.

    ``subject``: text that occurs in the prompt (its first occurrence) or a ``(start, stop)`` token
    range. ``noise``: "3sigma" (Gaussian, 3 x the standard deviation of the input embeddings of
    ``noise_texts``, default :data:`~.subjects.SUBJECTS`), a number (that standard deviation), or
    "resample" (each sample replaces the subject with another one from ``replacements`` or
    SUBJECTS that has as many tokens). ``samples`` noise draws are averaged, drawn once from
    ``seed``. ``window``: blocks restored together for "mlp" and "attention".

    ``on_layer(layer, result)`` runs once with ``layer=-1`` as soon as the estimate is in the
    result (the first picture), then as each layer's exact row is done; ``cancelled()`` returning True stops after the current batch with
    :class:`~llmxai_widgets.methods.Cancelled` (the rows done stay in the result passed to
    ``on_layer``).
    """
    tokens, span, kinds, samples, window = check_trace(model, prompt, subject, target, kinds, samples, window)
    ids = torch.as_tensor(tokens.ids)
    corrupt = noise_for(model, tokens, span, noise, samples=samples, seed=seed, texts=noise_texts or SUBJECTS,
                        replacements=replacements or SUBJECTS)
    with model.lock, torch.inference_mode():
        clean = engine.record(model, ids[None])
        target = int(clean.logits[0].argmax()) if target is None else token_id(model, target)
        # keys and values too: runs that restore token t reuse the corrupted tokens before t
        corrupted = engine.record(model, corrupt.ids, embed=corrupt.embed, kv=supports_capture(model.model))
    prob = lambda logits: torch.softmax(logits, -1)[..., target]  # noqa: E731
    shape = (model.n_layers, len(tokens))
    result = CausalTraceResult(
        tokens=tokens, subject=span, target_id=target, target_text=model.tokenizer.decode([target]), kinds=kinds,
        scores={k: np.full(shape, np.nan, np.float32) for k in kinds}, estimate={},
        clean_prob=float(prob(clean.logits)[0]), corrupted_prob=float(prob(corrupted.logits).mean()),
        noise=corrupt.description, noise_scale=corrupt.scale, samples=len(corrupt.ids), window=window, seed=seed,
        model_name=model.name, done=np.zeros(model.n_layers, bool),
        runs=grid.CellRuns(model, ids, corrupted, clean, window, grid.CellTops({k: shape for k in kinds}, len(corrupt.ids))))
    for kind in kinds:  # tokens before the subject: restoring them leaves the corrupted run as it is
        result.runs.tops.keep_base(kind, list(range(span[0])), corrupted.logits)
    result.estimate = _estimate(model, corrupt, clean, corrupted, lambda logits: prob(logits).mean(), kinds, window,
                                result.corrupted_prob)
    if on_layer is not None:
        on_layer(-1, result)
    for layer in range(model.n_layers):
        for kind in kinds:
            keep = lambda cells, logits, kind=kind, layer=layer: result.runs.tops.keep(kind, layer, cells, logits)  # noqa: E731
            result.scores[kind][layer] = _row(model, ids, kind, layer, window, span[0], clean, corrupted, prob,
                                              result.corrupted_prob, cancelled, keep)
        result.done[layer] = True
        if on_layer is not None:
            on_layer(layer, result)
    return result


def _estimate(model, corrupt, clean, corrupted, metric, kinds, window, base) -> dict[str, np.ndarray]:
    grads = estimate.gradients(model, corrupt.ids, metric, embed=corrupt.embed)
    out = {}
    for kind in kinds:
        per_layer = estimate.per_position(clean.site(kind) - corrupted.site(kind), grads[kind])
        if kind != "residual":  # a window of blocks restored together: their estimates add up
            per_layer = torch.stack([per_layer[window_layers(layer, window, model.n_layers)].sum(0)
                                     for layer in range(model.n_layers)])
        out[kind] = (base + per_layer).numpy().astype(np.float32)
    return out


def _row(model, ids, kind, layer, window, first_noisy, clean, corrupted, prob, base, cancelled, keep) -> np.ndarray:
    """Exact probabilities of one layer's cells. Tokens before the first noisy one are the same in
    both runs, so restoring them changes nothing: they keep the corrupted probability."""
    row = np.full(len(ids), base, np.float32)
    layers = [layer] if kind == "residual" else list(window_layers(layer, window, model.n_layers))
    values = grid.run_cells(model, ids, kind, layers, range(first_noisy, len(ids)), corrupted, clean, prob, cancelled,
                             keep=keep)
    row[list(values)] = list(values.values())
    return row
