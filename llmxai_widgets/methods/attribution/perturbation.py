"""Perturbation-based attribution: occlusion (leave one out), Shapley value sampling, LIME and
KernelSHAP.

Each method changes the input, runs the model again and reads how the explained value of every
target moved (its log-probability by default; see :mod:`.core`). Target ``i`` at position
``targets[i]`` only sees the tokens before it, so its row covers those tokens.

Units. The players that are removed or kept are *units*: ``level="token"`` (every token),
``"word"`` or ``"sentence"``. Every token of a unit gets the unit's score (so a row still has one
score per token). Units are contiguous runs of tokens, found from the decoded text of the
sequence (:meth:`LoadedModel.tokens_from_ids`: each token's character span):

- a *word* starts at a token that begins with whitespace or punctuation, or that follows
  whitespace or punctuation; a token continues the word when both the character before it and
  its first character are letters, digits or ``_`` (so ``"chloroplast" + "s"`` is one word, and
  ``","``, ``"'t"`` or the ``"."`` of ``"3.14"`` are units of their own); a token of whitespace
  only joins the word after it (``"\\n" + "New"``);
- a *sentence* ends after ``.``, ``!`` or ``?`` (possibly followed by closing quotes or brackets)
  when whitespace or a newline comes next; the whitespace opens the next sentence;
- special tokens (BOS, chat markers) are always units of their own at every level.

For target ``i`` a unit reaching past its position is cut at it (the target cannot see the rest).

Baseline. A unit that is "absent" is replaced by the ``baseline`` token: by default the
tokenizer's pad token, else its end-of-sequence token, else id 0; a token id or one of
``"pad"``, ``"unk"``, ``"eos"``, ``"bos"`` choose another. Occlusion can instead delete the unit
(``mode="remove"``): later tokens shift left, as if the text had never contained it.

Speed. Every perturbed copy reuses the key/value cache of the longest prefix it shares with a
reference sequence (the original text; for the sampling methods also the all-baseline text), so
occluding unit ``j`` recomputes only the tokens from ``j`` on: about ``L^2 / 2`` token positions
for token-level occlusion of ``L`` tokens instead of ``L^2``, which is the least an exact leave-one-
out can run. The suffixes are packed several to a row (no padding) and run ``batch`` rows at a
time; only the logits the targets read are projected on the vocabulary; identical perturbed
sequences (frequent when sampling coalitions of few units) run once. See :class:`.runner._Runner`.
A masked LM's or classifier's tokens all see each other, so there every copy runs whole
(:class:`.runner._FullRunner`).
"""

from __future__ import annotations

import math
import re

import numpy as np
import torch

from ...models.wrapped import Tokens
from .core import Problem, attribution_method
from .gradient import baseline_ids
from .runner import _Runner, runner_for  # noqa: F401  (_Runner: tests read its counters)

LEVELS = ("token", "word", "sentence")
MODES = ("replace", "remove")


# -- options ------------------------------------------------------------------------------------
def _choice(name: str, value, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return value


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _no_mode(method: str, options: dict) -> None:
    if "mode" in options:
        raise ValueError(
            f"mode= is an occlusion option; {method} always replaces the absent units by the baseline token "
            f"(choose it with baseline=)"
        )


def resolve_baseline(problem: Problem, baseline=None) -> int:
    """The token id that replaces absent units: ``None`` means the tokenizer's pad token, else its
    end-of-sequence token, else 0; otherwise a token id or "pad", "unk", "eos", "bos"."""
    if baseline is None:
        tok = problem.model.tokenizer
        for candidate in (tok.pad_token_id, tok.eos_token_id):
            if candidate is not None:
                return int(candidate)
        return 0
    if baseline == "zeros":
        raise ValueError(
            "perturbation methods replace tokens by a baseline token; baseline='zeros' (zero embeddings) is for "
            "integrated gradients: pass a token id or 'pad', 'unk', 'eos', 'bos'"
        )
    return int(baseline_ids(problem, baseline, 1)[0])


# -- units --------------------------------------------------------------------------------------
_SENTENCE_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s)")


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def group_tokens(tokens: Tokens, level: str) -> list[tuple[int, int]]:
    """Contiguous ``(start, end)`` token ranges of the units of ``tokens`` at ``level`` (see the
    module docstring for the rules)."""
    _choice("level", level, LEVELS)
    n = len(tokens)
    if level == "token":
        return [(j, j + 1) for j in range(n)]
    if not tokens.has_offsets:
        raise ValueError(f"grouping tokens into {level}s needs each token's character offsets, which this "
                         f"tokenizer does not report (a Python, 'slow', tokenizer whose decoded tokens do not give "
                         f"the text back); use level='token', or load the model's fast tokenizer (use_fast=True)")
    src = tokens.source
    cuts = [m.end() for m in _SENTENCE_END.finditer(src)] if level == "sentence" else []
    starts: list[int] = []
    after_special = True  # the first token opens a unit, as does every token after a special one
    blank = False  # the unit read so far is whitespace only
    sentence = -1
    for k in range(n):
        a, b = (int(x) for x in tokens.offsets[k])
        if tokens.special[k]:
            starts.append(k)
            after_special, blank = True, False
            continue
        if a < 0:  # a piece of a character: it belongs with the token before it
            new = after_special
        elif level == "word":
            before = src[a - 1] if a > 0 else ""
            new = after_special or not (before and _word_char(before) and _word_char(src[a]))
            new = new and not (blank and not after_special)  # whitespace tokens join the word after them
        else:
            index = int(np.searchsorted(cuts, a, side="right"))
            new = after_special or index != sentence
            sentence = index
        text_blank = a >= 0 and not src[a:b].strip()
        blank = text_blank if new else blank and text_blank
        if new:
            starts.append(k)
        after_special = False
    return [(s, e) for s, e in zip(starts, [*starts[1:], n])]


