"""Causal tracing and activation patching against one plain transformers forward pass per cell."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import llmxai_widgets as lx
from llmxai_widgets.methods.locate import engine
from llmxai_widgets.methods.locate.inputs import noise_for, window_layers
from llmxai_widgets.methods.locate.subjects import SUBJECTS

import locate_reference as ref

PROMPT = "The Eiffel Tower is located in the city of"
SUBJECT = "Eiffel Tower"
CLEAN = "The Eiffel Tower is in the city of"
CORRUPT = "The Colosseum is in the city of"


def _noise(result, hidden):
    generator = torch.Generator().manual_seed(result.seed)
    start, stop = result.subject
    draw = torch.randn(result.samples, stop - start, hidden, generator=generator) * result.noise_scale

    def hook(_m, _a, out):
        out = out.clone()
        out[:, start:stop] += draw
        return out
    return hook


def _trace_cell(model, result, kind, layer, token):
    """p(target) with one cell restored, by the reference loop (a full forward pass)."""
    hf, parts = model.model, ref.Parts(model.model)
    ids = torch.as_tensor(result.tokens.ids)[None]
    clean, _ = ref.record(hf, ids)
    noise = _noise(result, hf.config.hidden_size)
    if kind == "residual":
        hooks = [(parts.blocks[layer], ref.replace_at([(token, clean["block"][layer][0, token])]), False)]
    else:
        module = parts.mlp if kind == "mlp" else parts.attention
        hooks = [(module(l), ref.replace_at([(token, clean[kind][l][0, token])]), False)
                 for l in window_layers(layer, result.window, model.n_layers)]
    logits = ref.run(hf, ids.repeat(result.samples, 1), hooks, noise)
    _check_kept_top(result, kind, layer, token, torch.softmax(logits, -1).mean(0))
    return float(torch.softmax(logits, -1)[:, result.target_id].mean())


def _check_kept_top(result, site, layer, cell, probs):
    """The top tokens the grid kept for a cell (what a click shows) are the reference run's."""
    kept = result.runs.tops.get(site, layer, cell, 5)
    values, ids = torch.topk(probs, 5)
    assert [i for i, _ in kept] == ids.tolist() or np.allclose([p for _, p in kept], values.numpy(), atol=1e-6), (site, layer, cell)
    assert np.allclose([p for _, p in kept], values.numpy(), atol=1e-5), (site, layer, cell)


def _cells(result, every: bool, rng):
    cells = [(k, l, t) for k in result.kinds for l in range(result.n_layers) for t in range(len(result.tokens))]
    if every:
        return cells
    picks = rng.choice(len(cells), size=9, replace=False)
    best = [(k, *result.best(k)) for k in result.kinds]
    return best + [cells[i] for i in picks]


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_gqa", "smollm2"])
def test_trace_cells_equal_a_forward_pass_per_cell(name, request):
    model = request.getfixturevalue(name)
    samples = 3 if name != "smollm2" else 4
    result = lx.causal_trace(model, PROMPT, SUBJECT, " Paris", samples=samples, window=3)
    assert result.exact and result.subject == (1, 4)
    # the unrestored runs, by the reference
    ids = torch.as_tensor(result.tokens.ids)[None]
    _, clean_logits = ref.record(model.model, ids)
    assert result.clean_prob == pytest.approx(float(torch.softmax(clean_logits, -1)[0, result.target_id]), abs=1e-6)
    noisy = ref.run(model.model, ids.repeat(samples, 1), embed_noise=_noise(result, model.config.hidden_size))
    assert result.corrupted_prob == pytest.approx(float(torch.softmax(noisy, -1)[:, result.target_id].mean()), abs=1e-6)
    for kind, layer, token in _cells(result, name != "smollm2", np.random.default_rng(0)):
        expected = _trace_cell(model, result, kind, layer, token)
        assert result.scores[kind][layer, token] == pytest.approx(expected, abs=1e-5), (kind, layer, token)


