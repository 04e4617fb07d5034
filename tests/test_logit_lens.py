"""The logit lens against the model's own logits and hidden states."""

import numpy as np
import pytest
import torch

import llmxai_widgets as lx

TEXT = "The capital of France is"


def model_logits(model, ids, **kwargs):
    with torch.no_grad():
        return model.model(input_ids=torch.as_tensor(ids)[None], **kwargs)


@pytest.mark.parametrize("fixture", ["smollm2", "tiny_gpt2"])
def test_last_layer_is_the_models_own_output(request, fixture):
    model = request.getfixturevalue(fixture)
    lens = lx.logit_lens(model, TEXT, top_k=4)
    logits = model_logits(model, lens.tokens.ids).logits[0]
    values, ids = torch.topk(logits, 4, dim=-1)
    last = lens.row(model.n_layers - 1)
    assert lens.layers == [-1, *range(model.n_layers)] and lens.labels[0] == "embed"
    np.testing.assert_array_equal(lens.top_ids[last], ids.numpy())
    np.testing.assert_allclose(lens.top_logits[last], values.numpy(), atol=1e-4)
    np.testing.assert_allclose(lens.top_probs[last], torch.softmax(logits, -1).gather(-1, ids).numpy(), atol=1e-5)
    # default target: the model's final top token, rank 0 there
    np.testing.assert_array_equal(lens.target_ids, ids[:, 0].numpy())
    assert (lens.target_ranks[last] == 0).all()
    np.testing.assert_allclose(lens.target_probs[last], lens.top_probs[last, :, 0], atol=1e-6)


def test_earlier_rows_decode_the_hidden_states(smollm2):
    """transformers' hidden_states[l + 1] is the residual after block l (its last entry is already
    normed, so the lens must not use it); decode it independently and compare."""
    lens = lx.logit_lens(smollm2, TEXT, top_k=3, layers=["embed", 0, 14, 28])
    hidden = model_logits(smollm2, lens.tokens.ids, output_hidden_states=True).hidden_states
    for row, layer in enumerate(lens.layers):
        with torch.no_grad():
            logits = smollm2.model.lm_head(smollm2.model.model.norm(hidden[layer + 1][0]))
        values, ids = torch.topk(logits, 3, dim=-1)
        np.testing.assert_array_equal(lens.top_ids[row], ids.numpy())
        np.testing.assert_allclose(lens.top_logits[row], values.numpy(), atol=1e-4)


def test_paris_is_first_at_the_last_layer(smollm2):
    lens = lx.logit_lens(smollm2, TEXT, " Paris")
    last = lens.row(29)
    assert lens.top_text[last, -1, 0] == " Paris"
    assert lens.target_ranks[last, -1] == 0 and lens.target_text[-1] == " Paris"
    assert lens.target_probs[last, -1] == pytest.approx(lens.top_probs[last, -1, 0])
    assert lens.target_ranks[lens.row("embed"), -1] > 100  # not known from the embeddings alone
    by_id = lx.logit_lens(smollm2, TEXT, int(lens.target_ids[0]), layers=[29])
    np.testing.assert_array_equal(by_id.target_ranks[0], lens.target_ranks[last])


def test_ranks_and_probabilities_are_consistent(tiny_gpt2):
    lens = lx.logit_lens(tiny_gpt2, TEXT, top_k=3)
    first = lens.top_ids[:, :, 0] == lens.target_ids[None]
    assert ((lens.target_ranks == 0) == first).all()
    assert (np.diff(lens.top_probs, axis=-1) <= 0).all()
    assert lens.top_text.shape == lens.top_ids.shape
    assert lens.top_text[0, 0, 0] == tiny_gpt2.tokenizer.decode([int(lens.top_ids[0, 0, 0])])


def test_positions_and_layers_select_columns_and_rows(smollm2):
    full = lx.logit_lens(smollm2, TEXT, layers=[3, 29])
    part = lx.logit_lens(smollm2, TEXT, layers=[29, 3], positions=[-1, 1])
    assert part.layers == [3, 29] and part.positions.tolist() == [1, 4]
    np.testing.assert_array_equal(part.top_ids, full.top_ids[:, [1, 4]])
    np.testing.assert_allclose(part.target_probs, full.target_probs[:, [1, 4]], atol=1e-6)


def test_errors(smollm2, minilm):
    with pytest.raises(ValueError, match="is 3 tokens .* must be exactly one"):
        lx.logit_lens(smollm2, TEXT, " Parisian capitals")
    with pytest.raises(IndexError, match="target id"):
        lx.logit_lens(smollm2, TEXT, 10**7)
    with pytest.raises(IndexError, match="numbered 0-29"):
        lx.logit_lens(smollm2, TEXT, layers=[30])
    with pytest.raises(IndexError, match="position 5 is out of range: the text has 5 tokens"):
        lx.logit_lens(smollm2, TEXT, positions=[5])
    with pytest.raises(ValueError, match="text is empty"):
        lx.logit_lens(smollm2, "")
    with pytest.raises(ValueError, match="needs a causal language model"):
        lx.logit_lens(minilm, TEXT)
