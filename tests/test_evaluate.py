"""Evaluating explanations: the faithfulness metrics against their closed forms on a linear
bag-of-tokens model and against one plain forward pass per perturbed text on SmolLM2; ferret's
AOPC reproduced on fixed arrays; plausibility against hand-worked cases and scikit-learn's
average precision; agreement between rankings; bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import llmxai_widgets as lx
from llmxai_widgets.methods.evaluate.curves import BINS, check_bins, curve_area, ranking_of, score_ranking, top_k
from llmxai_widgets.methods.evaluate.faithfulness import faithfulness
from llmxai_widgets.methods.evaluate.plausibility import average_precision, iou_f1, plausibility_of, spans
from llmxai_widgets.methods.stats import kendall, spearman, top_k_overlap


def _linear(n, seed=0):
    """A bag-of-tokens model: the value is c + the sum of the kept tokens' weights."""
    rng = np.random.default_rng(seed)
    w, c = rng.normal(size=n), 0.25
    return w, c, (lambda keep: c + keep.astype(np.float64) @ w)


def test_curves_equal_their_closed_forms_on_a_linear_model():
    n = 13
    w, c, predict = _linear(n)
    full = c + w.sum()
    best = np.sort(w)[::-1]
    r = score_ranking(ranking_of(w), full, predict, n, BINS["eraser"])
    ks = [top_k(f, n) for f in BINS["eraser"]]
    assert ks == [1, 1, 2, 3, 7]  # ceil(bin x 13), at least one token
    assert np.allclose(r.comprehensiveness, [best[:k].sum() for k in ks])  # removing the top k loses their weight
    assert np.allclose(r.sufficiency, [best[k:].sum() for k in ks])  # keeping only them loses the rest
    assert r.aopc_comprehensiveness == pytest.approx(np.mean([best[:k].sum() for k in ks]))
    deletion = full - np.r_[0, np.cumsum(best)]
    insertion = c + np.r_[0, np.cumsum(best)]
    assert np.allclose(r.deletion, deletion) and np.allclose(r.insertion, insertion)
    assert r.deletion_auc == pytest.approx(np.trapezoid(deletion, dx=1 / n))
    assert r.insertion_auc == pytest.approx(np.trapezoid(insertion, dx=1 / n))
    # the best ranking for a linear model is by weight: no ranking removes more in its top k
    worst = score_ranking(ranking_of(-w), full, predict, n, BINS["eraser"])
    assert r.aopc_comprehensiveness > worst.aopc_comprehensiveness and r.deletion_auc < worst.deletion_auc


def test_ferret_aopc_on_fixed_arrays():
    """ferret (faithfulness_measures.py, AOPC_Comprehensiveness_Evaluation with removal by percentage):
    the mean of p(x) - p(x without the top k) over the bins 10..100%, a bin whose rationale repeats
    the previous one left out. Worked by hand for 4 tokens: bins 10-20% -> k=1, 30-50% -> k=2,
    60-70% -> k=3, 80-100% -> k=4; distinct k 1, 2, 3, 4."""
    w, c, predict = np.array([0.4, -0.1, 0.3, 0.05]), 0.1, None
    predict = lambda keep: c + keep.astype(np.float64) @ w  # noqa: E731
    full = c + w.sum()
    r = score_ranking(ranking_of(w), full, predict, 4, BINS["ferret"], skip_repeats=True)
    drops = [0.4, 0.7, 0.75, 0.65]  # the top 1, 2, 3, 4 removed: 0.4; +0.3; +0.05; -0.1
    assert r.aopc_comprehensiveness == pytest.approx(np.mean(drops))
    assert [top_k(f, 4) for f in BINS["ferret"]] == [1, 1, 2, 2, 2, 3, 3, 4, 4, 4]


