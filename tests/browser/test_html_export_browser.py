"""Standalone HTML export in headless Chromium, opened from file:// with no server and no kernel:
no request leaves the file, the heatmap's pixels are Python's colours, the tooltip works, and
picking another layer, head or aggregate redraws from the slices embedded in the file.

Each exported file is opened in its own page; every request, page error, dialog and
Content-Security-Policy violation is recorded and must stay empty (or local).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from lab_canvas import assert_color, hover, pixel, tooltip_weight
from lab_standalone import open_file
from llmxai_widgets.colors import to_rgb
from llmxai_widgets.widgets.export_html import save_html


TEXT = "The quick brown fox jumps over the lazy dog near the river."
HOSTILE_TEXT = "Say </script><script>alert(1)</script> and <img src=x onerror=alert(1)> now"
LAYER, HEAD = 3, 4
GREY = (200, 200, 200)
CANVAS = ".lxw-root canvas[data-layer]"
@dataclass
class Exported:
    path: Path
    weights: np.ndarray  # [layer, head, query, key] from Python's result
    tokens: list[str]
    other_layer: int
    query: int
    key: int

    def color(self, layer: int, head: int = HEAD, q: int | None = None, k: int | None = None) -> tuple[int, ...]:
        w = self.weights[layer, head]
        q, k = (self.query if q is None else q), (self.key if k is None else k)
        return tuple(int(c) for c in to_rgb(float(w[q, k]), 0.0, float(w.max())))


@pytest.fixture(scope="module")
def exported(smollm2, tmp_path_factory) -> Exported:
    import llmxai_widgets as lx

    view = lx.AttentionView(smollm2, TEXT, layer=LAYER, head=HEAD)
    result = view.result
    weights = result.pattern  # [layer, head, q, k]
    folder = tmp_path_factory.mktemp("html-export")
    path = save_html(view, folder / "attention.html")
    save_html(view, folder / "attention-state-only.html", embed_all=False)

    def colors(layer):
        w = weights[layer, HEAD]
        return to_rgb(w, 0.0, float(w.max())).astype(int)

    # the cell and the other layer whose colours differ most, so a wrong layer cannot pass
    mine = colors(LAYER)
    n = weights.shape[-1]
    best = (-1, 0, 0, 0)
    for layer in range(weights.shape[0]):
        if layer == LAYER:
            continue
        diff = np.abs(mine - colors(layer)).sum(-1)
        diff[np.triu_indices(n)] = -1
        q, k = np.unravel_index(diff.argmax(), diff.shape)
        best = max(best, (int(diff[q, k]), layer, int(q), int(k)))
    assert best[0] > 150, best
    return Exported(path, weights, list(view.tokens), best[1], best[2], best[3])


@pytest.fixture(scope="module")
def opened(browser, exported):
    o = open_file(browser, exported.path)
    yield o
    o.page.context.close()


def test_draws_python_colours_offline(opened, exported):
    canvas = opened.canvas()
    assert (canvas.get_attribute("data-layer"), canvas.get_attribute("data-head")) == (str(LAYER), str(HEAD))
    n = len(exported.tokens)
    assert int(canvas.get_attribute("data-n")) == n
    q, k = exported.query, exported.key
    for qq, kk in [(q, k), (n - 1, n - 1), (n - 1, 0), (n // 2, 1)]:
        assert_color(pixel(canvas, qq, kk), exported.color(LAYER, q=qq, k=kk), f"cell ({qq}, {kk})")
    assert_color(pixel(canvas, 0, n - 1), GREY, "masked upper-triangle cell")
    assert float(canvas.get_attribute("data-vmax")) == pytest.approx(float(exported.weights[LAYER, HEAD].max()), abs=0.01)
    assert opened.page.title().startswith("smollm2 attention: The quick brown fox")
    assert opened.requests[0].startswith("file:") and any(u.startswith("blob:") for u in opened.requests)
    opened.assert_clean()


def test_hover_shows_the_tooltip(opened, exported):
    q, k = exported.query, exported.key
    tooltip = hover(opened.page, opened.canvas(), q, k)
    text = tooltip.inner_text()
    assert json.dumps(exported.tokens[q], ensure_ascii=False) in text, text
    assert tooltip_weight(text) == pytest.approx(float(exported.weights[LAYER, HEAD, q, k]), abs=0.01)


def test_layer_head_and_mean_redraw_from_embedded_slices(opened, exported, artifacts):
    page, canvas = opened.page, opened.canvas()
    q, k, other = exported.query, exported.key, exported.other_layer
    for layer in (other, LAYER):  # there and back
        page.locator("select.lxw-layer").select_option(str(layer))
        page.wait_for_function("([c, l]) => c.dataset.layer === String(l)", arg=[canvas.element_handle(), layer])
        assert_color(pixel(canvas, q, k), exported.color(layer), f"cell ({q}, {k}) of layer {layer}")
        tooltip = hover(page, canvas, q, k)
        assert tooltip_weight(tooltip.inner_text()) == pytest.approx(float(exported.weights[layer, HEAD, q, k]), abs=0.01)
    page.locator("select.lxw-head").select_option("2")
    page.wait_for_function("(c) => c.dataset.head === '2'", arg=canvas.element_handle())
    assert_color(pixel(canvas, q, k), exported.color(LAYER, head=2), "head 2")
    page.locator("select.lxw-head").select_option("mean")
    page.wait_for_function("(c) => c.dataset.aggregate === 'mean'", arg=canvas.element_handle())
    mean = exported.weights[LAYER].mean(axis=0)
    assert_color(pixel(canvas, q, k), tuple(int(c) for c in to_rgb(mean[q, k], 0.0, float(mean.max()))), "mean of heads")
    page.locator("select.lxw-head").select_option(str(HEAD))
    page.wait_for_function(f"(c) => c.dataset.aggregate === 'head' && c.dataset.head === '{HEAD}'", arg=canvas.element_handle())
    hover(page, canvas, q, k)
    page.locator(".lxw-root").screenshot(path=str(artifacts / "html-export.png"))
    assert page.locator(".lxw-error").first.is_hidden()
    opened.assert_clean()


def test_model_view_and_what_only_python_can_compute(opened, exported, artifacts):
    page, canvas = opened.page, opened.canvas()
    page.locator(".lxw-tab", has_text="Model view").click()
    grid = page.locator(".lxw-grid canvas").first
    page.wait_for_function("(c) => c.dataset.rows === '30' && c.dataset.filled === '30'", arg=grid.element_handle())
    page.locator(".lxw-root").screenshot(path=str(artifacts / "html-export-model-view.png"))
    page.locator(".lxw-tab", has_text="Matrix").click()
    # attention flow is not in the file: the view says so and keeps its picture
    page.locator("select.lxw-head").select_option("flow")
    error = page.locator(".lxw-error-text").first
    page.wait_for_function("(e) => /attention flow/.test(e.textContent)", arg=error.element_handle())
    assert canvas.get_attribute("data-aggregate") == "head" and canvas.get_attribute("data-layer") == str(LAYER)
    page.locator("select.lxw-head").select_option(str(HEAD))
    page.wait_for_function("(e) => e.textContent === ''", arg=error.element_handle())
    assert_color(pixel(canvas, exported.query, exported.key), exported.color(LAYER), "back to the head")
    opened.assert_clean()


def test_state_only_file_draws_and_explains_what_it_lacks(browser, exported):
    o = open_file(browser, exported.path.with_name("attention-state-only.html"))
    try:
        canvas = o.canvas()
        assert_color(pixel(canvas, exported.query, exported.key), exported.color(LAYER), "the exported picture")
        o.page.locator("select.lxw-layer").select_option(str(exported.other_layer))
        error = o.page.locator(".lxw-error-text").first
        o.page.wait_for_function("(e) => /embed_all=False/.test(e.textContent)", arg=error.element_handle())
        assert canvas.get_attribute("data-layer") == str(LAYER)  # the old picture stays
        o.assert_clean()
    finally:
        o.page.context.close()


def test_hostile_token_text_stays_text(browser, smollm2, tmp_path, artifacts):
    import llmxai_widgets as lx

    view = lx.AttentionView(smollm2, HOSTILE_TEXT, layer=0, head=0)
    o = open_file(browser, save_html(view, tmp_path / "hostile.html"))
    try:
        page = o.page
        page.wait_for_timeout(300)  # time for an injected handler to fire, were there one
        assert page.locator("img").count() == 0
        assert page.locator("script").count() == 3  # state, slices, host: nothing injected
        assert HOSTILE_TEXT in page.locator("h1").inner_text()
        assert "</script>" in page.title()
        tokens = list(view.tokens)
        i = next(i for i, tok in enumerate(tokens) if "<" in tok)
        tooltip = hover(page, o.canvas(), i, i)
        assert json.dumps(tokens[i], ensure_ascii=False) in tooltip.inner_text()
        page.screenshot(path=str(artifacts / "html-export-hostile.png"))
        o.assert_clean()
    finally:
        o.page.context.close()
