"""Activation patching: which activations decide between two answers.

Two prompts of the same token length, ``clean`` (gives the right answer) and ``corrupt`` (differs
in a few tokens, gives another), are run once; then one activation of one run is put into the
other. "denoising" patches clean activations into the corrupted run (does this site *suffice* to
bring the clean answer back?); "noising" patches corrupted activations into the clean run (is this
site *necessary*?). Both are normalised the same way: 0 = the corrupted run's metric, 1 = the clean
run's, so a denoising score near 1 restores the answer and a noising score near 0 destroys it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ...models.wrapped import LoadedModel, Tokens
from ..forward import check_position, token_id, tokens_of
from ..registry import register
from . import engine, estimate, grid
from .inputs import check_kinds

PATCH_SITES = ("residual", "attention", "mlp", "heads")
METRICS = ("logit_diff", "logprob", "prob")
DIRECTIONS = ("denoising", "noising")


@dataclass
class PatchingResult(grid.GridResult):
    """Activation patching of ``clean`` against ``corrupt`` (token lists of equal length).

    - ``scores[site]``: normalised metric, 0 = corrupted, 1 = clean; "residual", "attention",
      "mlp" are ``[layer, token]`` (NaN for tokens not asked for), "heads" ``[layer, head]`` (query
      heads' outputs at every token), "kv_heads" ``[layer, kv_head]`` (a key/value head's keys and
      values at every token; grouped-query models patch each group once).
    - ``estimate[site]``: attribution patching's linear estimate of ``scores`` (first picture).
    - ``clean_metric``, ``corrupted_metric``: the unpatched runs' metric.
    - ``done[layer]``: True once that layer's exact rows are in ``scores``.
    - ``first_difference``: the first token where the prompts differ; patching a token before it
      changes nothing (those cells are 0 when denoising and 1 when noising, without a run).
    """

    clean: Tokens
    corrupt: Tokens
    metric: str
    answers: tuple[str, ...]
    answer_ids: tuple[int, ...]
    direction: str
    sites: list[str]
    scores: dict[str, np.ndarray]
    estimate: dict[str, np.ndarray]
    clean_metric: float
    corrupted_metric: float
    first_difference: int
    model_name: str
    n_heads: int
    n_kv_heads: int
    positions: np.ndarray
    notes: list[str] = field(default_factory=list)
    done: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    runs: grid.CellRuns | None = field(default=None, repr=False, compare=False)
    """Runs any cell again (``cell_top``); None on a result built by hand."""

    def raw(self, site: str) -> np.ndarray:
        """``scores[site]`` in the metric's own units (undoes the normalisation)."""
        return self.corrupted_metric + self.scores[site] * (self.clean_metric - self.corrupted_metric)


def metric_fn(metric: str, answer_ids: tuple[int, ...]) -> Callable[[torch.Tensor], torch.Tensor]:
    """The metric of last-position logits ``[run, vocab]`` -> ``[run]``."""
    if metric == "logit_diff":
        return lambda logits: logits[:, answer_ids[0]] - logits[:, answer_ids[1]]
    if metric == "logprob":
        return lambda logits: torch.log_softmax(logits, -1)[:, answer_ids[0]]
    return lambda logits: torch.softmax(logits, -1)[:, answer_ids[0]]


def check_pair(model: LoadedModel, clean, corrupt) -> tuple[Tokens, Tokens, int]:
    """Both prompts' tokens and the first token where they differ; unequal lengths are refused."""
    a, b = tokens_of(model, clean), tokens_of(model, corrupt)
    if len(a) != len(b):
        raise ValueError(
            f"clean and corrupt must have the same number of tokens to patch token by token; clean has {len(a)} "
            f"{a.text}, corrupt has {len(b)} {b.text}. Change words so both prompts tokenize to the same length "
            f"(e.g. swap a name for one of the same token count)")
    differ = np.flatnonzero(np.asarray(a.ids) != np.asarray(b.ids))
    if not len(differ):
        raise ValueError(f"clean and corrupt are the same tokens {a.text}; the corrupted prompt must change something")
    return a, b, int(differ[0])


