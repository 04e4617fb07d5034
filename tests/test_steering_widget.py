"""SteeringView's traits against the computation (generate, concept_curve), what the person
types in the view (a refused alpha keeps the columns, through the browser's own message path),
cancelling, the notice when the model's weights change, figures and the Export button."""

from __future__ import annotations

import numpy as np
import pytest

import llmxai_widgets as lx
from llmxai_widgets.methods.use import pairs
from llmxai_widgets.methods.use.steering_generate import concept_curve, generate

PROMPT = "I went to the new cafe yesterday. The food was"
CONCEPT = [" great", " good"]


@pytest.fixture(scope="module")
def vector(smollm2):
    return lx.steering_vector(smollm2, *pairs.load("sentiment"), layers=[12])


@pytest.fixture(scope="module")
def view(smollm2, vector):
    return lx.SteeringView(smollm2, vector, PROMPT, alphas=[-6, 0, 6], max_new_tokens=8, concept=CONCEPT, background=False)


def test_traits_are_the_generations_and_the_curve(smollm2, vector, view):
    result = generate(smollm2, PROMPT, vector, [-6, 0, 6], max_new_tokens=8, concept=CONCEPT)
    assert view.status == "ready" and view.error == ""
    for column, shown in enumerate(view.columns):
        assert shown["alpha"] == result.alphas[column]
        assert shown["tokens"] == result.tokens[column]
        assert np.allclose(shown["scores"], result.scores[column], atol=1e-4)
        assert np.allclose(shown["concept"], result.concept_probability[column], atol=1e-5)
        assert [[tok for tok, _ in step] for step in view.top[column]] == [[tok for tok, _ in step] for step in result.top[column]]
    assert view.score_center == pytest.approx(np.mean(result.scores[1]), abs=1e-4)
    grid = view.curve["alphas"]
    assert grid[0] == -6 and grid[-1] == 6 and {-6, 0, 6} <= set(grid)
    assert np.allclose(view.curve["probability"], concept_curve(smollm2, PROMPT, vector, grid, CONCEPT), atol=1e-6)
    assert view.concept == CONCEPT


def test_a_refused_alpha_keeps_the_columns_and_says_why(view):
    before = [dict(c) for c in view.columns]
    view.set_state({"alphas": [-6, "strong", 6]})  # what the browser sends
    assert "alpha must be a number" in view.error and "'strong'" in view.error
    assert view.alphas == [-6.0, 0.0, 6.0] and view.columns == before
    view.set_state({"alphas": [float("nan")]})
    assert "finite" in view.error
    view.set_state({"prompt": "   "})
    assert "the prompt is empty" in view.error and view.prompt == PROMPT


def test_new_alphas_recompute(smollm2, vector):
    view = lx.SteeringView(smollm2, vector, PROMPT, alphas=[0], max_new_tokens=4, background=False)
    view.alphas = [4, -4]
    assert [c["alpha"] for c in view.columns] == [4.0, -4.0]
    assert view.columns[0]["tokens"] == generate(smollm2, PROMPT, vector, [4], max_new_tokens=4).tokens[0]


def test_cancel_keeps_the_tokens_so_far(smollm2, vector):
    view = lx.SteeringView(smollm2, vector, PROMPT, alphas=[0], max_new_tokens=2, background=False)
    steps = []
    original = view._show

    def show(result, *, final):
        original(result, final=final)
        steps.append(len(result.tokens[0]))
        if len(steps) == 3:
            view.cancel()

    view._show = show
    view.max_new_tokens = 10
    view._recompute()
    assert view.status == "cancelled" and len(view.columns[0]["tokens"]) == 3


def test_the_view_says_when_the_weights_change(smollm2, view):
    smollm2.weights_changed("edit applied: a test")
    try:
        assert "weights changed after this view computed (edit applied: a test)" in view.error
    finally:
        view.error = ""


def test_figures_and_export(view, svg_texts, press_export, tmp_path):
    texts = svg_texts(view.figure().svg())
    assert "\u03b1 = -6" in texts and "\u03b1 = +6" in texts and "concept probability by alpha" in texts
    for column in view.columns:
        for token in column["tokens"]:
            if token.strip():
                assert any(token.strip() in text for text in texts), token
    for suffix in ("svg", "pdf", "png"):
        assert view.save(tmp_path / f"s.{suffix}").stat().st_size > 1000
    kind, content, buffers = press_export(view, format="svg", theme="dark")
    assert kind == "export" and content["ok"] and content["name"] == "steering-smollm2.svg"
    assert b"<svg" in buffers[0]


def test_constructor_errors(smollm2, vector, tiny_gqa):
    with pytest.raises(TypeError, match="vector must come from lx.steering_vector"):
        lx.SteeringView(smollm2, [1, 2], PROMPT)
    with pytest.raises(ValueError, match="computed on"):
        lx.SteeringView(tiny_gqa, vector, PROMPT)
    with pytest.raises(ValueError, match="max_new_tokens must be an integer from 1 to 256"):
        lx.SteeringView(smollm2, vector, PROMPT, max_new_tokens=0)
    with pytest.raises(TypeError, match="alpha must be a number"):
        lx.SteeringView(smollm2, vector, PROMPT, alphas=[1, "x"])
    with pytest.raises(ValueError, match="text is empty"):
        lx.SteeringView(smollm2, vector, "")
    with pytest.raises(ValueError, match="1 to 9 alphas"):
        lx.SteeringView(smollm2, vector, PROMPT, alphas=list(range(10)))
