"""AttentionView's Python side: traits, streamed chunks, errors (the browser side: tests/browser)."""

import time

import numpy as np
import pytest
import traitlets

import llmxai_widgets as lx
from llmxai_widgets.wire import decode

TEXT = "Attention shows which earlier tokens each token reads."


class Recording(lx.AttentionView):
    """Records the custom messages a view would stream to the browser."""

    def send(self, content, buffers=None):
        self.sent = getattr(self, "sent", [])
        self.sent.append((content, buffers))


def test_view_holds_the_selected_layer_as_a_binary_trait(smollm2):
    view = lx.AttentionView(smollm2, TEXT, layer=4, head=7)
    reference = lx.attention(smollm2, TEXT).layer(4)
    assert view.status == "ready" and view.progress == 1.0
    assert view.tokens == list(smollm2.tokenize(TEXT).text)
    assert (view.n_layers, view.n_heads, view.layer, view.head) == (30, 9, 4, 7)
    assert view.kv_group == [0, 0, 0, 1, 1, 1, 2, 2, 2] and view.causal
    pattern = view.pattern
    assert (pattern["layer"], pattern["head"], pattern["dtype"]) == (4, 7, "uint8")
    assert isinstance(pattern["data"], bytes) and len(pattern["data"]) == len(view.tokens) ** 2
    np.testing.assert_allclose(decode(pattern), reference[7], atol=pattern["scale"] / 2 + 1e-7)


def test_changing_layer_or_head_sends_only_that_slice(smollm2):
    view = lx.AttentionView(smollm2, TEXT)
    view.layer = 12
    assert (view.pattern["layer"], view.pattern["head"]) == (12, 0)
    np.testing.assert_allclose(decode(view.pattern), view.result.layer(12)[0], atol=view.pattern["scale"])
    view.head = 5
    assert (view.pattern["layer"], view.pattern["head"]) == (12, 5)
    np.testing.assert_allclose(decode(view.pattern), view.result.layer(12)[5], atol=view.pattern["scale"])


def test_streams_the_shown_slice_once_as_soon_as_its_layer_is_done(smollm2):
    seen = []

    class Watching(lx.AttentionView):
        @traitlets.observe("pattern")
        def _sent(self, change):
            seen.append((list(self.available_layers), change["new"]))

    view = Watching(smollm2, "one two three", layer=5, head=2)
    assert len(seen) == 1, "the shown slice travels once (not again when the computation ends)"
    layers, pattern = seen[0]
    assert layers == [0, 1, 2, 3, 4, 5], "sent while the later layers were still computing"
    assert (pattern["layer"], pattern["head"], pattern["part"]) == (5, 2, "self")
    assert isinstance(pattern["data"], bytes)
    np.testing.assert_allclose(decode(pattern), view.result.layer(5)[2], atol=pattern["scale"])


def test_cancel_from_the_frontend_keeps_finished_layers(smollm2):
    class CancelAtLayer3(Recording):
        @traitlets.observe("available_layers")
        def _press_cancel(self, change):
            if change["new"] and change["new"][-1] == 3 and self.status == "computing":
                self._on_frontend_msg(self, {"kind": "cancel"}, [])

    view = CancelAtLayer3(smollm2, TEXT, layer=10)
    assert view.status == "cancelled"
    assert view.available_layers == [0, 1, 2, 3]
    assert view.layer == 3  # the chosen layer was not computed: show the last one that was
    assert "4 of 30 layers kept" in view.progress_label


def test_background_computation_in_a_thread(smollm2):
    view = lx.AttentionView(smollm2, TEXT, layer=2, background=True)
    assert view.wait(60)
    assert view.status == "ready" and view.pattern["layer"] == 2 and view.available_layers == list(range(30))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (("",), {}, ValueError, "text is empty"),
        ((None,), {}, TypeError, "text must be a string"),
        (("ok",), {"layer": 30}, IndexError, "layer 30 is out of range: smollm2 has 30 layers, numbered 0-29"),
        (("ok",), {"head": 9}, IndexError, "head 9 is out of range: smollm2 has 9 heads, numbered 0-8"),
    ],
)
def test_bad_input_raises_before_anything_is_shown(smollm2, args, kwargs, error, message):
    with pytest.raises(error, match=message):
        lx.AttentionView(smollm2, *args, **kwargs)


