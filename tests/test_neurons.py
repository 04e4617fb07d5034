"""MLP neuron activations, top-activating tokens and NMF, against independent computations."""

import numpy as np
import pytest
import torch

import llmxai_widgets as lx
from llmxai_widgets.methods import Cancelled
from llmxai_widgets.methods.neurons import factorize

TEXT = "The quick brown fox jumps over the lazy dog."
CORPUS = ["The cat sat on the mat.", "Paris is the capital of France.", "One, two, three, four, five."]


def activation_module(model, layer):
    """Written out per model here (not read from the architectures table): (module, hook kind)."""
    if model.config.model_type == "llama":  # gated units: act(gate) * up is down_proj's input
        return model.model.model.layers[layer].mlp.down_proj, "input"
    if model.config.model_type == "gpt2":
        return model.model.transformer.h[layer].mlp.act, "output"
    return model.model.base_model.encoder.layer[layer].intermediate.intermediate_act_fn, "output"


def reference_activations(model, ids, layers):
    """``[layer, token, neuron]`` from plain forward hooks on a full forward pass."""
    found, handles = {}, []
    for layer in layers:
        module, kind = activation_module(model, layer)

        def hook(_m, args, output, layer=layer, kind=kind):
            found[layer] = (args[0] if kind == "input" else output)[0].float().numpy().copy()

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model.model(input_ids=torch.as_tensor(ids)[None])
    finally:
        for handle in handles:
            handle.remove()
    return np.stack([found[layer] for layer in layers])


@pytest.mark.parametrize("fixture", ["smollm2", "tiny_gpt2", "minilm"])
def test_activations_equal_independent_hooks(request, fixture):
    model = request.getfixturevalue(fixture)
    result = lx.neurons(model, TEXT, top_k=4)
    expected = reference_activations(model, result.tokens.ids, range(model.n_layers))
    assert result.activations.shape == expected.shape == (model.n_layers, len(result.tokens), model.n_neurons)
    assert result.activations.dtype == np.float32
    np.testing.assert_allclose(result.activations, expected, atol=1e-5, rtol=1e-5)
    assert result.complete and result.layers_done == list(range(model.n_layers))
    best = np.take_along_axis(expected, result.top, axis=-1)
    np.testing.assert_allclose(best, -np.sort(-expected, axis=-1)[..., :4], atol=1e-5)


def test_streams_layers_in_order_and_stops_after_the_last_asked(smollm2):
    seen = []
    result = lx.neurons(smollm2, TEXT, layers=[7, 2, 4], on_layer=lambda layer, a: seen.append((layer, a.copy())))
    assert [layer for layer, _ in seen] == [2, 4, 7] == result.layers
    for (layer, array), row in zip(seen, result.activations):
        np.testing.assert_array_equal(array, row)
    np.testing.assert_allclose(result.layer(4), reference_activations(smollm2, result.tokens.ids, [4])[0], atol=1e-5)


def test_cancel_keeps_finished_layers(smollm2):
    calls = []
    result = lx.neurons(smollm2, TEXT, on_layer=lambda layer, a: calls.append(layer), cancelled=lambda: len(calls) >= 3)
    assert not result.complete and result.layers_done == [0, 1, 2] == calls
    assert not result.activations[3:].any() and (result.top[3:] == -1).all()

    def stop(layer, _array):
        if layer == 1:
            raise Cancelled

    assert lx.neurons(smollm2, TEXT, on_layer=stop).layers_done == [0, 1]


def test_top_neurons(smollm2):
    result = lx.neurons(smollm2, TEXT, layers=[3, 9], top_k=5)
    top = result.top_neurons(2, 3, layer=9)
    order = np.argsort(-result.layer(9)[2])[:3]
    assert [n for _, n, _ in top] == order.tolist() and {l for l, _, _ in top} == {9}
    everywhere = result.top_neurons(2, 6)
    values = [v for _, _, v in everywhere]
    assert values == sorted(values, reverse=True)
    assert values[0] == pytest.approx(float(result.activations[:, 2].max()))


def test_top_activating_equals_brute_force(smollm2):
    layer, neuron = 6, 11
    progress = []
    found = lx.top_activating(smollm2, CORPUS, layer, neuron, k=5, context=2, on_progress=lambda d, t: progress.append((d, t)))
    assert progress == [(1, 3), (2, 3), (3, 3)] and found.complete
    brute = []
    for index, text in enumerate(CORPUS):
        tokens = smollm2.tokenize(text)
        values = reference_activations(smollm2, tokens.ids, [layer])[0][:, neuron]
        brute += [(float(v), index, position, tokens.text[position]) for position, v in enumerate(values)]
    brute.sort(key=lambda item: -item[0])
    assert [(e.text_index, e.position, e.token) for e in found.examples] == [b[1:] for b in brute[:5]]
    np.testing.assert_allclose(found.activations, [b[0] for b in brute[:5]], atol=1e-5)
    best = found.examples[0]
    assert best.window[best.center] == best.token
    assert best.window_activations[best.center] == pytest.approx(best.activation)
    assert len(best.window) <= 5


