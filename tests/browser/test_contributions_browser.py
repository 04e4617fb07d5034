"""ContributionView in JupyterLab + Chromium on the bundled SmolLM2: every cell's colour is the
diverging colour table applied to the result's value (computed here with
``lx.contributions``), the caption shows the logit and the sum, hover names the layer, component
and value, a click on a head shows its rank and where it reads from, a click on a token explains
the prediction after it, and a bad target is reported inside the view."""

from __future__ import annotations

import numpy as np
import pytest

from lab_cells import assert_cells, click_cell, hover_cell
from lab_views import screenshot_view, set_theme
from llmxai_widgets.colors import to_rgb
from llmxai_widgets.figures import display_token


VIEWPORT = {"width": 1400, "height": 1500}  # own_page: the view and its detail in one screenshot
TEXT = "The capital of France is"


def expected_colours(result):
    grid = np.column_stack([result.heads, result.attention_bias, result.mlp]).astype(np.float64)
    vmax = max(float(np.abs(grid).max()), abs(result.embed), abs(result.constant))
    strip = np.array([[result.embed, result.constant]])
    return to_rgb(grid, -vmax, vmax, "RdBu_r").tolist(), to_rgb(strip, -vmax, vmax, "RdBu_r").tolist(), grid


def test_cells_are_the_contributions_hover_and_click_a_head(lab_page, open_notebook, artifacts):
    import llmxai_widgets as lx

    page = lab_page
    page.set_viewport_size({"width": 1400, "height": 1500})  # the whole view fits: screenshots are not cut off
    notebook = open_notebook(page, "contributions_browser")
    cell = notebook.run(f"import llmxai_widgets as lx\nmodel = lx.load_model()\nc = lx.ContributionView(model, {TEXT!r})\nc")
    grids = cell.locator(".lxw-contrib .lxw-cellgrid canvas.lxw-cells")
    grid, strip = grids.nth(1), grids.nth(0)
    page.wait_for_function("(c) => c.dataset.rows === '30' && c.dataset.cols === '11'", arg=grid.element_handle(), timeout=90_000)
    model = lx.load_model()
    result = lx.contributions(model, TEXT)
    cells, strip_cells, values = expected_colours(result)
    assert_cells(grid, cells, "contribution grid")
    assert_cells(strip, strip_cells, "embeddings and constant")
    total = cell.locator(".lxw-sum .lxw-total")
    assert float(cell.locator(".lxw-sum .lxw-logit").inner_text()) == pytest.approx(result.logit, abs=1e-3)
    assert float(total.inner_text()) == pytest.approx(result.logit, abs=1e-3)
    assert "Predicting \u201c Paris\u201d after #4 \u201c is\u201d" in cell.locator(".lxw-sum").inner_text()
    view = cell.locator(".jp-OutputArea-output").filter(has=page.locator(".lxw-root"))
    view.screenshot(path=str(artifacts / "contributions.png"))

    # hover layer 23's MLP: layer, component, value
    tip = hover_cell(page, grid, 23, 10).inner_text()
    assert "L23" in tip and "MLP" in tip and f"{abs(values[23, 10]):.3f}" in tip, tip
    view.screenshot(path=str(artifacts / "contributions-hover.png"))

    # click the largest head: its value, its rank among every part, where it reads from
    layer, head = np.unravel_index(np.argmax(result.heads), result.heads.shape)
    click_cell(page, grid, int(layer), int(head))
    detail = cell.locator(".lxw-detail")
    page.wait_for_function("(d) => d.querySelectorAll('.lxw-head-pattern tr').length > 0", arg=detail.element_handle(), timeout=60_000)
    everything = np.concatenate([[result.embed, result.constant], values.ravel()])
    rank = 1 + int((everything > result.heads[layer, head]).sum())
    assert detail.locator("h4").inner_text() == f"L{layer} head {head}"
    assert int(detail.get_attribute("data-rank")) == rank
    assert f"Rank {rank} of {everything.size} parts by value" in detail.inner_text()
    weights = lx.attention(model, TEXT, layers=[int(layer)]).head(int(layer), int(head))[4]
    first = detail.locator(".lxw-head-pattern tr").first.inner_text()
    top_key = int(np.argmax(weights))
    assert first.split()[0] == f"#{top_key}" and f"{weights[top_key]:.3f}" in first, first
    assert display_token(result.tokens.text[top_key], 30) in first
    out = notebook.run("print(c.picked, c.head_attention['layer'], c.head_attention['head'])")
    assert out.locator(".jp-OutputArea-output").inner_text().strip() == f"{{'layer': {layer}, 'column': {head}}} {layer} {head}"
    view.screenshot(path=str(artifacts / "contributions-head.png"))

    # a click on " of" explains the prediction after it: recomputed, and still sums to the logit
    cell.locator(".lxw-strip .lxw-tok[data-index='2']").click()
    page.wait_for_function("(s) => s.textContent.includes('after #2')", arg=cell.locator(".lxw-sum").element_handle(), timeout=60_000)
    at2 = lx.contributions(model, TEXT, position=2)
    page.wait_for_function("([s, v]) => Math.abs(Number(s.querySelector('.lxw-total').dataset.value) - v) < 1e-3",
                           arg=[cell.locator(".lxw-sum").element_handle(), at2.total])
    cells, strip_cells, _ = expected_colours(at2)
    assert_cells(grid, cells, "contribution grid after #2")
    assert f"\u201c{display_token(at2.target_text)}\u201d" in cell.locator(".lxw-sum").inner_text()

    # a target that is not one token: said in the view, the picture stays
    cell.locator("input.lxw-target-input").fill("Paris France")
    cell.locator("input.lxw-target-input").press("Enter")
    error = cell.locator(".lxw-error").first
    error.wait_for(state="visible")
    assert "cannot explain 'Paris France'" in error.inner_text()
    assert grid.get_attribute("data-rows") == "30"
    view.screenshot(path=str(artifacts / "contributions-error.png"))
    # an explicit target: " Paris" after " of"
    cell.locator("input.lxw-target-input").fill(" Paris")
    cell.locator("input.lxw-target-input").press("Enter")
    page.wait_for_function("(s) => s.textContent.includes('Predicting \u201c Paris\u201d after #2')",
                           arg=cell.locator(".lxw-sum").element_handle(), timeout=60_000)
    assert not error.is_visible()
    cells, _, _ = expected_colours(lx.contributions(model, TEXT, " Paris", position=2))
    assert_cells(grid, cells, "contribution grid for Paris after #2")
    assert not notebook.page_errors, notebook.page_errors


def test_dark_theme(own_page, open_notebook, artifacts):
    page = own_page
    notebook = open_notebook(page, "contributions_dark")
    set_theme(page, True)
    cell = notebook.run("import llmxai_widgets as lx\nc = lx.ContributionView(lx.load_model(), 'Paris is the capital of')\nc")
    grid = cell.locator(".lxw-contrib .lxw-cellgrid canvas.lxw-cells").nth(1)
    page.wait_for_function("(c) => c.dataset.rows === '30'", arg=grid.element_handle(), timeout=90_000)
    colour = page.evaluate("(c) => getComputedStyle(c.closest('.lxw-root')).color", grid.element_handle())
    assert sum(int(v) for v in colour[colour.index("(") + 1 : colour.index(")")].split(",")[:3]) > 450, colour
    click_cell(page, grid, 20, 3)
    cell.locator(".lxw-head-pattern").wait_for(timeout=60_000)
    screenshot_view(cell, page, artifacts / "contributions-dark.png")
    set_theme(page, False)
    assert not notebook.page_errors, notebook.page_errors
