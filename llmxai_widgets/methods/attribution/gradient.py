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


def _shared_forward_gradients(problem: Problem, reduce, on_row, cancelled) -> np.ndarray:
    embeds = problem.embed(problem.ids[None]).detach().requires_grad_(True)
    logits = problem.logits(embeds)
    problem.base_logits = logits.detach()
    n = len(problem.ids)
    rows = np.full((len(problem.targets), n), np.nan, np.float32)
    last = len(problem.targets) - 1
    for i, t in enumerate(problem.ends):
        value = problem.score(logits, i).sum()
        (grad,) = torch.autograd.grad(value, embeds, retain_graph=i < last)
        rows[i, :t] = reduce(grad[0, :t], embeds[0, :t].detach()).float().numpy()
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


def _ig_one(problem: Problem, i: int, n_steps: int, rule: str, baseline, batch: int):
    t = problem.ends[i]
    x = problem.embed(problem.ids[:t][None]).detach()
    b = baseline_embeds(problem, baseline, x)
    alphas, weights = integration_rule(rule, n_steps)
    total = torch.zeros_like(x[0], dtype=torch.float32)
    delta = x - b
    for start in range(0, n_steps, batch):
        a = torch.as_tensor(alphas[start:start + batch], dtype=x.dtype)[:, None, None]
        w = torch.as_tensor(weights[start:start + batch], dtype=torch.float32)
        path = (b + a * delta).requires_grad_(True)
        values = problem.score(problem.logits(path), i)
        (grad,) = torch.autograd.grad((values * w).sum(), path)
        total += grad.float().sum(dim=0)
    scores = (delta[0].float() * total).sum(dim=-1)
    with torch.no_grad():
        ends = problem.score(problem.logits(torch.cat([x, b])), i)
    gap = float(ends[0] - ends[1])
    error = abs(float(scores.sum()) - gap) / max(abs(gap), 1e-12)
    return scores.numpy(), error, gap


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
    n = len(problem.ids)
    rows = np.full((len(problem.targets), n), np.nan, np.float32)
    errors, steps_used, notes = [], [], []
    for i, t in enumerate(problem.ends):
        steps = 50 if auto else int(n_steps)
        while True:
            scores, error, gap = _ig_one(problem, i, steps, rule, baseline, int(batch))
            if not auto or error <= tolerance or steps * 2 > max_steps:
                break
            steps *= 2
        rows[i, :t] = scores
        errors.append(error)
        steps_used.append(steps)
        if auto and error > tolerance:
            notes.append(
                f"target {i}: integrated gradients did not converge: completeness error {error:.1%} after "
                f"{steps} steps (tolerance {tolerance:.0%}, max_steps={max_steps}); f(input) - f(baseline) = {gap:.3g}. "
                f"Raise max_steps, try another baseline, or read the scores as approximate."
            )
        if on_row is not None:
            on_row(i, rows[i])
        if cancelled():
            _cancel()
    extra = {"completeness": np.asarray(errors, np.float32), "steps": steps_used, "notes": notes,
             "converged": all(e <= tolerance for e in errors)}
    return rows, extra
