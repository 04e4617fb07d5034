"""Gradient SHAP and the attention/vector attribution methods, against computations written here
from transformers' own outputs (eager attention weights, hidden states, the model's weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import llmxai_widgets as lx
from llmxai_widgets.methods import Cancelled
from llmxai_widgets.methods.attribution import ATTRIBUTION_METHODS, attribute

PROMPT = "The capital of France is"
VECTOR_METHODS = ("attention_x_gradient", "attention_rollout", "norm_attention")


@pytest.fixture(scope="module")
def tiny_llama():
    """A small random LLaMA (grouped-query attention): smooth enough that Monte Carlo estimates
    converge in a few hundred samples, and fast."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from llmxai_widgets.models import bundled

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=49152, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         initializer_range=0.1, attn_implementation="sdpa")
    model = LlamaForCausalLM(config).eval()
    tokenizer = AutoTokenizer.from_pretrained(bundled.smollm2_folder())
    return lx.load_model(model=model, tokenizer=tokenizer, name_or_path="tiny-llama")


def logprob(model, ids: torch.Tensor, target: int, embeds: torch.Tensor | None = None) -> torch.Tensor:
    """``[batch]`` log p(target | ids) at the last position, from ids or input embeddings."""
    out = model.model(input_ids=None if embeds is not None else ids, inputs_embeds=embeds, use_cache=False)
    return torch.log_softmax(out.logits[:, -1].float(), dim=-1)[:, target]


def eager_run(model, ids, **kwargs):
    """The model's forward pass with eager attention (its implementation restored after)."""
    before = model.config._attn_implementation
    model.model.set_attn_implementation("eager")
    try:
        return model.model(input_ids=torch.as_tensor(ids)[None], use_cache=False, **kwargs)
    finally:
        model.model.set_attn_implementation(before)


# -- gradient SHAP ----------------------------------------------------------------------------


def test_gradient_shap_without_noise_approaches_integrated_gradients(tiny_llama):
    ig = attribute(tiny_llama, PROMPT, target=" Paris", method="integrated_gradients", n_steps=64,
                   rule="riemann_middle", baseline=0)
    shap = attribute(tiny_llama, PROMPT, target=" Paris", method="gradient_shap", stdev=0, n_samples=256,
                     baseline=0, batch=128)
    scale = np.abs(ig.row(0)).max()
    assert np.abs(shap.row(0) - ig.row(0)).max() <= 0.01 * scale, (shap.row(0), ig.row(0))
    # independent alphas converge too, only more slowly
    iid = attribute(tiny_llama, PROMPT, target=" Paris", method="gradient_shap", stdev=0, n_samples=512,
                    baseline=0, batch=256, stratified=False)
    assert np.abs(iid.row(0) - ig.row(0)).max() <= 0.1 * scale, (iid.row(0), ig.row(0))


def test_gradient_shap_is_complete_in_expectation(tiny_llama):
    """Sum of scores ~ f(x) - E_b f(b), E_b estimated here from baselines drawn independently."""
    stdev = 0.3
    shap = attribute(tiny_llama, PROMPT, target=" Paris", method="gradient_shap", stdev=stdev, n_samples=512,
                     baseline="zeros", batch=256, seed=3)
    ids = torch.as_tensor(shap.tokens.ids[:-1])[None]
    target = int(shap.tokens.ids[-1])
    generator = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        f_x = float(logprob(tiny_llama, ids, target)[0])
        f_b = torch.cat([logprob(tiny_llama, None, target,
                                 embeds=torch.randn((256, ids.shape[1], 32), generator=generator) * stdev)
                         for _ in range(8)])
    gap = f_x - float(f_b.mean())
    assert float(f_b.std()) > 0.5 * abs(gap)  # the baselines do differ: the expectation matters
    assert abs(np.nansum(shap.row(0)) - gap) <= 0.1 * abs(gap), (np.nansum(shap.row(0)), gap)
    # the error the result reports: the same gap, with the baselines it drew
    assert shap.completeness.shape == (1,) and shap.completeness[0] < 0.1
    assert not shap.notes


