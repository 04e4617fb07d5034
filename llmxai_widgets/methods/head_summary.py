"""Head summary: one number per attention head for a few well-known attention behaviours.

- attention sink (mass on the first token), previous-token heads and row entropy, measured on a
  text;
- induction heads, measured on a repeated random token sequence (Olsson et al. 2022, "In-context
  Learning and Induction Heads"; the same score as TransformerLens' induction-head tutorial).

Everything reads attention through ``AttentionResult.head(layer, head)`` only and scores one head
at a time, so at most one ``[query, key]`` matrix is materialised by this module at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..models.wrapped import LoadedModel, Tokens
from .attention import attention, resolve_layers
from .registry import register

SCORE_NAMES = ("sink", "previous_token", "entropy", "entropy_normalised", "induction")


@dataclass
class HeadSummary:
    """Per-head attention scores, each a float32 array ``[layer, head]``.

    Row ``i`` of every array is model layer ``layers[i]``.

    - ``sink``: mean over query positions ``q >= 1`` of the weight on key 0 (the first token).
    - ``previous_token``: mean over ``q >= 1`` of the weight on key ``q - 1``.
    - ``entropy``: mean over all queries of the row entropy in nats (query 0 has one key, entropy 0).
    - ``entropy_normalised``: mean over ``q >= 1`` of the row entropy divided by its maximum, the
      log of the number of keys the query may read (``q + 1`` in a causal model, every token in
      an encoder): 0 = one key, 1 = uniform.
    - ``induction``: on ``induction_tokens`` ([BOS] + R + R), the mean over query positions ``i``
      in the second copy of R of the weight on key ``i - L + 1``, the token right after the
      previous occurrence of the current token (``L = len(R)``).
    - ``tokens``: the tokens sink/previous_token/entropy were measured on (``induction_tokens``
      when no text was given).
    """

    sink: np.ndarray
    previous_token: np.ndarray
    entropy: np.ndarray
    entropy_normalised: np.ndarray
    induction: np.ndarray
    layers: list[int]
    model_name: str
    tokens: Tokens
    induction_tokens: Tokens
    score_names: tuple[str, ...] = field(default=SCORE_NAMES)

    def score(self, name: str) -> np.ndarray:
        """The ``[layer, head]`` array of score ``name`` (one of ``score_names``)."""
        if name not in self.score_names:
            raise ValueError(f"unknown score {name!r}; valid scores: {', '.join(self.score_names)}")
        return getattr(self, name)

    def top(self, score: str, k: int = 5, *, lowest: bool = False) -> list[tuple[int, int, float]]:
        """The ``k`` heads with the highest ``score`` as ``[(layer, head, value)]``, sorted
        descending (ascending with ``lowest=True``, e.g. the most focused heads by entropy).
        ``layer`` is the model layer number; ties keep (layer, head) order.
        """
        values = self.score(score)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}; e.g. top({score!r}, k=5)")
        flat = values.ravel()
        order = np.argsort(flat if lowest else -flat, kind="stable")[: int(k)]
        n_heads = values.shape[1]
        return [(self.layers[i // n_heads], int(i % n_heads), float(flat[i])) for i in order]


@register("head_summary")
def head_summary(
    model: LoadedModel,
    text: str | Tokens | None = None,
    *,
    layers=None,
    induction_length: int = 50,
    seed: int = 0,
    layers_per_pass: int | None = None,
) -> HeadSummary:
    """Sink, previous-token, entropy and induction scores of every head in ``layers``.

    ``sink``, ``previous_token`` and ``entropy*`` are measured on ``text``; when ``text`` is None
    they are measured on the repeated random sequence used for ``induction`` (whose first token is
    BOS when the tokenizer has one, so ``sink`` is then the mass on BOS).

    The induction sequence is ``[BOS] + R + R``: ``R`` is ``induction_length`` distinct token ids
    drawn without replacement by ``numpy.random.default_rng(seed)`` from the vocabulary minus the
    tokenizer's special tokens (distinct, so each token of the second copy has exactly one earlier
    occurrence). BOS is ``tokenizer.bos_token_id``, prepended by hand because tokenizers such as
    SmolLM2's do not add it (for SmolLM2 it is ``<|im_start|>``, id 1); without one the sequence is
    ``R + R``.

    Memory: by default one :func:`attention` call (one forward pass) covers every layer in
    ``layers``, and heads are read one by one. Where :func:`attention` recomputes heads on demand
    from recorded queries and keys, that result holds ``O(layers x tokens x head_dim)`` floats;
    where it stores eager weights it holds ``layers x heads x tokens^2``, so for long texts there
    pass ``layers_per_pass=1`` (lower peak memory, but one forward pass per group of layers:
    several times slower, since each pass reruns the model up to its last layer).

    Returns a :class:`HeadSummary` of float32 ``[layer, head]`` arrays.
    """
    if model.kind == "seq2seq":
        raise ValueError(
            f"head_summary scores decoder-only and encoder models; {model.name} is an encoder-decoder: "
            f"use pattern_scores(attention(model, text, target=..., part='encoder'|'decoder'|'cross'))"
        )
    wanted = resolve_layers(model, layers)
    causal = model.kind == "causal"
    group = _check_layers_per_pass(layers_per_pass, len(wanted))
    repeated = induction_tokens(model, induction_length, seed)
    if text is None:
        tokens = repeated
    else:
        tokens = text if isinstance(text, Tokens) else model.tokenize(text)
        _check_measurable(model, tokens)

    length = int(induction_length)
    second_copy = len(repeated) - length

    def induction_of(weights: np.ndarray) -> tuple[float]:
        return (_induction_score(weights, second_copy, length),)

    if text is None:  # one set of passes measures everything on the repeated sequence
        both = _per_head(model, repeated, wanted, group, lambda p: _pattern_scores(p, causal) + induction_of(p))
        pattern, induction = both[..., :4], both[..., 4]
    else:
        pattern = _per_head(model, tokens, wanted, group, lambda p: _pattern_scores(p, causal))
        induction = _per_head(model, repeated, wanted, group, induction_of)[..., 0]

    return HeadSummary(
        sink=pattern[..., 0],
        previous_token=pattern[..., 1],
        entropy=pattern[..., 2],
        entropy_normalised=pattern[..., 3],
        induction=induction,
        layers=wanted,
        model_name=model.name,
        tokens=tokens,
        induction_tokens=repeated,
    )


def induction_tokens(model: LoadedModel, induction_length: int = 50, seed: int = 0) -> Tokens:
    """The repeated random sequence ``[BOS] + R + R`` that :func:`head_summary` scores induction on.

    ``ids[token]`` int64, length ``2 * induction_length`` (+1 with BOS); ``special`` marks BOS.
    """
    if isinstance(induction_length, bool) or not isinstance(induction_length, (int, np.integer)):
        raise TypeError(f"induction_length must be an integer, got {induction_length!r}")
    length = int(induction_length)
    if length < 2:
        raise ValueError(
            f"induction_length is {length} but the induction score needs at least 2 repeated "
            f"tokens; pass induction_length=50 (the default)"
        )
    bos = getattr(model.tokenizer, "bos_token_id", None)
    prefix = [] if bos is None else [int(bos)]
    limit = model.max_positions
    if limit is not None and len(prefix) + 2 * length > limit:
        most = (limit - len(prefix)) // 2
        raise ValueError(
            f"induction_length={length} makes a {len(prefix) + 2 * length:,}-token sequence but "
            f"{model.name} accepts at most {limit:,}; pass induction_length={most} or less"
        )
    vocabulary = _ordinary_token_ids(model)
    if length > len(vocabulary):
        raise ValueError(
            f"induction_length={length} needs that many distinct tokens but the vocabulary has "
            f"{len(vocabulary):,} ordinary tokens; pass induction_length={len(vocabulary)} or less"
        )
    rng = np.random.default_rng(seed)
    repeat = rng.choice(vocabulary, size=length, replace=False).astype(np.int64)
    ids = np.concatenate([np.asarray(prefix, np.int64), repeat, repeat])
    special = np.zeros(len(ids), bool)
    special[: len(prefix)] = True
    return Tokens(
        source="",
        ids=ids,
        text=[str(t) for t in model.tokenizer.convert_ids_to_tokens(ids.tolist())],
        offsets=np.full((len(ids), 2), -1, np.int64),
        special=special,
    )


def _ordinary_token_ids(model: LoadedModel) -> np.ndarray:
    """Token ids the model can embed that are not special tokens, int64, ascending."""
    tok = model.tokenizer
    size = len(tok)
    embeddings = getattr(model.config, "vocab_size", None)
    if embeddings:
        size = min(size, int(embeddings))
    special = set(getattr(tok, "all_special_ids", []) or [])
    added = getattr(tok, "added_tokens_decoder", {}) or {}
    special |= {int(i) for i, t in added.items() if getattr(t, "special", False)}
    ids = np.arange(size, dtype=np.int64)
    return ids[~np.isin(ids, sorted(special))]


def _check_measurable(model: LoadedModel, tokens: Tokens) -> None:
    model.check_length(tokens)
    if len(tokens) < 2:
        raise ValueError(
            f"the text is {len(tokens)} token(s) but sink and previous-token scores need at least 2 "
            f"(they average over queries 1, 2, ...); pass a longer text, e.g. 'The capital of France is'"
        )


def _check_layers_per_pass(value, n_layers: int) -> int:
    if value is None:
        return n_layers
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(
            f"layers_per_pass must be a positive integer or None (all layers in one pass), got "
            f"{value!r}; pass layers_per_pass=1 for the lowest memory"
        )
    return int(value)


def _per_head(model: LoadedModel, tokens: Tokens, layers: list[int], group: int, score) -> np.ndarray:
    """``out[layer, head, value]`` float32: ``score(weights[query, key])`` for every head,
    ``group`` layers per forward pass."""
    rows = []
    for start in range(0, len(layers), group):
        chunk = layers[start : start + group]
        result = attention(model, tokens, layers=chunk)
        for layer in chunk:
            rows.append([score(result.head(layer, head)) for head in range(result.n_heads)])
        del result  # free this group's weights before the next pass allocates its own
    return np.asarray(rows, dtype=np.float64).astype(np.float32)


def _pattern_scores(weights: np.ndarray, causal: bool) -> tuple[float, float, float, float]:
    """(sink, previous_token, entropy, entropy_normalised) of one ``[query, key]`` pattern;
    previous_token is NaN when queries and keys are different texts (cross-attention)."""
    n, n_keys = weights.shape
    later = np.arange(1, n)
    sink = weights[1:, 0].mean(dtype=np.float64)
    previous = weights[later, later - 1].mean(dtype=np.float64) if n == n_keys else np.nan
    # log(1) = 0 where p = 0, so masked keys contribute 0 instead of 0 * -inf = nan
    logs = np.log(np.where(weights > 0, weights, 1))
    row_entropy = -(weights * logs).sum(axis=1, dtype=np.float64)
    readable = later + 1.0 if causal else np.full(len(later), float(n_keys))
    normalised = row_entropy[1:] / np.log(np.maximum(readable, 2.0))
    return float(sink), float(previous), float(row_entropy.mean()), float(normalised.mean())


def _induction_score(weights: np.ndarray, second_copy: int, length: int) -> float:
    """Mean weight from each query ``i`` of the second copy to key ``i - length + 1``."""
    queries = np.arange(second_copy, second_copy + length)
    return float(weights[queries, queries - length + 1].mean(dtype=np.float64))


def pattern_scores(result) -> dict[str, np.ndarray]:
    """Sink, previous-token and entropy scores ``[layer_index, head]`` of an
    :class:`AttentionResult` already computed (no model needed; no induction score, which needs
    its own repeated sequence; no previous-token score for cross-attention, whose queries and keys
    are different texts)."""
    rows = [
        [_pattern_scores(result.head(layer, h), result.causal) for h in range(result.n_heads)]
        for layer in result.layers
    ]
    values = np.asarray(rows, dtype=np.float64).astype(np.float32).reshape(len(result.layers), result.n_heads, 4)
    names = ("sink", "previous_token", "entropy", "entropy_normalised")
    return {name: values[..., i] for i, name in enumerate(names) if not (name == "previous_token" and result.part == "cross")}
