"""Saved pages (``view.save("x.html")``) of LogitLensView, ContributionView, NeuronView and
AttributionView, without a browser: what each page embeds to answer clicks equals what Python
computes, the page stays under ``max_bytes``, and token text never appears as markup.
tests/browser/test_saved_pages_browser.py opens such pages in Chromium."""

from __future__ import annotations

import base64
import json
import re
import time

import numpy as np
import pytest

import llmxai_widgets as lx
from llmxai_widgets.widgets.export_html import to_html
from llmxai_widgets.wire import decode

HOSTILE = "Say <img src=x onerror=alert(1)> and </script><script>alert(1)</script> now"


def extras_of(page: str) -> tuple[dict, bytes]:
    data = r'<script type="application/json" class="lxw-standalone-data"[^>]*>(.*?)</script>'
    extras = json.loads(re.search(data, page, re.S).group(1))
    return extras, base64.standard_b64decode(extras.get("blob") or "")


def unpacked(packed: dict, blob: bytes) -> dict:
    """A packed value with its buffers' bytes back at their paths."""
    value = json.loads(json.dumps(packed["value"]))
    for b in packed["buffers"]:
        *where, last = b["path"]
        node = value
        for key in where:
            node = node[key]
        node[last] = blob[b["offset"] : b["offset"] + b["length"]]
    return value


def check_page(view, extras_kind: str) -> tuple[dict, bytes]:
    page = to_html(view)
    for needle in ("<img", "</script><script>", "onerror=alert(1)>"):
        assert needle not in page, needle
    extras, blob = extras_of(page)
    assert extras["kind"] == extras_kind
    # bounded: a page with a little room keeps under it (the state alone is always written)
    base = len(to_html(view, embed_all=False).encode("utf-8"))
    for room in (2_000, 40_000):
        assert len(to_html(view, max_bytes=base + room).encode("utf-8")) <= base + room
    return extras, blob


def test_lens_page_holds_every_position_and_the_follow_menus_tokens(smollm2):
    view = lx.LogitLensView(smollm2, HOSTILE, window=8, background=False)
    n = len(view.tokens)
    extras, blob = check_page(view, "lens")
    full = lx.logit_lens(smollm2, HOSTILE)
    assert (extras["start"], extras["count"]) == (0, n)
    top = unpacked(extras["top"], blob)
    np.testing.assert_array_equal(decode(top["top_ids"]), full.top_ids)
    np.testing.assert_array_equal(decode(top["top_probs"]), full.top_probs)
    own = unpacked(extras["targets"][""], blob)
    np.testing.assert_array_equal(decode(own["target_probs"]), full.target_probs)
    assert all(extras["vocab"][str(int(i))] == smollm2.tokenizer.decode([int(i)]) for i in full.top_ids.ravel())
    labels = [label for label in extras["targets"] if label]
    assert str(full.top_text[-1, -1, 0]) in labels and len(labels) >= 5
    for label in labels[:2]:  # each one as the view would follow it
        followed, expected = unpacked(extras["targets"][label], blob), lx.logit_lens(smollm2, HOSTILE, label)
        np.testing.assert_array_equal(decode(followed["target_ids"]), expected.target_ids)
        np.testing.assert_allclose(decode(followed["target_probs"]), expected.target_probs, rtol=1e-6, atol=1e-12)
        np.testing.assert_array_equal(decode(followed["target_ranks"]), expected.target_ranks)
    assert "needs a running kernel" in extras["missing_target"]


def test_follow_targets_equals_the_lens_of_each_token(smollm2):
    from llmxai_widgets.methods.logit_lens import follow_targets

    paris = smollm2.tokenizer.encode(" Paris", add_special_tokens=False)[0]
    targets = [None, paris] + list(range(100, 112))  # more than 12: ranks by one sort per chunk
    ids, probs, ranks = follow_targets(smollm2, "The capital of France is", targets, layers=["embed", 3, 29])
    for i in (0, 1, 2, len(targets) - 1):
        target = targets[i]
        r = lx.logit_lens(smollm2, "The capital of France is", target, layers=["embed", 3, 29])
        np.testing.assert_array_equal(ids[i], r.target_ids)
        np.testing.assert_allclose(probs[i], r.target_probs, rtol=1e-6, atol=1e-12)
        np.testing.assert_array_equal(ranks[i], r.target_ranks)
    few = follow_targets(smollm2, "The capital of France is", [paris], layers=[3])
    np.testing.assert_array_equal(few[2][0], ranks[1][1:2])  # the comparison path counts the same


def test_contributions_page_holds_every_heads_attention_at_the_position(smollm2):
    view = lx.ContributionView(smollm2, HOSTILE, background=False)
    extras, blob = check_page(view, "contributions")
    assert extras["position"] == view.position and len(extras["heads"]) == 30 * 9
    for layer, head in ((0, 0), (17, 4), (29, 8)):
        row = unpacked(extras["heads"][f"{layer}|{head}"], blob)
        expected = lx.attention(smollm2, HOSTILE, layers=[layer]).head(layer, head)[view.position]
        assert (row["layer"], row["head"], row["position"]) == (layer, head, view.position)
        np.testing.assert_allclose(decode(row), expected, rtol=1e-5, atol=1e-7)


def test_neuron_page_holds_every_layer_and_the_searches_run(smollm2):
    view = lx.NeuronView(smollm2, HOSTILE, layers=[1, 4, 7], layer=4, background=False)
    extras, blob = check_page(view, "neurons")
    assert sorted(extras["slices"]) == ["1", "7"]  # layer 4 is the state's own slice
    result = view.result
    for layer in (1, 7):
        payload = unpacked(extras["slices"][str(layer)], blob)
        np.testing.assert_allclose(decode(payload["activations"]), result.layer(layer), rtol=1e-3, atol=1e-3)  # float16
    assert extras["corpus"] == {} and extras["factors"] == {}
    view.mode = "factors"
    until = time.monotonic() + 60  # the factors run in a thread of their own
    while view.factors_status != "ready" and time.monotonic() < until:
        time.sleep(0.05)
    extras, _ = extras_of(to_html(view))
    assert list(extras["factors"]) == [f"4|{view.nmf_k}"]


def test_attribution_page_names_what_needs_a_kernel(smollm2):
    view = lx.AttributionView(smollm2, HOSTILE, generate=2, method="input_x_gradient", background=False)
    extras, _ = check_page(view, "attribution")
    assert extras["method"] == "input_x_gradient"
    for key in ("missing_method", "missing_evaluation", "missing_scores"):
        assert "needs a running kernel" in extras[key]
