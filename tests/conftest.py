"""Shared fixtures: the real bundled models (loaded once per session) and small models from configs."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
import torch

import llmxai_widgets as lx

torch.set_num_threads(1)  # two shared cores: one thread is faster and steadier here


@pytest.fixture(scope="session")
def smollm2():
    """The bundled SmolLM2-135M-Instruct (real weights, LLaMA architecture, sdpa attention)."""
    return lx.load_model()


@pytest.fixture(scope="session")
def minilm():
    """The bundled all-MiniLM-L6-v2 encoder (real weights, BERT architecture)."""
    return lx.load_model("minilm")


@pytest.fixture(scope="session")
def tiny_gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(n_layer=3, n_head=4, n_embd=32, n_positions=64, vocab_size=49152)
    model = GPT2LMHeadModel(config)
    return lx.load_model(model=model, tokenizer=_smollm2_tokenizer(), name_or_path="tiny-gpt2")


@pytest.fixture(scope="session")
def tiny_gqa():
    """A LLaMA-architecture model with grouped-query attention (4 query heads over 2 key/value heads)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(3)
    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=49152, max_position_embeddings=128)
    model = LlamaForCausalLM(config).eval()
    return lx.load_model(model=model, tokenizer=_smollm2_tokenizer(), name_or_path="tiny-gqa")


@pytest.fixture(scope="session")
def tiny_t5():
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    config = T5Config(
        vocab_size=49152, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
        decoder_start_token_id=0,
    )
    model = T5ForConditionalGeneration(config)
    return lx.load_model(model=model, tokenizer=_smollm2_tokenizer(), name_or_path="tiny-t5")


SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def svg_texts():
    """``svg_texts(svg)``: the text of every ``<text>`` of an SVG (bytes or str), after checking
    it parses as XML and holds no ``<script>`` (every token was escaped)."""

    def texts(svg) -> list[str]:
        root = ET.fromstring(svg)
        assert not list(root.iter(f"{SVG}script"))
        return ["".join(node.itertext()) for node in root.iter(f"{SVG}text")]

    return texts


@pytest.fixture
def press_export():
    """``press_export(view, **request)``: a view's Export button as the browser presses it
    (``{"kind": "export", **request}``, answered from a thread); returns what the view sends
    back, ``(kind, content, buffers)``."""

    def press(view, /, **request):
        sent = []
        view.send_chunk = lambda kind, content, buffers=None: sent.append((kind, content, buffers or []))
        view._on_frontend_msg(view, {"kind": "export", **request}, [])
        for _ in range(600):
            if sent:
                return sent[0]
            time.sleep(0.05)
        raise AssertionError(f"no answer to the export request {request}")

    return press


def _smollm2_tokenizer():
    from transformers import AutoTokenizer

    from llmxai_widgets.models import bundled

    return AutoTokenizer.from_pretrained(bundled.smollm2_folder())
