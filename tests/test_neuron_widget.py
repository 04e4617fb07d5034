"""NeuronView's Python side: only the selected layer's slice travels (and decodes to the result
within its quantisation error), streaming and cancel, the neuron detail's corpus search, NMF
factors, errors in Python and in the view, figures (hostile tokens escaped) and exports."""

from __future__ import annotations

import time

import numpy as np
import pytest
import traitlets

import llmxai_widgets as lx
from llmxai_widgets.figures import display_token
from llmxai_widgets.widgets.neuron_panes import aggregate_bins, color_max, column_order, top_union
from llmxai_widgets.wire import decode

TEXT = "The quick brown fox jumps over the lazy dog. Paris is the capital of France."
CORPUS = ["The cat sat on the mat.", "Paris is the capital of France.", "One, two, three, four, five."]
HOSTILE = "Tag </text><script>alert(1)</script> & <b>bold</b> \u202eevil"


def until(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Watching(lx.NeuronView):
    """Records every slice sent to the browser."""

    @traitlets.observe("layer_slice")
    def _sent(self, change):
        self.__dict__.setdefault("sent", []).append(change["new"])


def test_only_the_selected_layer_travels_and_decodes_to_the_result(smollm2):
    view = Watching(smollm2, TEXT, layer=4, background=False)
    result = view.result
    assert view.status == "ready" and result.complete and view.layers_done == list(range(30))
    assert [s["layer"] for s in view.sent] == [4], "the slice went more than once, or another layer went"
    slice_ = view.layer_slice
    values = decode(slice_["activations"])
    assert slice_["activations"]["dtype"] == "float16" and values.shape == (len(view.tokens), 1536)
    assert len(slice_["activations"]["data"]) == len(view.tokens) * 1536 * 2  # one layer, 2 bytes a value
    np.testing.assert_allclose(values, result.layer(4), rtol=1e-3, atol=1e-6)  # float16: 11-bit mantissa
    np.testing.assert_array_equal(decode(slice_["top"]), result.top[result.row(4)])
    np.testing.assert_array_equal(decode(slice_["order"]), column_order(result.layer(4), "max"))
    # another layer replaces it: still one layer in the trait
    view.layer = 17
    assert view.layer_slice["layer"] == 17
    np.testing.assert_allclose(decode(view.layer_slice["activations"]), result.layer(17), rtol=1e-3, atol=1e-6)
    # the independent reference: every layer of the result agrees with lx.neurons
    direct = lx.neurons(smollm2, TEXT, layers=[4, 17])
    np.testing.assert_allclose(result.layer(17), direct.layer(17), atol=1e-5)


def test_uint8_slices_are_within_half_a_step(smollm2):
    view = lx.NeuronView(smollm2, TEXT, layers=[2, 3], layer=3, quantize="uint8", background=False)
    tensor = view.layer_slice["activations"]
    assert tensor["dtype"] == "uint8" and len(tensor["data"]) == len(view.tokens) * 1536
    error = np.abs(decode(tensor) - view.result.layer(3)).max()
    assert error <= tensor["scale"] / 2 + 1e-6


def test_layers_stream_in_and_cancel_keeps_the_finished_ones(smollm2):
    class CancelAtThree(Watching):
        @traitlets.observe("layers_done")
        def _press(self, change):
            if len(change["new"]) == 3 and self.status == "computing":
                self.cancel()  # a person presses Cancel

    view = CancelAtThree(smollm2, TEXT, layer=10, background=False)
    assert view.status == "cancelled" and view.layers_done == [0, 1, 2]
    assert "3 of 30 layers kept" in view.progress_label
    assert view.layer == 2 and view.layer_slice["layer"] == 2  # the last finished layer is shown
    assert all(s["layer"] == 2 for s in view.sent)
    with pytest.raises(ValueError, match="layer 10 is not computed"):
        view.figure(layer=10)

    streamed = Watching(smollm2, TEXT, layers=[1, 5, 9], layer=5, background=True)
    streamed.wait(120)
    assert streamed.layers_done == [1, 5, 9] and [s["layer"] for s in streamed.sent][:1] == [5]


def test_neuron_detail_searches_the_corpus_in_the_background(smollm2):
    view = lx.NeuronView(smollm2, TEXT, layers=[3], corpus=CORPUS, background=False)
    view.neuron = 42
    until(lambda: view.corpus_status == "ready")
    top = view.corpus_top
    direct = lx.top_activating(smollm2, CORPUS, 3, 42)
    assert (top["layer"], top["neuron"], top["n_texts"]) == (3, 42, 3)
    assert [e["activation"] for e in top["examples"]] == pytest.approx([e.activation for e in direct.examples])
    assert [e["window"] for e in top["examples"]] == [e.window for e in direct.examples]
    windows = decode(top["windows"])
    np.testing.assert_allclose(windows[0, : len(direct.examples[0].window)], direct.examples[0].window_activations)
    # a kept answer comes back at once; a new neuron searches again
    view.neuron = 7
    until(lambda: view.corpus_status == "ready" and view.corpus_top["neuron"] == 7)
    view.neuron = 42
    assert view.corpus_status == "ready" and view.corpus_top["neuron"] == 42


def test_corpus_errors(smollm2):
    with pytest.raises(ValueError, match="corpus is empty"):
        lx.NeuronView(smollm2, TEXT, corpus=[])
    with pytest.raises(TypeError, match="not one string"):
        lx.NeuronView(smollm2, TEXT, corpus="one text")
    view = lx.NeuronView(smollm2, TEXT, layers=[0], background=False)
    with pytest.raises(ValueError, match="corpus is empty"):
        view.corpus = []
    assert "corpus is empty" in view.error  # the view shows it too
    view.neuron = 3  # no corpus: no search, the detail says how to get one
    assert view.corpus_status == "" and view.n_corpus == 0


def test_factors_tab(smollm2):
    view = lx.NeuronView(smollm2, TEXT, layers=[6], background=False)
    view.show(mode="factors")
    until(lambda: view.factors_status == "ready")
    payload = view.factors
    expected = lx.nmf(view.result, 6, 8)
    assert (payload["layer"], payload["k"]) == (6, 8)
    np.testing.assert_allclose(decode(payload["token_factors"]), expected.token_factors, atol=1 / 255)
    view.nmf_k = 3
    until(lambda: view.factors_status == "ready" and view.factors["k"] == 3)
    assert decode(view.factors["token_factors"]).shape == (3, len(view.tokens))


def test_errors_in_python_and_in_the_view(smollm2):
    with pytest.raises(IndexError, match="layer 30 is out of range: smollm2 has 30 layers, numbered 0-29"):
        lx.NeuronView(smollm2, TEXT, layers=[30])
    with pytest.raises(ValueError, match="layer 5 is not among the layers computed"):
        lx.NeuronView(smollm2, TEXT, layers=[1, 2], layer=5)
    with pytest.raises(ValueError, match="quantize must be one of"):
        lx.NeuronView(smollm2, TEXT, quantize="int4")
    with pytest.raises(TypeError, match="load_model"):
        lx.NeuronView("smollm2", TEXT)
    view = lx.NeuronView(smollm2, TEXT, layers=[1, 2], background=False)
    with pytest.raises(traitlets.TraitError, match="layer 7 was not computed"):
        view.layer = 7
    assert "layer 7 was not computed" in view.error and view.layer == 1
    with pytest.raises(traitlets.TraitError, match="neuron 1536 is out of range.*numbered 0-1535"):
        view.neuron = 1536
    assert "neuron 1536 is out of range" in view.error
    with pytest.raises(traitlets.TraitError, match="mode must be one of"):
        view.mode = "sideways"
    with pytest.raises(ValueError, match="no neuron is open"):
        view.figure("neuron")
    with pytest.raises(IndexError, match="neuron 9999 is out of range"):
        view.figure("neuron", neuron=9999)
    with pytest.raises(ValueError, match=r"'gif' is not one of svg, pdf, png"):
        view.save("x.gif")


def test_figures_escape_hostile_tokens(smollm2, tmp_path, svg_texts):
    view = lx.NeuronView(smollm2, HOSTILE, layers=[2], corpus=[HOSTILE, "plain text here"], background=False)
    view.neuron = 11
    until(lambda: view.corpus_status == "ready")
    labels = [display_token(t) for t in view.tokens]
    for fig in (view.figure("neurons", cols=(0, 30)), view.figure("neuron"), view.figure("factors", k=3)):
        svg = fig.svg()
        assert "<script" not in svg and "</text><script>" not in svg
        texts = svg_texts(svg)
        assert any("script" in t for t in texts)  # the tokens are there, as text
    heat = svg_texts(view.figure("neurons", cols=(0, 30)).svg())
    assert all(label in heat for label in labels), (labels, heat)
    assert "[U+202E]" in "".join(heat)  # the bidi override is shown, not obeyed
    for ext in ("svg", "pdf", "png"):
        assert view.save(tmp_path / f"n.{ext}", view="top").stat().st_size > 1000
    view.save(tmp_path / "dark.png", theme="dark")


def test_figure_matches_the_screen_rules(smollm2):
    view = lx.NeuronView(smollm2, TEXT, layers=[5], background=False)
    values = view.result.layer(5)
    fig = view.figure("neurons", cols=(100, 140))
    c = color_max(values, 0.999)
    assert (fig.vmin, fig.vmax) == (-c, c)
    assert fig.texts.count("100") == 1 and "139" in fig.texts and "140" not in fig.texts
    view.show(sort="max", mode="top", k=3)
    top = view.figure()
    columns = top_union(view.result.top[0], 3, column_order(values, "max"))
    labels = [t for t in top.texts if t.isdigit()]
    assert labels == [str(n) for n in columns] and top.vmax == c  # one colour scale per layer


def test_rules():
    values = np.array([[0.0, -5.0, 1.0, 2.0], [0.5, 0.1, -0.2, 3.0]], dtype=np.float32)
    assert color_max(values, 1.0) == 5.0
    assert color_max(values, 0.5) == pytest.approx(0.5)  # sorted |v|: 0 .1 .2 .5 1 2 3 5 -> index 3
    assert color_max(np.zeros((2, 2)), 0.999) == 1.0
    np.testing.assert_array_equal(column_order(values, "max"), [3, 2, 0, 1])
    top = np.array([[2, 3], [3, 0]])
    np.testing.assert_array_equal(top_union(top, 1, column_order(values, "max")), [3, 2])
    np.testing.assert_array_equal(top_union(top, 2, np.arange(4)), [0, 2, 3])
    binned = aggregate_bins(values, 1, 2)
    np.testing.assert_array_equal(binned, [[-5.0, 3.0]])  # largest magnitude, sign kept


def test_export_buttons_and_static_figure(smollm2, svg_texts):
    view = lx.NeuronView(smollm2, TEXT, layers=[3], background=False)
    sent = []
    view.send_chunk = lambda kind, content, buffers=None: sent.append((kind, content, buffers))
    view._export_for_download({"format": "svg", "view": "neurons", "theme": "dark",
                               "window": {"q0": 0, "nq": 5, "k0": 10, "nk": 20}})
    kind, content, buffers = sent[-1]
    assert content["ok"] and content["name"] == "neurons-smollm2-layer3-neurons.svg"
    texts = svg_texts(buffers[0].decode())
    assert "10" in texts and "29" in texts and "30" not in texts
    view.neuron = 4
    view._export_for_download({"format": "png", "view": "neuron", "neuron": 4})
    assert sent[-1][1]["name"].endswith("neuron4.png") and sent[-1][2][0][:4] == b"\x89PNG"
    bundle = view._static_bundle()
    assert bundle["text/html"].startswith('<img alt="llmxai-widgets figure: NeuronView"')


def test_from_result(smollm2):
    result = lx.neurons(smollm2, TEXT, layers=[8, 9])
    view = lx.NeuronView.from_result(result, layer=9)
    assert view.status == "ready" and view.layer_slice["layer"] == 9 and view.layers == [8, 9]
    with pytest.raises(ValueError, match="pass model= too"):
        lx.NeuronView.from_result(result, corpus=CORPUS)
