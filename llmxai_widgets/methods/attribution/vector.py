"""Attention- and vector-based attribution, and gradient SHAP.

Each method explains target token ``t`` (see ``core``) by what the model does at position
``t - 1``, the position whose logits predict it. A causal model's computation up to ``t - 1``
does not depend on later tokens, so one forward pass over the sequence serves every target.

- ``gradient_shap`` (family "gradient"): expected gradients with noisy baselines (Lundberg and
  Lee 2017; Erion et al. 2021). It lives here because it needs only the embedding gradients
  of ``core.Problem``.
- ``attention_x_gradient``: attention weights times the gradient of the target with respect to
  them (Hao et al. 2021), summed over heads and layers.
- ``attention_rollout``: attention rollout (Abnar and Zuidema 2020).
- ``norm_attention``: norm-based attention, ``||sum_h alpha_h f_h(x_j)||`` (Kobayashi et al. 2020).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ...hooks import capture
from ...models.devices import weights_loaded
from ..attention import Cancelled, attention, eager_attention, resolve_layers
from ..attention_views import rollout
from .core import Problem, attribution_method
from .gradient import _cancel, baseline_embeds


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _layers(problem: Problem, layers) -> list[int]:
    """Model layers asked for (None: every layer); negative indices count from the top."""
    n = problem.model.n_layers
    if isinstance(layers, (int, np.integer)) and not isinstance(layers, bool) and -n <= layers < 0:
        layers = n + int(layers)
    elif isinstance(layers, (list, tuple, range)):
        layers = [n + int(l) if isinstance(l, (int, np.integer)) and not isinstance(l, bool) and -n <= l < 0 else l
                  for l in layers]
    try:
        return resolve_layers(problem.model, layers)
    except (IndexError, TypeError) as err:
        raise ValueError(f"layers: {err}; pass None for every layer, a layer number or a list of them") from None


def _emit(rows: np.ndarray, i: int, on_row, cancelled) -> None:
    if on_row is not None:
        on_row(i, rows[i])
    if cancelled():
        _cancel()


def _context(problem: Problem) -> torch.Tensor:
    """The ids every target needs: up to the position predicting the last target."""
    return problem.ids[: max(problem.ends)]


# -- gradient SHAP ----------------------------------------------------------------------------

NOTE_ABOVE = 0.1
"""Completeness error above which gradient SHAP adds a note to the result."""


@attribution_method(
    "gradient_shap", "gradient",
    "expected gradients: (input - baseline) x gradient at a random point between them, averaged over "
    "noisy baselines (gradient SHAP)",
)
def gradient_shap(problem: Problem, *, n_samples: int = 20, stdev="auto", baseline=0, seed: int | None = 0,
                  stratified: bool = True, batch: int = 20, on_row=None, cancelled=lambda: False, **_):
    """Gradient SHAP / expected gradients on the input embeddings.

    For each of ``n_samples`` samples ``k``: a baseline ``b_k = b + noise`` (``b`` the embeddings
    of ``baseline``, as for integrated gradients: a token id, "pad"/"unk"/"eos"/"bos" or
    "zeros"; the noise Gaussian with standard deviation ``stdev``) and ``alpha_k ~ U(0, 1)``;
    the score of token ``j`` is ``mean_k sum_d (x - b_k)[j, d] * grad f(b_k + alpha_k (x - b_k))[j, d]``.
    Each sample is a one-point Monte Carlo estimate of integrated gradients from ``b_k``, so the
    scores sum, in expectation, to ``f(x) - mean_k f(b_k)`` (the result's ``completeness`` is
    the relative gap from that, with the baselines drawn; above 10% a note says so).

    ``stdev="auto"`` is 0.1 times the standard deviation of the model's embedding matrix
    entries; ``stdev=0`` is integrated gradients with random (uniform) step positions.
    Captum's ``GradientShap`` adds the noise to the *input* instead (and explains the noisy
    input); here the input stays exact and only the baseline is random, as in expected
    gradients. ``stratified`` (default) draws one alpha in each of ``n_samples`` equal strata of
    [0, 1] (in random order, still unbiased, less variance); False draws them independently as
    Captum does. ``seed``: the draws are reproducible (None: fresh ones). ``batch``: samples per
    forward/backward pass.
    """
    n_samples = _positive_int(n_samples, "n_samples")
    batch = _positive_int(batch, "batch")
    weight = problem.model.model.get_input_embeddings().weight
    if isinstance(stdev, str):
        if stdev != "auto":
            raise ValueError(f"stdev must be a number (0 or more) or 'auto', got {stdev!r}")
        stdev = 0.1 * float(weight.detach().float().std())
    elif isinstance(stdev, bool) or not isinstance(stdev, (int, float, np.integer, np.floating)) or not stdev >= 0:
        raise ValueError(f"stdev must be a number (0 or more) or 'auto', got {stdev!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"seed must be an integer or None, got {seed!r}")
    if not isinstance(stratified, (bool, np.bool_)):
        raise ValueError(f"stratified must be True or False, got {stratified!r}")
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))

    rows = np.full((len(problem.targets), len(problem.ids)), np.nan, np.float32)
    errors = []
    for i, t in enumerate(problem.ends):
        x = problem.embed(problem.ids[:t][None]).detach()
        b0 = baseline_embeds(problem, baseline, x)
        noise = torch.randn((n_samples, *x.shape[1:]), generator=generator) * stdev
        noise[:, [p for p in problem.fixed if p < t]] = 0.0  # a masked LM's masks stay as they are
        alphas = torch.rand(n_samples, generator=generator)
        if stratified:  # one alpha in each of n_samples equal strata of [0, 1], in random order
            alphas = (torch.randperm(n_samples, generator=generator) + alphas) / n_samples
        total = torch.zeros(t, dtype=torch.float32, device=x.device)
        f_base = 0.0
        for start in range(0, n_samples, batch):
            b = b0 + noise[start:start + batch].to(x.device, x.dtype)
            a = alphas[start:start + batch].to(x.device, x.dtype)[:, None, None]
            path = (b + a * (x - b)).requires_grad_(True)
            (grad,) = torch.autograd.grad(problem.target_values(path, [i])[0].sum(), path)
            total += ((x - b).float() * grad.float()).sum(dim=(0, 2))
            with torch.no_grad():
                f_base += float(problem.target_values(b, [i])[0].sum())
            if cancelled():
                _cancel()
        rows[i, :t] = (total / n_samples).cpu().numpy()
        with torch.no_grad():
            gap = float(problem.target_values(x, [i])[0][0, 0]) - f_base / n_samples
        errors.append(abs(float(rows[i, :t].sum()) - gap) / max(abs(gap), 1e-12))
        _emit(rows, i, on_row, cancelled)
    notes = [
        f"target {i}: gradient SHAP's scores sum {error:.0%} away from f(input) - mean f(baselines) with "
        f"{n_samples} samples (a Monte Carlo error: it falls as samples are added); raise n_samples, or read "
        f"the scores as approximate"
        for i, error in enumerate(errors) if error > NOTE_ABOVE
    ]
    return rows, {"completeness": np.asarray(errors, np.float32), "stdev": stdev, "notes": notes}


# -- attention x gradient ---------------------------------------------------------------------


@attribution_method(
    "attention_x_gradient", "vector",
    "attention weights of the predicting position times the target's gradient with respect to them, "
    "summed over heads and layers (Hao et al. 2021)",
)
def attention_x_gradient(problem: Problem, *, layers=None, on_row=None, cancelled=lambda: False, **_):
    """``score[j] = sum_{layer, head} A[t-1, j] * dF/dA[t-1, j]``: the attention weight from the
    position predicting target ``t`` to token ``j`` times the gradient of the target's value ``F``
    with respect to that weight, summed over heads and ``layers`` (None: all).

    This is the first-order (one-step) form of Hao et al. 2021's attention attribution
    ("Self-Attention Attribution: Interpreting Information Interactions Inside Transformer",
    AAAI), ``A * integral_0^1 dF(aA)/dA da``, read off the row of the predicting position; the
    gradient-weighted attention of Chefer et al. 2021 and Barkan et al. 2021 (Grad-SAM) are
    the same product with positive parts and head means. Only that row's weights are
    perturbed: earlier positions' rows carry information to ``t - 1`` too and are not counted.
    Weights are taken with eager attention (the model's attention implementation is restored
    afterwards); one forward pass serves every target, each gets one backward pass.
    """
    wanted = _layers(problem, layers)
    model = problem.model
    rows = np.full((len(problem.targets), len(problem.ids)), np.nan, np.float32)
    with model.lock, eager_attention(model):
        embeds = problem.embed(_context(problem)[None]).detach().requires_grad_(True)
        out = model.model(inputs_embeds=embeds, output_attentions=True, **problem.forward_kwargs(*embeds.shape[:2]))
        if not out.attentions or any(a is None for a in out.attentions):
            raise RuntimeError(f"{model.name} returned no attention weights with output_attentions=True")
        weights = [out.attentions[layer] for layer in wanted]
        if cancelled():
            _cancel()
        logits = out.logits[:, None] if problem.pooled else out.logits
        last = len(problem.targets) - 1
        for i, (t, q) in enumerate(zip(problem.ends, problem.queries)):
            grads = torch.autograd.grad(problem.score(logits, i).sum(), weights, retain_graph=i < last)
            row = torch.zeros(t, dtype=torch.float64)
            for a, g in zip(weights, grads):
                row += (a[0, :, q, :t].detach().double() * g[0, :, q, :t].double()).sum(dim=0).cpu()
            rows[i, :t] = row.numpy()
            _emit(rows, i, on_row, cancelled)
    return rows, {"layers": wanted}


# -- attention rollout ------------------------------------------------------------------------


def _attention(problem: Problem, layers: list[int], cancelled):
    """The model's attention weights over the context (one forward pass, fast kernels)."""

    def on_layer(_layer, _result):
        if cancelled():
            raise Cancelled

    tokens = problem.model.tokens_from_ids(_context(problem).tolist())
    if problem.token_type_ids is not None:  # sentence A/B of a pair
        tokens = dataclasses.replace(tokens, segments=problem.token_type_ids.cpu().numpy())
    result = attention(problem.model, tokens, layers, on_layer=on_layer)
    if not result.complete:
        _cancel()
    return result