def check_answers(model: LoadedModel, metric: str, answers) -> tuple[tuple[str, ...], tuple[int, ...]]:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(map(repr, METRICS))}; got {metric!r}")
    if isinstance(answers, (str, int)):
        answers = (answers,)
    answers = tuple(answers)
    if len(answers) < (2 if metric == "logit_diff" else 1):
        raise ValueError(f"metric='logit_diff' compares two answers; pass answers=(' Paris', ' Rome') (clean's, "
                         f"corrupt's), got {answers!r}")
    ids = tuple(token_id(model, a, "answer") for a in answers[:2])
    return tuple(model.tokenizer.decode([i]) for i in ids), ids


def check_patch(model: LoadedModel, clean, corrupt, metric, answers, sites, direction, positions):
    """Every argument checked before anything runs: ``(sites, clean tokens, corrupt tokens, first
    differing token, answer strings, answer ids, token cells)``."""
    engine.check_patchable(model, kv=False, purpose="patch")
    kinds = check_kinds(sites, PATCH_SITES, "sites")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'denoising' (clean into corrupted) or 'noising' (corrupted into clean); "
                         f"got {direction!r}")
    a, b, first = check_pair(model, clean, corrupt)
    names, answer_ids = check_answers(model, metric, answers)
    return kinds, a, b, first, names, answer_ids, _positions(positions, len(a))


@register("patch")
def patch(model: LoadedModel, clean: str | Tokens, corrupt: str | Tokens, *, metric: str = "logit_diff",
          answers=(" Paris", " Rome"), sites=PATCH_SITES, positions="all", direction: str = "denoising",
          on_layer: Callable | None = None, cancelled: Callable[[], bool] | None = None) -> PatchingResult:
    """Activation patching between ``clean`` and ``corrupt`` (same token length).

    ``metric``: "logit_diff" (logit of ``answers[0]`` minus ``answers[1]`` at the last token),
    "logprob" or "prob" of ``answers[0]``. ``sites``: some of "residual", "attention", "mlp"
    (per layer and token) and "heads" (per layer and query head, plus per key/value head where the
    model's attention kernel is supported). ``positions``: "all" or token indices for the
    per-token sites. ``direction``: "denoising" (clean into corrupted) or "noising" (corrupted
    into clean). ``on_layer(layer, result)`` / ``cancelled()`` as :func:`causal_trace`.
    """
    kinds, a, b, first, names, answer_ids, cells = check_patch(model, clean, corrupt, metric, answers, sites,
                                                                direction, positions)
    from ..attention_capture import supports_capture

    kv = "heads" in kinds and supports_capture(model.model)
    notes = [] if kv or "heads" not in kinds else [
        f"key/value heads were not patched: the attention kernel of {model.config.model_type!r} models is not checked"]
    measure = metric_fn(metric, answer_ids)
    ids_a, ids_b = torch.as_tensor(a.ids), torch.as_tensor(b.ids)
    with model.lock, torch.inference_mode():
        # keys and values always where the kernel allows: patched runs reuse the tokens before the patch
        states_a = engine.record(model, ids_a[None], heads="heads" in kinds, kv=supports_capture(model.model))
        states_b = engine.record(model, ids_b[None], heads="heads" in kinds, kv=supports_capture(model.model))
    m_clean, m_corrupt = float(measure(states_a.logits)[0]), float(measure(states_b.logits)[0])
    if abs(m_clean - m_corrupt) < 1e-6:
        raise ValueError(f"the clean and corrupted runs give the same {metric} ({m_clean:.4f}), so there is nothing to "
                         f"restore; pick answers the two prompts disagree on (clean's answer first)")
    base, donor, base_ids = (states_b, states_a, ids_b) if direction == "denoising" else (states_a, states_b, ids_a)
    result = _empty(model, a, b, metric, names, answer_ids, direction, kinds, m_clean, m_corrupt, first, cells, kv, notes)
    result.runs = grid.CellRuns(model, base_ids, base, donor,
                                tops=grid.CellTops({k: v.shape for k, v in result.scores.items()}, 1))
    normal = lambda values: (values - m_corrupt) / (m_clean - m_corrupt)  # noqa: E731
    result.estimate = _estimate(model, base_ids, base, donor, measure, kinds, kv, normal, cells)
    untouched = 0.0 if direction == "denoising" else 1.0
    if on_layer is not None:
        on_layer(-1, result)  # the estimate: the first picture
    for layer in range(model.n_layers):
        for kind in result.scores:
            _fill(model, base_ids, kind, layer, result, base, donor, measure, normal, untouched, cancelled)
        result.done[layer] = True
        if on_layer is not None:
            on_layer(layer, result)
    return result


