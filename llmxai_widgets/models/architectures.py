"""Where each architecture keeps the parts our methods read, as data.

Paths are dotted module names relative to ``model.base_model`` (so ``BertModel`` and
``BertForSequenceClassification`` share one entry). Embeddings and unembedding come from
transformers' generic ``get_input_embeddings()`` / ``get_output_embeddings()``.

- ``layer_stacks``: the stacks of transformer blocks ({"decoder": "layers"}; encoder-decoders
  have two).
- ``attention``: the attention module inside a block (self-attention).
- ``cross_attention``: the decoder block's attention over the encoder output (encoder-decoders).
- ``mlp_activation``: ``(module, "input" | "output")`` whose captured tensor is the MLP hidden
  activation after the non-linearity (for gated LLaMA units: ``act(gate) * up``, the input of
  ``down_proj``).
- ``final_norm``: the norm applied before unembedding, or ``None``.
- ``attention_weights_index``: where the attention module's output tuple holds its weights
  (eager attention).

Direct logit attribution and the logit lens also need (None where not known or not linear):

- ``attention_output``: the attention's output projection inside a block; its input holds the
  heads side by side (``[token, head * head_dim]``) and its output is what the block adds to the
  residual stream (LLaMA ``self_attn.o_proj``, GPT-2 ``attn.c_proj``).
- ``mlp_output``: the module inside a block whose output the block adds to the residual stream.
- ``final_norm_kind``: "rms" (divide by the root mean square) or "layer" (centre, divide by the
  standard deviation) for ``final_norm``.
- ``final_norm_weight_offset``: the norm scales by ``offset + weight`` (Gemma: 1).
- ``unembedding``: the output embedding, relative to the whole model (not ``base_model``).

Circuits (edge attribution patching) also need, for pre-norm blocks whose attention and MLP run
one after the other (None where not known):

- ``attention_norm`` / ``mlp_norm``: the norm inside a block before the attention / the MLP.
- ``qkv``: the query, key and value projections inside a block, as three paths, or one path of
  a fused projection whose output holds the queries, keys and values one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Architecture:
    family: str
    layer_stacks: dict[str, str]
    attention: str
    mlp_activation: tuple[str, str]
    final_norm: str | None
    attention_weights_index: int = 1
    cross_attention: str | None = None
    attention_output: str | None = None
    mlp_output: str | None = None
    final_norm_kind: str | None = None
    final_norm_weight_offset: float = 0.0
    unembedding: str | None = None
    attention_norm: str | None = None
    mlp_norm: str | None = None
    qkv: tuple[str, ...] | None = None


_LLAMA = Architecture(
    family="llama",
    layer_stacks={"decoder": "layers"},
    attention="self_attn",
    mlp_activation=("mlp.down_proj", "input"),
    final_norm="norm",
    attention_output="self_attn.o_proj",
    mlp_output="mlp",
    final_norm_kind="rms",
    unembedding="lm_head",
    attention_norm="input_layernorm",
    mlp_norm="post_attention_layernorm",
    qkv=("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
)

ARCHITECTURES: dict[str, Architecture] = {
    **{name: _LLAMA for name in ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "olmo", "phi3")},
    "gpt2": Architecture(
        "gpt2", {"decoder": "h"}, "attn", ("mlp.act", "output"), "ln_f",
        attention_output="attn.c_proj", mlp_output="mlp", final_norm_kind="layer", unembedding="lm_head",
        attention_norm="ln_1", mlp_norm="ln_2", qkv=("attn.c_attn",),
    ),
    "gpt_neox": Architecture(
        "gpt_neox", {"decoder": "layers"}, "attention", ("mlp.act", "output"), "final_layer_norm",
        attention_output="attention.dense", mlp_output="mlp", final_norm_kind="layer", unembedding="lm_head",
    ),
    **{
        name: Architecture(
            "bert",
            {"encoder": "encoder.layer"},
            "attention.self",
            ("intermediate.intermediate_act_fn", "output"),
            None,
        )
        for name in ("bert", "roberta", "xlm-roberta", "electra")
    },
    "distilbert": Architecture(
        "distilbert", {"encoder": "transformer.layer"}, "attention", ("ffn.activation", "output"), None
    ),
    "t5": Architecture(
        "t5",
        {"encoder": "encoder.block", "decoder": "decoder.block"},
        "layer.0.SelfAttention",
        ("layer.-1.DenseReluDense.wo", "input"),
        "decoder.final_layer_norm",
        attention_weights_index=2,  # (output, position_bias, weights)
        cross_attention="layer.1.EncDecAttention",
    ),
    **{
        name: Architecture(
            "bart",
            {"encoder": "encoder.layers", "decoder": "decoder.layers"},
            "self_attn",
            ("fc2", "input"),
            None,
            cross_attention="encoder_attn",
        )
        for name in ("bart", "mbart", "marian")
    },
}


# Gemma scales by (1 + weight); Gemma 2 also norms the attention and MLP outputs before adding
# them to the residual stream, so the projections' outputs are not what the blocks add.
ARCHITECTURES["gemma"] = replace(_LLAMA, final_norm_weight_offset=1.0)
ARCHITECTURES["gemma2"] = replace(_LLAMA, final_norm_weight_offset=1.0, attention_output=None, mlp_output=None)
# OLMo's layer norms have no weight or bias.
ARCHITECTURES["olmo"] = replace(_LLAMA, final_norm_kind="layer")
# Phi-3 projects queries, keys and values with one matrix.
ARCHITECTURES["phi3"] = replace(_LLAMA, qkv=("self_attn.qkv_proj",))


class UnknownArchitecture(ValueError):
    pass


def architecture_for(model_type: str) -> Architecture:
    """The module map for a transformers ``config.model_type``; a clear error if unknown."""
    try:
        return ARCHITECTURES[model_type]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise UnknownArchitecture(
            f"llmxai_widgets does not know where a '{model_type}' model keeps its attention and MLP "
            f"modules; known model types: {known}. Add an entry to "
            f"llmxai_widgets.models.architectures.ARCHITECTURES (module paths relative to "
            f"model.base_model) or open an issue."
        ) from None