@attribution_method(
    "attention_rollout", "vector",
    "attention rollout (Abnar and Zuidema 2020): head-averaged attention plus the residual, multiplied "
    "through the layers, read at the predicting position",
)
def attention_rollout(problem: Problem, *, layer=-1, on_row=None, cancelled=lambda: False, **_):
    """Row ``t - 1`` of attention rollout (Abnar and Zuidema 2020, "Quantifying Attention Flow in
    Transformers", ACL): ``prod_l (0.5 * mean_heads(A_l) + 0.5 * I)``, rows renormalised, over
    layers 0..``layer`` (default the last; see ``attention_views.rollout``). Scores are
    non-negative and sum to 1 over the tokens before the target (the predicting position
    itself included). The weights come from ``attention()`` (one pass, the model's own kernel).
    """
    if layer is None or isinstance(layer, (list, tuple, range)):
        raise ValueError(f"layer must be one layer number (rollout runs from layer 0 up to it), got {layer!r}")
    (upto,) = _layers(problem, layer)
    result = _attention(problem, list(range(upto + 1)), cancelled)
    joint = rollout(result, upto)
    rows = np.full((len(problem.targets), len(problem.ids)), np.nan, np.float32)
    for i, (t, q) in enumerate(zip(problem.ends, problem.queries)):
        rows[i, :t] = joint[q, :t]
        _emit(rows, i, on_row, cancelled)
    return rows, {"layer": upto}


