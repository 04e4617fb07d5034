"""Head summary scores against independent numpy computations on transformers' eager attentions."""

import importlib

import numpy as np
import pytest
import torch

import llmxai_widgets as lx
from llmxai_widgets.methods import get_method

# the package exports the function under the module's name, so fetch the module itself
head_summary_module = importlib.import_module("llmxai_widgets.methods.head_summary")

SENTENCE = "The quick brown fox jumps over the lazy dog, and then the fox sleeps under a tree."


def eager_attentions(model, ids) -> np.ndarray:
    """Reference ``[layer, head, query, key]`` from the model's own eager ``output_attentions``."""
    before = model.config._attn_implementation
    model.model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = model.model(input_ids=torch.as_tensor(ids)[None], output_attentions=True)
    finally:
        model.model.set_attn_implementation(before)
    return np.stack([a[0].double().numpy() for a in out.attentions])


def reference_scores(pattern: np.ndarray) -> dict[str, np.ndarray]:
    """Sink, previous-token and entropies with plain loops, ``[layer, head]`` each."""
    n_layers, n_heads, n, _ = pattern.shape
    out = {name: np.zeros((n_layers, n_heads)) for name in ("sink", "previous_token", "entropy", "entropy_normalised")}
    for layer in range(n_layers):
        for head in range(n_heads):
            a = pattern[layer, head]
            entropies = []
            for q in range(n):
                row = a[q, : q + 1]
                row = row[row > 0]
                entropies.append(float(-(row * np.log(row)).sum()))
            out["sink"][layer, head] = np.mean([a[q, 0] for q in range(1, n)])
            out["previous_token"][layer, head] = np.mean([a[q, q - 1] for q in range(1, n)])
            out["entropy"][layer, head] = np.mean(entropies)
            out["entropy_normalised"][layer, head] = np.mean([entropies[q] / np.log(q + 1) for q in range(1, n)])
    return out


def reference_induction(pattern: np.ndarray, length: int) -> np.ndarray:
    """Olsson et al. induction score: query i in the second copy -> token after i's earlier copy."""
    n_layers, n_heads, n, _ = pattern.shape
    scores = np.zeros((n_layers, n_heads))
    for layer in range(n_layers):
        for head in range(n_heads):
            weights = [pattern[layer, head, i, i - length + 1] for i in range(n - length, n)]
            scores[layer, head] = np.mean(weights)
    return scores


def top(scores: np.ndarray, k: int) -> list[tuple[int, int]]:
    order = np.argsort(-scores.ravel(), kind="stable")[:k]
    return [divmod(int(i), scores.shape[1]) for i in order]


@pytest.fixture(scope="module")
def on_sentence(smollm2):
    return lx.head_summary(smollm2, SENTENCE)


# -- the acceptance test --------------------------------------------------------------------------
def test_induction_heads_match_an_independent_eager_computation(smollm2, on_sentence):
    length = 50
    ids = on_sentence.induction_tokens.ids
    expected = reference_induction(eager_attentions(smollm2, ids), length)

    np.testing.assert_allclose(on_sentence.induction, expected, atol=1e-4)
    found = [(layer, head) for layer, head, _ in on_sentence.top("induction", 5)]
    reference = top(expected, 5)
    assert found[0] == reference[0]
    assert set(found[:3]) == set(reference[:3]) or len(set(found) & set(reference)) >= 3
    assert all(value > 0.3 for _, _, value in on_sentence.top("induction", 3))
    # the bundled SmolLM2's induction heads sit in layers 17-18 (L18H6 is the strongest, ~0.9)
    assert found[0] == (18, 6) and expected[18, 6] > 0.8
    assert smollm2.config._attn_implementation == "sdpa"  # head_summary put the fast kernel back


def test_induction_sequence_is_bos_then_a_random_block_twice(smollm2, on_sentence):
    tokens = on_sentence.induction_tokens
    bos = smollm2.tokenizer.bos_token_id
    assert bos is not None and tokens.ids[0] == bos and tokens.special.tolist() == [True] + [False] * 100
    first, second = tokens.ids[1:51], tokens.ids[51:]
    np.testing.assert_array_equal(first, second)
    assert len(set(first.tolist())) == 50  # distinct: each token has exactly one earlier occurrence
    assert not set(first.tolist()) & set(smollm2.tokenizer.all_special_ids)
    assert first.min() > max(smollm2.tokenizer.added_tokens_decoder)  # SmolLM2's specials are ids 0-16
    again = head_summary_module.induction_tokens(smollm2, 50, seed=0)
    np.testing.assert_array_equal(again.ids, tokens.ids)
    assert not np.array_equal(head_summary_module.induction_tokens(smollm2, 50, seed=1).ids, tokens.ids)


