"""Steering vectors against numpy on transformers' own hidden states, steering against plain
forward passes (alpha = 0 exact, the added vector exact, per-row alphas = one run per alpha),
steered generation against transformers' greedy generate, the hooks' cleanup, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import llmxai_widgets as lx
from llmxai_widgets.methods.use import pairs
from llmxai_widgets.methods.use.steering import steer, steering_vector
from llmxai_widgets.methods.use.steering_generate import concept_curve, generate

LAYER = 12
HELD_OUT = ["I think the new restaurant is", "My opinion of the concert: it was", "The service at the bank was",
            "Our trip to the coast was", "The meeting this morning was", "Honestly, the weekend was", "That new album is"]


@pytest.fixture(scope="module")
def sentiment():
    return pairs.load("sentiment")


@pytest.fixture(scope="module")
def vector(smollm2, sentiment):
    return steering_vector(smollm2, *sentiment, layers=[LAYER])


def _hidden(model, texts, layer):
    """Each text's residual stream after block ``layer`` at its last token: transformers'
    ``output_hidden_states``, one unpadded text at a time."""
    rows = []
    with torch.no_grad():
        for text in texts:
            ids = torch.as_tensor(model.tokenize(text).ids)[None]
            rows.append(model.model(ids, output_hidden_states=True).hidden_states[layer + 1][0, -1].double().numpy())
    return np.stack(rows)


def _cos(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def _hooks(model):
    """Every block's hooks (transformers adds its own the first time hidden states are asked for)."""
    return [(list(b._forward_hooks), list(b._forward_pre_hooks)) for b in model.layers()]


def _logits(model, ids):
    with torch.no_grad():
        return model.model(ids).logits


def test_directions_equal_numpy_on_transformers_hidden_states(smollm2, sentiment):
    positive, negative = sentiment
    diff = _hidden(smollm2, positive, LAYER) - _hidden(smollm2, negative, LAYER)
    mean = diff.mean(0)
    first_pc = np.linalg.svd(diff, full_matrices=False)[2][0]
    centred_pc = np.linalg.svd(diff - mean, full_matrices=False)[2][0]
    ours = {m: steering_vector(smollm2, positive, negative, layers=[LAYER], method=m) for m in ("mean_diff", "pca_diff")}
    centred = steering_vector(smollm2, positive, negative, layers=[LAYER], method="pca_diff", center=True)
    assert _cos(ours["mean_diff"].directions[LAYER], mean) >= 0.999
    assert abs(_cos(ours["pca_diff"].directions[LAYER], first_pc)) >= 0.999
    assert abs(_cos(centred.directions[LAYER], centred_pc)) >= 0.999
    for v in (ours["pca_diff"], centred):  # signed from negatives to positives, scaled to the mean difference along it
        u = v.unit(LAYER)
        assert (diff @ u).mean() > 0
        assert np.isclose(v.norm(LAYER), (diff @ u).mean(), rtol=1e-4)
    assert np.isclose(ours["mean_diff"].norm(LAYER), np.linalg.norm(mean), rtol=1e-4)
    assert ours["mean_diff"].separation[LAYER] == 1.0  # every pair lies the right way round


def test_same_pairs_same_vector(smollm2, sentiment):
    a = steering_vector(smollm2, *sentiment, layers=[6, LAYER], method="pca_diff")
    b = steering_vector(smollm2, *sentiment, layers=[6, LAYER], method="pca_diff")
    for layer in (6, LAYER):
        assert np.array_equal(a.directions[layer], b.directions[layer])


def test_alpha_zero_is_the_unsteered_model_exactly(smollm2, vector):
    ids = torch.as_tensor(smollm2.tokenize(HELD_OUT[0]).ids)[None]
    plain = _logits(smollm2, ids)
    with steer(smollm2, vector, 0.0):
        steered = _logits(smollm2, ids)
    assert torch.equal(plain, steered)


def test_the_block_output_gains_exactly_alpha_times_the_vector(smollm2, vector):
    ids = torch.as_tensor(smollm2.tokenize(HELD_OUT[1]).ids)[None]
    seen = []
    handle = smollm2.layers()[LAYER].register_forward_hook(lambda _m, _a, out: seen.append(out[0] if isinstance(out, tuple) else out))
    try:  # registered first, this hook sees the block's own output; the next block's input shows what steer made of it
        nxt = []
        handle2 = smollm2.layers()[LAYER + 1].register_forward_pre_hook(
            lambda _m, args, kwargs: nxt.append(args[0] if args else kwargs["hidden_states"]), with_kwargs=True)
        with steer(smollm2, vector, 3.0):
            _logits(smollm2, ids)
    finally:
        handle.remove()
        handle2.remove()
    added = (nxt[0] - seen[0])[0].numpy()
    assert np.allclose(added, 3.0 * vector.directions[LAYER][None], atol=1e-3)  # float32 rounding of h + a - h


def test_one_alpha_per_row_equals_one_run_per_alpha(smollm2, vector):
    ids = torch.as_tensor(smollm2.tokenize(HELD_OUT[2]).ids)[None]
    alphas = [-4.0, 0.0, 2.5]
    with steer(smollm2, vector, alphas):
        batched = _logits(smollm2, ids.repeat(3, 1))
    for row, alpha in enumerate(alphas):
        with steer(smollm2, vector, alpha):
            single = _logits(smollm2, ids)
        assert torch.allclose(batched[row], single[0], atol=1e-3)


