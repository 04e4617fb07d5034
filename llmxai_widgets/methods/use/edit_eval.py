"""What a rank-one edit does: the new and old answers' probabilities before and after, scored as
CounterFact does (Meng et al. 2022), and greedy continuations."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ...models.wrapped import LoadedModel
from .edit_value import batch
from .steering_generate import cache_of

KINDS = ("prompt", "paraphrase", "neighbour")


@dataclass
class EvaluatedPrompt:
    """One prompt: ``p_new`` is the probability of the new target's whole token sequence after the
    prompt, ``p_old`` the old target's (one token); ``top`` the top next token; each before and
    after the edit. ``kind``: "prompt", "paraphrase" or "neighbour"."""

    prompt: str
    kind: str
    p_new_before: float
    p_new_after: float
    p_old_before: float
    p_old_after: float
    top_before: str
    top_after: str
    new_first_on_top_after: bool
    """The new target's first token is the top prediction after the edit."""


@dataclass
class Evaluation:
    """Per prompt probabilities (:class:`EvaluatedPrompt`) and CounterFact's scores, each None
    when no prompt of its kind was given:

    - ``efficacy``: fraction of the prompts where, after the edit, ``p(new) > p(old)`` (the edit
      took);
    - ``generalisation``: the same over the paraphrases (it holds when the fact is asked another
      way);
    - ``specificity``: fraction of the neighbour prompts (other subjects whose answer is the old
      target) where, after the edit, still ``p(old) > p(new)`` (the edit did not spill over).
    """

    new_target: str
    old_target: str
    rows: list[EvaluatedPrompt]
    efficacy: float | None
    generalisation: float | None
    specificity: float | None

    def of(self, kind: str) -> list[EvaluatedPrompt]:
        return [row for row in self.rows if row.kind == kind]

    def table(self) -> str:
        """The rows and scores as plain text (for printing)."""
        lines = [f"p({self.new_target!r}) and p({self.old_target!r}) before -> after"]
        for row in self.rows:
            lines.append(f"  {row.kind:10s} new {row.p_new_before:.3f} -> {row.p_new_after:.3f}   old "
                         f"{row.p_old_before:.3f} -> {row.p_old_after:.3f}   top {row.top_before!r} -> "
                         f"{row.top_after!r}   {row.prompt}")
        scores = [f"{name} {value:.2f}" for name, value in (("efficacy", self.efficacy), ("generalisation",
                  self.generalisation), ("specificity", self.specificity)) if value is not None]
        lines.append("  " + ", ".join(scores))
        return "\n".join(lines)


def probabilities(model: LoadedModel, prompts: Sequence[str], new_ids: Sequence[int], old_id: int
                  ) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """``(p_new, p_old, top id)`` after each prompt, from one padded batch of each prompt followed
    by the new target's tokens but its last (``p_new`` multiplies the target tokens' probabilities)."""
    prompt_ids = [np.asarray(model.tokenize(p).ids, np.int64) for p in prompts]
    new_ids = list(new_ids)
    ids, mask = batch(model, [np.concatenate([p, np.asarray(new_ids[:-1], np.int64)]) for p in prompt_ids])
    with torch.inference_mode():
        logits = model.model(input_ids=ids, attention_mask=mask, use_cache=False).logits.float()
    p_new, p_old, top = [], [], []
    for row, p in enumerate(prompt_ids):
        probs = torch.softmax(logits[row, len(p) - 1: len(p) - 1 + len(new_ids)], -1)
        p_new.append(float(torch.prod(probs[torch.arange(len(new_ids)), torch.as_tensor(new_ids)])))
        p_old.append(float(probs[0, old_id]))
        top.append(int(probs[0].argmax()))
    return np.asarray(p_new), np.asarray(p_old), top


def evaluate_edit(model: LoadedModel, groups: dict[str, list[str]], new_ids: Sequence[int], old_id: int,
                  state: Callable[[bool], object]) -> Evaluation:
    """Score prompts grouped by kind (``groups[kind]``); ``state(applied)`` is a context with the
    weight as if the edit were (not) applied."""
    prompts = [p for kind in KINDS for p in groups.get(kind, [])]
    kinds = [kind for kind in KINDS for _ in groups.get(kind, [])]
    with state(False):
        before = probabilities(model, prompts, new_ids, old_id)
    with state(True):
        after = probabilities(model, prompts, new_ids, old_id)
    name = lambda i: model.tokenizer.decode([i])  # noqa: E731
    rows = [EvaluatedPrompt(prompt, kind, float(before[0][i]), float(after[0][i]), float(before[1][i]),
                            float(after[1][i]), name(before[2][i]), name(after[2][i]), after[2][i] == new_ids[0])
            for i, (prompt, kind) in enumerate(zip(prompts, kinds))]

    def share(kind: str, new_wins: bool) -> float | None:
        chosen = [r for r in rows if r.kind == kind]
        if not chosen:
            return None
        return float(np.mean([(r.p_new_after > r.p_old_after) == new_wins for r in chosen]))

    return Evaluation(name_of(model, new_ids), name(old_id), rows, share("prompt", True), share("paraphrase", True),
                      share("neighbour", False))


def name_of(model: LoadedModel, ids: Sequence[int]) -> str:
    return model.tokenizer.decode(list(ids))


def greedy(model: LoadedModel, prompt: str, max_new_tokens: int) -> str:
    """The greedy continuation of ``prompt`` (new text only), stopping at end of sequence."""
    ids = torch.as_tensor(model.tokenize(prompt).ids, device=model.device)[None]
    eos = model.tokenizer.eos_token_id
    new: list[int] = []
    past = None
    name = "cache" if "cache" in inspect.signature(model.model.forward).parameters else "past_key_values"
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            out = model.model(input_ids=ids, use_cache=True, **({} if past is None else {name: past}))
            past = cache_of(out)
            token = int(out.logits[0, -1].argmax())
            if token == eos:
                break
            new.append(token)
            ids = torch.as_tensor([[token]], device=model.device)
    return model.tokenizer.decode(new)
