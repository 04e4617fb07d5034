"""The logit lens (nostalgebraist 2020): read the residual stream after every block as if it were
the last one, through the model's final norm and unembedding.

The residual streams are recorded with hooks on the blocks' outputs (not transformers'
``output_hidden_states``, whose last entry is already normed for LLaMA-style models), and each
one is decoded with ``unembedding(final_norm(residual))``. So the lens at the last layer is
exactly the model's own logits, and no layer is normed twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..models.wrapped import LoadedModel, Tokens
from .attention import check_index
from .forward import (
    check_count,
    check_position,
    first_tensor,
    require_causal,
    run_hooked,
    token_id,
    tokens_of,
    vocab_size,
)
from .registry import register

EMBED = -1
"""The ``layers`` entry of the embeddings row (the residual stream before the first block)."""

_CHUNK = 256  # positions decoded at once: logits over the vocabulary are large


@dataclass
class LogitLensResult:
    """Next-token predictions read from the residual stream after each block.

    Row ``i`` of every ``[row, ...]`` array is ``layers[i]``: ``-1`` (:data:`EMBED`) is the
    embeddings (the input of block 0), ``l >= 0`` the residual stream after block ``l``; the row
    of the last block is the model's own output. ``labels[i]`` names each row ("embed", "0", ...).
    Column ``j`` of every ``[..., position, ...]`` array is token ``positions[j]`` (every token
    unless ``positions=`` was given); what is predicted there is the token after it.

    - ``top_ids[row, position, rank]``: int64 ids of the ``top_k`` most likely next tokens.
    - ``top_text[row, position, rank]``: those tokens as decoded strings.
    - ``top_probs[row, position, rank]``, ``top_logits[row, position, rank]``: float32.
    - ``positions[position]``: int64 token index of each column.
    - ``target_ids[position]``: int64, the token followed at each position (the one asked for, or
      the model's final top prediction there); ``target_text[position]`` its string.
    - ``target_probs[row, position]``: float32 probability of the target token.
    - ``target_ranks[row, position]``: int64, how many tokens are more likely (0 = the top one).
    """

    tokens: Tokens
    layers: list[int]
    positions: np.ndarray
    top_ids: np.ndarray
    top_text: np.ndarray
    top_probs: np.ndarray
    top_logits: np.ndarray
    target_ids: np.ndarray
    target_text: list[str]
    target_probs: np.ndarray
    target_ranks: np.ndarray
    model_name: str
    n_model_layers: int

    @property
    def labels(self) -> list[str]:
        return ["embed" if layer == EMBED else str(layer) for layer in self.layers]

    def row(self, layer: int | str) -> int:
        """Row index of model layer ``layer`` ("embed" or -1 for the embeddings)."""
        key = EMBED if layer == "embed" else layer
        if key not in self.layers:
            raise ValueError(f"layer {layer!r} is not in this result; it holds {self.labels}")
        return self.layers.index(key)


@register("logit_lens")
def logit_lens(
    model: LoadedModel,
    text: str | Tokens,
    target: str | int | None = None,
    *,
    top_k: int = 5,
    layers=None,
    positions=None,
) -> LogitLensResult:
    """The logit lens of ``text``: at every position and after every block, the ``top_k`` most
    likely next tokens and the probability and rank of ``target``.

    ``target``: a one-token string (``" Paris"``) or token id, followed at every position; None
    follows the model's own final top prediction at each position. ``layers``: model layers
    and/or ``"embed"``; None means the embeddings and every block. ``positions``: token indices
    to decode (negative counts from the end; None: all). Each row costs one unembedding of every
    position decoded (1,024 positions x 49,152 tokens is 58 GFLOP), so long texts are faster
    with ``positions=[-1]`` or a few layers.
    """
    require_causal(model, "logit_lens")
    tokens = tokens_of(model, text)
    top_k = min(check_count(top_k, "top_k", "top_k=5"), vocab_size(model))
    rows = _resolve_rows(model, layers)
    columns = _resolve_positions(positions, len(tokens))
    last = model.n_layers - 1
    residuals = _residuals(model, tokens, sorted(set(rows) | ({last} if target is None else set())), columns)
    if target is None:  # the model's own prediction: the top token after the last block
        target_ids = np.concatenate([logits.argmax(-1).numpy() for logits in _decode(model, residuals[last])])
    else:
        target_ids = np.full(len(columns), token_id(model, target), dtype=np.int64)
    # every row at once: each chunk of positions reads the unembedding matrix once
    flat = _lens(model, torch.cat([residuals[layer] for layer in rows]), np.tile(target_ids, len(rows)), top_k)
    shape = (len(rows), len(columns))
    out = {name: value.reshape(*shape, *value.shape[1:]) for name, value in flat.items()}
    strings = _strings(model, np.concatenate([out["top_ids"].ravel(), target_ids]))
    return LogitLensResult(
        tokens=tokens,
        layers=rows,
        positions=columns,
        top_text=np.asarray([strings[i] for i in out["top_ids"].ravel()], dtype=str).reshape(out["top_ids"].shape),
        target_ids=target_ids,
        target_text=[strings[int(i)] for i in target_ids],
        model_name=model.name,
        n_model_layers=model.n_layers,
        **out,
    )


def follow_targets(model: LoadedModel, text: str | Tokens, targets, *, layers=None, positions=None):
    """Several followed tokens at once, for one forward pass and one unembedding of every (row,
    column): ``targets`` lists token ids (followed at every column) and/or None (the model's own
    final top prediction at each column, as ``logit_lens(target=None)`` follows). Returns
    ``(ids[t, column], probs[t, row, column], ranks[t, row, column])``: int64, float32, int64,
    equal to ``target_ids``, ``target_probs`` and ``target_ranks`` of :func:`logit_lens` for each."""
    require_causal(model, "logit_lens")
    tokens = tokens_of(model, text)
    rows = _resolve_rows(model, layers)
    columns = _resolve_positions(positions, len(tokens))
    last = model.n_layers - 1
    residuals = _residuals(model, tokens, sorted(set(rows) | {last}), columns)
    own = np.concatenate([logits.argmax(-1).numpy() for logits in _decode(model, residuals[last])])
    ids = np.stack([own if t is None else np.full(len(columns), int(t), np.int64) for t in targets]).astype(np.int64)
    tiled = torch.as_tensor(np.tile(ids, (1, len(rows))))  # [target, row * column]
    probs = np.zeros(tiled.shape, np.float32)
    ranks = np.zeros(tiled.shape, np.int64)
    start = 0
    for logits in _decode(model, torch.cat([residuals[layer] for layer in rows])):
        span = slice(start, start + len(logits))
        start += len(logits)
        chosen = logits.gather(-1, tiled[:, span].T)  # [chunk, target]
        log_total = torch.logsumexp(logits, dim=-1, keepdim=True)
        probs[:, span] = (chosen - log_total).exp().T.numpy()
        if len(targets) > 12:  # one sort beats a comparison per target (same counts)
            ordered = logits.sort(dim=-1).values  # more likely than the target: all but those <= it
            ranks[:, span] = (logits.shape[-1] - torch.searchsorted(ordered, chosen.contiguous(), right=True)).T.numpy()
        else:
            ranks[:, span] = torch.stack([(logits > chosen[:, t : t + 1]).sum(-1) for t in range(len(targets))]).numpy()
    shape = (len(targets), len(rows), len(columns))
    return ids, probs.reshape(shape), ranks.reshape(shape)


def _residuals(model: LoadedModel, tokens: Tokens, needed: list[int], columns: np.ndarray) -> dict[int, torch.Tensor]:
    """The residual stream ``[column, d_model]`` at each row of ``needed`` (EMBED: the first block's
    input; a layer: its block's output); the pass stops after the highest block needed."""
    modules = {str(l): model.layers()[max(l, 0)] for l in needed}
    what = {str(l): "input" if l == EMBED else "output" for l in needed}
    residuals: dict[int, torch.Tensor] = {}
    run_hooked(model, tokens, modules, lambda name, t: residuals.__setitem__(int(name), t[0, torch.as_tensor(columns)]),
               what=what, pick=first_tensor, last=str(needed[-1]))
    return residuals


def _lens(model: LoadedModel, residual: torch.Tensor, target_ids: np.ndarray, top_k: int) -> dict[str, np.ndarray]:
    """Decode ``residual[i, d_model]``: the ``top_k`` tokens, and the target's probability and
    rank, for each row ``i`` (arrays ``[i, rank]`` and ``[i]``)."""
    n = len(residual)
    out = {
        "top_ids": np.zeros((n, top_k), np.int64),
        "top_probs": np.zeros((n, top_k), np.float32),
        "top_logits": np.zeros((n, top_k), np.float32),
        "target_probs": np.zeros(n, np.float32),
        "target_ranks": np.zeros(n, np.int64),
    }
    start = 0
    for logits in _decode(model, residual):
        span = slice(start, start + len(logits))
        start += len(logits)
        values, ids = torch.topk(logits, top_k, dim=-1)
        target_logit = logits.gather(-1, torch.as_tensor(target_ids[span])[:, None])
        log_total = torch.logsumexp(logits, dim=-1, keepdim=True)
        out["top_ids"][span] = ids.numpy()
        out["top_logits"][span] = values.numpy()
        out["top_probs"][span] = (values - log_total).exp().numpy()
        out["target_probs"][span] = (target_logit - log_total)[:, 0].exp().numpy()
        out["target_ranks"][span] = (logits > target_logit).sum(-1).numpy()
    return out


def _resolve_positions(positions, n_tokens: int) -> np.ndarray:
    if positions is None:
        return np.arange(n_tokens, dtype=np.int64)
    if isinstance(positions, (int, np.integer)):
        positions = [positions]
    columns = [check_position(p, n_tokens) for p in positions]
    if not columns:
        raise ValueError("positions is empty; pass None for every position, or e.g. [-1] for the last")
    return np.asarray(sorted(set(columns)), dtype=np.int64)


def _resolve_rows(model: LoadedModel, layers) -> list[int]:
    if layers is None:
        return [EMBED, *range(model.n_layers)]
    if isinstance(layers, (int, np.integer, str)):
        layers = [layers]
    rows = set()
    for layer in layers:
        if layer in ("embed", EMBED):
            rows.add(EMBED)
        else:
            rows.add(check_index(layer, model.n_layers, "layer", model.name))
    if not rows:
        raise ValueError("layers is empty; pass None for every layer, or e.g. ['embed', 0, 5]")
    return sorted(rows)


def _decode(model: LoadedModel, residual: torch.Tensor):
    """Yield float32 logits ``[chunk, vocab]`` of ``residual[position, d_model]``, a chunk of
    positions at a time: the model's own final norm, unembedding and logit soft-capping."""
    norm = model.final_norm_module("logit_lens")
    unembed = model.unembedding_module("logit_lens")
    cap = getattr(model.config, "final_logit_softcapping", None)
    with model.lock, torch.inference_mode():
        for start in range(0, len(residual), _CHUNK):
            hidden = residual[start : start + _CHUNK].to(model.device)
            logits = unembed(norm(hidden)).float()
            if cap:
                logits = torch.tanh(logits / cap) * cap
            yield logits.cpu()


def _strings(model: LoadedModel, ids: np.ndarray) -> dict[int, str]:
    """Each distinct token id as its decoded text (``" Paris"``, leading space included)."""
    return {int(i): model.tokenizer.decode([int(i)]) for i in np.unique(ids)}
