"""Plausibility: does an explanation agree with a person's rationale (the tokens they say matter)?

The measures are ERASER's (DeYoung et al. 2020, "ERASER: A Benchmark to Evaluate Rationalized
NLP Models", section 4.1 and its ``rationale_benchmark/metrics.py``), computed for one target:

- the explanation's *discrete* rationale is its ``k`` highest-scoring tokens (``k`` defaults to
  the size of the person's rationale, as ERASER does with soft scores);
- **token F1**: precision and recall of those tokens against the rationale's, and their F1;
- **token IOU**: tokens in both over tokens in either;
- **IOU F1** (ERASER's partial match): both rationales split into spans of adjacent tokens; a
  predicted span is a hit when its best intersection-over-union with a rationale span is at
  least 0.5; precision = hits / predicted spans, recall = hits / rationale spans, then F1;
- **AUPRC** as average precision (scikit-learn's ``average_precision_score``: the precision at
  each rationale token's rank, averaged) over the soft scores; ERASER also reports the
  trapezoidal area under the precision-recall curve, which overestimates for few points.

Scores are compared by value (positive raised the target); ``absolute=True`` ranks by magnitude.
Tokens the explanation does not score (NaN: special tokens, positions a causal target cannot see)
are left out of both rationales.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

IOU_THRESHOLD = 0.5


@dataclass
class PlausibilityResult:
    """ERASER's plausibility measures of one target's scores against a rationale."""

    token_precision: float
    token_recall: float
    token_f1: float
    token_iou: float
    iou_f1: float
    auprc: float
    k: int
    predicted: list[int]
    """The token positions of the explanation's discrete rationale (its top ``k``)."""
    rationale: list[int]
    """The person's rationale, as token positions."""

    def as_dict(self) -> dict:
        return {"token_f1": self.token_f1, "token_iou": self.token_iou, "iou_f1": self.iou_f1, "auprc": self.auprc,
                "token_precision": self.token_precision, "token_recall": self.token_recall, "k": self.k}


def rationale_mask(rationale, n: int) -> np.ndarray:
    """A person's rationale as a boolean mask over ``n`` tokens. Pass a mask (True/False, or 0/1
    with one entry per token) or token positions; anything else is an error that says what to pass."""
    if isinstance(rationale, (str, bytes)) or not isinstance(rationale, Sequence | np.ndarray):
        raise TypeError(f"rationale must be a mask over the {n} tokens (True where the token matters) or a list of "
                        f"token positions, got {type(rationale).__name__}")
    values = np.asarray(rationale)
    zero_one = values.dtype.kind in "iu" and len(values) == n and set(np.unique(values).tolist()) <= {0, 1}
    if values.dtype == bool or zero_one:
        if len(values) != n:
            raise ValueError(f"the rationale mask has {len(values)} entries but the explanation scores {n} tokens; "
                             f"pass one True/False per token or a list of token positions")
        return values.astype(bool)
    if len(values) and values.dtype.kind not in "iu":
        raise TypeError(f"rationale positions must be integers, got {values.dtype}")
    if len(values) and (values.min() < -n or values.max() >= n):
        bad = int(values.max() if values.max() >= n else values.min())
        raise IndexError(f"rationale position {bad} is out of range: the explanation scores {n} tokens, "
                         f"numbered 0-{n - 1}")
    mask = np.zeros(n, bool)
    mask[values.astype(np.int64) % n] = True
    return mask


def spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True as ``(start, stop)`` (stop exclusive)."""
    out, start = [], None
    for i, on in enumerate(list(mask) + [False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            out.append((start, i))
            start = None
    return out


def iou_f1(predicted: np.ndarray, truth: np.ndarray, threshold: float = IOU_THRESHOLD) -> float:
    """ERASER's partial-match F1 of two token masks (see the module docstring)."""
    pred_spans, true_spans = spans(predicted), spans(truth)
    if not pred_spans or not true_spans:
        return 0.0
    hits = 0
    for p in pred_spans:
        p_set = set(range(*p))
        best = max(len(p_set & set(range(*t))) / len(p_set | set(range(*t))) for t in true_spans)
        hits += best >= threshold
    return _f1(hits / len(pred_spans), hits / len(true_spans))


def average_precision(truth: np.ndarray, scores: np.ndarray) -> float:
    """scikit-learn's ``average_precision_score`` (ties share a threshold, as there)."""
    truth, scores = np.asarray(truth, bool), np.asarray(scores, np.float64)
    if not truth.any():
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], truth[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last index of each distinct score
    tp = np.cumsum(t)[last]
    precision = tp / (last + 1)
    recall = tp / truth.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _f1(p: float, r: float) -> float:
    return 0.0 if p == 0 or r == 0 else 2 * p * r / (p + r)


def plausibility_of(scores, rationale, *, k: int | None = None, absolute: bool = False) -> PlausibilityResult:
    """The measures for one row of scores (NaN: not scored) against ``rationale``."""
    scores = np.asarray(scores, np.float64)
    truth = rationale_mask(rationale, len(scores))
    scored = np.isfinite(scores)
    if not (truth & scored).any():
        raise ValueError("the rationale marks no token the explanation scores; mark at least one scored token "
                         "(special tokens and tokens after a causal target are not scored)")
    if k is None:
        k = int((truth & scored).sum())
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= int(scored.sum()):
        raise ValueError(f"k must be an integer from 1 to the {int(scored.sum())} scored tokens, got {k!r}")
    value = np.where(scored, np.abs(scores) if absolute else scores, -np.inf)
    top = np.argsort(-value, kind="stable")[: int(k)]
    predicted = np.zeros(len(scores), bool)
    predicted[top] = True
    truth = truth & scored
    both = (predicted & truth).sum()
    precision, recall = both / predicted.sum(), both / truth.sum()
    return PlausibilityResult(
        token_precision=float(precision), token_recall=float(recall), token_f1=float(_f1(precision, recall)),
        token_iou=float(both / (predicted | truth).sum()), iou_f1=iou_f1(predicted, truth),
        auprc=average_precision(truth[scored], value[scored]), k=int(k),
        predicted=sorted(int(i) for i in top), rationale=np.flatnonzero(truth).tolist())


__all__ = ["IOU_THRESHOLD", "PlausibilityResult", "average_precision", "iou_f1", "plausibility_of", "rationale_mask",
           "spans"]
