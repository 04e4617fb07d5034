"""Attention weights against transformers' own eager ``output_attentions``."""

import numpy as np
import pytest
import torch

import llmxai_widgets as lx
from llmxai_widgets.methods import Cancelled

TEXT = "The quick brown fox jumps over the lazy dog. The quick brown fox"


def eager_attentions(model, ids, **inputs):
    """Reference: the model's own eager attention weights, all layers."""
    before = model.config._attn_implementation
    model.model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = model.model(input_ids=ids, output_attentions=True, **inputs)
    finally:
        model.model.set_attn_implementation(before)
    attentions = getattr(out, "decoder_attentions", None) or out.attentions
    return np.stack([a[0].numpy() for a in attentions])


@pytest.mark.parametrize("fixture", ["smollm2", "minilm", "tiny_gpt2"])
def test_matches_eager_output_attentions(request, fixture):
    model = request.getfixturevalue(fixture)
    result = lx.attention(model, TEXT)
    ids = torch.as_tensor(result.tokens.ids)[None]
    expected = eager_attentions(model, ids)
    assert result.pattern.shape == expected.shape == (model.n_layers, model.n_heads, len(ids[0]), len(ids[0]))
    np.testing.assert_allclose(result.pattern, expected, atol=1e-5)
    np.testing.assert_allclose(result.pattern.sum(-1), 1.0, atol=1e-5)
    assert result.complete and result.layers == list(range(model.n_layers))


def seq2seq_reference(model, parts):
    """Eager encoder, decoder and cross attentions of the same encoder and decoder ids."""
    enc = torch.as_tensor(parts["cross"].keys.ids)[None]
    dec = torch.as_tensor(parts["cross"].tokens.ids)[None]
    before = model.config._attn_implementation
    model.model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = model.model(input_ids=enc, decoder_input_ids=dec, output_attentions=True)
    finally:
        model.model.set_attn_implementation(before)
    stack = lambda attentions: np.stack([a[0].numpy() for a in attentions])  # noqa: E731
    return {"encoder": stack(out.encoder_attentions), "decoder": stack(out.decoder_attentions),
            "cross": stack(out.cross_attentions)}


def tiny_bart():
    from transformers import BartConfig, BartForConditionalGeneration

    from llmxai_widgets.models import bundled
    from transformers import AutoTokenizer

    torch.manual_seed(0)
    config = BartConfig(vocab_size=49152, d_model=32, encoder_layers=2, decoder_layers=3, encoder_attention_heads=4,
                        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
                        decoder_start_token_id=2, pad_token_id=1, bos_token_id=0, eos_token_id=2)
    tokenizer = AutoTokenizer.from_pretrained(bundled.smollm2_folder())
    return lx.load_model(model=BartForConditionalGeneration(config), tokenizer=tokenizer, name_or_path="tiny-bart")


@pytest.mark.parametrize("which", ["t5", "bart"])
def test_encoder_decoder_parts_match_eager(tiny_t5, which):
    """T5 is recorded through the SDPA capture, BART (not covered) runs eager: all three parts
    (encoder, decoder, cross) equal the model's own output_attentions of the same ids."""
    model = tiny_t5 if which == "t5" else tiny_bart()
    parts = lx.encoder_decoder_attention(model, TEXT, "Der schnelle braune Fuchs springt")
    reference = seq2seq_reference(model, parts)
    for name in ("encoder", "decoder", "cross"):
        assert parts[name].pattern.shape == reference[name].shape, name
        np.testing.assert_allclose(parts[name].pattern, reference[name], atol=1e-5, err_msg=name)
        assert parts[name].complete and parts[name].part == name
    cross = parts["cross"]
    assert cross.pattern.shape[-2:] == (len(cross.tokens), len(cross.keys))
    assert cross.keys.text == parts["encoder"].tokens.text and cross.tokens.text == parts["decoder"].tokens.text
    assert parts["decoder"].causal and not cross.causal and not parts["encoder"].causal
    # the decoder reads its start token, then the target's tokens
    assert cross.tokens.ids[0] == model.config.decoder_start_token_id
    assert "".join(cross.tokens.text[1:]) == "Der schnelle braune Fuchs springt"


def test_cross_attention_is_the_default_part_and_follows_a_generation(tiny_t5):
    result = lx.attention(tiny_t5, "Hello world, how are you?", max_new_tokens=6)
    assert result.part == "cross" and result.complete
    with torch.no_grad():
        generated = tiny_t5.model.generate(
            input_ids=torch.as_tensor(result.keys.ids)[None], max_new_tokens=6, do_sample=False
        )[0].tolist()
    assert list(result.tokens.ids) == generated[: len(result.tokens)]
    assert len(result.tokens) in (len(generated), len(generated) - 1)  # a final EOS is not read
    assert result.pattern.shape == (2, 4, len(result.tokens), len(result.keys))
    np.testing.assert_allclose(result.pattern.sum(-1), 1.0, atol=1e-5)
    encoder_only = lx.attention(tiny_t5, "Hello world", target="Hallo", part="encoder", layers=[1])
    assert encoder_only.layers == [1] and encoder_only.pattern.shape[-1] == len(encoder_only.tokens)


def test_part_and_target_errors_name_the_fix(tiny_t5, tiny_gpt2):
    with pytest.raises(ValueError, match="part must be one of 'encoder', 'decoder', 'cross'"):
        lx.attention(tiny_t5, "Hello", target="Hallo", part="decoder_self")
    with pytest.raises(ValueError, match="leave part out"):
        lx.attention(tiny_gpt2, "Hello", part="cross")
    with pytest.raises(ValueError, match="put the whole text in text"):
        lx.attention(tiny_gpt2, "Hello", target="world")
    with pytest.raises(ValueError, match="not an encoder-decoder"):
        lx.encoder_decoder_attention(tiny_gpt2, "Hello", "world")
    with pytest.raises(ValueError, match="rollout follows self-attention"):
        from llmxai_widgets.methods.attention_views import aggregate

        aggregate(lx.attention(tiny_t5, "Hello", target="Hallo"), 1, "rollout")


