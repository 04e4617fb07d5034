"""Attribution for a sequence classifier's label and a masked LM's prediction, on the real
MiniLM encoder (all-MiniLM-L6-v2 weights) with a classification head / MLM head initialised from
a fixed seed, against Captum and independent loops of transformers forward passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers

import llmxai_widgets as lx
from llmxai_widgets.methods.attribution import ATTRIBUTION_METHODS, attribute

REVIEW = "The film was wonderful, I loved it."
FILL = "Paris is the [MASK] of France."


def _with_head(minilm, cls, **config):
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    model = cls.from_pretrained(minilm.model.config._name_or_path, **config).eval()
    return lx.load_model(model=model, tokenizer=minilm.tokenizer)


@pytest.fixture(scope="module")
def classifier(minilm):
    labels = {0: "negative", 1: "neutral", 2: "positive"}
    return _with_head(minilm, transformers.BertForSequenceClassification, num_labels=3, id2label=labels,
                      label2id={v: k for k, v in labels.items()})


@pytest.fixture(scope="module")
def masked(minilm):
    return _with_head(minilm, transformers.BertForMaskedLM)


def relative_close(ours, theirs, tol=1e-3):
    assert np.abs(ours - theirs).max() <= tol * np.abs(theirs).max(), (ours, theirs)


def class_logprob(model, label, types=None):
    def f(ids):
        kwargs = {} if types is None else {"token_type_ids": types.expand(len(ids), -1)}
        return torch.log_softmax(model.model(input_ids=ids, **kwargs).logits.float(), dim=-1)[:, label]
    return f


def mask_logprob(model, position, token):
    def f(ids):
        return torch.log_softmax(model.model(input_ids=ids).logits[:, position].float(), dim=-1)[:, token]
    return f


def test_classifier_explains_the_predicted_label_and_integrated_gradients_equal_captum(classifier):
    from captum.attr import LayerIntegratedGradients

    ids = torch.as_tensor(classifier.tokenize(REVIEW).ids)[None]
    with torch.no_grad():
        logits = classifier.model(input_ids=ids).logits[0]
    predicted = int(logits.argmax())
    ours = attribute(classifier, REVIEW, method="integrated_gradients", n_steps=50, baseline=0)
    assert ours.kind == "classifier" and ours.target_positions == [-1]
    assert ours.targets == [classifier.model.config.id2label[predicted]]
    assert ours.target_probs[0] == pytest.approx(float(torch.softmax(logits, -1)[predicted]), abs=1e-5)
    lig = LayerIntegratedGradients(class_logprob(classifier, predicted), classifier.model.get_input_embeddings())
    theirs = lig.attribute(ids, baselines=torch.zeros_like(ids), n_steps=50, internal_batch_size=25)
    relative_close(ours.row(0), theirs[0].sum(-1).detach().numpy())
    assert len(ours.row(0)) == ids.shape[1] and not np.isnan(ours.row(0)).any()  # every token, both sides


def test_classifier_label_by_name_contrast_and_bad_labels(classifier):
    pos = attribute(classifier, REVIEW, target="positive", method="input_x_gradient")
    both = attribute(classifier, REVIEW, target="positive", contrast="negative", method="input_x_gradient")
    neg = attribute(classifier, REVIEW, target=0, method="input_x_gradient")
    assert pos.targets == ["positive"] and neg.targets == ["negative"] and both.foils == ["negative"]
    np.testing.assert_allclose(both.row(0), pos.row(0) - neg.row(0), atol=1e-6)
    with pytest.raises(ValueError, match=r"no label 'great'; its labels: 0 \('negative'\), 1 \('neutral'\)"):
        attribute(classifier, REVIEW, target="great", method="saliency")
    with pytest.raises(ValueError, match="generate= needs a causal language model"):
        attribute(classifier, REVIEW, generate=3, method="saliency")
    with pytest.raises(ValueError, match="norm_attention reads each head's values from v_proj"):
        attribute(classifier, REVIEW, method="norm_attention")


@pytest.mark.parametrize("mode", ["replace", "remove"])
def test_classifier_occlusion_on_a_pair_equals_a_loop(classifier, mode):
    """Sentence pair: token type ids travel with every perturbed copy (and are cut with it)."""
    a, b = "A man is playing a guitar.", "Someone plays music."
    ours = attribute(classifier, a, text_pair=b, target="neutral", method="occlusion", mode=mode, batch=5)
    enc = classifier.tokenizer(a, b, return_tensors="pt")
    ids, types = enc["input_ids"][0], enc["token_type_ids"][0]
    assert types.max() == 1
    f = lambda i, t: float(class_logprob(classifier, 1, t[None])(i[None])[0])  # noqa: E731
    with torch.no_grad():
        full = f(ids, types)
        want = []
        for j in range(len(ids)):
            if mode == "replace":
                pert = ids.clone()
                pert[j] = classifier.tokenizer.pad_token_id
                want.append(full - f(pert, types))
            else:
                keep = [k for k in range(len(ids)) if k != j]
                want.append(full - f(ids[keep], types[keep]))
    np.testing.assert_allclose(ours.row(0), want, atol=2e-4)


def test_masked_lm_integrated_gradients_and_input_x_gradient_equal_captum(masked):
    from captum.attr import LayerGradientXActivation, LayerIntegratedGradients

    ids = torch.as_tensor(masked.tokenize(FILL).ids)[None]
    m = int((ids[0] == masked.tokenizer.mask_token_id).nonzero()[0, 0])
    with torch.no_grad():
        top = int(masked.model(input_ids=ids).logits[0, m].argmax())
    ours = attribute(masked, FILL, method="integrated_gradients", n_steps=50, baseline=0)
    assert ours.kind == "masked" and ours.target_positions == [m]
    assert ours.targets == [masked.tokenizer.decode([top])]
    base = torch.zeros_like(ids)
    base[0, m] = ids[0, m]  # the mask stays a mask along the path
    emb = masked.model.get_input_embeddings()
    theirs = LayerIntegratedGradients(mask_logprob(masked, m, top), emb).attribute(
        ids, baselines=base, n_steps=50, internal_batch_size=25)[0].sum(-1).detach().numpy()
    row = ours.row(0)
    assert np.isnan(row[m]) and abs(theirs[m]) < 1e-9
    keep = np.arange(len(row)) != m
    relative_close(row[keep], theirs[keep])
    ixg = attribute(masked, FILL, target=" capital", method="input_x_gradient")
    cap = masked.tokenizer(" capital", add_special_tokens=False)["input_ids"][0]
    theirs = LayerGradientXActivation(mask_logprob(masked, m, cap), emb).attribute(ids)[0].sum(-1).detach().numpy()
    relative_close(ixg.row(0)[keep], theirs[keep])


def test_masked_lm_occlusion_skips_the_mask_and_equals_a_loop(masked):
    ours = attribute(masked, FILL, target="capital", method="occlusion")
    ids = torch.as_tensor(masked.tokenize(FILL).ids)
    m = int((ids == masked.tokenizer.mask_token_id).nonzero()[0, 0])
    tok = masked.tokenizer.convert_tokens_to_ids("capital")
    f = mask_logprob(masked, m, tok)
    with torch.no_grad():
        full = float(f(ids[None])[0])
        for j in range(len(ids)):
            if j == m:
                assert np.isnan(ours.row(0)[j])
                continue
            pert = ids.clone()
            pert[j] = masked.tokenizer.pad_token_id
            assert ours.row(0)[j] == pytest.approx(full - float(f(pert[None])[0]), abs=2e-4)


def test_masked_lm_two_masks_and_errors(masked):
    two = "The [MASK] sat on the [MASK]."
    r = attribute(masked, two, target=[None, "mat"], method="saliency")
    assert len(r.targets) == 2 and r.targets[1] == "mat"
    assert np.isnan(r.scores[:, r.target_positions]).all()
    with pytest.raises(ValueError, match="has 2 mask tokens: give target= as a list of 2 tokens"):
        attribute(masked, two, target="mat", method="saliency")
    with pytest.raises(ValueError, match=r"no mask token: write \[MASK\] where the model should fill in"):
        attribute(masked, "Paris is the capital of France.", method="saliency")
    with pytest.raises(ValueError, match="fills one token per mask; the target 'capital city' is 2 tokens"):
        attribute(masked, FILL, target="capital city", method="saliency")


@pytest.mark.parametrize("method", sorted(set(ATTRIBUTION_METHODS) - {"norm_attention"}))
def test_every_method_explains_encoders(classifier, masked, method):
    """Every method fits both heads: finite scores on every token the target sees."""
    opts = {"n_samples": 8} if method in ("shapley_sampling", "kernel_shap", "lime", "gradient_shap") else {}
    if method == "integrated_gradients":
        opts = {"n_steps": 8}
    for model, text in ((classifier, "Great fun."), (masked, "Great [MASK].")):
        r = attribute(model, text, method=method, **opts)
        fixed = set(r.target_positions) - {-1}
        seen = [j for j in range(len(r.tokens)) if j not in fixed]
        assert np.isfinite(r.scores[0, seen]).all(), (method, r.scores)


def test_views_of_encoder_targets_name_them_and_keep_word_spaces(classifier, masked, tmp_path):
    from llmxai_widgets.figures.attribution import space_before

    view = lx.AttributionView(classifier, "I loved this film.", text_pair="Great.", target="positive",
                              method="input_x_gradient", background=False)
    assert view.kind == "classifier" and view.target_labels == ["positive"] and view.targets == [-1]
    tokens = view.result.tokens
    # [CLS] I loved this film . [SEP] Great . [SEP]: BERT's tokens carry no spaces; the view adds them
    assert view.space_before == space_before(tokens) == [False, False, True, True, True, False, False, True, False,
                                                         False]
    fig = view.figure()
    assert "label: 'positive' (p = " in fig.texts[0]
    two = lx.AttributionView(masked, "The [MASK] sat on the [MASK].", target=[None, "mat"], method="saliency",
                             background=False)
    assert two.kind == "masked" and two.target_labels[1] == "mat" and two.targets == two.result.target_positions
    matrix = two.figure("matrix")
    assert "mat" in matrix.texts and "[MASK]" in matrix.texts
    assert two.save(tmp_path / "m.svg").stat().st_size > 500
