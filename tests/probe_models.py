"""A tiny LLaMA with a label planted at one block, for tests/test_probe.py.

Every block adds nothing to the residual stream (``o_proj`` and ``down_proj`` are zero) except
block ``k``'s attention, whose queries are zero (so each position attends uniformly to itself and
every earlier token) and which copies one embedding dimension, ``MARK``, into the same dimension.
Only the first word of a text carries that dimension (+1 for class "A"'s first words, -1 for
class "B"'s; every other token has 0 there), so the residual stream at the last token knows the
class after block ``k`` and not before: after blocks ``< k`` it is the last token's embedding.
"""

from __future__ import annotations

import numpy as np
import torch

MARK = 7
"""The embedding dimension that carries the label (of 64)."""
FIRST = {"A": ["Red", "Blue", "Green", "Black", "White", "Brown"],
         "B": ["One", "Two", "Three", "Four", "Five", "Six"]}
FILLERS = ("the cat dog house tree river stone bird road hill lake door book chair table window apple bread "
           "milk water fire wind snow rain cloud moon star sun car boat train ship horse cow sheep fish frog "
           "king queen city town field").split()
LENGTH = 6
"""Tokens per text: the first word and five fillers (a fixed length keeps the average's scale)."""


def planted_texts(n_per_class: int = 30, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n_per_class`` texts of each class: a first word of the class, then random fillers."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label, words in FIRST.items():
        for _ in range(n_per_class):
            texts.append(" ".join([str(rng.choice(words)), *rng.choice(FILLERS, LENGTH - 1)]))
            labels.append(label)
    return texts, labels


def planted_model(k: int, tokenizer, *, n_layers: int = 6):
    """The tiny LLaMA described above, with the label reaching the last token at block ``k``."""
    import llmxai_widgets as lx
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=n_layers, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=len(tokenizer), max_position_embeddings=128)
    model = LlamaForCausalLM(config).eval()
    first = {label: [tokenizer(w, add_special_tokens=False).input_ids[0] for w in words]
             for label, words in FIRST.items()}
    with torch.no_grad():
        for i, block in enumerate(model.model.layers):
            block.mlp.down_proj.weight.zero_()
            if i != k:
                block.self_attn.o_proj.weight.zero_()
        attention = model.model.layers[k].self_attn
        for proj in (attention.q_proj, attention.v_proj, attention.o_proj):
            proj.weight.zero_()
        attention.v_proj.weight[0, MARK] = 1.0  # value dimension 0 of key/value head 0 reads MARK
        attention.o_proj.weight[MARK, 0] = 1.0  # query head 0's value dimension 0 is written back to MARK
        embed = model.model.embed_tokens.weight
        embed[:, MARK] = 0.0
        embed[first["A"], MARK] = 1.0
        embed[first["B"], MARK] = -1.0
    return lx.load_model(model=model, tokenizer=tokenizer, name_or_path=f"planted-{k}"), first