# -- norm-based attention ---------------------------------------------------------------------


@attribution_method(
    "norm_attention", "vector",
    "norm-based attention (Kobayashi et al. 2020): the length of what each token's transformed value "
    "adds to the predicting position, averaged over layers",
)
def norm_attention(problem: Problem, *, layers=None, on_row=None, cancelled=lambda: False, **_):
    """``score[j] = mean_{layer} || sum_h A_h[t-1, j] f_h(x_j) ||`` (Kobayashi et al. 2020,
    "Attention is Not Only a Weight: Analyzing Transformers with Vector Norms", EMNLP, eq. 7:
    the norm of the whole multi-head attention's contribution of token ``j``), with
    ``f_h(x) = W_O^h (W_V^h x + b_V^h)``: head ``h``'s value (of the layer's normed input
    ``x_j``, grouped-query value heads shared as the model shares them) through its slice of the
    output projection, the output bias left out. ``layers``: None (every layer, averaged), a
    layer number (e.g. -1, the last) or a list. In layers above the first, ``x_j`` is position
    ``j``'s hidden state, already mixed with earlier tokens. Scores are non-negative, in units
    of the residual stream.

    Weights come from ``attention()`` (one pass, the model's own kernel); values from hooks on
    each layer's ``v_proj``, so the model's attention must have ``v_proj`` and ``o_proj``
    projections (LLaMA, Mistral, Qwen2 and their kin).
    """
    wanted = _layers(problem, layers)
    model = problem.model
    modules = {str(layer): model.attention_module(layer) for layer in wanted}
    for module in modules.values():
        if not all(isinstance(getattr(module, n, None), torch.nn.Linear) for n in ("v_proj", "o_proj")):
            raise ValueError(
                f"norm_attention reads each head's values from v_proj and o_proj projections; "
                f"{model.name} ({model.config.model_type}) has none: use a LLaMA-style model "
                f"(LLaMA, Mistral, Qwen2, SmolLM) or another method"
            )
    with capture({name: m.v_proj for name, m in modules.items()}) as values:
        result = _attention(problem, wanted, cancelled)
    n_heads, n_kv = model.n_heads, model.n_kv_heads
    kv_group = torch.as_tensor(model.kv_group)
    queries = problem.queries
    total = torch.zeros(len(queries), len(_context(problem)), dtype=torch.float64)
    for layer in wanted:
        if not values.get(str(layer)):
            raise RuntimeError(f"{model.name}: no values were recorded for layer {layer}")
        v = values[str(layer)][0][0].double()  # [pos, kv_heads * head_dim]
        head_dim = v.shape[-1] // n_kv
        v = v.reshape(len(v), n_kv, head_dim).transpose(0, 1)[kv_group]  # [head, pos, head_dim]
        with weights_loaded(modules[str(layer)].o_proj):  # offloaded (device_map) weights are read too
            w_o = modules[str(layer)].o_proj.weight.detach().cpu().double()  # [hidden, heads * head_dim]
        if w_o.shape[1] != n_heads * head_dim:
            raise ValueError(
                f"{model.name}: o_proj takes {w_o.shape[1]} inputs, not heads x head_dim = {n_heads * head_dim}"
            )
        f = torch.einsum("hpd,ohd->hpo", v, w_o.reshape(-1, n_heads, head_dim))  # [head, pos, hidden]
        a = torch.from_numpy(result.layer(layer)[:, queries, :]).double()  # [head, query, pos]
        total += torch.einsum("hqp,hpo->qpo", a, f).norm(dim=-1)
        if cancelled():
            _cancel()
    total /= len(wanted)
    rows = np.full((len(problem.targets), len(problem.ids)), np.nan, np.float32)
    for i, t in enumerate(problem.ends):
        rows[i, :t] = total[i, :t].numpy()
        _emit(rows, i, on_row, cancelled)
    return rows, {"layers": wanted}