def units(problem: Problem, level: str) -> list[tuple[int, int]]:
    """Units over the tokens the targets can see (positions before the last target), leaving out
    the ``fixed`` ones (a masked LM's masks: where the answer goes, not evidence for it)."""
    _choice("level", level, LEVELS)
    end = max(problem.ends)
    if level == "token":
        spans = [(j, j + 1) for j in range(end)]
    else:
        spans = group_tokens(problem.model.tokens_from_ids(problem.ids[:end].tolist()), level)
    fixed = set(problem.fixed)
    return [(s, e) for s, e in spans if not fixed.intersection(range(s, e))]


def _target_units(spans: list[tuple[int, int]], t: int) -> list[tuple[int, int]]:
    """The units target at position ``t`` sees: those starting before it, cut at ``t``."""
    return [(s, min(e, t)) for s, e in spans if s < t]


def _coalitions(ids: torch.Tensor, spans: list[tuple[int, int]], present: np.ndarray, base: int) -> list[torch.Tensor]:
    """One sequence per row of ``present`` ``[m, n_units]``: ``ids`` with the tokens of absent
    units replaced by ``base`` (``spans`` cover ``ids``)."""
    unit_of = np.full(len(ids), len(spans), dtype=np.int64)  # tokens in no unit (a mask) are always there
    for u, (s, e) in enumerate(spans):
        unit_of[s:e] = u
    present = np.concatenate([present, np.ones((len(present), 1), dtype=bool)], axis=1)
    absent = torch.as_tensor(~present[:, unit_of], device=ids.device)
    seqs = torch.where(absent, torch.full_like(ids, base), ids[None].expand(len(present), -1))
    return list(seqs)


def _spread(rows: np.ndarray, i: int, spans: list[tuple[int, int]], scores) -> None:
    """Every token of a unit gets the unit's score."""
    for (s, e), v in zip(spans, scores):
        rows[i, s:e] = v


