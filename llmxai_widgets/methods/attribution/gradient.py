"""Gradient-based attribution: saliency, input x gradient, integrated gradients.

Gradients are taken with respect to the input embeddings. One forward pass serves every target
of a generation (its graph is kept and each target gets its own backward pass); integrated
gradients batches its interpolation steps (``batch`` at a time); with ``n_steps="auto"`` it places
them adaptively (``rule="adaptive_simpson"``) or raises a fixed rule's step count, reusing the
points already computed.
"""

from __future__ import annotations

import numpy as np
import torch

from ... import lazy
from .core import Problem, attribution_method

RULES = ("gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle", "adaptive_simpson")


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


def backward_bytes(problem: Problem, n_tokens: int | None = None) -> int:
    """Memory one sequence's backward pass keeps for ``n_tokens`` tokens (the whole sequence by
    default): about n_layers x (12 d_model + 4 d_ff) float32 values a token, the activations
    autograd saves. SmolLM2: 1.57 MB a token, against 1.5-1.6 MB measured for saliency and per
    integrated-gradients point (``benchmarks/limits.py``)."""
    model = problem.model
    width = int(getattr(model.config, "hidden_size", 0) or getattr(model.config, "d_model", 0) or 768)
    per_token = model.n_layers * (12 * width + 4 * model.n_neurons) * 4
    return (len(problem.ids) if n_tokens is None else n_tokens) * per_token


def _check_backward_fits(problem: Problem, method: str) -> None:
    """Refuse before the forward pass when one backward pass over the text would not fit in the
    memory that is free (it would take the kernel, or the machine, down)."""
    n = len(problem.ids)
    lazy.check_fits(
        backward_bytes(problem), f"{method} over {n:,} tokens (one backward pass through {problem.model.name})",
        "Explain a shorter text, or use a method without gradients "
        "(method='occlusion' runs forward passes only).", share=0.9)