def test_sink_previous_token_and_entropy_match_numpy_on_a_sentence(smollm2, on_sentence):
    ids = smollm2.tokenize(SENTENCE).ids
    np.testing.assert_array_equal(on_sentence.tokens.ids, ids)
    expected = reference_scores(eager_attentions(smollm2, ids))
    for name, values in expected.items():
        got = getattr(on_sentence, name)
        assert got.dtype == np.float32 and got.shape == (30, 9)
        np.testing.assert_allclose(got, values, atol=1e-4, err_msg=name)
    assert np.all(on_sentence.entropy_normalised >= -1e-6) and np.all(on_sentence.entropy_normalised <= 1 + 1e-6)


def test_without_text_everything_is_measured_on_the_repeated_sequence(tiny_gpt2):
    summary = lx.head_summary(tiny_gpt2, induction_length=20, seed=3)
    # tiny_gpt2 borrows SmolLM2's tokenizer, so it gets the same BOS: 1 + 20 + 20 tokens
    assert summary.tokens is summary.induction_tokens and len(summary.tokens) == 41
    pattern = eager_attentions(tiny_gpt2, summary.tokens.ids)
    for name, values in reference_scores(pattern).items():
        np.testing.assert_allclose(getattr(summary, name), values, atol=1e-4, err_msg=name)
    np.testing.assert_allclose(summary.induction, reference_induction(pattern, 20), atol=1e-4)


def test_one_layer_per_pass_gives_the_same_scores(tiny_gpt2):
    together = lx.head_summary(tiny_gpt2, SENTENCE, induction_length=20)
    apart = lx.head_summary(tiny_gpt2, SENTENCE, induction_length=20, layers_per_pass=1)
    for name in together.score_names:
        np.testing.assert_array_equal(together.score(name), apart.score(name))


def test_layer_subset_and_top(smollm2, on_sentence):
    part = lx.head_summary(smollm2, SENTENCE, layers=[18, 2, 17])
    assert part.layers == [2, 17, 18] and part.induction.shape == (3, 9)
    np.testing.assert_allclose(part.induction, on_sentence.induction[[2, 17, 18]], atol=1e-6)
    assert part.top("induction", 1)[0][:2] == (18, 6)

    best = on_sentence.top("sink", 270)
    assert len(best) == 270 and [v for *_, v in best] == sorted((v for *_, v in best), reverse=True)
    layer, head, value = best[0]
    assert value == pytest.approx(float(on_sentence.sink.max())) and on_sentence.sink[layer, head] == value
    focused = on_sentence.top("entropy", 2, lowest=True)
    assert focused[0][2] <= focused[1][2] and focused[0][2] == pytest.approx(float(on_sentence.entropy.min()))
    assert len(on_sentence.top("entropy", 1000)) == 270
    with pytest.raises(ValueError, match="unknown score 'induction_score'; valid scores: sink"):
        on_sentence.top("induction_score", 3)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        on_sentence.top("sink", 0)


def test_registered_and_exported():
    assert get_method("head_summary") is lx.head_summary
    assert lx.HeadSummary is head_summary_module.HeadSummary


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"text": ""}, ValueError, "text is empty"),
        ({"text": "   "}, ValueError, "text is empty"),
        ({"text": "Hi"}, ValueError, "needs at least 2|need at least 2"),
        ({"layers": [30]}, IndexError, r"layer 30 is out of range: .* numbered 0-29"),
        ({"layers": [-1]}, IndexError, "layer -1 is out of range"),
        ({"layers": []}, ValueError, "layers is empty"),
        ({"induction_length": 1}, ValueError, "at least 2 repeated tokens"),
        ({"induction_length": 4097}, ValueError, r"8,195-token sequence .* at most 8,192; pass induction_length=4095"),
        ({"induction_length": 2.5}, TypeError, "induction_length must be an integer"),
        ({"layers_per_pass": 0}, ValueError, "layers_per_pass must be a positive integer or None"),
    ],
)
def test_errors_name_the_fix(smollm2, kwargs, error, match):
    with pytest.raises(error, match=match):
        lx.head_summary(smollm2, **kwargs)


def test_induction_length_limited_by_a_small_context(tiny_gpt2):
    with pytest.raises(ValueError, match=r"67-token sequence but tiny-gpt2 accepts at most 64; pass induction_length=31 or less"):
        lx.head_summary(tiny_gpt2, induction_length=33)
