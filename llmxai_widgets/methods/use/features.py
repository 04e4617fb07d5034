"""The residual stream after chosen blocks, at one position per text, for many texts at once.

Probes and steering vectors both read it: each text is tokenised as the views tokenise it
(``model.tokenize``: special tokens included), texts of a batch are right-padded with an
attention mask, and hooks on the blocks keep only the rows asked for (the last real token, or
the mean over the real tokens), so memory grows with ``texts x layers x hidden``, not with the
texts' length.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from ...hooks import capture, first_of
from ...models.wrapped import LoadedModel
from ..attention import Cancelled

POSITIONS = ("last", "mean")


def check_texts(texts, name: str = "texts", *, at_least: int = 1) -> list[str]:
    """``texts`` as a list of non-empty strings, or an error naming the first bad one."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError(f"{name} must be a list of strings, got {type(texts).__name__}")
    texts = list(texts)
    if len(texts) < at_least:
        raise ValueError(f"{name} needs at least {at_least} text{'s' if at_least > 1 else ''}, got {len(texts)}")
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{name}[{i}] must be a non-empty string, got {text!r}")
    return texts


def check_layers(model: LoadedModel, layers, default: Sequence[int] | None = None) -> list[int]:
    """Block indices (negative count from the end), sorted and unique; None: ``default`` or all."""
    n = model.n_layers
    if layers is None:
        return list(default) if default is not None else list(range(n))
    if isinstance(layers, (int, np.integer)) and not isinstance(layers, bool):
        layers = [layers]
    out = []
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise TypeError(f"layers must be block numbers (integers), got {layer!r}")
        if not -n <= int(layer) < n:
            raise IndexError(f"layer {layer} is out of range: {model.name} has {n} blocks, numbered 0-{n - 1}")
        out.append(int(layer) % n)
    if not out:
        raise ValueError(f"layers is empty; pass block numbers 0-{n - 1} or None for all")
    return sorted(set(out))


def check_position_kind(position) -> str:
    if position not in POSITIONS:
        raise ValueError(f"position must be 'last' (the last token of each text) or 'mean' (the mean over its "
                         f"tokens), got {position!r}")
    return position


def encode(model: LoadedModel, texts: Sequence[str]) -> list[np.ndarray]:
    """Each text's token ids, as the views tokenise it (length checked)."""
    out = []
    for text in texts:
        tokens = model.tokenize(text)
        model.check_length(tokens)
        out.append(np.asarray(tokens.ids, np.int64))
    return out


def padded(ids: Sequence[np.ndarray], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids`` and ``attention_mask`` for one batch."""
    width = max(len(i) for i in ids)
    input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = torch.as_tensor(seq)
        mask[row, : len(seq)] = 1
    return input_ids, mask


def pad_id(model: LoadedModel) -> int:
    tok = model.tokenizer
    for candidate in (tok.pad_token_id, tok.eos_token_id, 0):
        if candidate is not None:
            return int(candidate)
    return 0


def block_outputs(model: LoadedModel, texts: Sequence[str], layers: Sequence[int], *, position: str = "last",
                  batch_size: int = 16, on_batch: Callable[[int, int], None] | None = None,
                  cancelled: Callable[[], bool] | None = None) -> np.ndarray:
    """The residual stream after each block in ``layers``: float32 ``[len(layers), len(texts), hidden]``,
    at each text's last token (``position="last"``) or averaged over its tokens (``"mean"``).

    ``on_batch(done, total)`` reports texts done; ``cancelled()`` returning True stops between
    batches with :class:`~llmxai_widgets.methods.Cancelled`."""
    check_position_kind(position)
    ids = encode(model, texts)
    blocks = model.layers()
    modules = {str(layer): blocks[layer] for layer in layers}
    out = np.zeros((len(layers), len(ids), int(model.config.hidden_size)), np.float32)
    row_of = {str(layer): i for i, layer in enumerate(layers)}
    last = max(layers)
    order = np.argsort([len(i) for i in ids], kind="stable")  # similar lengths share a batch: less padding
    pad = pad_id(model)
    done = 0
    for start in range(0, len(ids), batch_size):
        if cancelled is not None and cancelled():
            raise Cancelled(f"cancelled after {done} of {len(ids)} texts")
        rows = order[start: start + batch_size]
        input_ids, mask = padded([ids[r] for r in rows], pad)
        lengths = mask.sum(1)
        weights = (mask / lengths[:, None]).to(torch.float32)[..., None]

        def keep(name, hidden, rows=rows, lengths=lengths, weights=weights):
            hidden = hidden.to(torch.float32)
            if position == "last":
                picked = hidden[torch.arange(len(rows)), lengths - 1]
            else:
                picked = (hidden * weights).sum(1)
            out[row_of[name], rows] = picked.numpy()
            if name == str(last):
                raise _Enough

        try:
            with model.lock, torch.inference_mode(), capture(modules, pick=first_of, on_capture=keep, keep=False):
                model.model.base_model(input_ids=input_ids.to(model.device), attention_mask=mask.to(model.device))
        except _Enough:
            pass
        done += len(rows)
        if on_batch is not None:
            on_batch(done, len(ids))
    return out


class _Enough(Exception):
    """The highest block asked for has run."""


__all__ = ["POSITIONS", "block_outputs", "check_layers", "check_position_kind", "check_texts", "encode", "pad_id",
           "padded"]
