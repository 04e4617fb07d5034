"""Attention flow against networkx max flows on the explicitly built graph, and its properties."""

from types import SimpleNamespace

import networkx as nx
import numpy as np
import pytest

import llmxai_widgets as lx
from llmxai_widgets.methods import Cancelled
from llmxai_widgets.methods import attention_flow as af_module
from llmxai_widgets.methods.attention_flow import MAX_TOKENS, attention_flow, layered_max_flow
from llmxai_widgets.methods.attention_views import rollout

SHORT = "Flow finds the widest way through it."  # 8 tokens for SmolLM2
SENTENCE = "Max flow bounds what reaches each token."


def mixed_matrices(result, upto_layer):
    """Independently: 0.5 * mean over heads + 0.5 * I, rows renormalised, in float64."""
    n = len(result.tokens)
    out = []
    for layer in range(upto_layer + 1):
        a = 0.5 * result.layer(layer).astype(np.float64).mean(axis=0) + 0.5 * np.eye(n)
        out.append(a / a.sum(axis=-1, keepdims=True))
    return out


def networkx_flows(capacities, queries=None):
    """Raw max flows [query, key] from node (0, k) to (len(capacities), q), graph built by hand."""
    n, depth = capacities[0].shape[0], len(capacities)
    graph = nx.DiGraph()
    graph.add_nodes_from((layer, token) for layer in range(depth + 1) for token in range(n))
    for layer, matrix in enumerate(capacities):
        for q in range(n):
            for k in range(n):
                if matrix[q, k] > 0:
                    graph.add_edge((layer, k), (layer + 1, q), capacity=float(matrix[q, k]))
    queries = range(n) if queries is None else queries
    return np.array([[nx.maximum_flow_value(graph, (0, k), (depth, q)) for k in range(n)] for q in queries])


@pytest.fixture(scope="module")
def short(smollm2):
    result = lx.attention(smollm2, SHORT)
    assert len(result.tokens) == 8
    return result


@pytest.fixture(scope="module")
def sentence(minilm):
    return lx.attention(minilm, SENTENCE)


@pytest.fixture(scope="module")
def tiny(tiny_gpt2):
    return lx.attention(tiny_gpt2, SENTENCE)


def count_later_phases(monkeypatch) -> list:
    """Record the extra flow each call of Dinic's later phases adds."""
    extras = []
    original = af_module._more_phases

    def counting(*args):
        extras.append(original(*args))
        return extras[-1]

    monkeypatch.setattr(af_module, "_more_phases", counting)
    return extras


@pytest.mark.parametrize(("fixture", "upto_layer"), [("short", 4), ("sentence", 5), ("tiny", 2)])
def test_matches_networkx_max_flow(request, monkeypatch, fixture, upto_layer):
    result = request.getfixturevalue(fixture)
    raw = networkx_flows(mixed_matrices(result, upto_layer))
    extras = count_later_phases(monkeypatch)
    got_raw = attention_flow(result, upto_layer, normalize=False)
    if fixture == "sentence":  # MiniLM: the first phase's blocking flow is often not maximal
        assert sum(extra > 1e-3 for extra in extras) >= 5
    assert got_raw.dtype == np.float32 and got_raw.shape == raw.shape == (len(result.tokens),) * 2
    np.testing.assert_allclose(got_raw, raw, atol=1e-6)
    # The default, as in the authors' code: each row divided by its sum over the input tokens.
    np.testing.assert_allclose(attention_flow(result, upto_layer), raw / raw.sum(-1, keepdims=True), atol=1e-6)


def test_matches_networkx_through_all_30_layers(short):
    queries = [7, 3]
    raw = networkx_flows(mixed_matrices(short, 29), queries)
    np.testing.assert_allclose(attention_flow(short, 29, queries, normalize=False), raw, atol=1e-6)


