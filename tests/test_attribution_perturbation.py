"""Perturbation attribution (occlusion, Shapley value sampling, KernelSHAP, LIME) against
independent computations: plain loops that build every perturbed sequence and run the model on
it, and exact Shapley values from every coalition's value."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from llmxai_widgets.methods.attention import Cancelled
from llmxai_widgets.methods.attribution import ATTRIBUTION_METHODS, attribute
from llmxai_widgets.methods.attribution import perturbation as pert
from llmxai_widgets.methods.attribution.core import Problem

PROMPT = "The capital of France is"
WORDY = "Photosynthesis happens in chloroplasts, so"  # words of several tokens, and a comma
SIX = "The capital city of France is"  # six tokens: 64 coalitions


def logprob(model, ids: list[int], t: int) -> float:
    """log p(ids[t] | ids[:t]): one plain forward pass."""
    with torch.no_grad():
        logits = model.model(input_ids=torch.as_tensor([ids[:t]])).logits[0, -1].float()
    return float(torch.log_softmax(logits, -1)[ids[t]])


def occlusion_loop(model, ids: list[int], targets: list[int], spans_for, mode: str, baseline: int) -> np.ndarray:
    """Leave one unit out, the slow way: the perturbed ids of every unit, run one by one."""
    out = np.full((len(targets), len(ids)), np.nan)
    for i, t in enumerate(targets):
        full = logprob(model, ids, t)
        for s, e in spans_for(t):
            if mode == "replace":
                perturbed = ids[:s] + [baseline] * (e - s) + ids[e:t + 1]
                value = logprob(model, perturbed, t)
            else:
                perturbed = ids[:s] + ids[e:t + 1]
                value = logprob(model, perturbed, t - (e - s))
            out[i, s:e] = full - value
    return out


def problem_for(model, prompt: str, target: str) -> Problem:
    ids = model.tokenize(prompt).ids.tolist()
    cont = model.tokenizer(target, add_special_tokens=False)["input_ids"]
    return Problem(model, torch.as_tensor(ids + cont), len(ids), list(range(len(ids), len(ids) + len(cont))),
                   [None] * len(cont))


def test_the_four_methods_are_registered_as_perturbation():
    for name in ("occlusion", "shapley_sampling", "lime", "kernel_shap"):
        assert ATTRIBUTION_METHODS[name].family == "perturbation"


@pytest.mark.parametrize("mode", ["replace", "remove"])
@pytest.mark.parametrize("case", ["target", "generate"])
def test_token_occlusion_equals_a_loop(smollm2, mode, case):
    kwargs = {"target": " Paris"} if case == "target" else {"generate": 2}
    result = attribute(smollm2, PROMPT, method="occlusion", mode=mode, **kwargs)
    ids = [int(x) for x in result.tokens.ids]
    assert len(result.target_positions) == (1 if case == "target" else 2)
    expected = occlusion_loop(smollm2, ids, result.target_positions, lambda t: [(j, j + 1) for j in range(t)], mode,
                              baseline=smollm2.tokenizer.pad_token_id)  # the documented default baseline
    np.testing.assert_allclose(result.scores, expected, rtol=1e-4, atol=2e-4)
    assert np.isnan(result.scores[0, result.target_positions[0]:]).all()


@pytest.mark.parametrize("mode", ["replace", "remove"])
@pytest.mark.parametrize("case", ["target", "generate"])
def test_word_occlusion_equals_a_loop(smollm2, mode, case):
    kwargs = {"target": " it"} if case == "target" else {"generate": 2}
    result = attribute(smollm2, WORDY, method="occlusion", level="word", mode=mode, baseline=0, **kwargs)
    ids = [int(x) for x in result.tokens.ids]
    spans = pert.group_tokens(result.tokens, "word")
    words = ["".join(result.tokens.text[s:e]) for s, e in spans]
    assert words[:6] == ["Photosynthesis", " happens", " in", " chloroplasts", ",", " so"]
    assert spans[:6] == [(0, 2), (2, 3), (3, 4), (4, 6), (6, 7), (7, 8)]

    def spans_for(t):
        return [(s, min(e, t)) for s, e in spans if s < t]

    expected = occlusion_loop(smollm2, ids, result.target_positions, spans_for, mode, baseline=0)
    np.testing.assert_allclose(result.scores, expected, rtol=1e-4, atol=2e-4)
    row = result.row(0)
    assert row[0] == row[1] and row[4] == row[5]  # every token of a word gets the word's score


def test_sentences_and_special_tokens_make_their_own_units(smollm2):
    text = "Hello world. It rains! Why? Don't.\nNew line"
    tokens = smollm2.tokens_from_ids(smollm2.tokenize(text).ids.tolist())
    sentences = ["".join(tokens.text[s:e]) for s, e in pert.group_tokens(tokens, "sentence")]
    assert sentences == ["Hello world.", " It rains!", " Why?", " Don't.", "\nNew line"]
    words = ["".join(tokens.text[s:e]) for s, e in pert.group_tokens(tokens, "word")]
    assert words == ["Hello", " world", ".", " It", " rains", "!", " Why", "?", " Don", "'t", ".", "\nNew", " line"]
    chat = smollm2.tokens_from_ids(smollm2.tokenize("<|im_start|>user\nHi there. Bye<|im_end|>").ids.tolist())
    sentences = ["".join(chat.text[s:e]) for s, e in pert.group_tokens(chat, "sentence")]
    assert sentences == ["<|im_start|>", "user\nHi there.", " Bye", "<|im_end|>"]


def test_occlusion_runs_only_the_changed_suffixes(smollm2, monkeypatch):
    """Occluding token j recomputes tokens j.. only: about L^2/2 token positions, where running
    every perturbed copy whole costs L^2. The plain batches (no packing) give the same scores."""
    text = "The old lighthouse keeper climbed the stairs every night to light the lamp for the ships at"
    problem = problem_for(smollm2, text, " sea")
    n = problem.targets[0]
    seen = []
    hook = smollm2.model.get_input_embeddings().register_forward_pre_hook(lambda m, args: seen.append(args[0].numel()))
    try:
        packed, extra = ATTRIBUTION_METHODS["occlusion"].fn(problem, baseline=0, batch=8)
    finally:
        hook.remove()
    assert sum(seen) == extra["tokens_run"]
    assert sum(seen) < 0.6 * n * (n + 1), (sum(seen), n)
    monkeypatch.setattr(pert._Runner, "_packing_works", lambda self: False)
    plain, extra_plain = ATTRIBUTION_METHODS["occlusion"].fn(problem, baseline=0, batch=8)
    np.testing.assert_allclose(packed, plain, rtol=1e-4, atol=2e-4)
    assert extra_plain["tokens_run"] > extra["tokens_run"]


def test_rows_arrive_in_order_and_cancelling_stops(smollm2):
    rows = []
    result = attribute(smollm2, PROMPT, generate=3, method="occlusion", batch=2,
                       on_row=lambda i, row: rows.append((i, row.copy())))
    assert [i for i, _ in rows] == [0, 1, 2]
    for i, row in rows:
        np.testing.assert_array_equal(row[: result.target_positions[i]], result.row(i))
    with pytest.raises(Cancelled):
        attribute(smollm2, PROMPT, target=" Paris", method="occlusion", batch=1, cancelled=lambda: True)
    with pytest.raises(Cancelled):
        attribute(smollm2, PROMPT, target=" Paris", method="shapley_sampling", cancelled=lambda: True)


def test_occlusion_of_a_contrast_is_the_difference(smollm2):
    both = attribute(smollm2, PROMPT, target=" Paris", method="occlusion", contrast=" Rome")
    paris = attribute(smollm2, PROMPT, target=" Paris", method="occlusion")
    rome = attribute(smollm2, PROMPT, target=" Rome", method="occlusion")
    np.testing.assert_allclose(both.row(0), paris.row(0) - rome.row(0), rtol=1e-4, atol=2e-4)


# -- Shapley values -----------------------------------------------------------------------------
def test_exact_shapley_of_known_games():
    """An additive game gives each player its own value; a unanimity game on T splits 1 equally
    among T; Shapley values are linear in the game."""
    n = 4
    masks = np.arange(1 << n)
    present = (masks[:, None] >> np.arange(n)) & 1
    a = np.array([1.0, -2.0, 0.5, 3.0])
    unanimity = (present[:, [1, 3]].sum(axis=1) == 2).astype(float)
    phi = pert.exact_shapley(present @ a + 6.0 * unanimity)
    np.testing.assert_allclose(phi, a + np.array([0.0, 3.0, 0.0, 3.0]), atol=1e-12)
    with pytest.raises(ValueError, match="2\\*\\*n entries"):
        pert.exact_shapley(np.zeros(6))


@pytest.fixture(scope="module")
def six(smollm2):
    """The six-token problem and the value of every coalition (absent tokens -> the pad token),
    from a plain forward pass of the perturbed ids."""
    problem = problem_for(smollm2, SIX, " Paris")
    ids = problem.ids.tolist()
    t = problem.targets[0]
    assert t == 6
    base = smollm2.tokenizer.pad_token_id
    batch = torch.as_tensor([[ids[j] if m >> j & 1 else base for j in range(t)] for m in range(1 << t)])
    with torch.no_grad():  # 64 sequences of one length: one plain batch, no padding, no cache
        logits = smollm2.model(input_ids=batch).logits[:, -1].float()
    table = torch.log_softmax(logits, -1)[:, ids[t]].numpy().astype(np.float64)
    assert table[-1] == pytest.approx(logprob(smollm2, ids, t), abs=1e-4)
    return problem, table


def test_coalition_values_and_exact_shapley(six):
    problem, table = six
    spans, values = pert.coalition_values(problem)
    assert spans == [(j, j + 1) for j in range(6)]
    np.testing.assert_allclose(values, table, rtol=1e-4, atol=2e-4)
    phi = pert.exact_shapley(table)
    assert phi.sum() == pytest.approx(table[-1] - table[0], abs=1e-9)  # efficiency


def test_shapley_sampling_approaches_the_exact_values(six):
    problem, table = six
    exact = pert.exact_shapley(table)
    scale = np.abs(exact).max()
    method = ATTRIBUTION_METHODS["shapley_sampling"].fn
    errors = []
    for n_samples in (10, 100, 10_000):
        rows, extra = method(problem, n_samples=n_samples, seed=0)
        errors.append(np.abs(rows[0, :6] - exact).max())
        assert np.isnan(rows[0, 6:]).all()
        assert rows[0, :6].sum() == pytest.approx(table[-1] - table[0], abs=1e-3)  # every chain sums to the gap
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[2] < 0.01 * scale, (errors, scale)
    stderr = extra["stderr"][0, :6]
    assert (np.abs(rows[0, :6] - exact) <= 4 * stderr + 1e-3).all()
    again, _ = method(problem, n_samples=10, seed=0)
    first, _ = method(problem, n_samples=10, seed=0)
    np.testing.assert_array_equal(again, first)


def test_kernel_shap_with_every_coalition_is_exact(six):
    problem, table = six
    exact = pert.exact_shapley(table)
    rows, extra = ATTRIBUTION_METHODS["kernel_shap"].fn(problem, n_samples=62)
    assert extra["fits"][0]["enumerated"] and len(extra["fits"][0]["masks"]) == 62
    np.testing.assert_allclose(rows[0, :6], exact, rtol=1e-4, atol=5e-4)
    sampled, extra = ATTRIBUTION_METHODS["kernel_shap"].fn(problem, n_samples=30, seed=1)
    assert not extra["fits"][0]["enumerated"]
    assert sampled[0, :6].sum() == pytest.approx(table[-1] - table[0], abs=1e-3)  # the efficiency constraint


def test_every_target_of_a_generation_gets_its_own_shapley_values(smollm2):
    """One chain of coalitions serves all targets (sampling); KernelSHAP fits each target on its
    own units; both against exact values from every coalition of that target's units."""
    result = attribute(smollm2, "Paris is in", generate=3, method="kernel_shap", n_samples=100)
    problem = Problem(smollm2, torch.as_tensor(result.tokens.ids), result.n_prompt, result.target_positions, [None] * 3)
    sampled, _ = ATTRIBUTION_METHODS["shapley_sampling"].fn(problem, n_samples=2000, seed=0)
    for i, t in enumerate(result.target_positions):
        spans, values = pert.coalition_values(problem, i)
        assert len(spans) == t
        exact = pert.exact_shapley(values)
        np.testing.assert_allclose(result.row(i), exact, rtol=1e-4, atol=5e-4)
        assert np.abs(sampled[i, :t] - exact).max() < 0.05 * np.abs(exact).max()
        assert np.isnan(sampled[i, t:]).all() and np.isnan(result.scores[i, t:]).all()


