"""Gradient-based attribution: saliency, input x gradient, integrated gradients.

Gradients are taken with respect to the input embeddings. One forward pass serves every target
of a generation (its graph is kept and each target gets its own backward pass); integrated
gradients batches its interpolation steps (``batch`` at a time).
"""

from __future__ import annotations

import numpy as np
import torch

from .core import Problem, attribution_method

RULES = ("gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle")


def vjps(values: torch.Tensor, inputs: torch.Tensor, *, retain: bool = True) -> torch.Tensor:
    """``[k, *inputs.shape]``: the gradient of each of the ``k`` ``values`` with respect to
    ``inputs``, from one batched backward pass (the ``k`` cotangents vmapped through the graph,
    ``is_grads_batched``), or a loop of backward passes where an op of the model does not batch.
    ``retain``: keep the graph (callers may ask again). A single value with ``retain=False``
    frees each saved activation as the backward pass goes (lower peak memory); several values
    always keep the graph until the caller drops it (a failed batched pass must be redone)."""
    k = len(values)
    if k == 1 and not retain:
        return torch.autograd.grad(values[0], inputs)[0][None]
    if k > 1:
        try:
            eye = torch.eye(k, dtype=values.dtype, device=values.device)
            (grads,) = torch.autograd.grad(values, inputs, grad_outputs=eye, is_grads_batched=True, retain_graph=True)
            return grads
        except RuntimeError:  # an op without a batching rule: one backward pass per value
            pass
    return torch.stack([torch.autograd.grad(v, inputs, retain_graph=True)[0] for v in values])


