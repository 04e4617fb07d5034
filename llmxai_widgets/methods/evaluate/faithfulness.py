"""``faithfulness(model, result)``: does removing what an explanation calls important change the
model's output? ERASER's comprehensiveness and sufficiency (AOPC over bins), deletion and
insertion curves (see :mod:`.curves` for the definitions and their sources), for every target of
an attribution result, beside a random ranking and the leave-one-out oracle.

What is perturbed: the tokens the explanation scores for that target (the tokens before a causal
target: the prompt and, for later tokens of a generation, the tokens generated before it);
special tokens and unscored positions always stay. ``mode="remove"`` deletes tokens from the
sequence; ``mode="replace"`` puts a neutral token in their place (the tokenizer's unknown token,
else its padding token, else its end-of-text token; named in the result). A causal text with every
token removed keeps one start token (the tokenizer's BOS, else its end-of-text token) so that
there is a position to predict from. A masked LM's mask tokens always stay (the target is read
where its mask ends up); a classifier's label is read off the whole perturbed text. The value is
the probability of the target (token or label).

Perturbed texts of a causal model reuse the cached prefix they share with the whole text; see
:mod:`.perturb`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from ...models.wrapped import LoadedModel
from ..attention import Cancelled
from ..attribution.core import AttributionResult
from .perturb import Perturber
from .curves import METRICS, RankingScores, check_bins, leave_one_out, ranking_of, score_ranking

MODES = ("remove", "replace")


@dataclass
class TargetFaithfulness:
    """One target: ``full`` = its probability on the whole text, ``positions`` the tokens perturbed
    (in the order of the scores), and each ranking's :class:`~.curves.RankingScores`:
    ``explanation`` (the method's scores), ``random`` (the mean over ``random_samples`` random
    rankings), ``loo`` (ranked by the drop leave-one-out causes; ``loo_scores`` those drops)."""

    target: int
    text: str
    full: float
    positions: list[int]
    explanation: RankingScores
    random: RankingScores | None = None
    loo: RankingScores | None = None
    loo_scores: np.ndarray | None = None


@dataclass
class FaithfulnessResult:
    method: str
    bins: tuple[float, ...]
    bins_name: str
    mode: str
    replacement: str | None
    metrics: tuple[str, ...]
    targets: list[TargetFaithfulness] = field(default_factory=list)

    def table(self) -> str:
        """Means over the targets, per ranking, as text."""
        lines = [f"{'ranking':12s} {'AOPC comp.':>10s} {'AOPC suff.':>10s} {'deletion':>9s} {'insertion':>9s}"]
        for name in ("explanation", "random", "loo"):
            rows = [getattr(t, name) for t in self.targets if getattr(t, name) is not None]
            if rows:
                mean = lambda key: np.mean([getattr(r, key) for r in rows])  # noqa: E731
                label = self.method if name == "explanation" else name
                lines.append(f"{label:12s} {mean('aopc_comprehensiveness'):10.3f} {mean('aopc_sufficiency'):10.3f} "
                             f"{mean('deletion_auc'):9.3f} {mean('insertion_auc'):9.3f}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        """Everything the views draw, as JSON (NaN as None): per target its probability, the
        tokens perturbed and each ranking's metrics and curves."""
        def ranking(r: RankingScores | None):
            if r is None:
                return None
            return {k: _plain(getattr(r, k)) for k in RankingScores.__dataclass_fields__}

        return {"method": self.method, "bins": list(self.bins), "bins_name": self.bins_name, "mode": self.mode,
                "replacement": self.replacement, "metrics": list(self.metrics),
                "targets": [{"target": t.target, "text": t.text, "full": t.full, "positions": list(t.positions),
                             "explanation": ranking(t.explanation), "random": ranking(t.random), "loo": ranking(t.loo),
                             "loo_scores": _plain(t.loo_scores)} for t in self.targets]}


def _replacement(model: LoadedModel) -> tuple[int, str]:
    tok = model.tokenizer
    for name in ("unk_token", "pad_token", "eos_token"):
        value = getattr(tok, name, None)
        if value is not None:
            return int(tok.convert_tokens_to_ids(value)), value
    raise ValueError(f"{model.name}'s tokenizer has no unknown, padding or end-of-text token to replace tokens with; "
                     f"use mode='remove'")