def test_lime_on_every_coalition_with_a_flat_kernel_gives_banzhaf_values(six):
    """Least squares on the whole hypercube, uniform weights, no penalty: a unit's coefficient is
    its mean gain over all coalitions without it (the Banzhaf value): a known linear answer."""
    problem, table = six
    masks = np.arange(64)
    banzhaf = np.array([np.mean(table[masks[masks >> j & 1 == 0] | 1 << j] - table[masks[masks >> j & 1 == 0]])
                        for j in range(6)])
    rows, extra = ATTRIBUTION_METHODS["lime"].fn(problem, n_samples=64, kernel_width=math.inf, alpha=0.0)
    np.testing.assert_allclose(rows[0, :6], banzhaf, rtol=1e-4, atol=5e-4)
    fit = extra["fits"][0]
    assert fit["masks"].shape == (64, 6) and fit["masks"][0].all()  # the input itself comes first


def test_lime_fits_the_model_on_its_samples_and_is_reproducible(smollm2):
    problem = problem_for(smollm2, "The Eiffel Tower is a famous landmark in the city of", " Paris")
    t = problem.targets[0]
    method = ATTRIBUTION_METHODS["lime"].fn
    rows, extra = method(problem, n_samples=40, seed=3)
    fit = extra["fits"][0]
    assert fit["masks"].shape == (40, t) and fit["masks"][0].all()
    ids = problem.ids.tolist()
    base = smollm2.tokenizer.pad_token_id
    for k in (0, 7, 23, 39):  # the stored values are the model's
        perturbed = [ids[j] if fit["masks"][k, j] else base for j in range(t)] + [ids[t]]
        assert fit["values"][k] == pytest.approx(logprob(smollm2, perturbed, t), abs=2e-4)
    predicted = fit["intercept"] + fit["masks"] @ fit["coefficients"]
    weights = fit["weights"]
    mean = np.average(fit["values"], weights=weights)
    r2 = 1 - np.sum(weights * (fit["values"] - predicted) ** 2) / np.sum(weights * (fit["values"] - mean) ** 2)
    assert r2 == pytest.approx(fit["r2"]) and r2 > 0.5
    np.testing.assert_array_equal(rows[0, :t], fit["coefficients"].astype(np.float32))
    again, _ = method(problem, n_samples=40, seed=3)
    np.testing.assert_array_equal(again, rows)
    other, _ = method(problem, n_samples=40, seed=4)
    assert not np.array_equal(other, rows)