def test_curve_area_and_bins():
    assert curve_area(np.array([1.0, 0.0])) == 0.5
    assert check_bins("eraser") == ("eraser", (0.01, 0.05, 0.1, 0.2, 0.5))
    assert check_bins([0.5, 1]) == ("custom", (0.5, 1.0))
    for bad in ([0, 0.5], [1.5], []):
        with pytest.raises(ValueError, match=r"\(0, 1\]"):
            check_bins(bad)
    with pytest.raises(ValueError, match="'eraser', 'ferret'"):
        check_bins("aopc")


def test_plausibility_hand_worked():
    scores = [0.9, 0.1, 0.8, -0.2, 0.7, np.nan]
    r = plausibility_of(scores, [0, 2, 3])  # k = 3: the top 3 are 0, 2 and 4
    assert r.predicted == [0, 2, 4] and r.rationale == [0, 2, 3]
    assert (r.token_precision, r.token_recall, r.token_f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert r.token_iou == pytest.approx(2 / 4)
    # spans: predicted (0), (2), (4); rationale (0), (2, 3): (0) IOU 1, (2) IOU 1/2 -> hits; (4) misses
    assert r.iou_f1 == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    # ranks 0.9 T, 0.8 T, 0.7 F, 0.1 F, -0.2 T: precision at each hit 1, 1, 3/5
    assert r.auprc == pytest.approx((1 + 1 + 3 / 5) / 3)
    assert spans(np.array([1, 1, 0, 1], bool)) == [(0, 2), (3, 4)]
    assert iou_f1(np.array([1, 1, 1, 0], bool), np.array([0, 1, 1, 1], bool)) == 1.0  # IOU 2/4 = 0.5 counts
    mask = plausibility_of(scores, [True, False, True, True, False, False])
    assert mask.token_f1 == r.token_f1
    absolute = plausibility_of([0.9, -0.95, 0.1], [1], absolute=True)
    assert absolute.predicted == [1] and absolute.token_f1 == 1.0


def test_average_precision_equals_scikit_learn():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(2, 40))
        truth = rng.random(n) < 0.3
        truth[rng.integers(n)] = True
        scores = np.round(rng.normal(size=n), 1)  # ties
        assert average_precision(truth, scores) == pytest.approx(average_precision_score(truth, scores), abs=1e-12)


def test_agreement_statistics():
    from scipy.stats import kendalltau, spearmanr

    rng = np.random.default_rng(1)
    for _ in range(50):
        a, b = np.round(rng.normal(size=12), 1), np.round(rng.normal(size=12), 1)
        assert kendall(a, b) == pytest.approx(kendalltau(a, b).statistic, abs=1e-12)
        assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    assert top_k_overlap([5, 4, 3, 2, 1], [1, 4, 5, 2, 3], 2) == 0.5


def test_plausibility_bad_input():
    with pytest.raises(ValueError, match="mask has 3 entries but the explanation scores 4 tokens"):
        plausibility_of([1, 2, 3, 4], [True, False, True])
    with pytest.raises(IndexError, match="position 7 is out of range"):
        plausibility_of([1, 2, 3, 4], [7])
    with pytest.raises(ValueError, match="marks no token the explanation scores"):
        plausibility_of([1, np.nan, 3], [1])
    with pytest.raises(ValueError, match="k must be an integer from 1 to the 3"):
        plausibility_of([1, 2, 3], [0], k=5)
    with pytest.raises(TypeError, match="mask over the 2 tokens"):
        plausibility_of([1, 2], "Paris")


