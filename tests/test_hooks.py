import pytest
import torch

from llmxai_widgets.hooks import capture


def test_captures_the_gated_mlp_activation_of_llama(smollm2):
    """The input of down_proj equals act(gate(x)) * up(x) computed from the MLP's own input."""
    layer = smollm2.layers()[3]
    ids = torch.as_tensor(smollm2.tokenize("Hooks see inside the block.").ids)[None]
    with capture({"mlp": layer.mlp, "act": layer.mlp.down_proj}, what={"mlp": "input", "act": "input"}) as got:
        with torch.no_grad():
            smollm2.model(ids)
    x = got["mlp"][0]
    with torch.no_grad():
        expected = layer.mlp.act_fn(layer.mlp.gate_proj(x)) * layer.mlp.up_proj(x)
    torch.testing.assert_close(got["act"][0], expected)
    assert got["act"][0].device.type == "cpu" and not got["act"][0].requires_grad


def test_hooks_are_removed_even_when_the_forward_pass_fails(smollm2):
    module = smollm2.attention_module(0)
    before = len(module._forward_hooks)

    def boom(_name, _tensor):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        with capture({"a": module}, on_capture=boom):
            smollm2.model(torch.as_tensor(smollm2.tokenize("x y").ids)[None])
    assert len(module._forward_hooks) == before


def test_one_tensor_per_call(tiny_gpt2):
    block = tiny_gpt2.layers()[0]
    ids = torch.as_tensor(tiny_gpt2.tokenize("a b c").ids)[None]
    with capture({"block": block}) as got, torch.no_grad():
        tiny_gpt2.model(ids)
        tiny_gpt2.model(ids)
    assert len(got["block"]) == 2
    torch.testing.assert_close(got["block"][0], got["block"][1])


def test_rejects_unknown_capture_point(tiny_gpt2):
    with pytest.raises(ValueError, match="'input' or 'output'"):
        with capture({"b": tiny_gpt2.layers()[0]}, what="middle"):
            pass
