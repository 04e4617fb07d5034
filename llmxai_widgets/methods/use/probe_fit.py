"""The probes' arithmetic: stratified folds, Hewitt & Liang's control labels, standardisation,
held-out probabilities, and scikit-learn's L2 logistic regression solved exactly (Newton's method
in float64, after an exact reduction to the span of the training rows)."""

from __future__ import annotations

import numpy as np
import torch

def stratified_folds(y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """The fold of each text: each class's texts shuffled (from ``seed``) and dealt round the folds
    in turn, continuing from where the previous class stopped, so folds differ in size by <= 1."""
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(y), np.int64)
    offset = 0
    for c in range(int(y.max()) + 1):
        members = rng.permutation(np.flatnonzero(y == c))
        fold_of[members] = (offset + np.arange(len(members))) % folds
        offset += len(members)
    return fold_of


def control_labels(types: list, y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Each text's control class: one draw per word type (in sorted order of the types) from the
    empirical label distribution, so texts of one type share a label."""
    rng = np.random.default_rng([seed, 1])
    distinct = sorted(set(types))
    draws = rng.choice(k, size=len(distinct), p=np.bincount(y, minlength=k) / len(y))
    of_type = dict(zip(distinct, draws))
    return np.asarray([of_type[t] for t in types], np.int64)


def standardiser(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (population) standard deviation per feature; a std of 0, or one lost in the
    rounding of the mean, becomes 1 so that a constant feature stays 0."""
    mean = x.mean(0)
    std = x.std(0, correction=0)
    return mean, torch.where((std == 0) | (std < 1e-12 * mean.abs()), torch.ones_like(std), std)


def cross_validate(x: torch.Tensor, y: np.ndarray, k: int, fold_of: np.ndarray, C: float) -> np.ndarray:
    """Held-out probabilities ``[text, class]``: each fold predicted by the probe fit on the rest.
    A class missing from a training fold (possible in the control task) gets probability 0."""
    probs = np.zeros((len(y), k))
    for f in range(int(fold_of.max()) + 1):
        test, train = fold_of == f, fold_of != f
        mean, std = standardiser(x[train])
        present = np.unique(y[train])
        if len(present) == 1:
            probs[np.ix_(test, present)] = 1.0
            continue
        local = torch.as_tensor(np.searchsorted(present, y[train]))
        w, b = fit_logistic((x[train] - mean) / std, local, len(present), C)
        logits = ((x[test] - mean) / std) @ w.T + b
        p = torch.sigmoid(logits) if len(present) == 2 else torch.softmax(logits, 1)
        probs[np.ix_(test, present)] = torch.cat([1 - p, p], 1).numpy() if len(present) == 2 else p.numpy()
    return probs


def fit_logistic(x: torch.Tensor, y: torch.Tensor, k: int, C: float) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's L2 logistic regression, solved exactly: weights ``[1 or k, d]`` and intercepts.

    The weights lie in the span of the training rows (the penalty's gradient must cancel the
    loss's, a sum of rows), so the problem is solved in the ``r <= n`` coordinates of an SVD of
    ``x`` and mapped back: exact, and small when texts are fewer than features. Newton's method
    with a backtracking line search then converges to float64 precision in a few steps. The
    softmax's intercepts are only fixed up to a common shift: they are taken to sum to zero.
    """
    n, d = x.shape
    u, s, vh = torch.linalg.svd(x, full_matrices=False)
    keep = s > (s[0] * max(n, d) * torch.finfo(x.dtype).eps if len(s) else 0)
    a = torch.cat([u[:, keep] * s[keep], torch.ones(n, 1, dtype=x.dtype)], 1)  # [n, r + 1]: the intercept last
    r, outs = int(keep.sum()), 1 if k == 2 else k
    penalty = torch.ones(r + 1, outs, dtype=x.dtype)
    penalty[r] = 0
    target = y.to(x.dtype)[:, None] if k == 2 else torch.nn.functional.one_hot(y, k).to(x.dtype)

    def objective(theta, derivatives=True):
        z = a @ theta
        if k == 2:
            loss = (torch.nn.functional.softplus(z) - target * z).sum()
            p = torch.sigmoid(z)
        else:
            loss = (torch.logsumexp(z, 1) - (target * z).sum(1)).sum()
            p = torch.softmax(z, 1)
        value = C * loss + 0.5 * (penalty * theta ** 2).sum() + (0.5 * theta[r].sum() ** 2 if k > 2 else 0)
        if not derivatives:
            return value
        grad = C * a.T @ (p - target) + penalty * theta
        if k == 2:
            hess = C * (a.T * (p * (1 - p))[:, 0]) @ a
        else:  # d2/dtheta[i,c] dtheta[j,e] = C sum_n a[n,i] a[n,j] (p[n,c] delta[c,e] - p[n,c] p[n,e])
            curvature = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
            hess = C * torch.einsum("ni,nj,nce->icje", a, a, curvature).reshape((r + 1) * k, (r + 1) * k)
            grad[r] += theta[r].sum()  # sum-zero intercepts: a penalty that is 0 at the chosen optimum
            hess[r * k:, r * k:] += 1.0
        hess = hess + torch.diag(penalty.reshape(-1))
        return value, grad.reshape(-1), hess

    theta = torch.zeros(r + 1, outs, dtype=x.dtype)
    for _ in range(100):
        value, grad, hess = objective(theta)
        step = torch.linalg.solve(hess, grad).reshape(theta.shape)
        decrement = float(grad @ step.reshape(-1))  # >= |theta - optimum|^2 near it (the Hessian is >= 1)
        t = 1.0
        while t > 1e-10 and objective(theta - t * step, False) > value - 1e-4 * t * decrement:
            t *= 0.5
        theta = theta - t * step
        if decrement < 1e-14 * max(1.0, float(value)) or t <= 1e-10:  # quadratic convergence: this step ends it
            break
    return (vh[keep].T @ theta[:r]).T, theta[r]


__all__ = ["control_labels", "cross_validate", "fit_logistic", "standardiser", "stratified_folds"]