def test_gradient_shap_is_reproducible_with_a_seed(smollm2):
    def run(seed):
        return attribute(smollm2, PROMPT, target=" Paris", method="gradient_shap", n_samples=3, seed=seed).row(0)

    first, again, other = run(7), run(7), run(8)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert not np.allclose(run(None), run(None))


def test_gradient_shap_reports_a_large_monte_carlo_error(smollm2):
    result = attribute(smollm2, PROMPT, target=" Paris", method="gradient_shap", n_samples=2, seed=0)
    assert result.completeness.shape == (1,) and result.converged is None
    if result.completeness[0] > 0.1:
        assert "raise n_samples" in result.notes[0]
    else:
        assert not result.notes


# -- attention x gradient ---------------------------------------------------------------------


def test_attention_x_gradient_equals_autograd_through_eager_attention(smollm2):
    result = attribute(smollm2, PROMPT, generate=2, method="attention_x_gradient")
    assert smollm2.config._attn_implementation == "sdpa"  # restored
    ids = result.tokens.ids
    for i, t in enumerate(result.target_positions):
        out = eager_run(smollm2, ids[:t], output_attentions=True)
        for a in out.attentions:
            a.retain_grad()
        torch.log_softmax(out.logits[0, -1].float(), dim=-1)[int(ids[t])].backward()
        theirs = sum((a[0, :, -1] * a.grad[0, :, -1]).sum(0) for a in out.attentions).detach().numpy()
        np.testing.assert_allclose(result.row(i), theirs, rtol=1e-3, atol=1e-5 * np.abs(theirs).max())
        assert np.isnan(result.scores[i, t:]).all()


def test_attention_x_gradient_of_chosen_layers(smollm2):
    every = attribute(smollm2, PROMPT, target=" Paris", method="attention_x_gradient")
    parts = [attribute(smollm2, PROMPT, target=" Paris", method="attention_x_gradient", layers=layers).row(0)
             for layers in (list(range(15)), range(15, 30))]
    np.testing.assert_allclose(parts[0] + parts[1], every.row(0), rtol=1e-4, atol=1e-6)


# -- attention rollout ------------------------------------------------------------------------


def numpy_rollout(attentions, upto: int) -> np.ndarray:
    n = attentions[0].shape[-1]
    joint = np.eye(n)
    for a in attentions[: upto + 1]:
        mixed = 0.5 * a[0].double().mean(0).numpy() + 0.5 * np.eye(n)
        mixed /= mixed.sum(-1, keepdims=True)
        joint = mixed @ joint
    return joint


@pytest.mark.parametrize("layer", [-1, 4])
def test_attention_rollout_equals_rollout_of_eager_weights(smollm2, layer):
    result = attribute(smollm2, PROMPT, generate=3, method="attention_rollout", layer=layer)
    ids = result.tokens.ids
    with torch.no_grad():
        attentions = eager_run(smollm2, ids[:-1], output_attentions=True).attentions
    joint = numpy_rollout(attentions, layer % 30)
    for i, t in enumerate(result.target_positions):
        np.testing.assert_allclose(result.row(i), joint[t - 1, :t], rtol=1e-4, atol=1e-6)
        assert result.row(i).sum() == pytest.approx(1.0, abs=1e-4)


# -- norm-based attention ---------------------------------------------------------------------