def _fitting_batch(problem: Problem, batch: int, end: int) -> int:
    """Integrated-gradients points per forward pass that fit in half the free memory (at most
    ``batch``, at least one); refuses when even one point would not fit."""
    _check_backward_fits(problem, "integrated_gradients")
    free = lazy.available_bytes()
    if free is None:
        return batch
    return int(max(1, min(batch, (free // 2) // max(1, backward_bytes(problem, end)))))


def _chunk(problem: Problem) -> int:
    """Targets per batched backward pass: all of a short text's, fewer for long ones (memory
    grows with targets x tokens), so rows still stream in."""
    return max(1, min(16, 8192 // max(1, len(problem.ids))))


def _shared_forward_gradients(problem: Problem, reduce, on_row, cancelled, method: str) -> np.ndarray:
    """One forward pass over the whole sequence serves every target (a causal model's target
    cannot see later tokens, so their gradients are zero); the targets' gradients come from
    batched backward passes of up to :func:`_chunk` targets."""
    _check_backward_fits(problem, method)
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
    return _shared_forward_gradients(problem, lambda g, e: g.float().norm(dim=-1), on_row, cancelled, "saliency"), {}


@attribution_method("input_x_gradient", "gradient", "gradient times input embedding, summed over the embedding")
def input_x_gradient(problem: Problem, *, on_row=None, cancelled=lambda: False, **_):
    # summed in float32: a float16 / bfloat16 model's products would lose digits in their own dtype
    return _shared_forward_gradients(problem, lambda g, e: (g.float() * e.float()).sum(dim=-1), on_row, cancelled,
                                     "input_x_gradient"), {}


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
    if rule == "adaptive_simpson":
        raise ValueError("adaptive_simpson places its points as it goes: it has no fixed points")
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


class _Path:
    """The straight path from the baseline to the input, shared by targets ``which``: it runs
    over the tokens the last of them sees (a causal target's gradient is zero on later tokens,
    so its share of that path is its own path). ``at(alphas, targets)`` evaluates the points
    not evaluated yet for those targets, ``batch // len(targets)`` (at least one) points per
    forward pass and one batched backward pass per pass for every target, and keeps each
    point's target value and token scores (gradient . (input - baseline)), so a rule that
    reuses points (nested Riemann sums, adaptive panels) never recomputes them."""

    def __init__(self, problem: Problem, which: list[int], baseline, batch: int, cancelled):
        self.problem, self.which, self.cancelled = problem, list(which), cancelled
        self.end = max(problem.ends[i] for i in which)
        self.batch = _fitting_batch(problem, int(batch), self.end)  # a long text: fewer points a pass
        x = problem.embed(problem.ids[: self.end][None]).detach()
        self.base = baseline_embeds(problem, baseline, x)
        self.delta = x - self.base
        with torch.no_grad():
            ends, _ = problem.target_values(torch.cat([x, self.base]), self.which)
        self.gaps = (ends[0] - ends[1]).double().numpy()  # f(input) - f(baseline) per target
        self.points: dict[float, dict[int, tuple[float, np.ndarray]]] = {}

    def at(self, alphas, targets: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """``(values [k, n], token scores [k, n, end])`` (float64) of targets ``targets``
        (indices into ``which``) at path points ``alphas``."""
        keys = [float(a) for a in alphas]
        todo = sorted({a for a in keys if any(t not in self.points.get(a, {}) for t in targets)})
        per_pass = max(1, self.batch // len(targets))
        for start in range(0, len(todo), per_pass):
            chunk = todo[start:start + per_pass]
            values, scores = self._run(chunk, targets)
            bad = [j for j, a in enumerate(chunk) if a == 0.0 and not np.isfinite(scores[:, j]).all()]
            if bad:  # e.g. a zero-embedding baseline: the gradient at exactly 0 is NaN; take its limit
                values[:, bad], scores[:, bad] = (v[:, :1] for v in self._run([2.0**-24], targets))
            for j, a in enumerate(chunk):
                got = self.points.setdefault(a, {})
                for r, t in enumerate(targets):
                    got[t] = (float(values[r, j]), scores[r, j])
            if self.cancelled():
                _cancel()
        values = np.array([[self.points[a][t][0] for a in keys] for t in targets])
        scores = np.stack([np.stack([self.points[a][t][1] for a in keys]) for t in targets])
        return values, scores

    def _run(self, alphas: list[float], targets: list[int]) -> tuple[np.ndarray, np.ndarray]:
        # the points are placed in float32 (a bfloat16 alpha has 8 bits: 1e-3 of the path rounds
        # away) and rounded once to the model's dtype as it reads them; the scores sum in float32
        a = torch.as_tensor(alphas, dtype=torch.float32)[:, None, None]
        delta = self.delta.float()
        path = (self.base.float() + a * delta).to(self.delta.dtype).requires_grad_(True)
        values, _ = self.problem.target_values(path, [self.which[t] for t in targets])  # [points, k]
        grads = vjps(values.sum(dim=0), path, retain=False)  # [k, points, end, d]
        scores = (grads.float() * delta[0]).sum(dim=-1)
        return values.detach().double().T.numpy(), scores.detach().double().numpy()

    def errors(self, scores: np.ndarray, targets: list[int]) -> np.ndarray:
        """Completeness errors ``|sum(scores) - gap| / |gap|`` of ``scores [k, end]``."""
        gaps = self.gaps[targets]
        return np.abs(scores.sum(axis=-1) - gaps) / np.maximum(np.abs(gaps), 1e-12)


def _fixed_rule(path: _Path, targets: list[int], rule: str, n_steps: int) -> np.ndarray:
    alphas, weights = integration_rule(rule, n_steps)
    _, scores = path.at(alphas, targets)
    return np.einsum("n,knt->kt", weights, scores)


def _ladder(rule: str, max_steps: int) -> list[int]:
    """Step counts "auto" tries with a fixed rule: from 16 up, each level's points containing
    the previous level's where the rule allows (trapezoid 17, 33, 65, ...; left and right
    doubling; middle tripling), so only new points are computed; Gauss-Legendre's points never
    repeat (it doubles). The last level is ``max_steps``."""
    n = min(max_steps, 17 if rule == "riemann_trapezoid" else 16)
    grow = {"riemann_trapezoid": lambda k: 2 * k - 1, "riemann_middle": lambda k: 3 * k}.get(rule, lambda k: 2 * k)
    levels = [max(n, 2 if rule == "riemann_trapezoid" else 1)]
    while levels[-1] < max_steps:
        levels.append(min(grow(levels[-1]), max_steps))
    return levels


def _auto_fixed_rule(path: _Path, rule: str, tolerance: float, max_steps: int, finish) -> None:
    """Raise the steps along :func:`_ladder` for the targets still over ``tolerance``. A target
    also stops when its scores' sum moved by under a tenth of the tolerance between two levels
    (64 steps or more) while still off: more steps would not change it."""
    pending, sums = list(range(len(path.which))), {}
    levels = _ladder(rule, max_steps)
    for level, n in enumerate(levels):
        scores = _fixed_rule(path, pending, rule, n)
        errors, again = path.errors(scores, pending), []
        for row, t, err in zip(scores, pending, errors):
            total, gap = float(row.sum()), abs(float(path.gaps[t])) or 1e-12
            stalled = n >= 64 and t in sums and abs(total - sums[t]) < 0.1 * tolerance * gap and err > tolerance
            sums[t] = total
            if err <= tolerance or stalled or level == len(levels) - 1:
                why = ("its scores' sum stopped changing (by under a tenth of the tolerance since the previous step "
                       "count), so more steps would not help: float32 rounding, or the model's output jumps along "
                       "the path") if stalled and err > tolerance else None
                finish(t, row, float(err), n, why)
            else:
                again.append(t)
        pending = again
        if not pending:
            return


MIN_PANEL = 2.0**-20  # narrower panels are not split: float32 cannot place points much closer


def _adaptive_simpson(path: _Path, t: int, tolerance: float, budget: int, finish, auto: bool = True) -> None:
    """Composite Simpson rule on panels of the path, splitting the panels that integrate worst.

    A panel ``[a, c]`` with midpoint ``m`` integrates the target's slope along the path,
    ``g = sum of token scores``, as ``(c - a) / 6 * (g(a) + 4 g(m) + g(c))``; the model's own
    values give the exact integral, ``f(c) - f(a)``, so every panel knows its completeness error.
    The path's sharp transitions (narrower than 1e-3 of it in SmolLM2) get small panels, the
    smooth stretches stay coarse. Starts with 8 equal panels (17 points); each round splits the
    panels holding half the error (at most ``batch // 2``: one forward pass); stops when the
    panels' errors add up to at most ``tolerance`` of ``|f(input) - f(baseline)|`` (which bounds
    the completeness error), at ``budget`` points, or when the error left sits in panels
    narrower than float32 resolves (a jump). Not ``auto``: it spends the whole ``budget``."""
    gap = abs(float(path.gaps[t])) or 1e-12
    edges = np.linspace(0.0, 1.0, max(1, min(8, (budget - 1) // 2)) + 1)
    panels = list(zip(edges[:-1], edges[1:]))
    cap = max(1, path.batch // 2)
    while True:
        nodes = sorted({x for a, c in panels for x in (a, (a + c) / 2, c)})
        values, scores = path.at(nodes, [t])
        f = dict(zip(nodes, values[0]))
        g = dict(zip(nodes, scores[0].sum(axis=-1)))
        width = np.array([c - a for a, c in panels])
        err = np.array([(c - a) / 6 * (g[a] + 4 * g[(a + c) / 2] + g[c]) - (f[c] - f[a]) for a, c in panels])
        local = float(np.abs(err).sum()) / gap
        splittable = np.where(width > MIN_PANEL, np.abs(err), 0.0)
        room = (budget - len(nodes)) // 2
        stuck = float(np.abs(err).sum() - splittable.sum()) / gap
        if room < 1 or not splittable.any() or (auto and (local <= tolerance or stuck > tolerance)):
            break
        order = np.argsort(-splittable, kind="stable")
        half = int(np.searchsorted(np.cumsum(splittable[order]), 0.5 * splittable.sum())) + 1
        split = set(order[:min(half, cap, room)].tolist())
        panels = [half_panel for k, (a, c) in enumerate(panels)
                  for half_panel in (((a, (a + c) / 2), ((a + c) / 2, c)) if k in split else ((a, c),))]
    weights = dict.fromkeys(nodes, 0.0)
    for a, c in panels:
        weights[a] += (c - a) / 6
        weights[(a + c) / 2] += 4 * (c - a) / 6
        weights[c] += (c - a) / 6
    row = np.einsum("n,nt->t", np.array([weights[x] for x in nodes]), scores[0])
    why = None
    if auto and local > tolerance and stuck > tolerance:
        worst = max((k for k in range(len(panels)) if width[k] <= MIN_PANEL), key=lambda k: abs(err[k]))
        a, c = panels[worst]
        why = (f"f(input) - f(baseline) has a jump of {f[c] - f[a]:.3g} near alpha = {a:.6f} of the path, narrower "
               f"than float32 resolves, which no gradient sees; more steps would not help")
    finish(t, row, float(path.errors(row[None], [t])[0]), len(nodes), why, local)


def _groups(k: int, size: int) -> list[list[int]]:
    """Targets sharing passes: the first alone (its row shows after ~1/k of the time), then
    ``size`` at a time."""
    if k <= 1 or size <= 1:
        return [[i] for i in range(k)]
    return [[0]] + [list(range(s, min(k, s + size))) for s in range(1, k, size)]


@attribution_method("integrated_gradients", "gradient",
                    "integrated gradients from a baseline to the input embeddings (Sundararajan et al. 2017)")
def integrated_gradients(problem: Problem, *, n_steps="auto", rule: str | None = None, baseline=0,
                         batch: int = 25, tolerance: float = 0.05, max_steps: int = 400, on_row=None,
                         cancelled=lambda: False, **_):
    """``rule``: "gausslegendre" by default for a fixed ``n_steps``, "adaptive_simpson" for
    ``n_steps="auto"``. With "auto" and a fixed rule, the steps rise along :func:`_ladder`
    until the completeness error is under ``tolerance`` (or it stops changing, or
    ``max_steps``); with "adaptive_simpson" (see :func:`_adaptive_simpson`) until its panels'
    errors add up to under ``tolerance`` (which bounds the completeness error, and is not met by
    errors cancelling out; ``local_error`` in the extra output). Either way a target has converged
    when its completeness error is under ``tolerance``; one that has not says so in the notes. A fixed
    ``n_steps`` with "adaptive_simpson" is its budget of points. Rows stream out (``on_row``) as
    each target finishes."""
    auto = n_steps == "auto"
    if not auto and (isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1):
        raise ValueError(f"n_steps must be a positive integer or 'auto', got {n_steps!r}")
    rule = rule or ("adaptive_simpson" if auto else "gausslegendre")
    if rule not in RULES:
        raise ValueError(f"unknown integration rule {rule!r}; choose one of {', '.join(RULES)}")
    adaptive = rule == "adaptive_simpson"
    budget = int(max_steps if auto else n_steps)
    if adaptive and budget < 3:
        raise ValueError(f"adaptive_simpson needs at least 3 steps (one panel); got {budget}")
    n, k = len(problem.ids), len(problem.targets)
    rows = np.full((k, n), np.nan, np.float32)
    errors, steps_used, gaps, local, why = [0.0] * k, [0] * k, [0.0] * k, [None] * k, [None] * k
    for which in _groups(k, 1 if adaptive else max(1, int(batch))):
        path = _Path(problem, which, baseline, int(batch), cancelled)

        def finish(t, row, err, steps, reason=None, panels=None, path=path, which=which):
            i = which[t]
            rows[i, : problem.ends[i]] = row[: problem.ends[i]]
            errors[i], steps_used[i], gaps[i], why[i], local[i] = err, steps, float(path.gaps[t]), reason, panels
            if on_row is not None:
                on_row(i, rows[i])

        if adaptive:
            for t in range(len(which)):
                _adaptive_simpson(path, t, tolerance, budget, finish, auto)
        elif auto:
            _auto_fixed_rule(path, rule, tolerance, max_steps, finish)
        else:
            scores = _fixed_rule(path, list(range(len(which))), rule, int(n_steps))
            for t, (row, err) in enumerate(zip(scores, path.errors(scores, list(range(len(which)))))):
                finish(t, row, float(err), int(n_steps))
    converged = [errors[i] <= tolerance for i in range(k)]
    notes = [_note(i, rule, errors[i], local[i], steps_used[i], tolerance, max_steps, gaps[i], why[i])
             for i in range(k) if auto and not converged[i]]
    dtype = problem.model.model.get_input_embeddings().weight.dtype
    if auto and dtype in (torch.float16, torch.bfloat16):
        notes.append(f"the model computes in {str(dtype).removeprefix('torch.')}: the path's points are placed in "
                     f"float32 and rounded to {str(dtype).removeprefix('torch.')} as the model reads them, and the "
                     f"scores are summed in float32; the completeness error cannot go much below that dtype's "
                     f"rounding ({torch.finfo(dtype).eps:.0e} relative), so a tolerance under it may not be met")
    extra = {"completeness": np.asarray(errors, np.float32), "steps": steps_used, "notes": notes, "rule": rule,
             "converged": all(converged), "local_error": np.asarray(local, np.float32) if adaptive else None}
    return rows, extra


def _note(i, rule, error, local, steps, tolerance, max_steps, gap, why) -> str:
    panels = "" if local is None else f"its {rule} panels' errors add up to {local:.1%}, "
    because = f" Stopped early: {why}." if why else ""
    return (f"target {i}: integrated gradients did not converge: {panels}completeness error {error:.1%} after "
            f"{steps} steps (tolerance {tolerance:.0%}, max_steps={max_steps}); f(input) - f(baseline) = {gap:.3g}."
            f"{because} Raise max_steps, try another baseline, or read the scores as approximate.")
