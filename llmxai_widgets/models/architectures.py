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
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Architecture:
    family: str
    layer_stacks: dict[str, str]
    attention: str
    mlp_activation: tuple[str, str]
    final_norm: str | None
    attention_weights_index: int = 1
    cross_attention: str | None = None


_LLAMA = Architecture(
    family="llama",
    layer_stacks={"decoder": "layers"},
    attention="self_attn",
    mlp_activation=("mlp.down_proj", "input"),
    final_norm="norm",
)

ARCHITECTURES: dict[str, Architecture] = {
    **{name: _LLAMA for name in ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "olmo", "phi3")},
    "gpt2": Architecture("gpt2", {"decoder": "h"}, "attn", ("mlp.act", "output"), "ln_f"),
    "gpt_neox": Architecture(
        "gpt_neox", {"decoder": "layers"}, "attention", ("mlp.act", "output"), "final_layer_norm"
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
