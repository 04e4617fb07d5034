"""Checks of :func:`~.edit.edit`'s arguments and the choice of the edited block by causal tracing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..attention_capture import supports_capture
from ..forward import check_count
from ..locate import engine, grid
from ..locate.inputs import find_subject, noise_for, window_layers
from ..locate.subjects import SUBJECTS
from .features import check_layers, check_texts

PREFIXES = ("", "Fact: ", "The following is true. ")
"""Text put before the prompt when reading the key and fitting the value, so the edit holds in
more contexts than the one prompt (ROME samples short texts from the model; a fixed list keeps
:func:`~.edit.edit` deterministic)."""
TRACE_SAMPLES, TRACE_WINDOW = 10, 10
"""Causal tracing's defaults (noise draws, MLPs restored together) for choosing the layer."""


def check_edit(model, prompt, subject, new_target, layer, covariance, prefixes, steps, lr, kl_weight, clamp,
               stop_below):
    """Every argument checked before anything runs: ``(target ids, layer (0..n-1, or None), prefixes,
    covariance texts or None)``."""
    check_texts([prompt], "prompt")
    if not isinstance(subject, str) or not subject.strip():
        raise TypeError(f"subject must be text that occurs in the prompt (e.g. 'The Eiffel Tower'), got {subject!r}")
    if subject not in prompt:
        lower = prompt.lower().find(subject.lower())
        hint = (f"; the prompt has {prompt[lower:lower + len(subject)]!r}, which differs only in case"
                if lower >= 0 else "")
        raise ValueError(f"subject {subject!r} does not occur in the prompt {prompt!r}: edit() looks for these exact "
                         f"characters (case-sensitive){hint}; copy the subject from the prompt")
    if not isinstance(new_target, str) or not new_target.strip():
        raise ValueError(f"new_target must be a non-empty string such as ' Rome' (mind the leading space), "
                         f"got {new_target!r}")
    target_ids = [int(i) for i in model.tokenizer(new_target, add_special_tokens=False)["input_ids"]]
    if not target_ids:
        raise ValueError(f"new_target {new_target!r} has no tokens for {model.name}; pass a word such as ' Rome'")
    if layer is not None:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise TypeError(f"layer must be a block number (an integer) or None to choose it by causal tracing, "
                            f"got {layer!r}")
        layer = check_layers(model, layer)[0]
    if covariance is not None:
        if isinstance(covariance, str):
            raise TypeError("covariance must be a list of texts (or None for the identity), got one string; "
                            "wrap it in a list")
        if not isinstance(covariance, Sequence) or len(covariance) == 0:
            raise ValueError(f"covariance has no texts ({covariance!r}); pass a list of ordinary texts (a few dozen "
                             f"sentences or more) to estimate C, or None for the identity")
        covariance = check_texts(covariance, "covariance")
    prefixes = PREFIXES if prefixes is None else prefixes
    if isinstance(prefixes, str) or not isinstance(prefixes, Sequence) or not prefixes \
            or not all(isinstance(p, str) for p in prefixes):
        raise ValueError(f"prefixes must be a non-empty list of strings put before the prompt (include '' for the "
                         f"bare prompt), got {prefixes!r}")
    check_count(steps, "steps", "steps=25")
    numbers = [("lr", lr, "> 0"), ("clamp", clamp, "> 0"), ("kl_weight", kl_weight, ">= 0")]
    for name, number, least in numbers + ([] if stop_below is None else [("stop_below", stop_below, ">= 0")]):
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not np.isfinite(number) \
                or (number < 0 if least == ">= 0" else number <= 0):
            raise ValueError(f"{name} must be a number {least}, got {number!r}")
    return target_ids, layer, list(prefixes), covariance


def traced_layer(model, prompt, subject, on_step, cancelled):
    """The block whose MLP matters most for the fact, by causal tracing: the highest "mlp" score
    (a window of ``TRACE_WINDOW`` MLPs, or every block of a smaller model, restored) at the
    subject's last token.

    These are the numbers :func:`~llmxai_widgets.causal_trace` puts in that token's column (same
    noise, samples and seed), computed for that column alone: the whole grid takes about a
    minute on a CPU, the column a few seconds. Returns ``(layer, how it was chosen, scores[layer])``."""
    engine.check_patchable(model, kv=False, purpose="edit")
    tokens = model.tokenize(prompt)
    span = find_subject(tokens, subject)
    position, ids = span[1] - 1, torch.as_tensor(tokens.ids)
    corrupt = noise_for(model, tokens, span, "3sigma", samples=TRACE_SAMPLES, seed=1, texts=SUBJECTS,
                        replacements=SUBJECTS)
    with model.lock, torch.inference_mode():
        clean = engine.record(model, ids[None])
        corrupted = engine.record(model, corrupt.ids, embed=corrupt.embed, kv=supports_capture(model.model))
    answer = int(clean.logits[0].argmax())
    prob = lambda logits: torch.softmax(logits, -1)[..., answer]  # noqa: E731
    clean_p, corrupted_p = float(prob(clean.logits)[0]), float(prob(corrupted.logits).mean())
    scores = np.zeros(model.n_layers, np.float32)
    window = min(TRACE_WINDOW, model.n_layers)
    for layer in range(model.n_layers):
        blocks = list(window_layers(layer, window, model.n_layers))
        values = grid.run_cells(model, ids, "mlp", blocks, [position], corrupted, clean, prob, cancelled)
        scores[layer] = values[position]
        if on_step is not None:
            on_step("trace", layer + 1, model.n_layers, None)
    layer = int(np.argmax(scores))
    gap = clean_p - corrupted_p
    share = (f"{(scores[layer] - corrupted_p) / gap:.0%} of the way from corrupted {corrupted_p:.3f} to clean "
             f"{clean_p:.3f}" if gap > 1e-3 else f"but corrupting the subject barely changes it (clean {clean_p:.3f}, "
             f"corrupted {corrupted_p:.3f}), so the choice means little")
    return layer, (f"causal tracing (score {scores[layer]:.3f}: p({model.tokenizer.decode([answer])!r}) with the "
                   f"subject corrupted and the MLPs of blocks {blocks_text(layer, window, model.n_layers)} restored at "
                   f"{tokens.text[position]!r}, {share})"), scores


def blocks_text(layer: int, window: int, n_layers: int) -> str:
    blocks = window_layers(layer, window, n_layers)
    return f"{blocks[0]}-{blocks[-1]}"
