"""bertviz users switch by changing an import: same arguments, our views."""

import numpy as np
import pytest
import torch

import llmxai_widgets as lx
from llmxai_widgets.wire import decode


def eager_outputs(model, text, text_pair=None):
    enc = model.tokenizer(text, text_pair, return_tensors="pt")
    before = model.config._attn_implementation
    model.model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = model.model(**enc, output_attentions=True)
    finally:
        model.model.set_attn_implementation(before)
    return out.attentions, model.tokenizer.convert_ids_to_tokens(enc["input_ids"][0]), enc


def test_model_view_takes_bertviz_arguments(smollm2):
    attention, tokens, _ = eager_outputs(smollm2, "The quick brown fox jumps")
    view = lx.model_view(attention, tokens)
    assert view.mode == "model" and view.n_layers == 30 and view.n_heads == 9
    assert view.tokens[1] == " quick"  # GPT-2 style "Ġquick" prettified like bertviz does
    assert view.causal
    np.testing.assert_allclose(decode(view.pattern), attention[0][0, 0].numpy(), atol=view.pattern["scale"])


def test_head_view_with_a_sentence_pair(minilm):
    attention, tokens, enc = eager_outputs(minilm, "The cat sat.", "It was tired.")
    sentence_b_start = int(enc["token_type_ids"][0].tolist().index(1))
    view = lx.head_view(attention, tokens, sentence_b_start, layer=2, heads=[5])
    assert (view.layer, view.head, view.mode) == (2, 5, "head")  # bertviz's head view: lines per head
    assert view.headview["layer"] == 2 and view.headview["shape"] == [12, len(tokens), len(tokens)]
    assert not view.causal
    assert view.segments[sentence_b_start - 1] == 0 and view.segments[sentence_b_start] == 1
    assert view.tokens[0] == "[CLS]"
    np.testing.assert_allclose(decode(view.pattern), attention[2][0, 5].numpy(), atol=view.pattern["scale"])


def test_include_layers_and_decoder_attention(smollm2):
    attention, tokens, _ = eager_outputs(smollm2, "one two three")
    view = lx.model_view(decoder_attention=attention, decoder_tokens=tokens, include_layers=[4, 9])
    assert view.available_layers == [4, 9] and view.layer == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "pass attention="),
        ({"attention": (), "tokens": []}, "attention is empty"),
        ({"attention": (torch.zeros(2, 1, 3, 3),), "tokens": ["a", "b", "c"]}, "batch size 2"),
        ({"attention": (torch.zeros(1, 1, 3, 3),), "tokens": ["a", "b"]}, "covers 3 x 3 tokens but 2"),
        ({"cross_attention": (torch.zeros(1, 1, 3, 3),)}, "needs encoder_tokens="),
        ({"cross_attention": (torch.zeros(1, 1, 2, 3),), "encoder_tokens": list("abc"), "decoder_tokens": list("abc")},
         "covers 2 x 3 tokens but 3 x 3"),
    ],
)
def test_bad_arguments_say_what_to_pass(kwargs, message):
    with pytest.raises((ValueError, NotImplementedError), match=message):
        lx.model_view(**kwargs)


def test_encoder_decoder_arguments_open_every_attention_given(tiny_t5):
    enc = tiny_t5.tokenizer("The house is big.", return_tensors="pt").input_ids
    dec = torch.tensor([[0] + tiny_t5.tokenizer("Das Haus", add_special_tokens=False).input_ids])
    tiny_t5.model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = tiny_t5.model(input_ids=enc, decoder_input_ids=dec, output_attentions=True)
    finally:
        tiny_t5.model.set_attn_implementation("sdpa")
    names = lambda ids: tiny_t5.tokenizer.convert_ids_to_tokens(ids[0])  # noqa: E731
    view = lx.head_view(encoder_attention=out.encoder_attentions, decoder_attention=out.decoder_attentions,
                        cross_attention=out.cross_attentions, encoder_tokens=names(enc), decoder_tokens=names(dec))
    assert view.parts == ["encoder", "decoder", "cross"] and view.part == "cross" and view.mode == "head"
    assert len(view.tokens) == dec.shape[1] and len(view.key_tokens) == enc.shape[1]
    assert view.headview["shape"] == [4, dec.shape[1], enc.shape[1]]
    np.testing.assert_allclose(decode(view.pattern), out.cross_attentions[0][0, 0].numpy(), atol=view.pattern["scale"])
    view.part = "decoder"
    assert view.causal and view.key_tokens == []
    np.testing.assert_allclose(decode(view.pattern), out.decoder_attentions[0][0, 0].numpy(), atol=view.pattern["scale"])
