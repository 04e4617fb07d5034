"""CausalTraceView and PatchingView, Python side: the traits are the result's values, the estimate
comes first and exact layers stream in, Cancel keeps what is done, menus recompute, a click runs
the cell, figures hold every token as escaped text, errors say what to fix (browser side:
tests/browser/test_locate_browser.py)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from traitlets import TraitError

import llmxai_widgets as lx
from llmxai_widgets.figures.locate import layer_labels, shown_values
from llmxai_widgets.wire import decode

PROMPT = "The Eiffel Tower is located in the city of"
CLEAN = "The Eiffel Tower is in the city of"
CORRUPT = "The Colosseum is in the city of"


@pytest.fixture(scope="module")
def trace_view(smollm2):
    return lx.CausalTraceView(smollm2, PROMPT, "Eiffel Tower", " Paris", samples=2, window=4, background=False)


def test_trace_traits_are_the_result(trace_view):
    view, result = trace_view, trace_view.result
    assert view.status == "ready" and view.kind == "trace" and view.sites == ["residual", "mlp", "attention"]
    assert view.marked == [1, 2, 3] and view.done == [True] * 30 and view.value_label == "p(' Paris')"
    assert (view.vmin, view.vmax) == (0.0, pytest.approx(result.clean_prob))
    for site in view.sites:
        np.testing.assert_array_equal(decode(view.grids[site]), result.scores[site])
        np.testing.assert_array_equal(decode(view.estimates[site]), result.estimate[site])
    assert f"p = {result.clean_prob:.3f} clean, {result.corrupted_prob:.3f} corrupted" in view.summary[0]
    assert "window of 4 layers" in view.summary[1]


def test_a_click_runs_the_cell(trace_view):
    view = trace_view
    layer, token = view.result.best("residual")
    view.picked = {"site": "residual", "layer": layer, "column": token}
    top = view.picked_run["top"]
    assert view.picked_run["layer"] == layer and view.picked_run["column"] == token
    assert [s for s, _ in top] == [s for s, _ in view.result.cell_top("residual", layer, token)]
    assert dict(top)[" Paris"] == pytest.approx(view.result.scores["residual"][layer, token], abs=1e-5)
    view.picked = {"site": "residual", "layer": 99, "column": 0}
    assert "layer 99 is out of range" in view.error
    view.picked = {}
    assert view.picked_run == {}


def test_streams_the_estimate_first_then_layers_and_cancel_keeps_them(smollm2):
    seen = []
    view = lx.CausalTraceView(smollm2, PROMPT, "Eiffel Tower", " Paris", samples=2, kinds="residual",
                              background=False)
    assert view.status == "ready"
    # now in the background, cancelled after a few layers
    view._background = True
    stop = threading.Event()

    def watch(change):
        seen.append((bool(view.estimates), sum(change["new"])))
        if sum(change["new"]) >= 3:
            view.cancel()
            stop.set()

    view.observe(watch, "done")
    import llmxai_widgets.widgets.view as view_module

    saved = view_module.in_kernel
    view_module.in_kernel = lambda: True
    try:
        view._recompute()
        assert view.wait(300)
    finally:
        view_module.in_kernel = saved
    assert view.status == "cancelled" and "layers exact" in view.progress_label
    done = sum(view.done)
    assert 3 <= done < 30 and all(estimate for estimate, n in seen if n)  # the estimate came before any exact layer
    grid = decode(view.grids["residual"])
    assert np.isfinite(grid[:done]).all() and np.isnan(grid[done:]).all()
    values = shown_values(view.result, "residual")
    np.testing.assert_array_equal(values[done:], view.result.estimate["residual"][done:])
    assert layer_labels(30, view.done)[done - done % 5 + 5].startswith("\u2248")


def test_patching_menus_recompute(smollm2):
    view = lx.PatchingView(smollm2, CLEAN, CORRUPT, sites=("residual", "heads"), background=False)
    assert view.kind == "patching" and view.sites == ["residual", "heads", "kv_heads"] and view.marked == [1, 2, 3]
    assert (view.vmin, view.vmax) == (-1.0, 1.0) and "Denoising" in view.summary[1]
    direct = lx.patch(smollm2, CLEAN, CORRUPT, sites=("residual", "heads"), direction="noising")
    view.direction = "noising"
    assert "Noising" in view.summary[1]
    for site in view.sites:
        np.testing.assert_allclose(decode(view.grids[site]), direct.scores[site], atol=1e-6)
    view.metric = "prob"
    assert view.result.metric == "prob" and view.summary[0].startswith("p(' Paris')")
    with pytest.raises(TraitError):
        view.metric = "accuracy"
    assert "metric must be one of" in view.error and view.metric == "prob"


def test_figures_hold_every_token_as_escaped_text(smollm2, svg_texts, tmp_path):
    hostile = 'The </text><script>alert(1)</script> & "Tower" is in the city of'
    corrupt = 'The </text><script>alert(2)</script> & "Tower" is in the city of'
    view = lx.PatchingView(smollm2, hostile, corrupt, sites=("residual", "mlp"), background=False)
    texts = svg_texts(view.figure().svg())
    for token in view.tokens:
        shown = lx.figures.display_token(token)
        assert any(shown in t for t in texts), token
    assert "</" in "".join(texts) and "script" in "".join(texts)  # as text, never markup (svg_texts fails on a script node)
    view.save(tmp_path / "p.pdf")
    assert (tmp_path / "p.pdf").read_bytes().startswith(b"%PDF")
    png = view.figure(estimate=True, sites=["residual"], theme="dark").png(dpi=72)
    assert png.startswith(b"\x89PNG")


def test_export_button(trace_view, press_export):
    kind, content, buffers = press_export(trace_view, format="svg", show="estimate")
    assert kind == "export" and content["ok"] and content["name"] == "causal-trace-smollm2.svg"
    assert b"Residual stream" in buffers[0]


def test_errors_before_anything_runs(smollm2, tiny_t5):
    with pytest.raises(ValueError, match="does not occur in the prompt"):
        lx.CausalTraceView(smollm2, PROMPT, "Louvre")
    with pytest.raises(ValueError, match=r"clean has 9 .* corrupt has 6"):
        lx.PatchingView(smollm2, CLEAN, "Rome is in the city of")
    with pytest.raises(ValueError, match="causal language model"):
        lx.PatchingView(tiny_t5, CLEAN, CORRUPT)
    with pytest.raises(TypeError, match="load_model"):
        lx.CausalTraceView("smollm2", PROMPT, "Eiffel Tower")
    view = lx.CausalTraceView(smollm2, PROMPT, "Eiffel Tower", samples=1, kinds="residual", window=1,
                              background=False)
    with pytest.raises(TraitError):
        view.show = "both"
    assert "show must be one of" in view.error and view.show == "exact"
