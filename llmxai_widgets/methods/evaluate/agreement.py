"""``plausibility(result, rationale)`` and ``agreement(results)`` on attribution results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..attribution.core import AttributionResult
from ..stats import kendall, spearman, top_k_overlap
from .plausibility import PlausibilityResult, plausibility_of


def _row(result: AttributionResult, target: int) -> np.ndarray:
    if not isinstance(result, AttributionResult):
        raise TypeError(f"expected a result of lx.attribute(...), got {type(result).__name__}")
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not -len(result.targets) <= target < len(result.targets):
        raise IndexError(f"target {target!r} is out of range: the result explains {len(result.targets)} target(s), "
                         f"numbered 0-{len(result.targets) - 1}")
    row = np.asarray(result.row(int(target)), np.float64).copy()
    special = np.asarray(result.tokens.special[: len(row)], bool)
    row[special] = np.nan  # special tokens are never part of a rationale
    return row


def plausibility(result: AttributionResult, rationale, *, target: int = 0, k: int | None = None,
                 absolute: bool = False) -> PlausibilityResult:
    """ERASER's plausibility measures of ``result``'s scores for ``target`` against a person's
    ``rationale``: a True/False mask over the tokens the target sees (``result.row(target)``) or
    their positions. See :mod:`llmxai_widgets.methods.evaluate.plausibility`."""
    return plausibility_of(_row(result, target), rationale, k=k, absolute=absolute)


@dataclass
class Agreement:
    """Pairwise agreement of methods on the same targets: ``spearman[a, b]``, ``kendall[a, b]``
    (tau-b) and ``top_k[a, b]`` (the share of a's top ``k`` tokens among b's), each the mean over
    the targets, computed on the tokens every method scores."""

    methods: list[str]
    spearman: np.ndarray
    kendall: np.ndarray
    top_k: np.ndarray
    k: int

    def table(self, measure: str = "spearman") -> str:
        values = getattr(self, measure)
        width = max(len(m) for m in self.methods) + 2
        lines = [" " * width + "".join(f"{m[:10]:>11s}" for m in self.methods)]
        for a, name in enumerate(self.methods):
            lines.append(f"{name:{width}s}" + "".join(f"{values[a, b]:11.2f}" for b in range(len(self.methods))))
        return "\n".join(lines)


def agreement(results: Sequence[AttributionResult], *, k: int = 3) -> Agreement:
    """How much methods agree on which tokens matter: rank correlations and top-``k`` overlap
    between every pair of ``results`` (same text, same targets)."""
    results = list(results)
    if len(results) < 2:
        raise ValueError(f"agreement() compares at least two results, got {len(results)}")
    first = results[0]
    for r in results[1:]:
        if not isinstance(r, AttributionResult):
            raise TypeError(f"expected results of lx.attribute(...), got {type(r).__name__}")
        if list(r.tokens.ids) != list(first.tokens.ids) or r.targets != first.targets or \
                list(r.target_positions) != list(first.target_positions):
            raise ValueError(f"results for different texts or targets cannot be compared: {first.method} explains "
                             f"{first.targets} in {len(first.tokens)} tokens, {r.method} explains {r.targets} in "
                             f"{len(r.tokens)} tokens; compute every method on the same prompt and target")
    m = len(results)
    out = {name: np.zeros((m, m)) for name in ("spearman", "kendall", "top_k")}
    for t in range(len(first.targets)):
        rows = [_row(r, t) for r in results]
        shared = np.logical_and.reduce([np.isfinite(row) for row in rows])
        for a in range(m):
            for b in range(m):
                x, y = rows[a][shared], rows[b][shared]
                out["spearman"][a, b] += spearman(x, y)
                out["kendall"][a, b] += kendall(x, y)
                out["top_k"][a, b] += top_k_overlap(x, y, min(k, int(shared.sum())))
    n = len(first.targets)
    return Agreement([r.method for r in results], out["spearman"] / n, out["kendall"] / n, out["top_k"] / n, k)


__all__ = ["Agreement", "agreement", "plausibility"]
