"""Non-negative matrix factorisation of MLP activations (as ecco's ``run_nmf``).

The activations of a text form a ``[token, neuron]`` matrix; after clipping negative values to
0 (as ecco does: NMF needs a non-negative matrix, and a neuron "firing" means a positive value)
it is approximated by ``W @ H`` with ``k`` non-negative factors: ``W[token, factor]`` says how
strongly each factor is present at each token, ``H[factor, neuron]`` which neurons make it up.
Tokens that share a factor tend to play a similar role in the text (Alammar 2021, "Ecco").

The solver is hierarchical alternating least squares (HALS; Cichocki & Phan 2009), seeded, in
numpy: no scikit-learn dependency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..models.wrapped import Tokens

if TYPE_CHECKING:
    from .neurons import NeuronResult

_TINY = 1e-12


@dataclass
class NMFResult:
    """``k`` non-negative factors of a text's MLP activations (negatives clipped to 0).

    - ``token_factors[factor, token]``: float32 >= 0, how strongly each factor is present at each
      token (each factor scaled so its largest value is 1).
    - ``neuron_factors[factor, column]``: float32 >= 0, each factor's weight on each neuron, so
      that ``token_factors.T @ neuron_factors`` approximates the clipped activations.
    - ``neuron_layer[column]``, ``neuron_index[column]``: int64, the model layer and the neuron
      number of each column (several layers are concatenated along the columns).
    - ``relative_error``: ``||A - W H||_F / ||A||_F`` of the clipped matrix ``A``.
    - Factors are ordered by their share of the reconstruction, largest first.
    """

    token_factors: np.ndarray
    neuron_factors: np.ndarray
    neuron_layer: np.ndarray
    neuron_index: np.ndarray
    layers: list[int]
    tokens: Tokens
    relative_error: float
    iterations: int


def factorize(
    matrix: np.ndarray, k: int, *, iterations: int = 500, tolerance: float = 1e-6, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Non-negative ``W[row, k] @ H[k, column]`` approximating a non-negative ``matrix``.

    Returns ``(W, H, relative_error, iterations_run)``; stops when the relative error improves
    by less than ``tolerance`` in one iteration. Same ``seed``, same factors.
    """
    a = np.asarray(matrix, dtype=np.float32)
    if a.ndim != 2 or min(a.shape) == 0:
        raise ValueError(f"matrix must be a non-empty 2-D array, got shape {a.shape}")
    if not np.isfinite(a).all() or (a < 0).any():
        raise ValueError("matrix must be finite and non-negative; clip it first (np.maximum(matrix, 0))")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= min(a.shape):
        raise ValueError(f"k must be an integer from 1 to {min(a.shape)} (the smaller side of the matrix), got {k!r}")
    norm2 = float(np.square(a, dtype=np.float64).sum())
    if norm2 == 0:
        raise ValueError("the matrix is all zeros (every activation is <= 0): there is nothing to factorise")
    rng = np.random.default_rng(seed)
    scale = np.sqrt(a.mean() / k)  # the random start has the data's magnitude
    w = (rng.random((a.shape[0], k)) * scale).astype(np.float32)
    h = (rng.random((k, a.shape[1])) * scale).astype(np.float32)
    previous, done = np.inf, 0
    for done in range(1, int(iterations) + 1):
        _hals_step(w, a @ h.T, h @ h.T)  # W given H
        wta, wtw = w.T @ a, w.T @ w
        _hals_step(h.T, wta.T, wtw)  # H given W (the same update on the transposes)
        # ||A - WH||^2 = ||A||^2 - 2 <W^T A, H> + <W^T W, H H^T>, without forming W H
        residual2 = norm2 - 2 * float(np.vdot(wta.astype(np.float64), h)) + float(np.vdot(wtw, h @ h.T))
        error = np.sqrt(max(residual2, 0.0) / norm2)
        if previous - error < tolerance:
            break
        previous = error
    error = float(np.linalg.norm(a - w @ h) / np.sqrt(norm2))
    return w, h, error, done


def _hals_step(w: np.ndarray, ah: np.ndarray, hh: np.ndarray) -> None:
    """Update each column of ``w`` in place: the exact non-negative least-squares solution for
    that column with the others fixed (``ah = A H^T``, ``hh = H H^T``)."""
    for j in range(w.shape[1]):
        step = (ah[:, j] - w @ hh[:, j]) / max(float(hh[j, j]), _TINY)
        np.maximum(w[:, j] + step, 0.0, out=w[:, j])


def nmf(
    result: NeuronResult,
    layer: int | list[int] | None = None,
    k: int = 8,
    *,
    iterations: int = 500,
    tolerance: float = 1e-6,
    seed: int = 0,
) -> NMFResult:
    """Factorise the activations of ``result`` (from :func:`neurons`) into ``k`` factors.

    ``layer``: a model layer, a list of layers (their neurons concatenated), or None for every
    layer in ``result``. Negative activations are clipped to 0 first, as ecco does.
    """
    if layer is None:
        layers = list(result.layers_done)
    else:
        layers = [layer] if isinstance(layer, (int, np.integer)) else list(layer)
    if not layers:
        raise ValueError("no layers to factorise; pass layer=3, layer=[2, 3] or None for all computed layers")
    for item in layers:
        if isinstance(item, bool) or not isinstance(item, (int, np.integer)):
            raise TypeError(f"layer must be an integer or a list of integers, got {item!r}")
        if not 0 <= int(item) < result.n_model_layers:
            raise IndexError(
                f"layer {item} is out of range: {result.model_name} has {result.n_model_layers} layers, "
                f"numbered 0-{result.n_model_layers - 1}"
            )
    layers = sorted({int(item) for item in layers})
    if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k > len(result.tokens):
        raise ValueError(f"k={k} factors need at least {k} tokens, but the text has {len(result.tokens)}; "
                         f"pass k={len(result.tokens)} or fewer, or a longer text")
    rows = [result.row(item) for item in layers]
    n_neurons = result.activations.shape[2]
    # [token, layer, neuron] -> [token, layer * neuron]: column = layer position * n_neurons + neuron
    matrix = np.maximum(result.activations[rows].transpose(1, 0, 2).reshape(len(result.tokens), -1), 0)
    w, h, error, done = factorize(matrix, k, iterations=iterations, tolerance=tolerance, seed=seed)
    peak = np.maximum(w.max(axis=0), _TINY)
    w, h = w / peak, h * peak[:, None]
    share = (w.sum(axis=0) * h.sum(axis=1))  # each factor's total in the reconstruction
    order = np.argsort(-share, kind="stable")
    return NMFResult(
        token_factors=np.ascontiguousarray(w[:, order].T, dtype=np.float32),
        neuron_factors=np.ascontiguousarray(h[order], dtype=np.float32),
        neuron_layer=np.repeat(np.asarray(layers, dtype=np.int64), n_neurons),
        neuron_index=np.tile(np.arange(n_neurons, dtype=np.int64), len(layers)),
        layers=layers,
        tokens=result.tokens,
        relative_error=error,
        iterations=done,
    )
