"""lx.patch against TransformerLens's own activation patching, on the same weights, offline.

TransformerLens 4 removed ``HookedTransformer``; its models are ``TransformerBridge`` objects that
wrap a transformers model and put TL's hook points (``blocks.L.hook_resid_pre``,
``blocks.L.attn.hook_z``, ...) on it. ``TransformerBridge.boot_transformers(name,
hf_model=model, tokenizer=tokenizer)`` takes an already loaded model and reads its config from
it, so nothing is fetched from the Hugging Face hub (the name is only a label here; :func:`boot`
refuses every network connection while the bridge is built). The bridge replaces submodules of the model it gets and switches it to
eager attention, so it gets a deep copy: ours keeps its own model (sdpa) and both hold the same
weights. The bridge's defaults are TL 4's "no processing" (raw weights: no folded layer norms,
no centred writing weights or unembedding; ``enable_compatibility_mode`` is never called), so its
logits are the transformers model's own, RMSNorm eps and rotary settings included.

Models: the bundled SmolLM2-135M (LLaMA architecture, grouped-query attention: 9 query heads
over 3 key/value heads; real weights), a tiny LLaMA with grouped-query attention from a config,
and the tiny GPT-2 from a config. The tiny models are compared on every cell, SmolLM2 on four
layers (the first, one in the middle and the last two, so both residual mappings below are
covered) at every token: TL runs one full forward pass per cell (~0.1 s each for SmolLM2 here).

What is compared (normalised (m - m_corrupt) / (m_clean - m_corrupt), m = logit of the first
answer minus the second at the last position, within 1e-4; TL's metric and its m_clean and
m_corrupt come from TL's own runs):

- ``scores["residual"][L]`` is the residual stream *after* block L, which is TL's ``resid_pre``
  of block L + 1 (``get_act_patch_resid_pre``) and, for the last block, TL's ``resid_post`` of it
  (``generic_activation_patch`` with ``layer_pos_patch_setter``: TL has no resid_post shortcut).
- ``scores["attention"]`` / ``["mlp"]``: ``get_act_patch_attn_out`` / ``get_act_patch_mlp_out``.
- ``scores["heads"]``: ``get_act_patch_attn_head_out_all_pos`` (``hook_z``, every position).
- ``scores["kv_heads"]``: a key/value head's keys and values at every position, both at once, which
  no single TL function does: TL's ``hook_k`` and ``hook_v`` (before rotary embeddings; the two
  prompts share positions, so patching before or after the rotation is the same) with TL's
  ``layer_head_vector_patch_setter``, run through ``run_with_hooks``.

Both directions are checked on the tiny models: denoising (TL's functions given the corrupted
tokens and the clean cache) and noising (the clean tokens and the corrupted cache).
"""

from __future__ import annotations

import copy
import socket
from functools import partial
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import torch

import llmxai_widgets as lx

pytest.importorskip("transformer_lens", reason="transformer_lens is not installed (pip install -e '.[test]')")
from transformer_lens import patching as tlp  # noqa: E402
from transformer_lens.model_bridge import TransformerBridge  # noqa: E402

CLEAN = "The Eiffel Tower is in the city of"
CORRUPT = "The Colosseum is in the city of"
ANSWERS = (" Paris", " Rome")
TOL = 1e-4


def boot(model) -> TransformerBridge:
    """A TransformerLens bridge over a copy of ``model``'s transformers model (same weights),
    built with the network cut off: any attempt to look up or reach a host fails the test, even
    one the loader would catch and fall back from."""
    hf = copy.deepcopy(model.model).eval()
    attempts = []

    def offline(*args, **kwargs):
        attempts.append(args)
        raise OSError("the network is cut off in this test")

    with mock.patch.object(socket, "getaddrinfo", offline), mock.patch.object(socket.socket, "connect", offline), \
            mock.patch.object(socket, "create_connection", offline):
        bridge = TransformerBridge.boot_transformers(model.name, hf_model=hf, tokenizer=copy.deepcopy(model.tokenizer),
                                                     device="cpu")
    assert not attempts, f"TransformerBridge.boot_transformers tried to reach the network: {attempts}"
    bridge.eval()
    return bridge