def test_projection_at_the_last_block_rises_with_alpha_on_held_out_prompts(smollm2, vector):
    """The vector is added after block 12; 17 blocks later, the last block's input still lies further
    along the direction the larger alpha is, on every held-out prompt (none is in the pairs)."""
    alphas = [-4, -3, -2, -1, 0, 1, 2, 3, 4]
    u = torch.as_tensor(vector.unit(LAYER))
    for prompt in HELD_OUT:
        ids = torch.as_tensor(smollm2.tokenize(prompt).ids)[None].repeat(len(alphas), 1)
        with steer(smollm2, vector, alphas), torch.no_grad():
            hidden = smollm2.model(ids, output_hidden_states=True).hidden_states[smollm2.n_layers - 1][:, -1]
        projection = (hidden @ u).numpy()
        assert np.all(np.diff(projection) > 0), (prompt, projection)


def test_hooks_are_removed_after_an_exception(smollm2, vector):
    ids = torch.as_tensor(smollm2.tokenize(HELD_OUT[3]).ids)[None]
    plain = _logits(smollm2, ids)
    before = _hooks(smollm2)
    with pytest.raises(RuntimeError, match="inside the block"):
        with steer(smollm2, vector, 8.0):
            assert not torch.equal(_logits(smollm2, ids), plain)
            raise RuntimeError("inside the block")
    assert _hooks(smollm2) == before
    assert torch.equal(_logits(smollm2, ids), plain)
    assert smollm2.lock.acquire(blocking=False)  # the lock was released too
    smollm2.lock.release()


def test_generation_at_alpha_zero_is_greedy_generate_and_scores_are_the_blocks_own_output(smollm2, vector):
    prompt = "I went to the new cafe yesterday and"
    result = generate(smollm2, prompt, vector, [-6.0, 0.0, 6.0], max_new_tokens=10, concept=[" great", " good"])
    ids = torch.as_tensor(smollm2.tokenize(prompt).ids)[None]
    with torch.no_grad():
        greedy = smollm2.model.generate(ids, max_new_tokens=10, do_sample=False, pad_token_id=smollm2.tokenizer.eos_token_id)
    assert result.ids[1] == greedy[0, ids.shape[1]:].tolist()
    assert result.ids[0] != result.ids[1] != result.ids[2]  # steering changed the text both ways
    for col, alpha in enumerate(result.alphas):  # a token's score: block 12's own output at it, before the vector
        full = torch.as_tensor([*ids[0].tolist(), *result.ids[col]])[None]
        seen = []
        handle = smollm2.layers()[LAYER].register_forward_hook(lambda _m, _a, out: seen.append(out[0] if isinstance(out, tuple) else out))
        try:
            with steer(smollm2, vector, alpha):
                probs = torch.softmax(_logits(smollm2, full)[0].double(), -1)
        finally:
            handle.remove()
        own = vector.score(seen[0][0].double().numpy(), LAYER)
        assert np.allclose(result.scores[col], own[ids.shape[1]:], atol=2e-3)
        assert np.allclose(result.prompt_scores, own[: ids.shape[1]], atol=2e-3)
        concept = [int(smollm2.tokenizer(w, add_special_tokens=False).input_ids[0]) for w in (" great", " good")]
        expected = probs[ids.shape[1] - 1: full.shape[1] - 1, concept].sum(-1).numpy()
        assert np.allclose(result.concept_probability[col], expected, atol=1e-4)
    curve = concept_curve(smollm2, prompt, vector, result.alphas, [" great", " good"])
    assert np.allclose(curve, [p[0] for p in result.concept_probability], atol=1e-5)


def test_bad_input_says_what_to_fix(smollm2, sentiment, vector, tiny_gqa):
    positive, negative = sentiment
    before = _hooks(smollm2)
    with pytest.raises(ValueError, match="same length, got 12 positive and 11 negative"):
        steering_vector(smollm2, positive, negative[:-1], layers=[LAYER])
    with pytest.raises(ValueError, match="positive needs at least 1 text"):
        steering_vector(smollm2, [], [], layers=[LAYER])
    with pytest.raises(ValueError, match=r"negative\[1\] must be a non-empty string"):
        steering_vector(smollm2, positive[:2], ["fine", "  "], layers=[LAYER])
    with pytest.raises(ValueError, match="pca_diff needs at least 2 pairs"):
        steering_vector(smollm2, positive[:1], negative[:1], layers=[LAYER], method="pca_diff")
    with pytest.raises(ValueError, match="method must be one of"):
        steering_vector(smollm2, positive, negative, layers=[LAYER], method="pca")
    with pytest.raises(IndexError, match="has 30 blocks"):
        steering_vector(smollm2, positive, negative, layers=[30])
    with pytest.raises(ValueError, match="give the same residual stream"):
        steering_vector(smollm2, ["same text"], ["same text"], layers=[LAYER])
    for alpha, error, match in (("strong", TypeError, "alpha must be a number"), (float("nan"), ValueError, "finite"),
                                (None, TypeError, "alpha must be a number"), ([1, "x"], TypeError, r"alpha\[1\]")):
        with pytest.raises(error, match=match):
            with steer(smollm2, vector, alpha):
                pass
    assert _hooks(smollm2) == before
    with pytest.raises(ValueError, match="computed on"):
        with steer(tiny_gqa, vector, 1.0):
            pass
    with pytest.raises(KeyError, match="not at 3"):
        with steer(smollm2, vector, 1.0, layers=[3]):
            pass
    assert _hooks(smollm2) == before
    with pytest.raises(ValueError, match="max_new_tokens must be a positive integer"):
        generate(smollm2, "Hi", vector, [0.0], max_new_tokens=0)
    with pytest.raises(ValueError, match="exactly one"):
        generate(smollm2, "Hi", vector, [0.0], concept=[" so very great"])
    with pytest.raises(TypeError, match="list of numbers"):
        generate(smollm2, "Hi", vector, "0, 4")