def test_faithfulness_on_smollm2_equals_one_forward_pass_per_perturbed_text(smollm2):
    text = "The Eiffel Tower is in the city of"
    result = lx.attribute(smollm2, text, target=" Paris", method="input_x_gradient")
    for mode in ("remove", "replace"):
        f = faithfulness(smollm2, result, bins=[0.25, 0.5], mode=mode, random_samples=2)
        entry = f.targets[0]
        ids = np.asarray(result.tokens.ids)
        t = result.target_positions[0]
        label = int(ids[t])
        positions = entry.positions
        assert positions == list(range(t))  # SmolLM2 adds no special tokens here

        def p(keep):  # one plain forward pass of the perturbed text
            kept = [int(ids[j]) if keep[positions.index(j)] else None for j in range(t)]
            if mode == "remove":
                seq = [x for x in kept if x is not None] or [smollm2.tokenizer.eos_token_id]
            else:
                fill = smollm2.tokenizer.convert_tokens_to_ids(f.replacement)
                seq = [fill if x is None else x for x in kept]
            with torch.no_grad():
                logits = smollm2.model(torch.as_tensor(seq)[None]).logits[0, -1]
            return float(torch.softmax(logits.double(), -1)[label])

        n = len(positions)
        assert entry.full == pytest.approx(p(np.ones(n, bool)), abs=1e-4)
        order = ranking_of(result.scores[0, positions])
        for b, fraction in enumerate(f.bins):
            k = top_k(fraction, n)
            keep = np.ones(n, bool)
            keep[order[:k]] = False
            assert entry.explanation.comprehensiveness[b] == pytest.approx(entry.full - p(keep), abs=1e-4)
            assert entry.explanation.sufficiency[b] == pytest.approx(entry.full - p(~keep), abs=1e-4)
        for j in (0, 3, n):
            keep = np.ones(n, bool)
            keep[order[:j]] = False
            assert entry.explanation.deletion[j] == pytest.approx(p(keep), abs=1e-4)
            assert entry.explanation.insertion[j] == pytest.approx(p(~keep), abs=1e-4)
        for j in range(n):  # the oracle: leave-one-out drops
            keep = np.ones(n, bool)
            keep[j] = False
            assert entry.loo_scores[j] == pytest.approx(entry.full - p(keep), abs=1e-4)
        assert f.replacement == (None if mode == "remove" else f.replacement)


def test_faithfulness_bad_input(smollm2, tiny_gqa):
    result = lx.attribute(smollm2, "The capital of France is", target=" Paris", method="saliency")
    with pytest.raises(ValueError, match=r"bins are fractions of the tokens in \(0, 1\]"):
        faithfulness(smollm2, result, bins=[0.1, 2])
    with pytest.raises(ValueError, match="mode must be 'remove'"):
        faithfulness(smollm2, result, mode="mask")
    with pytest.raises(ValueError, match="computed on 'smollm2'"):
        faithfulness(tiny_gqa, result)
    with pytest.raises(TypeError, match="must come from lx.attribute"):
        faithfulness(smollm2, {"scores": [1, 2]})
    with pytest.raises(ValueError, match="metrics must be some of"):
        faithfulness(smollm2, result, metrics=("aopc",))


def test_plausibility_and_agreement_of_results(smollm2):
    from llmxai_widgets.methods.evaluate.agreement import agreement, plausibility

    text = "The capital of France is"
    results = [lx.attribute(smollm2, text, target=" Paris", method=m) for m in ("saliency", "input_x_gradient")]
    row = results[1].row(0)
    p = plausibility(results[1], [3])  # " France"
    expected = plausibility_of(row, [3])
    assert p.as_dict() == expected.as_dict()
    a = agreement(results, k=2)
    assert a.methods == ["saliency", "input_x_gradient"]
    assert np.allclose(np.diag(a.spearman), 1) and a.spearman[0, 1] == pytest.approx(spearman(results[0].row(0), row))
    assert a.kendall[0, 1] == pytest.approx(kendall(results[0].row(0), row))
    assert "saliency" in a.table()
    other = lx.attribute(smollm2, "The capital of Italy is", target=" Rome", method="saliency")
    with pytest.raises(ValueError, match="different texts or targets cannot be compared"):
        agreement([results[0], other])
    with pytest.raises(ValueError, match="at least two"):
        agreement(results[:1])
    with pytest.raises(IndexError, match="target 3 is out of range"):
        plausibility(results[0], [1], target=3)
    with pytest.raises(ValueError, match="mask has 2 entries but the explanation scores 5 tokens"):
        plausibility(results[0], [True, False])
