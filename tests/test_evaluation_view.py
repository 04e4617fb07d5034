"""EvaluationView and AttributionView's judging on the bundled SmolLM2: the traits hold what
lx.faithfulness / lx.agreement / lx.plausibility compute; score_rationale against plain forward
passes; the figure's texts; bad input named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import llmxai_widgets as lx

PROMPT = "The Eiffel Tower is in the city of"


def _p(model, ids):
    with torch.no_grad():
        logits = model.model(torch.as_tensor(ids)[None]).logits[0, -1]
    return torch.softmax(logits.double(), -1)


def test_score_rationale_equals_plain_passes(smollm2):
    result = lx.attribute(smollm2, PROMPT, target=" Paris", method="occlusion")
    ids = [int(x) for x in result.tokens.ids]
    t, label = result.target_positions[0], ids[result.target_positions[0]]
    s = lx.score_rationale(smollm2, result, [1, 7])
    full = float(_p(smollm2, ids[:t])[label])
    without = float(_p(smollm2, [x for j, x in enumerate(ids[:t]) if j not in (1, 7)])[label])
    only = float(_p(smollm2, [ids[1], ids[7]])[label])
    assert s.full == pytest.approx(full, abs=1e-5)
    assert s.comprehensiveness == pytest.approx(full - without, abs=1e-5)
    assert s.sufficiency == pytest.approx(full - only, abs=1e-5)
    top = np.argsort(-result.row(0), kind="stable")[:2]
    assert s.plausibility.predicted == sorted(top.tolist())
    m_without = float(_p(smollm2, [x for j, x in enumerate(ids[:t]) if j not in top])[label])
    assert s.method_comprehensiveness == pytest.approx(full - m_without, abs=1e-5)
    assert s.plausibility.as_dict() == lx.plausibility(result, [1, 7]).as_dict()
    with pytest.raises(IndexError, match="rationale position 40 is out of range"):
        lx.score_rationale(smollm2, result, [40])
    with pytest.raises(ValueError, match="mode must be"):
        lx.score_rationale(smollm2, result, [1], mode="mask")


def test_evaluation_view_traits_are_the_computations(smollm2):
    methods = ["occlusion", "saliency"]
    view = lx.EvaluationView(smollm2, PROMPT, target=" Paris", methods=methods, rationale=[7], random_samples=3,
                             background=False)
    assert view.status == "ready" and view.methods == methods
    results = [lx.attribute(smollm2, PROMPT, target=" Paris", method=m) for m in methods]
    for ev, result in zip(view.evaluations, results):
        f = lx.faithfulness(smollm2, result, random_samples=3, baselines=("random", "loo") if ev is view.evaluations[0]
                            else ())
        assert ev["targets"][0]["explanation"]["deletion"] == pytest.approx(f.targets[0].explanation.deletion, abs=1e-6)
    assert view.evaluations[0]["targets"][0]["random"] is not None and view.evaluations[1]["targets"][0]["random"] is None
    assert np.allclose(view.agreement["spearman"], lx.agreement(results).spearman, atol=1e-6)
    assert view.plausibility[1][0]["auprc"] == pytest.approx(lx.plausibility(results[1], [7]).auprc)
    texts = view.figure().texts
    assert "occlusion" in texts and "random ranking" in texts and "leave-one-out (oracle)" in texts
    assert any(t.startswith("Agreement between methods") for t in texts)
    assert f"{view.faithfulness_results[0].targets[0].explanation.aopc_comprehensiveness:.3f}" in texts
    again = lx.EvaluationView.from_results(smollm2, view.results, random_samples=3, background=False)
    assert again.evaluations == view.evaluations


def test_evaluation_view_bad_input(smollm2):
    with pytest.raises(ValueError, match="unknown attribution method 'bogus'"):
        lx.EvaluationView(smollm2, PROMPT, methods=["bogus"])
    with pytest.raises(ValueError, match=r"bins are fractions of the tokens in \(0, 1\]"):
        lx.EvaluationView(smollm2, PROMPT, bins=[0, 0.5])
    with pytest.raises(TypeError, match="methods must be a list"):
        lx.EvaluationView(smollm2, PROMPT, methods="saliency")
    a = lx.attribute(smollm2, "The capital of France is", target=" Paris", method="saliency")
    b = lx.attribute(smollm2, "The capital of Italy is", target=" Rome", method="saliency")
    with pytest.raises(ValueError, match="different texts or targets cannot be compared"):
        lx.EvaluationView.from_results(smollm2, [a, b])
    view = lx.EvaluationView(smollm2, PROMPT, target=" Paris", methods=["saliency"], rationale=[True, False],
                             random_samples=1, background=False)
    assert "rationale: the rationale mask has 2 entries" in view.error and view.evaluations  # the rest still computed
    with pytest.raises(Exception, match="measure must be one of"):
        view.measure = "pearson"


def test_attribution_view_guess_and_evaluate(smollm2):
    view = lx.AttributionView(smollm2, PROMPT, target=" Paris", method="saliency", guess=True, background=False)
    assert view.guessing and not view.revealed
    view.revealed = True  # nothing marked: refused, said so
    assert not view.revealed and "mark at least one token" in view.error
    view.guess = [1, 7]
    view.revealed = True
    expected = lx.score_rationale(smollm2, view.result, [1, 7]).as_dict()
    assert view.guess_scores.keys() == expected.keys()
    for key, value in expected.items():
        assert view.guess_scores[key] == (pytest.approx(value, abs=1e-6) if isinstance(value, float) else value), key
    view.tab = "evaluate"
    assert view.evaluation == lx.faithfulness(smollm2, view.result).to_json()
    view.method = "occlusion"  # a new result: evaluated and the marks scored again
    assert view.revealed and view.guess_scores["method_comprehensiveness"] == pytest.approx(
        lx.score_rationale(smollm2, view.result, [1, 7]).method_comprehensiveness)
    assert view.evaluation["method"] == "occlusion"
    texts = view.figure("evaluate").texts  # the Evaluate tab's figure: the method beside random and the oracle
    assert "occlusion" in texts and "random ranking" in texts and "leave-one-out (oracle)" in texts
    assert f"{view.faithfulness_result.targets[0].explanation.deletion_auc:.3f}" in texts