# -- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "occlusion", "level": "character"}, "unknown level 'character'; choose one of token, word, sentence"),
        ({"method": "lime", "level": 3}, "unknown level 3; choose one of token, word, sentence"),
        ({"method": "occlusion", "mode": "blank"}, "unknown mode 'blank'; choose one of replace, remove"),
        ({"method": "shapley_sampling", "n_samples": 0}, "n_samples must be a positive integer, got 0"),
        ({"method": "kernel_shap", "n_samples": 2.5}, "n_samples must be a positive integer, got 2.5"),
        ({"method": "lime", "n_samples": True}, "n_samples must be a positive integer, got True"),
        ({"method": "occlusion", "batch": -1}, "batch must be a positive integer"),
        ({"method": "lime", "kernel_width": 0}, "kernel_width must be a positive number"),
        ({"method": "lime", "mode": "remove"}, "mode= is an occlusion option"),
        ({"method": "occlusion", "baseline": "zeros"}, "baseline='zeros'"),
        ({"method": "occlusion", "baseline": 10**7}, "out of range"),
    ],
)
def test_bad_options_say_what_to_do(smollm2, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", "\\(").replace(")", "\\)").replace(".", "\\.")):
        attribute(smollm2, PROMPT, target=" Paris", **kwargs)


def test_removing_the_only_context_is_refused(smollm2):
    with pytest.raises(ValueError, match="at least one token to read; use mode='replace'"):
        attribute(smollm2, "Paris", target=" is", method="occlusion", mode="remove")
