"""``AttentionResult.pattern`` computes only what is indexed (numpy's indexing rules, checked
against the materialised array) and refuses, before allocating, what would not fit in free
memory: the README's ``pattern[29, 0, -1]`` on a long text costs one head, not every layer."""

from __future__ import annotations

import resource

import numpy as np
import pytest

import llmxai_widgets as lx
import llmxai_widgets.lazy as lazy

TEXT = "The capital of France is Paris. The capital of Italy is"


def test_indexing_follows_numpys_rules_on_the_whole_array(smollm2):
    result = lx.attention(smollm2, TEXT)
    whole = np.stack([result.layer(layer) for layer in result.layers])
    pattern = result.pattern
    assert pattern.shape == whole.shape and len(pattern) == 30 and pattern.nbytes == whole.nbytes
    upper = np.triu(np.ones(whole.shape[-2:], bool), 1)
    keys = [(29, 0, -1), (3, 0), (slice(None), slice(None), 4), (0, slice(None), [1, 2]), (Ellipsis, upper),
            ([1, 5], 2), (slice(2, 5), [0, 3], slice(None), 1), (np.arange(30) == 7, 0), (-1, -1, -1, -1),
            (slice(None), 0, [1, 2], [3, 4]), (0,), (slice(None, None, -7), slice(1, 8, 3), slice(2, None), 0)]
    for key in keys:
        got, expected = pattern[key], whole[key]
        assert got.shape == expected.shape, key
        np.testing.assert_array_equal(got, expected, err_msg=str(key))
    np.testing.assert_array_equal(np.asarray(pattern), whole)
    np.testing.assert_allclose(pattern.sum(-1), 1.0, atol=1e-5)  # numpy's methods work on the whole
    assert np.triu(pattern, 1).max() == 0
    with pytest.raises(IndexError, match="out of bounds"):
        pattern[0, 0, 99]
    with pytest.raises(IndexError, match="out of bounds"):
        pattern[30]


def test_a_long_texts_pattern_gives_one_head_cheaply_and_refuses_the_whole(smollm2, monkeypatch):
    text = " ".join(["The capital of France is Paris and the capital of Italy is Rome."] * 150)
    result = lx.attention(smollm2, text)
    n = len(result.tokens)
    assert n > 2000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    row = result.pattern[29, 0, -1]  # the README's indexing: one query's row of one head
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    np.testing.assert_allclose(row, result.head(29, 0)[-1], rtol=1e-6)
    assert grown < 200e6, f"one head's row grew the process by {grown / 1e6:.0f} MB"
    # a machine with 1 GB free: the whole (30 x 9 x n x n floats, several GB) is refused, a head is not
    monkeypatch.setattr(lazy, "available_bytes", lambda: 1_000_000_000)
    whole = 30 * 9 * n * n * 4 + n * n * 4  # the array and one head computed into it
    with pytest.raises(MemoryError, match=rf"pattern\[:, :, :, :\] needs {whole / 1e9:.2f} GB .* refused before allocating"
                                          r".*pattern\[layer_index, head\] is one"):
        np.asarray(result.pattern)
    with pytest.raises(MemoryError, match="lx.attention\\(model, text, layers="):
        result.pattern.mean()
    assert result.pattern[10, 3].shape == (n, n)
