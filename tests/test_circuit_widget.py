"""CircuitView's Python side on a tiny grouped-query model: what it sends equals the result's
edges, the slider's faithfulness equals result.faithfulness, a node click runs that node exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

import llmxai_widgets as lx
from llmxai_widgets.wire import decode
from test_export_html import Page

CLEAN, CORRUPT = "The Eiffel Tower is in the city of", "The Colosseum is in the city of"


@pytest.fixture(scope="module")
def view(tiny_gqa):
    return lx.CircuitView(tiny_gqa, CLEAN, CORRUPT, n_shown=20, candidates=100, background=False)


def _wire(trait):
    return decode({k: v for k, v in trait.items() if k != "data"}, trait["data"])


def test_sends_the_strongest_edges_and_their_scores(view):
    r = view.result
    assert view.status == "ready" and view.n_edges == r.n_edges
    up, down, score = (_wire(view.candidates[k]) for k in ("up", "down", "score"))
    assert len(up) == 100
    np.testing.assert_array_equal(score, r.scores[up, down])
    assert np.all(np.diff(np.abs(score)) <= 0)
    top = r.top(100)
    np.testing.assert_array_equal(up, top.upstream)
    np.testing.assert_allclose(_wire(view.node_scores)[1:], r.node_scores[1:], rtol=1e-6)


def test_slider_recomputes_faithfulness_and_curve(view):
    r = view.result
    assert view.faithful["n"] == 20 and view.faithful["value"] == pytest.approx(r.faithfulness(r.top(20)))
    view.n_shown = 64
    assert view.faithful == {"n": 64, "value": pytest.approx(r.faithfulness(r.top(64)))}
    counts, values = r.faithfulness_curve()
    assert view.curve["counts"] == counts.tolist()
    np.testing.assert_allclose(view.curve["values"], values)
    with pytest.raises(Exception, match="between 0 and"):
        view.n_shown = 10**6
    assert view.n_shown == 64 and "between 0 and" in view.error


def test_node_click_runs_it_exactly(view, tiny_gqa):
    r = view.result
    node = r.graph.head_out(2, 1)
    view.picked = node
    exact = lx.circuit(tiny_gqa, CLEAN, CORRUPT, method="exact", level="node").node_scores[node]
    assert view.node_detail["node"] == node and view.node_detail["exact"] == pytest.approx(float(exact), abs=1e-5)
    whole, by_token = r.node_effect(node)
    np.testing.assert_allclose(view.node_detail["by_token"], by_token, atol=1e-6)
    assert len(by_token) == len(view.tokens)
    expected = lx.attention(tiny_gqa, CLEAN, layers=[2]).head(2, 1)
    np.testing.assert_allclose(decode(view.node_detail["pattern"]), expected, atol=1e-6)
    view.picked = r.graph.mlp_out(1)  # an MLP has no attention pattern
    assert view.node_detail["pattern"] is None and len(view.node_detail["by_token"]) == len(view.tokens)
    view.picked = -1
    assert view.node_detail == {}


def test_figures_export_and_a_saved_page(view, tiny_gqa, tmp_path, svg_texts, press_export):
    r = view.result
    texts = svg_texts(view.figure(n=30).svg())
    assert {"logits", "embeddings", "L0"} <= set(texts)
    view.save(tmp_path / "c.pdf")
    assert (tmp_path / "c.pdf").read_bytes().startswith(b"%PDF")
    assert view.figure(theme="dark").png(dpi=72).startswith(b"\x89PNG")
    kind, content, buffers = press_export(view, format="svg", n=30)
    assert kind == "export" and content["ok"] and content["name"] == f"circuit-{tiny_gqa.name}.svg"
    assert svg_texts(buffers[0]) == texts  # the button draws what figure(n=30) draws

    # a saved page answers the slider at every count computed, and clicks on the nodes opened
    node = r.graph.head_out(1, 0)
    view.picked = node
    view.n_shown = 32
    page = Page((view.save(tmp_path / "c.html")).read_text())
    extras = json.loads(page.script("application/json"))
    assert extras["kind"] == "lookups"
    faith, details = (t["entries"] for t in extras["tables"])
    for c, v in zip(view.curve["counts"], view.curve["values"]):
        assert faith[str(c)]["value"] == pytest.approx(v, abs=1e-9)
    assert faith["32"]["value"] == pytest.approx(r.faithfulness(r.top(32)), abs=1e-9)
    saved = details[str(node)]
    assert saved["exact"] == view.node_detail["exact"] and saved["by_token"] == view.node_detail["by_token"]
    expected = lx.attention(tiny_gqa, CLEAN, layers=[1]).head(1, 0)
    np.testing.assert_allclose(np.reshape(saved["pattern"]["values"], saved["pattern"]["shape"]), expected, atol=1e-4)
    assert details["-1"] == {}
