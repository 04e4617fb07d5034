"""Faithfulness of explanations of encoders (a masked LM's prediction, a classifier's label, a
sentence pair) on the real MiniLM encoder, against one plain forward pass per perturbed text; and
a causal model's prefix-cache reuse against plain passes on a generation's later targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers

import llmxai_widgets as lx
from llmxai_widgets.methods.evaluate.curves import ranking_of, top_k
from llmxai_widgets.methods.evaluate.faithfulness import faithfulness


def _with_head(minilm, cls, **config):
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    model = cls.from_pretrained(minilm.model.config._name_or_path, **config).eval()
    return lx.load_model(model=model, tokenizer=minilm.tokenizer)


@pytest.fixture(scope="module")
def masked(minilm):
    return _with_head(minilm, transformers.BertForMaskedLM)


@pytest.fixture(scope="module")
def classifier(minilm):
    labels = {0: "negative", 1: "positive"}
    return _with_head(minilm, transformers.BertForSequenceClassification, num_labels=2, id2label=labels,
                      label2id={v: k for k, v in labels.items()})


def _plain(model, result, i, entry, mode, replacement):
    """p(target i) for a keep mask over ``entry.positions``, by one forward pass of the text built here."""
    ids = [int(x) for x in result.tokens.ids]
    types = result.tokens.segments
    label = result.target_ids[i]

    def p(keep):
        dropped = {pos for pos, k in zip(entry.positions, keep) if not k}
        if mode == "replace":
            seq = [replacement if j in dropped else x for j, x in enumerate(ids)]
            kinds = None if types is None else list(types)
            at = result.target_positions[i]
        else:
            stay = [j for j in range(len(ids)) if j not in dropped]
            seq = [ids[j] for j in stay]
            kinds = None if types is None else [int(types[j]) for j in stay]
            at = stay.index(result.target_positions[i]) if result.kind == "masked" else None
        kwargs = {} if kinds is None else {"token_type_ids": torch.as_tensor(kinds)[None]}
        with torch.no_grad():
            logits = model.model(input_ids=torch.as_tensor(seq)[None], **kwargs).logits[0]
        row = logits if result.kind == "classifier" else logits[at]
        return float(torch.softmax(row.double(), -1)[label])

    return p


def _check(model, result, mode):
    f = faithfulness(model, result, bins=[0.2, 0.5], mode=mode, random_samples=1)
    replacement = None if f.replacement is None else model.tokenizer.convert_tokens_to_ids(f.replacement)
    assert len(f.targets) == len(result.targets)
    for i, entry in enumerate(f.targets):
        special = np.asarray(result.tokens.special, bool)
        row = result.row(i)
        assert entry.positions == [j for j in range(len(row)) if np.isfinite(row[j]) and not special[j]]
        p = _plain(model, result, i, entry, mode, replacement)
        n = len(entry.positions)
        assert entry.full == pytest.approx(p(np.ones(n, bool)), abs=1e-4)
        order = ranking_of(row[entry.positions])
        for b, fraction in enumerate(f.bins):
            keep = np.ones(n, bool)
            keep[order[: top_k(fraction, n)]] = False
            assert entry.explanation.comprehensiveness[b] == pytest.approx(entry.full - p(keep), abs=1e-4)
            assert entry.explanation.sufficiency[b] == pytest.approx(entry.full - p(~keep), abs=1e-4)
        for j in range(n):
            keep = np.ones(n, bool)
            keep[j] = False
            assert entry.loo_scores[j] == pytest.approx(entry.full - p(keep), abs=1e-4)
        # the deletion curve ends with every scored token gone: what is left are the special tokens
        assert entry.explanation.deletion[-1] == pytest.approx(p(np.zeros(n, bool)), abs=1e-4)
    return f


def test_faithfulness_of_a_masked_lm_equals_plain_passes(masked):
    result = lx.attribute(masked, "Paris is the [MASK] of France.", method="input_x_gradient")
    assert result.kind == "masked"
    mask = result.target_positions[0]
    for mode in ("remove", "replace"):
        f = _check(masked, result, mode)
        assert mask not in f.targets[0].positions  # the mask token always stays
    assert f.replacement == "[UNK]"


def test_faithfulness_of_a_classifier_and_a_sentence_pair_equals_plain_passes(classifier):
    result = lx.attribute(classifier, "The film was wonderful, I loved it.", method="occlusion")
    assert result.kind == "classifier"
    _check(classifier, result, "remove")
    pair = lx.attribute(classifier, "A man is playing a guitar.", text_pair="Someone plays music.", method="saliency")
    assert set(np.asarray(pair.tokens.segments).tolist()) == {0, 1}
    for mode in ("remove", "replace"):
        _check(classifier, pair, mode)


def test_causal_prefix_reuse_equals_plain_passes_on_later_targets(smollm2):
    """Targets after the first of a generation see the tokens generated before them; their
    perturbed texts share long prefixes with the whole text (the runner reuses its cache)."""
    result = lx.attribute(smollm2, "The capital of France is", generate=3, method="saliency")
    f = faithfulness(smollm2, result, bins=[0.3], random_samples=1)
    ids = [int(x) for x in result.tokens.ids]
    for i, entry in enumerate(f.targets):
        t = result.target_positions[i]
        assert entry.positions == list(range(t))
        for j in range(t):
            seq = ids[:j] + ids[j + 1: t]
            with torch.no_grad():
                logits = smollm2.model(torch.as_tensor(seq)[None]).logits[0, -1]
            drop = entry.full - float(torch.softmax(logits.double(), -1)[ids[t]])
            assert entry.loo_scores[j] == pytest.approx(drop, abs=1e-4)