def test_trace_boundaries(smollm2):
    result = lx.causal_trace(smollm2, PROMPT, SUBJECT, " Paris", kinds="residual", samples=3)
    # the last token restored after the last block is the clean run's output
    assert result.scores["residual"][-1, -1] == pytest.approx(result.clean_prob, abs=1e-6)
    # the token before the subject is the same in both runs: restoring it restores nothing
    assert np.all(result.scores["residual"][:, 0] == np.float32(result.corrupted_prob))
    # every token restored after block 0 is the clean run; nothing restored is the corrupted run
    ids = torch.as_tensor(result.tokens.ids)
    clean = engine.record(smollm2, ids[None])
    corrupt = noise_for(smollm2, result.tokens, result.subject, "3sigma", samples=3, seed=1, texts=SUBJECTS,
                        replacements=())
    with torch.inference_mode():
        noisy = engine.record(smollm2, corrupt.ids, embed=corrupt.embed)
        restored = engine.run_patched(smollm2, ids, 1, clean.resid[1].repeat(3, 1, 1))
        nothing = engine.run_patched(smollm2, ids, 0, noisy.resid[0])
    p = lambda logits: torch.softmax(logits, -1)[:, result.target_id].mean().item()  # noqa: E731
    assert p(restored) == pytest.approx(result.clean_prob, abs=1e-6)
    assert p(nothing) == pytest.approx(result.corrupted_prob, abs=1e-6)
    assert result.clean_prob > 0.5 > 0.05 > result.corrupted_prob  # the fact is there, and the noise hides it


def _patch_cell(model, result, kind, layer, cell):
    """Normalised metric with one site of the clean run put into the corrupted run (reference loop)."""
    hf, parts = model.model, ref.Parts(model.model)
    clean_ids = torch.as_tensor(result.clean.ids)[None]
    clean, _ = ref.record(hf, clean_ids)
    if kind == "residual":
        hooks = [(parts.blocks[layer], ref.replace_at([(cell, clean["block"][layer][0, cell])]), False)]
    elif kind in ("attention", "mlp"):
        module = parts.mlp(layer) if kind == "mlp" else parts.attention(layer)
        hooks = [(module, ref.replace_at([(cell, clean[kind][layer][0, cell])]), False)]
    elif kind == "heads":
        hooks = [(parts.out_proj(layer), ref.head_output_hook(parts, cell, clean["z"][layer]), True)]
    else:
        hooks = ref.kv_hooks(parts, layer, cell, clean)
    logits = ref.run(hf, torch.as_tensor(result.corrupt.ids)[None], hooks)
    _check_kept_top(result, {"kv": "kv_heads"}.get(kind, kind), layer, cell, torch.softmax(logits[0], -1))
    a, b = result.answer_ids
    value = float(logits[0, a] - logits[0, b])
    return (value - result.corrupted_metric) / (result.clean_metric - result.corrupted_metric)


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_gqa", "smollm2"])
def test_patching_cells_equal_a_forward_pass_per_cell(name, request):
    model = request.getfixturevalue(name)
    result = lx.patch(model, CLEAN, CORRUPT, answers=(" Paris", " Rome"))
    assert result.exact and set(result.scores) == {"residual", "attention", "mlp", "heads", "kv_heads"}
    assert result.scores["kv_heads"].shape == (model.n_layers, model.n_kv_heads)
    rng = np.random.default_rng(1)
    for kind, values in result.scores.items():
        cells = [(l, c) for l in range(model.n_layers) for c in range(values.shape[1])]
        if name == "smollm2":
            cells = [cells[i] for i in rng.choice(len(cells), size=5, replace=False)]
        for layer, cell in cells:
            kind_ref = "kv" if kind == "kv_heads" else kind
            assert values[layer, cell] == pytest.approx(_patch_cell(model, result, kind_ref, layer, cell), abs=1e-5), (kind, layer, cell)