# -- occlusion ----------------------------------------------------------------------------------
@attribution_method(
    "occlusion", "perturbation",
    "leave one out: how much the target's value drops when a token, word or sentence is replaced by a baseline "
    "token or removed",
)
def occlusion(problem: Problem, *, level: str = "token", mode: str = "replace", baseline=None, batch: int = 16,
              on_row=None, cancelled=lambda: False, **_):
    """Score of unit ``u`` for target ``i``: ``f_i(x) - f_i(x without u)``, where ``u`` is replaced
    by the baseline token (``mode="replace"``) or deleted (``mode="remove"``; the target is then
    read after the last token left before it). Positive: the unit raises the target's value."""
    _choice("level", level, LEVELS)
    _choice("mode", mode, MODES)
    batch = _positive_int("batch", batch)
    base = resolve_baseline(problem, baseline) if mode == "replace" else None
    ids = problem.ids
    targets, ends, reads = problem.targets, problem.ends, problem.reads
    spans = units(problem, level)
    served: dict[tuple[int, int], list[int]] = {}
    for i, t in enumerate(ends):
        for span in _target_units(spans, t):
            served.setdefault(span, []).append(i)
    if mode == "remove":
        for (s, e), who in served.items():
            if s == 0 and problem.causal and any(e == targets[i] for i in who):
                i = next(i for i in who if e == targets[i])
                raise ValueError(
                    f"mode='remove' would delete every token before target {i} ({_text(problem, targets[i])!r}): "
                    f"the model needs at least one token to read; use mode='replace' or a finer level"
                )
    requests = list(served.items())
    seqs, wanted, types = [], [], []
    kinds = problem.token_type_ids
    for (s, e), who in requests:
        last = max(ends[i] for i in who)
        if mode == "replace":
            seq = ids[:last].clone()
            seq[s:e] = base
            wanted.append([(i, reads[i]) for i in who])
            types.append(None if kinds is None else kinds[:last])
        else:
            seq = torch.cat([ids[:s], ids[e:last]])
            wanted.append([(i, _after_removal(problem, reads[i], s, e)) for i in who])
            types.append(None if kinds is None else torch.cat([kinds[:s], kinds[e:last]]))
        seqs.append(seq)
    rows = np.full((len(targets), len(ids)), np.nan, np.float32)
    remaining = [0] * len(targets)
    for _, who in requests:
        for i in who:
            remaining[i] += 1
    emitted = [0]  # rows go out in target order, each once every unit it sees has run

    def after_batch(done: list[int], values: np.ndarray):
        for r in done:
            (s, e), who = requests[r]
            for i in who:
                rows[i, s:e] = runner.original[i] - values[r, i]
                remaining[i] -= 1
        while emitted[0] < len(targets) and remaining[emitted[0]] == 0:
            if on_row is not None:
                on_row(emitted[0], rows[emitted[0]])
            emitted[0] += 1

    with torch.inference_mode():
        runner = runner_for(problem, batch, cancelled)
        runner.run(seqs, wanted, after_batch=after_batch, types=types)
    extra = {"units": spans, "baseline": base, "tokens_run": runner.tokens_run, "rows_run": runner.rows_run}
    return rows, extra


def _after_removal(problem: Problem, read: int, s: int, e: int) -> int:
    """Where position ``read`` is once tokens ``[s, e)`` are deleted (a causal target whose
    predicting token was deleted is read after the last token left before it)."""
    if problem.pooled or read < s:
        return read
    return read - (e - s) if read >= e else s - 1


def _text(problem: Problem, t: int) -> str:
    return problem.model.tokenizer.decode([int(problem.ids[t])])


# -- Shapley values -----------------------------------------------------------------------------
def exact_shapley(values) -> np.ndarray:
    """Shapley values of ``n`` players from the value of every coalition: ``values[m]`` for each
    bitmask ``m`` in ``[0, 2**n)`` (bit ``j`` set: player ``j`` present; trailing axes allowed).
    ``phi[j] = sum over S without j of |S|! (n - |S| - 1)! / n! * (v(S + j) - v(S))``."""
    values = np.asarray(values, dtype=np.float64)
    size = len(values)
    n = size.bit_length() - 1
    if size < 2 or 1 << n != size:
        raise ValueError(f"values must hold one value per coalition: 2**n entries for n players, got {size}")
    if n > 20:
        raise ValueError(f"exact Shapley values of {n} players need 2**{n} coalitions; use shapley_sampling")
    masks = np.arange(size)
    count = np.array([bin(m).count("1") for m in range(size)])
    weight = np.array([math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) for k in range(n)])
    phi = np.zeros((n, *values.shape[1:]))
    for j in range(n):
        without = masks[(masks >> j) & 1 == 0]
        w = weight[count[without]].reshape(-1, *([1] * (values.ndim - 1)))
        phi[j] = (w * (values[without | (1 << j)] - values[without])).sum(axis=0)
    return phi


