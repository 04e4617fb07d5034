"""Integrated gradients with ``n_steps="auto"``: the adaptive Simpson rule and the fixed rules'
step ladders reach the tolerance, reuse their points, equal a fixed run at the steps they report,
stop where more steps cannot help, and say so when they do not converge."""

from __future__ import annotations

import numpy as np
import pytest

from llmxai_widgets.methods.attribution import attribute, prepare
from llmxai_widgets.methods.attribution import gradient as ig

PROMPT = "The capital of France is"


def run(model, prompt=PROMPT, target=" Paris", **options):
    """The method itself: its extra output carries the steps each target used."""
    problem, _ = prepare(model, prompt, target=target)
    return ig.integrated_gradients(problem, **options)


class Counting:
    """Counts the path points evaluated (forward and backward passes run)."""

    def __init__(self, monkeypatch):
        self.points = 0
        inner = ig._Path._run

        def counted(path, alphas, targets):
            self.points += len(alphas)
            return inner(path, alphas, targets)

        monkeypatch.setattr(ig._Path, "_run", counted)


def test_auto_adaptive_converges_and_equals_a_fixed_budget_run(smollm2):
    rows, extra = run(smollm2, n_steps="auto", tolerance=0.05)
    assert extra["rule"] == "adaptive_simpson" and extra["converged"] and not extra["notes"]
    steps = extra["steps"][0]
    assert 17 <= steps <= 400
    # converging on the panels' own errors bounds the completeness error
    assert extra["local_error"][0] <= 0.05 and extra["completeness"][0] <= 0.05 + 1e-4
    again, fixed = run(smollm2, n_steps=steps, rule="adaptive_simpson")
    assert fixed["steps"] == [steps]
    scale = np.nanmax(np.abs(rows))
    assert np.nanmax(np.abs(again - rows)) <= 1e-5 * scale
    # through attribute(): the same scores, converged, no note
    result = attribute(smollm2, PROMPT, target=" Paris", n_steps="auto")
    assert result.converged and not result.notes and result.completeness[0] <= 0.05 + 1e-4
    assert result.params["rule"] == "adaptive_simpson" and result.params["steps"] == [steps]
    assert result.params["local_error"][0] == pytest.approx(float(extra["local_error"][0]))
    np.testing.assert_allclose(result.row(0), rows[0, :5], rtol=0, atol=1e-5 * scale)


def test_auto_trapezoid_reuses_its_points_and_equals_a_fixed_run(smollm2, monkeypatch):
    counting = Counting(monkeypatch)
    rows, extra = run(smollm2, n_steps="auto", rule="riemann_trapezoid", max_steps=129)
    steps = extra["steps"][0]
    assert steps in (17, 33, 65, 129)
    assert counting.points == steps  # each level computed only the new midpoints
    assert extra["converged"] == (extra["completeness"][0] <= 0.05)
    again, fixed = run(smollm2, n_steps=steps, rule="riemann_trapezoid")
    np.testing.assert_allclose(again, rows, rtol=0, atol=1e-5 * np.nanmax(np.abs(rows)))
    assert fixed["completeness"][0] == pytest.approx(extra["completeness"][0], abs=1e-5)


def test_not_converged_says_so_after_max_steps(smollm2):
    result = attribute(smollm2, PROMPT, target=" Paris", n_steps="auto", max_steps=17, tolerance=1e-6)
    assert result.converged is False and len(result.notes) == 1
    note = result.notes[0]
    assert "did not converge" in note and "after 17 steps" in note and "adaptive_simpson panels' errors" in note
    result = attribute(smollm2, PROMPT, target=" Paris", n_steps="auto", rule="gausslegendre", max_steps=16,
                       tolerance=1e-6)
    assert result.converged is False and "after 16 steps" in result.notes[0]


def test_rows_stream_as_targets_finish_and_the_first_comes_alone(smollm2, monkeypatch):
    counting = Counting(monkeypatch)
    seen = []
    result = attribute(smollm2, PROMPT, generate=3, method="integrated_gradients", n_steps=8, batch=25,
                       on_row=lambda i, row: seen.append((i, counting.points)))
    assert [i for i, _ in seen] == [0, 1, 2]
    assert seen[0][1] == 8 < seen[-1][1] == 16  # target 0's 8 points, then the other two's shared 8
    assert np.isfinite(result.row(2)).all()


