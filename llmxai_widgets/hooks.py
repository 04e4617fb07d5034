"""Capture module inputs/outputs during a forward pass, addressed by module name.

Hooks live only inside the ``capture`` context manager and are removed in ``finally``, so an
exception (or a cancelled computation) never leaves a model with stray hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import torch

Tensors = dict[str, list[torch.Tensor]]


def _first_tensor(value):
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for item in value:
            found = _first_tensor(item)
            if found is not None:
                return found
    if isinstance(value, Mapping):
        for item in value.values():
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def select(index: int) -> Callable:
    """A picker for module outputs that are tuples: ``select(1)`` takes ``output[1]``."""

    def pick(value):
        return value[index] if isinstance(value, (tuple, list)) else None

    return pick


@contextmanager
def capture(
    modules: Mapping[str, torch.nn.Module],
    *,
    what: str | Mapping[str, str] = "output",
    pick: Callable | Mapping[str, Callable] | None = None,
    on_capture: Callable[[str, torch.Tensor], None] | None = None,
    keep: bool = True,
) -> Iterator[Tensors]:
    """Record tensors flowing through ``modules`` (name -> module) during forward passes.

    - ``what``: "output" or "input" (one for all, or per name).
    - ``pick``: chooses the tensor from a tuple output (default: the first tensor found).
    - ``on_capture(name, tensor)`` runs as each tensor arrives (streaming, progress, cancel: an
      exception raised there aborts the forward pass and still removes every hook).
    - ``keep``: store the tensors in the yielded dict (name -> one CPU tensor per call).

    Captured tensors are detached and moved to the CPU.
    """
    captured: Tensors = {name: [] for name in modules}
    handles = []

    def make_hook(name: str, mode: str, picker: Callable | None):
        def hook(_module, args, output):
            value = args if mode == "input" else output
            tensor = picker(value) if picker is not None else _first_tensor(value)
            if tensor is None:
                return
            tensor = tensor.detach().to("cpu")
            if keep:
                captured[name].append(tensor)
            if on_capture is not None:
                on_capture(name, tensor)

        return hook

    try:
        for name, module in modules.items():
            mode = what if isinstance(what, str) else what.get(name, "output")
            if mode not in ("input", "output"):
                raise ValueError(f"what must be 'input' or 'output', got {mode!r} for {name!r}")
            picker = pick.get(name) if isinstance(pick, Mapping) else pick
            handles.append(module.register_forward_hook(make_hook(name, mode, picker)))
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def first_of(value):
    """A module's first output (or argument) when it returns a tuple or list; else the value."""
    return value[0] if isinstance(value, (tuple, list)) else value


def replace_first(args, kwargs, new, name="hidden_states"):
    """A forward pre-hook's ``(args, kwargs)`` with the first input (positional, or ``name``) replaced."""
    if args:
        return (new, *args[1:]), kwargs
    return args, {**kwargs, name: new}


def with_output(output, new):
    """A forward hook's return value: ``output`` with its first item replaced by ``new``."""
    if isinstance(output, tuple):
        return (new, *output[1:])
    if isinstance(output, list):
        return [new, *output[1:]]
    return new


@contextmanager
def skipping(model, start: int, hidden: torch.Tensor):
    """Blocks below ``start`` pass their input through unchanged; block ``start`` (or the final
    norm when ``start == n_layers``) receives ``hidden`` instead of what it would get."""
    layers = model.layers()
    saved = []

    def passthrough(*args, **kwargs):
        return args[0] if args else kwargs["hidden_states"]

    def feed(_module, args, kwargs):
        return replace_first(args, kwargs, hidden)

    entry = layers[start] if start < len(layers) else model.final_norm_module()
    handle = entry.register_forward_pre_hook(feed, with_kwargs=True)
    try:
        for layer in layers[:start]:
            saved.append((layer, layer.__dict__.get("forward")))
            layer.forward = passthrough
        yield
    finally:
        handle.remove()
        for layer, forward in saved:
            if forward is None:
                del layer.forward
            else:
                layer.forward = forward



@contextmanager
def hooked(module, fn, pre: bool = False):
    """``fn`` as a forward hook (``pre``: a pre-hook with kwargs) of ``module`` while the block runs."""
    handle = module.register_forward_pre_hook(fn, with_kwargs=True) if pre else module.register_forward_hook(fn)
    try:
        yield
    finally:
        handle.remove()
