"""Greedy generations under a range of steering strengths, side by side, in one batch.

Every alpha is one row of the batch (the rows share the prompt, so nothing is padded); the steer
hook adds each row's own alpha. Each token is scored by where the model itself puts it along the
direction: the first steered block's output at that token *before* the vector is added (what the
model wrote there, given the steered text so far), on the vector's scale (+1 = the positive
examples' mean, -1 = the negative examples'). Adding the vector would shift every score by alpha
and say nothing.
"""

from __future__ import annotations

import inspect

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ...models.wrapped import LoadedModel, Tokens
from ..attention import Cancelled
from ..forward import require_causal, token_id
from .steering import SteeringVector, check_alphas, steer

TOP = 5


@dataclass
class SteeredGenerations:
    """Greedy continuations of ``prompt`` for each of ``alphas`` (one column each)."""

    prompt: Tokens
    alphas: list[float]
    layers: list[int]
    read_layer: int
    ids: list[list[int]] = field(default_factory=list)
    """Generated token ids per alpha (a column stops after the end-of-text token)."""
    tokens: list[list[str]] = field(default_factory=list)
    scores: list[list[float]] = field(default_factory=list)
    """Each generated token's position on the direction (see the module docstring)."""
    prompt_scores: list[float] = field(default_factory=list)
    top: list[list[list[tuple[str, float]]]] = field(default_factory=list)
    """Per alpha, per step: the 5 most probable next tokens and their probabilities."""
    concept: list[str] = field(default_factory=list)
    concept_probability: list[list[float]] = field(default_factory=list)
    """Per alpha, per step: the summed probability of the concept's tokens (empty without a concept)."""
    finished: list[bool] = field(default_factory=list)

    def text(self, column: int) -> str:
        """Column ``column``'s continuation as one string."""
        return "".join(self.tokens[column])


def cache_of(out):
    """The key/value cache a forward pass returned (transformers 5 calls it ``cache``)."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def concept_ids(model: LoadedModel, concept) -> list[int]:
    """The token ids of ``concept``: a one-token string, an id, or a list of them."""
    if concept is None:
        return []
    items = [concept] if isinstance(concept, (str, int, np.integer)) else list(concept)
    if not items:
        raise ValueError("concept is empty; pass one-token strings such as [' great', ' happy'] or None")
    return sorted({token_id(model, item, "concept token") for item in items})


def generate(model: LoadedModel, prompt: str, vector: SteeringVector, alphas: Sequence[float], *, layers=None,
             max_new_tokens: int = 32, concept=None, on_step: Callable[[int, SteeredGenerations], None] | None = None,
             cancelled: Callable[[], bool] | None = None) -> SteeredGenerations:
    """Greedy continuations of ``prompt`` steered by ``alpha x vector`` for each alpha (a batch).

    ``on_step(step, result)`` runs after every generated token (the view streams from it);
    ``cancelled()`` stops between tokens with :class:`~llmxai_widgets.methods.Cancelled` (the tokens
    generated so far stay in the result passed to ``on_step``)."""
    require_causal(model, "steered generation")
    alphas = check_alphas(alphas)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
    wanted = concept_ids(model, concept)
    tokens = model.tokenize(prompt)
    model.check_length(tokens)
    if model.max_positions is not None and len(tokens) + max_new_tokens > model.max_positions:
        raise ValueError(f"the prompt ({len(tokens)} tokens) plus {max_new_tokens} new tokens passes the "
                         f"{model.max_positions} positions {model.name} accepts; lower max_new_tokens")
    chosen = vector.layers if layers is None else sorted(set(int(x) for x in layers))
    read = chosen[0]
    rows = len(alphas)
    result = SteeredGenerations(prompt=tokens, alphas=alphas, layers=chosen, read_layer=read,
                                ids=[[] for _ in alphas], tokens=[[] for _ in alphas], scores=[[] for _ in alphas],
                                top=[[] for _ in alphas], concept=[model.tokenizer.decode([i]) for i in wanted],
                                concept_probability=[[] for _ in alphas], finished=[False] * rows)
    seen = {}
    eos = model.tokenizer.eos_token_id

    def record(layer, hidden):
        if layer == read:
            seen["hidden"] = hidden.detach().to(torch.float32).cpu().numpy()

    ids = torch.as_tensor(tokens.ids, device=model.device)[None].repeat(rows, 1)
    arg = "cache" if "cache" in inspect.signature(model.model.forward).parameters else "past_key_values"
    with steer(model, vector, alphas, chosen, on_hidden=record), torch.inference_mode():
        out = model.model(input_ids=ids, use_cache=True, logits_to_keep=1)
        result.prompt_scores = vector.score(seen["hidden"][0], read).tolist()
        for step in range(max_new_tokens + 1):
            if step > 0:  # the token fed in this pass: its score at the read block
                scores = vector.score(seen["hidden"][:, -1], read)
                for r in range(rows):
                    if len(result.scores[r]) < len(result.ids[r]):
                        result.scores[r].append(float(scores[r]))
                if on_step is not None:
                    on_step(step - 1, result)
            if step == max_new_tokens or all(result.finished):
                break
            if cancelled is not None and cancelled():
                raise Cancelled(f"cancelled after {step} tokens")
            probs = torch.softmax(out.logits[:, -1].to(torch.float32), -1)
            best = probs.argmax(-1)
            values, indices = probs.topk(TOP, -1)
            for r in range(rows):
                if result.finished[r]:
                    continue
                result.ids[r].append(int(best[r]))
                result.tokens[r].append(model.tokenizer.decode([int(best[r])]))
                result.top[r].append([(model.tokenizer.decode([int(i)]), float(p)) for i, p in zip(indices[r], values[r])])
                if wanted:
                    result.concept_probability[r].append(float(probs[r, wanted].sum()))
                result.finished[r] = eos is not None and int(best[r]) == eos
            out = model.model(input_ids=best[:, None], use_cache=True, logits_to_keep=1, **{arg: cache_of(out)})
    return result


def concept_curve(model: LoadedModel, prompt: str, vector: SteeringVector, alphas: Sequence[float], concept, *,
                  layers=None) -> np.ndarray:
    """The summed probability of ``concept``'s tokens as the next token after ``prompt``, for each
    alpha (one batched forward pass)."""
    require_causal(model, "the concept curve")
    alphas = check_alphas(alphas)
    wanted = concept_ids(model, concept)
    if not wanted:
        raise ValueError("concept is empty; pass one-token strings such as [' great', ' happy']")
    tokens = model.tokenize(prompt)
    model.check_length(tokens)
    ids = torch.as_tensor(tokens.ids, device=model.device)[None].repeat(len(alphas), 1)
    with steer(model, vector, alphas, layers), torch.inference_mode():
        logits = model.model(input_ids=ids, logits_to_keep=1).logits[:, -1].to(torch.float32)
    return torch.softmax(logits, -1)[:, wanted].sum(-1).numpy().astype(np.float64)


__all__ = ["SteeredGenerations", "concept_curve", "concept_ids", "generate"]
