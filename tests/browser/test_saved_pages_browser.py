"""Saved pages (``view.save("x.html")``) of the logit lens, contributions, neuron and attribution
views on the bundled SmolLM2, opened from file:// in headless Chromium under the page's strict
Content-Security-Policy, with no server and no kernel: each draws the view (its colours or values
checked against the Python result), answers clicks from what the page embeds (checked against
Python's values too), says that a kernel is needed for what only Python computes, and sends no
request, raises no error and opens no dialog (hostile token text stays text)."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from lab_canvas import COLOR_TOL
from lab_cells import assert_cells, click_cell
from lab_standalone import open_file
from llmxai_widgets.colors import to_rgb
from llmxai_widgets.figures import display_token

HOSTILE = "<img src=x onerror=alert(1)>"
KERNEL = "needs a running kernel"
LENS_GRID = ".lxw-lens .lxw-cellgrid canvas.lxw-cells"
CONTRIB_GRIDS = ".lxw-contrib .lxw-cellgrid canvas.lxw-cells"
NEURON_CANVAS = ".lxw-heat canvas[data-layer]"


def points(chart) -> np.ndarray:
    return np.array([float(v) for v in chart.get_attribute("data-points").split(",")])


def visible_error(page, *words: str) -> str:
    error = page.locator(".lxw-error").first
    error.wait_for(state="visible")
    text = error.inner_text()
    assert all(w in text for w in words), text
    return text


def test_saved_lens_page_moves_the_window_and_follows_tokens_offline(browser, smollm2, tmp_path, artifacts):
    import llmxai_widgets as lx

    text = f"Tell me what {HOSTILE} means: the capital of France is"
    view = lx.LogitLensView(smollm2, text, window=8, background=False)
    result, n = view.result, len(view.tokens)
    assert n > 16
    full = lx.logit_lens(smollm2, text)  # every position, computed apart from the view
    o = open_file(browser, view.save(tmp_path / "lens.html"), ready=LENS_GRID)
    page = o.page
    grid, chart = page.locator(LENS_GRID).first, page.locator(".lxw-lens .lxw-chart canvas").first
    assert grid.get_attribute("data-positions") == ",".join(str(p) for p in range(n - 8, n))
    assert_cells(grid, to_rgb(result.top_probs[:, :, 0], 0.0, 1.0, "viridis").tolist(), "saved lens grid")
    assert HOSTILE in page.locator("h1").inner_text() and page.locator("img").count() == 0

    # follow the second suggestion of the Follow menu: the chart is that token's probability
    label = str(full.top_text[-1, n - 1, 1])
    page.locator("select.lxw-target-select").select_option(label)
    page.wait_for_function("([c, t]) => c.dataset.title.startsWith(t)", arg=[chart.element_handle(), f"p(\u201c{label}\u201d)"])
    followed = lx.logit_lens(smollm2, text, label)
    np.testing.assert_allclose(points(chart), followed.target_probs[:, n - 1], rtol=1e-4, atol=1e-8)
    # a token the page cannot follow: said, and the menu keeps the token followed
    page.locator("input.lxw-target-input").fill(" zebra")
    page.locator("input.lxw-target-input").press("Enter")
    visible_error(page, KERNEL)
    assert page.locator("select.lxw-target-select").input_value() == label

    # the window moves back half its width: the cells are the lens of those positions
    page.locator("button.lxw-window-back").click()
    page.wait_for_function(f"(c) => c.dataset.positions.startsWith('{n - 12},')", arg=grid.element_handle())
    assert_cells(grid, to_rgb(full.top_probs[:, n - 12 : n - 4, 0], 0.0, 1.0, "viridis").tolist(), "moved window")
    # a click on layer 19 at the window's third position: its top tokens, and the chart there
    click_cell(page, grid, 20, 2)
    detail = page.locator(".lxw-lens .lxw-detail")
    page.wait_for_function(f"(d) => d.dataset.row === '20' && d.dataset.position === '{n - 10}'", arg=detail.element_handle())
    listed = detail.locator(".lxw-detail-token").all_inner_texts()
    assert listed == [f"\u201c{display_token(str(t), 30)}\u201d" for t in full.top_text[20, n - 10]], listed
    page.wait_for_function(f"(c) => c.dataset.position === '{n - 10}'", arg=chart.element_handle())
    np.testing.assert_allclose(points(chart), followed.target_probs[:, n - 10], rtol=1e-4, atol=1e-8)
    page.screenshot(path=str(artifacts / "logit-lens-saved-page.png"), full_page=True)
    o.assert_clean()


def test_saved_contributions_page_answers_a_click_on_a_head(browser, smollm2, tmp_path, artifacts):
    import llmxai_widgets as lx

    text = "The capital of France is"
    view = lx.ContributionView(smollm2, text, background=False)
    result = view.result
    o = open_file(browser, view.save(tmp_path / "contributions.html"), ready=CONTRIB_GRIDS)
    page = o.page
    strip, grid = page.locator(CONTRIB_GRIDS).nth(0), page.locator(CONTRIB_GRIDS).nth(1)
    page.wait_for_function("(c) => c.dataset.rows === '30' && c.dataset.cols === '11'", arg=grid.element_handle())
    values = np.column_stack([result.heads, result.attention_bias, result.mlp]).astype(np.float64)
    vmax = max(float(np.abs(values).max()), abs(result.embed), abs(result.constant))
    assert_cells(grid, to_rgb(values, -vmax, vmax, "RdBu_r").tolist(), "saved contributions")
    assert_cells(strip, to_rgb(np.array([[result.embed, result.constant]]), -vmax, vmax, "RdBu_r").tolist(), "embed, constant")
    assert float(page.locator(".lxw-sum .lxw-logit").get_attribute("data-value")) == pytest.approx(result.logit, abs=1e-4)

    # the strongest head: its rank, and where it reads from (embedded: no kernel)
    layer, head = (int(i) for i in np.unravel_index(np.argmax(result.heads), result.heads.shape))
    click_cell(page, grid, layer, head)
    detail = page.locator(".lxw-contrib .lxw-detail")
    page.wait_for_function("(d) => d.querySelectorAll('.lxw-head-pattern tr').length > 0", arg=detail.element_handle())
    everything = np.concatenate([[result.embed, result.constant], values.ravel()])
    assert detail.locator("h4").inner_text() == f"L{layer} head {head}"
    assert int(detail.get_attribute("data-rank")) == 1 + int((everything > result.heads[layer, head]).sum())
    weights = lx.attention(smollm2, text, layers=[layer]).head(layer, head)[4]
    first = detail.locator(".lxw-head-pattern tr").first.inner_text()
    top = int(np.argmax(weights))
    assert first.split()[0] == f"#{top}" and f"{weights[top]:.3f}" in first, first
    # an MLP cell: its value
    click_cell(page, grid, 23, 10)
    page.wait_for_function("(d) => d.querySelector('h4').textContent === 'L23 MLP'", arg=detail.element_handle())
    assert float(detail.get_attribute("data-value")) == pytest.approx(float(result.mlp[23]), abs=1e-5)
    # another token needs Python: said, and the picture stays
    page.locator(".lxw-strip .lxw-tok[data-index='2']").click()
    visible_error(page, KERNEL)
    assert "after #4" in page.locator(".lxw-sum").inner_text()
    page.screenshot(path=str(artifacts / "contributions-saved-page.png"), full_page=True)
    o.assert_clean()


_CELLS_JS = """(c) => {
  const ratio = c.width / c.getBoundingClientRect().width, d = c.dataset, ctx = c.getContext('2d'), out = [];
  for (let r = 0; r < Number(d.nr); r++) for (let k = 0; k < Number(d.nc); k++) {
    const p = ctx.getImageData(Math.floor((Number(d.left) + (k + 0.5) * Number(d.colw)) * ratio),
                               Math.floor((Number(d.top) + (r + 0.5) * Number(d.rowh)) * ratio), 1, 1).data;
    out.push([Number(d.r0) + r, k, p[0], p[1], p[2], p[3]]); }
  return out; }"""


def test_saved_neuron_page_answers_a_layer_and_a_neuron(browser, smollm2, tmp_path, artifacts):
    import llmxai_widgets as lx
    from llmxai_widgets.widgets.neuron_panes import color_max

    text = "Paris is the capital of France, and Rome is in Italy."
    corpus = ["Paris is the capital of France.", "Rome and Milan are cities in Italy.", "The cat sat on the mat."]
    view = lx.NeuronView(smollm2, text, layers=[2, 5, 9], layer=5, corpus=corpus, background=False)
    result = view.result
    neuron = int(result.layer(5).max(axis=0).argmax())
    view.neuron = neuron  # its corpus search runs before saving, and the page keeps it
    deadline = time.monotonic() + 60
    while view.corpus_status != "ready" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert view.corpus_status == "ready"
    o = open_file(browser, view.save(tmp_path / "neurons.html"), ready=NEURON_CANVAS)
    page = o.page
    canvas, detail = page.locator(NEURON_CANVAS), page.locator(".lxw-neuron-detail")

    def shows(layer: int, n: int) -> None:
        page.wait_for_function("([c, d, l, n]) => c.dataset.layer === String(l) && d.dataset.neuron === String(n)",
                               arg=[canvas.element_handle(), detail.element_handle(), layer, n])
        assert float(canvas.get_attribute("data-vmax")) == pytest.approx(color_max(result.layer(layer), 0.999), rel=2e-3)
        spans = detail.locator(".lxw-neuron-text .lxw-tok")
        got = [float(v) for v in spans.evaluate_all("(s) => s.map((x) => x.dataset.value)")]
        np.testing.assert_allclose(got, result.layer(layer)[:, n], rtol=2e-3, atol=2e-3)  # float16 on the page

    shows(5, neuron)
    rows = detail.locator(".lxw-example")
    assert rows.count() == len(view.corpus_top["examples"])
    assert float(rows.first.get_attribute("data-activation")) == pytest.approx(view.corpus_top["examples"][0]["activation"])
    # another layer from the menu: its slice is in the page; the corpus search is not
    page.locator("select.lxw-layer").select_option("9")
    shows(9, neuron)
    assert KERNEL in detail.locator(".lxw-corpus-head").inner_text()
    # open layer 9's strongest neuron by number: its values, and the zoomed cells' colours
    other = int(result.layer(9).max(axis=0).argmax())
    page.locator("input.lxw-neuron-input").fill(str(other))
    page.locator("input.lxw-neuron-input").press("Enter")
    shows(9, other)
    page.wait_for_function("(c) => c.dataset.nc === '64'", arg=canvas.element_handle())
    ids = [int(i) for i in canvas.get_attribute("data-colids").split(",")]
    c = color_max(result.layer(9), 0.999)
    for row, k, *rgba in canvas.evaluate(_CELLS_JS):
        want = to_rgb(float(result.layer(9)[row, ids[k]]), -c, c, "RdBu_r")
        assert rgba[3] == 255 and max(abs(int(a) - int(b)) for a, b in zip(rgba, want)) <= COLOR_TOL, (row, ids[k], rgba, want)
    # the factors were not computed before saving: said where they would be
    page.locator(".lxw-tab", has_text="Factors").click()
    page.wait_for_function("(f) => f.innerText.includes('needs a running kernel')", arg=page.locator(".lxw-factors").element_handle())
    page.screenshot(path=str(artifacts / "neurons-saved-page.png"), full_page=True)
    o.assert_clean()


def test_saved_attribution_page_shows_another_row_and_says_what_needs_python(browser, smollm2, tmp_path, artifacts):
    import llmxai_widgets as lx

    prompt = f"Repeat {HOSTILE} and then say"
    view = lx.AttributionView(smollm2, prompt, generate=3, method="input_x_gradient", background=False)
    result, targets = view.result, list(view.targets)
    o = open_file(browser, view.save(tmp_path / "attribution.html"), ready=".lxw-text .lxw-tok")
    page = o.page
    text = page.locator(".lxw-text")
    assert HOSTILE in re.sub(r"\s+", " ", text.inner_text()) and page.locator("img").count() == 0

    def check_row(k: int) -> None:
        page.wait_for_function("([t, k]) => t.dataset.selected === String(k)", arg=[text.element_handle(), k])
        assert text.locator(".lxw-target").get_attribute("data-index") == str(targets[k])
        for j in range(targets[k]):
            span = text.locator(f".lxw-tok[data-index='{j}']")
            if span.count():  # special tokens are hidden
                assert float(span.get_attribute("data-score")) == pytest.approx(float(result.scores[k, j]), rel=1e-4, abs=1e-6)

    check_row(0)
    text.locator(f".lxw-tok[data-index='{targets[2]}']").click()  # another generated token: its row
    check_row(2)
    # another method needs Python: said, and the menu keeps the method shown
    page.locator("select.lxw-method").select_option("saliency")
    visible_error(page, KERNEL, "input x gradient")
    assert page.locator("select.lxw-method").input_value() == "input_x_gradient"
    check_row(2)
    # predict-then-reveal: the marks cannot be scored without the model
    page.locator("button.lxw-guess-toggle").click()
    text.locator(".lxw-tok.lxw-markable").first.click()
    page.locator("button.lxw-reveal").click()
    page.wait_for_function("(s) => s.innerText.includes('needs a running kernel')", arg=page.locator(".lxw-guess-scores").element_handle())
    # the Evaluate tab was not computed before saving: said, not "Evaluating..." forever
    page.locator("button.lxw-tab[data-tab='evaluate']").click()
    waiting = page.locator(".lxw-eval-tab .lxw-placeholder")
    page.wait_for_function("(w) => w.innerText.includes('needs a running kernel')", arg=waiting.element_handle())
    assert "Evaluating" not in waiting.inner_text()
    page.screenshot(path=str(artifacts / "attribution-saved-page.png"), full_page=True)
    o.assert_clean()
