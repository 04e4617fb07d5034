"""Run a causal LM again with some activations replaced ("patched"), many runs at once, starting
at the first block a patch touches.

Causal tracing and activation patching ask the same question thousands of times: what does the
model predict if one activation of run A is put into run B? Every such run is identical to run B
below the lowest patched block, so :func:`record` keeps B's residual stream at every block's input
once, and :func:`run_patched` starts each batch of runs there: the blocks below are replaced by a
pass-through for the duration of the call (their indices, masks and rotary embeddings stay as the
model computes them), the first block run gets the cached residual stream, hooks put the patched
values in, and only the last position is projected on the vocabulary.

Sites (what can be patched), per block ``layer``:

- ``residual``: the block's output at one position (the residual stream after it);
- ``attention`` / ``mlp``: what the attention / MLP added to the residual stream at one position
  (the attention's output projection / the MLP module, from the architecture table);
- ``head``: one query head's output (its slice of the output projection's input) at every position;
- ``kv``: one key/value head's keys and values (after rotary embeddings, before grouped-query
  repetition) at every position: a grouped-query model's key/value head is patched once, for
  every query head that reads it, never by repeating it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

import torch

from ...hooks import first_of, hooked, replace_first, skipping, with_output
from ...models.wrapped import LoadedModel
from .kv_kernel import KVState, kv_kernel

POSITION_SITES = ("residual", "attention", "mlp")
HEAD_SITES = ("head", "kv")
MAX_BATCH_TOKENS = 4096
"""Sequences x tokens run in one batch (bounds activation memory; CPU matmuls are as fast)."""


@dataclass
class States:
    """Activations of ``runs`` runs of the same ``tokens`` (one row per run).

    - ``resid[layer, run, token, d_model]``: the input of block ``layer``; index ``n_layers`` is
      the last block's output (so ``resid[l + 1]`` is block ``l``'s output).
    - ``attention[layer, run, token, d_model]``, ``mlp[...]``: what each part added.
    - ``z[layer, run, token, heads * head_dim]``: the heads' outputs side by side (None unless asked).
    - ``key[layer, run, kv_head, token, head_dim]``, ``value[...]``: None unless asked.
    - ``logits[run, vocab]``: float32 logits at the last position.
    """

    resid: torch.Tensor
    attention: torch.Tensor
    mlp: torch.Tensor
    logits: torch.Tensor
    z: torch.Tensor | None = None
    key: torch.Tensor | None = None
    value: torch.Tensor | None = None

    def site(self, kind: str) -> torch.Tensor:
        return {"residual": self.resid[1:], "attention": self.attention, "mlp": self.mlp}[kind]


@dataclass
class Patch:
    """Put ``values`` into runs ``rows`` of a batch at block ``layer``.

    ``kind`` "attention" / "mlp": ``values[row, d_model]`` at ``positions[row]``; "head":
    ``values[row, token, head_dim]`` into query head ``index[row]``; "kv": ``values`` is a pair
    ``(keys, values)`` each ``[row, token, head_dim]`` for key/value head ``index[row]``.
    """

    kind: str
    layer: int
    rows: torch.Tensor
    values: torch.Tensor | tuple[torch.Tensor, torch.Tensor]
    positions: torch.Tensor | None = None
    index: torch.Tensor | None = None


@dataclass
class _Plan:
    patches: dict[tuple[str, int], list[Patch]] = field(default_factory=dict)

    def add(self, patch: Patch) -> None:
        self.patches.setdefault((patch.kind, patch.layer), []).append(patch)

    def get(self, kind: str, layer: int) -> list[Patch]:
        return self.patches.get((kind, layer), [])


def check_patchable(model: LoadedModel, *, kv: bool, purpose: str) -> None:
    """Every module the runs hook must be known; otherwise say which one to add where."""
    if model.kind != "causal":
        raise ValueError(
            f"{purpose}() reads the next-token prediction of a causal language model; {model.name} is a "
            f"{model.kind} model. Load one with lx.load_model('smollm2') or lx.load_model('<a causal model id>')."
        )
    for part in ("attention_output", "mlp_output", "final_norm"):
        model._needs(part, purpose)
    if kv:
        from ..attention_capture import supports_capture

        if not supports_capture(model.model):
            raise ValueError(
                f"{purpose}() patches keys and values inside the attention kernel, which llmxai_widgets has "
                f"checked for model types llama, mistral, qwen2 and gpt2, not {model.config.model_type!r}; "
                f"leave 'kv' out of sites=, or add the type to methods/attention_capture.CAPTURE_TYPES "
                f"after checking it"
            )


def _patch_hooks(model: LoadedModel, plan: _Plan, stack: ExitStack, start: int) -> None:
    for layer in range(start, model.n_layers):
        for kind, module in (("attention", model.attention_output_module(layer)), ("mlp", model.mlp_output_module(layer))):
            patches = plan.get(kind, layer)
            if patches:
                stack.enter_context(hooked(module, _output_patcher(patches)))
        heads = plan.get("head", layer)
        if heads:
            stack.enter_context(hooked(model.attention_output_module(layer), _head_patcher(heads, model), pre=True))


def _output_patcher(patches: list[Patch]):
    def hook(_module, _args, output):
        out = first_of(output).clone()
        for p in patches:
            out[p.rows, p.positions] = p.values.to(out.dtype)
        return with_output(output, out)

    return hook


def _head_patcher(patches: list[Patch], model: LoadedModel):
    def hook(_module, args, kwargs):
        z = (args[0] if args else kwargs["input"]).clone()
        size = z.shape[-1] // model.n_heads
        for p in patches:
            for row, head, values in zip(p.rows.tolist(), p.index.tolist(), p.values):
                z[row, :, head * size : (head + 1) * size] = values.to(z.dtype)
        return replace_first(args, kwargs, z, "input")

    return hook


# -- recording and running ------------------------------------------------------------------------
def _attention_layers(model: LoadedModel) -> dict[int, int]:
    return {id(model.attention_module(layer)): layer for layer in range(model.n_layers)}


def record(model: LoadedModel, ids: torch.Tensor, *, embed: Callable | None = None, heads: bool = False,
           kv: bool = False, grad: bool = False) -> States:
    """Run ``ids[run, token]`` once and keep every site's activations (CPU, float32).

    ``embed(embeddings) -> embeddings`` edits the input embeddings (causal tracing's noise).
    With ``grad``, the caller runs this under autograd and reads ``States`` tensors' ``.grad``
    after a backward pass from ``logits`` (attribution patching); the tensors then stay on the
    model's device."""
    n_layers = model.n_layers
    resid: list = [None] * (n_layers + 1)
    attn: list = [None] * n_layers
    mlp: list = [None] * n_layers
    z: list = [None] * n_layers
    keep = (lambda t: t) if grad else (lambda t: t.detach().float().cpu())

    def block_input(layer):
        def hook(_m, args, kwargs):
            resid[layer] = first_of(args) if args else kwargs["hidden_states"]
        return hook

    def last_output(_m, _a, output):
        resid[n_layers] = first_of(output)

    def store(where, layer):
        def hook(_m, _a, output):
            where[layer] = first_of(output)
        return hook

    def store_z(layer):
        def hook(_m, args, kwargs):
            z[layer] = args[0] if args else kwargs["input"]
        return hook

    state = KVState(_attention_layers(model)) if kv else None
    if state is not None:
        state.record, state.live = {}, grad
    with ExitStack() as stack:
        if state is not None:
            stack.enter_context(kv_kernel(model, state))
        layers = model.layers()
        for layer in range(n_layers):
            stack.enter_context(hooked(layers[layer], block_input(layer), pre=True))
            stack.enter_context(hooked(model.attention_output_module(layer), store(attn, layer)))
            stack.enter_context(hooked(model.mlp_output_module(layer), store(mlp, layer)))
            if heads:
                stack.enter_context(hooked(model.attention_output_module(layer), store_z(layer), pre=True))
        stack.enter_context(hooked(layers[n_layers - 1], last_output))
        if embed is not None:
            stack.enter_context(hooked(model.model.get_input_embeddings(), lambda _m, _a, out: embed(out)))
        logits = _logits(model, ids)
    if grad:
        for t in (*resid, *attn, *mlp, *(z if heads else [])):
            t.retain_grad()
    stacked = (lambda xs: xs) if grad else (lambda xs: torch.stack([keep(x) for x in xs]))
    states = States(resid=stacked(resid), attention=stacked(attn), mlp=stacked(mlp),
                    logits=logits if grad else logits.detach().float().cpu(),
                    z=stacked(z) if heads else None)
    if state is not None:
        keys, values = [state.record[l][0] for l in range(n_layers)], [state.record[l][1] for l in range(n_layers)]
        states.key, states.value = (keys, values) if grad else (torch.stack(keys), torch.stack(values))
    return states


def _logits(model: LoadedModel, ids: torch.Tensor, cache=None) -> torch.Tensor:
    from ..attribution.core import _takes_logits_to_keep

    kwargs = {"logits_to_keep": 1} if _takes_logits_to_keep(model.model) else {}
    if cache is not None:
        kwargs["cache" if "cache" in inspect.signature(model.model.forward).parameters else "past_key_values"] = cache
    out = model.model(input_ids=ids.to(model.device), use_cache=False, **kwargs)
    return out.logits[:, -1].float()  # any logit soft-capping is applied inside the model's forward


def run_patched(model: LoadedModel, ids: torch.Tensor, start: int, hidden: torch.Tensor,
                patches: Sequence[Patch] = (), past: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Float32 last-position logits ``[run, vocab]`` of runs that enter block ``start`` with
    ``hidden[run, token, d_model]`` (every block below is skipped) and get ``patches`` on the way.
    ``ids[token]``: the tokens (only their positions matter above the embeddings).

    ``past = (keys, values)``, each ``[layer, run, kv_head, prefix, head_dim]``: the first
    ``prefix`` tokens are unchanged in every run, so their keys and values are given (a cache)
    and only the rest is computed: ``hidden`` and the patches' positions then cover tokens
    ``prefix..`` only (a "kv" patch still gives every token's keys)."""
    plan = _Plan()
    for p in patches:
        if p.layer < start:
            raise ValueError(f"a patch at block {p.layer} cannot apply to runs that start at block {start}")
        plan.add(p)
    runs = hidden.shape[0]
    prefix = 0 if past is None else past[0].shape[-2]
    batch_ids = ids[prefix:].reshape(1, -1).expand(runs, -1)
    needs_kv = any(kind == "kv" for kind, _ in plan.patches)
    with ExitStack() as stack:
        if needs_kv:
            state = KVState(_attention_layers(model))
            state.plan = plan
            stack.enter_context(kv_kernel(model, state))
        _patch_hooks(model, plan, stack, start)
        # the cached residual stream is float32; the blocks read it in the model's own dtype
        stack.enter_context(skipping(model, start, hidden.to(model.device, compute_dtype(model))))
        return _logits(model, batch_ids, None if past is None else _cache(model, past)).cpu()


def _cache(model: LoadedModel, past: tuple[torch.Tensor, torch.Tensor]):
    from transformers import DynamicCache

    keys, values = past
    device, dtype = model.device, compute_dtype(model)
    return DynamicCache(ddp_cache_data=[(keys[l].to(device, dtype), values[l].to(device, dtype))
                                        for l in range(len(keys))], config=model.config)


def compute_dtype(model: LoadedModel) -> torch.dtype:
    """The dtype the blocks compute in (float16 / bfloat16 weights: activations recorded in
    float32 are cast back to it before they enter a block)."""
    for param in model.layers()[0].parameters():
        if param.is_floating_point():
            return param.dtype
    return torch.float32