def test_model_must_come_from_load_model(smollm2):
    with pytest.raises(TypeError, match="load_model"):
        lx.AttentionView(smollm2.model, TEXT)


def test_out_of_range_layer_later_raises_and_shows_in_the_view(smollm2):
    view = lx.AttentionView(smollm2, TEXT, layer=3)
    with pytest.raises(traitlets.TraitError, match="layer 99 is out of range"):
        view.layer = 99
    assert "layer 99 is out of range" in view.error
    assert view.layer == 3 and view.pattern["layer"] == 3  # the picture stays
    view._on_frontend_msg(view, {"kind": "dismiss_error"}, [])
    assert view.error == ""


def test_failure_mid_computation_keeps_finished_layers_and_shows_the_error(smollm2):
    def fail(_module, _args):
        raise RuntimeError("simulated out-of-memory in layer 6")

    handle = smollm2.attention_module(6).register_forward_pre_hook(fail)
    try:
        view = lx.AttentionView(smollm2, TEXT, layer=2)
    finally:
        handle.remove()
    assert view.status == "error"
    assert "simulated out-of-memory in layer 6" in view.error and "kept" in view.error
    assert view.available_layers == [0, 1, 2, 3, 4, 5]
    assert view.pattern["layer"] == 2


def test_failure_before_any_layer_raises_in_python(smollm2):
    def fail(_module, _args):
        raise RuntimeError("broken from the start")

    handle = smollm2.attention_module(0).register_forward_pre_hook(fail)
    try:
        with pytest.raises(RuntimeError, match="broken from the start"):
            lx.AttentionView(smollm2, TEXT)
    finally:
        handle.remove()


def test_from_result_shows_a_result_computed_earlier(minilm):
    result = lx.attention(minilm, "Paris is the capital of France.", layers=[1, 5])
    view = lx.AttentionView.from_result(result, layer=5, head=11)
    assert view.tokens[0] == "[CLS]" and view.special[0]
    assert (view.layer, view.head, view.n_heads, view.available_layers) == (5, 11, 12, [1, 5])
    np.testing.assert_allclose(decode(view.pattern), result.layer(5)[11], atol=view.pattern["scale"])


def test_aggregates_and_log_scale_send_the_matching_slice(smollm2):
    from llmxai_widgets.methods.attention_views import rollout

    view = lx.AttentionView(smollm2, TEXT, layer=8)
    view.aggregate = "mean"
    assert view.pattern["aggregate"] == "mean"
    np.testing.assert_allclose(decode(view.pattern), view.result.layer(8).mean(0), atol=view.pattern["scale"])
    view.show(layer=9, aggregate="rollout")
    np.testing.assert_allclose(decode(view.pattern), rollout(view.result, 9), atol=view.pattern["scale"])
    view.log_scale = True  # float16: small weights keep their digits for the log colours
    assert view.pattern["dtype"] == "float16"
    with pytest.raises(traitlets.TraitError, match="aggregate must be one of 'head', 'mean', 'max', 'rollout'"):
        view.aggregate = "median"
    assert "aggregate must be one of" in view.error
    view.show(head=3)
    assert (view.aggregate, view.pattern["head"]) == ("head", 3)


def test_model_view_fills_thumbnails_on_first_use(smollm2):
    view = lx.AttentionView(smollm2, TEXT)
    assert view.thumbnails == {}  # nothing computed or sent until the model view is opened
    view.mode = "model"
    for _ in range(100):
        if view.thumbnails:
            break
        time.sleep(0.1)
    grid = decode(view.thumbnails)
    n = len(view.tokens)
    assert grid.shape == (30, 9, n, n) and view.thumbnails["layers"] == list(range(30))
    np.testing.assert_allclose(grid.max(axis=(2, 3)), 1.0, atol=1 / 255)
    with pytest.raises(traitlets.TraitError, match="mode must be one of 'matrix', 'model'"):
        view.mode = "grid"


def test_query_key_view_sends_the_pieces_of_one_querys_scores(smollm2):
    view = lx.AttentionView(smollm2, TEXT, layer=9, head=7)
    assert view.querykey == {}
    view.show(mode="querykey")
    n = len(view.tokens)
    qk = view.querykey
    assert (qk["layer"], qk["head"], qk["query"]) == (9, 7, n - 1)
    np.testing.assert_allclose(decode(qk["weights"]), view.result.head(9, 7)[n - 1], atol=1e-6)
    view.qk_query = 2
    assert decode(view.querykey["keys"]).tolist() == [0, 1, 2]
    view.qk_query = 500
    assert "query 500 is out of range" in view.error


