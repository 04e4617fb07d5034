"""The bundled model's whole context: a text one token longer than SmolLM2's 8,192 positions is
refused by every method and view before any forward pass (a hook on the real embedding layer
counts the passes), with a message naming the length, the limit and the fix; and a result that
would not fit in free memory is refused before it is allocated."""

from __future__ import annotations

import numpy as np
import pytest

import llmxai_widgets as lx
import llmxai_widgets.lazy as lazy

LIMIT = 8192
TOO_LONG = "Paris is the capital of France." + " and" * LIMIT
REFUSED = r"is 8,\d{3} tokens but .* accepts at most 8,192; shorten the text"


@pytest.fixture
def passes(smollm2):
    """How many times the embedding layer ran (one per forward pass, batched or not)."""
    count = [0]
    handle = smollm2.model.get_input_embeddings().register_forward_hook(lambda *_: count.__setitem__(0, count[0] + 1))
    yield count
    handle.remove()


def test_the_text_is_one_past_the_limit(smollm2):
    assert smollm2.max_positions == LIMIT
    assert len(smollm2.tokenize(TOO_LONG)) > LIMIT


METHODS = {
    "attention": lambda m: lx.attention(m, TOO_LONG),
    "attribute": lambda m: lx.attribute(m, TOO_LONG, method="saliency"),
    "attribute_generate": lambda m: lx.attribute(m, TOO_LONG, generate=2, method="saliency"),
    "contributions": lambda m: lx.contributions(m, TOO_LONG),
    "logit_lens": lambda m: lx.logit_lens(m, TOO_LONG, positions=[-1]),
    "neurons": lambda m: lx.neurons(m, TOO_LONG, layers=[0]),
    "top_activating": lambda m: lx.top_activating(m, ["A short text.", TOO_LONG], 0, 0),
    "head_summary": lambda m: lx.head_summary(m, TOO_LONG),
    "causal_trace": lambda m: lx.causal_trace(m, TOO_LONG, "Paris", samples=1),
    "patch": lambda m: lx.patch(m, TOO_LONG, TOO_LONG.replace("Paris", "Rome")),
    "circuit": lambda m: lx.circuit(m, TOO_LONG, TOO_LONG.replace("Paris", "Rome")),
    "probe": lambda m: lx.probe(m, ["a b", TOO_LONG, "c d", "e f"] * 3, [0, 1] * 6, layers=[0], folds=2),
    "steering_vector": lambda m: lx.steering_vector(m, ["good", TOO_LONG], ["bad", "worse"], layers=[3]),
    "edit": lambda m: lx.edit(m, TOO_LONG, "Paris", " Rome", steps=1),
}

VIEWS = {
    "AttentionView": lambda m: lx.AttentionView(m, TOO_LONG, background=False),
    "AttributionView": lambda m: lx.AttributionView(m, TOO_LONG, method="saliency", background=False),
    "LogitLensView": lambda m: lx.LogitLensView(m, TOO_LONG, background=False),
    "NeuronView": lambda m: lx.NeuronView(m, TOO_LONG, background=False),
    "ContributionView": lambda m: lx.ContributionView(m, TOO_LONG, background=False),
    "CausalTraceView": lambda m: lx.CausalTraceView(m, TOO_LONG, "Paris", samples=1, background=False),
    "PatchingView": lambda m: lx.PatchingView(m, TOO_LONG, TOO_LONG.replace("Paris", "Rome"), background=False),
    "Explorer": lambda m: lx.Explorer(m, TOO_LONG),
}


@pytest.mark.parametrize("name", METHODS)
def test_every_method_refuses_a_text_longer_than_the_model_before_any_pass(smollm2, passes, name):
    with pytest.raises(ValueError, match=REFUSED):
        METHODS[name](smollm2)
    assert passes[0] == 0, f"{name} ran {passes[0]} forward pass(es) before refusing"


@pytest.mark.parametrize("name", VIEWS)
def test_every_view_refuses_a_text_longer_than_the_model_before_any_pass(smollm2, passes, name):
    with pytest.raises(ValueError, match=REFUSED):
        VIEWS[name](smollm2)
    assert passes[0] == 0, f"{name} ran {passes[0]} forward pass(es) before refusing"


def test_the_longest_text_the_model_takes_still_runs(smollm2, passes):
    """The limit is the model's own: 8,192 tokens are taken (one pass, stopped after block 0)."""
    ids = smollm2.tokenize(TOO_LONG).ids[:LIMIT]
    text = smollm2.tokenizer.decode(ids[1:] if smollm2.tokenize("a").special[0] else ids)
    tokens = smollm2.tokenize(text)
    tokens = tokens if len(tokens) <= LIMIT else smollm2.tokenize(smollm2.tokenizer.decode(tokens.ids[1:LIMIT]))
    assert LIMIT - 2 <= len(tokens) <= LIMIT
    result = lx.neurons(smollm2, tokens, layers=[0], top_k=3)
    assert result.complete and result.activations.shape == (1, len(tokens), smollm2.n_neurons)
    assert passes[0] == 1