class Reference:
    """TransformerLens's patching of ``result``'s prompts in ``result``'s direction."""

    def __init__(self, bridge: TransformerBridge, result):
        self.bridge = bridge
        a, b = result.answer_ids
        self.raw = lambda logits: logits[0, -1, a] - logits[0, -1, b]
        clean = torch.as_tensor(result.clean.ids)[None]
        corrupt = torch.as_tensor(result.corrupt.ids)[None]
        with torch.inference_mode():
            clean_logits, clean_cache = bridge.run_with_cache(clean)
            corrupt_logits, corrupt_cache = bridge.run_with_cache(corrupt)
        self.m_clean, self.m_corrupt = float(self.raw(clean_logits)), float(self.raw(corrupt_logits))
        self.clean_logits, self.corrupt_logits = clean_logits, corrupt_logits
        if result.direction == "denoising":
            self.tokens, self.cache = corrupt, clean_cache
        else:
            self.tokens, self.cache = clean, corrupt_cache
        self.n_layers = bridge.cfg.n_layers
        self.n_tokens = clean.shape[1]

    def metric(self, logits):
        return (self.raw(logits) - self.m_corrupt) / (self.m_clean - self.m_corrupt)

    def _cells(self, layers, n_cells):
        return pd.DataFrame([(l, c) for l in layers for c in range(n_cells)], columns=["layer", "pos"])

    def _run(self, fn, layers, n_cells, columns=("layer", "pos")) -> np.ndarray:
        df = self._cells(layers, n_cells)
        df.columns = list(columns)
        with torch.inference_mode():
            flat = fn(self.bridge, self.tokens, self.cache, self.metric, index_axis_names=None, index_df=df)
        return flat.reshape(len(layers), n_cells).numpy()

    def residual(self, layers) -> np.ndarray:
        """Rows ``layers`` of our residual grid (the stream after each block)."""
        inner = [l for l in layers if l < self.n_layers - 1]
        rows = {}
        if inner:
            pre = self._run(tlp.get_act_patch_resid_pre, [l + 1 for l in inner], self.n_tokens)
            rows.update(zip(inner, pre))
        if self.n_layers - 1 in layers:
            post = partial(tlp.generic_activation_patch, patch_setter=tlp.layer_pos_patch_setter,
                           activation_name="resid_post")
            rows[self.n_layers - 1] = self._run(post, [self.n_layers - 1], self.n_tokens)[0]
        return np.stack([rows[l] for l in layers])

    def attention(self, layers) -> np.ndarray:
        return self._run(tlp.get_act_patch_attn_out, layers, self.n_tokens)

    def mlp(self, layers) -> np.ndarray:
        return self._run(tlp.get_act_patch_mlp_out, layers, self.n_tokens)

    def heads(self, layers) -> np.ndarray:
        return self._run(tlp.get_act_patch_attn_head_out_all_pos, layers, self.bridge.cfg.n_heads,
                         columns=("layer", "head"))

    @staticmethod
    def _kv_hook(activation, hook, index, clean):
        return tlp.layer_head_vector_patch_setter(activation, index, clean)

    def kv_heads(self, layers) -> np.ndarray:
        n_kv = self.bridge.cfg.n_key_value_heads or self.bridge.cfg.n_heads
        out = np.zeros((len(layers), n_kv))
        for i, layer in enumerate(layers):
            for head in range(n_kv):
                hooks = [(name, partial(self._kv_hook, index=[layer, head], clean=self.cache[name]))
                         for name in (f"blocks.{layer}.attn.hook_k", f"blocks.{layer}.attn.hook_v")]
                with torch.inference_mode():
                    out[i, head] = float(self.metric(self.bridge.run_with_hooks(self.tokens, fwd_hooks=hooks)))
        return out


def compare(model, direction: str, layers=None):
    result = lx.patch(model, CLEAN, CORRUPT, answers=ANSWERS, direction=direction)
    assert result.exact and set(result.scores) == {"residual", "attention", "mlp", "heads", "kv_heads"}
    ref = Reference(boot(model), result)
    # the unpatched runs: the bridge's logits are the model's own
    assert ref.m_clean == pytest.approx(result.clean_metric, abs=1e-4 * max(1.0, abs(ref.m_clean)))
    assert ref.m_corrupt == pytest.approx(result.corrupted_metric, abs=1e-4 * max(1.0, abs(ref.m_corrupt)))
    layers = list(range(model.n_layers)) if layers is None else list(layers)
    worst = {}
    for site in ("residual", "attention", "mlp", "heads", "kv_heads"):
        theirs = getattr(ref, site)(layers)
        ours = result.scores[site][layers]
        assert ours.shape == theirs.shape, site
        assert np.isfinite(ours).all(), site
        worst[site] = float(np.abs(ours - theirs).max())
        assert worst[site] <= TOL, (site, worst[site], np.argwhere(np.abs(ours - theirs) > TOL)[:5].tolist())
    return result, worst


@pytest.mark.parametrize("direction", ["denoising", "noising"])
@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_gqa"])
def test_tiny_models_every_cell_equal_transformer_lens(name, direction, request):
    model = request.getfixturevalue(name)
    result, _ = compare(model, direction)
    # the grid is not trivially flat: some cells restore and some do not
    assert np.ptp(result.scores["residual"][:, result.first_difference:]) > 0.1


def test_smollm2_equals_transformer_lens(smollm2):
    n = smollm2.n_layers
    result, worst = compare(smollm2, "denoising", layers=(0, n // 2, n - 2, n - 1))
    assert smollm2.n_kv_heads < smollm2.n_heads  # grouped-query: kv heads are their own grid
    # real weights: the answer flips, and the last token after the last block is the clean run
    assert result.clean_metric > 0 > result.corrupted_metric
    assert result.scores["residual"][-1, -1] == pytest.approx(1.0, abs=1e-5)
