"""Steering vectors: a direction in the residual stream found from contrasting pairs of texts,
added to the blocks' outputs while the model runs (activation addition, Turner et al. 2023;
contrastive activation addition, Rimsky et al. 2024; representation engineering, Zou et al. 2023).

The direction is computed exactly (a mean, or a full SVD), so the same pairs give the same
vector on every run; repeng's PCA is scikit-learn's, which picks an unseeded randomized solver
for hidden sizes above 500.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from ...hooks import first_of, with_output
from ...models.wrapped import LoadedModel
from .features import block_outputs, check_layers, check_position_kind, check_texts

METHODS = ("mean_diff", "pca_diff")


@dataclass
class SteeringVector:
    """One direction per block, in the residual stream's own units.

    ``directions[layer]`` is what ``alpha = 1`` adds after that block: for ``"mean_diff"`` the
    mean of (positive - negative) over the pairs; for ``"pca_diff"`` the first principal axis of
    the pairs' differences, signed so positives project higher, and scaled to the differences'
    mean length along it, so ``alpha = 1`` moves a negative example as far along the direction as
    its positive partner lies on average for both methods.
    """

    directions: dict[int, np.ndarray]
    method: str
    position: str
    model_name: str
    n_pairs: int
    positive_mean: dict[int, float] = field(default_factory=dict)
    """Mean projection of the positive examples on the unit direction, per block."""
    negative_mean: dict[int, float] = field(default_factory=dict)
    separation: dict[int, float] = field(default_factory=dict)
    """Fraction of pairs whose positive text projects above its negative one, per block."""
    center: bool = False

    @property
    def layers(self) -> list[int]:
        return sorted(self.directions)

    def unit(self, layer: int) -> np.ndarray:
        """The direction at ``layer`` with unit length."""
        v = self._at(layer)
        return v / np.linalg.norm(v)

    def norm(self, layer: int) -> float:
        return float(np.linalg.norm(self._at(layer)))

    def score(self, hidden, layer: int) -> np.ndarray:
        """Where residual-stream vectors ``hidden`` (``[..., hidden]``) lie along the direction at
        ``layer``: 0 halfway between the examples' means, +1 at the positive examples' mean,
        -1 at the negative examples' mean."""
        mid = (self.positive_mean[layer] + self.negative_mean[layer]) / 2
        half = (self.positive_mean[layer] - self.negative_mean[layer]) / 2
        projection = np.asarray(hidden, np.float64) @ self.unit(layer).astype(np.float64)
        return (projection - mid) / (half if half != 0 else 1.0)

    def _at(self, layer: int) -> np.ndarray:
        if layer not in self.directions:
            raise KeyError(f"this steering vector has directions at blocks {self.layers}, not at {layer}; "
                           f"compute one there with steering_vector(..., layers=[{layer}])")
        return self.directions[layer]

    def __repr__(self) -> str:
        seps = ", ".join(f"{layer}: {self.separation[layer]:.2f}" for layer in self.layers)
        return (f"SteeringVector({self.method}, {self.n_pairs} pairs, blocks {self.layers}, position={self.position!r}, "
                f"model={self.model_name!r}; pairs separated per block {{{seps}}})")


def check_pairs(positive, negative) -> tuple[list[str], list[str]]:
    positive = check_texts(positive, "positive")
    negative = check_texts(negative, "negative")
    if len(positive) != len(negative):
        raise ValueError(
            f"positive and negative must be pairs of the same length, got {len(positive)} positive and "
            f"{len(negative)} negative texts; pair each positive text with a negative one that differs in the "
            f"concept only (e.g. 'I love this' / 'I hate this')")
    return positive, negative


