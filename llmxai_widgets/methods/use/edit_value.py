"""The parts of ROME's rank-one edit (Meng et al. 2022): which linear map is edited, its key
``k*``, its value ``v*``, and the second moment of its inputs.

The edited map ``W`` is the last linear map of one block's MLP: its input is the MLP's hidden
activation, its output is what the block adds to the residual stream (LLaMA: ``mlp.down_proj``,
an ``nn.Linear`` storing ``[out, in]``; GPT-2: ``mlp.c_proj``, a ``Conv1D`` storing ``[in, out]``).
ROME reads the MLP as a key-value memory: the key is ``W``'s input at the subject's last token,
the value ``W``'s output there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ...hooks import first_of, hooked, skipping, with_output
from ...models.wrapped import LoadedModel
from ..attention import Cancelled
from ..locate.inputs import find_subject
from .features import pad_id, padded


@dataclass
class Projection:
    """The linear map ``W`` that an edit changes: ``module`` (an ``nn.Linear`` or a ``Conv1D``) at
    the dotted path ``name`` (from the top of the model), in block ``layer``."""

    module: torch.nn.Module
    name: str
    layer: int
    conv1d: bool
    """True when the weight is stored ``[in, out]`` (GPT-2's Conv1D); False for ``[out, in]``."""

    @property
    def weight(self) -> torch.nn.Parameter:
        return self.module.weight

    def map64(self, keys: torch.Tensor) -> torch.Tensor:
        """``W`` applied to ``keys[..., in]`` in float64 (bias included): the value each key reads."""
        weight = self.weight.detach().to("cpu", torch.float64)
        out = keys.to(torch.float64) @ (weight if self.conv1d else weight.T)
        bias = getattr(self.module, "bias", None)
        return out if bias is None else out + bias.detach().to("cpu", torch.float64)


def mlp_projection(model: LoadedModel, layer: int) -> Projection:
    """The linear map whose output is block ``layer``'s MLP output, found by running the MLP once
    on a fixed random input and keeping the ``nn.Linear``/``Conv1D`` inside it whose output is the
    MLP's output, exactly. An MLP that ends in anything else (a mixture of experts, a
    non-linearity after the last projection) is refused, naming the module."""
    mlp = model.mlp_output_module(layer, "edit")
    mlp_name = module_name(model, mlp)
    candidates = {name: module for name, module in mlp.named_modules()
                  if isinstance(module, torch.nn.Linear) or type(module).__name__ == "Conv1D"}
    seen: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(_module, _args, output):
            seen[name] = first_of(output)
        return hook

    weight = next(mlp.parameters(), None)
    if weight is None or not candidates:
        raise ValueError(f"edit() changes the last linear map of an MLP, but {mlp_name} ({type(mlp).__name__}) "
                         f"holds no nn.Linear or Conv1D; ROME cannot edit this architecture's MLP")
    if any(p.device.type == "meta" for p in mlp.parameters()):
        held = [n for n in model.offloaded] or ["some modules"]
        raise ValueError(f"edit() writes the weights of block {layer}'s MLP ({mlp_name}), which accelerate keeps "
                         f"offloaded (device_map with 'disk' or CPU offload: {', '.join(held)}; they rest on the meta "
                         f"device and are reloaded for each forward pass), so an edit could not be written there; "
                         f"pick a block held in memory with layer=..., or load the model without offloading")
    x = torch.randn(1, 2, int(model.config.hidden_size), generator=torch.Generator().manual_seed(0))
    handles = [module.register_forward_hook(keep(name)) for name, module in candidates.items()]
    try:
        with model.lock, torch.no_grad():
            out = first_of(mlp(x.to(weight.device, weight.dtype)))
    finally:
        for handle in handles:
            handle.remove()
    last = [name for name, value in seen.items() if value.shape == out.shape and torch.equal(value, out)]
    if len(last) != 1:
        found = ", ".join(f"{name or '(itself)'}: {type(candidates[name]).__name__}" for name in candidates)
        raise ValueError(
            f"edit() changes the linear map whose output is the MLP's output, but the output of {mlp_name} "
            f"({type(mlp).__name__}) in block {layer} is not the output of one linear map inside it (it holds "
            f"{found}); the MLP ends in something else (a non-linearity, a mixture of experts, dropout in "
            f"training mode: call model.model.eval()), so ROME's rank-one update does not apply to it")
    module = candidates[last[0]]
    name = f"{mlp_name}.{last[0]}" if last[0] else mlp_name
    return Projection(module, name, layer, conv1d=not isinstance(module, torch.nn.Linear))


def module_name(model: LoadedModel, module: torch.nn.Module) -> str:
    """The dotted path of ``module`` from the top of the model (``model.layers.5.mlp``)."""
    for name, candidate in model.model.named_modules():
        if candidate is module:
            return name
    raise ValueError(f"{type(module).__name__} is not a module of {model.name}")


# -- prompts --------------------------------------------------------------------------------------
def subject_last(model: LoadedModel, text: str, subject: str, skip: int = 0) -> tuple[np.ndarray, int]:
    """Token ids of ``text`` and the position of the last token of ``subject``'s first occurrence
    at or after character ``skip`` (a prefix put before the prompt may contain the subject too)."""
    tokens = model.tokenize(text)
    model.check_length(tokens)
    hidden = dataclasses.replace(tokens, source="\0" * skip + text[skip:])  # offsets still index ``text``
    _, stop = find_subject(hidden, subject)
    return np.asarray(tokens.ids, np.int64), stop - 1


def batch(model: LoadedModel, sequences: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids`` and ``attention_mask`` on the model's device."""
    ids, mask = padded(sequences, pad_id(model))
    return ids.to(model.device), mask.to(model.device)


# -- key and value --------------------------------------------------------------------------------
class _Stop(Exception):
    """``W`` has run: the blocks above it are not needed."""


def run_to(model: LoadedModel, projection: Projection, ids: torch.Tensor, mask: torch.Tensor, read: Callable) -> None:
    """Run the model without gradients until ``W`` has run; ``read(W's input, W's output)`` sees
    its tensors (the blocks above are skipped)."""

    def hook(_module, args, output):
        read(first_of(args), first_of(output))
        raise _Stop

    try:
        with model.lock, torch.inference_mode(), hooked(projection.module, hook):
            model.model(input_ids=ids, attention_mask=mask, use_cache=False)
    except _Stop:
        return
    raise RuntimeError(f"{projection.name} did not run in a forward pass of {model.name}")


def read_key(model: LoadedModel, projection: Projection, sequences: Sequence[np.ndarray],
             positions: Sequence[int]) -> torch.Tensor:
    """``W``'s input at ``positions[i]`` of ``sequences[i]``: float32 ``[sequence, in]`` (one
    padded batch, no gradients)."""
    ids, mask = batch(model, sequences)
    rows, cols = torch.arange(len(sequences)), torch.as_tensor(list(positions))
    seen = {}

    def read(keys, _values):
        seen["key"] = keys[rows, cols].detach().to("cpu", torch.float32)

    run_to(model, projection, ids, mask, read)
    return seen["key"]


def _block_input(model: LoadedModel, layer: int, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The residual stream entering block ``layer`` (no gradients; the blocks above are skipped)."""
    seen = {}

    def hook(_module, args, kwargs):
        seen["hidden"] = (first_of(args) if args else kwargs["hidden_states"]).detach().clone()
        raise _Stop

    try:
        with model.lock, torch.inference_mode(), hooked(model.layers()[layer], hook, pre=True):
            model.model(input_ids=ids, attention_mask=mask, use_cache=False)
    except _Stop:
        pass
    return seen["hidden"]


@dataclass
class ValueFit:
    """The optimised vector added to ``W``'s output: ``delta`` (float32 ``[out]``) and, per step,
    the loss before that step's update split into its parts."""

    delta: torch.Tensor
    losses: list[float]
    nll: list[float]
    kl: list[float]
    target_prob: list[float]
    """Mean over the prefixed prompts of the new target's probability (whole sequence), per step."""


def fit_value(model: LoadedModel, projection: Projection, prompts: Sequence[np.ndarray], positions: Sequence[int],
              target_ids: Sequence[int], essence: np.ndarray, essence_position: int, scale: float, *, steps: int,
              lr: float, kl_weight: float, clamp: float, stop_below: float | None, on_step: Callable | None,
              cancelled: Callable[[], bool] | None) -> ValueFit:
    """Optimise ``delta`` so that, added to ``W``'s output at the subject's last token of every
    prompt, the model continues each prompt with ``target_ids``.

    One padded batch holds every prompt followed by the target's tokens but its last, plus the
    essence prompt (``"{subject} is a"``, delta added at its subject's last token too). The loss
    is ROME's: the mean negative log-likelihood of the target tokens, plus ``kl_weight`` x
    KL(new || original) of the next-token distribution after the essence prompt (what the model
    says about the subject in general should move little). Adam from ``delta = 0`` (deterministic)
    for at most ``steps`` updates at ``lr``, stopping early once the negative log-likelihood is
    below ``stop_below`` (ROME stops on the whole loss, whose KL part may never get that low);
    after each update ``delta`` is scaled back into the ball of radius
    ``clamp * scale`` (``scale``: the norm of ``W``'s original output). ROME takes the KL at the
    subject's last token of the essence prompt; we take it at the prompt's end, where "is a" asks
    what the subject is.

    Each step runs only the blocks from ``W``'s up (the residual stream entering that block is
    the same at every step) and projects only the positions the loss reads onto the vocabulary.
    """
    from ..attribution.core import _takes_logits_to_keep

    target_ids = list(target_ids)
    sequences = [np.concatenate([p, np.asarray(target_ids[:-1], np.int64)]) for p in prompts] + [essence]
    ids, mask = batch(model, sequences)
    device = ids.device
    rows = torch.arange(len(sequences), device=device)
    cols = torch.as_tensor([*positions, essence_position], device=device)
    # where each target token is predicted (row, position, token), and the essence prompt's end
    pred_rows = [r for r in range(len(prompts)) for _ in target_ids] + [len(sequences) - 1]
    pred_cols = [len(p) - 1 + j for p in prompts for j in range(len(target_ids))] + [len(essence) - 1]
    pred_tokens = torch.as_tensor([t for _ in prompts for t in target_ids], device=device)
    extra = {}
    if _takes_logits_to_keep(model.model):
        kept = sorted(set(pred_cols))
        extra["logits_to_keep"] = torch.as_tensor(kept, device=device)
        pred_cols = [kept.index(c) for c in pred_cols]
    pred_rows, pred_cols = torch.as_tensor(pred_rows, device=device), torch.as_tensor(pred_cols, device=device)
    hidden = _block_input(model, projection.layer, ids, mask)

    delta = torch.zeros(projection.weight.shape[1 if projection.conv1d else 0], device=device, requires_grad=True)
    optimiser = torch.optim.Adam([delta], lr=lr)
    radius = clamp * scale

    def insert(_module, _args, output):
        out = first_of(output)
        added = delta.to(out.dtype).expand(len(rows), -1)
        return with_output(output, out.index_put((rows, cols), added, accumulate=True))

    fit = ValueFit(delta, [], [], [], [])
    original = None
    with torch.inference_mode(False):
        hidden = hidden.clone()  # an ordinary tensor: autograd may keep it for the backward pass
    with model.lock, torch.inference_mode(False), torch.enable_grad(), hooked(projection.module, insert), \
            skipping(model, projection.layer, hidden):
        for step in range(steps):
            if cancelled is not None and cancelled():
                raise Cancelled(f"edit() cancelled at step {step} of {steps} of the value optimisation")
            logits = model.model(input_ids=ids, attention_mask=mask, use_cache=False, **extra).logits
            logp = torch.log_softmax(logits[pred_rows, pred_cols].float(), -1)
            picked = logp[:-1].gather(1, pred_tokens[:, None])[:, 0]
            nll = -picked.mean()
            essence_logp = logp[-1]
            if original is None:
                original = essence_logp.detach()
            kl = (essence_logp.exp() * (essence_logp - original)).sum()
            loss = nll + kl_weight * kl
            fit.losses.append(loss.item())
            fit.nll.append(nll.item())
            fit.kl.append(kl.item())
            fit.target_prob.append(float(picked.detach().view(len(prompts), -1).sum(1).exp().mean()))
            if stop_below is not None and fit.nll[-1] < stop_below:
                break
            (delta.grad,) = torch.autograd.grad(loss, delta)
            optimiser.step()
            with torch.no_grad():
                norm = float(delta.norm())
                if norm > radius:
                    delta.mul_(radius / norm)
            if on_step is not None:
                on_step("value", step + 1, steps, fit.losses[-1])
    fit.delta = delta.detach().to("cpu", torch.float32)
    return fit


# -- covariance -----------------------------------------------------------------------------------
RIDGE = 1e-3
"""The ridge added to a second moment whose condition number exceeds :data:`MAX_CONDITION`:
``RIDGE`` x its mean eigenvalue (trace / size) on the diagonal."""
MAX_CONDITION = 1e8


def second_moment(model: LoadedModel, projection: Projection, texts: Sequence[str], *, batch_size: int = 8,
                  on_step: Callable | None = None, cancelled: Callable[[], bool] | None = None
                  ) -> tuple[torch.Tensor, int]:
    """The uncentred second moment ``E[k k^T]`` of ``W``'s input over every token of ``texts``
    (float64 ``[in, in]``) and the number of tokens. Texts run in padded batches; padding is
    left out of the mean. ``on_step("covariance", texts done, texts)`` reports progress and
    ``cancelled()`` is checked between batches."""
    encoded = []
    for text in texts:
        tokens = model.tokenize(text)
        model.check_length(tokens)
        encoded.append(np.asarray(tokens.ids, np.int64))
    size = projection.weight.shape[0 if projection.conv1d else 1]
    total = torch.zeros(size, size, dtype=torch.float64)
    count = 0
    for start in range(0, len(encoded), batch_size):
        if cancelled is not None and cancelled():
            raise Cancelled(f"edit() cancelled after {start} of {len(encoded)} covariance texts")
        ids, mask = batch(model, encoded[start:start + batch_size])
        seen = {}

        def read(keys, _values, mask=mask):
            seen["keys"] = keys[mask.bool()].detach().to("cpu", torch.float64)

        run_to(model, projection, ids, mask, read)
        total += seen["keys"].T @ seen["keys"]
        count += len(seen["keys"])
        if on_step is not None:
            on_step("covariance", min(start + batch_size, len(encoded)), len(encoded), None)
    return total / count, count


def regularised(moment: torch.Tensor) -> tuple[torch.Tensor, float, float]:
    """``(C, ridge, condition)``: the second moment with ``ridge`` on its diagonal when its
    condition number (largest / smallest eigenvalue, ``inf`` when singular) exceeds
    :data:`MAX_CONDITION` (always the case with fewer tokens than the key has dimensions)."""
    eigen = torch.linalg.eigvalsh(moment)
    largest, smallest = float(eigen[-1]), float(eigen[0])
    condition = largest / smallest if smallest > 0 else float("inf")
    if condition <= MAX_CONDITION:
        return moment, 0.0, condition
    ridge = RIDGE * float(eigen.clamp(min=0).mean())
    return moment + ridge * torch.eye(len(moment), dtype=moment.dtype), ridge, condition
