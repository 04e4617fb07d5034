"""ProbeView's traits against lx.probe computed here with the same arguments, layers streaming in,
the picked layer's confusion table and mistakes, a refused layer and position (through the
browser's own message path), the position switch, cancelling, the constructor's errors, the
weights-changed notice, figures and the Export button."""

from __future__ import annotations

import numpy as np
import pytest

import llmxai_widgets as lx
from llmxai_widgets.methods.use import datasets
from llmxai_widgets.widgets.probe import ProbeView

LAYERS = [3, 15]


def as_shown(values) -> list:
    return [None if np.isnan(v) else float(v) for v in values]


@pytest.fixture(scope="module")
def view(smollm2):
    return ProbeView(smollm2, dataset="sentiment", layers=LAYERS, background=False)


@pytest.fixture(scope="module")
def result(smollm2):
    return lx.probe(smollm2, *datasets.load("sentiment"), layers=LAYERS)


def small_set() -> tuple[list[str], list[int]]:
    """20 sentiment texts (10 per label), labelled 1 (positive) and 0: a quick probe."""
    texts, labels = datasets.load("sentiment")
    keep = [i for i, label in enumerate(labels) if label == "negative"][:10] + [i for i, label in enumerate(labels) if label == "positive"][:10]
    return [texts[i] for i in keep], [int(labels[i] == "positive") for i in keep]


def test_traits_are_the_probe(view, result):
    assert view.status == "ready" and view.error == ""
    assert view.layers == LAYERS and view.classes == ["negative", "positive"] and view.dataset == "sentiment"
    assert view.n_texts == 48 and view.class_counts == [24, 24] and view.chance == result.chance == 0.5
    assert view.position == "last" and view.folds == 5 and view.control
    assert view.accuracy == as_shown(result.accuracy)
    assert view.control_accuracy == as_shown(result.control_accuracy)
    assert view.selectivity == as_shown(result.selectivity)
    assert view.done == [True, True]
    assert np.array_equal(view.result.predictions, result.predictions)


def test_the_picked_layer_shows_its_confusion_and_mistakes(view, result):
    view.picked_layer = 15
    detail = view.detail
    assert detail["layer"] == 15 and detail["accuracy"] == result.accuracy[1]
    assert detail["confusion"] == result.confusion(15).tolist()
    wrong = result.wrong(15)
    assert detail["n_wrong"] == len(wrong) == sum(detail["confusion"][0][1:]) + detail["confusion"][1][0]
    assert detail["wrong"] == [{k: w[k] for k in ("index", "text", "label", "predicted", "probability")} for w in wrong[:50]]
    view.picked_layer = -1
    assert view.detail == {}


def test_a_refused_layer_or_position_keeps_the_view_and_says_why(view):
    view.picked_layer = 3
    before = dict(view.detail)
    view.set_state({"picked_layer": 99})  # what the browser sends
    assert "picked_layer must be one of the probed layers [3, 15]" in view.error and "99" in view.error
    assert view.picked_layer == 3 and view.detail == before
    view.set_state({"position": "first"})
    assert "position must be one of 'last', 'mean'" in view.error and view.position == "last"
    assert view.status == "ready" and view.done == [True, True]
    view.error = ""


def test_layers_stream_in_and_the_position_switch_recomputes(smollm2):
    texts, labels = small_set()
    view = ProbeView(smollm2, texts, labels, layers=[2, 9, 20], background=False)
    assert view.classes == ["0", "1"] and view.dataset == ""
    seen = []
    view.observe(lambda change: seen.append((list(change["new"]), list(view.accuracy))), "done")
    view.picked_layer = 9
    view.position = "mean"  # the switch in the view: computes again, layer by layer
    assert [done for done, _ in seen] == [[False] * 3, [True, False, False], [True, True, False], [True, True, True]]
    assert seen[1][1][0] is not None and seen[1][1][1:] == [None, None]  # a layer's accuracy arrives with it
    expected = lx.probe(smollm2, texts, labels, layers=[2, 9, 20], position="mean")
    assert view.status == "ready" and view.position == "mean"
    assert view.accuracy == as_shown(expected.accuracy) and view.selectivity == as_shown(expected.selectivity)
    assert view.detail["confusion"] == expected.confusion(9).tolist()  # the picked layer follows
    assert view.detail["wrong"][0]["label"] in ("0", "1")