def test_patching_identities(smollm2):
    result = lx.patch(smollm2, CLEAN, CORRUPT, answers=(" Paris", " Rome"), sites=("residual", "attention", "heads"))
    first = result.first_difference
    assert first == 1 and np.all(result.scores["residual"][:, 0] == 0)
    # the last token after the last block carries the whole answer
    assert result.scores["residual"][-1, -1] == pytest.approx(1.0, abs=1e-5)
    a, b = (torch.as_tensor(t.ids) for t in (result.clean, result.corrupt))
    clean = engine.record(smollm2, a[None], heads=True)
    corrupt = engine.record(smollm2, b[None], heads=True)
    metric = lambda logits: (logits[:, result.answer_ids[0]] - logits[:, result.answer_ids[1]])  # noqa: E731
    normal = lambda v: (v - result.corrupted_metric) / (result.clean_metric - result.corrupted_metric)  # noqa: E731
    for layer in (0, 7, 20):
        # every head of a layer patched together equals patching the layer's attention output at every token
        size = clean.z.shape[-1] // smollm2.n_heads
        z = clean.z[layer, 0].reshape(-1, smollm2.n_heads, size).transpose(0, 1)
        heads = engine.Patch("head", layer, torch.zeros(smollm2.n_heads, dtype=torch.long), z, index=torch.arange(smollm2.n_heads))
        tokens = torch.arange(len(a))
        whole = engine.Patch("attention", layer, torch.zeros(len(a), dtype=torch.long), clean.attention[layer, 0], positions=tokens)
        with torch.inference_mode():
            by_heads = engine.run_patched(smollm2, b, layer, corrupt.resid[layer], [heads])
            by_output = engine.run_patched(smollm2, b, layer, corrupt.resid[layer], [whole])
            # the clean run with its own activations patched in is the clean run: 1 everywhere
            itself = engine.run_patched(smollm2, a, layer, clean.resid[layer], [engine.Patch(
                "attention", layer, torch.zeros(len(a), dtype=torch.long), clean.attention[layer, 0], positions=tokens)])
        assert float(metric(by_heads)) == pytest.approx(float(metric(by_output)), abs=1e-4)
        assert float(normal(metric(itself))) == pytest.approx(1.0, abs=1e-5)
    noising = lx.patch(smollm2, CLEAN, CORRUPT, answers=(" Paris", " Rome"), sites="residual", direction="noising")
    assert np.all(noising.scores["residual"][:, 0] == 1)
    assert noising.scores["residual"][-1, -1] == pytest.approx(0.0, abs=1e-5)


def test_estimate_is_exact_where_the_metric_is_linear(smollm2):
    """The logits are linear in the last block's output at the last token only through the final
    norm: the estimate there is close to exact, and the grid as a whole correlates with it."""
    result = lx.patch(smollm2, CLEAN, CORRUPT, answers=(" Paris", " Rome"), sites=("residual", "mlp"))
    est, exact = result.estimate["residual"], result.scores["residual"]
    assert est.shape == exact.shape
    late = slice(20, None)
    assert np.corrcoef(est[late].ravel(), exact[late].ravel())[0, 1] > 0.9


def test_errors(smollm2, tiny_t5):
    with pytest.raises(ValueError, match=r"does not occur in the prompt .*case-sensitive"):
        lx.causal_trace(smollm2, PROMPT, "eiffel tower")
    with pytest.raises(ValueError, match=r"is 2 tokens"):
        lx.causal_trace(smollm2, PROMPT, SUBJECT, " Parisian")
    with pytest.raises(ValueError, match=r"window=40 is more blocks than smollm2 has \(30\)"):
        lx.causal_trace(smollm2, PROMPT, SUBJECT, window=40)
    with pytest.raises(ValueError, match=r"clean has 9 .*corrupt has 6"):
        lx.patch(smollm2, CLEAN, "Rome is in the city of")
    with pytest.raises(ValueError, match=r"kinds must be some of"):
        lx.causal_trace(smollm2, PROMPT, SUBJECT, kinds=("neurons",))
    with pytest.raises(ValueError, match=r"causal language model"):
        lx.patch(tiny_t5, CLEAN, CORRUPT)
    with pytest.raises(ValueError, match=r"no replacement with as many tokens"):
        lx.causal_trace(smollm2, PROMPT, SUBJECT, noise="resample", replacements=["Rome"])


def test_unknown_modules_are_named(smollm2):
    from dataclasses import replace

    saved = smollm2.architecture
    smollm2.architecture = replace(saved, mlp_output=None)
    try:
        with pytest.raises(ValueError, match=r"mlp output"):
            lx.causal_trace(smollm2, PROMPT, SUBJECT)
    finally:
        smollm2.architecture = saved


def test_resample_noise(smollm2):
    result = lx.causal_trace(smollm2, PROMPT, SUBJECT, " Paris", noise="resample", samples=3, kinds="residual",
                             replacements=["Colosseum Arena", "Golden Gate", "Empire State", "Sydney Opera"])
    assert result.noise_scale is None and "replaced by" in result.noise and result.samples >= 1
    assert result.corrupted_prob < result.clean_prob