def test_random_graphs_including_ones_that_need_later_dinic_phases(monkeypatch):
    extras = count_later_phases(monkeypatch)
    rng = np.random.default_rng(0)
    for trial in range(40):
        n, depth = int(rng.integers(2, 6)), int(rng.integers(1, 5))
        caps = rng.random((depth, n, n)) * (rng.random((depth, n, n)) < 0.6)
        if trial % 2:
            caps = caps**3  # very uneven capacities
        np.testing.assert_allclose(layered_max_flow(list(caps)), networkx_flows(list(caps)), atol=1e-9)
    assert sum(extra > 1e-9 for extra in extras) >= 5  # the first phase alone was not always maximal


@pytest.mark.parametrize("fixture", ["short", "tiny"])
def test_causal_models_get_no_flow_from_later_tokens(request, fixture):
    result = request.getfixturevalue(fixture)
    top = result.layers[-1]
    raw = attention_flow(result, top, normalize=False)
    n = raw.shape[0]
    assert np.all(np.triu(raw, 1) == 0)
    assert np.all(np.diag(raw) > 0) and np.all(raw[np.tril_indices(n)] > 0)


@pytest.mark.parametrize("fixture", ["short", "sentence"])
def test_after_layer_0_the_flow_is_the_edge_itself(request, fixture):
    result = request.getfixturevalue(fixture)
    m0 = mixed_matrices(result, 0)[0]
    np.testing.assert_allclose(attention_flow(result, 0, normalize=False), m0, atol=1e-6)
    np.testing.assert_allclose(attention_flow(result, 0), m0, atol=1e-6)  # rows of M_0 sum to 1
    np.testing.assert_allclose(attention_flow(result, 0), rollout(result, 0), atol=1e-6)


@pytest.mark.parametrize("fixture", ["short", "sentence"])
def test_flow_bounds(request, fixture):
    result = request.getfixturevalue(fixture)
    top = result.layers[-1] if fixture == "sentence" else 11
    raw = attention_flow(result, top, normalize=False).astype(np.float64)
    # Rollout's proportional spreading is one feasible flow, so the max flow is at least it;
    # at most 1 reaches a token (its incoming capacities sum to 1), and at most what leaves
    # the input token.
    assert np.all(raw >= rollout(result, top) - 1e-6)
    assert np.all(raw <= 1 + 1e-6)
    assert np.all(raw <= mixed_matrices(result, 0)[0].sum(axis=0)[None, :] + 1e-6)
    rows = attention_flow(result, top)
    np.testing.assert_allclose(rows.sum(axis=-1), 1.0, atol=1e-5)


def test_queries_rows_streamed_and_cancelled(short):
    seen = []
    got = attention_flow(short, 6, [5, 2, 5], on_row=lambda i, row: seen.append((i, row)))
    full = attention_flow(short, 6)
    np.testing.assert_array_equal(got, full[[5, 2, 5]])
    assert [i for i, _ in seen] == [0, 1, 2]
    for i, row in seen:
        assert row.dtype == np.float32
        np.testing.assert_array_equal(row, got[i])

    rows = []
    with pytest.raises(Cancelled):
        attention_flow(short, 6, on_row=lambda i, row: rows.append(i), cancelled=lambda: len(rows) >= 2)
    assert rows == [0, 1]


def test_needs_every_layer_below(smollm2):
    partial = lx.attention(smollm2, SHORT, layers=[3, 5])
    with pytest.raises(ValueError, match="attention flow to layer 5 needs layers 0-5"):
        attention_flow(partial, 5)


def test_too_long_suggests_rollout(smollm2):
    long = lx.attention(smollm2, "word " * (MAX_TOKENS + 10), layers=[0])
    assert len(long.tokens) > MAX_TOKENS
    with pytest.raises(ValueError, match=rf"at most {MAX_TOKENS} tokens.*use rollout"):
        attention_flow(long, 0)


def test_bad_arguments(short):
    with pytest.raises(IndexError, match="query 8 is out of range"):
        attention_flow(short, 2, [8])
    with pytest.raises(ValueError, match="upto_layer must be"):
        attention_flow(short, -1)
    with pytest.raises(ValueError, match="cross-attention"):
        attention_flow(SimpleNamespace(part="cross"), 0)
    with pytest.raises(ValueError, match="nonnegative"):
        layered_max_flow([-np.eye(2)])
