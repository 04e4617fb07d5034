"""Checks and corruptions shared by causal tracing and patching: where the subject is, how it is
corrupted, which blocks a window covers, and prompt pairs that must line up token by token."""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

import numpy as np
import torch

from ...models.wrapped import LoadedModel, Tokens


def check_kinds(kinds, allowed: tuple[str, ...], name: str) -> list[str]:
    if isinstance(kinds, str):
        kinds = [kinds]
    kinds = list(kinds)
    unknown = [k for k in kinds if k not in allowed]
    if unknown or not kinds:
        raise ValueError(f"{name} must be some of {', '.join(map(repr, allowed))}; got {kinds!r}")
    return [k for k in allowed if k in kinds]


def window_layers(layer: int, window: int, n_layers: int) -> range:
    """The blocks restored together around ``layer`` (the paper's rule: ``window // 2`` below,
    the rest from ``layer`` up, cut at the ends of the stack)."""
    return range(max(0, layer - window // 2), min(n_layers, layer - (-window // 2)))


def find_subject(tokens: Tokens, subject) -> tuple[int, int]:
    """The ``[start, stop)`` token range of ``subject`` (text: its first occurrence in the prompt;
    or a token range)."""
    n = len(tokens)
    if isinstance(subject, (tuple, list)) and len(subject) == 2 and all(isinstance(i, (int, np.integer)) for i in subject):
        start, stop = int(subject[0]), int(subject[1])
        if not 0 <= start < stop <= n:
            raise ValueError(f"subject token range {tuple(subject)} is out of range: the prompt has {n} tokens "
                             f"(0-{n - 1}); pass (start, stop) with start < stop <= {n}")
        return start, stop
    if not isinstance(subject, str) or not subject.strip():
        raise TypeError(f"subject must be text that occurs in the prompt (e.g. 'The Eiffel Tower') or a "
                        f"(start, stop) token range, got {subject!r}")
    if not tokens.has_offsets:
        raise ValueError(f"subject {subject!r} is text, and finding its tokens needs character offsets, which this "
                         f"tokenizer does not report (a Python, 'slow', tokenizer whose decoded tokens do not give "
                         f"the prompt back); pass the subject as a (start, stop) token range, or load the fast "
                         f"tokenizer (use_fast=True)")
    found = tokens.source.find(subject)
    if found < 0:
        hint = ""
        lower = tokens.source.lower().find(subject.lower())
        if lower >= 0:
            hint = f"; the prompt has {tokens.source[lower:lower + len(subject)]!r} (the search is case-sensitive)"
        raise ValueError(f"subject {subject!r} does not occur in the prompt {tokens.source!r} (looked for these "
                         f"exact characters){hint}; pass text copied from the prompt or a (start, stop) token range")
    end = found + len(subject)
    inside = [i for i, (a, b) in enumerate(tokens.offsets) if a >= 0 and a < end and b > found]
    if not inside:
        raise ValueError(f"subject {subject!r} covers no token of the prompt (the tokenizer reports no character "
                         f"offsets?); pass a (start, stop) token range instead")
    return inside[0], inside[-1] + 1


@dataclass
class Corruption:
    """Corrupted runs: ``ids[sample, token]``, ``embed`` edits their input embeddings (or None)."""

    ids: torch.Tensor
    embed: Callable | None
    description: str
    scale: float | None


def embedding_std(model: LoadedModel, texts) -> float:
    """Standard deviation of every input-embedding value of the tokens of ``texts``."""
    ids = sorted({i for text in texts for i in model.tokenizer(text, add_special_tokens=False)["input_ids"]})
    if not ids:
        raise ValueError("noise_texts has no tokens; pass some texts (e.g. subject names) or a number as noise=")
    with torch.inference_mode():
        vectors = model.model.get_input_embeddings()(torch.as_tensor(ids, device=model.device))
    return float(vectors.float().std())


def noise_for(model: LoadedModel, tokens: Tokens, span: tuple[int, int], noise, *, samples: int, seed: int,
              texts, replacements) -> Corruption:
    start, stop = span
    ids = torch.as_tensor(tokens.ids)
    if isinstance(noise, str) and noise == "resample":
        return _resample(model, tokens, span, samples, seed, replacements)
    if isinstance(noise, str) and noise.endswith("sigma"):
        try:
            factor = float(noise[: -len("sigma")])
        except ValueError:
            factor = None
        if factor is None or factor <= 0:
            raise ValueError(f"noise={noise!r}: write it as '3sigma' (a multiple of the embeddings' spread), "
                             f"a number, or 'resample'")
        std = embedding_std(model, texts)
        scale, how = factor * std, f"{factor:g} x the embeddings' standard deviation ({std:.4f}) over {len(texts)} texts"
    elif isinstance(noise, (int, float, np.floating)) and not isinstance(noise, bool) and noise > 0:
        scale, how = float(noise), "a given standard deviation"
    else:
        raise ValueError(f"noise must be '3sigma' (or another multiple), a positive number, or 'resample'; got {noise!r}")
    generator = torch.Generator().manual_seed(seed)
    draw = torch.randn(samples, stop - start, model.config.hidden_size, generator=generator) * scale

    def embed(embeddings):
        out = embeddings.clone()
        out[:, start:stop] += draw.to(out.device, out.dtype)
        return out

    description = (f"Gaussian noise with standard deviation {scale:.4f} ({how}) on tokens {start}-{stop - 1}, "
                   f"{samples} draws from seed {seed}")
    return Corruption(ids[None].repeat(samples, 1), embed, description, scale)


def _resample(model, tokens, span, samples, seed, replacements) -> Corruption:
    """Each sample puts another subject in the subject's place; only subjects whose prompt keeps
    every other token (same count, same ids) qualify."""
    start, stop = span
    first, last = tokens.offsets[start][0], tokens.offsets[stop - 1][1]
    if not tokens.has_offsets or first < 0 or last < 0:
        raise ValueError("noise='resample' writes other subjects into the prompt's text, which needs the subject "
                         "tokens' character offsets; this tokenizer reports none for them (a Python, 'slow', "
                         "tokenizer, or special tokens): use noise='3sigma', or load the fast tokenizer")
    usable = []
    for other in replacements:
        text = tokens.source[:first] + other + tokens.source[last:]
        ids = np.asarray(model.tokenizer(text, add_special_tokens=True)["input_ids"])
        if len(ids) == len(tokens) and np.array_equal(np.delete(ids, range(start, stop)), np.delete(tokens.ids, range(start, stop))) \
                and not np.array_equal(ids, tokens.ids):
            usable.append((other, ids))
    if not usable:
        raise ValueError(f"noise='resample' found no replacement with as many tokens as the subject "
                         f"({stop - start}); pass replacements=[...] with subjects of {stop - start} tokens, or use "
                         f"noise='3sigma'")
    order = np.random.default_rng(seed).permutation(len(usable))[:samples]
    chosen = [usable[i] for i in order]
    names = ", ".join(repr(name) for name, _ in chosen)
    return Corruption(torch.as_tensor(np.stack([ids for _, ids in chosen])), None,
                      f"the subject replaced by {len(chosen)} other subjects: {names}", None)