def _start(model: LoadedModel) -> int:
    tok = model.tokenizer
    start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    if start is None:
        raise ValueError(f"{model.name}'s tokenizer has no BOS or end-of-text token to keep when every token is removed; "
                         f"use mode='replace'")
    return int(start)


def faithfulness(model: LoadedModel, result: AttributionResult, *, metrics: Sequence[str] = METRICS, bins="eraser",
                 mode: str = "remove", baselines: Sequence[str] = ("random", "loo"), random_samples: int = 10,
                 seed: int = 0, on_target=None, cancelled=None) -> FaithfulnessResult:
    """Faithfulness of ``result`` (from :func:`llmxai_widgets.attribute` on ``model``) for each of its
    targets. ``bins``: "eraser" (1, 5, 10, 20, 50% of the tokens), "ferret" (10-100%, repeated
    rationales left out as ferret does) or fractions in (0, 1]. ``baselines``: "random" (the mean
    of ``random_samples`` random rankings, from ``seed``) and "loo" (the leave-one-out oracle).
    ``on_target(i, entry)`` is called as each target is done; ``cancelled()`` returning True stops
    between targets (raises :class:`~llmxai_widgets.methods.attention.Cancelled`)."""
    if not isinstance(result, AttributionResult):
        raise TypeError(f"result must come from lx.attribute(model, ...), got {type(result).__name__}")
    if result.model_name != model.name:
        raise ValueError(f"this attribution was computed on {result.model_name!r}, not on {model.name!r}")
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"metrics must be some of {', '.join(map(repr, METRICS))}, got {list(metrics)}")
    bins_name, fractions = check_bins(bins)
    if mode not in MODES:
        raise ValueError(f"mode must be 'remove' (delete the tokens) or 'replace' (put a neutral token in their "
                         f"place), got {mode!r}")
    if not set(baselines) <= {"random", "loo"}:
        raise ValueError(f"baselines must be some of 'random', 'loo', got {list(baselines)}")
    replacement, replacement_text = _replacement(model) if mode == "replace" else (None, None)
    special = np.asarray(result.tokens.special, bool)
    start = _start(model) if mode == "remove" and result.kind == "causal" else None
    perturber = Perturber(model, result, mode, replacement, start)
    out = FaithfulnessResult(result.method, fractions, bins_name, mode, replacement_text, metrics)
    rng = np.random.default_rng(seed)
    skip = bins_name == "ferret"
    for i in range(len(result.target_positions)):
        row = np.asarray(result.row(i), np.float64)
        positions = [j for j in range(len(row)) if np.isfinite(row[j]) and not special[j]]
        if not positions:
            continue
        n = len(positions)
        predict = perturber.predictor(i, positions)
        full = perturber.full(i)
        scores = row[positions]
        entry = TargetFaithfulness(i, result.targets[i], full, positions,
                                   score_ranking(ranking_of(scores), full, predict, n, fractions, skip_repeats=skip,
                                                 metrics=metrics))
        if "random" in baselines:
            runs = [score_ranking(rng.permutation(n), full, predict, n, fractions, skip_repeats=skip, metrics=metrics)
                    for _ in range(random_samples)]
            entry.random = _mean(runs)
        if "loo" in baselines:
            entry.loo_scores = leave_one_out(full, predict, n)
            entry.loo = score_ranking(ranking_of(entry.loo_scores), full, predict, n, fractions, skip_repeats=skip,
                                      metrics=metrics)
        out.targets.append(entry)
        if on_target is not None:
            on_target(i, entry)
        if cancelled is not None and cancelled():
            raise Cancelled("faithfulness cancelled")
    return out


def _plain(value):
    """A float or array as JSON: NaN (not computed) as None."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return [None if not np.isfinite(v) else float(v) for v in value.astype(np.float64)]
    return None if not np.isfinite(value) else float(value)


def _mean(runs: list[RankingScores]) -> RankingScores:
    fields = RankingScores.__dataclass_fields__
    return RankingScores(**{k: np.mean([getattr(r, k) for r in runs], axis=0) if isinstance(getattr(runs[0], k), np.ndarray)
                            else float(np.mean([getattr(r, k) for r in runs])) for k in fields})


__all__ = ["MODES", "FaithfulnessResult", "TargetFaithfulness", "faithfulness"]
