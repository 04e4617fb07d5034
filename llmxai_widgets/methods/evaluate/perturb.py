"""``predict(keep)`` for one target of an attribution result: the target's probability with some of
its tokens removed or replaced, for causal LMs, masked LMs and classifiers.

The perturbed texts run through the attribution package's runner (:mod:`..attribution.runner`):
a causal model's copies reuse the cached keys and values of the prefix they share with the whole
text (only the tokens from the first perturbed one on run), several packed to a batch row; an
encoder's copies run whole, several to a padded batch. Identical copies run once.
"""

from __future__ import annotations

import numpy as np
import torch

from ...models.wrapped import LoadedModel
from ..attribution.core import AttributionResult, Problem
from ..attribution.runner import runner_for

BATCH = 16


def problem_of(model: LoadedModel, result: AttributionResult) -> Problem:
    """The attribution problem ``result`` answered, asking for each target's probability (no
    contrast: faithfulness reads the target's own probability, as ERASER does)."""
    ids = torch.as_tensor(np.asarray(result.tokens.ids, np.int64), device=model.device)
    k = len(result.target_positions)
    labels = list(result.target_ids) if result.target_ids is not None else \
        [int(ids[t]) for t in result.target_positions]
    types = None
    if result.tokens.segments is not None and getattr(model.config, "type_vocab_size", 1) > 1:
        types = torch.as_tensor(np.asarray(result.tokens.segments, np.int64), device=model.device)
    if result.kind == "causal":
        return Problem(model, ids, result.n_prompt, list(result.target_positions), [None] * k, "prob")
    if result.kind == "masked":
        positions = list(result.target_positions)
        return Problem(model, ids, len(ids), positions, [None] * k, "prob", kind="masked", reads=positions,
                       labels=labels, fixed=positions, token_type_ids=types)
    return Problem(model, ids, len(ids), [-1] * k, [None] * k, "prob", kind="classifier", reads=[0] * k,
                   labels=labels, token_type_ids=types)


class Perturber:
    """Runs perturbed copies of one result's text (one runner, its caches shared by every target)."""

    def __init__(self, model: LoadedModel, result: AttributionResult, mode: str, replacement: int | None,
                 start: int | None, batch: int = BATCH):
        self.model, self.result, self.mode = model, result, mode
        self.replacement, self.start = replacement, start
        self.problem = problem_of(model, result)
        with model.lock, torch.inference_mode():
            self.runner = runner_for(self.problem, batch, lambda: False)
        self.ids = self.problem.ids
        self.types = self.problem.token_type_ids

    def full(self, i: int) -> float:
        """Target ``i``'s probability on the whole text."""
        return float(self.runner.original[i])

    def predictor(self, i: int, positions: list[int]):
        """``predict(keep [runs, len(positions)]) -> [runs]``: target ``i``'s probability with the
        tokens at ``positions`` kept where ``keep`` is True, removed or replaced elsewhere."""
        causal = self.problem.causal
        end = self.problem.ends[i]  # a causal target reads the tokens before it
        read = self.problem.reads[i]
        positions = np.asarray(positions, np.int64)

        def one(keep: np.ndarray):
            dropped = positions[~keep]
            ids = self.ids[:end] if causal else self.ids
            types = None if self.types is None or causal else self.types
            if self.mode == "replace":
                seq = ids.clone()
                seq[torch.as_tensor(dropped, device=seq.device)] = self.replacement
                return seq, (len(seq) - 1 if causal else read), types
            stay = torch.ones(len(ids), dtype=torch.bool, device=ids.device)
            stay[torch.as_tensor(dropped, device=ids.device)] = False
            seq = ids[stay]
            if causal:
                if not len(seq):
                    seq = torch.as_tensor([self.start], device=ids.device)
                return seq, len(seq) - 1, None
            at = 0 if self.problem.pooled else int(stay[:read].sum())  # where the mask moved to
            return seq, at, None if types is None else types[stay]

        def predict(keep: np.ndarray) -> np.ndarray:
            built = [one(np.asarray(k, bool)) for k in keep]
            seqs = [b[0] for b in built]
            reads = [[(i, b[1])] for b in built]
            types = None if causal or self.types is None else [b[2] for b in built]
            with self.model.lock, torch.inference_mode():
                values = self.runner.run(seqs, reads, types=types)
            return values[:, i]

        return predict


__all__ = ["Perturber", "problem_of"]
