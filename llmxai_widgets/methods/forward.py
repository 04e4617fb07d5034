"""Plumbing shared by the methods that look inside the blocks (neurons, logit lens, direct logit
attribution): one hooked forward pass that stops once the last module asked for has run, the
tokens of a text, and checks of targets and positions with errors that say how to fix them."""

from __future__ import annotations

import ctypes
import ctypes.util
import inspect
from collections.abc import Callable, Mapping

import numpy as np
import torch

from ..hooks import capture
from ..models.wrapped import LoadedModel, Tokens


class _Finished(Exception):
    """The last module asked for has run: the layers above it are not needed."""


def tokens_of(model: LoadedModel, text: str | Tokens) -> Tokens:
    tokens = text if isinstance(text, Tokens) else model.tokenize(text)
    model.check_length(tokens)
    return tokens


def no_cache(model: LoadedModel) -> dict:
    """``{"use_cache": False}`` when the model's forward takes it: a view reads one pass and never
    generates, and the key/value cache it would build is memory for nothing (0.38 GB for the
    bundled model at 8,192 tokens)."""
    try:
        takes = "use_cache" in inspect.signature(model.model.base_model.forward).parameters
    except (TypeError, ValueError):
        takes = False
    return {"use_cache": False} if takes else {}


def release_freed_memory() -> None:
    """Give the memory freed by torch and numpy back to the system (glibc keeps freed heap pages
    otherwise, and a long text's per-layer temporaries add up to the process's peak). A no-op
    where glibc's ``malloc_trim`` is not available."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _malloc_trim():
    global _TRIM
    if _TRIM is False:
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _TRIM = lib.malloc_trim
        except (OSError, AttributeError):
            _TRIM = None
    return _TRIM


_TRIM = False


def require_causal(model: LoadedModel, method: str) -> None:
    if model.kind != "causal":
        raise ValueError(
            f"{method}() decodes the residual stream into next-token predictions, which needs a causal "
            f"language model; {model.name} is a {model.kind} model. Load one with "
            f"lx.load_model('smollm2') or lx.load_model('<a causal model id>')."
        )


def run_hooked(
    model: LoadedModel,
    tokens: Tokens,
    modules: Mapping[str, torch.nn.Module],
    on_capture: Callable[[str, torch.Tensor], None],
    *,
    what: str | Mapping[str, str] = "output",
    pick: Callable | Mapping[str, Callable] | None = None,
    last: str | None = None,
) -> bool:
    """Run the base model (no language-model head) on ``tokens`` with ``modules`` hooked.

    ``on_capture(name, tensor)`` gets each captured tensor (CPU, batch dimension kept); the pass
    stops right after module ``last`` has run. Returns whether ``last`` was reached (True when
    ``last`` is None and the pass ran to the end). Exceptions raised by ``on_capture`` (such as
    :class:`~llmxai_widgets.methods.Cancelled`) stop the pass and propagate; hooks are always
    removed.
    """
    if model.kind == "seq2seq":
        raise ValueError(
            f"{model.name} is an encoder-decoder model; neurons(), logit_lens() and contributions() read "
            f"one stack of blocks and support decoder-only and encoder-only models for now"
        )
    ids = torch.as_tensor(tokens.ids, device=model.device)[None]
    extra = {}
    if tokens.segments is not None and getattr(model.config, "type_vocab_size", 1) > 1:
        extra["token_type_ids"] = torch.as_tensor(tokens.segments, device=ids.device)[None]

    def arrived(name: str, tensor: torch.Tensor) -> None:
        on_capture(name, tensor)
        if name == last:
            raise _Finished

    try:
        with model.lock, torch.inference_mode(), capture(
            modules, what=what, pick=pick, on_capture=arrived, keep=False
        ):
            model.model.base_model(input_ids=ids, **extra, **no_cache(model))
    except _Finished:
        return True
    return last is None


def first_tensor(value) -> torch.Tensor:
    """The tensor a hook sees: the module's output, or the first positional input."""
    return value[0] if isinstance(value, (tuple, list)) else value


def vocab_size(model: LoadedModel) -> int:
    return int(model.unembedding_module().weight.shape[0])


def token_id(model: LoadedModel, target: str | int, name: str = "target") -> int:
    """A one-token string (``" Paris"``, leading space included) or a token id, as a token id."""
    size = vocab_size(model)
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if not 0 <= int(target) < size:
            raise IndexError(f"{name} id {target} is out of range: {model.name} has {size:,} tokens, numbered 0-{size - 1:,}")
        return int(target)
    if not isinstance(target, str):
        raise TypeError(f"{name} must be a one-token string such as ' Paris' or a token id, got {type(target).__name__}")
    ids = model.tokenizer(target, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        pieces = [model.tokenizer.decode([i]) for i in ids]
        hint = f"; its first token is {pieces[0]!r}" if pieces else ""
        raise ValueError(
            f"{name} {target!r} is {len(ids)} tokens {pieces} for {model.name}, but must be exactly one "
            f"(mind the leading space: ' Paris', not 'Paris'){hint}; or pass a token id"
        )
    return int(ids[0])


def check_position(position: object, n_tokens: int) -> int:
    """A token position (negative counts from the end) as an index in ``0..n_tokens-1``."""
    if isinstance(position, bool) or not isinstance(position, (int, np.integer)):
        raise TypeError(f"position must be an integer, got {type(position).__name__} {position!r}")
    if not -n_tokens <= int(position) < n_tokens:
        raise IndexError(
            f"position {position} is out of range: the text has {n_tokens} tokens, numbered 0-{n_tokens - 1} "
            f"(or -{n_tokens} to -1 from the end)"
        )
    return int(position) % n_tokens


def check_count(value: object, name: str, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}; e.g. {example}")
    return int(value)
