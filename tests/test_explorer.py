"""Linked views (lx.link) and the Explorer, in Python: the token in focus moves every view, each
view then shows what an independent computation says about that token; bad input is refused
with the fix named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import llmxai_widgets as lx
from llmxai_widgets.widgets.attention_jobs import attention_received
from llmxai_widgets.widgets.explorer import chat_text, turn_roles

TEXT = "The capital of France is Paris. The capital of Italy is"


def direct_logits(model, text):
    ids = torch.as_tensor(model.tokenize(text).ids)[None]
    with torch.no_grad():
        return model.model(input_ids=ids).logits[0].float()


def test_attention_received_is_each_heads_mean_weight_from_the_queries_that_read_a_token(smollm2):
    result = lx.attention(smollm2, TEXT)
    reads = attention_received(result)
    n = len(result.tokens)
    assert reads.shape == (len(result.layers), smollm2.n_heads, n)
    for layer, head in [(0, 0), (17, 3), (29, 8)]:
        weights = result.head(layer, head)
        expected = [weights[k:, k].mean() for k in range(n)]  # a causal key is read by itself and later tokens
        np.testing.assert_allclose(reads[result.layers.index(layer), head], expected, rtol=1e-5, atol=1e-6)


def test_every_token_attribution_equals_one_attribution_per_prefix(smollm2):
    every = lx.attribute(smollm2, "The capital of France is Paris", every_token=True, method="input_x_gradient")
    assert every.target_positions == [1, 2, 3, 4, 5] and every.n_prompt == 1
    assert every.targets[-1] == " Paris"
    alone = lx.attribute(smollm2, "The capital of France is", target=" Paris", method="input_x_gradient")
    np.testing.assert_allclose(every.row(4)[:5], alone.row(0)[:5], rtol=1e-3, atol=1e-4)
    assert every.target_probs[4] == pytest.approx(alone.target_probs[0], rel=1e-4)
    with pytest.raises(ValueError, match="leave out target= and generate="):
        lx.attribute(smollm2, "The capital", target=" of", every_token=True)
    with pytest.raises(ValueError, match="two or more tokens"):
        lx.attribute(smollm2, "The", every_token=True)


def test_link_moves_every_view_to_the_token_and_each_shows_it(smollm2):
    lens = lx.LogitLensView(smollm2, TEXT, background=False)
    attribution = lx.AttributionView(smollm2, TEXT, every_token=True, method="input_x_gradient", background=False)
    contributions = lx.ContributionView(smollm2, TEXT, background=False)
    link = lx.link(lens, attribution, contributions)
    assert lens.link_group == attribution.link_group == contributions.link_group != ""
    position = 4  # " is": the model predicts the next token after it
    lens.focus = position
    assert attribution.focus == contributions.focus == position
    logits = direct_logits(smollm2, TEXT)
    # the lens shows that column; its last layer is the model's own prediction there
    assert lens.selected == position
    final = lens.result.top_ids[-1, list(lens.result.positions).index(position), 0]
    assert int(final) == int(logits[position].argmax())
    # the attribution view shows the row explaining the token at that position
    assert attribution.targets[attribution.selected] == position
    # the contributions view explains the prediction after that token: its logit is the model's
    assert contributions.position == position
    assert contributions.result.logit == pytest.approx(float(logits[position].max()), abs=2e-3)
    # a view moved in Python moves the others; unlink separates them
    attribution.focus = 7
    assert lens.focus == contributions.focus == 7
    link.unlink()
    lens.focus = 2
    assert attribution.focus == 7 and lens.link_group == ""


def test_link_refuses_what_cannot_be_linked(smollm2):
    a = lx.LogitLensView(smollm2, TEXT, background=False)
    b = lx.ContributionView(smollm2, "The capital of Spain is", background=False)
    with pytest.raises(ValueError, match=r"different texts: token 3 is ' France' .* ' Spain'"):
        lx.link(a, b)
    with pytest.raises(ValueError, match="two or more views"):
        lx.link(a)
    with pytest.raises(TypeError, match="links llmxai_widgets views"):
        lx.link(a, "not a view")
    with pytest.raises(ValueError, match="same view twice"):
        lx.link(a, a)
    with pytest.raises(Exception, match=r"focus must be a token position from 0 to 11"):
        a.focus = 12
    assert a.focus == -1 and "focus must be" in a.error


def test_explorer_opens_views_lazily_and_every_one_follows_the_strip(smollm2):
    explorer = lx.Explorer(smollm2, TEXT, background=False)
    assert [tab for tab, _ in explorer.strip.tabs] == list(lx.Explorer.VIEWS)
    assert explorer.strip.opened == ["attention"] and explorer.children[1] is explorer.view("attention")
    explorer.focus = 3
    explorer.strip.tab = "neurons"  # as a click on the tab does
    assert explorer.children[1] is explorer.view("neurons") and explorer.view("neurons").focus == 3
    assert explorer.strip.opened == ["attention", "neurons"]
    late = explorer.view("contributions")  # made after the token was chosen: starts there
    assert late.focus == 3 and late.position == 3
    explorer.focus = 6
    assert all(v.focus == 6 for v in explorer._views.values())
    attention = explorer.view("attention")
    assert attention.reads and attention.reads["shape"] == [30, smollm2.n_heads, len(explorer.strip.tokens)]
    with pytest.raises(ValueError, match="this explorer has the views"):
        explorer.view("circuits")
    with pytest.raises(Exception, match="tab must be one of"):
        explorer.strip.tab = "nope"


def test_explorer_reads_a_chat_through_the_template_and_labels_the_turns(smollm2):
    messages = [{"role": "user", "content": "Hi <b>there</b>"}, {"role": "assistant", "content": "Hello!"}]
    text = chat_text(smollm2, messages)
    assert text == smollm2.tokenizer.apply_chat_template(messages, tokenize=False)
    explorer = lx.Explorer(smollm2, messages, views=("logit_lens",), background=False)
    strip = explorer.strip
    assert strip.roles == ["system", "user", "assistant"]  # SmolLM2's template adds a system turn
    starts = [i for i, tok in enumerate(strip.tokens) if tok == "<|im_start|>"]
    assert [strip.turns[i] for i in starts] == [0, 1, 2] and all(strip.special[i] for i in starts)
    assert "<b>" in "".join(strip.tokens)  # the text as text
    assert turn_roles(["a", "b"], [False, False], [0, 0]) == ["turn 1"]


def test_explorer_says_what_is_wrong(smollm2, tiny_gpt2, minilm):
    with pytest.raises(ValueError, match="views must name some of"):
        lx.Explorer(smollm2, TEXT, views=("attention", "circuits"))
    with pytest.raises(ValueError, match="messages must be a non-empty list"):
        lx.Explorer(smollm2, [])
    with pytest.raises(ValueError, match="message 0 must be a dict with 'role' and 'content'"):
        lx.Explorer(smollm2, [{"role": "user"}])
    tiny_gpt2.tokenizer.chat_template, saved = None, tiny_gpt2.tokenizer.chat_template
    try:
        with pytest.raises(ValueError, match="has no chat template.*pass the text as one string"):
            lx.Explorer(tiny_gpt2, [{"role": "user", "content": "hi"}])
    finally:
        tiny_gpt2.tokenizer.chat_template = saved
    with pytest.raises(ValueError, match="causal LM"):
        lx.Explorer(minilm, "a sentence")
    with pytest.raises(TypeError, match="load_model"):
        lx.Explorer("smollm2", TEXT)
