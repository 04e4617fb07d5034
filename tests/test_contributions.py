"""Direct logit attribution: the parts add up to the model's own final logit."""

import dataclasses

import numpy as np
import pytest
import torch

import llmxai_widgets as lx

TEXT = "The capital of France is"


def own_logit(model, ids, position, target):
    with torch.no_grad():
        return float(model.model(input_ids=torch.as_tensor(ids)[None]).logits[0, position, target])


def with_random_biases(model):
    """Every bias and norm parameter randomised, so the bias and constant terms are not zero."""
    torch.manual_seed(1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_(0.0, 0.3)
            elif "ln" in name or "norm" in name:
                param.uniform_(0.5, 1.5)
    return model


def tokenizer():
    from transformers import AutoTokenizer

    from llmxai_widgets.models import bundled

    return AutoTokenizer.from_pretrained(bundled.smollm2_folder())


@pytest.fixture(scope="module")
def gpt2_with_biases():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_head=4, n_embd=32, n_positions=64, vocab_size=49152))
    return lx.load_model(model=with_random_biases(model.eval()), tokenizer=tokenizer(), name_or_path="gpt2-biases")


@pytest.fixture(scope="module")
def tiny_neox():
    """GPT-NeoX: attention and MLP in parallel, an untied output embedding, biases everywhere."""
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    torch.manual_seed(0)
    config = GPTNeoXConfig(num_hidden_layers=2, num_attention_heads=4, hidden_size=32, intermediate_size=64,
                           vocab_size=49152, max_position_embeddings=64)
    model = with_random_biases(GPTNeoXForCausalLM(config).eval())
    return lx.load_model(model=model, tokenizer=tokenizer(), name_or_path="tiny-neox")


@pytest.mark.parametrize("fixture", ["smollm2", "tiny_gpt2", "gpt2_with_biases", "tiny_neox"])
@pytest.mark.parametrize("target, position", [(None, -1), (" Paris", -1), (" the", 2)])
def test_parts_add_up_to_the_final_logit(request, fixture, target, position):
    model = request.getfixturevalue(fixture)
    result = lx.contributions(model, TEXT, target, position)
    expected = own_logit(model, result.tokens.ids, position, result.target_id)
    assert result.total == pytest.approx(expected, abs=1e-3)
    assert result.logit == pytest.approx(expected, abs=1e-3)
    labels, values = result.components()
    assert labels[:3] == ["embed", "attn 0", "mlp 0"] and labels[-1] == "constant"
    assert len(values) == 2 * model.n_layers + 2
    assert float(values.sum(dtype=np.float64)) == pytest.approx(expected, abs=1e-3)
    assert result.heads.shape == (model.n_layers, model.n_heads)
    np.testing.assert_allclose(result.heads.sum(1) + result.attention_bias, result.attention, atol=1e-4)
    if target is None:
        with torch.no_grad():
            logits = model.model(input_ids=torch.as_tensor(result.tokens.ids)[None]).logits[0, position]
        assert result.target_id == int(logits.argmax())


def test_bias_terms_are_used(gpt2_with_biases):
    result = lx.contributions(gpt2_with_biases, TEXT, " Paris")
    assert abs(result.constant) > 1e-3 and (np.abs(result.attention_bias) > 1e-4).all()


def test_smollm2_has_no_bias_terms_and_rms_scale(smollm2):
    result = lx.contributions(smollm2, TEXT, " Paris")
    assert result.constant == 0.0 and not result.attention_bias.any()
    assert result.position == 4 and result.target_text == " Paris"
    # the residual before the final norm (transformers' hidden_states[-1] is already normed)
    captured = {}
    handle = smollm2.model.model.layers[-1].register_forward_hook(lambda m, a, o: captured.setdefault("x", o))
    try:
        with torch.no_grad():
            smollm2.model(input_ids=torch.as_tensor(result.tokens.ids)[None])
    finally:
        handle.remove()
    residual = captured["x"][0, -1].double()
    eps = smollm2.config.rms_norm_eps
    assert result.norm_scale == pytest.approx(float(torch.sqrt(residual.pow(2).mean() + eps)), rel=1e-6)


def test_errors(smollm2, minilm, tiny_gpt2):
    with pytest.raises(IndexError, match="position 5 is out of range: the text has 5 tokens, numbered 0-4"):
        lx.contributions(smollm2, TEXT, position=5)
    with pytest.raises(ValueError, match="must be exactly one"):
        lx.contributions(smollm2, TEXT, "Parisian capitals")
    with pytest.raises(ValueError, match="text is empty"):
        lx.contributions(smollm2, " ")
    with pytest.raises(ValueError, match="needs a causal language model"):
        lx.contributions(minilm, TEXT)
    unknown = lx.LoadedModel(tiny_gpt2.model, tiny_gpt2.tokenizer, "no-map", "causal")
    unknown.architecture = dataclasses.replace(unknown.architecture, attention_output=None)
    with pytest.raises(ValueError, match=r"attention output of a 'gpt2' model.*works with model types: .*llama"):
        lx.contributions(unknown, TEXT)