def test_head_view_sends_every_head_of_a_token_window(smollm2):
    view = lx.AttentionView(smollm2, TEXT, layer=4)
    view.show(mode="head")
    hv = view.headview
    n = len(view.tokens)
    assert (hv["layer"], hv["start"], hv["shape"]) == (4, 0, [9, n, n])
    np.testing.assert_allclose(decode(hv), view.result.layer(4), atol=0.5 / 255 + 1e-6)
    long_view = lx.AttentionView(smollm2, " ".join(["word"] * 200), layer=1)
    long_view.show(mode="head")
    long_view.hv_start = 150
    n = len(long_view.tokens)
    assert long_view.headview["shape"] == [9, 96, 96] and long_view.headview["start"] == n - 96


def test_encoder_decoder_view_switches_between_parts(tiny_t5):
    view = lx.AttentionView(tiny_t5, "The house is wonderful.", target="Das Haus ist wunderbar.", layer=1, head=3)
    parts = lx.encoder_decoder_attention(tiny_t5, "The house is wonderful.", "Das Haus ist wunderbar.")
    assert view.status == "ready" and view.parts == ["encoder", "decoder", "cross"] and view.part == "cross"
    cross = parts["cross"]
    assert view.tokens == cross.tokens.text and view.key_tokens == cross.keys.text and not view.causal
    assert view.pattern["shape"] == [len(cross.tokens), len(cross.keys)] and view.pattern["part"] == "cross"
    np.testing.assert_allclose(decode(view.pattern), cross.head(1, 3), atol=view.pattern["scale"])
    view.part = "decoder"
    assert view.key_tokens == [] and view.causal and view.pattern["part"] == "decoder"
    np.testing.assert_allclose(decode(view.pattern), parts["decoder"].head(1, 3), atol=view.pattern["scale"])
    view.show(part="encoder", mode="querykey")
    assert view.tokens == parts["encoder"].tokens.text and not view.causal
    assert view.querykey["part"] == "encoder" and view.querykey["query"] == len(view.tokens) - 1
    with pytest.raises(traitlets.TraitError):
        view.part = "self"
    assert "part must be one of 'encoder', 'decoder', 'cross'" in view.error
    view.show(part="cross", aggregate="rollout")
    assert "rollout follows self-attention" in view.error and view.pattern["part"] == "cross"


def test_sentence_pair_view_offers_the_pair_filters(minilm):
    view = lx.AttentionView(minilm, "The cat sat on the mat.", text_pair="Where did the cat sit?")
    assert set(view.segments) == {0, 1} and view.segments[0] == 0 and view.segments[-1] == 1
    view.show(pair_filter="AB")
    assert view.pair_filter == "AB"
    with pytest.raises(traitlets.TraitError):
        view.pair_filter = "A->B"
    assert "pair_filter must be one of" in view.error and view.pair_filter == "AB"


def test_attention_flow_is_computed_in_the_background_and_kept(smollm2):
    from llmxai_widgets.methods.attention_flow import attention_flow

    view = lx.AttentionView(smollm2, "The cat sat on the mat.", layer=5)
    view.show(aggregate="flow")
    deadline = time.time() + 60
    while view.pattern.get("aggregate") != "flow" and time.time() < deadline:
        time.sleep(0.05)
    assert view.pattern["aggregate"] == "flow" and view.status == "ready", (view.status, view.error)
    expected = attention_flow(view.result, 5)
    np.testing.assert_allclose(decode(view.pattern), expected, atol=view.pattern["scale"])
    np.testing.assert_allclose(expected.sum(-1), 1.0, atol=1e-5)
    view.show(aggregate="mean")
    view.show(aggregate="flow")  # kept: no second computation
    assert view.pattern["aggregate"] == "flow" and view.pattern["layer"] == 5
    long_view = lx.AttentionView(smollm2, " ".join(["word"] * 80), layer=1)
    long_view.aggregate = "flow"  # the view shows why not; the picture drawn stays
    assert "limited to 64 tokens" in long_view.error and "rollout" in long_view.error
    assert long_view.pattern["aggregate"] == "head"
