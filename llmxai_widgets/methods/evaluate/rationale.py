"""A person's rationale judged both ways: how plausible the explanation is against it (ERASER's
measures, :mod:`.plausibility`), and how faithful the rationale itself would be as an
explanation: ERASER's comprehensiveness (the drop in the target's probability when those tokens
are removed) and sufficiency (the drop when only they are kept), beside the same two numbers for
the explanation's own top ``k`` tokens (``k`` = the size of the rationale). This is what
``AttributionView``'s predict-then-reveal shows a student."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...models.wrapped import LoadedModel
from ..attribution.core import AttributionResult
from .agreement import plausibility
from .faithfulness import MODES, _replacement, _start
from .perturb import Perturber
from .plausibility import PlausibilityResult


@dataclass
class RationaleScores:
    """``full``: the target's probability on the whole text. ``without``/``only``: with the
    rationale's tokens removed / with only them kept (special tokens always stay);
    ``comprehensiveness = full - without``, ``sufficiency = full - only`` (ERASER: high
    comprehensiveness and low sufficiency mean the tokens carry the prediction).
    ``method_*``: the same for the explanation's top ``plausibility.k`` tokens."""

    target: int
    full: float
    without: float
    only: float
    comprehensiveness: float
    sufficiency: float
    method_without: float
    method_only: float
    method_comprehensiveness: float
    method_sufficiency: float
    plausibility: PlausibilityResult
    mode: str

    def as_dict(self) -> dict:
        return {"target": self.target, "full": self.full, "without": self.without, "only": self.only,
                "comprehensiveness": self.comprehensiveness, "sufficiency": self.sufficiency,
                "method_without": self.method_without, "method_only": self.method_only,
                "method_comprehensiveness": self.method_comprehensiveness,
                "method_sufficiency": self.method_sufficiency, "mode": self.mode,
                "predicted": list(self.plausibility.predicted), "rationale": list(self.plausibility.rationale),
                **self.plausibility.as_dict()}


def score_rationale(model: LoadedModel, result: AttributionResult, rationale, *, target: int = 0,
                    mode: str = "remove", absolute: bool = False) -> RationaleScores:
    """Judge a person's ``rationale`` (token positions, or a True/False mask over
    ``result.row(target)``) for ``target`` of ``result``: see the module docstring."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'remove' (delete the tokens) or 'replace' (put a neutral token in their "
                         f"place), got {mode!r}")
    if result.model_name != model.name:
        raise ValueError(f"this attribution was computed on {result.model_name!r}, not on {model.name!r}")
    plaus = plausibility(result, rationale, target=target, absolute=absolute)
    target = int(target) % len(result.targets)
    row = np.asarray(result.row(target), np.float64)
    special = np.asarray(result.tokens.special, bool)
    positions = [j for j in range(len(row)) if np.isfinite(row[j]) and not special[j]]
    replacement = _replacement(model)[0] if mode == "replace" else None
    start = _start(model) if mode == "remove" and result.kind == "causal" else None
    perturber = Perturber(model, result, mode, replacement, start)
    predict = perturber.predictor(target, positions)
    theirs = np.isin(positions, plaus.rationale)
    ours = np.isin(positions, plaus.predicted)
    without, only, m_without, m_only = predict(np.stack([~theirs, theirs, ~ours, ours]))
    full = perturber.full(target)
    return RationaleScores(target, full, float(without), float(only), full - float(without), full - float(only),
                           float(m_without), float(m_only), full - float(m_without), full - float(m_only), plaus, mode)


__all__ = ["RationaleScores", "score_rationale"]