def norm_contributions(model, ids, query: int) -> np.ndarray:
    """``[layer, key]``: ||sum_h A_h[query, j] W_O^h W_V^h LN(h_j)|| over keys j <= query, from
    one eager pass's attention weights and hidden states and each layer's weights."""
    with torch.no_grad():
        out = eager_run(model, ids, output_attentions=True, output_hidden_states=True)
        rows = []
        for layer, block in enumerate(model.model.model.layers):
            x = block.input_layernorm(out.hidden_states[layer])[0].double()  # what the attention reads
            attn = block.self_attn
            n_heads, n_kv, d = model.n_heads, model.n_kv_heads, attn.head_dim
            w_v = attn.v_proj.weight.double().reshape(n_kv, d, -1)
            w_o = attn.o_proj.weight.double()
            total = 0
            for h in range(n_heads):
                f = (x @ w_v[h // (n_heads // n_kv)].T) @ w_o[:, h * d:(h + 1) * d].T  # [pos, hidden]
                total = total + out.attentions[layer][0, h, query, :, None].double() * f
            rows.append(total.norm(dim=-1)[: query + 1].numpy())
        return np.array(rows)


def test_norm_attention_equals_weights_values_and_output_projection(smollm2):
    result = attribute(smollm2, PROMPT, generate=2, method="norm_attention")
    ids = result.tokens.ids
    for i, t in enumerate(result.target_positions):
        np.testing.assert_allclose(result.row(i), norm_contributions(smollm2, ids[:t], t - 1).mean(0), rtol=1e-4)
    for layers in (-1, [3, 17]):
        chosen = attribute(smollm2, PROMPT, target=" Paris", method="norm_attention", layers=layers)
        n = len(chosen.tokens) - 1
        theirs = norm_contributions(smollm2, chosen.tokens.ids[:-1], n - 1)[layers].reshape(-1, n).mean(0)
        np.testing.assert_allclose(chosen.row(0), theirs, rtol=1e-4)


# -- every method -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["gradient_shap", *VECTOR_METHODS])
def test_rows_stream_and_cancel(smollm2, method):
    options = {"n_samples": 2} if method == "gradient_shap" else {}
    seen = []
    result = attribute(smollm2, PROMPT, generate=3, method=method, on_row=lambda i, row: seen.append((i, row.copy())),
                       **options)
    assert [i for i, _ in seen] == [0, 1, 2]
    for i, row in seen:
        np.testing.assert_array_equal(row, result.scores[i])
    assert ATTRIBUTION_METHODS[method].family == ("gradient" if method == "gradient_shap" else "vector")
    rows = []
    with pytest.raises(Cancelled):
        attribute(smollm2, PROMPT, generate=3, method=method, on_row=lambda i, row: rows.append(i),
                  cancelled=lambda: bool(rows), **options)
    assert rows == [0]
    with pytest.raises(Cancelled):  # polled before the first row too
        attribute(smollm2, PROMPT, generate=3, method=method, cancelled=lambda: True, **options)
    assert smollm2.config._attn_implementation == "sdpa"


@pytest.mark.parametrize(
    ("method", "options", "message"),
    [
        ("gradient_shap", {"n_samples": 0}, "n_samples must be a positive integer"),
        ("gradient_shap", {"stdev": -1.0}, "stdev must be a number"),
        ("gradient_shap", {"stdev": "wide"}, "stdev must be a number"),
        ("gradient_shap", {"seed": "x"}, "seed must be an integer or None"),
        ("gradient_shap", {"batch": 0}, "batch must be a positive integer"),
        ("gradient_shap", {"stratified": "yes"}, "stratified must be True or False"),
        ("gradient_shap", {"baseline": "mask"}, "baseline must be"),
        ("attention_x_gradient", {"layers": 30}, "layer 30 is out of range"),
        ("norm_attention", {"layers": []}, "layers is empty"),
        ("norm_attention", {"layers": "last"}, "layers: "),
        ("attention_rollout", {"layer": [1, 2]}, "layer must be one layer number"),
        ("attention_rollout", {"layer": -31}, "out of range"),
    ],
)
def test_bad_options_say_what_to_do(smollm2, method, options, message):
    with pytest.raises(ValueError, match=message):
        attribute(smollm2, PROMPT, target=" Paris", method=method, **options)


def test_norm_attention_needs_value_and_output_projections(tiny_gpt2):
    with pytest.raises(ValueError, match="v_proj and o_proj"):
        attribute(tiny_gpt2, PROMPT, target=" Paris", method="norm_attention")