def test_zero_embedding_baseline_has_no_nan_at_the_baseline(smollm2):
    """The gradient at exactly the zero embedding is NaN in SmolLM2; rules with a point there
    take it just inside the path."""
    for rule, steps in (("riemann_trapezoid", 5), ("adaptive_simpson", 9)):
        rows, _ = run(smollm2, n_steps=steps, rule=rule, baseline="zeros")
        assert np.isfinite(rows[0, :5]).all(), rule


def test_bad_budget_and_rule_say_what_to_do(smollm2):
    with pytest.raises(ValueError, match="adaptive_simpson needs at least 3 steps"):
        run(smollm2, n_steps=2, rule="adaptive_simpson")
    with pytest.raises(ValueError, match="no fixed points"):
        ig.integration_rule("adaptive_simpson", 8)


# -- the stopping rules on known functions (no model) ----------------------------------------------

class FakePath:
    """A path whose target value ``f`` and slope ``g`` are given functions of alpha, one token."""

    def __init__(self, f, g, gap, batch=25):
        self.f, self.g, self.gaps, self.batch, self.which = f, g, np.array([gap]), batch, [0]
        self.evaluated = 0

    def at(self, alphas, targets):
        self.evaluated += len(alphas)
        a = np.asarray(alphas, float)
        return self.f(a)[None], self.g(a)[None, :, None]

    def errors(self, scores, targets):
        return np.abs(scores.sum(-1) - self.gaps) / np.abs(self.gaps)


def finisher():
    done = {}

    def finish(t, row, err, steps, why=None, local=None):
        done.update(row=row, err=err, steps=steps, why=why, local=local)

    return done, finish


def test_adaptive_simpson_refines_where_the_path_is_sharp():
    # a smooth rise plus a tanh step of width 1e-3 at 0.37: uniform rules need thousands of points
    w = 1e-3
    path = FakePath(lambda a: a**2 + np.tanh((a - 0.37) / w), lambda a: 2 * a + (1 - np.tanh((a - 0.37) / w) ** 2) / w,
                    gap=1 + np.tanh(0.63 / w) - np.tanh(-0.37 / w))
    done, finish = finisher()
    ig._adaptive_simpson(path, 0, 0.01, 400, finish)
    assert done["why"] is None and done["local"] <= 0.01 and done["err"] <= 0.01
    assert done["steps"] < 150
    alphas, weights = ig.integration_rule("riemann_trapezoid", done["steps"])
    uniform = (weights * path.g(alphas)).sum()
    assert abs(uniform - path.gaps[0]) / path.gaps[0] > 0.01  # the same number of equal steps misses it


def test_adaptive_simpson_stops_at_a_jump_and_says_where():
    path = FakePath(lambda a: a + 0.5 * (a > 0.3), lambda a: np.ones_like(a), gap=1.5)
    done, finish = finisher()
    ig._adaptive_simpson(path, 0, 0.05, 400, finish)
    assert done["steps"] < 120 and done["local"] > 0.05
    assert "jump of 0.5 near alpha = " in done["why"]
    where = float(done["why"].split("near alpha = ")[1].split()[0])
    assert where == pytest.approx(0.3, abs=2e-6)


def test_ladder_stops_when_the_sum_stops_changing():
    # the slope integrates to 1 whatever the rule, but f(input) - f(baseline) is 2
    path = FakePath(lambda a: a, lambda a: np.ones_like(a), gap=2.0)
    seen = []
    ig._auto_fixed_rule(path, "gausslegendre", 0.05, 400,
                        lambda t, row, err, steps, why=None: seen.append((steps, why)))
    assert len(seen) == 1 and seen[0][0] == 64 and "stopped changing" in seen[0][1]
    assert path.evaluated == 16 + 32 + 64
    assert ig._ladder("riemann_trapezoid", 400) == [17, 33, 65, 129, 257, 400]
    assert ig._ladder("riemann_middle", 100) == [16, 48, 100] and ig._ladder("gausslegendre", 8) == [8]
