"""Faithfulness of one ranking of tokens, for any model given as ``predict(keep_masks) ->
probabilities``: ERASER's comprehensiveness and sufficiency with their AOPC, and the deletion and
insertion curves with their areas.

Sources of the definitions:

- ERASER (DeYoung et al. 2020, section 4.2; ``rationale_benchmark/metrics.py``):
  comprehensiveness at a bin = p(x) − p(x without the rationale), sufficiency = p(x) − p(the
  rationale only), the rationale being the top ``k`` tokens of the ranking; AOPC = the mean over
  the bins (ERASER's bins: 1, 5, 10, 20 and 50% of the tokens). ``k`` = ceil(bin x n), at least 1.
- ferret (Attanasio et al. 2023, ``ferret/evaluators/faithfulness_measures.py``): the same
  differences over bins 10, 20, ..., 100%, where a bin whose rationale equals the previous bin's
  is left out of the mean.
- Deletion and insertion (Petsiuk et al. 2018, RISE; for text as in interpreto): the probability
  as the top 0, 1, ..., n tokens are removed (deletion) or as they are put back into a text with
  every token removed (insertion); the area under each curve over the fraction of tokens (0..1,
  trapezoids). Low deletion area and high insertion area mean faithful.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

BINS = {"eraser": (0.01, 0.05, 0.1, 0.2, 0.5), "ferret": tuple(round(0.1 * i, 1) for i in range(1, 11))}
METRICS = ("comprehensiveness", "sufficiency", "deletion", "insertion")

Predict = Callable[[np.ndarray], np.ndarray]
"""``predict(keep)``: keep masks ``[runs, n]`` (True = the token stays) -> the target's probability per run."""


def check_bins(bins) -> tuple[str, tuple[float, ...]]:
    """``(name, fractions)`` for "eraser", "ferret" or a list of fractions in (0, 1]."""
    if isinstance(bins, str):
        if bins not in BINS:
            raise ValueError(f"bins must be 'eraser', 'ferret' or a list of fractions in (0, 1], got {bins!r}")
        return bins, BINS[bins]
    try:
        values = tuple(float(b) for b in bins)
    except (TypeError, ValueError):
        raise TypeError(f"bins must be 'eraser', 'ferret' or a list of fractions in (0, 1], got {bins!r}") from None
    bad = [b for b in values if not 0 < b <= 1]
    if not values or bad:
        raise ValueError(f"bins are fractions of the tokens in (0, 1] (0.1 = the top 10%), got {list(values)}; "
                         f"{bad[0] if bad else 'an empty list'} is not")
    return "custom", values


def top_k(fraction: float, n: int) -> int:
    """The number of tokens a bin keeps or removes: ceil(fraction x n), at least 1, at most n."""
    return min(n, max(1, math.ceil(fraction * n - 1e-9)))


@dataclass
class RankingScores:
    """What one ranking of ``n`` tokens does to the target's probability ``full`` (see the module
    docstring). ``comprehensiveness[b]``/``sufficiency[b]`` per bin; ``deletion[j]``/``insertion[j]``
    the probability with the top ``j`` tokens removed / kept, ``j = 0..n``."""

    comprehensiveness: np.ndarray
    sufficiency: np.ndarray
    aopc_comprehensiveness: float
    aopc_sufficiency: float
    deletion: np.ndarray
    insertion: np.ndarray
    deletion_auc: float
    insertion_auc: float


def curve_area(values: np.ndarray) -> float:
    """Trapezoidal area under ``values`` over 0..1 (evenly spaced points)."""
    values = np.asarray(values, np.float64)
    if len(values) < 2:
        return float(values[0]) if len(values) else float("nan")
    return float(((values[1:] + values[:-1]) / 2).sum() / (len(values) - 1))


def score_ranking(order: Sequence[int], full: float, predict: Predict, n: int, fractions: Sequence[float], *,
                  skip_repeats: bool = False, metrics: Sequence[str] = METRICS) -> RankingScores:
    """Every metric for ``order`` (token positions, most important first; all ``n`` of them) in one
    call of ``predict`` (each distinct mask once)."""
    order = np.asarray(order, np.int64)
    masks, index = [], {}

    def ask(keep: np.ndarray) -> int:
        key = keep.tobytes()
        if key not in index:
            index[key] = len(masks)
            masks.append(keep)
        return index[key]

    def removed(j: int) -> np.ndarray:
        keep = np.ones(n, bool)
        keep[order[:j]] = False
        return keep

    ks = [top_k(f, n) for f in fractions]
    used = [i for i, k in enumerate(ks) if not (skip_repeats and i and k == ks[i - 1])]
    comp = [ask(removed(k)) for k in ks] if "comprehensiveness" in metrics else []
    suff = [ask(~removed(k)) for k in ks] if "sufficiency" in metrics else []
    dele = [ask(removed(j)) for j in range(n + 1)] if "deletion" in metrics else []
    ins = [ask(~removed(j)) for j in range(n + 1)] if "insertion" in metrics else []
    probs = np.asarray(predict(np.stack(masks)), np.float64) if masks else np.zeros(0)
    nan = np.full(len(ks), np.nan)
    c = full - probs[comp] if comp else nan
    s = full - probs[suff] if suff else nan
    d = probs[dele] if dele else np.zeros(0)
    i = probs[ins] if ins else np.zeros(0)
    return RankingScores(
        comprehensiveness=c, sufficiency=s,
        aopc_comprehensiveness=float(np.mean(c[used])) if comp else float("nan"),
        aopc_sufficiency=float(np.mean(s[used])) if suff else float("nan"),
        deletion=d, insertion=i, deletion_auc=curve_area(d) if dele else float("nan"),
        insertion_auc=curve_area(i) if ins else float("nan"))


def ranking_of(scores: np.ndarray) -> np.ndarray:
    """Token positions by score, highest first (ties: earlier first)."""
    return np.argsort(-np.asarray(scores, np.float64), kind="stable")


def leave_one_out(full: float, predict: Predict, n: int) -> np.ndarray:
    """The drop in the target's probability when each token alone is removed (the oracle ranking)."""
    keep = ~np.eye(n, dtype=bool)
    return full - np.asarray(predict(keep), np.float64)


__all__ = ["BINS", "METRICS", "RankingScores", "check_bins", "curve_area", "leave_one_out", "ranking_of",
           "score_ranking", "top_k"]
