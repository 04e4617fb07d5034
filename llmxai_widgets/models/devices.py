"""Models that accelerate dispatches (``device_map``, with CPU or disk offload): where their inputs
go, and reading weights that rest offloaded."""

from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def weights_loaded(module: torch.nn.Module):
    """Inside, ``module``'s own parameters hold their values even when accelerate offloads them
    (``device_map`` with ``"disk"`` or CPU offload: they rest on the ``meta`` device and are
    loaded for each forward pass only); methods that read weights directly use this."""
    if getattr(module, "_hf_hook", None) is None:
        yield module
        return
    from accelerate.utils import align_module_device

    with align_module_device(module):
        yield module


def execution_device(module: torch.nn.Module) -> torch.device | None:
    """The device accelerate runs ``module`` on (its ``AlignDevicesHook``), or None."""
    hook = getattr(module, "_hf_hook", None)
    for h in [hook, *getattr(hook, "hooks", ())]:
        device = getattr(h, "execution_device", None)
        if device is not None:
            return torch.device(device)
    return None
