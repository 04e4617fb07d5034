"""Feature attribution against independent computations: Captum's LayerIntegratedGradients and
LayerGradientXActivation on the embedding layer, and plain torch autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import llmxai_widgets as lx
from llmxai_widgets.methods.attribution import ATTRIBUTION_METHODS, attribute

PROMPT = "The capital of France is"


def forward_logprob(model, target_id):
    """Captum's forward function: log p(target | ids) at the last position."""

    def f(ids):
        return torch.log_softmax(model.model(input_ids=ids).logits[:, -1].float(), dim=-1)[:, target_id]

    return f


def relative_close(ours, theirs, tol=1e-3):
    scale = np.abs(theirs).max()
    assert np.abs(ours - theirs).max() <= tol * scale, (ours, theirs)


@pytest.mark.parametrize("rule", ["gausslegendre", "riemann_middle", "riemann_trapezoid"])
def test_integrated_gradients_equal_captum(smollm2, rule):
    """Same baseline (token 0, Captum's default), steps and rule. Captum's trapezoid weights sum to
    (n - 1) / n (ends 1/(2n), the rest 1/n); ours are the trapezoid rule's (sum 1), so its
    scores are Captum's times n / (n - 1)."""
    from captum.attr import LayerIntegratedGradients

    ours = attribute(smollm2, PROMPT, target=" Paris", n_steps=50, rule=rule, baseline=0, batch=25)
    ids = torch.as_tensor(smollm2.tokenize(PROMPT).ids)[None]
    target = int(ours.tokens.ids[-1])
    lig = LayerIntegratedGradients(forward_logprob(smollm2, target), smollm2.model.get_input_embeddings())
    theirs, delta = lig.attribute(ids, baselines=torch.zeros_like(ids), n_steps=50, method=rule,
                                  internal_batch_size=25, return_convergence_delta=True)
    theirs = theirs[0].sum(-1).detach().numpy() * (50 / 49 if rule == "riemann_trapezoid" else 1.0)
    relative_close(ours.row(0), theirs)
    if rule == "riemann_trapezoid":
        return
    # the completeness error the result reports is Captum's convergence delta, relative
    with torch.no_grad():
        gap = float(forward_logprob(smollm2, target)(ids) - forward_logprob(smollm2, target)(torch.zeros_like(ids)))
    assert ours.completeness[0] == pytest.approx(abs(float(delta)) / abs(gap), rel=1e-2, abs=1e-3)


def test_auto_steps_say_whether_integrated_gradients_converged(smollm2):
    result = attribute(smollm2, "Paris is the capital of", target=" France", n_steps="auto", max_steps=100)
    assert result.completeness is not None and result.completeness.shape == (1,)
    if result.converged:
        assert result.completeness[0] <= 0.05 and not result.notes
    else:
        assert result.completeness[0] > 0.05
        assert "did not converge" in result.notes[0] and "after 100 steps" in result.notes[0]


def test_input_x_gradient_equals_captum_and_serves_every_generated_token(smollm2):
    from captum.attr import LayerGradientXActivation

    result = attribute(smollm2, PROMPT, generate=3, method="input_x_gradient")
    with torch.no_grad():
        generated = smollm2.model.generate(input_ids=torch.as_tensor(smollm2.tokenize(PROMPT).ids)[None],
                                           max_new_tokens=3, do_sample=False)[0].tolist()
    assert list(result.tokens.ids) == generated and len(result.target_positions) == 3
    for i, t in enumerate(result.target_positions):
        ids = torch.as_tensor(generated[:t])[None]
        layer = LayerGradientXActivation(forward_logprob(smollm2, generated[t]), smollm2.model.get_input_embeddings())
        theirs = layer.attribute(ids)[0].sum(-1).detach().numpy()
        relative_close(result.row(i), theirs)
        assert np.isnan(result.scores[i, t:]).all()  # a causal model cannot use later tokens
    assert result.target_probs.shape == (3,) and (result.target_probs > 0).all()


def test_saliency_is_the_gradient_norm(smollm2):
    result = attribute(smollm2, PROMPT, target=" Paris", method="saliency")
    ids = torch.as_tensor(result.tokens.ids)
    embeds = smollm2.model.get_input_embeddings()(ids[:-1][None]).detach().requires_grad_(True)
    value = torch.log_softmax(smollm2.model(inputs_embeds=embeds).logits[0, -1].float(), -1)[ids[-1]]
    (grad,) = torch.autograd.grad(value, embeds)
    np.testing.assert_allclose(result.row(0), grad[0].norm(dim=-1).numpy(), rtol=1e-4, atol=1e-6)


def test_contrast_explains_target_minus_foil(smollm2):
    both = attribute(smollm2, PROMPT, target=" Paris", method="input_x_gradient", contrast=" Rome")
    paris = attribute(smollm2, PROMPT, target=" Paris", method="input_x_gradient")
    rome = attribute(smollm2, PROMPT, target=" Rome", method="input_x_gradient")
    np.testing.assert_allclose(both.row(0), paris.row(0) - rome.row(0), rtol=1e-3, atol=1e-4)
    assert both.foils == [" Rome"]
    assert both.target_values[0] == pytest.approx(np.log(paris.target_probs[0]) - np.log(rome.target_probs[0]), abs=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"prompt": ""}, ValueError, "text is empty"),
        ({"method": "lrp"}, ValueError, "valid methods: " + ", ".join(sorted(ATTRIBUTION_METHODS))),
        ({"contrast": " Buenos Aires"}, ValueError, "the contrast must be one token"),
        ({"target": " Paris", "generate": 2}, ValueError, "not both"),
        ({"target": 10**7}, ValueError, "out of range"),
        ({"method": "integrated_gradients", "rule": "simpson"}, ValueError, "unknown integration rule"),
        ({"method": "integrated_gradients", "baseline": "mask"}, ValueError, "baseline must be"),
    ],
)
def test_bad_input_says_what_to_do(smollm2, kwargs, error, message):
    args = {"prompt": PROMPT, "method": "input_x_gradient", **kwargs}
    with pytest.raises(error, match=message.replace("(", "\\(").replace(")", "\\)")):
        attribute(smollm2, args.pop("prompt"), **args)


def test_models_without_a_head_to_explain_say_so(minilm):
    """A bare encoder predicts nothing: the error names the kinds that work."""
    with pytest.raises(ValueError, match="loaded as a 'encoder' model: load it with kind='causal', 'masked' or"):
        attribute(minilm, "The cat sat.", method="saliency")


def test_integrated_gradients_share_passes_across_a_continuation(smollm2):
    """Every target of a continuation comes from one set of passes over the whole path; each row
    still equals Captum run on that target's own prefix."""
    from captum.attr import LayerIntegratedGradients

    ours = attribute(smollm2, PROMPT, target=" Paris, and", n_steps=20, baseline=0, batch=8)
    assert len(ours.targets) >= 3
    for i, t in enumerate(ours.target_positions):
        ids = torch.as_tensor(ours.tokens.ids[:t])[None]
        lig = LayerIntegratedGradients(forward_logprob(smollm2, int(ours.tokens.ids[t])),
                                       smollm2.model.get_input_embeddings())
        theirs = lig.attribute(ids, baselines=torch.zeros_like(ids), n_steps=20, internal_batch_size=20)
        relative_close(ours.row(i), theirs[0].sum(-1).detach().numpy())
