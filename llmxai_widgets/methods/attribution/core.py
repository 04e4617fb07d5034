"""What every attribution method shares: the targets being explained, the scalar function of the
input embeddings whose change is attributed, and the result.

A *target* is one token the model predicts: position ``t`` of the full sequence (prompt plus
continuation) whose id is ``ids[t]``; the model predicts it from the logits at ``t - 1``. The
function explained for it is, by default, its log-probability ``log p(ids[t] | ids[:t])``
("logprob"); "prob" and "logit" are the alternatives; with a ``contrast`` (foil) token it is the
difference between the target's and the foil's value (contrastive explanation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ...models.wrapped import LoadedModel, Tokens

TARGET_FUNCTIONS = ("logprob", "prob", "logit")


@dataclass
class AttributionMethod:
    id: str
    family: str  # "gradient", "perturbation", "vector"
    fn: Callable
    description: str


ATTRIBUTION_METHODS: dict[str, AttributionMethod] = {}


def attribution_method(method_id: str, family: str, description: str):
    """Register an attribution method under ``method_id`` (one registry, string ids)."""

    def add(fn: Callable) -> Callable:
        if method_id in ATTRIBUTION_METHODS:
            raise ValueError(f"attribution method {method_id!r} is registered twice")
        ATTRIBUTION_METHODS[method_id] = AttributionMethod(method_id, family, fn, description)
        return fn

    return add


def get_attribution_method(method_id: str) -> AttributionMethod:
    try:
        return ATTRIBUTION_METHODS[method_id]
    except KeyError:
        valid = ", ".join(sorted(ATTRIBUTION_METHODS))
        raise ValueError(f"unknown attribution method {method_id!r}; valid methods: {valid}") from None


@dataclass
class Problem:
    """One attribution job: the full token sequence, which positions are targets, and how a
    target's score is read off the logits."""

    model: LoadedModel
    ids: torch.Tensor  # [L] the whole sequence: prompt, then the continuation
    n_prompt: int
    targets: list[int]  # positions (>= 1) of the tokens explained
    foils: list[int | None]  # contrast token id per target, or None
    target_fn: str = "logprob"
    base_logits: torch.Tensor | None = None
    """Logits of the unperturbed sequence ``[1, L, vocab]``, kept by a method that computed them
    anyway, so the target probabilities need no second forward pass."""

    def score(self, logits: torch.Tensor, i: int) -> torch.Tensor:
        """``[batch]`` value of target ``i`` from ``logits[batch, L, vocab]``."""
        t = self.targets[i]
        row = logits[:, t - 1, :].float()
        values = self._transform(row)
        out = values[:, int(self.ids[t])]
        if self.foils[i] is not None:
            out = out - values[:, self.foils[i]]
        return out

    def _transform(self, row: torch.Tensor) -> torch.Tensor:
        if self.target_fn == "logprob":
            return torch.log_softmax(row, dim=-1)
        if self.target_fn == "prob":
            return torch.softmax(row, dim=-1)
        return row

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.model.get_input_embeddings()(ids)

    def logits(self, embeds: torch.Tensor) -> torch.Tensor:
        """``[batch, L, vocab]`` logits of the causal LM run on input embeddings."""
        return self.model.model(inputs_embeds=embeds, use_cache=False).logits


@dataclass
class AttributionResult:
    """Which input tokens made the model produce each target token, by one method.

    - ``tokens``: the whole sequence (prompt, then continuation); ``n_prompt`` of them are the prompt.
    - ``target_positions[i]``: position in ``tokens`` of target ``i``; ``targets`` their strings.
    - ``scores[i, j]``: contribution of token ``j`` to target ``i`` (float32); NaN for ``j`` at
      or after the target (a causal model cannot use them). Sign: positive raises the target's
      score (its log-probability by default).
    - ``target_probs[i]``: the model's probability of target ``i``; ``target_values[i]`` the
      function explained (``target_fn``, minus the foil's with a contrast).
    - ``completeness[i]``: for path methods (integrated gradients, gradient SHAP),
      ``|sum_j scores[i, j] - (f(x) - f(baseline))| / |f(x) - f(baseline)|`` (the expected
      baseline value for gradient SHAP; None for other methods); ``converged`` says whether it is
      under the tolerance asked for, ``notes`` what was done about it.
    """

    tokens: Tokens
    n_prompt: int
    target_positions: list[int]
    scores: np.ndarray
    target_probs: np.ndarray
    target_values: np.ndarray
    method: str
    params: dict
    model_name: str
    foils: list[str | None] = field(default_factory=list)
    completeness: np.ndarray | None = None
    converged: bool | None = None
    notes: list[str] = field(default_factory=list)
    complete: bool = True

    @property
    def targets(self) -> list[str]:
        return [self.tokens.text[t] for t in self.target_positions]

    def row(self, i: int) -> np.ndarray:
        """Scores of target ``i`` over the tokens before it."""
        return self.scores[i, : self.target_positions[i]]


def mask_after_targets(scores: np.ndarray, targets: list[int]) -> np.ndarray:
    out = scores.astype(np.float32, copy=True)
    for i, t in enumerate(targets):
        out[i, t:] = np.nan
    return out