def coalition_values(problem: Problem, i: int = 0, *, level: str = "token", baseline=None, batch: int = 16,
                     cancelled=lambda: False) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Every coalition's value for target ``i`` (absent units replaced by the baseline token):
    ``(units, values)`` with ``values[m]`` for bitmask ``m`` (bit ``j``: unit ``j`` present), ready
    for :func:`exact_shapley`. For small inputs (at most 16 units)."""
    _choice("level", level, LEVELS)
    batch = _positive_int("batch", batch)
    base = resolve_baseline(problem, baseline)
    t, r = problem.ends[i], problem.reads[i]
    spans = _target_units(units(problem, level), t)
    n = len(spans)
    if n > 16:
        raise ValueError(f"target {i} sees {n} units: 2**{n} coalitions is too many; use shapley_sampling")
    present = (np.arange(1 << n)[:, None] >> np.arange(n)) & 1 == 1
    with torch.inference_mode():
        runner = runner_for(problem, batch, cancelled, references=[_all_baseline(problem, base)])
        values = runner.run(_coalitions(problem.ids[:t], spans, present, base), [[(i, r)]] * len(present))
    return spans, values[:, i]


def _all_baseline(problem: Problem, base: int) -> torch.Tensor:
    """The reference sequence with every unit absent (fixed positions kept)."""
    seq = torch.full((max(problem.ends),), base, dtype=torch.long, device=problem.ids.device)
    fixed = [p for p in problem.fixed if p < len(seq)]
    seq[fixed] = problem.ids[fixed]
    return seq


@attribution_method(
    "shapley_sampling", "perturbation",
    "Shapley values of tokens, words or sentences, estimated from random orderings (Castro et al. 2009); absent "
    "units are replaced by a baseline token",
)
def shapley_sampling(problem: Problem, *, level: str = "token", n_samples: int = 25, seed=0, baseline=None,
                     batch: int = 16, on_row=None, cancelled=lambda: False, **options):
    """Each of ``n_samples`` permutations adds the units one by one, starting from all of them
    replaced by the baseline token; a unit's score is its mean marginal contribution. The
    permutations come in antithetic pairs (a random order, then its reverse), which lowers the
    variance (Mitchell et al. 2022); identical coalitions run once. One chain of sequences serves
    every target (a target ignores the units at or after it, and a permutation restricted to the
    units it sees is a random permutation of them). ``seed`` makes the estimate reproducible
    (None: a fresh one each call). ``extra["stderr"]`` holds the standard error of every score."""
    _no_mode("shapley_sampling", options)
    _choice("level", level, LEVELS)
    n_samples = _positive_int("n_samples", n_samples)
    batch = _positive_int("batch", batch)
    base = resolve_baseline(problem, baseline)
    spans = units(problem, level)
    n, end, targets = len(spans), max(problem.ends), problem.targets
    rng = np.random.default_rng(seed)
    perms = np.empty((n_samples, n), dtype=np.int64)
    for r in range(n_samples):  # antithetic pairs: a random order, then the same order reversed
        perms[r] = rng.permutation(n) if r % 2 == 0 else perms[r - 1][::-1]
    present = np.zeros((n_samples, n + 1, n), dtype=bool)
    for k in range(1, n + 1):
        present[:, k] = present[:, k - 1]
        present[np.arange(n_samples), k, perms[:, k - 1]] = True
    seqs = _coalitions(problem.ids[:end], spans, present.reshape(-1, n), base)
    reads = [list(enumerate(problem.reads))] * len(seqs)
    with torch.inference_mode():
        runner = runner_for(problem, batch, cancelled, references=[_all_baseline(problem, base)])
        values = runner.run(seqs, reads).reshape(n_samples, n + 1, len(targets))
    gains = values[:, 1:] - values[:, :-1]  # [sample, k, target]: the gain of adding unit perms[sample, k]
    per_unit = np.empty((n_samples, n, len(targets)))
    per_unit[np.arange(n_samples)[:, None], perms] = gains
    phi = per_unit.mean(axis=0)
    even = n_samples - n_samples % 2
    pairs = per_unit[:even].reshape(-1, 2, n, len(targets)).mean(axis=1)  # the pairs are independent draws
    if n_samples % 2:
        pairs = np.concatenate([pairs, per_unit[even:]])
    spread = pairs.std(axis=0, ddof=1) / np.sqrt(len(pairs)) if len(pairs) > 1 else np.full_like(phi, np.nan)
    rows = np.full((len(targets), len(problem.ids)), np.nan, np.float32)
    stderr = np.full_like(rows, np.nan)
    for i, t in enumerate(problem.ends):
        seen = _target_units(spans, t)
        _spread(rows, i, seen, phi[: len(seen), i])
        _spread(stderr, i, seen, spread[: len(seen), i])
        if on_row is not None:
            on_row(i, rows[i])
    return rows, {"units": spans, "baseline": base, "stderr": stderr, "evaluations": runner.rows_run}


# -- linear surrogates: KernelSHAP and LIME -----------------------------------------------------
def shapley_kernel(n: int, k: np.ndarray) -> np.ndarray:
    """KernelSHAP's weight of a coalition of ``k`` of ``n`` players (0 < k < n)."""
    k = np.asarray(k)
    return (n - 1) / (np.array([math.comb(n, int(x)) for x in k.ravel()]).reshape(k.shape) * k * (n - k))