def _chunk(problem: Problem) -> int:
    """Targets per batched backward pass: all of a short text's, fewer for long ones (memory
    grows with targets x tokens), so rows still stream in."""
    return max(1, min(16, 8192 // max(1, len(problem.ids))))


def _shared_forward_gradients(problem: Problem, reduce, on_row, cancelled) -> np.ndarray:
    """One forward pass over the whole sequence serves every target (a causal model's target
    cannot see later tokens, so their gradients are zero); the targets' gradients come from
    batched backward passes of up to :func:`_chunk` targets."""
    embeds = problem.embed(problem.ids[None]).detach().requires_grad_(True)
    values, logits = problem.target_values(embeds)
    problem.base_rows = logits[0].detach()
    n = len(problem.ids)
    rows = np.full((len(problem.targets), n), np.nan, np.float32)
    step = _chunk(problem)
    for start in range(0, len(problem.targets), step):
        which = list(range(start, min(len(problem.targets), start + step)))
        grads = vjps(values[0, which], embeds, retain=which[-1] < len(problem.targets) - 1)
        for g, i in zip(grads, which):
            t = problem.ends[i]
            rows[i, :t] = reduce(g[0, :t], embeds[0, :t].detach()).float().numpy()
            if on_row is not None:
                on_row(i, rows[i])
        if cancelled():
            _cancel()
    return rows


def _cancel():
    from ..attention import Cancelled

    raise Cancelled


@attribution_method("saliency", "gradient", "L2 norm of the gradient of the target with respect to each token's embedding")
def saliency(problem: Problem, *, on_row=None, cancelled=lambda: False, **_):
    return _shared_forward_gradients(problem, lambda g, e: g.norm(dim=-1), on_row, cancelled), {}


@attribution_method("input_x_gradient", "gradient", "gradient times input embedding, summed over the embedding")
def input_x_gradient(problem: Problem, *, on_row=None, cancelled=lambda: False, **_):
    return _shared_forward_gradients(problem, lambda g, e: (g * e).sum(dim=-1), on_row, cancelled), {}


def integration_rule(rule: str, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(alphas, weights) on [0, 1] of an integration rule: Gauss-Legendre nodes (Captum's default),
    or Riemann sums (left, right, middle, trapezoid). The trapezoid rule here has weights summing
    to 1 (spacing 1/(n-1)); Captum's "riemann_trapezoid" weights sum to (n-1)/n, so its scores
    are ours times (n-1)/n (tests/test_attribution.py checks both facts)."""
    if rule == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n_steps)
        return 0.5 * (nodes + 1.0), 0.5 * weights
    if rule == "riemann_trapezoid":
        if n_steps < 2:
            raise ValueError("riemann_trapezoid needs at least 2 steps")
        weights = np.full(n_steps, 1.0 / (n_steps - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0.0, 1.0, n_steps), weights
    grid = np.arange(n_steps, dtype=np.float64)
    offset = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}.get(rule)
    if offset is None:
        raise ValueError(f"unknown integration rule {rule!r}; choose one of {', '.join(RULES)}")
    return (grid + offset) / n_steps, np.full(n_steps, 1.0 / n_steps)


def baseline_ids(problem: Problem, baseline, length: int) -> torch.Tensor | None:
    """Token ids of the baseline (every position the same token), or None for zero embeddings."""
    if isinstance(baseline, str):
        tok = problem.model.tokenizer
        named = {"pad": tok.pad_token_id, "unk": getattr(tok, "unk_token_id", None), "eos": tok.eos_token_id,
                 "bos": getattr(tok, "bos_token_id", None)}
        if baseline == "zeros":
            return None
        if baseline not in named:
            raise ValueError(f"baseline must be a token id, 'zeros', 'pad', 'unk', 'eos' or 'bos', got {baseline!r}")
        if named[baseline] is None:
            raise ValueError(f"this tokenizer has no {baseline} token; pass a token id or baseline='zeros'")
        baseline = named[baseline]
    if isinstance(baseline, bool) or not isinstance(baseline, (int, np.integer)):
        raise TypeError(f"baseline must be a token id or a name such as 'pad' or 'zeros', got {baseline!r}")
    vocab = problem.model.model.get_input_embeddings().num_embeddings
    if not 0 <= int(baseline) < vocab:
        raise ValueError(f"baseline token id {baseline} is out of range: the vocabulary has {vocab} tokens")
    return torch.full((length,), int(baseline), dtype=torch.long, device=problem.ids.device)


def baseline_embeds(problem: Problem, baseline, x: torch.Tensor) -> torch.Tensor:
    """Embeddings of the baseline for inputs ``x`` ``[1, t, d]``; the ``fixed`` positions (a
    masked LM's masks) keep the input's, so the path never changes them."""
    t = x.shape[1]
    b_ids = baseline_ids(problem, baseline, t)
    b = torch.zeros_like(x) if b_ids is None else problem.embed(b_ids[None]).detach()
    fixed = [p for p in problem.fixed if p < t]
    if fixed:
        b = b.clone()
        b[:, fixed] = x[:, fixed]
    return b


def _ig_targets(problem: Problem, which: list[int], n_steps: int, rule: str, baseline, batch: int, cancelled):
    """Integrated gradients of targets ``which``, sharing every forward pass: the path runs over
    the tokens the last of them sees; a causal target's gradient is zero on tokens after it, so
    its share of that path is its own path. Each pass takes ``batch // len(which)`` (at least
    one) interpolation points, and one batched backward pass per point set serves every target.
    Returns ``(scores [k, end], errors [k], gaps [k])``."""
    end = max(problem.ends[i] for i in which)
    x = problem.embed(problem.ids[:end][None]).detach()
    b = baseline_embeds(problem, baseline, x)
    alphas, weights = integration_rule(rule, n_steps)
    total = torch.zeros((len(which), *x.shape[1:]), dtype=torch.float32)
    delta = x - b
    per_pass = max(1, batch // len(which))
    for start in range(0, n_steps, per_pass):
        a = torch.as_tensor(alphas[start:start + per_pass], dtype=x.dtype)[:, None, None]
        w = torch.as_tensor(weights[start:start + per_pass], dtype=torch.float32)
        path = (b + a * delta).requires_grad_(True)
        values, _ = problem.target_values(path, which)  # [points, k]
        grads = vjps((values * w[:, None]).sum(dim=0), path, retain=False)  # [k, points, end, d]
        total += grads.float().sum(dim=1)
        del grads, values, path
        if cancelled():
            _cancel()
    scores = (delta[0].float()[None] * total).sum(dim=-1)
    with torch.no_grad():
        ends, _ = problem.target_values(torch.cat([x, b]), which)
    gaps = (ends[0] - ends[1]).double()
    errors = (scores.sum(dim=-1).double() - gaps).abs() / gaps.abs().clamp_min(1e-12)
    return scores.numpy(), errors.numpy(), gaps.numpy()


@attribution_method("integrated_gradients", "gradient",
                    "integrated gradients from a baseline to the input embeddings (Sundararajan et al. 2017)")
def integrated_gradients(problem: Problem, *, n_steps="auto", rule: str = "gausslegendre", baseline=0,
                         batch: int = 25, tolerance: float = 0.05, max_steps: int = 400, on_row=None,
                         cancelled=lambda: False, **_):
    """``n_steps="auto"`` starts at 50 steps and doubles them until the completeness error is
    under ``tolerance`` or ``max_steps`` is reached (then the result says it did not converge)."""
    auto = n_steps == "auto"
    if not auto and (isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1):
        raise ValueError(f"n_steps must be a positive integer or 'auto', got {n_steps!r}")
    if rule not in RULES:
        raise ValueError(f"unknown integration rule {rule!r}; choose one of {', '.join(RULES)}")
    n, k = len(problem.ids), len(problem.targets)
    rows = np.full((k, n), np.nan, np.float32)
    errors, steps_used, gaps = [0.0] * k, [0] * k, [0.0] * k
    group = max(1, int(batch))  # targets sharing one set of passes
    emitted = 0
    for first in range(0, k, group):
        pending = list(range(first, min(k, first + group)))
        steps = 50 if auto else int(n_steps)
        while pending:
            scores, errs, gap = _ig_targets(problem, pending, steps, rule, baseline, int(batch), cancelled)
            again = []
            for row, i, err, g in zip(scores, pending, errs, gap):
                rows[i, : problem.ends[i]] = row[: problem.ends[i]]
                errors[i], steps_used[i], gaps[i] = float(err), steps, float(g)
                if auto and err > tolerance and steps * 2 <= max_steps:
                    again.append(i)
            pending, steps = again, steps * 2
        for i in range(emitted, min(k, first + group)):
            if on_row is not None:
                on_row(i, rows[i])
        emitted = min(k, first + group)
    notes = [
        f"target {i}: integrated gradients did not converge: completeness error {errors[i]:.1%} after "
        f"{steps_used[i]} steps (tolerance {tolerance:.0%}, max_steps={max_steps}); f(input) - f(baseline) = "
        f"{gaps[i]:.3g}. Raise max_steps, try another baseline, or read the scores as approximate."
        for i in range(k) if auto and errors[i] > tolerance
    ]
    extra = {"completeness": np.asarray(errors, np.float32), "steps": steps_used, "notes": notes,
             "converged": all(e <= tolerance for e in errors)}
    return rows, extra