def steering_vector(model: LoadedModel, positive: Sequence[str], negative: Sequence[str], *, layers,
                    method: str = "mean_diff", position: str = "last", center: bool = False, batch_size: int = 16,
                    on_batch: Callable[[int, int], None] | None = None,
                    cancelled: Callable[[], bool] | None = None) -> SteeringVector:
    """A :class:`SteeringVector` from pairs of texts that differ in one concept.

    ``positive[i]`` and ``negative[i]`` are a pair; each text is read at its last token
    (``position="last"``) or averaged over its tokens (``"mean"``) after each block in ``layers``.
    ``method``: "mean_diff" (the mean of the differences) or "pca_diff" (the first principal
    axis of the differences, uncentred by default, which is what representation engineering's
    random flips of pair order compute in expectation; ``center=True`` centres the differences
    first, as repeng does). Deterministic: exact mean and full SVD, no random solver.
    """
    positive, negative = check_pairs(positive, negative)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    if method == "pca_diff" and len(positive) < 2:
        raise ValueError("pca_diff needs at least 2 pairs (a principal axis of one difference is that difference); "
                         "add pairs or use method='mean_diff'")
    check_position_kind(position)
    if model.kind == "seq2seq":
        raise ValueError(f"{model.name} is an encoder-decoder model; steering vectors read and steer one stack of "
                         f"blocks (decoder-only or encoder-only models)")
    layers = check_layers(model, layers)
    hidden = block_outputs(model, positive + negative, layers, position=position, batch_size=batch_size,
                           on_batch=on_batch, cancelled=cancelled).astype(np.float64)
    n = len(positive)
    vector = SteeringVector({}, method, position, model.name, n, center=center)
    for row, layer in enumerate(layers):
        pos, neg = hidden[row, :n], hidden[row, n:]
        diff = pos - neg
        if method == "mean_diff":
            direction = diff.mean(0)
        else:
            train = diff - diff.mean(0) if center else diff
            _, _, vt = np.linalg.svd(train, full_matrices=False)
            axis = vt[0]
            along = diff @ axis
            if along.mean() < 0:  # the sign SVD gives is arbitrary: point from negatives to positives
                axis, along = -axis, -along
            direction = axis * along.mean()
        if not np.linalg.norm(direction) > 0:
            raise ValueError(f"the positive and negative texts give the same residual stream after block {layer}; "
                             f"the pairs must differ (in the concept to steer)")
        unit = direction / np.linalg.norm(direction)
        vector.directions[layer] = direction.astype(np.float32)
        vector.positive_mean[layer] = float((pos @ unit).mean())
        vector.negative_mean[layer] = float((neg @ unit).mean())
        vector.separation[layer] = float(((pos - neg) @ unit > 0).mean())
    return vector


def check_alpha(alpha, name: str = "alpha") -> float:
    """``alpha`` as a finite float, or a TypeError/ValueError that says what to pass."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number (how many times the vector to add; negative steers away), "
                        f"got {type(alpha).__name__} {alpha!r}")
    if not math.isfinite(float(alpha)):
        raise ValueError(f"{name} must be a finite number, got {alpha!r}")
    return float(alpha)


def check_alphas(alphas, name: str = "alphas") -> list[float]:
    if isinstance(alphas, (str, bytes)) or not isinstance(alphas, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a list of numbers such as [-8, -4, 0, 4, 8], got {alphas!r}")
    alphas = [check_alpha(a, f"{name}[{i}]") for i, a in enumerate(alphas)]
    if not alphas:
        raise ValueError(f"{name} is empty; pass numbers such as [-8, -4, 0, 4, 8]")
    return alphas


@contextmanager
def steer(model: LoadedModel, vector: SteeringVector, alpha, layers=None, *, on_hidden=None):
    """Inside the block, ``alpha x vector.directions[layer]`` is added to the output of each block in
    ``layers`` (default: every block the vector has) at every position, prompt and generated.

    ``alpha``: a number, or one number per row of the batch (a sequence). The model's lock is held
    for the block (other computations on this model wait, so nothing else runs steered); the hooks
    are removed on exit, also after an exception. ``on_hidden(layer, hidden)`` sees each steered
    block's output before the vector is added (the views colour tokens by it)."""
    if not isinstance(vector, SteeringVector):
        raise TypeError(f"vector must come from steering_vector(), got {type(vector).__name__}")
    if vector.model_name != model.name:
        raise ValueError(f"this steering vector was computed on {vector.model_name!r}, not on {model.name!r}; "
                         f"compute one with steering_vector(model, ...) on this model")
    if isinstance(alpha, Sequence | np.ndarray) and not isinstance(alpha, (str, bytes)):
        scale = torch.tensor(check_alphas(alpha, "alpha"), dtype=torch.float32)[:, None, None]
    else:
        scale = torch.tensor(check_alpha(alpha), dtype=torch.float32)
    chosen = vector.layers if layers is None else check_layers(model, layers)
    blocks = model.layers()
    handles = []

    def hook_for(layer: int):
        direction = torch.as_tensor(vector._at(layer))

        def hook(_module, _args, output):
            hidden = first_of(output)
            if on_hidden is not None:
                on_hidden(layer, hidden)
            add = (scale.to(hidden.device) * direction.to(hidden.device)).to(hidden.dtype)
            if add.dim() == 3 and add.shape[0] != hidden.shape[0]:
                raise ValueError(f"alpha has {add.shape[0]} values but the batch has {hidden.shape[0]} rows")
            return with_output(output, hidden + add)

        return hook

    with model.lock:
        try:
            for layer in chosen:
                handles.append(blocks[layer].register_forward_hook(hook_for(layer)))
            yield
        finally:
            for handle in handles:
                handle.remove()


__all__ = ["METHODS", "SteeringVector", "check_alpha", "check_alphas", "check_pairs", "steer", "steering_vector"]
