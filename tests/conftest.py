"""Shared fixtures: the real bundled models (loaded once per session) and small models from configs."""

from __future__ import annotations

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
def tiny_t5():
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    config = T5Config(
        vocab_size=49152, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
        decoder_start_token_id=0,
    )
    model = T5ForConditionalGeneration(config)
    return lx.load_model(model=model, tokenizer=_smollm2_tokenizer(), name_or_path="tiny-t5")


def _smollm2_tokenizer():
    from transformers import AutoTokenizer

    from llmxai_widgets.models import bundled

    return AutoTokenizer.from_pretrained(bundled.smollm2_folder())