def _positions(positions, n_tokens: int) -> list[int]:
    if isinstance(positions, str) and positions == "all":
        return list(range(n_tokens))
    if isinstance(positions, (int, np.integer)):
        positions = [positions]
    if isinstance(positions, str) or not positions:
        raise ValueError(f"positions must be 'all' or token indices such as [-1]; got {positions!r}")
    return sorted({check_position(p, n_tokens) for p in positions})


def _empty(model, a, b, metric, names, answer_ids, direction, kinds, m_clean, m_corrupt, first, cells, kv, notes):
    n = model.n_layers
    scores = {k: np.full((n, len(a)), np.nan, np.float32) for k in kinds if k != "heads"}
    if "heads" in kinds:
        scores["heads"] = np.full((n, model.n_heads), np.nan, np.float32)
        if kv:
            scores["kv_heads"] = np.full((n, model.n_kv_heads), np.nan, np.float32)
    return PatchingResult(
        clean=a, corrupt=b, metric=metric, answers=names, answer_ids=answer_ids, direction=direction, sites=kinds,
        scores=scores, estimate={}, clean_metric=m_clean, corrupted_metric=m_corrupt, first_difference=first,
        model_name=model.name, n_heads=model.n_heads, n_kv_heads=model.n_kv_heads,
        positions=np.asarray(cells, np.int64), notes=notes, done=np.zeros(n, bool))


def _estimate(model, ids, base, donor, measure, kinds, kv, normal, cells) -> dict[str, np.ndarray]:
    grads = estimate.gradients(model, ids[None], lambda logits: measure(logits).sum(), heads="heads" in kinds, kv=kv)
    m_base = float(measure(base.logits)[0])
    out = {}
    for kind in kinds:
        if kind == "heads":
            out["heads"] = estimate.per_head(donor.z - base.z, grads["z"], model.n_heads)
            if kv:
                out["kv_heads"] = estimate.per_kv_head(donor.key - base.key, grads["key"], donor.value - base.value,
                                                       grads["value"])
            continue
        values = torch.full((model.n_layers, len(ids)), float("nan"))
        values[:, cells] = estimate.per_position(donor.site(kind) - base.site(kind), grads[kind])[:, cells]
        out[kind] = values
    return {k: normal(m_base + v).numpy().astype(np.float32) for k, v in out.items()}


def _fill(model, ids, kind, layer, result, base, donor, measure, normal, untouched, cancelled) -> None:
    keep = lambda cells, logits: result.runs.tops.keep(kind, layer, cells, logits)  # noqa: E731
    if kind in ("heads", "kv_heads"):
        n = model.n_heads if kind == "heads" else model.n_kv_heads
        values = grid.run_cells(model, ids, "head" if kind == "heads" else "kv", [layer], range(n), base, donor,
                                measure, cancelled, shared=result.first_difference, keep=keep)
        result.scores[kind][layer, list(values)] = normal(np.asarray(list(values.values())))
        return
    cells = [int(p) for p in result.positions if p >= result.first_difference]
    before = [int(p) for p in result.positions if p < result.first_difference]
    result.scores[kind][layer, before] = untouched
    if layer == 0:  # their run is the base run itself
        result.runs.tops.keep_base(kind, before, base.logits)
    if cells:
        values = grid.run_cells(model, ids, kind, [layer], cells, base, donor, measure, cancelled, keep=keep)
        result.scores[kind][layer, list(values)] = normal(np.asarray(list(values.values())))
