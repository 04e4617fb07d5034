"""Direct logit attribution: what the embeddings, each attention layer, each head and each MLP
write into the residual stream that ends up in one token's final logit.

A causal LM's final residual at a position is a sum: the embeddings plus, for every block, the
attention output and the MLP output. The final norm is not linear, but with its scale frozen at
its value on the actual residual (RMSNorm: divide by the root mean square; LayerNorm: centre
each vector, divide by the standard deviation) it is, so the target's logit splits exactly:

    logit = sum over parts of  part . d  +  constant,
    d = (norm weight * W_U[target]) / scale      (centred for LayerNorm),
    constant = norm bias . W_U[target] + unembedding bias[target].

An attention layer's output is its output projection applied to the heads side by side, so
head ``h``'s part is its slice of the projection's input times the matching rows of the weight;
the projection's bias is a part of its own. (Elhage et al. 2021, "A Mathematical Framework for
Transformer Circuits"; TransformerLens' ``decompose_resid`` / ``stack_head_results``.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..models.devices import weights_loaded
from ..models.wrapped import LoadedModel, Tokens
from .forward import check_position, first_tensor, require_causal, run_hooked, token_id, tokens_of
from .registry import register

_PURPOSE = "contributions()"


@dataclass
class ContributionResult:
    """The target token's final logit at ``position``, split into what each part wrote.

    Every value is in logit units (float32 arrays, Python floats):

    - ``embed``: the token (and position) embeddings.
    - ``attention[layer]``: each block's attention output, bias included:
      ``attention == heads.sum(1) + attention_bias``.
    - ``heads[layer, head]``: each attention head's share through the output projection.
    - ``attention_bias[layer]``: the output projection's bias (0 when it has none).
    - ``mlp[layer]``: each block's MLP output.
    - ``constant``: the final norm's bias and the unembedding's bias (0 for RMSNorm, no bias).
    - ``total`` = ``embed + attention.sum() + mlp.sum() + constant``, equal to ``logit``, the
      model's own final logit, up to float rounding.
    - ``norm_scale``: the final norm's divisor, frozen at its value on the actual residual.
    """

    tokens: Tokens
    position: int
    target_id: int
    target_text: str
    logit: float
    embed: float
    attention: np.ndarray
    heads: np.ndarray
    attention_bias: np.ndarray
    mlp: np.ndarray
    constant: float
    norm_scale: float
    model_name: str

    @property
    def total(self) -> float:
        return float(self.embed + self.attention.sum(dtype=np.float64) + self.mlp.sum(dtype=np.float64) + self.constant)

    def components(self) -> tuple[list[str], np.ndarray]:
        """``(labels, values[part])`` in the order the parts are added: "embed", "attn 0",
        "mlp 0", "attn 1", ..., "constant" (float32 values that sum to ``total``)."""
        labels, values = ["embed"], [self.embed]
        for layer in range(len(self.mlp)):
            labels += [f"attn {layer}", f"mlp {layer}"]
            values += [self.attention[layer], self.mlp[layer]]
        return [*labels, "constant"], np.asarray([*values, self.constant], dtype=np.float32)


@register("contributions")
def contributions(
    model: LoadedModel, text: str | Tokens, target: str | int | None = None, position: int = -1
) -> ContributionResult:
    """Direct logit attribution of ``target`` (a one-token string such as ``" Paris"`` or a token
    id; None: the model's top prediction) at ``position`` (default: the last token) of ``text``.

    One forward pass records, at ``position`` only, the input of block 0 (the embeddings), each
    attention output projection's input and output, each MLP's output and the final norm's input.
    Models whose final logit is soft-capped (Gemma 2) are decomposed before the cap.
    """
    require_causal(model, "contributions")
    tokens = tokens_of(model, text)
    position = check_position(position, len(tokens))
    n_layers = model.n_layers
    norm = model.final_norm_module(_PURPOSE)
    unembed = model.unembedding_module(_PURPOSE)
    modules = {"embed": model.layers()[0], "final": norm}
    what = {"embed": "input", "final": "input"}
    projections = [model.attention_output_module(layer, _PURPOSE) for layer in range(n_layers)]
    for layer in range(n_layers):
        modules[f"heads.{layer}"] = modules[f"attn.{layer}"] = projections[layer]
        what[f"heads.{layer}"] = "input"
        modules[f"mlp.{layer}"] = model.mlp_output_module(layer, _PURPOSE)
    seen: dict[str, np.ndarray] = {}

    def keep(name: str, tensor: torch.Tensor) -> None:
        seen[name] = tensor.double().numpy()

    def at_position(value):  # one position only: long texts stay cheap
        return first_tensor(value)[0, position]

    run_hooked(model, tokens, modules, keep, what=what, pick=at_position)
    residual = seen["final"]
    with model.lock, torch.inference_mode():
        logits = unembed(norm(torch.as_tensor(residual, dtype=unembed.weight.dtype, device=model.device))).float()
    target_id = int(logits.argmax()) if target is None else token_id(model, target)
    with weights_loaded(norm), weights_loaded(unembed):  # offloaded (device_map) weights are read too
        direction, constant, scale = _frozen_norm_direction(model, norm, unembed, residual, target_id)
    _check_residual_adds_up(model, seen, residual)

    heads = np.zeros((n_layers, model.n_heads))
    bias = np.zeros(n_layers)
    for layer, projection in enumerate(projections):
        with weights_loaded(projection):
            weight, b = _input_by_output(projection)  # [in, out], [out]
        per_input = seen[f"heads.{layer}"] * (weight @ direction)  # [head * head_dim]
        heads[layer] = per_input.reshape(model.n_heads, -1).sum(-1)
        bias[layer] = 0.0 if b is None else b @ direction
    return ContributionResult(
        tokens=tokens,
        position=position,
        target_id=target_id,
        target_text=model.tokenizer.decode([target_id]),
        logit=float(logits[target_id]),
        embed=float(seen["embed"] @ direction),
        attention=np.asarray([seen[f"attn.{l}"] @ direction for l in range(n_layers)], np.float32),
        heads=heads.astype(np.float32),
        attention_bias=bias.astype(np.float32),
        mlp=np.asarray([seen[f"mlp.{l}"] @ direction for l in range(n_layers)], np.float32),
        constant=float(constant),
        norm_scale=float(scale),
        model_name=model.name,
    )


def _frozen_norm_direction(model: LoadedModel, norm, unembed, residual: np.ndarray, target_id: int):
    """``(d, constant, scale)`` with ``logit = residual . d + constant`` (float64), the final
    norm's scale frozen at its value on ``residual``."""
    arch = model.architecture
    kind = model._needs("final_norm_kind", _PURPOSE)
    eps = next((float(getattr(norm, k)) for k in ("variance_epsilon", "eps", "epsilon") if hasattr(norm, k)), 1e-5)
    # OLMo's parameter-free LayerNorm hard-codes eps=1e-5 and has no attribute for it.
    weight = _param(norm, "weight", residual.shape[0], 1.0) + arch.final_norm_weight_offset
    norm_bias = _param(norm, "bias", residual.shape[0], 0.0)
    row = unembed.weight[target_id].detach().double().cpu().numpy()
    unembed_bias = 0.0 if getattr(unembed, "bias", None) is None else float(unembed.bias[target_id])
    if kind == "rms":
        scale = np.sqrt(np.mean(residual**2) + eps)
        direction = weight * row / scale
    elif kind == "layer":
        scale = np.sqrt(np.var(residual) + eps)
        direction = weight * row / scale
        direction = direction - direction.mean()  # (x - mean(x)) . d == x . (d - mean(d))
    else:
        raise ValueError(f"final_norm_kind must be 'rms' or 'layer', got {kind!r} for {model.config.model_type!r}")
    return direction, float(norm_bias @ row) + unembed_bias, float(scale)


def _param(module, name: str, size: int, default: float) -> np.ndarray:
    value = getattr(module, name, None)
    if value is None:
        return np.full(size, default)
    return value.detach().double().cpu().numpy()


def _input_by_output(projection: torch.nn.Module) -> tuple[np.ndarray, np.ndarray | None]:
    """The projection's weight as ``[in, out]`` (nn.Linear stores ``[out, in]``, GPT-2's Conv1D
    ``[in, out]``) and its bias, float64."""
    weight = projection.weight.detach().double().cpu().numpy()
    if isinstance(projection, torch.nn.Linear):
        weight = weight.T
    elif type(projection).__name__ != "Conv1D":
        raise TypeError(f"cannot read the weight of a {type(projection).__name__} attention output projection")
    bias = getattr(projection, "bias", None)
    return weight, None if bias is None else bias.detach().double().cpu().numpy()


def _check_residual_adds_up(model: LoadedModel, seen: dict, residual: np.ndarray) -> None:
    """The parts must add up to the final residual, or the architecture adds something else.

    The model adds them in its own dtype, rounding the running sum at each of the ``2 n_layers``
    additions; the parts are summed here in float64. So the gap allowed is ``1e-3`` of the
    residual's norm (float32), or that dtype's rounding, ``eps * sqrt(2 n_layers + 1)`` of it, when
    larger (bfloat16, 30 blocks: 6%; SmolLM2's actual gap is about 0.5%; float16: 0.8%)."""
    parts = seen["embed"] + sum(seen[f"attn.{l}"] + seen[f"mlp.{l}"] for l in range(model.n_layers))
    gap = float(np.linalg.norm(parts - residual))
    dtype = next((p.dtype for p in model.layers()[0].parameters() if p.is_floating_point()), torch.float32)
    tolerance = max(1e-3, torch.finfo(dtype).eps * float(np.sqrt(2 * model.n_layers + 1)))
    if gap > tolerance * max(1.0, float(np.linalg.norm(residual))):
        raise RuntimeError(
            f"{model.name}: the embeddings, attention outputs and MLP outputs do not add up to the final "
            f"residual (gap {gap:.3g}); a '{model.config.model_type}' block adds something else to the "
            f"residual stream, so contributions() cannot split its logit. Check ARCHITECTURES"
            f"[{model.config.model_type!r}].attention_output / .mlp_output."
        )