@pytest.mark.parametrize("method", ["auto", "eager"])
def test_smollm2_loaded_with_eager_attention_gives_the_same_weights(smollm2, method):
    """The bundled model loaded with attn_implementation="eager" (not the default sdpa)."""
    from transformers import AutoModelForCausalLM

    from llmxai_widgets.models import bundled

    eager_model = AutoModelForCausalLM.from_pretrained(bundled.smollm2_folder(), attn_implementation="eager")
    wrapped = lx.load_model(model=eager_model, tokenizer=smollm2.tokenizer)
    result = lx.attention(wrapped, TEXT, method=method)
    ids = torch.as_tensor(result.tokens.ids)[None]
    with torch.no_grad():
        expected = np.stack([a[0].numpy() for a in eager_model(ids, output_attentions=True).attentions])
    np.testing.assert_allclose(result.pattern, expected, atol=1e-5)
    assert wrapped.config._attn_implementation == "eager"


def test_recorded_queries_and_keys_are_far_smaller_than_the_weights(smollm2):
    text = " ".join(f"word{i}" for i in range(300))
    result = lx.attention(smollm2, text)
    n = len(result.tokens)
    all_weights = 30 * 9 * n * n * 4
    assert result.nbytes < all_weights / 10, (result.nbytes, all_weights)
    eager = lx.attention(smollm2, text, layers=[7], method="eager")
    np.testing.assert_allclose(result.head(7, 5), eager.head(7, 5), atol=1e-5)


def test_unknown_method_is_refused(smollm2):
    with pytest.raises(ValueError, match="method must be 'auto' or 'eager'"):
        lx.attention(smollm2, TEXT, method="magic")


def test_smollm2_keeps_its_fast_attention_afterwards(smollm2):
    assert smollm2.config._attn_implementation == "sdpa"
    lx.attention(smollm2, "short")
    assert smollm2.config._attn_implementation == "sdpa"


def test_causal_mask_and_grouped_heads(smollm2):
    result = lx.attention(smollm2, TEXT, layers=[2, 0])
    assert result.layers == [0, 2]
    upper = np.triu(np.ones(result.pattern.shape[-2:], bool), k=1)
    assert np.all(result.pattern[..., upper] == 0)
    assert result.kv_group.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    np.testing.assert_array_equal(result.layer(2), lx.attention(smollm2, TEXT, layers=2).pattern[0])
    with pytest.raises(IndexError, match="layer 5 is not in this result"):
        result.layer(5)


def test_streams_each_layer_in_order_and_cancel_keeps_finished_layers(smollm2):
    seen = []
    hooks_before = len(smollm2.attention_module(3)._forward_hooks)

    def on_layer(layer, partial):
        seen.append(layer)
        assert partial.head(layer, 8).shape == (5, 5)  # usable as soon as the layer is done
        if layer == 3:
            raise Cancelled

    result = lx.attention(smollm2, "one two three four five", on_layer=on_layer)
    assert seen == [0, 1, 2, 3]
    assert not result.complete and result.layers == [0, 1, 2, 3]
    full = lx.attention(smollm2, "one two three four five", layers=[0, 1, 2, 3])
    np.testing.assert_array_equal(result.pattern, full.pattern)
    assert len(smollm2.attention_module(3)._forward_hooks) == hooks_before


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"text": ""}, ValueError, "text is empty"),
        ({"text": 3.5}, TypeError, "text must be a string"),
        ({"text": "ok", "layers": [30]}, IndexError, "layer 30 is out of range: smollm2 has 30 layers, numbered 0-29"),
        ({"text": "ok", "layers": [-1]}, IndexError, "out of range"),
        ({"text": "ok", "layers": []}, ValueError, "layers is empty"),
        ({"text": "ok", "layers": ["3"]}, TypeError, "layer must be an integer"),
    ],
)
def test_bad_input_is_refused_clearly(smollm2, kwargs, error, message):
    with pytest.raises(error, match=message):
        lx.attention(smollm2, **kwargs)


def test_text_longer_than_the_model_says_the_limit(tiny_gpt2):
    with pytest.raises(ValueError, match=r"accepts at most 64; shorten the text \(for example text\[:"):
        lx.attention(tiny_gpt2, "word " * 100)


def test_sentence_pair_uses_segment_ids_like_the_model(minilm):
    result = lx.attention(minilm, minilm.tokenize("The cat sat.", "It was tired."))
    enc = minilm.tokenizer("The cat sat.", "It was tired.", return_tensors="pt")
    expected = eager_attentions(minilm, enc["input_ids"], token_type_ids=enc["token_type_ids"])
    np.testing.assert_allclose(result.pattern, expected, atol=1e-5)
    assert result.tokens.segments.tolist() == enc["token_type_ids"][0].tolist()


def test_two_threads_take_turns_with_the_model(smollm2):
    """A view computing in the background and a cell calling a method at the same time: each
    gets every layer (the attention implementation is switched per pass, under the model's lock)."""
    import threading

    results = {}

    def run(name, text):
        results[name] = lx.attention(smollm2, text)

    threads = [threading.Thread(target=run, args=(i, f"{TEXT} {i}")) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(3):
        assert results[i].complete and results[i].layers == list(range(30))
    assert smollm2.config._attn_implementation == "sdpa"