def _kernel_shap_masks(n: int, budget: int, rng) -> tuple[np.ndarray, np.ndarray, bool]:
    """(masks, weights, enumerated): every coalition but the empty and full ones with its kernel
    weight when the budget covers them; else ``budget`` masks drawn from the kernel (a size with
    probability proportional to its total weight, then a uniform subset of that size), in
    complementary pairs, each weighing 1 (duplicates merged)."""
    if n < 2:
        return np.zeros((0, n), dtype=bool), np.zeros(0), True
    if n <= 30 and budget >= (1 << n) - 2:
        codes = np.arange(1, (1 << n) - 1)
        masks = (codes[:, None] >> np.arange(n)) & 1 == 1
        return masks, shapley_kernel(n, masks.sum(axis=1)), True
    sizes = np.arange(1, n)
    p = (n - 1) / (sizes * (n - sizes))
    p = p / p.sum()
    masks = np.zeros((budget, n), dtype=bool)
    for r in range(0, budget, 2):
        k = rng.choice(sizes, p=p)
        masks[r, rng.choice(n, size=k, replace=False)] = True
        if r + 1 < budget:
            masks[r + 1] = ~masks[r]
    unique, counts = np.unique(masks, axis=0, return_counts=True)
    return unique, counts.astype(np.float64), False


def kernel_shap_fit(masks: np.ndarray, values: np.ndarray, weights: np.ndarray, empty: float, full: float) -> np.ndarray:
    """KernelSHAP's weighted least squares: ``values ~ empty + masks @ phi`` with
    ``sum(phi) = full - empty`` (the constraint removes the last player)."""
    n = masks.shape[1]
    gap = full - empty
    if n == 1:
        return np.array([gap])
    z = masks.astype(np.float64)
    x = z[:, :-1] - z[:, -1:]
    y = values - empty - z[:, -1] * gap
    root = np.sqrt(weights)
    beta = np.linalg.lstsq(x * root[:, None], y * root, rcond=None)[0]
    return np.concatenate([beta, [gap - beta.sum()]])


def _target_loop(problem: Problem, level: str, baseline, batch: int, cancelled, fit, on_row):
    """Shared by KernelSHAP and LIME: per target, ``fit(i, spans, evaluate)`` returns the unit
    scores and a record; ``evaluate(present)`` runs the coalitions ``present [m, n_units]``."""
    base = resolve_baseline(problem, baseline)
    spans = units(problem, level)
    rows = np.full((len(problem.targets), len(problem.ids)), np.nan, np.float32)
    records = []
    with torch.inference_mode():
        runner = runner_for(problem, batch, cancelled, references=[_all_baseline(problem, base)])
        for i, (t, r) in enumerate(zip(problem.ends, problem.reads)):
            seen = _target_units(spans, t)

            def evaluate(present, i=i, t=t, r=r, seen=seen):
                if len(present) == 0:
                    return np.zeros(0)
                seqs = _coalitions(problem.ids[:t], seen, present, base)
                return runner.run(seqs, [[(i, r)]] * len(seqs))[:, i]

            scores, record = fit(i, seen, evaluate, runner.original[i])
            _spread(rows, i, seen, scores)
            records.append(record)
            if on_row is not None:
                on_row(i, rows[i])
    return rows, {"units": spans, "baseline": base, "fits": records, "evaluations": runner.rows_run}


