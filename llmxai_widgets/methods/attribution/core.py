"""What every attribution method shares: the targets being explained, the scalar function of the
input embeddings whose change is attributed, and the result.

A *target* is one token the model predicts: position ``t`` of the full sequence (prompt plus
continuation) whose id is ``ids[t]``; the model predicts it from the logits at ``t - 1``. The
function explained for it is, by default, its log-probability ``log p(ids[t] | ids[:t])``
("logprob"); "prob" and "logit" are the alternatives; with a ``contrast`` (foil) token it is the
difference between the target's and the foil's value (contrastive explanation).
"""

from __future__ import annotations

import inspect
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
    """One attribution job: the full token sequence, what is explained, and how a target's score
    is read off the logits.

    Three kinds of model, one description (``kind``):

    - "causal": target ``i`` is the token at position ``targets[i]``; it is read off the logits at
      ``targets[i] - 1`` and sees the ``targets[i]`` tokens before it.
    - "masked": target ``i`` is a token predicted at the mask position ``targets[i]``; it sees the
      whole sequence except the mask tokens (``fixed``: never perturbed, never scored).
    - "classifier": target ``i`` is a label; it is read off the sequence's class logits and sees
      the whole sequence (``targets[i]`` is -1: the label is not a token of the text).

    ``reads[i]`` (the logits position), ``labels[i]`` (the token or class id whose value is
    explained) and ``ends[i]`` (how many leading tokens target ``i`` sees) hold that for every
    kind; methods use only them.
    """

    model: LoadedModel
    ids: torch.Tensor  # [L] the whole sequence: prompt, then the continuation
    n_prompt: int
    targets: list[int]  # positions shown as targets (-1: a class label)
    foils: list[int | None]  # contrast token (or class) id per target, or None
    target_fn: str = "logprob"
    base_rows: torch.Tensor | None = None
    """Logits each target is read from, unperturbed ``[n_targets, vocab]``, kept by a method that
    computed them anyway, so the target probabilities need no second forward pass."""
    kind: str = "causal"
    reads: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    fixed: list[int] = field(default_factory=list)
    token_type_ids: torch.Tensor | None = None  # [L] sentence A/B of a pair, for encoders

    def __post_init__(self):
        if self.kind == "causal":
            self.reads = self.reads or [t - 1 for t in self.targets]
            self.labels = self.labels or [int(self.ids[t]) for t in self.targets]
            self.ends = self.ends or list(self.targets)
        else:
            self.ends = self.ends or [len(self.ids)] * len(self.targets)

    @property
    def causal(self) -> bool:
        return self.kind == "causal"

    @property
    def pooled(self) -> bool:
        """Whether the targets are read off a whole-sequence output (a classifier's labels)."""
        return self.kind == "classifier"

    @property
    def queries(self) -> list[int]:
        """The position whose hidden state makes each target's prediction (vector methods read
        its attention row): the logits' position, or for a classifier its pooled token: the
        first one (BERT's [CLS]) when the text starts with the tokenizer's CLS token, else the
        last one (decoder-based classifiers)."""
        if not self.pooled:
            return list(self.reads)
        cls = getattr(self.model.tokenizer, "cls_token_id", None)
        first = cls is not None and len(self.ids) and int(self.ids[0]) == cls
        return [0 if first else len(self.ids) - 1] * len(self.targets)

    def score(self, logits: torch.Tensor, i: int) -> torch.Tensor:
        """``[batch]`` value of target ``i`` from ``logits[batch, L, vocab]``."""
        return self.values(logits[:, self.reads[i], :], [i] * len(logits))

    def values(self, rows: torch.Tensor, targets: list[int]) -> torch.Tensor:
        """Value of ``targets[r]`` read off logits ``rows[r]`` ``[n, vocab]``."""
        values = self._transform(rows.float())
        index = torch.arange(len(targets))
        out = values[index, torch.as_tensor([self.labels[i] for i in targets], dtype=torch.long)]
        foils = [self.foils[i] for i in targets]
        if any(f is not None for f in foils):
            fo = torch.as_tensor([0 if f is None else int(f) for f in foils], dtype=torch.long)
            has = torch.as_tensor([f is not None for f in foils])
            out = out - torch.where(has, values[index, fo], torch.zeros_like(out))
        return out

    def _transform(self, row: torch.Tensor) -> torch.Tensor:
        if self.target_fn == "logprob":
            return torch.log_softmax(row, dim=-1)
        if self.target_fn == "prob":
            return torch.softmax(row, dim=-1)
        return row

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.model.get_input_embeddings()(ids)

    def forward_kwargs(self, batch: int, length: int, types: torch.Tensor | None = None) -> dict:
        """What else the model reads besides the inputs: sentence A/B ids of a pair (encoders);
        a causal model needs nothing (``use_cache=False`` only)."""
        if self.causal:
            return {"use_cache": False}
        kwargs = {}
        types = self.token_type_ids[:length] if types is None and self.token_type_ids is not None else types
        if types is not None:
            kwargs["token_type_ids"] = types.reshape(-1, length).expand(batch, length)
        return kwargs

    def target_values(self, embeds: torch.Tensor, which=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(values [batch, k], rows [batch, k, vocab])``: the explained value of targets
        ``which`` (default all, ``k`` of them) and the logits they are read from, for the model
        run on ``embeds [batch, L, d]``. A causal LM projects only the positions read on the
        vocabulary (``logits_to_keep``)."""
        which = list(range(len(self.targets))) if which is None else list(which)
        rows = self.read_logits(embeds, which)
        b, k = rows.shape[:2]
        return self.values(rows.reshape(b * k, -1), which * b).reshape(b, k), rows

    def read_logits(self, embeds: torch.Tensor, which: list[int]) -> torch.Tensor:
        """``[batch, len(which), vocab]`` logits at the read positions of targets ``which``."""
        model = self.model.model
        kwargs = self.forward_kwargs(*embeds.shape[:2])
        positions = [self.reads[i] for i in which]
        if self.pooled:
            return model(inputs_embeds=embeds, **kwargs).logits[:, None].expand(-1, len(which), -1)
        if self.causal and _takes_logits_to_keep(model):
            kept = sorted(set(positions))
            kwargs["logits_to_keep"] = torch.as_tensor(kept, device=embeds.device)
            logits = model(inputs_embeds=embeds, **kwargs).logits
            return logits[:, [kept.index(p) for p in positions]]
        return model(inputs_embeds=embeds, **kwargs).logits[:, positions]

    def logits(self, embeds: torch.Tensor) -> torch.Tensor:
        """``[batch, L, vocab]`` logits of the model run on input embeddings (a classifier's
        ``[batch, 1, labels]``)."""
        out = self.model.model(inputs_embeds=embeds, **self.forward_kwargs(*embeds.shape[:2])).logits
        return out[:, None, :] if self.pooled else out


def _takes_logits_to_keep(model) -> bool:
    return "logits_to_keep" in inspect.signature(model.forward).parameters


@dataclass
class AttributionResult:
    """Which input tokens made the model produce each target token, by one method.

    - ``tokens``: the whole sequence (prompt, then continuation); ``n_prompt`` of them are the prompt.
    - ``kind``: "causal" (targets are tokens of the sequence), "masked" (tokens predicted at mask
      positions) or "classifier" (labels of the whole sequence).
    - ``target_positions[i]``: position in ``tokens`` of target ``i`` (a causal model's target
      token, a masked LM's mask; -1 for a class label); ``targets`` their strings.
    - ``scores[i, j]``: contribution of token ``j`` to target ``i`` (float32); NaN for ``j`` at
      or after a causal target (the model cannot use them) and at mask positions. Sign: positive
      raises the target's score (its log-probability by default).
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
    kind: str = "causal"
    target_texts: list[str] | None = None
    """What each target is, when it is not the token at its position: the token a masked LM
    predicts, or a classifier's label name."""
    target_ids: list[int] | None = None
    """The token (or class) id of each target: what its probability is read for."""

    @property
    def targets(self) -> list[str]:
        if self.target_texts is not None:
            return list(self.target_texts)
        return [self.tokens.text[t] for t in self.target_positions]

    def row(self, i: int) -> np.ndarray:
        """Scores of target ``i`` over the tokens it sees (a causal target: those before it)."""
        if self.kind != "causal":
            return self.scores[i]
        return self.scores[i, : self.target_positions[i]]


def mask_unseen(scores: np.ndarray, ends: list[int], fixed=()) -> np.ndarray:
    """NaN where a target cannot look (at and after ``ends[i]``) and at the ``fixed`` positions."""
    out = scores.astype(np.float32, copy=True)
    for i, e in enumerate(ends):
        out[i, e:] = np.nan
    if len(fixed):
        out[:, list(fixed)] = np.nan
    return out
