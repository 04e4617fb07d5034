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