def test_cancel_keeps_the_layers_done(smollm2, svg_texts):
    texts, labels = small_set()
    view = ProbeView(smollm2, texts, labels, layers=[1, 2, 3], control=False, background=False)
    assert view.control_accuracy == [] and view.selectivity == []
    original = view._show

    def show(result):
        original(result)
        view.cancel()  # the person presses Cancel once the first layer is in

    view._show = show
    view._recompute()
    assert view.status == "cancelled" and view.progress_label == "cancelled after 1 of 3 layers; those stay"
    assert view.done == [True, False, False] and view.accuracy[0] is not None and view.accuracy[1:] == [None, None]
    view.picked_layer = 2
    assert view.detail == {}  # not done: nothing to show
    view.picked_layer = 1
    assert view.detail["layer"] == 1
    texts_drawn = svg_texts(view.figure().svg())
    assert "L1" in texts_drawn and "L3" in texts_drawn and "selectivity" not in texts_drawn


def test_the_view_says_when_the_weights_change(smollm2, view):
    smollm2.weights_changed("edit applied: a probe test")
    try:
        assert "weights changed after this view computed (edit applied: a probe test)" in view.error
    finally:
        view.error = ""


def test_figures_and_export(view, result, svg_texts, press_export, tmp_path):
    view.picked_layer = 15
    texts = svg_texts(view.figure().svg())
    assert {"L3", "L15", "held-out accuracy", "control task", "selectivity", "negative", "positive"} <= set(texts)
    counts = result.confusion(15)
    assert [str(c) for c in counts.ravel()] == [t for t in texts if t.isdigit()][-4:]
    for wrong in result.wrong(15)[:8]:
        assert wrong["text"] in texts
    assert f"{len(result.wrong(15))} wrong at L15, the 8 most confident:" in texts
    plain = svg_texts(view.figure(layer=-1).svg())
    assert "L3" in plain and not any("wrong at" in t for t in plain)
    with pytest.raises(ValueError, match=r"layer 7 is not in this result; it holds layers \[3, 15\]"):
        view.figure(layer=7)
    for suffix in ("svg", "pdf", "png"):
        assert view.save(tmp_path / f"p.{suffix}").stat().st_size > 1000
    kind, content, buffers = press_export(view, format="svg", theme="dark")
    assert kind == "export" and content["ok"] and content["name"] == "probe-smollm2-last.svg"
    assert b"<svg" in buffers[0] and b"L15" in buffers[0]


def test_constructor_errors(smollm2, tiny_t5):
    texts = ["The cat sat.", "A dog ran.", "Birds sing.", "Fish swim.", "Cows moo.", "Bees buzz."]
    with pytest.raises(ValueError, match="at least two classes; every label is 'a'"):
        ProbeView(smollm2, texts, ["a"] * 6)
    with pytest.raises(ValueError, match="same length: got 6 texts and 5 labels"):
        ProbeView(smollm2, texts, ["a", "b", "a", "b", "a"])
    with pytest.raises(ValueError, match="unknown dataset 'movies'; the probe datasets are 'tense'"):
        ProbeView(smollm2, dataset="movies")
    with pytest.raises(ValueError, match="either texts and labels or dataset"):
        ProbeView(smollm2, texts, ["a", "b"] * 3, dataset="tense")
    with pytest.raises(ValueError, match="pass texts and labels"):
        ProbeView(smollm2, texts)
    with pytest.raises(ValueError, match="fewer than folds=5"):
        ProbeView(smollm2, texts, ["a", "b"] * 3)
    with pytest.raises(IndexError, match="layer 40 is out of range: smollm2 has 30 blocks"):
        ProbeView(smollm2, dataset="tense", layers=[40])
    with pytest.raises(ValueError, match="position must be 'last'"):
        ProbeView(smollm2, dataset="tense", position="first")
    with pytest.raises(TypeError, match="model must come from llmxai_widgets.load_model"):
        ProbeView("smollm2", dataset="tense")
    with pytest.raises(ValueError, match="encoder-decoder"):
        ProbeView(tiny_t5, dataset="tense")
    with pytest.raises(ValueError, match=r"texts\[1\] must be a non-empty string"):
        ProbeView(smollm2, ["a", " ", "c"], ["x", "y", "x"])