def test_top_activating_cancel(smollm2):
    done = []
    found = lx.top_activating(smollm2, CORPUS, 0, 0, on_progress=lambda d, t: done.append(d), cancelled=lambda: len(done) >= 1)
    assert found.texts_done == 1 and not found.complete
    assert {e.text_index for e in found.examples} == {0}


def test_factorize_recovers_a_rank_3_matrix():
    rng = np.random.default_rng(1)
    matrix = rng.random((40, 3)) @ rng.random((3, 60))
    w, h, error, _ = factorize(matrix, 3, iterations=2000, tolerance=1e-9)
    assert (w >= 0).all() and (h >= 0).all()
    assert np.linalg.norm(matrix - w @ h) / np.linalg.norm(matrix) < 1e-2
    assert error < 1e-2
    again = factorize(matrix, 3, iterations=2000, tolerance=1e-9)
    np.testing.assert_array_equal(w, again[0])  # seeded


def test_nmf_on_real_activations(smollm2):
    result = lx.neurons(smollm2, TEXT, layers=[4, 5])
    one = lx.nmf(result, layer=4, k=3)
    n_tokens = len(result.tokens)
    assert one.token_factors.shape == (3, n_tokens) and one.neuron_factors.shape == (3, smollm2.n_neurons)
    assert (one.token_factors >= 0).all() and (one.neuron_factors >= 0).all()
    np.testing.assert_allclose(one.token_factors.max(axis=1), 1.0, rtol=1e-6)
    clipped = np.maximum(result.layer(4), 0)
    rebuilt = one.token_factors.T @ one.neuron_factors
    assert np.linalg.norm(clipped - rebuilt) / np.linalg.norm(clipped) == pytest.approx(one.relative_error, rel=1e-3)
    both = lx.nmf(result, layer=[5, 4], k=3)
    assert both.layers == [4, 5] and both.neuron_factors.shape == (3, 2 * smollm2.n_neurons)
    assert both.neuron_layer.tolist() == [4] * smollm2.n_neurons + [5] * smollm2.n_neurons
    assert both.neuron_index[smollm2.n_neurons + 7] == 7
    assert lx.nmf(result, k=3).layers == [4, 5]


def test_errors(smollm2, tiny_t5):
    with pytest.raises(ValueError, match="encoder-decoder"):
        lx.neurons(tiny_t5, TEXT)
    with pytest.raises(IndexError, match="numbered 0-29"):
        lx.neurons(smollm2, TEXT, layers=[30])
    with pytest.raises(ValueError, match="text is empty"):
        lx.neurons(smollm2, "   ")
    with pytest.raises(IndexError, match=r"neuron 1536 is out of range: layer 2 .* numbered 0-1535"):
        lx.top_activating(smollm2, CORPUS, 2, 1536)
    with pytest.raises(IndexError, match="numbered 0-29"):
        lx.top_activating(smollm2, CORPUS, -1, 0)
    with pytest.raises(ValueError, match="corpus is empty; pass a list of texts"):
        lx.top_activating(smollm2, [], 2, 0)
    with pytest.raises(TypeError, match="not one string"):
        lx.top_activating(smollm2, "one text", 2, 0)
    with pytest.raises(ValueError, match=r"corpus\[1\]"):
        lx.top_activating(smollm2, ["fine", ""], 2, 0)
    result = lx.neurons(smollm2, TEXT, layers=[1])
    with pytest.raises(ValueError, match=r"layer 3 is not in this result .* layers=\[3\]"):
        lx.nmf(result, layer=3)
    with pytest.raises(IndexError, match="numbered 0-29"):
        lx.nmf(result, layer=31)
    with pytest.raises(ValueError, match=r"k=100 factors need at least 100 tokens.*pass k=10 or fewer"):
        lx.nmf(result, layer=1, k=100)
    with pytest.raises(ValueError, match="k must be an integer from 1 to 3"):
        factorize(np.ones((3, 5)), 4)
    with pytest.raises(ValueError, match="non-negative"):
        factorize(-np.ones((3, 3)), 2)
