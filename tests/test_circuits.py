"""Circuits against an independent reference (tests/circuits_reference.py): EAP against plain
autograd at each reader's own input, exact edge scores against one separate patched run per edge,
the full and the empty circuit, EAP-IG's completeness by steps, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import llmxai_widgets as lx
from circuits_reference import Reference

CLEAN = "The Eiffel Tower is in the city of"
CORRUPT = "The Colosseum is in the city of"
ANSWERS = (" Paris", " Rome")


def _metric(model):
    a, b = (model.tokenizer(x, add_special_tokens=False)["input_ids"][0] for x in ANSWERS)
    return lambda logits: logits[:, a] - logits[:, b]


def _ids(model, text):
    return torch.as_tensor(model.tokenize(text).ids)


def _reference(request, name, method):
    """The model, our result by ``method``, the reference, the clean ids and the writers' (corrupted - clean) outputs."""
    model = request.getfixturevalue(name)
    result = lx.circuit(model, CLEAN, CORRUPT, answers=ANSWERS, method=method)
    ref = Reference(model.model)
    clean = _ids(model, CLEAN)
    return model, result, ref, clean, ref.writers(_ids(model, CORRUPT)) - ref.writers(clean)


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_gqa"])
def test_eap_equals_autograd_at_each_readers_input(name, request):
    model, result, ref, clean, delta = _reference(request, name, "eap")  # delta [writer, token, d]
    valid = result.graph.valid()
    for d, reader in enumerate(ref.readers()):
        grad = ref.gradient(clean, _metric(model), reader)
        expected = torch.einsum("utx,tx->u", delta, grad).detach().numpy()
        np.testing.assert_allclose(result.scores[valid[:, d], d], expected[valid[:, d]], atol=2e-5, rtol=1e-4,
                                   err_msg=str(reader))
    assert np.all(np.isnan(result.scores[~valid]))


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_gqa"])
def test_exact_equals_a_patched_run_per_edge(name, request):
    model, result, ref, clean, delta = _reference(request, name, "exact")
    metric = _metric(model)
    with torch.no_grad():
        base = float(ref.run(clean, metric))
        readers = ref.readers()
        us, ds = np.nonzero(result.graph.valid())
        picks = np.random.default_rng(0).choice(len(us), size=min(len(us), 120), replace=False)
        for i in picks:
            u, d = us[i], ds[i]
            expected = float(ref.run(clean, metric, readers[d], delta[u])) - base
            assert result.scores[u, d] == pytest.approx(expected, abs=2e-5), (u, d)
    assert result.clean_metric == pytest.approx(base, abs=1e-5)


def test_full_and_empty_circuits_and_node_scores(tiny_gqa, smollm2):
    for model in (tiny_gqa, smollm2):
        result = lx.circuit(model, CLEAN, CORRUPT, answers=ANSWERS, method="eap")
        full, empty = result.faithfulness([result.top(result.n_edges), result.top(0)])
        assert full == pytest.approx(1.0, abs=1e-4) and empty == pytest.approx(0.0, abs=1e-4)
    # a head's exact node score is activation patching of its output (noising), in the metric's units
    result = lx.circuit(smollm2, CLEAN, CORRUPT, answers=ANSWERS, method="exact", level="node")
    patched = lx.patch(smollm2, CLEAN, CORRUPT, answers=ANSWERS, sites=("heads",), direction="noising")
    g = result.graph
    heads = np.array([[result.node_scores[g.head_out(l, h)] for h in range(g.n_heads)] for l in range(g.n_layers)])
    np.testing.assert_allclose(heads, patched.raw("heads") - patched.clean_metric, atol=1e-4)
    # a node corrupted at one token at a time: activation patching of that site and token
    by_token = lx.patch(smollm2, CLEAN, CORRUPT, answers=ANSWERS, sites=("mlp", "attention"), direction="noising")
    for layer in (3, 17):
        whole, row = result.node_effect(g.mlp_out(layer))
        assert whole == pytest.approx(result.node_scores[g.mlp_out(layer)], abs=1e-4)
        np.testing.assert_allclose(row, by_token.raw("mlp")[layer] - by_token.clean_metric, atol=1e-4)
        heads = np.array([g.head_out(layer, h) for h in range(g.n_heads)])  # the attention output: all heads
        which, ds = np.nonzero(g.valid()[heads])
        attention = result.runs([(heads[which], ds, t) for t in range(len(row))]) - result.clean_metric
        np.testing.assert_allclose(attention, by_token.raw("attention")[layer] - by_token.clean_metric, atol=1e-4)


def test_eap_ig_completeness_by_steps(tiny_gqa, smollm2, capsys):
    """The scores of the edges out of the embeddings sum to metric(corrupted) - metric(clean) as steps grow."""
    for model in (tiny_gqa, smollm2):
        errors = []
        for steps in (1, 2, 5, 10, 20):
            r = lx.circuit(model, CLEAN, CORRUPT, answers=ANSWERS, method="eap_ig", steps=steps)
            target = r.corrupted_metric - r.clean_metric
            errors.append(abs(np.nansum(r.scores[0]) - target) / abs(target))
        with capsys.disabled():
            print(f"\n{model.name}: EAP-IG completeness error by steps 1, 2, 5, 10, 20: "
                  + ", ".join(f"{e:.1%}" for e in errors))
        assert errors[-1] < errors[0] and errors[-1] < 0.05


def test_tasks_and_top(smollm2):
    for make in (lx.circuit_tasks.induction, lx.circuit_tasks.factual, lx.circuit_tasks.agreement):
        task = make(smollm2)
        assert len(task) >= 3, (task.name, task.dropped)
        for pair in task.pairs:
            assert len(smollm2.tokenize(pair.clean) if isinstance(pair.clean, str) else pair.clean) == len(
                smollm2.tokenize(pair.corrupt) if isinstance(pair.corrupt, str) else pair.corrupt)
    result = lx.circuit(smollm2, lx.circuit_tasks.agreement(smollm2), method="eap")
    assert result.n_pairs >= 3 and result.clean_metric > result.corrupted_metric
    top = result.top(10)
    values = np.abs(result.scores[top.upstream, top.downstream])
    assert np.all(np.diff(values) <= 0) and values[-1] >= np.nanmax(np.abs(np.where(
        np.isin(np.arange(result.scores.size), np.ravel_multi_index((top.upstream, top.downstream), result.scores.shape)),
        np.nan, result.scores.ravel())))


def test_bad_input(smollm2, tiny_t5):
    with pytest.raises(ValueError, match="same number of tokens"):
        lx.circuit(smollm2, CLEAN, "The Colosseum in Rome is in the city of", answers=ANSWERS)
    with pytest.raises(ValueError, match="does not depend"):
        lx.circuit(smollm2, CLEAN, CORRUPT, metric=lambda logits: logits[:, :1].sum(1) * 0)
    with pytest.raises(ValueError, match="causal language model"):
        lx.circuit(tiny_t5, "a b", "a c")
    result = lx.circuit(smollm2, CLEAN, CORRUPT, answers=ANSWERS, method="eap")
    with pytest.raises(ValueError, match="more edges than the graph has"):
        result.top(result.n_edges + 1)
    with pytest.raises(ValueError, match="steps must be"):
        lx.circuit(smollm2, CLEAN, CORRUPT, answers=ANSWERS, steps=0)