def test_neurons_refuse_a_result_that_would_not_fit_before_allocating(smollm2, passes, monkeypatch):
    text = "The capital of France is Paris. " * 256
    n = len(smollm2.tokenize(text))
    monkeypatch.setattr(lazy, "available_bytes", lambda: 400_000_000)  # a machine with 0.4 GB free
    need = 30 * n * (smollm2.n_neurons * 4 + 10 * 8)
    assert need > 200_000_000
    with pytest.raises(MemoryError, match=rf"neurons\(\) of 30 layers x {n:,} tokens x 1,536 neurons needs "
                                          rf"{need / 1e9:.2f} GB and 0.40 GB of memory is free: refused before "
                                          r"allocating\. Ask for fewer layers, e\.g\. neurons\(model, text, layers=\[29\]\)"):
        lx.neurons(smollm2, text)
    assert passes[0] == 0
    one = lx.neurons(smollm2, text, layers=[29])  # the cheaper call the message names works
    assert one.complete and one.activations.shape == (1, n, 1536)


def test_views_run_without_a_key_value_cache(smollm2):
    """A view reads one pass and never generates: the pass must not build a key/value cache
    (0.38 GB at 8,192 tokens for the bundled model). Checked on what the base model is called with."""
    from llmxai_widgets.methods.forward import no_cache

    assert no_cache(smollm2) == {"use_cache": False}
    seen = []
    handle = smollm2.model.base_model.register_forward_pre_hook(
        lambda _m, _args, kwargs: seen.append(kwargs.get("use_cache")), with_kwargs=True)
    try:
        lx.attention(smollm2, "The capital of France is", layers=[0, 29])
        lx.neurons(smollm2, "The capital of France is", layers=[3])
        lx.logit_lens(smollm2, "The capital of France is", positions=[-1])
    finally:
        handle.remove()
    assert seen == [False, False, False]


def _layer0_passes(model):
    count = [0]
    handle = model.layers()[0].register_forward_hook(lambda *_: count.__setitem__(0, count[0] + 1))
    return count, handle


def test_integrated_gradients_takes_fewer_points_a_pass_when_memory_is_short(smollm2, monkeypatch):
    """Integrated gradients batch up to 25 points a pass; at 2,048 tokens, 8 points in one pass
    took over 20 GB. The batch now shrinks to what fits in half the free memory (here two
    points), with the same scores, and refuses only when one point cannot fit."""
    from llmxai_widgets.methods.attribution import prepare
    from llmxai_widgets.methods.attribution.gradient import backward_bytes

    text = "The capital of France is Paris and the capital of Italy is Rome. " * 12
    expected = lx.attribute(smollm2, text, method="integrated_gradients", n_steps=6)
    count, handle = _layer0_passes(smollm2)
    try:
        lx.attribute(smollm2, text, method="integrated_gradients", n_steps=6)
        full = count[0]
        one_point = backward_bytes(prepare(smollm2, text)[0])
        monkeypatch.setattr(lazy, "available_bytes", lambda: int(one_point * 5.5))  # half of it: two points
        count[0] = 0
        got = lx.attribute(smollm2, text, method="integrated_gradients", n_steps=6)
        short = count[0]
    finally:
        handle.remove()
    assert short - full == 2, "6 points: 3 passes of 2 points instead of one pass of 6"
    # the same points in other batches: float32 sums in another order, within 1e-3 of the largest score
    np.testing.assert_allclose(got.scores, expected.scores, rtol=0, atol=1e-3 * np.nanmax(np.abs(expected.scores)))


@pytest.mark.parametrize("method", ["saliency", "input_x_gradient", "integrated_gradients"])
def test_gradient_methods_refuse_a_backward_pass_that_would_not_fit(smollm2, monkeypatch, method):
    text = "The capital of France is Paris and the capital of Italy is Rome. " * 12
    monkeypatch.setattr(lazy, "available_bytes", lambda: 200_000_000)
    count, handle = _layer0_passes(smollm2)
    try:
        with pytest.raises(MemoryError, match=rf"{method} over \d+ tokens \(one backward pass through smollm2\) needs "
                                              r"0\.\d\d GB and 0\.20 GB of memory is free: refused before allocating\. "
                                              r"Explain a shorter text, or use a method without gradients"):
            lx.attribute(smollm2, text, " Paris", method=method)  # a given target: no pass to find it
    finally:
        handle.remove()
    assert count[0] == 0
