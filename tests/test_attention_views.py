"""Aggregates, rollout and thumbnails against independent computations on eager attentions."""

import numpy as np
import pytest
import torch

import llmxai_widgets as lx
from llmxai_widgets.methods.attention_views import aggregate, rollout, thumbnail, thumbnails

TEXT = "Rollout follows attention through the layers, residual stream included."


@pytest.fixture(scope="module")
def eager(smollm2):
    """[layer, head, q, k] straight from transformers (eager attention)."""
    ids = torch.as_tensor(smollm2.tokenize(TEXT).ids)[None]
    smollm2.model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = smollm2.model(ids, output_attentions=True)
    finally:
        smollm2.model.set_attn_implementation("sdpa")
    return np.stack([a[0].numpy() for a in out.attentions]).astype(np.float64)


@pytest.fixture(scope="module")
def result(smollm2):
    return lx.attention(smollm2, TEXT)


def test_mean_and_max_over_heads(result, eager):
    np.testing.assert_allclose(aggregate(result, 6, "mean"), eager[6].mean(0), atol=1e-5)
    np.testing.assert_allclose(aggregate(result, 6, "max"), eager[6].max(0), atol=1e-5)
    np.testing.assert_allclose(aggregate(result, 6, "head", head=4), eager[6, 4], atol=1e-5)


def test_rollout_matches_the_abnar_zuidema_recursion(result, eager):
    n = eager.shape[-1]
    joint = np.eye(n)
    for layer in range(12):
        a = 0.5 * eager[layer].mean(0) + 0.5 * np.eye(n)
        a = a / a.sum(-1, keepdims=True)
        joint = a @ joint
    got = rollout(result, 11)
    np.testing.assert_allclose(got, joint, atol=1e-5)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)
    assert np.allclose(np.triu(got, 1), 0, atol=1e-7)  # causal all the way through


def test_rollout_needs_every_layer_below(smollm2):
    partial = lx.attention(smollm2, TEXT, layers=[3, 5])
    with pytest.raises(ValueError, match="rollout to layer 5 needs layers 0-5"):
        rollout(partial, 5)


def test_thumbnail_keeps_the_block_maximum():
    rng = np.random.default_rng(0)
    big = rng.uniform(0, 0.01, size=(100, 100)).astype(np.float32)
    big[57, 3] = 0.9  # one strong weight must survive shrinking
    small = thumbnail(big, 10)
    assert small.shape == (10, 10)
    assert small[5, 0] == pytest.approx(0.9)
    assert small.max() == pytest.approx(0.9)
    np.testing.assert_array_equal(thumbnail(big[:8, :8], 10), big[:8, :8])  # small stays as is


def test_thumbnails_of_every_head_scaled_to_their_own_maximum(result, eager):
    grid = thumbnails(result, size=48)
    n = eager.shape[-1]
    assert grid.shape == (30, 9, n, n)
    np.testing.assert_allclose(grid.max(axis=(2, 3)), 1.0, atol=1e-6)
    np.testing.assert_allclose(grid[4, 2], eager[4, 2] / eager[4, 2].max(), atol=1e-5)


def test_unknown_aggregate(result):
    with pytest.raises(ValueError, match="unknown aggregate 'median'"):
        aggregate(result, 0, "median")


def test_query_key_products_sum_to_the_scores_that_softmax_to_the_weights(smollm2, eager):
    from llmxai_widgets.methods.attention_views import query_key

    result = lx.attention(smollm2, TEXT)
    n = len(result.tokens)
    qk = query_key(result, layer=9, head=7, query=n - 1)
    assert qk["keys"].tolist() == list(range(n))  # the last token may read every token
    assert qk["products"].shape == (n, 64) and qk["query_vector"].shape == (64,)
    np.testing.assert_allclose(qk["products"].sum(1), qk["scores"], rtol=1e-5, atol=1e-5)
    softmax = np.exp(qk["scores"] - qk["scores"].max())
    np.testing.assert_allclose(softmax / softmax.sum(), eager[9, 7, n - 1], atol=1e-5)
    np.testing.assert_allclose(qk["weights"], eager[9, 7, n - 1], atol=1e-5)
    # head 7 reads key/value head 2 (grouped-query attention): its keys are that head's keys
    np.testing.assert_array_equal(qk["key_vectors"], result.sources[9].key[2])
    early = query_key(result, layer=9, head=7, query=3)
    assert early["keys"].tolist() == [0, 1, 2, 3]  # causal: no later keys
    top = query_key(result, layer=9, head=7, query=n - 1, max_keys=4)
    assert len(top["keys"]) == 4 and set(top["keys"]) == set(np.argsort(eager[9, 7, n - 1])[-4:])
    with pytest.raises(IndexError, match="query 99 is out of range"):
        query_key(result, 9, 7, 99)