@attribution_method(
    "kernel_shap", "perturbation",
    "KernelSHAP: Shapley values from a weighted linear fit on coalitions of tokens, words or sentences (Lundberg & "
    "Lee 2017); absent units are replaced by a baseline token",
)
def kernel_shap(problem: Problem, *, level: str = "token", n_samples: int = 100, seed=0, baseline=None,
                batch: int = 16, on_row=None, cancelled=lambda: False, **options):
    """Scores ``phi`` minimise ``sum_z w(z) (f(z) - f(empty) - z . phi)^2`` under
    ``sum(phi) = f(x) - f(empty)`` with the Shapley kernel ``w``. When ``n_samples`` covers all
    ``2**n - 2`` proper coalitions they are all used, once each, and the scores are the exact
    Shapley values; else ``n_samples`` coalitions are drawn from the kernel in complementary pairs.
    ``extra["fits"][i]`` has the coalitions, values and weights of target ``i``."""
    _no_mode("kernel_shap", options)
    _choice("level", level, LEVELS)
    n_samples = _positive_int("n_samples", n_samples)
    batch = _positive_int("batch", batch)
    rng = np.random.default_rng(seed)

    def fit(i, spans, evaluate, full):
        n = len(spans)
        masks, weights, enumerated = _kernel_shap_masks(n, n_samples, rng)
        values = evaluate(np.concatenate([np.zeros((1, n), dtype=bool), masks]))
        empty, values = values[0], values[1:]
        phi = kernel_shap_fit(masks, values, weights, empty, full)
        return phi, {"masks": masks, "values": values, "weights": weights, "empty": empty, "full": full,
                     "enumerated": enumerated}

    return _target_loop(problem, level, baseline, batch, cancelled, fit, on_row)


def lime_fit(masks: np.ndarray, values: np.ndarray, weights: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Weighted ridge regression with an (unpenalised) intercept: ``(coefficients, intercept)``."""
    w = weights / weights.sum()
    z = masks.astype(np.float64)
    mean_z = w @ z
    mean_y = w @ values
    zc = z - mean_z
    yc = values - mean_y
    gram = zc.T @ (zc * weights[:, None]) + alpha * np.eye(z.shape[1])
    coef = np.linalg.lstsq(gram, zc.T @ (yc * weights), rcond=None)[0]
    return coef, float(mean_y - mean_z @ coef)


@attribution_method(
    "lime", "perturbation",
    "LIME: coefficients of a weighted ridge regression of the target on which tokens, words or sentences are kept "
    "(Ribeiro et al. 2016); absent units are replaced by a baseline token",
)
def lime(problem: Problem, *, level: str = "token", n_samples: int = 100, seed=0, baseline=None,
         kernel_width: float = 0.25, alpha: float = 1.0, batch: int = 16, on_row=None, cancelled=lambda: False,
         **options):
    """Samples: the input itself, then coalitions keeping each unit with probability 1/2 (all
    ``2**n`` coalitions once each when ``n_samples`` covers them). Weights: the exponential kernel
    ``exp(-d^2 / (2 kernel_width^2))`` of the cosine distance ``d = 1 - sqrt(kept / n)`` between
    the coalition and the input (kernel_width 0.25 is the lime package's text default: distance
    x 100, width 25). Fit: ridge regression (``alpha``, as lime's ``Ridge(alpha=1)``) of the
    target's value on the kept units, with an intercept. Scores: the coefficients.
    ``extra["fits"][i]`` has the samples, values, weights, coefficients, intercept and the weighted
    R^2 of the fit."""
    _no_mode("lime", options)
    _choice("level", level, LEVELS)
    n_samples = _positive_int("n_samples", n_samples)
    batch = _positive_int("batch", batch)
    if isinstance(kernel_width, bool) or not isinstance(kernel_width, (int, float)) or not kernel_width > 0:
        raise ValueError(f"kernel_width must be a positive number, got {kernel_width!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha >= 0:
        raise ValueError(f"alpha must be a number >= 0, got {alpha!r}")
    rng = np.random.default_rng(seed)

    def fit(i, spans, evaluate, full):
        n = len(spans)
        if n <= 30 and n_samples >= 1 << n:
            masks = (np.arange(1 << n)[::-1, None] >> np.arange(n)) & 1 == 1  # the input first
        else:
            masks = np.concatenate([np.ones((1, n), dtype=bool), rng.random((n_samples - 1, n)) < 0.5])
        values = evaluate(masks)
        distance = 1.0 - np.sqrt(masks.sum(axis=1) / n)
        weights = np.exp(-(distance ** 2) / (2.0 * float(kernel_width) ** 2))
        coef, intercept = lime_fit(masks, values, weights, float(alpha))
        predicted = intercept + masks @ coef
        mean = np.average(values, weights=weights)
        spread = np.sum(weights * (values - mean) ** 2)
        r2 = 1.0 - np.sum(weights * (values - predicted) ** 2) / spread if spread > 0 else 1.0
        return coef, {"masks": masks, "values": values, "weights": weights, "coefficients": coef,
                      "intercept": intercept, "r2": float(r2)}

    return _target_loop(problem, level, baseline, batch, cancelled, fit, on_row)
