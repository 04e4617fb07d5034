"""Rank correlations and overlaps without SciPy (circuits, agreement between explanations)."""

from __future__ import annotations

import numpy as np


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their mean rank (as scipy.stats.rankdata's "average")."""
    x = np.asarray(x, np.float64)
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    out = np.empty(len(x))
    start = 0
    while start < len(x):
        stop = start
        while stop + 1 < len(x) and sorted_x[stop + 1] == sorted_x[start]:
            stop += 1
        out[order[start : stop + 1]] = (start + stop) / 2 + 1
        start = stop + 1
    return out


def spearman(a, b) -> float:
    """Spearman's rank correlation of two equal-length arrays."""
    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / denominator) if denominator else float("nan")


def kendall(a, b) -> float:
    """Kendall's tau-b of two equal-length arrays (ties in either corrected for, as
    scipy.stats.kendalltau's default): concordant minus discordant pairs over the square root of
    the pairs untied in each."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    i, j = np.triu_indices(len(a), 1)
    da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    untied = np.sqrt(np.count_nonzero(da) * np.count_nonzero(db))
    return float((da * db).sum() / untied) if untied else float("nan")


def top_k_overlap(a, b, k: int) -> float:
    """The share of the ``k`` largest entries of ``a`` that are among the ``k`` largest of ``b``
    (ties broken by position, earlier first)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    top = lambda x: set(np.argsort(-x, kind="stable")[:k].tolist())  # noqa: E731
    return len(top(a) & top(b)) / k if k else float("nan")
